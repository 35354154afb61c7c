/* adamw variant `cuda.fused`: one thread per element (grid-stride), the whole update in fp32, the
 * bias corrections computed once per step in fp64 on the host and passed as fp32 scalars (the
 * same numbers as cpu.fused). Forward only. A thin wrapper over smx_adamw_step_cuda
 * (include/seqmix/model_ops_cuda.h), which the task runner's CUDA model calls with float
 * hyperparameters.
 *
 *   seqmix check --op adamw --variant cuda.fused      (needs a GPU; skipped otherwise)
 */
#include <cuda_runtime.h>
#include <math.h>

extern "C" {
#include "reference/adamw.h"
#include "seqmix/model_ops_cuda.h"
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
  smx_adamw_config_values v = smx_adamw_values(c);
  /* the op's fixed units rounded to float, exactly what this variant always computed with */
  smx_adamw_hparams h = {(float)v.lr, (float)v.beta1, (float)v.beta2, (float)v.eps, (float)v.wd};
  return smx_adamw_step_cuda(c->v[ADAMW_N], c->v[ADAMW_STEP], &h, t[ADAMW_P], t[ADAMW_G], t[ADAMW_M], t[ADAMW_V],
                             t[ADAMW_P_OUT], t[ADAMW_M_OUT], t[ADAMW_V_OUT]);
}

} // namespace

extern "C" smx_status smx_adamw_step_cuda(int64_t n, int64_t step, const smx_adamw_hparams *h, const float *p,
                                          const float *g, const float *m, const float *v, float *p_out, float *m_out,
                                          float *v_out) {
  if (n < 0 || step < 1 || !h) return smx_fail(SMX_ERR_INVALID, "smx_adamw_step_cuda: n=%lld, step=%lld", (long long)n, (long long)step);
  if (!(h->lr >= 0) || !(h->weight_decay >= 0) || !(h->beta1 >= 0 && h->beta1 < 1) || !(h->beta2 >= 0 && h->beta2 < 1) ||
      !(h->eps > 0))
    return smx_fail(SMX_ERR_INVALID, "smx_adamw_step_cuda: lr=%g, weight_decay=%g must be >= 0, beta1=%g, beta2=%g in [0, 1), eps=%g > 0",
                    (double)h->lr, (double)h->weight_decay, (double)h->beta1, (double)h->beta2, (double)h->eps);
  if (n == 0) return SMX_OK;
  double st = (double)step;
  float decay = (float)(1.0 - (double)h->lr * (double)h->weight_decay);
  float step_size = (float)((double)h->lr / (1.0 - pow((double)h->beta1, st)));
  float rbc2 = (float)(1.0 / sqrt(1.0 - pow((double)h->beta2, st)));
  k_adamw<<<moe_cuda::grid_for(n), 256>>>(n, decay, step_size, rbc2, h->beta1, h->beta2, h->eps, p, g, m, v, p_out,
                                          m_out, v_out);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

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
