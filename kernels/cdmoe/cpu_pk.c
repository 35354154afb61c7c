/* cdmoe variant `cpu.pk` and cdmoe_router's `cpu.pk`: product-key retrieval on the CPU.
 *
 * The router is one sgemm (T x d x H 2K); per token and head the kp best sub-keys of each half,
 * the kp x kp grid of sums and its kh best (smx_cdmoe_pk_topk: O(K + kp^2) per head instead of
 * the definition's O(N)), a softmax over the kh scores; then per selected expert two gathered
 * d-term dot products (down, up): y_t = shared(x_t) + sum w silu(<x_t, down_e>) up_e, the shared GLU
 * as three sgemms. Backward recomputes the retrieval, takes the expert terms per token (dx, the
 * weights' and scores' gradients), the router's by two sgemms, and the down/up gradients per expert
 * from the selections sorted by expert (token order), so every element is summed in a fixed order:
 * results are bitwise repeatable for a given thread count. Exact (the dense top-kh) when kp >= kh
 * or kp = K; other configurations are skipped with the reason.
 *
 *   seqmix check --op cdmoe --variant cpu.pk
 *   seqmix bench --op cdmoe --variant cpu.pk --suite quick
 *   seqmix check --op cdmoe_router --variant cpu.pk
 */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_blas_single.h"
#include "kernels/moe/cpu_moe_common.h"
#include "reference/cdmoe.h"
#include "seqmix/buffer.h"

typedef struct pk_state {
  int64_t T, D, N, K, H, kh, kp, S;
  int router, nt;
  float *s;        /* (T, H 2K) scores; in backward their gradient */
  int32_t *e;      /* (T, H kh) selected experts */
  float *w;        /* (T, H kh) weights; in backward the weights' gradient */
  float *cu, *dz;  /* (T H kh) per selection: w silu(z) (for dup), dz (for ddown) */
  int64_t *start;  /* N + 1 */
  int32_t *list;   /* T H kh selections sorted by expert */
  float *sa, *sb, *sh;
  char *work;      /* per thread: the grid top-k's scratch, kh scores, H kh weight gradients */
  size_t work_stride;
} pk_state;

static void destroy(void *p) {
  pk_state *s = p;
  if (!s) return;
  void *bufs[] = {s->s, s->e, s->w, s->cu, s->dz, s->start, s->list, s->sa, s->sb, s->sh, s->work};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) smx_host_free(bufs[i]);
  free(s);
}

static size_t sel_count(const pk_state *s) { return (size_t)(s->T * s->H * s->kh); }

static size_t workspace(const void *p) {
  const pk_state *s = p;
  size_t n = sel_count(s);
  return 4 * (size_t)(s->T * s->H * 2 * s->K) + 20 * n + 8 * (size_t)(s->N + 1) + 12 * (size_t)(s->T * s->S) +
         s->work_stride * (size_t)s->nt;
}

static smx_status create_common(const smx_config *c, int router, void **out) {
  *out = NULL;
  /* the parameters up to kp have the same index in both ops */
  int64_t K = smx_cdmoe_keys(c->v[CD_E]);
  const char *inexact = smx_cdmoe_pk_inexact(K, c->v[CD_KP], c->v[CD_KH]);
  if (inexact) return smx_fail(SMX_ERR_UNSUPPORTED, "cpu.pk: %s", inexact);
  pk_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.pk: cannot allocate state");
  s->T = c->v[CD_T], s->D = c->v[CD_D], s->N = c->v[CD_E], s->K = K, s->H = c->v[CD_H], s->kh = c->v[CD_KH];
  s->kp = c->v[CD_KP], s->S = router ? 0 : c->v[CD_S], s->router = router, s->nt = omp_get_max_threads();
  size_t n = sel_count(s), ts = (size_t)(s->T * s->S) * 4 + 4;
  s->work_stride = (smx_cdmoe_pk_work_bytes(s->kp) + (size_t)(s->kh + s->H * s->kh) * 4 + 63) / 64 * 64;
  s->s = smx_host_alloc((size_t)(s->T * s->H * 2 * K) * 4);
  s->e = smx_host_alloc(n * 4), s->w = smx_host_alloc(n * 4), s->cu = smx_host_alloc(n * 4);
  s->dz = smx_host_alloc(n * 4), s->list = smx_host_alloc(n * 4);
  s->start = smx_host_alloc((size_t)(s->N + 1) * 8);
  s->sa = smx_host_alloc(ts), s->sb = smx_host_alloc(ts), s->sh = smx_host_alloc(ts);
  s->work = smx_host_alloc(s->work_stride * (size_t)s->nt);
  if (!s->s || !s->e || !s->w || !s->cu || !s->dz || !s->list || !s->start || !s->sa || !s->sb || !s->sh || !s->work) {
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "cpu.pk: cannot allocate the workspace");
  }
  *out = s;
  return SMX_OK;
}

