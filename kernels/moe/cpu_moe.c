/* moe variants `cpu.loop` and `cpu.grouped`, and moe_router's `cpu.dense`.
 *
 * All three route alike (kernels/moe/cpu_moe_common.c): one sgemm for the logits, a softmax and a
 * top-k per token, a counting sort of the selections by expert. They differ in the experts:
 *   cpu.loop (the SEIMoE / Qwen2-MoE loop the Wonderful Matrices paper measured against): experts
 *     one after another; for each, a scan of every token's selection for that expert (the mask,
 *     torch.where), a gather, the GLU as three GEMMs parallel over their rows, and an index_add
 *     into y. Its cost grows with E even where experts are empty.
 *   cpu.grouped (the fair baseline): every selection gathered once in expert order, then tasks of
 *     up to 64 rows of one expert run in parallel, each three single-threaded GEMMs; the outputs are
 *     combined per token. Backward: per-row products in the same tasks, weight gradients per expert.
 * Every output element is written by one task in a fixed order, so results are bitwise
 * repeatable for a given thread count.
 *
 *   seqmix check --op moe --variant cpu.grouped
 *   seqmix bench --op moe --suite quick
 *   seqmix check --op moe_router --variant cpu.dense
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_blas_single.h"
#include "kernels/moe/cpu_moe_common.h"
#include "reference/moe.h"
#include "seqmix/buffer.h"

enum { TILE = 64 };

typedef struct moe_cpu {
  int64_t T, D, E, k, F, S;
  int grouped;
  moe_route r;
  float *xg, *og, *dog;      /* (T k, D): gathered rows, expert outputs / input gradients, gated dy */
  float *ag, *bg, *hg, *dhg; /* (T k, F) */
  float *sa, *sb, *sh;       /* (T, S) shared expert */
  float *dg;                 /* (T k) gate gradients */
  int32_t *list;             /* loop: the current expert's selections */
  int64_t *task;             /* grouped: (expert, first row, rows) triples */
} moe_cpu;

static void destroy(void *p) {
  moe_cpu *s = p;
  if (!s) return;
  moe_route_free(&s->r);
  float *bufs[] = {s->xg, s->og, s->dog, s->ag, s->bg, s->hg, s->dhg, s->sa, s->sb, s->sh, s->dg};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) smx_host_free(bufs[i]);
  smx_host_free(s->list);
  smx_host_free(s->task);
  free(s);
}

static size_t workspace(const void *p) {
  const moe_cpu *s = p;
  size_t n = (size_t)(s->T * s->k);
  return moe_route_bytes(&s->r) + 4 * (3 * n * (size_t)s->D + 4 * n * (size_t)s->F + 3 * (size_t)(s->T * s->S) + n) +
         4 * n + 24 * (n / TILE + (size_t)s->E + 1);
}

static smx_status create_common(const smx_config *c, int grouped, void **out) {
  *out = NULL;
  moe_cpu *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "moe cpu: cannot allocate state");
  s->T = c->v[MOE_T], s->D = c->v[MOE_D], s->E = c->v[MOE_E], s->k = c->v[MOE_K], s->F = c->v[MOE_F];
  s->S = c->v[MOE_S], s->grouped = grouped;
  smx_status st = moe_route_alloc(&s->r, s->T, s->D, s->E, s->k, (int)c->v[MOE_RENORM]);
  if (st != SMX_OK) {
    free(s);
    return st;
  }
  size_t n = (size_t)(s->T * s->k), nd = n * (size_t)s->D, nf = n * (size_t)s->F, ns = (size_t)(s->T * s->S);
  s->xg = smx_host_alloc(nd * 4), s->og = smx_host_alloc(nd * 4), s->dog = smx_host_alloc(nd * 4);
  s->ag = smx_host_alloc(nf * 4), s->bg = smx_host_alloc(nf * 4), s->hg = smx_host_alloc(nf * 4);
  s->dhg = smx_host_alloc(nf * 4), s->dg = smx_host_alloc(n * 4);
  s->sa = smx_host_alloc(ns * 4 + 4), s->sb = smx_host_alloc(ns * 4 + 4), s->sh = smx_host_alloc(ns * 4 + 4);
  s->list = smx_host_alloc(n * 4);
  s->task = smx_host_alloc(3 * 8 * (n / TILE + (size_t)s->E + 1));
  if (!s->xg || !s->og || !s->dog || !s->ag || !s->bg || !s->hg || !s->dhg || !s->dg || !s->sa || !s->sb || !s->sh ||
      !s->list || !s->task) {
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "moe cpu: cannot allocate %zu MiB of workspace", (3 * nd + 4 * nf) * 4 >> 20);
  }
  *out = s;
  return SMX_OK;
}

