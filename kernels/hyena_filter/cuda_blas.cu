/* hyena_filter variant `cuda.blas`: cpu.blas's plan on the GPU — the three MLP layers over all L
 * positions as cuBLAS sgemms (fp32, no TF32), the output layer written straight into k's (H, L)
 * layout as W4 S3^T, the sines and the decay window as elementwise kernels; backward: the
 * transposed GEMMs, and the bias and frequency gradients as column sums over L, one block per
 * column with fp64 partial sums in a fixed tree (no atomics: repeatable). The positional features
 * and the decay window are built once in create() on the host in fp64 and copied as fp32.
 * Formulas: reference/hyena_filter.h.
 *
 *   seqmix check --op hyena_filter --variant cuda.blas        (needs a GPU; skipped otherwise)
 *   seqmix bench --op hyena_filter --variant cuda.blas --suite paper
 */
#include <math.h>
#include <stdlib.h>

extern "C" {
#include "reference/hyena_filter.h"
}
#include "kernels/monarch/cuda_monarch.cuh" /* monarch::blas_init, monarch::gemm (row-major over cuBLAS) */

namespace {

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

inline unsigned grid_for(int64_t n) {
  int64_t b = (n + 255) / 256;
  return (unsigned)(b > 65535 * 8 ? 65535 * 8 : (b ? b : 1));
}

/* a (L x F) += b (per column); s = sin(freq a) */
__global__ void bias_sine(float *a, float *s, const float *b, const float *freq, int64_t L, int64_t F) {
  GRID_STRIDE(i, L * F) {
    int64_t f = i % F;
    float v = a[i] + b[f];
    a[i] = v;
    s[i] = sinf(freq[f] * v);
  }
}

/* out[i] = in[i] * w[i] (the decay window, H x L) */
__global__ void times(const float *in, const float *w, float *out, int64_t n) {
  GRID_STRIDE(i, n) out[i] = in[i] * w[i];
}

/* back through s = sin(freq a): g = d cos(freq a); ga = g a; d = g freq (in place) */
__global__ void sine_back(float *d, float *ga, const float *a, const float *freq, int64_t L, int64_t F) {
  GRID_STRIDE(i, L * F) {
    int64_t f = i % F;
    float g = d[i] * cosf(freq[f] * a[i]);
    ga[i] = g * a[i];
    d[i] = g * freq[f];
  }
}

/* column f (one block each): db[f] = sum_t d[t, f];  dfreq_acc[f] (+)= sum_t ga[t, f] (fp64) */
__global__ void column_sums(const float *d, const float *ga, float *db, double *dfreq_acc, int64_t L, int64_t F,
                            int first) {
  __shared__ double part[2][256];
  int64_t f = blockIdx.x;
  double sd = 0, sg = 0;
  for (int64_t t = threadIdx.x; t < L; t += blockDim.x) {
    sd += (double)d[t * F + f];
    sg += (double)ga[t * F + f];
  }
  part[0][threadIdx.x] = sd;
  part[1][threadIdx.x] = sg;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) {
      part[0][threadIdx.x] += part[0][threadIdx.x + s];
      part[1][threadIdx.x] += part[1][threadIdx.x + s];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    db[f] = (float)part[0][0];
    dfreq_acc[f] = first ? part[1][0] : dfreq_acc[f] + part[1][0];
  }
}

__global__ void to_float(const double *in, float *out, int64_t n) {
  GRID_STRIDE(i, n) out[i] = (float)in[i];
}

struct blas_state {
  int64_t H, L, E, F;
  cublasHandle_t blas;
  int have_blas;
  float *z, *decay, *dko, *a[3], *s[3], *d, *d2, *ga;
  double *dfreq;
  size_t bytes;
};

void destroy(void *p) {
  blas_state *s = (blas_state *)p;
  if (!s) return;
  if (s->have_blas) cublasDestroy(s->blas);
  cudaFree(s->z); /* one allocation holds every float buffer */
  cudaFree(s->dfreq);
  free(s);
}

