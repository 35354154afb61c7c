/* shortconv variant `cuda.direct`: one thread per output for y and dx (the K <= 4 taps read
 * neighbouring elements, which the L1/L2 caches serve; the op is memory-bound, so the point is
 * coalesced reads and one write per element), and one block per channel for dw and dbias, each
 * thread summing a strided share of the B*L terms in fp64 and the block reducing in a fixed tree
 * order, so results are repeatable.
 *
 *   seqmix check --op shortconv --variant cuda.direct      (needs a GPU; skipped otherwise)
 *   seqmix bench --op shortconv --variant cuda.direct --suite paper
 */
#include <cuda_runtime.h>
#include <stdlib.h>

extern "C" {
#include "reference/shortconv.h"
}
#include "cuda_check.h"

namespace {

struct direct_state {
  int64_t B, H, L, K;
  int bias;
};

inline unsigned grid_for(size_t n) {
  size_t b = (n + 255) / 256;
  return (unsigned)(b > 65535 * 8 ? 65535 * 8 : (b ? b : 1));
}

#define GRID_STRIDE(i, n) \
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__global__ void forward_kernel(const float *x, const float *w, const float *bias, float *y, int64_t rows, int64_t H,
                               int64_t L, int K) {
  GRID_STRIDE(i, (size_t)rows * L) {
    int64_t r = (int64_t)(i / L), t = (int64_t)(i % L), h = r % H;
    float acc = bias ? bias[h] : 0.0f;
    for (int j = 0; j < K; j++) {
      int64_t s = t - (K - 1) + j;
      if (s >= 0) acc += w[h * K + j] * x[r * L + s];
    }
    y[i] = acc;
  }
}

__global__ void input_grad_kernel(const float *w, const float *dy, float *dx, int64_t rows, int64_t H, int64_t L,
                                  int K) {
  GRID_STRIDE(i, (size_t)rows * L) {
    int64_t r = (int64_t)(i / L), s = (int64_t)(i % L), h = r % H;
    float acc = 0.0f;
    for (int j = 0; j < K; j++) {
      int64_t t = s + (K - 1) - j;
      if (t < L) acc += w[h * K + j] * dy[r * L + t];
    }
    dx[i] = acc;
  }
}

/* One block (256 threads) per channel: dw[h, 0..K-1] and dbias[h] in fp64, fixed tree order. */
__global__ void weight_grad_kernel(const float *x, const float *dy, float *dw, float *dbias, int64_t B, int64_t H,
                                   int64_t L, int K) {
  __shared__ double part[5][256];
  int64_t h = blockIdx.x;
  double acc[5] = {0, 0, 0, 0, 0};
  for (int64_t b = 0; b < B; b++) {
    const float *xr = x + (b * H + h) * L, *dyr = dy + (b * H + h) * L;
    for (int64_t t = threadIdx.x; t < L; t += blockDim.x) {
      double g = (double)dyr[t];
      for (int j = 0; j < K; j++) {
        int64_t s = t - (K - 1) + j;
        if (s >= 0) acc[j] += g * (double)xr[s];
      }
      acc[4] += g;
    }
  }
  for (int j = 0; j < 5; j++) part[j][threadIdx.x] = acc[j];
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if ((int)threadIdx.x < stride)
      for (int j = 0; j < 5; j++) part[j][threadIdx.x] += part[j][threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    for (int j = 0; j < K; j++) dw[h * K + j] = (float)part[j][0];
    if (dbias) dbias[h] = (float)part[4][0];
  }
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  direct_state *s = (direct_state *)malloc(sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.direct: cannot allocate state");
  s->B = c->v[SHORTCONV_PB];
  s->H = c->v[SHORTCONV_PH];
  s->L = c->v[SHORTCONV_PL];
  s->K = c->v[SHORTCONV_PK];
  s->bias = (int)c->v[SHORTCONV_PBIAS];
  *out = s;
  return SMX_OK;
}

void destroy(void *p) { free(p); }
size_t workspace_bytes(const void *) { return 0; }

smx_status run(void *p, smx_pass pass, void *const *tv) {
  const direct_state *s = (const direct_state *)p;
  float *const *t = (float *const *)tv;
  int64_t rows = s->B * s->H;
  size_t n = (size_t)rows * s->L;
  int K = (int)s->K;
  if (pass == SMX_FWD) {
    forward_kernel<<<grid_for(n), 256>>>(t[SHORTCONV_X], t[SHORTCONV_W], s->bias ? t[SHORTCONV_BIAS] : NULL,
                                         t[SHORTCONV_Y], rows, s->H, s->L, K);
    SMX_CUDA_CHECK_LAUNCH();
    return SMX_OK;
  }
  input_grad_kernel<<<grid_for(n), 256>>>(t[SHORTCONV_W], t[SHORTCONV_DY], t[SHORTCONV_DX], rows, s->H, s->L, K);
  SMX_CUDA_CHECK_LAUNCH();
  /* one block per channel; H <= 2^20 stays inside gridDim.x's 2^31 - 1 */
  weight_grad_kernel<<<(unsigned)s->H, 256>>>(t[SHORTCONV_X], t[SHORTCONV_DY], t[SHORTCONV_DW],
                                             s->bias ? t[SHORTCONV_DBIAS] : NULL, s->B, s->H, s->L, K);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_shortconv_cuda_direct = {
    "cuda.direct",
    "one thread per output for y and dx, one block per channel for dw/dbias (fp64, fixed tree order)",
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
