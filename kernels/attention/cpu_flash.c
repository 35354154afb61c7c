/* attention variant `cpu.flash`: the tiled online-softmax core (cpu_flash_core.h) over the causal
 * keys, OpenMP over (batch, head, query tile); backward FlashAttention-2 style from the saved o
 * and lse, with per-thread dk/dv partials summed in thread order.
 *
 *   seqmix check --op attention --variant cpu.flash
 *   seqmix bench --op attention --variant cpu.flash --suite quick
 */
#include "kernels/attention/cpu_flash_core.h"
#include "reference/attention.h"

static smx_status create(const smx_config *c, void **out) {
  cpu_flash_shape s = {c->v[ATTN_B], c->v[ATTN_L], c->v[ATTN_H], c->v[ATTN_HKV], c->v[ATTN_P], 0};
  return cpu_flash_create(&s, (cpu_flash **)out);
}

static void destroy(void *p) { cpu_flash_destroy(p); }
static size_t workspace_bytes(const void *p) { return cpu_flash_workspace_bytes(p); }

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  float *const *t = (float *const *)tv;
  if (pass == SMX_FWD) cpu_flash_fwd(p, t[ATTN_Q], t[ATTN_K], t[ATTN_V], NULL, NULL, t[ATTN_O], t[ATTN_LSE]);
  else
    cpu_flash_bwd(p, t[ATTN_Q], t[ATTN_K], t[ATTN_V], NULL, NULL, t[ATTN_O], t[ATTN_LSE], t[ATTN_DO], t[ATTN_DQ],
                  t[ATTN_DK], t[ATTN_DV], NULL);
  return SMX_OK;
}

const smx_variant smx_attention_cpu_flash = {
    .name = "cpu.flash",
    .summary = "64x64 tiles, online softmax in fp32, OpenMP over (batch, head, query tile); FA2-style backward",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
