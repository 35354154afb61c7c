/* Sequence mixer `attention` on CUDA: the layer of tasks/mixer_attention.c (q, k, v = x W^T;
 * o = causal attention; y = o Wo^T) with the projections by linear `cuda.cublas` and the core by
 * attention `cuda.flash` (FlashAttention-2; head dimensions 32, 64, 128) or, for other head
 * dimensions, `cuda.cublas` (the unfused kernels); attention.rope=1 rotates q and k by `rope
 * cuda.table` (the CPU layer's spec). One attention state serves both passes; dQ of
 * the flash backward is summed by atomics, so CUDA runs are not bitwise repeatable (CPU runs are).
 *
 *   build/tests/seqmix_tests --filter model_cuda/'*'      (needs a GPU; skipped otherwise)
 */
#include <stdio.h>

#include "reference/attention.h"
#include "reference/linear.h"
#include "reference/rope.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops_cuda.h"
#include "tasks/mixer_cuda.h"
#include "tasks/op_layer.h"

enum { WQ, WK, WV, WO, NT };

typedef struct attn_cuda {
  mixer_shape s;
  op_layer lin, core, rot;
  int rope;
  /* qp, kp: the unrotated projections (rope = 1), reused by the backward for their gradients */
  float *q, *k, *v, *o, *lse, *dq, *dk, *dv, *dproj, *dtmp, *qp, *kp;
} attn_cuda;

static void destroy(void *p) {
  attn_cuda *a = p;
  if (!a) return;
  op_layer_destroy(&a->lin);
  op_layer_destroy(&a->core);
  op_layer_destroy(&a->rot);
  float *b[] = {a->q, a->k, a->v, a->o, a->lse, a->dq, a->dk, a->dv, a->dproj, a->dtmp, a->qp, a->kp};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) mixer_cuda_free(b[i]);
  smx_host_free(a);
}

static smx_status create(const mixer_shape *s, void **out) {
  *out = NULL;
  if (s->heads < 1 || s->d % s->heads)
    return smx_fail(SMX_ERR_INVALID, "attention: heads %lld must divide d = %lld", (long long)s->heads, (long long)s->d);
  attn_cuda *a = smx_host_alloc(sizeof *a);
  if (!a) return smx_fail(SMX_ERR_NOMEM, "attention: cannot allocate the layer");
  a->s = *s;
  int64_t P = s->d / s->heads;
  char spec[160];
  snprintf(spec, sizeof spec, "T=%lld,din=%lld,dout=%lld,bias=0", (long long)s->T, (long long)s->d, (long long)s->d);
  smx_status st = op_layer_create(&a->lin, "linear", "cuda.cublas", spec);
  snprintf(spec, sizeof spec, "B=%lld,L=%lld,H=%lld,Hkv=%lld,P=%lld", (long long)s->B, (long long)s->L,
           (long long)s->heads, (long long)s->heads, (long long)P);
  if (st == SMX_OK)
    st = op_layer_create(&a->core, "attention", P == 32 || P == 64 || P == 128 ? "cuda.flash" : "cuda.cublas", spec);
  size_t Td = (size_t)(s->T * s->d);
  if (st == SMX_OK)
    st = mixer_cuda_alloc("attention", &a->q, Td, &a->k, Td, &a->v, Td, &a->o, Td, &a->lse,
                          op_layer_numel(&a->core, ATTN_LSE), &a->dq, Td, &a->dk, Td, &a->dv, Td, &a->dproj, Td,
                          &a->dtmp, Td, (float **)NULL);
  a->rope = mixer_attention_rope(s);
  if (st == SMX_OK && a->rope) {
    mixer_spec rs;
    mixer_attention_rope_spec(s, rs);
    st = mixer_cuda_alloc("attention", &a->qp, Td, &a->kp, Td, (float **)NULL);
    if (st == SMX_OK) st = op_layer_create(&a->rot, "rope", "cuda.table", rs);
  }
  if (st != SMX_OK) {
    destroy(a);
    return st;
  }
  *out = a;
  return SMX_OK;
}