static smx_status create_loop(const smx_config *c, void **out) { return create_common(c, 0, out); }
static smx_status create_grouped(const smx_config *c, void **out) { return create_common(c, 1, out); }

/* rows [0, n) of an expert's selections sel[]: xg rows = x of their tokens (and dog = g dy) */
static void gather(const moe_cpu *s, int64_t n, const int32_t *sel, const float *x, const float *dy, float *xg,
                   float *dog) {
  int64_t D = s->D, K = s->k;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; r++) {
    int64_t t = sel[r] / K;
    memcpy(xg + r * D, x + t * D, (size_t)D * sizeof *xg);
    if (dy)
      for (int64_t c = 0; c < D; c++) dog[r * D + c] = s->r.g[sel[r]] * dy[t * D + c];
  }
}

/* One expert's n gathered rows through its GLU: a, b -> h (in hg), o = h wd (n x D). The GEMMs
 * split over the threads when called outside a parallel region (the loop), on this thread inside
 * one (a grouped task): smx_sgemm_par decides. */
static void expert_fwd(const moe_cpu *s, int64_t n, const float *xg, const float *wg, const float *wu, const float *wd,
                       float *a, float *b, float *h, float *o) {
  int64_t D = s->D, F = s->F;
  smx_sgemm_par(CblasNoTrans, CblasNoTrans, n, F, D, 1.0f, xg, D, wg, F, 0.0f, a, F);
  smx_sgemm_par(CblasNoTrans, CblasNoTrans, n, F, D, 1.0f, xg, D, wu, F, 0.0f, b, F);
  for (int64_t i = 0; i < n * F; i++) h[i] = a[i] * moe_sigmoid(a[i]) * b[i];
  smx_sgemm_par(CblasNoTrans, CblasNoTrans, n, D, F, 1.0f, h, F, wd, D, 0.0f, o, D);
}

/* Backward of n rows after expert_fwd: dg of each row (<dy_t, o>), then dh = dog wd^T, da and db
 * (over a and b), dxg = da wg^T + db wu^T into o. */
static void expert_bwd_rows(const moe_cpu *s, int64_t n, const int32_t *sel, const float *dy, const float *wg,
                            const float *wu, const float *wd, const float *dog, float *a, float *b, float *dh,
                            float *o) {
  int64_t D = s->D, F = s->F, K = s->k;
  for (int64_t r = 0; r < n; r++) {
    const float *dyt = dy + (sel[r] / K) * D;
    float acc = 0;
    for (int64_t c = 0; c < D; c++) acc += dyt[c] * o[r * D + c];
    s->dg[sel[r]] = acc;
  }
  smx_sgemm_par(CblasNoTrans, CblasTrans, n, F, D, 1.0f, dog, D, wd, D, 0.0f, dh, F);
  for (int64_t i = 0; i < n * F; i++) {
    float ai = a[i], sg = moe_sigmoid(ai);
    a[i] = dh[i] * b[i] * sg * (1.0f + ai * (1.0f - sg));
    b[i] = dh[i] * ai * sg;
  }
  smx_sgemm_par(CblasNoTrans, CblasTrans, n, D, F, 1.0f, a, F, wg, F, 0.0f, o, D);
  smx_sgemm_par(CblasNoTrans, CblasTrans, n, D, F, 1.0f, b, F, wu, F, 1.0f, o, D);
}

