/* Sequence mixer `dma` on CUDA: the Dynamic Mask Attention layer of tasks/mixer_dma.c (same
 * tensors, options and math; see there) with the projections by linear `cuda.cublas`, the per-key
 * bias by dma_bias `cuda.direct`, and the attention by dma `cuda.flash_sparse` (head dimensions
 * 32, 64, 128; `cuda.dense_bias` otherwise). As on the CPU, the bias's gradient flows back into
 * v through dma_bias's backward and is added to the attention's dv.
 *
 *   build/tests/seqmix_tests --filter model_cuda/'*'      (needs a GPU; skipped otherwise)
 */
#include <stdio.h>

#include "reference/dma.h"
#include "reference/linear.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops_cuda.h"
#include "tasks/mixer_cuda.h"
#include "tasks/op_layer.h"

/* tasks/mixer_dma.c's tensor order */
enum { WQ, WK, WV, WDT, A_DECAY, WO };

typedef struct dma_cuda {
  mixer_shape s;
  op_layer lin, bias_op, attn_op;
  float *q, *k, *v, *o, *lse, *bias, *dproj, *dq, *dk, *dv, *dvb, *dbias, *dtmp;
} dma_cuda;

static void destroy(void *p) {
  dma_cuda *l = p;
  if (!l) return;
  op_layer_destroy(&l->lin), op_layer_destroy(&l->bias_op), op_layer_destroy(&l->attn_op);
  float *b[] = {l->q, l->k, l->v, l->o, l->lse, l->bias, l->dproj, l->dq, l->dk, l->dv, l->dvb, l->dbias, l->dtmp};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) mixer_cuda_free(b[i]);
  smx_host_free(l);
}

static smx_status create(const mixer_shape *s, void **out) {
  *out = NULL;
  if (s->heads < 1 || s->d % s->heads)
    return smx_fail(SMX_ERR_INVALID, "dma: heads %lld must divide d = %lld", (long long)s->heads, (long long)s->d);
  dma_cuda *l = smx_host_alloc(sizeof *l);
  if (!l) return smx_fail(SMX_ERR_NOMEM, "dma: cannot allocate the layer");
  l->s = *s;
  int64_t H = s->heads, P = s->d / s->heads;
  char spec[192];
  snprintf(spec, sizeof spec, "T=%lld,din=%lld,dout=%lld,bias=0", (long long)s->T, (long long)s->d, (long long)s->d);
  smx_status st = op_layer_create(&l->lin, "linear", "cuda.cublas", spec);
  mixer_spec bias_spec, attn_spec;
  mixer_dma_op_specs(s, bias_spec, attn_spec);
  if (st == SMX_OK) st = op_layer_create(&l->bias_op, "dma_bias", "cuda.direct", bias_spec);
  if (st == SMX_OK)
    st = op_layer_create(&l->attn_op, "dma", P == 32 || P == 64 || P == 128 ? "cuda.flash_sparse" : "cuda.dense_bias", attn_spec);
  size_t Td = (size_t)(s->T * s->d), TH = (size_t)(s->T * H);
  if (st == SMX_OK)
    st = mixer_cuda_alloc("dma", &l->q, Td, &l->k, Td, &l->v, Td, &l->o, Td, &l->lse, TH, &l->bias, TH, &l->dproj, Td,
                          &l->dq, Td, &l->dk, Td, &l->dv, Td, &l->dvb, Td, &l->dbias, TH, &l->dtmp, Td, (float **)NULL);
  if (st != SMX_OK) {
    destroy(l);
    return st;
  }
  *out = l;
  return SMX_OK;
}

static smx_status lin_fwd(dma_cuda *l, const float *x, const float *w, float *y) {
  l->lin.t[LIN_X] = (float *)x, l->lin.t[LIN_W] = (float *)w, l->lin.t[LIN_Y] = y;
  return op_layer_run(&l->lin, SMX_FWD);
}

static smx_status lin_bwd(dma_cuda *l, const float *x, const float *w, const float *dy, float *dx, float *dw) {
  op_layer *o = &l->lin;
  o->t[LIN_X] = (float *)x, o->t[LIN_W] = (float *)w, o->t[LIN_DY] = (float *)dy, o->t[LIN_DX] = dx, o->t[LIN_DW] = dw;
  return op_layer_run(o, SMX_BWD);
}

static void attn_inputs(dma_cuda *l) {
  op_layer *a = &l->attn_op;
  a->t[DMA_Q] = l->q, a->t[DMA_K] = l->k, a->t[DMA_V] = l->v, a->t[DMA_BIAS] = l->bias, a->t[DMA_O] = l->o;
  a->t[DMA_LSE] = l->lse;
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, float *aux) {
  (void)aux;
  dma_cuda *l = p;
  smx_status s;
  if ((s = lin_fwd(l, x, w[WQ], l->q)) || (s = lin_fwd(l, x, w[WK], l->k)) || (s = lin_fwd(l, x, w[WV], l->v))) return s;
  op_layer *b = &l->bias_op;
  b->t[DMAB_V] = l->v, b->t[DMAB_W] = w[WDT], b->t[DMAB_A] = w[A_DECAY], b->t[DMAB_BIAS] = l->bias;
  if ((s = op_layer_run(b, SMX_FWD))) return s;
  attn_inputs(l);
  if ((s = op_layer_run(&l->attn_op, SMX_FWD))) return s;
  return lin_fwd(l, l->o, w[WO], y);
}

/* Each weight is used once per step: its gradient is written straight into g (zero on entry). */
static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  dma_cuda *l = p;
  int64_t n = l->s.T * l->s.d;
  smx_status s;
  if ((s = lin_bwd(l, l->o, w[WO], dy, l->dproj, g[WO]))) return s;
  attn_inputs(l);
  op_layer *a = &l->attn_op;
  a->t[DMA_DO] = l->dproj, a->t[DMA_DQ] = l->dq, a->t[DMA_DK] = l->dk, a->t[DMA_DV] = l->dv, a->t[DMA_DBIAS] = l->dbias;
  if ((s = op_layer_run(a, SMX_BWD))) return s;
  op_layer *b = &l->bias_op;
  b->t[DMAB_V] = l->v, b->t[DMAB_W] = w[WDT], b->t[DMAB_A] = w[A_DECAY], b->t[DMAB_BIAS] = l->bias;
  b->t[DMAB_DBIAS] = l->dbias, b->t[DMAB_DV] = l->dvb, b->t[DMAB_DW] = g[WDT], b->t[DMAB_DA] = g[A_DECAY];
  if ((s = op_layer_run(b, SMX_BWD)) || (s = smx_cuda_add(l->dv, l->dvb, n)) || (s = lin_bwd(l, x, w[WQ], l->dq, dx, g[WQ])) ||
      (s = lin_bwd(l, x, w[WK], l->dk, l->dtmp, g[WK])) || (s = smx_cuda_add(dx, l->dtmp, n)) ||
      (s = lin_bwd(l, x, w[WV], l->dv, l->dtmp, g[WV])))
    return s;
  return smx_cuda_add(dx, l->dtmp, n);
}

const mixer_cuda_kind mixer_cuda_dma = {"dma", create, destroy, forward, backward};
