/* Sequence mixer `conba` on CUDA: the layer of tasks/mixer_conba.c (the conba op is the whole
 * layer, its fifteen weights the model's tensors in slot order) run by `conba cuda.scan`, whose
 * backward writes dx and every weight's gradient.
 *
 *   build/tests/seqmix_tests --filter model_cuda/'*'      (needs a GPU; skipped otherwise)
 */
#include "reference/conba.h"
#include "seqmix/buffer.h"
#include "tasks/mixer_cuda.h"
#include "tasks/op_layer.h"

typedef struct conba_cuda {
  op_layer op;
} conba_cuda;

static void destroy(void *p) {
  conba_cuda *c = p;
  if (!c) return;
  op_layer_destroy(&c->op);
  smx_host_free(c);
}

static smx_status create(const mixer_shape *s, void **out) {
  *out = NULL;
  conba_cuda *c = smx_host_alloc(sizeof *c);
  if (!c) return smx_fail(SMX_ERR_NOMEM, "conba: cannot allocate the layer");
  char spec[256];
  mixer_conba_op_spec(s, spec, sizeof spec);
  smx_status st = op_layer_create(&c->op, "conba", "cuda.scan", spec);
  if (st != SMX_OK) {
    destroy(c);
    return st;
  }
  *out = c;
  return SMX_OK;
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, float *aux) {
  (void)aux;
  conba_cuda *c = p;
  c->op.t[CONBA_X] = (float *)x;
  for (int i = 0; i < CW_COUNT; i++) c->op.t[CONBA_W0 + i] = w[i];
  c->op.t[CONBA_O] = y;
  return op_layer_run(&c->op, SMX_FWD);
}

static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  conba_cuda *c = p;
  c->op.t[CONBA_X] = (float *)x;
  for (int i = 0; i < CW_COUNT; i++) c->op.t[CONBA_W0 + i] = w[i], c->op.t[CONBA_DW0 + i] = g[i];
  c->op.t[CONBA_DO] = (float *)dy;
  c->op.t[CONBA_DX] = dx;
  return op_layer_run(&c->op, SMX_BWD);
}

const mixer_cuda_kind mixer_cuda_conba = {"conba", create, destroy, forward, backward};
