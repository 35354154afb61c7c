/* adamw variant `cuda.fused`: one thread per element (grid-stride), the whole update in fp32, the
 * bias corrections computed once per step in fp64 on the host and passed as fp32 scalars (the
 * same numbers as cpu.fused). Forward only.
 *
 *   seqmix check --op adamw --variant cuda.fused      (needs a GPU; skipped otherwise)
 */
#include <cuda_runtime.h>
#include <math.h>

extern "C" {
#include "reference/adamw.h"
}
#include "kernels/moe/cuda_moe_common.cuh"

namespace {

__global__ void k_adamw(int64_t n, float decay, float step_size, float rbc2, float b1, float b2, float eps,
                        const float *p, const float *g, const float *m, const float *v, float *po, float *mo,
                        float *vo) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float gi = g[i];
    float m1 = b1 * m[i] + (1.0f - b1) * gi;
    float v1 = b2 * v[i] + (1.0f - b2) * gi * gi;
    po[i] = p[i] * decay - step_size * m1 / (sqrtf(v1) * rbc2 + eps);
    mo[i] = m1;
    vo[i] = v1;
  }
}

smx_status run(void *state, smx_pass pass, void *const *tv) {
  if (pass != SMX_FWD) return smx_fail(SMX_ERR_UNSUPPORTED, "adamw has no backward pass");
  const smx_config *c = (const smx_config *)state;
  float *const *t = (float *const *)tv;
  smx_adamw_config_values h = smx_adamw_values(c);
  double st = (double)c->v[ADAMW_STEP];
  float decay = (float)(1.0 - (double)(float)h.lr * (double)(float)h.wd);
  float step_size = (float)((double)(float)h.lr / (1.0 - pow((double)(float)h.beta1, st)));
  float rbc2 = (float)(1.0 / sqrt(1.0 - pow((double)(float)h.beta2, st)));
  int64_t n = c->v[ADAMW_N];
  k_adamw<<<moe_cuda::grid_for(n), 256>>>(n, decay, step_size, rbc2, (float)h.beta1, (float)h.beta2, (float)h.eps,
                                          t[ADAMW_P], t[ADAMW_G], t[ADAMW_M], t[ADAMW_V], t[ADAMW_P_OUT],
                                          t[ADAMW_M_OUT], t[ADAMW_V_OUT]);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_adamw_cuda_fused = {
    "cuda.fused",
    "one thread per element, fp32 update, bias corrections once per step in fp64 on the host; forward only",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD),
    NULL,
    smx_state_copy_config,
    smx_state_free,
    smx_state_no_workspace,
    run,
    SMX_F32,
};
