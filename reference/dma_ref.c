/* dma: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes) and its
 * reference: the key selection (reference/dma_select.c) then the attention reference kernels with
 * the bias and the keep-until mask (reference/attention_tmpl.h through attention_ref.h).
 *
 *   seqmix check --op dma
 */
#include "reference/dma.h"

#include <math.h>
#include <stdlib.h>

#include "reference/attention.h"
#include "reference/attention_ref.h"
#include "reference/scratch.h"

static attn_dims dims_of(const smx_config *c) {
  attn_dims d = {c->v[DMA_B], c->v[DMA_L], c->v[DMA_H], c->v[DMA_HKV], c->v[DMA_P], 0};
  d.scale = 1.0 / sqrt((double)d.P);
  return d;
}

static const smx_param_desc params[] = {
    {"B", 1, 1 << 20, 1, "batch"},
    {"L", 1, 1 << 20, 256, "sequence length"},
    {"H", 1, 1 << 12, 2, "query heads"},
    {"Hkv", 1, 1 << 12, 1, "key/value heads (divides H); the bias is per KV head"},
    {"P", 1, 512, 64, "head dimension"},
    {"w", 1, 1 << 20, 64, "keys kept: per query row (select=0) or for the whole sequence (select=1)"},
    {"select", 0, 1, 0, "0 = top-w per query row among visible keys; 1 = one top-w set shared by all rows"},
    {"ties", 0, 1, 0, "1 = biases drawn from 4 values, so the selection must break ties (checks)"},
};

static const smx_tensor_desc tensors[DMA_NSLOTS] = {
    [DMA_Q] = {"q", SMX_ROLE_INPUT, -1, 0, 0},
    [DMA_K] = {"k", SMX_ROLE_INPUT, -1, 0, 0},
    [DMA_V] = {"v", SMX_ROLE_INPUT, -1, 0, 0},
    [DMA_BIAS] = {"bias", SMX_ROLE_INPUT, -1, 0, 0},
    [DMA_O] = {"o", SMX_ROLE_OUTPUT, -1, 1, 0},
    [DMA_LSE] = {"lse", SMX_ROLE_OUTPUT, -1, 1, 1},
    [DMA_DO] = {"do", SMX_ROLE_GRAD_OUT, DMA_O, 0, 0},
    [DMA_DQ] = {"dq", SMX_ROLE_GRAD_IN, DMA_Q, 0, 0},
    [DMA_DK] = {"dk", SMX_ROLE_GRAD_IN, DMA_K, 0, 0},
    [DMA_DV] = {"dv", SMX_ROLE_GRAD_IN, DMA_V, 0, 0},
    [DMA_DBIAS] = {"dbias", SMX_ROLE_GRAD_IN, DMA_BIAS, 0, 0},
};

/* As attention's (the same sums over the kept keys); dbias sums dS over rows and group heads. */
static const smx_tolerance tolerance[DMA_NSLOTS] = {
    [DMA_O] = {2, 8, "a convex combination of the kept v rows"},
    [DMA_LSE] = {2, 8, "max + log of a sum of exponentials over the kept keys"},
    [DMA_DQ] = {2, 16, "sum over kept keys of dS k; cancelling terms"},
    [DMA_DK] = {2, 16, "sum over query rows and group heads of dS q; cancelling terms"},
    [DMA_DV] = {2, 16, "sum over query rows and group heads of P do"},
    [DMA_DBIAS] = {2, 16, "sum over query rows and group heads of dS; cancelling terms"},
};