static smx_status create_layer(const smx_config *c, void **out) { return create_common(c, 0, out); }
static smx_status create_router(const smx_config *c, void **out) { return create_common(c, 1, out); }

static const char *unsupported(const smx_config *c) {
  return smx_cdmoe_pk_inexact(smx_cdmoe_keys(c->v[CD_E]), c->v[CD_KP], c->v[CD_KH]);
}

/* <a, b> over n floats with eight partial sums (a fixed order, so repeatable) */
static float dot(const float *a, const float *b, int64_t n) {
  float p[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int q = 0; q < 8; q++) p[q] += a[i + q] * b[i + q];
  float r = ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
  for (; i < n; i++) r += a[i] * b[i];
  return r;
}

/* Scores by one sgemm, then per token and head the product-key top-kh and its softmax. */
static void retrieve(pk_state *s, const float *x, const float *r) {
  int64_t C = s->H * 2 * s->K, kh = s->kh;
  smx_sgemm_par(CblasNoTrans, CblasNoTrans, s->T, C, s->D, 1.0f, x, s->D, r, C, 0.0f, s->s, C);
#pragma omp parallel num_threads(s->nt)
  {
    char *work = s->work + s->work_stride * (size_t)omp_get_thread_num();
    float *score = (float *)(work + smx_cdmoe_pk_work_bytes(s->kp));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < s->T; t++)
      for (int64_t h = 0; h < s->H; h++) {
        int64_t o = (t * s->H + h) * kh;
        smx_cdmoe_pk_topk(s->s + t * C + h * 2 * s->K, s->K, s->kp, kh, s->e + o, score, work);
        float sum = 0;
        for (int64_t j = 0; j < kh; j++) sum += s->w[o + j] = expf(score[j] - score[0]);
        for (int64_t j = 0; j < kh; j++) s->w[o + j] /= sum;
      }
  }
}

/* A token's score gradients into its row of s (zeroed first) from the weights' gradient dw (H kh,
 * overwritten in place in s->w's row: the weights are read first). */
static void dscores(pk_state *s, int64_t t, const float *dw) {
  int64_t K = s->K, kh = s->kh, C = s->H * 2 * K;
  float *row = s->s + t * C;
  memset(row, 0, (size_t)C * sizeof *row);
  for (int64_t h = 0; h < s->H; h++) {
    const float *w = s->w + (t * s->H + h) * kh, *g = dw + h * kh;
    const int32_t *e = s->e + (t * s->H + h) * kh;
    float G = 0;
    for (int64_t j = 0; j < kh; j++) G += w[j] * g[j];
    for (int64_t j = 0; j < kh; j++) {
      float ds = w[j] * (g[j] - G);
      row[h * 2 * K + e[j] / K] += ds;
      row[h * 2 * K + K + e[j] % K] += ds;
    }
  }
}

static void router_grads(pk_state *s, const float *x, const float *r, float *dx, float beta, float *dr) {
  int64_t C = s->H * 2 * s->K;
  smx_sgemm_par(CblasNoTrans, CblasTrans, s->T, s->D, C, 1.0f, s->s, C, r, C, beta, dx, s->D);
  smx_sgemm_par(CblasTrans, CblasNoTrans, s->D, C, s->T, 1.0f, x, s->D, s->s, C, 0.0f, dr, C);
}

static void layer_fwd(pk_state *s, float *const *t) {
  int64_t D = s->D, n = s->H * s->kh;
  moe_shared_fwd(s->T, D, s->S, t[CD_X], t[CD_SG], t[CD_SU], t[CD_SD], s->sa, s->sb, t[CD_Y], 0);
#pragma omp parallel for schedule(static) num_threads(s->nt)
  for (int64_t tok = 0; tok < s->T; tok++) {
    const float *xt = t[CD_X] + tok * D;
    float *y = t[CD_Y] + tok * D;
    for (int64_t i = 0; i < n; i++) {
      int64_t e = s->e[tok * n + i];
      float z = dot(xt, t[CD_DOWN] + e * D, D), coef = s->w[tok * n + i] * z * moe_sigmoid(z);
      const float *u = t[CD_UP] + e * D;
      for (int64_t c = 0; c < D; c++) y[c] += coef * u[c];
    }
  }
}

