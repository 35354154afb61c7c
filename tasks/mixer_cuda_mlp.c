/* Channel mixer `mlp` on CUDA: the SwiGLU MLP of tasks/mixer_mlp.c by the mlp op's `cuda.cublas`
 * variant (cuBLAS sgemm, no TF32). Its backward recomputes the gate and up projections (the op's
 * contract: a backward does not rely on a previous forward), so the layer keeps no activations.
 *
 *   build/tests/seqmix_tests --filter model_cuda/'*'      (needs a GPU; skipped otherwise)
 */
#include <stdio.h>

#include "reference/mlp.h"
#include "seqmix/buffer.h"
#include "tasks/mixer_cuda.h"
#include "tasks/op_layer.h"

enum { WG, WU, WD };

typedef struct mlp_cuda {
  op_layer op;
} mlp_cuda;

static void destroy(void *p) {
  mlp_cuda *m = p;
  if (!m) return;
  op_layer_destroy(&m->op);
  smx_host_free(m);
}

static smx_status create(const mixer_shape *s, void **out) {
  *out = NULL;
  mlp_cuda *m = smx_host_alloc(sizeof *m);
  if (!m) return smx_fail(SMX_ERR_NOMEM, "mlp: cannot allocate the layer");
  char spec[128];
  snprintf(spec, sizeof spec, "T=%lld,d=%lld,F=%lld,act=0", (long long)s->T, (long long)s->d, (long long)s->d_ff);
  smx_status st = op_layer_create(&m->op, "mlp", "cuda.cublas", spec);
  if (st != SMX_OK) {
    destroy(m);
    return st;
  }
  *out = m;
  return SMX_OK;
}

static void weights(op_layer *l, float *const *w, const float *x) {
  l->t[MLP_X] = (float *)x, l->t[MLP_WG] = w[WG], l->t[MLP_WU] = w[WU], l->t[MLP_WD] = w[WD];
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, float *aux) {
  (void)aux;
  mlp_cuda *m = p;
  weights(&m->op, w, x);
  m->op.t[MLP_Y] = y;
  return op_layer_run(&m->op, SMX_FWD);
}

static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  mlp_cuda *m = p;
  weights(&m->op, w, x);
  m->op.t[MLP_DY] = (float *)dy, m->op.t[MLP_DX] = dx;
  m->op.t[MLP_DWG] = g[WG], m->op.t[MLP_DWU] = g[WU], m->op.t[MLP_DWD] = g[WD];
  return op_layer_run(&m->op, SMX_BWD);
}

const mixer_cuda_kind mixer_cuda_mlp = {"mlp", create, destroy, forward, backward};
