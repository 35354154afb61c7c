/* mlp variant `cuda.cublas`: the GEMMs through cuBLAS sgemm (fp32 math, no TF32), the activation,
 * the GLU product and their gradients as elementwise kernels (reference/gelu.h's GELU, the same
 * formula as the CPU). The backward recomputes a and u first. Workspace: 4 T F floats.
 *
 *   seqmix check --op mlp --variant cuda.cublas      (needs a GPU; skipped otherwise)
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdlib.h>

extern "C" {
#include "reference/mlp.h"
}
#include "kernels/moe/cuda_moe_common.cuh"
#include "reference/gelu.h"

namespace {

using moe_cuda::grid_for;
using moe_cuda::rm_gemm;

struct state {
  int64_t T, d, F;
  int gelu;
  cublasHandle_t blas;
  int blas_made;
  float *ws; /* a, u, h/du, dh/da: T F each */
};

__device__ __forceinline__ float act(int gelu, float a) { return gelu ? smx_gelu_f32(a) : a / (1.0f + expf(-a)); }
__device__ __forceinline__ float act_grad(int gelu, float a) {
  if (gelu) return smx_gelu_grad_f32(a);
  float s = 1.0f / (1.0f + expf(-a));
  return s * (1.0f + a * (1.0f - s));
}

__global__ void k_glu(int64_t n, int gelu, const float *a, const float *u, float *h) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    h[i] = act(gelu, a[i]) * u[i];
}

/* dh -> da in place, du into h's buffer */
__global__ void k_glu_grad(int64_t n, int gelu, const float *a, const float *u, float *dh_da, float *du) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float g = dh_da[i], ai = a[i];
    du[i] = g * act(gelu, ai);
    dh_da[i] = g * u[i] * act_grad(gelu, ai);
  }
}

void destroy(void *p) {
  state *s = (state *)p;
  if (!s) return;
  if (s->blas_made) cublasDestroy(s->blas);
  cudaFree(s->ws);
  free(s);
}

smx_status init(state *s, const smx_config *c) {
  s->T = c->v[MLP_T];
  s->d = c->v[MLP_D];
  s->F = c->v[MLP_F];
  s->gelu = (int)c->v[MLP_ACT];
  smx_status st = moe_cuda::blas_create(&s->blas);
  if (st != SMX_OK) return st;
  s->blas_made = 1;
  SMX_CUDA_CHECK(cudaMalloc(&s->ws, 4 * (size_t)(s->T * s->F) * sizeof(float)));
  return SMX_OK;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  state *s = (state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "mlp cuda.cublas: cannot allocate state");
  smx_status st = init(s, c);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) {
  const state *s = (const state *)p;
  return 4 * (size_t)(s->T * s->F) * sizeof(float);
}

smx_status run(void *p, smx_pass pass, void *const *tv) {
  state *s = (state *)p;
  float *const *t = (float *const *)tv;
  int64_t T = s->T, d = s->d, F = s->F, n = T * F;
  float *a = s->ws, *u = a + n, *h = u + n, *dh = h + n;
  SMX_CUBLAS_CHECK(rm_gemm(s->blas, false, true, T, F, d, 1.0f, t[MLP_X], d, t[MLP_WG], d, 0.0f, a, F));
  SMX_CUBLAS_CHECK(rm_gemm(s->blas, false, true, T, F, d, 1.0f, t[MLP_X], d, t[MLP_WU], d, 0.0f, u, F));
  k_glu<<<grid_for(n), 256>>>(n, s->gelu, a, u, h);
  SMX_CUDA_CHECK_LAUNCH();
  if (pass == SMX_FWD) {
    SMX_CUBLAS_CHECK(rm_gemm(s->blas, false, true, T, d, F, 1.0f, h, F, t[MLP_WD], F, 0.0f, t[MLP_Y], d));
    return SMX_OK;
  }
  SMX_CUBLAS_CHECK(rm_gemm(s->blas, true, false, d, F, T, 1.0f, t[MLP_DY], d, h, F, 0.0f, t[MLP_DWD], F));
  SMX_CUBLAS_CHECK(rm_gemm(s->blas, false, false, T, F, d, 1.0f, t[MLP_DY], d, t[MLP_WD], F, 0.0f, dh, F));
  k_glu_grad<<<grid_for(n), 256>>>(n, s->gelu, a, u, dh, h);
  SMX_CUDA_CHECK_LAUNCH();
  float *da = dh, *du = h;
  SMX_CUBLAS_CHECK(rm_gemm(s->blas, true, false, F, d, T, 1.0f, da, F, t[MLP_X], d, 0.0f, t[MLP_DWG], d));
  SMX_CUBLAS_CHECK(rm_gemm(s->blas, true, false, F, d, T, 1.0f, du, F, t[MLP_X], d, 0.0f, t[MLP_DWU], d));
  SMX_CUBLAS_CHECK(rm_gemm(s->blas, false, false, T, d, F, 1.0f, da, F, t[MLP_WG], d, 0.0f, t[MLP_DX], d));
  SMX_CUBLAS_CHECK(rm_gemm(s->blas, false, false, T, d, F, 1.0f, du, F, t[MLP_WU], d, 1.0f, t[MLP_DX], d));
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_mlp_cuda_cublas = {
    "cuda.cublas",
    "cuBLAS sgemm (fp32, no TF32) for the products, elementwise kernels for the GLU; a and u recomputed in backward",
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
