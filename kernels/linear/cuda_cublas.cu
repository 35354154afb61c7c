/* linear variant `cuda.cublas`: the three GEMMs through cuBLAS sgemm (fp32 math, no TF32), the bias
 * broadcast and its gradient (one thread per output column summing dy over the rows in order, so
 * db is repeatable: no atomics).
 *
 *   seqmix check --op linear --variant cuda.cublas      (needs a GPU; skipped otherwise)
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdlib.h>

extern "C" {
#include "reference/linear.h"
}
#include "kernels/moe/cuda_moe_common.cuh"

namespace {

using moe_cuda::grid_for;
using moe_cuda::rm_gemm;

struct state {
  int64_t T, K, N;
  int bias;
  cublasHandle_t blas;
  int blas_made;
};

__global__ void k_bias_rows(int64_t T, int64_t N, const float *b, float *y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < T * N; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = b[i % N];
}

__global__ void k_colsum(int64_t T, int64_t N, const float *dy, float *db) {
  for (int64_t n = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; n < N; n += (int64_t)gridDim.x * blockDim.x) {
    float s = 0.0f;
    for (int64_t t = 0; t < T; t++) s += dy[t * N + n];
    db[n] = s;
  }
}

void destroy(void *p) {
  state *s = (state *)p;
  if (!s) return;
  if (s->blas_made) cublasDestroy(s->blas);
  free(s);
}

smx_status init(state *s, const smx_config *c) {
  s->T = c->v[LIN_T];
  s->K = c->v[LIN_DIN];
  s->N = c->v[LIN_DOUT];
  s->bias = (int)c->v[LIN_BIAS];
  smx_status st = moe_cuda::blas_create(&s->blas);
  if (st == SMX_OK) s->blas_made = 1;
  return st;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  state *s = (state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.cublas: cannot allocate state");
  smx_status st = init(s, c);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *) { return 0; }

smx_status run(void *p, smx_pass pass, void *const *tv) {
  state *s = (state *)p;
  float *const *t = (float *const *)tv;
  int64_t T = s->T, K = s->K, N = s->N;
  if (pass == SMX_FWD) {
    if (s->bias) {
      k_bias_rows<<<grid_for(T * N), 256>>>(T, N, t[LIN_B], t[LIN_Y]);
      SMX_CUDA_CHECK_LAUNCH();
    }
    SMX_CUBLAS_CHECK(rm_gemm(s->blas, false, true, T, N, K, 1.0f, t[LIN_X], K, t[LIN_W], K, s->bias ? 1.0f : 0.0f,
                             t[LIN_Y], N));
    return SMX_OK;
  }
  SMX_CUBLAS_CHECK(rm_gemm(s->blas, false, false, T, K, N, 1.0f, t[LIN_DY], N, t[LIN_W], K, 0.0f, t[LIN_DX], K));
  SMX_CUBLAS_CHECK(rm_gemm(s->blas, true, false, N, K, T, 1.0f, t[LIN_DY], N, t[LIN_X], K, 0.0f, t[LIN_DW], K));
  if (s->bias) {
    k_colsum<<<grid_for(N), 256>>>(T, N, t[LIN_DY], t[LIN_DB]);
    SMX_CUDA_CHECK_LAUNCH();
  }
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_linear_cuda_cublas = {
    "cuda.cublas",
    "cuBLAS sgemm (fp32, no TF32) for y, dx and dW; bias broadcast and ordered column sums as kernels",
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
