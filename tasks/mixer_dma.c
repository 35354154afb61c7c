/* Sequence mixer `dma`: Dynamic Mask Attention in its Wonderful Matrices form (generation 1 of
 * docs/ops/dma.md; the anchor is LoserCheems/WonderfulMatrices src/wonderful_matrices/modules/
 * dmattn.py, class DMAttn). Heads H = the model's heads, P = d / H, one bias row per head (Hkv = H):
 *
 *   q, k, v = x Wq^T, x Wk^T, x Wv^T                                      linear
 *   bias[b, h, j] = exp(A_h softplus(<v_j, Wdt[:, h]>))    (B, H, L)      dma_bias reference, form = 1
 *   o = softmax(q k^T / sqrt(P) + bias_j over the kept keys j <= i) v     dma cpu.sparse
 *   y = o Wo^T                                                            linear
 *
 * The kept keys: dma.w = 0 (the default) or w >= L keeps every key (dmattn.py's default
 * dynamic_mask_ratio = 0: no selection); otherwise the top-w keys by bias, one set per (sequence,
 * head) shared by every query (dma.select = 1, generation 1's rule) or per query row among the
 * visible keys (dma.select = 0, generations 2 and 3). The selection is detached; the bias still
 * gets gradient through the softmax, and dma's dbias is dma_bias's output gradient, whose dv is
 * added to v's gradient from the attention.
 *
 * Departures from dmattn.py: no biases on the q, k, v, o and dt projections (nn.Linear's default
 * there; seqmix's attention kind has none either, and the dma_bias op has no dt bias); no dropout;
 * the selection keeps exactly w keys, ties to the more recent key, where dmattn.py keeps every key
 * at or above the k-th smallest bias (k = floor(L r)): ratio r corresponds to w = L - floor(L r) + 1
 * (docs/ops/dma.md). A is initialized to 1 as in dmattn.py at its published commit (torch.ones; a
 * later commit of the repository and HF Doge use 0, which makes every bias equal at the start and
 * gives Wdt no gradient on the first step). Wq, Wk, Wv, Wdt: N(0, init_std); Wo: the model's scaled
 * MI_OUT; A takes no weight decay. Wdt is stored (H P, H) as the op reads it (dt_proj's weight
 * transposed).
 *
 * Layouts: token-major (T, d) activations are the ops' (B, L, H, P) for q, k, v, o since d = H P.
 *
 *   build/tests/seqmix_tests --filter mixers/'*'
 *   build/tests/seqmix_tests --filter model_wm/'*'
 */
#include <stdio.h>

#include "reference/dma.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "tasks/mixer.h"
#include "tasks/mixer_decode.h"
#include "tasks/op_layer.h"

enum { WQ, WK, WV, WDT, A_DECAY, WO, NT };
enum { O_W, O_SELECT, NO };

static const mixer_opt opts[NO] = {
    {"w", 0, 1000000, 0, 1, "keys kept; 0 = every key (Wonderful Matrices' default ratio 0)"},
    {"select", 0, 1, 1, 1, "1 = one top-w set per sequence and head for every query (Wonderful Matrices); 0 = per query row"},
};

typedef struct dma_layer {
  mixer_shape s;
  op_layer bias_op, attn_op;
  float *q, *k, *v, *o, *lse, *bias;
  float *dproj, *dq, *dk, *dv, *dvb, *dbias, *dtmp;
} dma_layer;

static smx_status tensors(const mixer_shape *s, mixer_tensor *t, int *n) {
  if (s->heads < 1 || s->d % s->heads)
    return smx_fail(SMX_ERR_INVALID, "dma: heads %lld must divide d = %lld", (long long)s->heads, (long long)s->d);
  size_t dd = (size_t)(s->d * s->d), H = (size_t)s->heads;
  t[WQ] = (mixer_tensor){"wq", dd, MI_NORMAL, 1};
  t[WK] = (mixer_tensor){"wk", dd, MI_NORMAL, 1};
  t[WV] = (mixer_tensor){"wv", dd, MI_NORMAL, 1};
  t[WDT] = (mixer_tensor){"wdt", (size_t)s->d * H, MI_NORMAL, 1};
  t[A_DECAY] = (mixer_tensor){"A", H, MI_ONES, 0};
  t[WO] = (mixer_tensor){"wo", dd, MI_OUT, 1};
  *n = NT;
  return SMX_OK;
}