/* dwg = xg^T da, dwu = xg^T db (D x F), dwd = h^T dog (F x D) over an expert's n rows (n = 0: zeros). */
static void expert_wgrad(const moe_cpu *s, int64_t n, const float *xg, const float *da, const float *db, const float *h,
                         const float *dog, float *dwg, float *dwu, float *dwd) {
  int64_t D = s->D, F = s->F;
  smx_sgemm_par(CblasTrans, CblasNoTrans, D, F, n, 1.0f, xg, D, da, F, 0.0f, dwg, F);
  smx_sgemm_par(CblasTrans, CblasNoTrans, D, F, n, 1.0f, xg, D, db, F, 0.0f, dwu, F);
  smx_sgemm_par(CblasTrans, CblasNoTrans, F, D, n, 1.0f, h, F, dog, D, 0.0f, dwd, D);
}

/* ---- cpu.loop ---- */

static int64_t scan(const moe_cpu *s, int64_t e) { /* the mask: selections of expert e, token order */
  int64_t n = 0;
  for (int64_t i = 0; i < s->T * s->k; i++)
    if (s->r.idx[i] == e) s->list[n++] = (int32_t)i;
  return n;
}

static void loop_fwd(moe_cpu *s, float *const *t) {
  int64_t D = s->D, F = s->F;
  moe_shared_fwd(s->T, D, s->S, t[MOE_X], t[MOE_SG], t[MOE_SU], t[MOE_SD], s->sa, s->sb, t[MOE_Y], 0);
  for (int64_t e = 0; e < s->E; e++) {
    int64_t n = scan(s, e);
    if (!n) continue;
    gather(s, n, s->list, t[MOE_X], NULL, s->xg, NULL);
    expert_fwd(s, n, s->xg, t[MOE_WG] + e * D * F, t[MOE_WU] + e * D * F, t[MOE_WD] + e * F * D, s->ag, s->bg,
               s->hg, s->og);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; r++) { /* index_add: a token picks an expert at most once */
      float *y = t[MOE_Y] + (s->list[r] / s->k) * D, g = s->r.g[s->list[r]];
      for (int64_t c = 0; c < D; c++) y[c] += g * s->og[r * D + c];
    }
  }
}

static void loop_bwd(moe_cpu *s, float *const *t) {
  int64_t D = s->D, F = s->F;
  moe_shared_bwd(s->T, D, s->S, t[MOE_X], t[MOE_SG], t[MOE_SU], t[MOE_SD], t[MOE_DY], s->sa, s->sb, s->sh, t[MOE_DX],
                 0, t[MOE_DSG], t[MOE_DSU], t[MOE_DSD]);
  for (int64_t e = 0; e < s->E; e++) {
    int64_t n = scan(s, e);
    float *dwg = t[MOE_DWG] + e * D * F, *dwu = t[MOE_DWU] + e * D * F, *dwd = t[MOE_DWD] + e * F * D;
    const float *wg = t[MOE_WG] + e * D * F, *wu = t[MOE_WU] + e * D * F, *wd = t[MOE_WD] + e * F * D;
    if (n) {
      gather(s, n, s->list, t[MOE_X], t[MOE_DY], s->xg, s->dog);
      expert_fwd(s, n, s->xg, wg, wu, wd, s->ag, s->bg, s->hg, s->og);
      expert_bwd_rows(s, n, s->list, t[MOE_DY], wg, wu, wd, s->dog, s->ag, s->bg, s->dhg, s->og);
    }
    expert_wgrad(s, n, s->xg, s->ag, s->bg, s->hg, s->dog, dwg, dwu, dwd);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; r++) {
      float *dx = t[MOE_DX] + (s->list[r] / s->k) * D;
      for (int64_t c = 0; c < D; c++) dx[c] += s->og[r * D + c];
    }
  }
}