static smx_status linear(op_layer *l, smx_pass p, const float *x, const float *w, const float *dy, float *out, float *dw) {
  l->t[LIN_X] = (float *)x, l->t[LIN_W] = (float *)w;
  if (p == SMX_FWD) {
    l->t[LIN_Y] = out;
  } else {
    l->t[LIN_DY] = (float *)dy, l->t[LIN_DX] = out, l->t[LIN_DW] = dw;
  }
  return op_layer_run(l, p);
}

/* y = R x (forward) or y = R^T x (backward: x the gradient of the rotated tensor) */
static smx_status rotate(attn_cuda *a, smx_pass p, float *x, float *y) {
  a->rot.t[p == SMX_FWD ? ROPE_X : ROPE_DY] = x;
  a->rot.t[p == SMX_FWD ? ROPE_Y : ROPE_DX] = y;
  return op_layer_run(&a->rot, p);
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, float *aux) {
  (void)aux;
  attn_cuda *a = p;
  smx_status s;
  float *qp = a->rope ? a->qp : a->q, *kp = a->rope ? a->kp : a->k;
  if ((s = linear(&a->lin, SMX_FWD, x, w[WQ], NULL, qp, NULL)) || (s = linear(&a->lin, SMX_FWD, x, w[WK], NULL, kp, NULL)) ||
      (s = linear(&a->lin, SMX_FWD, x, w[WV], NULL, a->v, NULL)))
    return s;
  if (a->rope && ((s = rotate(a, SMX_FWD, qp, a->q)) || (s = rotate(a, SMX_FWD, kp, a->k)))) return s;
  op_layer *c = &a->core;
  c->t[ATTN_Q] = a->q, c->t[ATTN_K] = a->k, c->t[ATTN_V] = a->v, c->t[ATTN_O] = a->o, c->t[ATTN_LSE] = a->lse;
  if ((s = op_layer_run(c, SMX_FWD))) return s;
  return linear(&a->lin, SMX_FWD, a->o, w[WO], NULL, y, NULL);
}

/* Each weight is used once per step, so its gradient is written straight into g. */
static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  attn_cuda *a = p;
  int64_t n = a->s.T * a->s.d;
  smx_status s;
  if ((s = linear(&a->lin, SMX_BWD, a->o, w[WO], dy, a->dproj, g[WO]))) return s;
  op_layer *c = &a->core;
  c->t[ATTN_Q] = a->q, c->t[ATTN_K] = a->k, c->t[ATTN_V] = a->v, c->t[ATTN_O] = a->o, c->t[ATTN_LSE] = a->lse;
  c->t[ATTN_DO] = a->dproj, c->t[ATTN_DQ] = a->dq, c->t[ATTN_DK] = a->dk, c->t[ATTN_DV] = a->dv;
  if ((s = op_layer_run(c, SMX_BWD))) return s;
  float *dq = a->dq, *dk = a->dk;
  if (a->rope) {
    dq = a->qp, dk = a->kp;
    if ((s = rotate(a, SMX_BWD, a->dq, dq)) || (s = rotate(a, SMX_BWD, a->dk, dk))) return s;
  }
  if ((s = linear(&a->lin, SMX_BWD, x, w[WQ], dq, dx, g[WQ])) || (s = linear(&a->lin, SMX_BWD, x, w[WK], dk, a->dtmp, g[WK])) ||
      (s = smx_cuda_add(dx, a->dtmp, n)) || (s = linear(&a->lin, SMX_BWD, x, w[WV], a->dv, a->dtmp, g[WV])))
    return s;
  return smx_cuda_add(dx, a->dtmp, n);
}

const mixer_cuda_kind mixer_cuda_attention = {"attention", create, destroy, forward, backward};