void mixer_dma_op_specs(const mixer_shape *s, mixer_spec bias, mixer_spec attn) {
  int64_t H = s->heads, P = s->d / s->heads, w = (int64_t)s->opt[O_W];
  if (w == 0 || w > s->L) w = s->L;
  snprintf(bias, MIXER_SPEC_LEN, "B=%lld,L=%lld,Hkv=%lld,P=%lld,form=%d", (long long)s->B, (long long)s->L, (long long)H,
           (long long)P, DMA_FORM_EXP);
  snprintf(attn, MIXER_SPEC_LEN, "B=%lld,L=%lld,H=%lld,Hkv=%lld,P=%lld,w=%lld,select=%d", (long long)s->B, (long long)s->L,
           (long long)H, (long long)H, (long long)P, (long long)w, s->opt[O_SELECT] != 0);
}

static void destroy(void *p) {
  dma_layer *l = p;
  if (!l) return;
  op_layer_destroy(&l->bias_op);
  op_layer_destroy(&l->attn_op);
  float *b[] = {l->q, l->k, l->v, l->o, l->lse, l->bias, l->dproj, l->dq, l->dk, l->dv, l->dvb, l->dbias, l->dtmp};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  smx_host_free(l);
}

static smx_status create(const mixer_shape *s, void **out) {
  dma_layer *l = smx_host_alloc(sizeof *l);
  if (!l) return smx_fail(SMX_ERR_NOMEM, "dma: cannot allocate the layer");
  l->s = *s;
  int64_t H = s->heads;
  size_t Td = (size_t)(s->T * s->d), TH = (size_t)(s->T * H);
  smx_status st = mixer_alloc("dma", &l->q, Td, &l->k, Td, &l->v, Td, &l->o, Td, &l->lse, TH, &l->bias, TH, &l->dproj, Td,
                              &l->dq, Td, &l->dk, Td, &l->dv, Td, &l->dvb, Td, &l->dbias, TH, &l->dtmp, Td, (float **)NULL);
  mixer_spec bias_spec, attn_spec;
  mixer_dma_op_specs(s, bias_spec, attn_spec);
  if (st == SMX_OK) st = op_layer_create(&l->bias_op, "dma_bias", "reference", bias_spec);
  if (st == SMX_OK) st = op_layer_create(&l->attn_op, "dma", "cpu.sparse", attn_spec);
  /* the token-major buffers are the ops' (B, L, H, P) and (B, H, L) tensors: check their sizes */
  if (st == SMX_OK &&
      (op_layer_numel(&l->bias_op, DMAB_V) != Td || op_layer_numel(&l->bias_op, DMAB_W) != (size_t)(s->d * H) ||
       op_layer_numel(&l->bias_op, DMAB_BIAS) != TH || op_layer_numel(&l->attn_op, DMA_Q) != Td ||
       op_layer_numel(&l->attn_op, DMA_K) != Td || op_layer_numel(&l->attn_op, DMA_BIAS) != TH ||
       op_layer_numel(&l->attn_op, DMA_LSE) != TH))
    st = smx_fail(SMX_ERR_INVALID, "dma: the dma or dma_bias op's tensor sizes differ from the layer's layout");
  if (st != SMX_OK) {
    destroy(l);
    return st;
  }
  *out = l;
  return SMX_OK;
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, double *aux) {
  (void)aux;
  dma_layer *l = p;
  int64_t T = l->s.T, d = l->s.d;
  smx_status s;
  if ((s = smx_linear_fwd_cpu(T, d, d, x, w[WQ], NULL, l->q)) || (s = smx_linear_fwd_cpu(T, d, d, x, w[WK], NULL, l->k)) ||
      (s = smx_linear_fwd_cpu(T, d, d, x, w[WV], NULL, l->v)))
    return s;
  op_layer *b = &l->bias_op;
  b->t[DMAB_V] = l->v, b->t[DMAB_W] = w[WDT], b->t[DMAB_A] = w[A_DECAY], b->t[DMAB_BIAS] = l->bias;
  if ((s = op_layer_run(b, SMX_FWD))) return s;
  op_layer *a = &l->attn_op;
  a->t[DMA_Q] = l->q, a->t[DMA_K] = l->k, a->t[DMA_V] = l->v, a->t[DMA_BIAS] = l->bias, a->t[DMA_O] = l->o,
  a->t[DMA_LSE] = l->lse;
  if ((s = op_layer_run(a, SMX_FWD))) return s;
  return smx_linear_fwd_cpu(T, d, d, l->o, w[WO], NULL, y);
}