static void layer_bwd(pk_state *s, float *const *t) {
  int64_t D = s->D, n = s->H * s->kh, N = s->N;
  moe_shared_bwd(s->T, D, s->S, t[CD_X], t[CD_SG], t[CD_SU], t[CD_SD], t[CD_DY], s->sa, s->sb, s->sh, t[CD_DX], 0,
                 t[CD_DSG], t[CD_DSU], t[CD_DSD]);
#pragma omp parallel num_threads(s->nt)
  {
    char *work = s->work + s->work_stride * (size_t)omp_get_thread_num();
    float *dw = (float *)(work + smx_cdmoe_pk_work_bytes(s->kp)) + s->kh;
#pragma omp for schedule(static)
    for (int64_t tok = 0; tok < s->T; tok++) {
      const float *xt = t[CD_X] + tok * D, *dyt = t[CD_DY] + tok * D;
      float *dxt = t[CD_DX] + tok * D;
      for (int64_t i = 0; i < n; i++) {
        int64_t e = s->e[tok * n + i], sel = tok * n + i;
        const float *dn = t[CD_DOWN] + e * D;
        float z = dot(xt, dn, D), dc = dot(dyt, t[CD_UP] + e * D, D), sg = moe_sigmoid(z), w = s->w[sel];
        float dzi = w * dc * sg * (1.0f + z * (1.0f - sg));
        dw[i] = z * sg * dc;
        s->cu[sel] = w * z * sg;
        s->dz[sel] = dzi;
        for (int64_t c = 0; c < D; c++) dxt[c] += dzi * dn[c];
      }
      dscores(s, tok, dw);
    }
  }
  router_grads(s, t[CD_X], t[CD_R], t[CD_DX], 1.0f, t[CD_DR]);
  /* down and up gradients: the selections of each expert in token order */
  int64_t *start = s->start, nsel = (int64_t)sel_count(s);
  memset(start, 0, (size_t)(N + 1) * sizeof *start);
  for (int64_t i = 0; i < nsel; i++) start[s->e[i] + 1]++;
  for (int64_t e = 0; e < N; e++) start[e + 1] += start[e];
  for (int64_t i = 0; i < nsel; i++) s->list[start[s->e[i]]++] = (int32_t)i;
  for (int64_t e = N; e > 0; e--) start[e] = start[e - 1];
  start[0] = 0;
#pragma omp parallel for schedule(static) num_threads(s->nt)
  for (int64_t e = 0; e < N; e++) {
    float *dd = t[CD_DDOWN] + e * D, *du = t[CD_DUP] + e * D;
    memset(dd, 0, (size_t)D * sizeof *dd);
    memset(du, 0, (size_t)D * sizeof *du);
    for (int64_t p = start[e]; p < start[e + 1]; p++) {
      int64_t i = s->list[p], tok = i / n;
      const float *xt = t[CD_X] + tok * D, *dyt = t[CD_DY] + tok * D;
      float a = s->dz[i], b = s->cu[i];
      for (int64_t c = 0; c < D; c++) {
        dd[c] += a * xt[c];
        du[c] += b * dyt[c];
      }
    }
  }
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  pk_state *s = p;
  float *const *t = (float *const *)tv;
  int blas = smx_blas_single_begin();
  retrieve(s, t[CD_X], t[CD_R]);
  if (!s->router) {
    if (pass == SMX_FWD) layer_fwd(s, t);
    else layer_bwd(s, t);
  } else if (pass == SMX_FWD) {
    size_t n = sel_count(s);
    for (size_t i = 0; i < n; i++) {
      t[CDR_W][i] = s->w[i];
      t[CDR_IDX][i] = (float)s->e[i];
    }
  } else {
    int64_t n = s->H * s->kh;
#pragma omp parallel for schedule(static) num_threads(s->nt)
    for (int64_t tok = 0; tok < s->T; tok++) dscores(s, tok, t[CDR_DW] + tok * n);
    router_grads(s, t[CDR_X], t[CDR_R], t[CDR_DX], 0.0f, t[CDR_DR]);
  }
  smx_blas_single_end(blas);
  return SMX_OK;
}

const smx_variant smx_cdmoe_cpu_pk = {
    .name = "cpu.pk",
    .summary = "router sgemm, product-key top-k (two top-kp, kp x kp grid), gathered down/up dot products; fp32",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .unsupported = unsupported,
    .create = create_layer,
    .destroy = destroy,
    .workspace_bytes = workspace,
    .run = run,
};

const smx_variant smx_cdmoe_router_cpu_pk = {
    .name = "cpu.pk",
    .summary = "router sgemm, then per head two top-kp and the kp x kp grid's top-kh, softmax; fp32, OpenMP",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .unsupported = unsupported,
    .create = create_router,
    .destroy = destroy,
    .workspace_bytes = workspace,
    .run = run,
};
