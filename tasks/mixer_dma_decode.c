/* Decoding for the sequence mixer `dma` (tasks/mixer_dma.c; the hooks of tasks/mixer.h), for the
 * setting that keeps every key: dma.w = 0 (the default) or w >= the decode context.
 *
 * A key's bias depends only on its own value row (bias_j = exp(A softplus(<v_j, Wdt>)), reference/
 * dma.h), so it is computed once, when the token arrives (`dma_bias reference` on the B new rows,
 * as the forward runs it on all rows), and cached beside k and v. A step: q, k, v = x Wq^T, x Wk^T,
 * x Wv^T; the new k, v and bias appended; per sequence and head
 *   o = softmax_j(<q, k_j> / sqrt(P) + bias_j) v_j over the cached j <= position
 * (max-subtracted softmax in fp32; no registered decode op takes a per-key bias, so the step runs
 * attention_decode cpu.flash's chunk (cpu_flash_decode_chunk) with the bias: chunks of 256 keys, one task per
 * (sequence, chunk) reading each cached k and v row once, whole, for every head, a partial max,
 * sum and output per head, and a combine of the chunks in order — the same result at any thread
 * count); y = o Wo^T. State per sequence: ctx (2 d + H) floats.
 *
 * Top-w selection is not decoded: with select = 1 one top-w set is chosen from the whole sequence,
 * so a key's fate depends on keys not yet seen and a step cannot give the forward's row; select = 0
 * (per query row, among the visible keys) could be, but is not implemented. Both are refused in
 * decode_create.
 *
 *   build/tests/seqmix_tests --filter model_decode/'*'
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "kernels/attention/cpu_flash_core.h"
#include "reference/dma.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "tasks/mixer.h"
#include "tasks/mixer_decode.h"
#include "tasks/op_layer.h"

enum { WQ, WK, WV, WDT, A_DECAY, WO };  /* the kind's tensor order (tasks/mixer_dma.c) */
enum { O_W, O_SELECT };                 /* its options */

#define CHUNK 256 /* keys per task */

typedef struct dma_dec {
  mixer_shape s;
  int64_t max_ctx, pos, H, P;
  op_layer bias_op;          /* dma_bias of the B new tokens (L = 1) */
  float *kc, *vc, *bc;       /* (B, max_ctx, d), (B, max_ctx, d), (B, H, max_ctx) */
  float *q, *k, *v, *b, *o;  /* (B, d) x 3, (B, H), (B, d) */
  float *sc;                 /* threads x H x CHUNK scores, then weights */
  float *part;               /* (B, H, chunks of max_ctx) x (P + 2): partial output, max, sum */
  int threads;
} dma_dec;

void mixer_dma_decode_destroy(void *p) {
  dma_dec *a = p;
  if (!a) return;
  op_layer_destroy(&a->bias_op);
  float *b[] = {a->kc, a->vc, a->bc, a->q, a->k, a->v, a->b, a->o, a->sc, a->part};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  smx_host_free(a);
}

smx_status mixer_dma_decode_create(const mixer_shape *s, int64_t max_ctx, void **out) {
  *out = NULL;
  if (max_ctx < 1) return smx_fail(SMX_ERR_INVALID, "dma: decode context %lld must be >= 1", (long long)max_ctx);
  if (s->heads < 1 || s->d % s->heads)
    return smx_fail(SMX_ERR_INVALID, "dma: heads %lld must divide d = %lld", (long long)s->heads, (long long)s->d);
  int64_t w = (int64_t)s->opt[O_W];
  if (w != 0 && w < max_ctx)
    return smx_fail(SMX_ERR_UNSUPPORTED, "dma: decoding keeps every key: dma.w = %lld must be 0 or >= the context %lld "
                    "(top-w selection is not decoded)", (long long)w, (long long)max_ctx);
  dma_dec *a = smx_host_alloc(sizeof *a);
  if (!a) return smx_fail(SMX_ERR_NOMEM, "dma: cannot allocate the decoder");
  a->s = *s, a->max_ctx = max_ctx, a->H = s->heads, a->P = s->d / s->heads;
  a->threads = omp_get_max_threads();
  size_t B = (size_t)s->B, d = (size_t)s->d, H = (size_t)a->H, cache = B * (size_t)max_ctx * d;
  size_t chunks = (size_t)((max_ctx + CHUNK - 1) / CHUNK);
  smx_status st = mixer_alloc("dma decode", &a->kc, cache, &a->vc, cache, &a->bc, B * H * (size_t)max_ctx, &a->q, B * d, &a->k,
                              B * d, &a->v, B * d, &a->b, B * H, &a->o, B * d, &a->sc, (size_t)a->threads * H * CHUNK, &a->part,
                              B * H * chunks * (size_t)(a->P + 2), (float **)NULL);
  char spec[MIXER_SPEC_LEN];
  snprintf(spec, sizeof spec, "B=%lld,L=1,Hkv=%lld,P=%lld,form=%d", (long long)s->B, (long long)a->H, (long long)a->P,
           DMA_FORM_EXP);
  if (st == SMX_OK) st = op_layer_create(&a->bias_op, "dma_bias", "reference", spec);
  if (st != SMX_OK) {
    mixer_dma_decode_destroy(a);
    return st;
  }
  *out = a;
  return SMX_OK;
}

