/* lm_head_ce variant `cpu.gather`: the labelled rows of x are gathered (in position order) and
 * only they go through the logits GEMM (OpenBLAS sgemm, n x V for n labelled positions), the
 * log-sum-exp and softmax per row in fp32 (OpenMP over rows), dx as one more GEMM scattered back
 * to the labelled rows (zeros elsewhere) and dW = dz^T x_gathered. Same loss and gradients as the
 * logits at every position, n/T of the work (tasks.md §9). A thin wrapper over
 * smx_lm_head_ce_{fwd,bwd,fwd_bwd}_cpu (include/seqmix/model_ops.h), which take int32 labels.
 *
 *   seqmix check --op lm_head_ce --variant cpu.gather
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_sgemm_par.h"
#include "reference/lm_head_ce.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"

/* Labelled rows go through in chunks of CH (the logits of a chunk are CH x V floats, so the
 * workspace does not grow with T); dW sums the chunks in order, so results do not depend on T's
 * split among threads. */
enum { CH = 256 };

/* The workspace, carved from one block: idx (T int32), rl (T), lse (CH), xg and dxg (CH d), z (CH V). */
typedef struct ce_ws {
  int32_t *idx;
  float *rl, *lse, *xg, *dxg, *z;
} ce_ws;

static int64_t rows_of(int64_t T) { return T < CH ? T : CH; }

size_t smx_lm_head_ce_workspace_bytes(int64_t T, int64_t d, int64_t V) {
  int64_t r = rows_of(T);
  return sizeof(float) * (size_t)(2 * T + r + 2 * r * d + r * V);
}

static ce_ws carve(void *work, int64_t T, int64_t d) {
  int64_t r = rows_of(T);
  ce_ws w;
  w.idx = work;
  w.rl = (float *)work + T;
  w.lse = w.rl + T;
  w.xg = w.lse + r;
  w.dxg = w.xg + r * d;
  w.z = w.dxg + r * d;
  return w;
}

static smx_status check_args(const char *fn, int64_t T, int64_t d, int64_t V, const float *x, const float *w,
                             const int32_t *labels, const void *work) {
  const int64_t lim = (int64_t)1 << 31;
  if (T < 1 || d < 1 || V < 1 || T * d > lim || V * d > lim)
    return smx_fail(SMX_ERR_INVALID, "%s: T=%lld, d=%lld, V=%lld must be positive with every tensor at most 2^31 elements",
                    fn, (long long)T, (long long)d, (long long)V);
  if (!x || !w || !labels || !work) return smx_fail(SMX_ERR_INVALID, "%s: x, w, labels and work must not be NULL", fn);
  for (int64_t t = 0; t < T; t++)
    if (labels[t] != SMX_IGNORE_LABEL && (labels[t] < 0 || labels[t] >= V))
      return smx_fail(SMX_ERR_INVALID, "%s: labels[%lld] = %d is neither -100 (ignored) nor a class in [0, V=%lld)", fn,
                      (long long)t, (int)labels[t], (long long)V);
  return SMX_OK;
}

/* What one call computes: the loss (and pred) and/or the gradients of dloss * loss. */
typedef struct ce_job {
  float *loss;
  int32_t *pred;
  float dloss, *dx, *dw;
  int accumulate;
} ce_job;

static void run_job(int64_t T, int64_t d, int64_t V, const float *x, const float *w, const int32_t *labels, ce_ws *ws,
                    const ce_job *j) {
  int64_t n = 0;
  for (int64_t t = 0; t < T; t++)
    if (labels[t] != SMX_IGNORE_LABEL) ws->idx[n++] = (int32_t)t;
  if (j->pred)
    for (int64_t t = 0; t < T; t++) j->pred[t] = -1;
  if (j->dx) memset(j->dx, 0, (size_t)(T * d) * sizeof(float));
  if (j->dw && !j->accumulate && n == 0) memset(j->dw, 0, (size_t)(V * d) * sizeof(float));
  float scale = n ? j->dloss / (float)n : 0.0f;
  int grad = j->dx || j->dw;
  for (int64_t c0 = 0; c0 < n; c0 += CH) {
    int64_t m = n - c0 < CH ? n - c0 : CH;
    const int32_t *idx = ws->idx + c0;
    for (int64_t i = 0; i < m; i++) memcpy(ws->xg + i * d, x + (int64_t)idx[i] * d, (size_t)d * sizeof(float));
    smx_sgemm_par(CblasNoTrans, CblasTrans, (int)m, (int)V, (int)d, 1.0f, ws->xg, (int)d, w, (int)d, 0.0f,
                ws->z, (int)V);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < m; i++) {
      float *z = ws->z + i * V;
      int32_t lab = labels[idx[i]];
      float mx = -INFINITY, s = 0, zlab = z[lab];
      int64_t best = 0;
      for (int64_t v = 0; v < V; v++) /* the first maximum: ties go to the lower class */
        if (z[v] > mx) mx = z[v], best = v;
      if (grad) { /* each exponential once, kept for the gradient: dz = softmax * scale - onehot * scale */
        for (int64_t v = 0; v < V; v++) {
          float e = expf(z[v] - mx);
          z[v] = e;
          s += e;
        }
      } else {
        for (int64_t v = 0; v < V; v++) s += expf(z[v] - mx);
      }
      float lse = mx + logf(s);
      ws->rl[c0 + i] = lse - zlab;
      if (j->pred) j->pred[idx[i]] = (int32_t)best;
      if (grad) {
        float f = scale / s;
        for (int64_t v = 0; v < V; v++) z[v] *= f;
        z[lab] -= scale;
      }
    }
    if (j->dx) {
      smx_sgemm_par(CblasNoTrans, CblasNoTrans, (int)m, (int)d, (int)V, 1.0f, ws->z, (int)V, w, (int)d,
                  0.0f, ws->dxg, (int)d);
      for (int64_t i = 0; i < m; i++) memcpy(j->dx + (int64_t)idx[i] * d, ws->dxg + i * d, (size_t)d * sizeof(float));
    }
    if (j->dw) /* (V, m) (m, d), the chunks summed in order */
      smx_sgemm_par(CblasTrans, CblasNoTrans, (int)V, (int)d, (int)m, 1.0f, ws->z, (int)V, ws->xg, (int)d,
                  (c0 == 0 && !j->accumulate) ? 0.0f : 1.0f, j->dw, (int)d);
  }
  if (j->loss) { /* the mean of the row losses, summed in position order */
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += ws->rl[i];
    *j->loss = n ? s / (float)n : 0.0f;
  }
}