static smx_status validate(const smx_config *c) {
  int64_t B = c->v[DMA_B], L = c->v[DMA_L], H = c->v[DMA_H], Hkv = c->v[DMA_HKV], P = c->v[DMA_P];
  if (H % Hkv)
    return smx_fail(SMX_ERR_INVALID, "dma Hkv=%lld must divide H=%lld (grouped-query heads)", (long long)Hkv,
                    (long long)H);
  if (B * H * P > ((int64_t)1 << 31) / L)
    return smx_fail(SMX_ERR_INVALID, "dma B*L*H*P = %lld*%lld*%lld*%lld is too large (at most 2^31 elements)",
                    (long long)B, (long long)L, (long long)H, (long long)P);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t B = c->v[DMA_B], L = c->v[DMA_L], H = c->v[DMA_H], Hkv = c->v[DMA_HKV], P = c->v[DMA_P];
  switch (slot) {
  case DMA_K: case DMA_V: case DMA_DK: case DMA_DV: return (size_t)(B * L * Hkv * P);
  case DMA_BIAS: case DMA_DBIAS: return (size_t)(B * Hkv * L);
  case DMA_LSE: return (size_t)(B * H * L);
  default: return (size_t)(B * L * H * P);
  }
}

/* Kept (query, key) pairs of one head. Row selection: exact. Shared selection depends on where the
 * kept keys lie; the count is the expectation for a kept set spread uniformly (w/L of every
 * causal pair), which bench.json's note says. */
static double kept_pairs(const smx_config *c) {
  int64_t L = c->v[DMA_L], w = c->v[DMA_W];
  if (c->v[DMA_SELECT] == DMA_SELECT_ROW) return smx_dma_row_pairs(L, w);
  return smx_attention_causal_pairs(L) * (double)(w < L ? w : L) / (double)L;
}

/* 4P per kept pair forward (the flash-dmattn benchmark counts kept positions only); backward 2.5x. */
static double flops(const smx_config *c, smx_pass p) {
  double f = 4.0 * (double)c->v[DMA_P] * kept_pairs(c) * (double)(c->v[DMA_B] * c->v[DMA_H]);
  return p == SMX_FWD ? f : 2.5 * f;
}

static double bytes(const smx_config *c, smx_pass p) {
  double nq = (double)numel(c, DMA_Q), nk = (double)numel(c, DMA_K), nl = (double)numel(c, DMA_LSE),
         nb = (double)numel(c, DMA_BIAS);
  return 4.0 * (p == SMX_FWD ? 2 * nq + 2 * nk + nb + nl : 4 * nq + 4 * nk + 2 * nb + nl);
}

/* ties=1: biases from {-1, -0.5, 0, 0.5}, so most selections are decided by the tie rule */
static void shape_input(const smx_config *c, int slot, float *x, size_t n) {
  if (slot != DMA_BIAS || !c->v[DMA_TIES]) return;
  for (size_t i = 0; i < n; i++) x[i] = floorf((x[i] + 1.0f) * 2.0f) * 0.5f - 1.0f;
}

static const char *fd_unusable(const smx_config *c) {
  if (c->v[DMA_TIES] && c->v[DMA_W] < c->v[DMA_L])
    return "ties=1: a perturbation reorders tied biases and so moves the detached selection";
  return NULL;
}

