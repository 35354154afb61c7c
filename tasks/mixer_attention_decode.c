/* Decoding for the sequence mixer `attention` (tasks/mixer_attention.c; the hooks of tasks/mixer.h).
 *
 * A KV cache of k (after RoPE when attention.rope=1) and v, (B, max_ctx, d) each. A step projects
 * the new token (q, k, v = x Wq^T, x Wk^T, x Wv^T), rotates q and k at the current position
 * (`rope cpu.table` with offset = position: the angles of row `position` of the full forward's
 * table), appends k and v to the cache, runs `attention_decode cpu.flash` for each sequence over
 * its S = position + 1 cached rows (the cache of one sequence is the op's (1, S, H, P) layout), and
 * projects out (y = o Wo^T). State kept per sequence: 2 ctx d floats.
 *
 *   build/tests/seqmix_tests --filter model_decode/'*'
 */
#include <stdio.h>
#include <string.h>

#include "reference/attention.h"
#include "reference/rope.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "tasks/mixer.h"
#include "tasks/mixer_decode.h"
#include "tasks/op_layer.h"

enum { WQ, WK, WV, WO }; /* the kind's tensor order (tasks/mixer_attention.c) */

typedef struct attn_dec {
  mixer_shape s;
  int64_t max_ctx, pos;
  int rope;
  op_layer rot, core; /* rope (B, 1, H, P) at offset pos; attention_decode of one sequence, S = pos + 1 */
  float *kc, *vc;     /* (B, max_ctx, d): k (rotated) and v of every past token */
  float *q, *k, *v, *qr, *kr, *o; /* (B, d) */
} attn_dec;

void mixer_attention_decode_destroy(void *p) {
  attn_dec *a = p;
  if (!a) return;
  op_layer_destroy(&a->rot);
  op_layer_destroy(&a->core);
  float *b[] = {a->kc, a->vc, a->q, a->k, a->v, a->qr, a->kr, a->o};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  smx_host_free(a);
}

smx_status mixer_attention_decode_create(const mixer_shape *s, int64_t max_ctx, void **out) {
  *out = NULL;
  if (max_ctx < 1) return smx_fail(SMX_ERR_INVALID, "attention: decode context %lld must be >= 1", (long long)max_ctx);
  if (s->heads < 1 || s->d % s->heads)
    return smx_fail(SMX_ERR_INVALID, "attention: heads %lld must divide d = %lld", (long long)s->heads, (long long)s->d);
  attn_dec *a = smx_host_alloc(sizeof *a);
  if (!a) return smx_fail(SMX_ERR_NOMEM, "attention: cannot allocate the decoder");
  a->s = *s, a->max_ctx = max_ctx;
  a->rope = mixer_attention_rope(s);
  int64_t B = s->B, d = s->d, H = s->heads, P = d / H;
  size_t Bd = (size_t)(B * d), cache = (size_t)(B * max_ctx * d);
  smx_status st = mixer_alloc("attention decode", &a->kc, cache, &a->vc, cache, &a->q, Bd, &a->k, Bd, &a->v, Bd, &a->qr, Bd,
                              &a->kr, Bd, &a->o, Bd, (float **)NULL);
  char spec[MIXER_SPEC_LEN];
  snprintf(spec, sizeof spec, "B=1,S=1,H=%lld,Hkv=%lld,P=%lld", (long long)H, (long long)H, (long long)P);
  if (st == SMX_OK) st = op_layer_create(&a->core, "attention_decode", "cpu.flash", spec);
  if (st == SMX_OK && a->rope) {
    snprintf(spec, sizeof spec, "B=%lld,L=1,H=%lld,P=%lld,offset=0,theta=10000", (long long)B, (long long)H, (long long)P);
    st = op_layer_create(&a->rot, "rope", "cpu.table", spec);
  }
  if (st != SMX_OK) {
    mixer_attention_decode_destroy(a);
    return st;
  }
  *out = a;
  return SMX_OK;
}

void mixer_attention_decode_reset(void *p) { ((attn_dec *)p)->pos = 0; }

smx_status mixer_attention_decode_step(void *p, float *const *w, const float *x, float *y) {
  attn_dec *a = p;
  int64_t B = a->s.B, d = a->s.d, pos = a->pos;
  if (pos >= a->max_ctx)
    return smx_fail(SMX_ERR_INVALID, "attention: the decode cache is full (%lld tokens per sequence)", (long long)a->max_ctx);
  smx_status s;
  if ((s = smx_linear_fwd_cpu(B, d, d, x, w[WQ], NULL, a->q)) || (s = smx_linear_fwd_cpu(B, d, d, x, w[WK], NULL, a->k)) ||
      (s = smx_linear_fwd_cpu(B, d, d, x, w[WV], NULL, a->v)))
    return s;
  const float *q = a->q, *k = a->k;
  if (a->rope) {
    if ((s = op_layer_set(&a->rot, ROPE_OFFSET, pos))) return s;
    a->rot.t[ROPE_X] = a->q, a->rot.t[ROPE_Y] = a->qr;
    if ((s = op_layer_run(&a->rot, SMX_FWD))) return s;
    a->rot.t[ROPE_X] = a->k, a->rot.t[ROPE_Y] = a->kr;
    if ((s = op_layer_run(&a->rot, SMX_FWD))) return s;
    q = a->qr, k = a->kr;
  }
  for (int64_t b = 0; b < B; b++) {
    memcpy(a->kc + (b * a->max_ctx + pos) * d, k + b * d, (size_t)d * sizeof(float));
    memcpy(a->vc + (b * a->max_ctx + pos) * d, a->v + b * d, (size_t)d * sizeof(float));
  }
  if ((s = op_layer_set(&a->core, DECODE_S, pos + 1))) return s;
  for (int64_t b = 0; b < B; b++) {
    a->core.t[DECODE_Q] = (float *)q + b * d, a->core.t[DECODE_K] = a->kc + b * a->max_ctx * d;
    a->core.t[DECODE_V] = a->vc + b * a->max_ctx * d, a->core.t[DECODE_O] = a->o + b * d;
    if ((s = op_layer_run(&a->core, SMX_FWD))) return s;
  }
  a->pos++;
  return smx_linear_fwd_cpu(B, d, d, a->o, w[WO], NULL, y);
}

/* the cache rows below pos keep what they hold; recurrent state zeroed (mixer.h, decode_seek) */
void mixer_attention_decode_seek(void *p, int64_t pos) {
  ((attn_dec *)p)->pos = pos;
}

size_t mixer_attention_decode_state_bytes(const mixer_shape *s, int64_t ctx) {
  return 2 * (size_t)ctx * (size_t)s->d * sizeof(float);
}
