/* Sequence mixer `attention`: causal multi-head softmax attention (Zoology's MHA without the
 * q/k/v biases and dropout): q, k, v = x Wq^T, x Wk^T, x Wv^T; o = flash attention (the CPU flash
 * core of kernels/attention, the code behind `attention cpu.flash`); y = o Wo^T. Heads: the
 * model's `heads` (d must be a multiple). attention.rope=1 rotates q and k per head by RoPE
 * (`rope cpu.table`, theta 10000, rotate-half: reference/rope.h) before the core, the position
 * encoding of the Wonderful Matrices hybrids (and the baseline of the RoPE-in-SSD comparison,
 * docs/sweeps.md, "rope-ssd").
 *
 *   build/tests/seqmix_tests --filter mixers/'*'
 */
#include <stdio.h>

#include "kernels/attention/cpu_flash_core.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "reference/rope.h"
#include "tasks/mixer.h"
#include "tasks/mixer_decode.h"
#include "tasks/op_layer.h"

enum { WQ, WK, WV, WO, NT };
enum { O_ROPE, NO };

static const mixer_opt opts[NO] = {
    {"rope", 0, 1, 0, 1, "1 = RoPE on q and k (theta 10000, rotate-half)"},
};

typedef struct attn {
  mixer_shape s;
  cpu_flash *flash;
  int rope;
  op_layer rot; /* rope = 1 */
  /* qp, kp: the projections before the rotation (rope = 1); the backward reuses them for the
   * gradients of the unrotated projections, as nothing reads them after the forward */
  float *q, *k, *v, *o, *lse, *dq, *dk, *dv, *dproj, *dtmp, *qp, *kp;
} attn;

static smx_status tensors(const mixer_shape *s, mixer_tensor *t, int *n) {
  if (s->heads < 1 || s->d % s->heads)
    return smx_fail(SMX_ERR_INVALID, "attention: heads %lld must divide d = %lld", (long long)s->heads, (long long)s->d);
  if (s->opt[O_ROPE] != 0 && (s->d / s->heads) % 2)
    return smx_fail(SMX_ERR_INVALID, "attention: attention.rope=1 needs an even head dimension (d / heads = %lld)",
                    (long long)(s->d / s->heads));
  size_t dd = (size_t)(s->d * s->d);
  const char *names[NT] = {"wq", "wk", "wv", "wo"};
  for (int i = 0; i < NT; i++) t[i] = (mixer_tensor){"", dd, i == WO ? MI_OUT : MI_NORMAL, 1};
  for (int i = 0; i < NT; i++) snprintf(t[i].name, sizeof t[i].name, "%s", names[i]);
  *n = NT;
  return SMX_OK;
}

static void destroy(void *p) {
  attn *a = p;
  if (!a) return;
  if (a->flash) cpu_flash_destroy(a->flash);
  op_layer_destroy(&a->rot);
  float *b[] = {a->q, a->k, a->v, a->o, a->lse, a->dq, a->dk, a->dv, a->dproj, a->dtmp, a->qp, a->kp};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  smx_host_free(a);
}

static smx_status create(const mixer_shape *s, void **out) {
  attn *a = smx_host_alloc(sizeof *a);
  if (!a) return smx_fail(SMX_ERR_NOMEM, "attention: cannot allocate the layer");
  a->s = *s;
  a->rope = mixer_attention_rope(s);
  size_t Td = (size_t)(s->T * s->d);
  smx_status st = mixer_alloc("attention", &a->q, Td, &a->k, Td, &a->v, Td, &a->o, Td, &a->lse, (size_t)(s->T * s->heads),
                              &a->dq, Td, &a->dk, Td, &a->dv, Td, &a->dproj, Td, &a->dtmp, Td, (float **)NULL);
  if (st == SMX_OK && a->rope) {
    char spec[MIXER_SPEC_LEN];
    mixer_attention_rope_spec(s, spec);
    st = mixer_alloc("attention", &a->qp, Td, &a->kp, Td, (float **)NULL);
    if (st == SMX_OK) st = op_layer_create(&a->rot, "rope", "cpu.table", spec);
  }
  cpu_flash_shape fs = {s->B, s->L, s->heads, s->heads, s->d / s->heads, 0};
  if (st == SMX_OK) st = cpu_flash_create(&fs, &a->flash);
  if (st != SMX_OK) {
    destroy(a);
    return st;
  }
  *out = a;
  return SMX_OK;
}