/* The selection of every (b, g) row of the bias; keep and heap are caller scratch. */
#define SELECT_ALL(fn, c, bias, keep, heap)                                                                          \
  do {                                                                                                               \
    int64_t L_ = (c)->v[DMA_L];                                                                                      \
    for (int64_t r_ = 0; r_ < (c)->v[DMA_B] * (c)->v[DMA_HKV]; r_++)                                                 \
      fn((bias) + r_ * L_, L_, (c)->v[DMA_W], (int)(c)->v[DMA_SELECT], (keep) + r_ * L_, heap);                      \
  } while (0)

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  attn_dims d = dims_of(c);
  int32_t *keep = smx_ref_scratch(numel(c, DMA_BIAS) * sizeof *keep), *heap = smx_ref_scratch((size_t)d.L * sizeof *heap);
  SELECT_ALL(smx_dma_keep_until_f64, c, t[DMA_BIAS], keep, heap);
  if (p == SMX_FWD) smx_attn_fwd_f64(&d, t[DMA_Q], t[DMA_K], t[DMA_V], t[DMA_BIAS], keep, t[DMA_O], t[DMA_LSE]);
  else
    smx_attn_bwd_f64(&d, t[DMA_Q], t[DMA_K], t[DMA_V], t[DMA_BIAS], keep, t[DMA_O], t[DMA_LSE], t[DMA_DO], t[DMA_DQ],
                     t[DMA_DK], t[DMA_DV], t[DMA_DBIAS]);
  free(keep);
  free(heap);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  attn_dims d = dims_of(c);
  int32_t *keep = smx_ref_scratch(numel(c, DMA_BIAS) * sizeof *keep), *heap = smx_ref_scratch((size_t)d.L * sizeof *heap);
  SELECT_ALL(smx_dma_keep_until, c, t[DMA_BIAS], keep, heap);
  if (p == SMX_FWD) smx_attn_fwd_f32(&d, t[DMA_Q], t[DMA_K], t[DMA_V], t[DMA_BIAS], keep, t[DMA_O], t[DMA_LSE]);
  else
    smx_attn_bwd_f32(&d, t[DMA_Q], t[DMA_K], t[DMA_V], t[DMA_BIAS], keep, t[DMA_O], t[DMA_LSE], t[DMA_DO], t[DMA_DQ],
                     t[DMA_DK], t[DMA_DV], t[DMA_DBIAS]);
  free(keep);
  free(heap);
}

/* The reference scans every causal pair for visibility and does the P-term work on kept ones. */
static double reference_cost(const smx_config *c, smx_pass p) {
  double bh = (double)(c->v[DMA_B] * c->v[DMA_H]);
  return bh * ((p == SMX_FWD ? 2.0 : 7.0) * (double)c->v[DMA_P] * kept_pairs(c) +
               smx_attention_causal_pairs(c->v[DMA_L]));
}

/* L = 1, 7, 97, 1025; L < w, L = w and L > w; GQA 2:1 and 3:1; P = 16, 32, 64, 128; both
 * selections, with and without ties. */
static const char *const check_shapes[] = {
    "B=1,L=1,H=1,Hkv=1,P=32,w=4",
    "B=2,L=7,H=4,Hkv=2,P=64,w=16",
    "B=1,L=97,H=3,Hkv=1,P=128,w=20",
    "B=1,L=97,H=2,Hkv=2,P=64,w=30,select=1",
    "B=1,L=130,H=2,Hkv=1,P=64,w=64,ties=1",
    "B=1,L=130,H=2,Hkv=1,P=32,w=40,select=1,ties=1",
    "B=2,L=64,H=4,Hkv=2,P=32,w=64",
    "B=1,L=33,H=2,Hkv=1,P=16,w=8",
    "B=1,L=1025,H=2,Hkv=1,P=32,w=256",
    NULL};
static const char *const ci_shapes[] = {"B=1,L=512,H=2,Hkv=1,P=64,w=128", "B=1,L=1024,H=2,Hkv=1,P=64,w=128", NULL};
static const char *const quick_shapes[] = {"B=1,L=1024,H=2,Hkv=1,P=64,w=256", "B=1,L=4096,H=2,Hkv=1,P=64,w=256",
                                           "B=1,L=4096,H=2,Hkv=1,P=64,w=1024", NULL};
static const char *const paper_shapes[] = {
    "B=1,L=256,H=2,Hkv=1,P=64,w=1024",   "B=1,L=1024,H=2,Hkv=1,P=64,w=1024", "B=1,L=4096,H=2,Hkv=1,P=64,w=1024",
    "B=1,L=8192,H=2,Hkv=1,P=64,w=1024",  "B=1,L=16384,H=2,Hkv=1,P=64,w=1024", "B=1,L=32768,H=2,Hkv=1,P=64,w=1024",
    NULL};

/* flash-sparse-attn's figure (fused sparse over SDPA with a dense bias), and DMA over plain causal
 * attention at the same head shape */