/* ---- cpu.grouped ---- */

static int64_t make_tasks(moe_cpu *s) {
  int64_t n = 0;
  for (int64_t e = 0; e < s->E; e++)
    for (int64_t p = s->r.start[e]; p < s->r.start[e + 1]; p += TILE) {
      s->task[3 * n] = e, s->task[3 * n + 1] = p;
      s->task[3 * n + 2] = s->r.start[e + 1] - p < TILE ? s->r.start[e + 1] - p : TILE;
      n++;
    }
  return n;
}

static void grouped_fwd(moe_cpu *s, float *const *t) {
  int64_t D = s->D, F = s->F, K = s->k, nsel = s->T * s->k;
  gather(s, nsel, s->r.order, t[MOE_X], NULL, s->xg, NULL);
  int64_t ntask = make_tasks(s);
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < ntask; i++) {
    int64_t e = s->task[3 * i], p = s->task[3 * i + 1], n = s->task[3 * i + 2];
    expert_fwd(s, n, s->xg + p * D, t[MOE_WG] + e * D * F, t[MOE_WU] + e * D * F, t[MOE_WD] + e * F * D,
               s->ag + p * F, s->bg + p * F, s->hg + p * F, s->og + p * D);
  }
  moe_shared_fwd(s->T, D, s->S, t[MOE_X], t[MOE_SG], t[MOE_SU], t[MOE_SD], s->sa, s->sb, t[MOE_Y], 0);
#pragma omp parallel for schedule(static)
  for (int64_t tok = 0; tok < s->T; tok++) {
    float *y = t[MOE_Y] + tok * D;
    for (int64_t j = 0; j < K; j++) {
      const float *o = s->og + (int64_t)s->r.pos[tok * K + j] * D;
      float g = s->r.g[tok * K + j];
      for (int64_t c = 0; c < D; c++) y[c] += g * o[c];
    }
  }
}

static void grouped_bwd(moe_cpu *s, float *const *t) {
  int64_t D = s->D, F = s->F, K = s->k, nsel = s->T * s->k;
  gather(s, nsel, s->r.order, t[MOE_X], t[MOE_DY], s->xg, s->dog);
  int64_t ntask = make_tasks(s);
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < ntask; i++) {
    int64_t e = s->task[3 * i], p = s->task[3 * i + 1], n = s->task[3 * i + 2];
    const float *wg = t[MOE_WG] + e * D * F, *wu = t[MOE_WU] + e * D * F, *wd = t[MOE_WD] + e * F * D;
    expert_fwd(s, n, s->xg + p * D, wg, wu, wd, s->ag + p * F, s->bg + p * F, s->hg + p * F, s->og + p * D);
    expert_bwd_rows(s, n, s->r.order + p, t[MOE_DY], wg, wu, wd, s->dog + p * D, s->ag + p * F, s->bg + p * F,
                    s->dhg + p * F, s->og + p * D);
  }
#pragma omp parallel for schedule(dynamic)
  for (int64_t e = 0; e < s->E; e++) {
    int64_t p = s->r.start[e], n = s->r.start[e + 1] - p;
    expert_wgrad(s, n, s->xg + p * D, s->ag + p * F, s->bg + p * F, s->hg + p * F, s->dog + p * D,
                 t[MOE_DWG] + e * D * F, t[MOE_DWU] + e * D * F, t[MOE_DWD] + e * F * D);
  }
