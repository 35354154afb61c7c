/* longconv_kernel variant `cuda.elementwise`: the soft threshold as one grid-stride kernel per
 * pass, fp32, the same branch-free form as cpu.omp (copysign of a clamped magnitude; a select for
 * the gradient). Memory-bound: 8 bytes per element forward, 12 backward.
 * Formulas: reference/longconv_kernel.h.
 *
 *   seqmix check --op longconv_kernel --variant cuda.elementwise        (needs a GPU; skipped otherwise)
 *   seqmix bench --op longconv_kernel --variant cuda.elementwise --suite paper
 */
#include <math.h>

extern "C" {
#include "reference/longconv_kernel.h"
}
#include "cuda_check.h"

namespace {

__global__ void soft_threshold(const float *__restrict__ x, float *__restrict__ k, float lam, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    k[i] = copysignf(fmaxf(fabsf(x[i]) - lam, 0.0f), x[i]);
}

__global__ void soft_threshold_grad(const float *__restrict__ x, const float *__restrict__ dk, float *__restrict__ dx,
                                    float lam, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    dx[i] = fabsf(x[i]) > lam ? dk[i] : 0.0f;
}

smx_status run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = (const smx_config *)state;
  float *const *t = (float *const *)tv;
  int64_t n = c->v[LCK_PH] * c->v[LCK_PL];
  float lam = (float)smx_longconv_lam(c);
  int64_t blocks = (n + 255) / 256;
  unsigned grid = (unsigned)(blocks > 65535 * 8 ? 65535 * 8 : (blocks ? blocks : 1));
  if (p == SMX_FWD) soft_threshold<<<grid, 256>>>(t[LCK_KERNEL], t[LCK_K], lam, n);
  else soft_threshold_grad<<<grid, 256>>>(t[LCK_KERNEL], t[LCK_DK], t[LCK_DKERNEL], lam, n);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_longconv_kernel_cuda_elementwise = {
    "cuda.elementwise",
    "fp32 grid-stride kernels, branch-free (memory-bound)",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    NULL,
    smx_state_copy_config,
    smx_state_free,
    smx_state_no_workspace,
    run,
    SMX_F32,
};
