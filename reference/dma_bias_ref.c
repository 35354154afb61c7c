/* dma_bias: the op's definition and reference: DMA's per-key bias from the value states
 * (reference/dma.h). fp64 oracle, fp32 naive, and the mixed `reference` variant share one body.
 *
 *   seqmix check --op dma_bias
 */
#include <math.h>
#include <stdlib.h>

#include "reference/dma.h"
#include "reference/scratch.h"

#define T_IO double
#define T_ACC double
#define EXP exp
#define LOG1P log1p
#define FN(n) n##_f64
#include "reference/dma_bias_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef LOG1P
#undef FN

#define T_IO float
#define T_ACC float
#define EXP expf
#define LOG1P log1pf
#define FN(n) n##_f32
#include "reference/dma_bias_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef LOG1P
#undef FN

#define T_IO float
#define T_ACC double
#define EXP exp
#define LOG1P log1p
#define FN(n) n##_mixed
#include "reference/dma_bias_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef LOG1P
#undef FN

static const smx_param_desc params[] = {
    {"B", 1, 1 << 20, 1, "batch"},
    {"L", 1, 1 << 24, 256, "sequence length"},
    {"Hkv", 1, 1 << 10, 1, "key/value heads: one bias row per KV head"},
    {"P", 1, 512, 64, "head dimension"},
    {"form", 0, 1, 0, "0 = A*softplus(V W) (flash-sparse-attn, log space); 1 = exp(A*softplus(V W)) (Wonderful Matrices)"},
};

static const smx_tensor_desc tensors[DMAB_NSLOTS] = {
    [DMAB_V] = {"v", SMX_ROLE_INPUT, -1, 0, 0},
    [DMAB_W] = {"W", SMX_ROLE_INPUT, -1, 0, 0},
    [DMAB_A] = {"A", SMX_ROLE_INPUT, -1, 0, 0},
    [DMAB_BIAS] = {"bias", SMX_ROLE_OUTPUT, -1, 0, 0},
    [DMAB_DBIAS] = {"dbias", SMX_ROLE_GRAD_OUT, DMAB_BIAS, 0, 0},
    [DMAB_DV] = {"dv", SMX_ROLE_GRAD_IN, DMAB_V, 0, 0},
    [DMAB_DW] = {"dW", SMX_ROLE_GRAD_IN, DMAB_W, 0, 0},
    [DMAB_DA] = {"dA", SMX_ROLE_GRAD_IN, DMAB_A, 0, 0},
};

static const smx_tolerance tolerance[DMAB_NSLOTS] = {
    [DMAB_BIAS] = {2, 8, "a Hkv*P-term dot, softplus and (form 1) exp"},
    [DMAB_DV] = {2, 8, "a Hkv-term sum per element"},
    [DMAB_DW] = {2, 16, "a sum over B*L tokens of signed terms"},
    [DMAB_DA] = {2, 16, "a sum over B*L tokens"},
};

static smx_status validate(const smx_config *c) {
  int64_t B = c->v[DMAB_B], L = c->v[DMAB_L], Hkv = c->v[DMAB_HKV], P = c->v[DMAB_P];
  if (B * Hkv * P > ((int64_t)1 << 31) / L)
    return smx_fail(SMX_ERR_INVALID, "dma_bias B*L*Hkv*P = %lld*%lld*%lld*%lld is too large (at most 2^31 elements)",
                    (long long)B, (long long)L, (long long)Hkv, (long long)P);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t B = c->v[DMAB_B], L = c->v[DMAB_L], Hkv = c->v[DMAB_HKV], P = c->v[DMAB_P];
  switch (slot) {
  case DMAB_V: case DMAB_DV: return (size_t)(B * L * Hkv * P);
  case DMAB_W: case DMAB_DW: return (size_t)(Hkv * P * Hkv);
  case DMAB_A: case DMAB_DA: return (size_t)Hkv;
  default: return (size_t)(B * Hkv * L);
  }
}

/* the projection dominates: 2 C Hkv per token forward, twice that backward (dv and dW) */
static double flops(const smx_config *c, smx_pass p) {
  double f = 2.0 * (double)(c->v[DMAB_B] * c->v[DMAB_L]) * (double)(c->v[DMAB_HKV] * c->v[DMAB_P] * c->v[DMAB_HKV]);
  return p == SMX_FWD ? f : 2 * f;
}

static double bytes(const smx_config *c, smx_pass p) {
  double nv = (double)numel(c, DMAB_V), nw = (double)numel(c, DMAB_W), nb = (double)numel(c, DMAB_BIAS);
  return 4.0 * (p == SMX_FWD ? nv + nw + nb : 2 * nv + 2 * nw + nb);
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  if (p == SMX_FWD) bias_fwd_f64(c, t[DMAB_V], t[DMAB_W], t[DMAB_A], t[DMAB_BIAS]);
  else bias_bwd_f64(c, t[DMAB_V], t[DMAB_W], t[DMAB_A], t[DMAB_DBIAS], t[DMAB_DV], t[DMAB_DW], t[DMAB_DA]);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  if (p == SMX_FWD) bias_fwd_f32(c, t[DMAB_V], t[DMAB_W], t[DMAB_A], t[DMAB_BIAS]);
  else bias_bwd_f32(c, t[DMAB_V], t[DMAB_W], t[DMAB_A], t[DMAB_DBIAS], t[DMAB_DV], t[DMAB_DW], t[DMAB_DA]);
}

static const char *const check_shapes[] = {"B=1,L=1,Hkv=1,P=8",        "B=2,L=7,Hkv=2,P=16,form=1",
                                           "B=1,L=97,Hkv=1,P=64",       "B=1,L=97,Hkv=3,P=32,form=1",
                                           "B=2,L=130,Hkv=4,P=64",      NULL};
static const char *const ci_shapes[] = {"B=1,L=4096,Hkv=1,P=64", NULL};
static const char *const quick_shapes[] = {"B=1,L=4096,Hkv=1,P=64", "B=1,L=32768,Hkv=1,P=64",
                                           "B=1,L=32768,Hkv=8,P=128", NULL};
static const char *const paper_shapes[] = {"B=1,L=32768,Hkv=1,P=64", "B=8,L=32768,Hkv=8,P=128", NULL};

const smx_op smx_op_dma_bias = {
    .name = "dma_bias",
    .summary = "DMA's per-key bias from the value states: A*softplus(V W) or exp of it, (B,L,Hkv,P) -> (B,Hkv,L)",
    .n_params = 5,
    .params = params,
    .n_tensors = DMAB_NSLOTS,
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
    .sweep_param = "L",
    .shrink_param = "B",
    .paper_note = "the bias of the flash-sparse-attn sweep (Hkv = 1, P = 64) and of a GQA model layer (Hkv = 8, P = 128)",
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  float *const *t = (float *const *)tv;
  const smx_config *c = state;
  if (p == SMX_FWD) bias_fwd_mixed(c, t[DMAB_V], t[DMAB_W], t[DMAB_A], t[DMAB_BIAS]);
  else bias_bwd_mixed(c, t[DMAB_V], t[DMAB_W], t[DMAB_A], t[DMAB_DBIAS], t[DMAB_DV], t[DMAB_DW], t[DMAB_DA]);
  return SMX_OK;
}

const smx_variant smx_dma_bias_reference = {
    .name = "reference",
    .summary = "direct dot products and softplus in fp64 arithmetic, fp32 tensors (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};
