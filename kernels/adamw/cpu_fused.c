/* adamw variant `cpu.fused`: the whole update in one fp32 pass over the elements (OpenMP), the
 * bias corrections computed once per step in fp64 and rounded. Forward only (adamw has no
 * backward). A thin wrapper over smx_adamw_step_cpu (include/seqmix/model_ops.h), which may also
 * update in place (outputs equal to inputs).
 *
 *   seqmix check --op adamw --variant cpu.fused
 */
#include <math.h>

#include "reference/adamw.h"
#include "seqmix/model_ops.h"

smx_status smx_adamw_step_cpu(int64_t n, int64_t step, const smx_adamw_hparams *h, const float *p, const float *g,
                              const float *m, const float *v, float *p_out, float *m_out, float *v_out) {
  if (n < 1 || step < 1 || !h)
    return smx_fail(SMX_ERR_INVALID, "smx_adamw_step_cpu: n=%lld and step=%lld must be at least 1, hparams not NULL",
                    (long long)n, (long long)step);
  if (!(h->lr >= 0) || !(h->weight_decay >= 0) || !(h->beta1 >= 0 && h->beta1 < 1) || !(h->beta2 >= 0 && h->beta2 < 1) ||
      !(h->eps > 0))
    return smx_fail(SMX_ERR_INVALID,
                    "smx_adamw_step_cpu: lr=%g, weight_decay=%g must be >= 0, beta1=%g, beta2=%g in [0, 1), eps=%g > 0",
                    (double)h->lr, (double)h->weight_decay, (double)h->beta1, (double)h->beta2, (double)h->eps);
  if (!p || !g || !m || !v || !p_out || !m_out || !v_out)
    return smx_fail(SMX_ERR_INVALID, "smx_adamw_step_cpu: a tensor pointer is NULL");
  double t = (double)step;
  float decay = (float)(1.0 - (double)h->lr * (double)h->weight_decay);
  float step_size = (float)((double)h->lr / (1.0 - pow((double)h->beta1, t)));
  float rbc2 = (float)(1.0 / sqrt(1.0 - pow((double)h->beta2, t)));
  float b1 = h->beta1, b2 = h->beta2, eps = h->eps;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    float m1 = b1 * m[i] + (1.0f - b1) * gi;
    float v1 = b2 * v[i] + (1.0f - b2) * gi * gi;
    p_out[i] = p[i] * decay - step_size * m1 / (sqrtf(v1) * rbc2 + eps);
    m_out[i] = m1;
    v_out[i] = v1;
  }
  return SMX_OK;
}

static smx_status run(void *state, smx_pass p, void *const *tv) {
  if (p != SMX_FWD) return smx_fail(SMX_ERR_UNSUPPORTED, "adamw has no backward pass");
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  smx_adamw_config_values cv = smx_adamw_values(c);
  smx_adamw_hparams h = {(float)cv.lr, (float)cv.beta1, (float)cv.beta2, (float)cv.eps, (float)cv.wd};
  return smx_adamw_step_cpu(c->v[ADAMW_N], c->v[ADAMW_STEP], &h, t[ADAMW_P], t[ADAMW_G], t[ADAMW_M], t[ADAMW_V],
                            t[ADAMW_P_OUT], t[ADAMW_M_OUT], t[ADAMW_V_OUT]);
}

const smx_variant smx_adamw_cpu_fused = {
    .name = "cpu.fused",
    .summary = "one fp32 pass over the elements (OpenMP), bias corrections once per step in fp64; forward only",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = run,
};
