/* shortconv variant `cpu.direct`: the K-tap sums with the tap count a compile-time constant (one
 * copy of the loops per K = 2, 3, 4), so the inner loop over time is a straight vector loop
 * (`omp simd`) past the K - 1 warm-up positions. OpenMP splits rows in the forward and channels in
 * the backward, so dw and dbias sum the batch in a fixed order in fp64 (bitwise repeatable at any
 * thread count).
 *
 *   seqmix check --op shortconv --variant cpu.direct
 *   seqmix bench --op shortconv --variant cpu.direct --suite quick
 */
#include <stdlib.h>

#include "reference/shortconv.h"

/* y = bias + sum_j w[j] x[t-(K-1)+j] for one row. */
static inline void row_forward(int64_t L, int K, const float *x, const float *w, float bias, float *y) {
  int64_t warm = (K - 1) < L ? (K - 1) : L;
  for (int64_t t = 0; t < warm; t++) {
    float acc = bias;
    for (int j = 0; j < K; j++) {
      int64_t s = t - (K - 1) + j;
      if (s >= 0) acc += w[j] * x[s];
    }
    y[t] = acc;
  }
#pragma omp simd
  for (int64_t t = warm; t < L; t++) {
    float acc = bias;
    for (int j = 0; j < K; j++) acc += w[j] * x[t + j - (K - 1)];
    y[t] = acc;
  }
}

/* dx[s] = sum_j w[j] dy[s+(K-1)-j] for one row (the transposed taps), and the row's dw, dbias sums. */
static inline void row_backward(int64_t L, int K, const float *x, const float *w, const float *dy, float *dx,
                                double *dw, double *db) {
  int64_t body = L - (K - 1) > 0 ? L - (K - 1) : 0;
#pragma omp simd
  for (int64_t s = 0; s < body; s++) {
    float acc = 0;
    for (int j = 0; j < K; j++) acc += w[j] * dy[s + (K - 1) - j];
    dx[s] = acc;
  }
  for (int64_t s = body; s < L; s++) {
    float acc = 0;
    for (int j = 0; j < K; j++) {
      int64_t t = s + (K - 1) - j;
      if (t < L) acc += w[j] * dy[t];
    }
    dx[s] = acc;
  }
  for (int j = 0; j < K; j++) {
    int64_t first = (K - 1) - j; /* the first t whose tap j reads inside the row */
    double acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t t = first; t < L; t++) acc += (double)dy[t] * (double)x[t - first];
    dw[j] += acc;
  }
  double acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t t = 0; t < L; t++) acc += (double)dy[t];
  *db += acc;
}

typedef struct direct_state {
  int64_t B, H, L, K;
  int bias;
} direct_state;

static smx_status create(const smx_config *c, void **out) {
  direct_state *s = malloc(sizeof *s);
  *out = NULL;
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.direct: cannot allocate state");
  s->B = c->v[SHORTCONV_PB];
  s->H = c->v[SHORTCONV_PH];
  s->L = c->v[SHORTCONV_PL];
  s->K = c->v[SHORTCONV_PK];
  s->bias = (int)c->v[SHORTCONV_PBIAS];
  *out = s;
  return SMX_OK;
}

static void forward(const direct_state *s, const float *x, const float *w, const float *bias, float *y) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < s->B * s->H; r++) {
    int64_t h = r % s->H;
    float bh = s->bias ? bias[h] : 0.0f;
    const float *wh = w + h * s->K;
    /* constant K per call, so each inlined copy unrolls the taps */
    switch (s->K) {
    case 2: row_forward(s->L, 2, x + r * s->L, wh, bh, y + r * s->L); break;
    case 3: row_forward(s->L, 3, x + r * s->L, wh, bh, y + r * s->L); break;
    default: row_forward(s->L, 4, x + r * s->L, wh, bh, y + r * s->L); break;
    }
  }
}

static void backward(const direct_state *s, const float *x, const float *w, const float *dy, float *dx, float *dw,
                     float *dbias) {
#pragma omp parallel for schedule(static)
  for (int64_t h = 0; h < s->H; h++) {
    double dw_acc[4] = {0, 0, 0, 0}, db_acc = 0;
    const float *wh = w + h * s->K;
    for (int64_t b = 0; b < s->B; b++) {
      int64_t o = (b * s->H + h) * s->L;
      switch (s->K) {
      case 2: row_backward(s->L, 2, x + o, wh, dy + o, dx + o, dw_acc, &db_acc); break;
      case 3: row_backward(s->L, 3, x + o, wh, dy + o, dx + o, dw_acc, &db_acc); break;
      default: row_backward(s->L, 4, x + o, wh, dy + o, dx + o, dw_acc, &db_acc); break;
      }
    }
    for (int64_t j = 0; j < s->K; j++) dw[h * s->K + j] = (float)dw_acc[j];
    if (s->bias) dbias[h] = (float)db_acc;
  }
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  const direct_state *s = p;
  float *const *t = (float *const *)tv;
  if (pass == SMX_FWD)
    forward(s, t[SHORTCONV_X], t[SHORTCONV_W], t[SHORTCONV_BIAS], t[SHORTCONV_Y]);
  else
    backward(s, t[SHORTCONV_X], t[SHORTCONV_W], t[SHORTCONV_DY], t[SHORTCONV_DX], t[SHORTCONV_DW],
             t[SHORTCONV_DBIAS]);
  return SMX_OK;
}

const smx_variant smx_shortconv_cpu_direct = {
    .name = "cpu.direct",
    .summary = "K-tap loops specialized per K, omp simd over time, OpenMP over rows/channels, fp64 dw/dbias sums",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = free,
    .workspace_bytes = smx_state_no_workspace,
    .run = run,
};
