/* Channel mixer `mlp`: the SwiGLU MLP (the `mlp` op's CPU code, include/seqmix/model_ops.h):
 * y = (silu(x Wg^T) * (x Wu^T)) Wd^T with hidden width the model's d_ff.
 *
 *   build/tests/seqmix_tests --filter mixers/'*'
 */
#include <stdio.h>

#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "tasks/mixer.h"

enum { WG, WU, WD, NT };

typedef struct mlp {
  mixer_shape s;
  float *a, *u, *h, *work;
} mlp;

static smx_status tensors(const mixer_shape *s, mixer_tensor *t, int *n) {
  if (s->d_ff < 1 || s->d_ff > 65536) return smx_fail(SMX_ERR_INVALID, "mlp: d_ff %lld is out of range (1..65536)", (long long)s->d_ff);
  size_t dF = (size_t)(s->d * s->d_ff);
  t[WG] = (mixer_tensor){"wg", dF, MI_NORMAL, 1};
  t[WU] = (mixer_tensor){"wu", dF, MI_NORMAL, 1};
  t[WD] = (mixer_tensor){"wd", dF, MI_OUT, 1};
  *n = NT;
  return SMX_OK;
}

static void destroy(void *p) {
  mlp *m = p;
  if (!m) return;
  smx_host_free(m->a), smx_host_free(m->u), smx_host_free(m->h), smx_host_free(m->work);
  smx_host_free(m);
}

static smx_status create(const mixer_shape *s, void **out) {
  mlp *m = smx_host_alloc(sizeof *m);
  if (!m) return smx_fail(SMX_ERR_NOMEM, "mlp: cannot allocate the layer");
  m->s = *s;
  size_t TF = (size_t)(s->T * s->d_ff);
  smx_status st = mixer_alloc("mlp", &m->a, TF, &m->u, TF, &m->h, TF, &m->work, 2 * TF, (float **)NULL);
  if (st != SMX_OK) {
    destroy(m);
    return st;
  }
  *out = m;
  return SMX_OK;
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, double *aux) {
  (void)aux;
  mlp *m = p;
  return smx_mlp_fwd_cpu(m->s.T, m->s.d, m->s.d_ff, SMX_ACT_SILU, x, w[WG], w[WU], w[WD], y, m->a, m->u, m->h);
}

static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  mlp *m = p;
  return smx_mlp_bwd_cpu(m->s.T, m->s.d, m->s.d_ff, SMX_ACT_SILU, x, w[WG], w[WU], w[WD], m->a, m->u, dy, dx, g[WG], g[WU],
                         g[WD], m->work);
}

const mixer_kind mixer_mlp = {
    .name = "mlp",
    .summary = "SwiGLU MLP of hidden width d_ff (the model's --mlp)",
    .channel = 1, .n_opts = 0, .opts = NULL,
    .tensors = tensors, .create = create, .destroy = destroy, .init = NULL, .forward = forward, .backward = backward,
};
