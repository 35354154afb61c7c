/* Channel mixers `moe` and `cdmoe` on CUDA: the layers of tasks/mixer_moe.c and tasks/mixer_cdmoe.c
 * (same tensors, options and op configuration, from mixer_moe_op_spec / mixer_cdmoe_op_spec) run
 * by the ops' CUDA variants, moe `cuda.grouped` and cdmoe `cuda.pk`. moe's load-balancing loss
 * stays on the device: the forward adds weight * aux to the model's accumulator, and the backward's
 * d(loss)/d(aux) = weight is written once into the op's daux slot.
 *
 *   build/tests/seqmix_tests --filter model_cuda/'*'      (needs a GPU; skipped otherwise)
 */
#include "core/gpu.h"
#include "reference/cdmoe.h"
#include "reference/moe.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops_cuda.h"
#include "tasks/mixer_cuda.h"
#include "tasks/op_layer.h"

/* the CPU kinds' tensor order: moe wr, wg, wu, wd [, sg, su, sd]; cdmoe r, down, up [, sg, su, sd] */
typedef struct moe_cuda {
  op_layer op;
  int cd; /* 1: cdmoe */
  int shared;
  float weight;
} moe_cuda;

static void destroy(void *p) {
  moe_cuda *m = p;
  if (!m) return;
  op_layer_destroy(&m->op);
  smx_host_free(m);
}

static smx_status create_kind(const mixer_shape *s, int cd, void **out) {
  *out = NULL;
  moe_cuda *m = smx_host_alloc(sizeof *m);
  if (!m) return smx_fail(SMX_ERR_NOMEM, "%s: cannot allocate the layer", cd ? "cdmoe" : "moe");
  m->cd = cd;
  char spec[192];
  if (cd) mixer_cdmoe_op_spec(s, spec, sizeof spec, &m->shared);
  else mixer_moe_op_spec(s, spec, sizeof spec, &m->shared, &m->weight);
  smx_status st = op_layer_create(&m->op, cd ? "cdmoe" : "moe", cd ? "cuda.pk" : "cuda.grouped", spec);
  if (st == SMX_OK && !cd) {
    float *daux = op_layer_own(&m->op, MOE_DAUX);
    st = daux ? smx_gpu_memcpy_h2d(daux, &m->weight, sizeof m->weight)
              : smx_fail(SMX_ERR_NOMEM, "moe: cannot allocate the op's buffers");
  }
  if (st != SMX_OK) {
    destroy(m);
    return st;
  }
  *out = m;
  return SMX_OK;
}

static smx_status create_moe(const mixer_shape *s, void **out) { return create_kind(s, 0, out); }
static smx_status create_cdmoe(const mixer_shape *s, void **out) { return create_kind(s, 1, out); }

/* the slots of the CPU kind's tensor j in the op: input, and its gradient */
static const int moe_in[] = {MOE_WR, MOE_WG, MOE_WU, MOE_WD, MOE_SG, MOE_SU, MOE_SD};
static const int moe_grad[] = {MOE_DWR, MOE_DWG, MOE_DWU, MOE_DWD, MOE_DSG, MOE_DSU, MOE_DSD};
static const int cd_in[] = {CD_R, CD_DOWN, CD_UP, CD_SG, CD_SU, CD_SD};
static const int cd_grad[] = {CD_DR, CD_DDOWN, CD_DUP, CD_DSG, CD_DSU, CD_DSD};

static void weights(moe_cuda *m, float *const *w, const float *x) {
  int n = (m->cd ? 3 : 4) + (m->shared ? 3 : 0);
  m->op.t[m->cd ? CD_X : MOE_X] = (float *)x;
  for (int j = 0; j < n; j++) m->op.t[m->cd ? cd_in[j] : moe_in[j]] = w[j];
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, float *aux) {
  moe_cuda *m = p;
  weights(m, w, x);
  m->op.t[m->cd ? CD_Y : MOE_Y] = y;
  smx_status s = op_layer_run(&m->op, SMX_FWD);
  if (s != SMX_OK || m->cd) return s;
  return smx_cuda_axpy(1, m->weight, op_layer_own(&m->op, MOE_AUX), aux);
}

static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  moe_cuda *m = p;
  weights(m, w, x);
  int n = (m->cd ? 3 : 4) + (m->shared ? 3 : 0);
  m->op.t[m->cd ? CD_DY : MOE_DY] = (float *)dy, m->op.t[m->cd ? CD_DX : MOE_DX] = dx;
  for (int j = 0; j < n; j++) m->op.t[m->cd ? cd_grad[j] : moe_grad[j]] = g[j];
  return op_layer_run(&m->op, SMX_BWD);
}

const mixer_cuda_kind mixer_cuda_moe = {"moe", create_moe, destroy, forward, backward};
const mixer_cuda_kind mixer_cuda_cdmoe = {"cdmoe", create_cdmoe, destroy, forward, backward};