smx_status setup(blas_state *s) {
  smx_status st = monarch::blas_init(&s->blas);
  if (st != SMX_OK) return st;
  s->have_blas = 1;
  size_t LE = (size_t)(s->L * s->E), HL = (size_t)(s->H * s->L), LF = (size_t)(s->L * s->F);
  size_t nfloat = LE + 2 * HL + 9 * LF;
  s->bytes = nfloat * sizeof(float) + (size_t)s->F * sizeof(double);
  SMX_CUDA_CHECK(cudaMalloc(&s->z, nfloat * sizeof(float)));
  SMX_CUDA_CHECK(cudaMalloc(&s->dfreq, (size_t)s->F * sizeof(double)));
  s->decay = s->z + LE;
  s->dko = s->decay + HL;
  float *w = s->dko + HL;
  for (int i = 0; i < 3; i++) {
    s->a[i] = w + (size_t)(2 * i) * LF;
    s->s[i] = w + (size_t)(2 * i + 1) * LF;
  }
  s->d = w + 6 * LF;
  s->d2 = w + 7 * LF;
  s->ga = w + 8 * LF;
  /* the constants, in fp64 on the host, rounded to fp32 */
  double *zd = (double *)malloc(LE * sizeof(double)), *tn = (double *)malloc((size_t)s->L * sizeof(double));
  float *host = (float *)malloc((LE + HL) * sizeof(float));
  if (!zd || !tn || !host) {
    free(zd);
    free(tn);
    free(host);
    return smx_fail(SMX_ERR_NOMEM, "cuda.blas: cannot allocate host staging");
  }
  smx_hyena_features(s->L, s->E, zd, tn);
  for (size_t i = 0; i < LE; i++) host[i] = (float)zd[i];
  for (int64_t h = 0; h < s->H; h++) {
    double rate = smx_hyena_decay_rate(s->H, h);
    for (int64_t t = 0; t < s->L; t++) host[LE + (size_t)(h * s->L + t)] = (float)exp(-tn[t] * rate);
  }
  cudaError_t e = cudaMemcpy(s->z, host, (LE + HL) * sizeof(float), cudaMemcpyHostToDevice);
  free(zd);
  free(tn);
  free(host);
  SMX_CUDA_CHECK(e);
  return SMX_OK;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  blas_state *s = (blas_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.blas: cannot allocate state");
  s->H = c->v[HYF_PH];
  s->L = c->v[HYF_PL];
  s->E = c->v[HYF_PE];
  s->F = c->v[HYF_PF];
  smx_status st = setup(s);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) { return ((const blas_state *)p)->bytes; }

/* a = x W^T + b (x: L x n), s = sin(freq a) */
smx_status layer(blas_state *s, int64_t n, const float *x, const float *W, const float *b, const float *freq, float *a,
                 float *sv) {
  smx_status st = monarch::gemm(s->blas, false, true, s->L, s->F, n, x, n, 0, W, n, 0, 0.0f, a, s->F, 0, 1);
  if (st != SMX_OK) return st;
  bias_sine<<<grid_for(s->L * s->F), 256>>>(a, sv, b, freq, s->L, s->F);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

/* d (L x F, ds in, da out); dW = da^T x; db, dfreq from column sums; dx = da W (when dx) */
smx_status layer_back(blas_state *s, int64_t n, const float *x, const float *W, const float *freq, const float *a,
                      float *d, float *dW, float *db, int first, float *dx) {
  int64_t L = s->L, F = s->F;
  sine_back<<<grid_for(L * F), 256>>>(d, s->ga, a, freq, L, F);
  SMX_CUDA_CHECK_LAUNCH();
  column_sums<<<(unsigned)F, 256>>>(d, s->ga, db, s->dfreq, L, F, first);
  SMX_CUDA_CHECK_LAUNCH();
  smx_status st = monarch::gemm(s->blas, true, false, F, n, L, d, F, 0, x, n, 0, 0.0f, dW, n, 0, 1);
  if (st != SMX_OK || !dx) return st;
  return monarch::gemm(s->blas, false, false, L, n, F, d, F, 0, W, n, 0, 0.0f, dx, n, 0, 1);
}

smx_status run(void *state, smx_pass pass, void *const *tv) {
  blas_state *s = (blas_state *)state;
  float *const *t = (float *const *)tv;
  int64_t H = s->H, L = s->L, F = s->F, E = s->E;
  smx_status st = layer(s, E, s->z, t[HYF_W1], t[HYF_B1], t[HYF_FREQ], s->a[0], s->s[0]);
  if (st == SMX_OK) st = layer(s, F, s->s[0], t[HYF_W2], t[HYF_B2], t[HYF_FREQ], s->a[1], s->s[1]);
  if (st == SMX_OK) st = layer(s, F, s->s[1], t[HYF_W3], t[HYF_B3], t[HYF_FREQ], s->a[2], s->s[2]);
  if (st != SMX_OK) return st;
  if (pass == SMX_FWD) {
    /* k (H x L) = W4 S3^T, then the decay window in place */
    st = monarch::gemm(s->blas, false, true, H, L, F, t[HYF_W4], F, 0, s->s[2], F, 0, 0.0f, t[HYF_K], L, 0, 1);
    if (st != SMX_OK) return st;
    times<<<grid_for(H * L), 256>>>(t[HYF_K], s->decay, t[HYF_K], H * L);
    SMX_CUDA_CHECK_LAUNCH();
    return SMX_OK;
  }
  times<<<grid_for(H * L), 256>>>(t[HYF_DK], s->decay, s->dko, H * L);
  SMX_CUDA_CHECK_LAUNCH();
  /* dW4 (H x F) = dko S3;  dS3 (L x F) = dko^T W4 */
  st = monarch::gemm(s->blas, false, false, H, F, L, s->dko, L, 0, s->s[2], F, 0, 0.0f, t[HYF_DW4], F, 0, 1);
  if (st == SMX_OK) st = monarch::gemm(s->blas, true, false, L, F, H, s->dko, L, 0, t[HYF_W4], F, 0, 0.0f, s->d, F, 0, 1);
  if (st == SMX_OK) st = layer_back(s, F, s->s[1], t[HYF_W3], t[HYF_FREQ], s->a[2], s->d, t[HYF_DW3], t[HYF_DB3], 1, s->d2);
  if (st == SMX_OK) st = layer_back(s, F, s->s[0], t[HYF_W2], t[HYF_FREQ], s->a[1], s->d2, t[HYF_DW2], t[HYF_DB2], 0, s->d);
  if (st == SMX_OK) st = layer_back(s, E, s->z, t[HYF_W1], t[HYF_FREQ], s->a[0], s->d, t[HYF_DW1], t[HYF_DB1], 0, NULL);
  if (st != SMX_OK) return st;
  to_float<<<grid_for(F), 256>>>(s->dfreq, t[HYF_DFREQ], F);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_hyena_filter_cuda_blas = {
    "cuda.blas",
    "all positions at once: the MLP layers as cuBLAS sgemm (no TF32), sines, window and column sums as kernels",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    NULL,
    create,
    destroy,
    workspace_bytes,
    run,
    SMX_F32,
};