void mixer_dma_decode_reset(void *p) { ((dma_dec *)p)->pos = 0; }

smx_status mixer_dma_decode_step(void *p, float *const *w, const float *x, float *y) {
  dma_dec *a = p;
  int64_t B = a->s.B, d = a->s.d, H = a->H, P = a->P, pos = a->pos, S = pos + 1, M = a->max_ctx;
  if (pos >= M) return smx_fail(SMX_ERR_INVALID, "dma: the decode cache is full (%lld tokens per sequence)", (long long)M);
  smx_status s;
  if ((s = smx_linear_fwd_cpu(B, d, d, x, w[WQ], NULL, a->q)) || (s = smx_linear_fwd_cpu(B, d, d, x, w[WK], NULL, a->k)) ||
      (s = smx_linear_fwd_cpu(B, d, d, x, w[WV], NULL, a->v)))
    return s;
  op_layer *bo = &a->bias_op;
  bo->t[DMAB_V] = a->v, bo->t[DMAB_W] = w[WDT], bo->t[DMAB_A] = w[A_DECAY], bo->t[DMAB_BIAS] = a->b;
  if ((s = op_layer_run(bo, SMX_FWD))) return s;
  for (int64_t b = 0; b < B; b++) {
    memcpy(a->kc + (b * M + pos) * d, a->k + b * d, (size_t)d * sizeof(float));
    memcpy(a->vc + (b * M + pos) * d, a->v + b * d, (size_t)d * sizeof(float));
    for (int64_t h = 0; h < H; h++) a->bc[(b * H + h) * M + pos] = a->b[b * H + h];
  }
  float scale = (float)(1.0 / sqrt((double)P));
  int64_t NC = (S + CHUNK - 1) / CHUNK;
#pragma omp parallel for collapse(2) schedule(static) num_threads(a->threads)
  for (int64_t b = 0; b < B; b++)
    for (int64_t ch = 0; ch < NC; ch++) {
      float *sc = a->sc + (size_t)omp_get_thread_num() * (size_t)(H * CHUNK);
      int64_t j0 = ch * CHUNK, n = S - j0 < CHUNK ? S - j0 : CHUNK;
      cpu_flash_decode_chunk(a->q + b * d, a->kc + (b * M + j0) * d, a->vc + (b * M + j0) * d, d, n, H, 1, P, scale,
                             a->bc + b * H * M + j0, M, sc, CHUNK, a->part + (b * H * NC + ch) * (P + 2), NC * (P + 2));
    }
  for (int64_t bh = 0; bh < B * H; bh++) cpu_flash_decode_combine(a->part + bh * NC * (P + 2), NC, P, a->o + bh * P);
  a->pos++;
  return smx_linear_fwd_cpu(B, d, d, a->o, w[WO], NULL, y);
}

/* the cache rows below pos keep what they hold; recurrent state zeroed (mixer.h, decode_seek) */
void mixer_dma_decode_seek(void *p, int64_t pos) {
  ((dma_dec *)p)->pos = pos;
}

size_t mixer_dma_decode_state_bytes(const mixer_shape *s, int64_t ctx) {
  return (size_t)ctx * (size_t)(2 * s->d + s->heads) * sizeof(float);
}