static const char *const speedup_pairs[] = {
    "cuda.flash_sparse:cuda.dense_bias",    "cuda.flash_sparse.bf16:cuda.dense_bias.bf16",
    "cuda.flash_sparse:attention/cuda.flash", "cuda.flash_sparse.bf16:attention/cuda.flash.bf16",
    "cpu.sparse:attention/cpu.flash",        NULL};

const smx_op smx_op_dma = {
    .name = "dma",
    .summary = "Dynamic Mask Attention: causal attention over the top-w keys by a per-key bias, plus that bias",
    .n_params = 8,
    .params = params,
    .n_tensors = DMA_NSLOTS,
    .tensors = tensors,
    .validate = validate,
    .numel = numel,
    .flops = flops,
    .bytes = bytes,
    .oracle_f64 = oracle_f64,
    .naive_f32 = naive_f32,
    .tolerance = tolerance,
    .check_shapes = check_shapes,
    .suite_shapes = {ci_shapes, quick_shapes, paper_shapes},
    .reference_cost = reference_cost,
    .sweep_param = "L",
    .shrink_param = "B",
    .paper_note = "flash-sparse-attn's benchmark sweep (B=1, H=2, Hkv=1, P=64, w=1024, causal); it runs bf16, the "
                  "bf16 variants here are the comparable rows; its random bias and top-w mask are drawn the same way",
    .shape_input = shape_input,
    .fd_unusable = fd_unusable,
    .speedup_pairs = speedup_pairs,
};

/* ---- the `reference` variant: selection, then fp64 arithmetic on fp32 tensors ---- */

typedef struct ref_state {
  smx_config cfg;
  int32_t *keep, *heap;
} ref_state;

static void ref_destroy(void *p) {
  ref_state *s = p;
  if (!s) return;
  free(s->keep);
  free(s->heap);
  free(s);
}

static smx_status ref_create(const smx_config *c, void **out) {
  ref_state *s = calloc(1, sizeof *s);
  *out = NULL;
  if (!s) return smx_fail(SMX_ERR_NOMEM, "dma reference: cannot allocate state");
  s->cfg = *c;
  s->keep = malloc(numel(c, DMA_BIAS) * sizeof *s->keep);
  s->heap = malloc((size_t)c->v[DMA_L] * sizeof *s->heap);
  if (!s->keep || !s->heap) {
    ref_destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "dma reference: cannot allocate the selection");
  }
  *out = s;
  return SMX_OK;
}

static size_t ref_workspace(const void *p) {
  const ref_state *s = p;
  return (numel(&s->cfg, DMA_BIAS) + (size_t)s->cfg.v[DMA_L]) * sizeof(int32_t);
}

static smx_status ref_run(void *p, smx_pass pass, void *const *tv) {
  ref_state *s = p;
  float *const *t = (float *const *)tv;
  attn_dims d = dims_of(&s->cfg);
  SELECT_ALL(smx_dma_keep_until, &s->cfg, t[DMA_BIAS], s->keep, s->heap);
  if (pass == SMX_FWD)
    smx_attn_fwd_mixed(&d, t[DMA_Q], t[DMA_K], t[DMA_V], t[DMA_BIAS], s->keep, t[DMA_O], t[DMA_LSE]);
  else
    smx_attn_bwd_mixed(&d, t[DMA_Q], t[DMA_K], t[DMA_V], t[DMA_BIAS], s->keep, t[DMA_O], t[DMA_LSE], t[DMA_DO],
                       t[DMA_DQ], t[DMA_DK], t[DMA_DV], t[DMA_DBIAS]);
  return SMX_OK;
}

const smx_variant smx_dma_reference = {
    .name = "reference",
    .summary = "heap selection, then the direct per-row softmax over kept keys in fp64 arithmetic (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = ref_create,
    .destroy = ref_destroy,
    .workspace_bytes = ref_workspace,
    .run = ref_run,
};
