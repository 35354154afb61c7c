/* dma_bias variant `cuda.direct`: DMA's per-key bias from the value states on the GPU, the
 * reference's formulas (reference/dma_bias_tmpl.h) with its fp64 arithmetic: one thread per (token,
 * KV head) for the dot, softplus and bias; backward one thread per (token, head) for d/ds, one per
 * element of dv, and dW and dA one thread per output summing the tokens in order (repeatable, no
 * atomics). The KV heads are few (the models' heads), so every sum is short except those over
 * tokens, which are as long as the batch.
 *
 *   seqmix check --op dma_bias --variant cuda.direct      (needs a GPU; skipped otherwise)
 */
#include <cuda_runtime.h>
#include <stdlib.h>

extern "C" {
#include "reference/dma.h"
}
#include "kernels/moe/cuda_moe_common.cuh"

namespace {

using moe_cuda::grid_for;

struct bias_state {
  smx_config c;
  double *ds, *sp; /* (B L, Hkv) */
};

__device__ __forceinline__ double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
__device__ __forceinline__ double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

__device__ __forceinline__ double pre(const float *vt, const float *W, int64_t C, int64_t Hkv, int64_t g) {
  double s = 0;
  for (int64_t c = 0; c < C; c++) s += (double)vt[c] * (double)W[c * Hkv + g];
  return s;
}

__global__ void k_fwd(int64_t BL, int64_t L, int64_t Hkv, int64_t C, int form, const float *v, const float *W,
                      const float *A, float *bias) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < BL * Hkv; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t bt = i / Hkv, g = i % Hkv, b = bt / L, t = bt % L;
    double z = (double)A[g] * softplus(pre(v + bt * C, W, C, Hkv, g));
    bias[(b * Hkv + g) * L + t] = (float)(form == DMA_FORM_EXP ? exp(z) : z);
  }
}

__global__ void k_ds(int64_t BL, int64_t L, int64_t Hkv, int64_t C, int form, const float *v, const float *W,
                     const float *A, const float *dbias, double *ds, double *sp) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < BL * Hkv; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t bt = i / Hkv, g = i % Hkv, b = bt / L, t = bt % L;
    double s = pre(v + bt * C, W, C, Hkv, g), spl = softplus(s), z = (double)A[g] * spl;
    double dz = (double)dbias[(b * Hkv + g) * L + t] * (form == DMA_FORM_EXP ? exp(z) : 1.0);
    sp[i] = dz * spl;
    ds[i] = dz * (double)A[g] * sigmoid(s);
  }
}

__global__ void k_dv(int64_t BL, int64_t Hkv, int64_t C, const double *ds, const float *W, float *dv) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < BL * C; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t bt = i / C, c = i % C;
    double acc = 0;
    for (int64_t g = 0; g < Hkv; g++) acc += ds[bt * Hkv + g] * (double)W[c * Hkv + g];
    dv[i] = (float)acc;
  }
}

__global__ void k_dw(int64_t BL, int64_t Hkv, int64_t C, const float *v, const double *ds, float *dW) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < C * Hkv; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t c = i / Hkv, g = i % Hkv;
    double acc = 0;
    for (int64_t bt = 0; bt < BL; bt++) acc += (double)v[bt * C + c] * ds[bt * Hkv + g];
    dW[i] = (float)acc;
  }
}

__global__ void k_da(int64_t BL, int64_t Hkv, const double *sp, float *dA) {
  for (int64_t g = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; g < Hkv; g += (int64_t)gridDim.x * blockDim.x) {
    double acc = 0;
    for (int64_t bt = 0; bt < BL; bt++) acc += sp[bt * Hkv + g];
    dA[g] = (float)acc;
  }
}

void destroy(void *p) {
  bias_state *s = (bias_state *)p;
  if (!s) return;
  cudaFree(s->ds);
  cudaFree(s->sp);
  free(s);
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  bias_state *s = (bias_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "dma_bias cuda.direct: cannot allocate state");
  s->c = *c;
  size_t n = (size_t)(c->v[DMAB_B] * c->v[DMAB_L] * c->v[DMAB_HKV]) * sizeof(double);
  cudaError_t e = cudaMalloc(&s->ds, n);
  if (e == cudaSuccess) e = cudaMalloc(&s->sp, n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "dma_bias cuda.direct: cannot allocate %zu bytes of workspace: %s", 2 * n,
                    cudaGetErrorString(e));
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) {
  const bias_state *s = (const bias_state *)p;
  return 2 * (size_t)(s->c.v[DMAB_B] * s->c.v[DMAB_L] * s->c.v[DMAB_HKV]) * sizeof(double);
}

smx_status run(void *p, smx_pass pass, void *const *tv) {
  bias_state *s = (bias_state *)p;
  float *const *t = (float *const *)tv;
  const smx_config *c = &s->c;
  int64_t L = c->v[DMAB_L], Hkv = c->v[DMAB_HKV], C = Hkv * c->v[DMAB_P], BL = c->v[DMAB_B] * L;
  int form = (int)c->v[DMAB_FORM];
  if (pass == SMX_FWD) {
    k_fwd<<<grid_for(BL * Hkv), 256>>>(BL, L, Hkv, C, form, t[DMAB_V], t[DMAB_W], t[DMAB_A], t[DMAB_BIAS]);
    SMX_CUDA_CHECK_LAUNCH();
    return SMX_OK;
  }
  k_ds<<<grid_for(BL * Hkv), 256>>>(BL, L, Hkv, C, form, t[DMAB_V], t[DMAB_W], t[DMAB_A], t[DMAB_DBIAS], s->ds, s->sp);
  SMX_CUDA_CHECK_LAUNCH();
  k_dv<<<grid_for(BL * C), 256>>>(BL, Hkv, C, s->ds, t[DMAB_W], t[DMAB_DV]);
  SMX_CUDA_CHECK_LAUNCH();
  k_dw<<<grid_for(C * Hkv, 64), 64>>>(BL, Hkv, C, t[DMAB_V], s->ds, t[DMAB_DW]);
  SMX_CUDA_CHECK_LAUNCH();
  k_da<<<1, 32>>>(BL, Hkv, s->sp, t[DMAB_DA]);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_dma_bias_cuda_direct = {
    "cuda.direct",
    "the reference's formulas in fp64 arithmetic, a thread per (token, head); dW and dA as ordered sums over tokens",
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
