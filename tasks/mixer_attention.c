/* Sequence mixer `attention`: causal multi-head softmax attention (Zoology's MHA without the
 * q/k/v biases and dropout): q, k, v = x Wq^T, x Wk^T, x Wv^T; o = flash attention (the CPU flash
 * core of kernels/attention, the code behind `attention cpu.flash`); y = o Wo^T. Heads: the
 * model's `heads` (d must be a multiple).
 *
 *   build/tests/seqmix_tests --filter mixers/'*'
 */
#include <stdio.h>

#include "kernels/attention/cpu_flash_core.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "tasks/mixer.h"

enum { WQ, WK, WV, WO, NT };

typedef struct attn {
  mixer_shape s;
  cpu_flash *flash;
  float *q, *k, *v, *o, *lse, *dq, *dk, *dv, *dproj, *dtmp;
} attn;

static smx_status tensors(const mixer_shape *s, mixer_tensor *t, int *n) {
  if (s->heads < 1 || s->d % s->heads)
    return smx_fail(SMX_ERR_INVALID, "attention: heads %lld must divide d = %lld", (long long)s->heads, (long long)s->d);
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
  float *b[] = {a->q, a->k, a->v, a->o, a->lse, a->dq, a->dk, a->dv, a->dproj, a->dtmp};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  smx_host_free(a);
}

static smx_status create(const mixer_shape *s, void **out) {
  attn *a = smx_host_alloc(sizeof *a);
  if (!a) return smx_fail(SMX_ERR_NOMEM, "attention: cannot allocate the layer");
  a->s = *s;
  size_t Td = (size_t)(s->T * s->d);
  smx_status st = mixer_alloc("attention", &a->q, Td, &a->k, Td, &a->v, Td, &a->o, Td, &a->lse, (size_t)(s->T * s->heads),
                              &a->dq, Td, &a->dk, Td, &a->dv, Td, &a->dproj, Td, &a->dtmp, Td, (float **)NULL);
  cpu_flash_shape fs = {s->B, s->L, s->heads, s->heads, s->d / s->heads, 0};
  if (st == SMX_OK) st = cpu_flash_create(&fs, &a->flash);
  if (st != SMX_OK) {
    destroy(a);
    return st;
  }
  *out = a;
  return SMX_OK;
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, double *aux) {
  (void)aux;
  attn *a = p;
  int64_t T = a->s.T, d = a->s.d;
  smx_status s;
  if ((s = smx_linear_fwd_cpu(T, d, d, x, w[WQ], NULL, a->q)) || (s = smx_linear_fwd_cpu(T, d, d, x, w[WK], NULL, a->k)) ||
      (s = smx_linear_fwd_cpu(T, d, d, x, w[WV], NULL, a->v)))
    return s;
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
  if ((s = smx_linear_bwd_cpu(T, d, d, x, w[WQ], a->dq, dx, g[WQ], NULL)) ||
      (s = smx_linear_bwd_cpu(T, d, d, x, w[WK], a->dk, a->dtmp, g[WK], NULL)))
    return s;
  mixer_add(dx, a->dtmp, (size_t)(T * d));
  if ((s = smx_linear_bwd_cpu(T, d, d, x, w[WV], a->dv, a->dtmp, g[WV], NULL))) return s;
  mixer_add(dx, a->dtmp, (size_t)(T * d));
  return SMX_OK;
}

const mixer_kind mixer_attention = {
    .name = "attention",
    .summary = "causal softmax attention, the model's heads, q/k/v/o projections without bias (Zoology's MHA)",
    .channel = 0, .n_opts = 0, .opts = NULL,
    .tensors = tensors, .create = create, .destroy = destroy, .init = NULL, .forward = forward, .backward = backward,
};
