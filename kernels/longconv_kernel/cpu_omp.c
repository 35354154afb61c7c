/* longconv_kernel variant `cpu.omp`: the soft threshold in fp32, branch-free (copysign of a
 * clamped magnitude, a select for the gradient) so the compiler vectorizes it, OpenMP over the
 * H x L elements. Formulas: reference/longconv_kernel.h.
 *
 *   seqmix check --op longconv_kernel --variant cpu.omp
 *   seqmix bench --op longconv_kernel --variant cpu.omp --suite quick
 */
#include <math.h>

#include "reference/longconv_kernel.h"

static smx_status run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  int64_t n = c->v[LCK_PH] * c->v[LCK_PL];
  const float lam = (float)smx_longconv_lam(c);
  const float *x = t[LCK_KERNEL];
  if (p == SMX_FWD) {
    float *k = t[LCK_K];
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) k[i] = copysignf(fmaxf(fabsf(x[i]) - lam, 0.0f), x[i]);
  } else {
    const float *dk = t[LCK_DK];
    float *dx = t[LCK_DKERNEL];
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) dx[i] = fabsf(x[i]) > lam ? dk[i] : 0.0f;
  }
  return SMX_OK;
}

const smx_variant smx_longconv_kernel_cpu_omp = {
    .name = "cpu.omp",
    .summary = "fp32, branch-free and vectorized, OpenMP over the elements",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = run,
};