smx_status smx_lm_head_ce_fwd_cpu(int64_t T, int64_t d, int64_t V, const float *x, const float *w, const int32_t *labels,
                                  float *loss, int32_t *pred, void *work) {
  smx_status s = check_args("smx_lm_head_ce_fwd_cpu", T, d, V, x, w, labels, work);
  if (s != SMX_OK) return s;
  if (!loss) return smx_fail(SMX_ERR_INVALID, "smx_lm_head_ce_fwd_cpu: loss must not be NULL");
  ce_ws ws = carve(work, T, d);
  ce_job j = {loss, pred, 0.0f, NULL, NULL, 0};
  run_job(T, d, V, x, w, labels, &ws, &j);
  return SMX_OK;
}

smx_status smx_lm_head_ce_bwd_cpu(int64_t T, int64_t d, int64_t V, const float *x, const float *w, const int32_t *labels,
                                  float dloss, float *dx, float *dw, int accumulate, void *work) {
  smx_status s = check_args("smx_lm_head_ce_bwd_cpu", T, d, V, x, w, labels, work);
  if (s != SMX_OK) return s;
  ce_ws ws = carve(work, T, d);
  ce_job j = {NULL, NULL, dloss, dx, dw, accumulate};
  run_job(T, d, V, x, w, labels, &ws, &j);
  return SMX_OK;
}

smx_status smx_lm_head_ce_fwd_bwd_cpu(int64_t T, int64_t d, int64_t V, const float *x, const float *w,
                                      const int32_t *labels, float *loss, int32_t *pred, float *dx, float *dw,
                                      int accumulate, void *work) {
  smx_status s = check_args("smx_lm_head_ce_fwd_bwd_cpu", T, d, V, x, w, labels, work);
  if (s != SMX_OK) return s;
  if (!loss) return smx_fail(SMX_ERR_INVALID, "smx_lm_head_ce_fwd_bwd_cpu: loss must not be NULL");
  ce_ws ws = carve(work, T, d);
  ce_job j = {loss, pred, 1.0f, dx, dw, accumulate};
  run_job(T, d, V, x, w, labels, &ws, &j);
  return SMX_OK;
}

/* ---- the registered variant: float labels converted to int32, the workspace made once ---- */

typedef struct ce_state {
  smx_config c;
  int32_t *labels; /* T */
  void *work;
} ce_state;

static void destroy(void *p) {
  ce_state *s = p;
  if (!s) return;
  smx_host_free(s->labels);
  smx_host_free(s->work);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  ce_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "lm_head_ce cpu.gather: cannot allocate state");
  s->c = *c;
  size_t wb = smx_lm_head_ce_workspace_bytes(c->v[CE_T], c->v[CE_D], c->v[CE_V]);
  s->labels = smx_host_alloc((size_t)c->v[CE_T] * sizeof(int32_t));
  s->work = smx_host_alloc(wb);
  if (!s->labels || !s->work) {
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "lm_head_ce cpu.gather: cannot allocate %zu bytes of workspace", wb);
  }
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) {
  const ce_state *s = p;
  return smx_lm_head_ce_workspace_bytes(s->c.v[CE_T], s->c.v[CE_D], s->c.v[CE_V]) + (size_t)s->c.v[CE_T] * 4;
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  ce_state *s = p;
  float *const *t = (float *const *)tv;
  int64_t T = s->c.v[CE_T], d = s->c.v[CE_D], V = s->c.v[CE_V];
  const float *f = t[CE_LABELS];
  for (int64_t i = 0; i < T; i++) {
    if (f[i] != (float)SMX_IGNORE_LABEL && !(f[i] >= 0 && f[i] < (float)V && f[i] == floorf(f[i])))
      return smx_fail(SMX_ERR_INVALID, "lm_head_ce: labels[%lld] = %g is neither -100 nor an integer in [0, V=%lld)",
                      (long long)i, (double)f[i], (long long)V);
    s->labels[i] = (int32_t)f[i];
  }
  if (pass == SMX_FWD) return smx_lm_head_ce_fwd_cpu(T, d, V, t[CE_X], t[CE_W], s->labels, t[CE_LOSS], NULL, s->work);
  return smx_lm_head_ce_bwd_cpu(T, d, V, t[CE_X], t[CE_W], s->labels, t[CE_DLOSS][0], t[CE_DX], t[CE_DW], 0, s->work);
}

const smx_variant smx_lm_head_ce_cpu_gather = {
    .name = "cpu.gather",
    .summary = "labelled rows gathered, logits GEMM (OpenBLAS) for those rows only, fp32 log-sum-exp; dx scattered back",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