#pragma omp parallel for schedule(static)
  for (int64_t tok = 0; tok < s->T; tok++) {
    float *dx = t[MOE_DX] + tok * D;
    for (int64_t c = 0; c < D; c++) dx[c] = 0;
    for (int64_t j = 0; j < K; j++) {
      const float *o = s->og + (int64_t)s->r.pos[tok * K + j] * D;
      for (int64_t c = 0; c < D; c++) dx[c] += o[c];
    }
  }
  moe_shared_bwd(s->T, D, s->S, t[MOE_X], t[MOE_SG], t[MOE_SU], t[MOE_SD], t[MOE_DY], s->sa, s->sb, s->sh, t[MOE_DX],
                 1, t[MOE_DSG], t[MOE_DSU], t[MOE_DSD]);
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  moe_cpu *s = p;
  float *const *t = (float *const *)tv;
  int blas = smx_blas_single_begin();
  moe_route_fwd(&s->r, t[MOE_X], t[MOE_WR]);
  if (pass == SMX_FWD) {
    if (s->grouped) grouped_fwd(s, t);
    else loop_fwd(s, t);
    t[MOE_AUX][0] = s->r.aux;
  } else {
    if (s->grouped) grouped_bwd(s, t);
    else loop_bwd(s, t);
    moe_route_bwd(&s->r, t[MOE_X], t[MOE_WR], s->dg, t[MOE_DAUX][0], t[MOE_DX], t[MOE_DWR]);
  }
  smx_blas_single_end(blas);
  return SMX_OK;
}

const smx_variant smx_moe_cpu_loop = {
    .name = "cpu.loop",
    .summary = "SEIMoE-style loop over all experts: mask scan, gather, GLU GEMMs, index_add; fp32, OpenBLAS",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create_loop,
    .destroy = destroy,
    .workspace_bytes = workspace,
    .run = run,
};

const smx_variant smx_moe_cpu_grouped = {
    .name = "cpu.grouped",
    .summary = "selections sorted by expert, 64-row tasks of single-threaded GLU GEMMs in parallel, combine; fp32",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create_grouped,
    .destroy = destroy,
    .workspace_bytes = workspace,
    .run = run,
};

/* ---- moe_router cpu.dense ---- */

static void router_destroy(void *p) {
  moe_route *r = p;
  if (!r) return;
  moe_route_free(r);
  free(r);
}

static smx_status router_create(const smx_config *c, void **out) {
  *out = NULL;
  moe_route *r = calloc(1, sizeof *r);
  if (!r) return smx_fail(SMX_ERR_NOMEM, "moe_router cpu.dense: cannot allocate state");
  smx_status st = moe_route_alloc(r, c->v[MOER_T], c->v[MOER_D], c->v[MOER_E], c->v[MOER_K], (int)c->v[MOER_RENORM]);
  if (st != SMX_OK) {
    free(r);
    return st;
  }
  *out = r;
  return SMX_OK;
}

static size_t router_workspace(const void *p) { return moe_route_bytes(p); }

static smx_status router_run(void *p, smx_pass pass, void *const *tv) {
  moe_route *r = p;
  float *const *t = (float *const *)tv;
  int blas = smx_blas_single_begin();
  moe_route_fwd(r, t[MOER_X], t[MOER_WR]);
  if (pass == SMX_FWD) {
    for (int64_t i = 0; i < r->T * r->k; i++) {
      t[MOER_G][i] = r->g[i];
      t[MOER_IDX][i] = (float)r->idx[i];
    }
    t[MOER_AUX][0] = r->aux;
  } else {
    memset(t[MOER_DX], 0, (size_t)(r->T * r->D) * sizeof(float));
    moe_route_bwd(r, t[MOER_X], t[MOER_WR], t[MOER_DG], t[MOER_DAUX][0], t[MOER_DX], t[MOER_DWR]);
  }
  smx_blas_single_end(blas);
  return SMX_OK;
}

const smx_variant smx_moe_router_cpu_dense = {
    .name = "cpu.dense",
    .summary = "router sgemm over all E experts, softmax, top-k, counting sort by expert, aux; fp32, OpenMP",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = router_create,
    .destroy = router_destroy,
    .workspace_bytes = router_workspace,
    .run = router_run,
};
