/* hyena_filter variant `cpu.blas`: the filter MLP over all L positions at once as OpenBLAS GEMMs
 * (L x E by E x F, then two L x F by F x F, and the output layer written straight into k's (H, L)
 * layout as W4 S3^T), the sines and the decay window as OpenMP loops. The positional features and
 * the decay window are constants of (H, L, emb), built once in create() in fp64 and rounded to
 * fp32. Backward recomputes the activations and runs the transposed GEMMs; the bias and frequency
 * gradients are column sums in a fixed order (fp64 partial sums). Formulas: reference/hyena_filter.h.
 *
 *   seqmix check --op hyena_filter --variant cpu.blas
 *   seqmix bench --op hyena_filter --variant cpu.blas --suite quick
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_sgemm_par.h"
#include "reference/hyena_filter.h"
#include "seqmix/buffer.h"

typedef struct blas_state {
  int64_t H, L, E, F;
  float *z, *decay;                   /* L x E features; H x L window exp(-tn |delta|) */
  float *a[3], *s[3], *d, *d2, *dko;  /* L x F activations; L x F gradients; H x L */
  size_t bytes;
} blas_state;

static void destroy(void *p) {
  blas_state *s = p;
  if (!s) return;
  smx_host_free(s->z);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  blas_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.blas: cannot allocate state");
  s->H = c->v[HYF_PH];
  s->L = c->v[HYF_PL];
  s->E = c->v[HYF_PE];
  s->F = c->v[HYF_PF];
  size_t LE = (size_t)(s->L * s->E), HL = (size_t)(s->H * s->L), LF = (size_t)(s->L * s->F);
  s->bytes = (LE + 2 * HL + 8 * LF) * sizeof(float);
  /* one block: z, decay, dko, then the eight L x F buffers */
  s->z = smx_host_alloc(s->bytes);
  double *zd = malloc(LE * sizeof(double)), *tn = malloc((size_t)s->L * sizeof(double));
  if (!s->z || !zd || !tn) {
    free(zd);
    free(tn);
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "cpu.blas: cannot allocate the workspace");
  }
  s->decay = s->z + LE;
  s->dko = s->decay + HL;
  float *w = s->dko + HL;
  for (int i = 0; i < 3; i++) {
    s->a[i] = w + (size_t)(2 * i) * LF;
    s->s[i] = w + (size_t)(2 * i + 1) * LF;
  }
  s->d = w + 6 * LF;
  s->d2 = w + 7 * LF;
  smx_hyena_features(s->L, s->E, zd, tn);
  for (size_t i = 0; i < LE; i++) s->z[i] = (float)zd[i];
  for (int64_t h = 0; h < s->H; h++) {
    double rate = smx_hyena_decay_rate(s->H, h);
    for (int64_t t = 0; t < s->L; t++) s->decay[h * s->L + t] = (float)exp(-tn[t] * rate);
  }
  free(zd);
  free(tn);
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) { return ((const blas_state *)p)->bytes; }

static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float *C, int64_t ldc) {
  smx_sgemm_par(ta, tb, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, 0.0f, C, (int)ldc);
}

/* a = x W^T + b (x: L x n), s = sin(freq a) */
static void layer(const blas_state *st, int64_t n, const float *x, const float *W, const float *b, const float *freq,
                  float *a, float *s) {
  int64_t L = st->L, F = st->F;
  gemm(CblasNoTrans, CblasTrans, L, F, n, x, n, W, n, a, F);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < L; t++)
    for (int64_t f = 0; f < F; f++) {
      float v = a[t * F + f] + b[f];
      a[t * F + f] = v;
      s[t * F + f] = sinf(freq[f] * v);
    }
}

static void activations(const blas_state *st, float *const *t) {
  layer(st, st->E, st->z, t[HYF_W1], t[HYF_B1], t[HYF_FREQ], st->a[0], st->s[0]);
  layer(st, st->F, st->s[0], t[HYF_W2], t[HYF_B2], t[HYF_FREQ], st->a[1], st->s[1]);
  layer(st, st->F, st->s[1], t[HYF_W3], t[HYF_B3], t[HYF_FREQ], st->a[2], st->s[2]);
}

/* Back through s = sin(freq a), a = x W^T + b with ds (L x F) in d: d becomes da; dW = da^T x,
 * db and dfreq (added to) are column sums over t in order; dx = da W (when dx). */
static void layer_back(const blas_state *st, int64_t n, const float *x, const float *W, const float *freq, const float *a,
                       float *d, float *dW, float *db, double *dfreq, float *dx) {
  int64_t L = st->L, F = st->F;
#pragma omp parallel for schedule(static)
  for (int64_t f = 0; f < F; f++) {
    double sb = 0, sf = 0;
    for (int64_t t = 0; t < L; t++) {
      float g = d[t * F + f] * cosf(freq[f] * a[t * F + f]);
      sf += (double)g * (double)a[t * F + f];
      d[t * F + f] = g * freq[f];
      sb += (double)d[t * F + f];
    }
    db[f] = (float)sb;
    dfreq[f] += sf;
  }
  gemm(CblasTrans, CblasNoTrans, F, n, L, d, F, x, n, dW, n);
  if (dx) gemm(CblasNoTrans, CblasNoTrans, L, n, F, d, F, W, n, dx, n);
}

static smx_status run(void *state, smx_pass pass, void *const *tv) {
  blas_state *st = state;
  float *const *t = (float *const *)tv;
  int64_t H = st->H, L = st->L, F = st->F;
  activations(st, t);
  if (pass == SMX_FWD) {
    /* k (H x L) = W4 S3^T, then the decay window */
    gemm(CblasNoTrans, CblasTrans, H, L, F, t[HYF_W4], F, st->s[2], F, t[HYF_K], L);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < H * L; i++) t[HYF_K][i] *= st->decay[i];
    return SMX_OK;
  }
  double *dfreq = calloc((size_t)F, sizeof(double));
  if (!dfreq) return smx_fail(SMX_ERR_NOMEM, "cpu.blas: cannot allocate %lld doubles", (long long)F);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < H * L; i++) st->dko[i] = t[HYF_DK][i] * st->decay[i];
  /* dW4 (H x F) = dko S3;  dS3 (L x F) = dko^T W4 */
  gemm(CblasNoTrans, CblasNoTrans, H, F, L, st->dko, L, st->s[2], F, t[HYF_DW4], F);
  gemm(CblasTrans, CblasNoTrans, L, F, H, st->dko, L, t[HYF_W4], F, st->d, F);
  layer_back(st, F, st->s[1], t[HYF_W3], t[HYF_FREQ], st->a[2], st->d, t[HYF_DW3], t[HYF_DB3], dfreq, st->d2);
  layer_back(st, F, st->s[0], t[HYF_W2], t[HYF_FREQ], st->a[1], st->d2, t[HYF_DW2], t[HYF_DB2], dfreq, st->d);
  layer_back(st, st->E, st->z, t[HYF_W1], t[HYF_FREQ], st->a[0], st->d, t[HYF_DW1], t[HYF_DB1], dfreq, NULL);
  for (int64_t f = 0; f < F; f++) t[HYF_DFREQ][f] = (float)dfreq[f];
  free(dfreq);
  return SMX_OK;
}

const smx_variant smx_hyena_filter_cpu_blas = {
    .name = "cpu.blas",
    .summary = "all positions at once: the MLP layers as OpenBLAS sgemm, sines and decay window with OpenMP",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
