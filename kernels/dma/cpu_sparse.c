/* dma variant `cpu.sparse`: the key selection (the reference's heap, O(L log w) per KV head), then
 * the CPU flash core over only the keys each 64-row query tile keeps (at most w + 64 of them), so
 * forward and backward cost O(L w P) instead of the dense O(L^2 P).
 *
 *   seqmix check --op dma --variant cpu.sparse
 *   seqmix bench --op dma --variant cpu.sparse --suite quick
 */
#include <stdlib.h>

#include "kernels/attention/cpu_flash_core.h"
#include "reference/dma.h"
#include "seqmix/buffer.h"

typedef struct sparse_state {
  smx_config cfg;
  cpu_flash *flash;
  int32_t *keep, *heap; /* (B, Hkv, L) keep-until; L of heap scratch */
} sparse_state;

static void destroy(void *p) {
  sparse_state *s = p;
  if (!s) return;
  cpu_flash_destroy(s->flash);
  smx_host_free(s->keep);
  smx_host_free(s->heap);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  sparse_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.sparse: cannot allocate state");
  s->cfg = *c;
  cpu_flash_shape fs = {c->v[DMA_B], c->v[DMA_L], c->v[DMA_H], c->v[DMA_HKV], c->v[DMA_P], 1};
  smx_status st = cpu_flash_create(&fs, &s->flash);
  size_t rows = (size_t)(c->v[DMA_B] * c->v[DMA_HKV]), L = (size_t)c->v[DMA_L];
  if (st == SMX_OK) {
    s->keep = smx_host_alloc(rows * L * sizeof(int32_t));
    s->heap = smx_host_alloc(L * sizeof(int32_t));
    if (!s->keep || !s->heap) st = smx_fail(SMX_ERR_NOMEM, "cpu.sparse: cannot allocate the selection");
  }
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) {
  const sparse_state *s = p;
  size_t L = (size_t)s->cfg.v[DMA_L];
  return cpu_flash_workspace_bytes(s->flash) + ((size_t)(s->cfg.v[DMA_B] * s->cfg.v[DMA_HKV]) + 1) * L * sizeof(int32_t);
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  sparse_state *s = p;
  float *const *t = (float *const *)tv;
  int64_t L = s->cfg.v[DMA_L];
  for (int64_t r = 0; r < s->cfg.v[DMA_B] * s->cfg.v[DMA_HKV]; r++)
    smx_dma_keep_until(t[DMA_BIAS] + r * L, L, s->cfg.v[DMA_W], (int)s->cfg.v[DMA_SELECT], s->keep + r * L, s->heap);
  if (pass == SMX_FWD)
    cpu_flash_fwd(s->flash, t[DMA_Q], t[DMA_K], t[DMA_V], t[DMA_BIAS], s->keep, t[DMA_O], t[DMA_LSE]);
  else
    cpu_flash_bwd(s->flash, t[DMA_Q], t[DMA_K], t[DMA_V], t[DMA_BIAS], s->keep, t[DMA_O], t[DMA_LSE], t[DMA_DO],
                  t[DMA_DQ], t[DMA_DK], t[DMA_DV], t[DMA_DBIAS]);
  return SMX_OK;
}

const smx_variant smx_dma_cpu_sparse = {
    .name = "cpu.sparse",
    .summary = "heap selection, then 64-row query tiles over only their kept keys (O(L w P)), fp32, OpenMP",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
