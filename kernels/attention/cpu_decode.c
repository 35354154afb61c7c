/* attention_decode variant `cpu.flash`: flash-decoding on the CPU. The cache is cut into chunks of
 * 256 positions; one task per (batch, chunk) reads its K and V rows once, whole (every KV head of
 * a row: decode is bound by reading the cache, and a task that read one head's slice of each row
 * would leave the rest of every line it and the prefetcher pulled in to be read again by another
 * task — 8x slower at B = 8, S = 8192, H = 4, P = 32 out of cache), keeps a partial max, sum and
 * output per head, and a second loop combines the chunks in order. The chunking depends only on S,
 * and each task's sums run in a fixed order: results do not depend on the thread count.
 *
 *   seqmix check --op attention_decode --variant cpu.flash
 *   seqmix bench --op attention_decode --variant cpu.flash --suite quick
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "kernels/attention/cpu_flash_core.h"
#include "reference/attention.h"
#include "seqmix/buffer.h"

#define CHUNK 256

typedef struct decode_state {
  int64_t B, S, H, Hkv, P, chunks;
  float scale;
  float *part;  /* (B, H, chunks) x (P + 2): output, max, sum */
  float *s;     /* threads x H x CHUNK scores, then weights */
  int threads;
} decode_state;

static void destroy(void *p) {
  decode_state *d = p;
  if (!d) return;
  smx_host_free(d->part);
  smx_host_free(d->s);
  free(d);
}

static size_t workspace_bytes(const void *p) {
  const decode_state *d = p;
  return ((size_t)(d->B * d->H * d->chunks * (d->P + 2)) + (size_t)d->threads * (size_t)d->H * CHUNK) *
         sizeof(float);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  decode_state *d = calloc(1, sizeof *d);
  if (!d) return smx_fail(SMX_ERR_NOMEM, "attention_decode cpu.flash: cannot allocate state");
  d->B = c->v[DECODE_B], d->S = c->v[DECODE_S], d->H = c->v[DECODE_H], d->Hkv = c->v[DECODE_HKV], d->P = c->v[DECODE_P];
  d->chunks = (d->S + CHUNK - 1) / CHUNK;
  d->scale = (float)(1.0 / sqrt((double)d->P));
  d->threads = omp_get_max_threads();
  d->part = smx_host_alloc((size_t)(d->B * d->H * d->chunks * (d->P + 2)) * sizeof(float));
  d->s = smx_host_alloc((size_t)d->threads * (size_t)d->H * CHUNK * sizeof(float));
  if (!d->part || !d->s) {
    size_t want = workspace_bytes(d);
    destroy(d);
    return smx_fail(SMX_ERR_NOMEM, "attention_decode cpu.flash: cannot allocate %zu bytes of workspace", want);
  }
  *out = d;
  return SMX_OK;
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  decode_state *d = p;
  if (pass != SMX_FWD) return smx_fail(SMX_ERR_UNSUPPORTED, "attention_decode has no backward");
  const float *q = tv[DECODE_Q], *k = tv[DECODE_K], *v = tv[DECODE_V];
  float *o = tv[DECODE_O];
  int64_t B = d->B, S = d->S, H = d->H, Hkv = d->Hkv, P = d->P, group = H / Hkv, NC = d->chunks;
#pragma omp parallel for collapse(2) schedule(static) num_threads(d->threads)
  for (int64_t b = 0; b < B; b++)
    for (int64_t ch = 0; ch < NC; ch++) {
      float *s = d->s + (size_t)omp_get_thread_num() * (size_t)H * CHUNK;
      int64_t j0 = ch * CHUNK, n = S - j0 < CHUNK ? S - j0 : CHUNK;
      cpu_flash_decode_chunk(q + b * H * P, k + (b * S + j0) * Hkv * P, v + (b * S + j0) * Hkv * P, Hkv * P, n, H, group, P,
                             d->scale, NULL, 0, s, CHUNK, d->part + (b * H * NC + ch) * (P + 2), NC * (P + 2));
    }
#pragma omp parallel for schedule(static) num_threads(d->threads)
  for (int64_t bh = 0; bh < B * H; bh++) cpu_flash_decode_combine(d->part + bh * NC * (P + 2), NC, P, o + bh * P);
  return SMX_OK;
}

const smx_variant smx_attention_decode_cpu_flash = {
    .name = "cpu.flash",
    .summary = "flash-decoding: 256-position chunks per batch, each K/V row read once for every head, then a combine",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