/* smx_linear_bwd_cpu overwrites dW: each weight is used once per step and g is zero on entry. */
static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  dma_layer *l = p;
  int64_t T = l->s.T, d = l->s.d;
  smx_status s;
  if ((s = smx_linear_bwd_cpu(T, d, d, l->o, w[WO], dy, l->dproj, g[WO], NULL))) return s;
  op_layer *a = &l->attn_op;
  a->t[DMA_Q] = l->q, a->t[DMA_K] = l->k, a->t[DMA_V] = l->v, a->t[DMA_BIAS] = l->bias, a->t[DMA_O] = l->o,
  a->t[DMA_LSE] = l->lse, a->t[DMA_DO] = l->dproj, a->t[DMA_DQ] = l->dq, a->t[DMA_DK] = l->dk, a->t[DMA_DV] = l->dv,
  a->t[DMA_DBIAS] = l->dbias;
  if ((s = op_layer_run(a, SMX_BWD))) return s;
  /* the bias's gradient into its projection: dv (added to the attention's), dWdt, dA */
  op_layer *b = &l->bias_op;
  b->t[DMAB_V] = l->v, b->t[DMAB_W] = w[WDT], b->t[DMAB_A] = w[A_DECAY], b->t[DMAB_BIAS] = l->bias,
  b->t[DMAB_DBIAS] = l->dbias, b->t[DMAB_DV] = l->dvb, b->t[DMAB_DW] = g[WDT], b->t[DMAB_DA] = g[A_DECAY];
  if ((s = op_layer_run(b, SMX_BWD))) return s;
  mixer_add(l->dv, l->dvb, (size_t)(T * d));
  if ((s = smx_linear_bwd_cpu(T, d, d, x, w[WQ], l->dq, dx, g[WQ], NULL)) ||
      (s = smx_linear_bwd_cpu(T, d, d, x, w[WK], l->dk, l->dtmp, g[WK], NULL)))
    return s;
  mixer_add(dx, l->dtmp, (size_t)(T * d));
  if ((s = smx_linear_bwd_cpu(T, d, d, x, w[WV], l->dv, l->dtmp, g[WV], NULL))) return s;
  mixer_add(dx, l->dtmp, (size_t)(T * d));
  return SMX_OK;
}

const mixer_kind mixer_dma = {
    .name = "dma",
    .summary = "Dynamic Mask Attention (Wonderful Matrices): causal attention plus a per-key bias exp(A softplus(v Wdt)), "
               "optionally over the top-w keys by that bias",
    .channel = 0, .n_opts = NO, .opts = opts,
    .tensors = tensors, .create = create, .destroy = destroy, .init = NULL, .forward = forward, .backward = backward,
    /* w = 0: every key kept, so a perturbation cannot move the selection */
    .check_options = "dma.w=0",
    MIXER_DECODE_INIT(dma), /* tasks/mixer_dma_decode.c: dma.w = 0 or >= the context only */
};
