/* The residual-stream glue of the task runner's CUDA model (include/seqmix/model_ops_cuda.h):
 * elementwise adds, copies and the learned positions, grid-stride, one thread per element (the positions'
 * gradient one thread per (position, column), summing the sequences in order: no atomics, so it
 * repeats bit for bit). Built only with CUDA.
 *
 *   build/tests/seqmix_tests --filter model_cuda/'*'      (needs a GPU; skipped otherwise)
 */
#include <cuda_runtime.h>

extern "C" {
#include "seqmix/model_ops_cuda.h"
}
#include "kernels/moe/cuda_moe_common.cuh"

namespace {

using moe_cuda::grid_for;

__global__ void k_add(int64_t n, const float *x, float *y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] += x[i];
}

__global__ void k_axpy(int64_t n, float a, const float *x, float *y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] += a * x[i];
}

__global__ void k_add_positions(int64_t T, int64_t L, int64_t d, const float *pos, float *x) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < T * d; i += (int64_t)gridDim.x * blockDim.x)
    x[i] += pos[((i / d) % L) * d + i % d];
}

__global__ void k_positions_grad(int64_t T, int64_t L, int64_t d, const float *dx, float *dpos) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < L * d; i += (int64_t)gridDim.x * blockDim.x) {
    float s = dpos[i];
    for (int64_t r = i / d; r < T; r += L) s += dx[r * d + i % d];
    dpos[i] = s;
  }
}

__global__ void k_running_mean_fwd(int64_t B, int64_t L, int64_t d, const float *x, float *y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < B * d; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t base = (i / d) * L * d + i % d; /* consecutive threads read consecutive columns */
    double acc = 0;
    for (int64_t t = 0; t < L; t++) {
      acc += x[base + t * d];
      y[base + t * d] = (float)(acc / (double)(t + 1));
    }
  }
}

__global__ void k_running_mean_bwd(int64_t B, int64_t L, int64_t d, float *dy) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < B * d; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t base = (i / d) * L * d + i % d;
    double acc = 0;
    for (int64_t t = L - 1; t >= 0; t--) {
      acc += (double)dy[base + t * d] / (double)(t + 1);
      dy[base + t * d] = (float)acc;
    }
  }
}

} // namespace

extern "C" smx_status smx_cuda_add(float *y, const float *x, int64_t n) {
  if (n <= 0) return SMX_OK;
  k_add<<<grid_for(n), 256>>>(n, x, y);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

extern "C" smx_status smx_cuda_axpy(int64_t n, float a, const float *x, float *y) {
  if (n <= 0) return SMX_OK;
  k_axpy<<<grid_for(n), 256>>>(n, a, x, y);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

extern "C" smx_status smx_cuda_copy(float *dst, const float *src, int64_t n) {
  if (n <= 0) return SMX_OK;
  SMX_CUDA_CHECK(cudaMemcpyAsync(dst, src, (size_t)n * sizeof(float), cudaMemcpyDeviceToDevice, 0));
  return SMX_OK;
}

extern "C" smx_status smx_cuda_add_positions(int64_t T, int64_t L, int64_t d, const float *pos, float *x) {
  if (T <= 0 || L <= 0 || d <= 0) return smx_fail(SMX_ERR_INVALID, "smx_cuda_add_positions: T, L and d must be positive");
  k_add_positions<<<grid_for(T * d), 256>>>(T, L, d, pos, x);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

extern "C" smx_status smx_cuda_running_mean_fwd(int64_t B, int64_t L, int64_t d, const float *x, float *y) {
  if (B <= 0 || L <= 0 || d <= 0) return smx_fail(SMX_ERR_INVALID, "smx_cuda_running_mean_fwd: B, L and d must be positive");
  k_running_mean_fwd<<<grid_for(B * d), 256>>>(B, L, d, x, y);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

extern "C" smx_status smx_cuda_running_mean_bwd(int64_t B, int64_t L, int64_t d, float *dy) {
  if (B <= 0 || L <= 0 || d <= 0) return smx_fail(SMX_ERR_INVALID, "smx_cuda_running_mean_bwd: B, L and d must be positive");
  k_running_mean_bwd<<<grid_for(B * d), 256>>>(B, L, d, dy);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

extern "C" smx_status smx_cuda_positions_grad(int64_t T, int64_t L, int64_t d, const float *dx, float *dpos) {
  if (T <= 0 || L <= 0 || d <= 0) return smx_fail(SMX_ERR_INVALID, "smx_cuda_positions_grad: T, L and d must be positive");
  k_positions_grad<<<grid_for(L * d), 256>>>(T, L, d, dx, dpos);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}
