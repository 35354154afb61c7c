/* layernorm and rmsnorm variants `cuda.rows`: one block of 256 threads per row (grid-stride over
 * rows) for y and dx, the row sums as fixed-order block reductions; the weight gradients as one
 * thread per column summing over the rows in order. No atomics: results are repeatable.
 *
 *   seqmix check --op layernorm --variant cuda.rows     (needs a GPU; skipped otherwise)
 *   seqmix check --op rmsnorm --variant cuda.rows
 */
#include <cuda_runtime.h>
#include <stdlib.h>

extern "C" {
#include "reference/norm.h"
}
#include "kernels/moe/cuda_moe_common.cuh"

namespace {

using moe_cuda::block_sum;
using moe_cuda::grid_for;

constexpr int NT = 256;

unsigned row_grid(int64_t T) { return (unsigned)(T < (1 << 20) ? T : (1 << 20)); }

__global__ void k_ln_fwd(int64_t T, int64_t d, float eps, const float *x, const float *w, const float *b, float *y,
                         float *mean, float *rstd) {
  __shared__ float sh[33];
  for (int64_t t = blockIdx.x; t < T; t += gridDim.x) {
    const float *xr = x + t * d;
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) s += xr[i];
    float m = block_sum(s, sh) / (float)d;
    float v = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) v += (xr[i] - m) * (xr[i] - m);
    float r = 1.0f / sqrtf(block_sum(v, sh) / (float)d + eps);
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) y[t * d + i] = (xr[i] - m) * r * w[i] + b[i];
    if (threadIdx.x == 0) {
      mean[t] = m;
      rstd[t] = r;
    }
  }
}

__global__ void k_ln_dx(int64_t T, int64_t d, const float *x, const float *w, const float *mean, const float *rstd,
                        const float *dy, float *dx) {
  __shared__ float sh[33];
  for (int64_t t = blockIdx.x; t < T; t += gridDim.x) {
    float m = mean[t], r = rstd[t], sg = 0.0f, sgx = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
      float g = dy[t * d + i] * w[i];
      sg += g;
      sgx += g * (x[t * d + i] - m) * r;
    }
    sg = block_sum(sg, sh) / (float)d;
    sgx = block_sum(sgx, sh) / (float)d;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
      float g = dy[t * d + i] * w[i], xh = (x[t * d + i] - m) * r;
      dx[t * d + i] = r * (g - sg - xh * sgx);
    }
  }
}

/* mean = NULL: rmsnorm (dw = sum_t dy x rstd, no db) */
__global__ void k_norm_wgrad(int64_t T, int64_t d, const float *x, const float *mean, const float *rstd,
                             const float *dy, float *dw, float *db) {
  for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < d; j += (int64_t)gridDim.x * blockDim.x) {
    float sw = 0.0f, sb = 0.0f;
    for (int64_t t = 0; t < T; t++) {
      float g = dy[t * d + j];
      if (mean) {
        sw += g * ((x[t * d + j] - mean[t]) * rstd[t]);
        sb += g;
      } else {
        sw += g * x[t * d + j] * rstd[t];
      }
    }
    dw[j] = sw;
    if (db) db[j] = sb;
  }
}

__global__ void k_rms_fwd(int64_t T, int64_t d, float eps, const float *x, const float *w, float *y, float *rstd) {
  __shared__ float sh[33];
  for (int64_t t = blockIdx.x; t < T; t += gridDim.x) {
    const float *xr = x + t * d;
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) s += xr[i] * xr[i];
    float r = 1.0f / sqrtf(block_sum(s, sh) / (float)d + eps);
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) y[t * d + i] = xr[i] * r * w[i];
    if (threadIdx.x == 0) rstd[t] = r;
  }
}

__global__ void k_rms_dx(int64_t T, int64_t d, const float *x, const float *w, const float *rstd, const float *dy,
                         float *dx) {
  __shared__ float sh[33];
  for (int64_t t = blockIdx.x; t < T; t += gridDim.x) {
    float r = rstd[t], sgx = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) sgx += dy[t * d + i] * w[i] * x[t * d + i];
    sgx = block_sum(sgx, sh) / (float)d;
    float r3 = r * r * r;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
      dx[t * d + i] = r * (dy[t * d + i] * w[i]) - x[t * d + i] * r3 * sgx;
  }
}

smx_status ln_run(void *p, smx_pass pass, void *const *tv) {
  const smx_config *c = (const smx_config *)p;
  float *const *t = (float *const *)tv;
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  if (pass == SMX_FWD) {
    k_ln_fwd<<<row_grid(T), NT>>>(T, d, (float)SMX_NORM_EPS, t[LN_X], t[LN_W], t[LN_B], t[LN_Y], t[LN_MEAN],
                                  t[LN_RSTD]);
    SMX_CUDA_CHECK_LAUNCH();
    return SMX_OK;
  }
  k_ln_dx<<<row_grid(T), NT>>>(T, d, t[LN_X], t[LN_W], t[LN_MEAN], t[LN_RSTD], t[LN_DY], t[LN_DX]);
  SMX_CUDA_CHECK_LAUNCH();
  k_norm_wgrad<<<grid_for(d), NT>>>(T, d, t[LN_X], t[LN_MEAN], t[LN_RSTD], t[LN_DY], t[LN_DW], t[LN_DB]);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

smx_status rms_run(void *p, smx_pass pass, void *const *tv) {
  const smx_config *c = (const smx_config *)p;
  float *const *t = (float *const *)tv;
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  if (pass == SMX_FWD) {
    k_rms_fwd<<<row_grid(T), NT>>>(T, d, (float)SMX_NORM_EPS, t[RMS_X], t[RMS_W], t[RMS_Y], t[RMS_RSTD]);
    SMX_CUDA_CHECK_LAUNCH();
    return SMX_OK;
  }
  k_rms_dx<<<row_grid(T), NT>>>(T, d, t[RMS_X], t[RMS_W], t[RMS_RSTD], t[RMS_DY], t[RMS_DX]);
  SMX_CUDA_CHECK_LAUNCH();
  k_norm_wgrad<<<grid_for(d), NT>>>(T, d, t[RMS_X], nullptr, t[RMS_RSTD], t[RMS_DY], t[RMS_DW], nullptr);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_layernorm_cuda_rows = {
    "cuda.rows",
    "a 256-thread block per row (fixed-order block sums); dw, db one thread per column over the rows in order",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    NULL,
    smx_state_copy_config,
    smx_state_free,
    smx_state_no_workspace,
    ln_run,
    SMX_F32,
};

extern "C" const smx_variant smx_rmsnorm_cuda_rows = {
    "cuda.rows",
    "a 256-thread block per row (fixed-order block sums); dw one thread per column over the rows in order",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    NULL,
    smx_state_copy_config,
    smx_state_free,
    smx_state_no_workspace,
    rms_run,
    SMX_F32,
};