/* y = R x (forward) or y = R^T x (backward: x the gradient of the rotated tensor) */
static smx_status rotate(attn *a, smx_pass p, float *x, float *y) {
  a->rot.t[p == SMX_FWD ? ROPE_X : ROPE_DY] = x;
  a->rot.t[p == SMX_FWD ? ROPE_Y : ROPE_DX] = y;
  return op_layer_run(&a->rot, p);
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, double *aux) {
  (void)aux;
  attn *a = p;
  int64_t T = a->s.T, d = a->s.d;
  smx_status s;
  float *qp = a->rope ? a->qp : a->q, *kp = a->rope ? a->kp : a->k;
  if ((s = smx_linear_fwd_cpu(T, d, d, x, w[WQ], NULL, qp)) || (s = smx_linear_fwd_cpu(T, d, d, x, w[WK], NULL, kp)) ||
      (s = smx_linear_fwd_cpu(T, d, d, x, w[WV], NULL, a->v)))
    return s;
  if (a->rope && ((s = rotate(a, SMX_FWD, qp, a->q)) || (s = rotate(a, SMX_FWD, kp, a->k)))) return s;
  cpu_flash_fwd(a->flash, a->q, a->k, a->v, NULL, NULL, a->o, a->lse);
  return smx_linear_fwd_cpu(T, d, d, a->o, w[WO], NULL, y);
}

/* smx_linear_bwd_cpu overwrites dW: the weight gradients go through dtmp-free accumulation by
 * writing into g directly (each weight is used once per step, and g is zero on entry). */
static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  attn *a = p;
  int64_t T = a->s.T, d = a->s.d;
  smx_status s;
  if ((s = smx_linear_bwd_cpu(T, d, d, a->o, w[WO], dy, a->dproj, g[WO], NULL))) return s;
  cpu_flash_bwd(a->flash, a->q, a->k, a->v, NULL, NULL, a->o, a->lse, a->dproj, a->dq, a->dk, a->dv, NULL);
  float *dq = a->dq, *dk = a->dk;
  if (a->rope) {
    dq = a->qp, dk = a->kp;
    if ((s = rotate(a, SMX_BWD, a->dq, dq)) || (s = rotate(a, SMX_BWD, a->dk, dk))) return s;
  }
  if ((s = smx_linear_bwd_cpu(T, d, d, x, w[WQ], dq, dx, g[WQ], NULL)) ||
      (s = smx_linear_bwd_cpu(T, d, d, x, w[WK], dk, a->dtmp, g[WK], NULL)))
    return s;
  mixer_add(dx, a->dtmp, (size_t)(T * d));
  if ((s = smx_linear_bwd_cpu(T, d, d, x, w[WV], a->dv, a->dtmp, g[WV], NULL))) return s;
  mixer_add(dx, a->dtmp, (size_t)(T * d));
  return SMX_OK;
}

const mixer_kind mixer_attention = {
    .name = "attention",
    .summary = "causal softmax attention, the model's heads, q/k/v/o projections without bias (Zoology's MHA)",
    .channel = 0, .n_opts = NO, .opts = opts,
    .tensors = tensors, .create = create, .destroy = destroy, .init = NULL, .forward = forward, .backward = backward,
    .check_options = "attention.rope=1",
    MIXER_DECODE_INIT(attention), /* tasks/mixer_attention_decode.c */
};

int mixer_attention_rope(const mixer_shape *s) { return s->opt[O_ROPE] != 0; }

void mixer_attention_rope_spec(const mixer_shape *s, mixer_spec rope) {
  snprintf(rope, MIXER_SPEC_LEN, "B=%lld,L=%lld,H=%lld,P=%lld,offset=0,theta=10000", (long long)s->B, (long long)s->L,
           (long long)s->heads, (long long)(s->d / s->heads));
}
