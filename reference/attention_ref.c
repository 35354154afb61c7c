/* attention and attention_decode: the ops' definitions (parameters, tensors, FLOP and byte counts,
 * tolerances, shapes) and their references (reference/attention_tmpl.h in fp64, fp32 and mixed
 * precision). dma (reference/dma_ref.c) uses the same kernels.
 *
 *   seqmix check --op attention
 *   seqmix check --op attention_decode
 */
#include "reference/attention.h"

#include <math.h>
#include <stdlib.h>

#include "reference/attention_ref.h"
#include "reference/scratch.h"

#define T_IO double
#define T_ACC double
#define EXP exp
#define LOG log
#define FN(n) n##_f64
#include "reference/attention_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef LOG
#undef FN

#define T_IO float
#define T_ACC float
#define EXP expf
#define LOG logf
#define FN(n) n##_f32
#include "reference/attention_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef LOG
#undef FN

#define T_IO float
#define T_ACC double
#define EXP exp
#define LOG log
#define FN(n) n##_mixed
#include "reference/attention_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef LOG
#undef FN

#define SMX_ATTN_REF_DEFINE(sfx, T)                                                                                  \
  void smx_attn_fwd_##sfx(const attn_dims *d, const T *q, const T *k, const T *v, const T *bias,                    \
                          const int32_t *keep, T *o, T *lse) {                                                       \
    attn_fwd_##sfx(d, q, k, v, bias, keep, o, lse);                                                                  \
  }                                                                                                                  \
  void smx_attn_bwd_##sfx(const attn_dims *d, const T *q, const T *k, const T *v, const T *bias,                    \
                          const int32_t *keep, const T *o, const T *lse, const T *dout, T *dq, T *dk, T *dv,         \
                          T *dbias) {                                                                                \
    attn_bwd_##sfx(d, q, k, v, bias, keep, o, lse, dout, dq, dk, dv, dbias);                                         \
  }                                                                                                                  \
  void smx_attn_decode_##sfx(const attn_dims *d, int64_t S, const T *q, const T *k, const T *v, T *o) {             \
    decode_##sfx(d, S, q, k, v, o);                                                                                  \
  }
SMX_ATTN_REF_DEFINE(f64, double)
SMX_ATTN_REF_DEFINE(f32, float)
SMX_ATTN_REF_DEFINE(mixed, float)

double smx_attention_causal_pairs(int64_t L) { return 0.5 * (double)L * (double)(L + 1); }

/* ---------------------------------------------------------------------------------------------
 * attention */

static attn_dims dims_of(const smx_config *c) {
  attn_dims d = {c->v[ATTN_B], c->v[ATTN_L], c->v[ATTN_H], c->v[ATTN_HKV], c->v[ATTN_P], 0};
  d.scale = 1.0 / sqrt((double)d.P);
  return d;
}

static const smx_param_desc params[] = {
    {"B", 1, 1 << 20, 1, "batch"},
    {"L", 1, 1 << 20, 256, "sequence length"},
    {"H", 1, 1 << 12, 4, "query heads"},
    {"Hkv", 1, 1 << 12, 4, "key/value heads (divides H: grouped-query attention)"},
    {"P", 1, 512, 64, "head dimension"},
};

static const smx_tensor_desc tensors[ATTN_NSLOTS] = {
    [ATTN_Q] = {"q", SMX_ROLE_INPUT, -1, 0, 0},
    [ATTN_K] = {"k", SMX_ROLE_INPUT, -1, 0, 0},
    [ATTN_V] = {"v", SMX_ROLE_INPUT, -1, 0, 0},
    [ATTN_O] = {"o", SMX_ROLE_OUTPUT, -1, 1, 0},
    [ATTN_LSE] = {"lse", SMX_ROLE_OUTPUT, -1, 1, 1},
    [ATTN_DO] = {"do", SMX_ROLE_GRAD_OUT, ATTN_O, 0, 0},
    [ATTN_DQ] = {"dq", SMX_ROLE_GRAD_IN, ATTN_Q, 0, 0},
    [ATTN_DK] = {"dk", SMX_ROLE_GRAD_IN, ATTN_K, 0, 0},
    [ATTN_DV] = {"dv", SMX_ROLE_GRAD_IN, ATTN_V, 0, 0},
};

/* k = 2 against the naive fp32 evaluation (one exp and one P-term dot per pair, row sums over L
 * terms). The floors cover rows whose naive error is zero (L = 1: o = v_0 exactly) and the
 * order-of-summation differences of tiled variants on short rows. */
static const smx_tolerance tolerance[ATTN_NSLOTS] = {
    [ATTN_O] = {2, 8, "a convex combination of v rows: row sums of L exp-weighted terms"},
    [ATTN_LSE] = {2, 8, "max + log of a sum of L exponentials"},
    [ATTN_DQ] = {2, 16, "sum over keys of dS k; dS sums to zero over a row, so terms cancel"},
    [ATTN_DK] = {2, 16, "sum over query rows and group heads of dS q; cancelling terms"},
    [ATTN_DV] = {2, 16, "sum over query rows and group heads of P do"},
};

static smx_status validate(const smx_config *c) {
  int64_t B = c->v[ATTN_B], L = c->v[ATTN_L], H = c->v[ATTN_H], Hkv = c->v[ATTN_HKV], P = c->v[ATTN_P];
  if (H % Hkv)
    return smx_fail(SMX_ERR_INVALID, "attention Hkv=%lld must divide H=%lld (grouped-query heads)", (long long)Hkv,
                    (long long)H);
  if (B * H * P > ((int64_t)1 << 31) / L)
    return smx_fail(SMX_ERR_INVALID, "attention B*L*H*P = %lld*%lld*%lld*%lld is too large (at most 2^31 elements)",
                    (long long)B, (long long)L, (long long)H, (long long)P);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t B = c->v[ATTN_B], L = c->v[ATTN_L], H = c->v[ATTN_H], Hkv = c->v[ATTN_HKV], P = c->v[ATTN_P];
  switch (slot) {
  case ATTN_K: case ATTN_V: case ATTN_DK: case ATTN_DV: return (size_t)(B * L * Hkv * P);
  case ATTN_LSE: return (size_t)(B * H * L);
  default: return (size_t)(B * L * H * P);
  }
}

/* The causal count: 4P per visible pair forward (QK^T and PV); backward 2.5x the forward, the
 * FlashAttention benchmarks' convention (it includes recomputing QK^T), so FLOP/s compare with
 * published numbers. */
static double flops(const smx_config *c, smx_pass p) {
  double f = 4.0 * (double)c->v[ATTN_P] * smx_attention_causal_pairs(c->v[ATTN_L]) * (double)(c->v[ATTN_B] * c->v[ATTN_H]);
  return p == SMX_FWD ? f : 2.5 * f;
}

/* fp32 tensors read and written once: forward q, k, v -> o, lse; backward q, k, v, o, lse, do ->
 * dq, dk, dv. */
static double bytes(const smx_config *c, smx_pass p) {
  double nq = (double)numel(c, ATTN_Q), nk = (double)numel(c, ATTN_K), nl = (double)numel(c, ATTN_LSE);
  return 4.0 * (p == SMX_FWD ? 2 * nq + 2 * nk + nl : 4 * nq + 4 * nk + nl);
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  attn_dims d = dims_of(c);
  if (p == SMX_FWD) attn_fwd_f64(&d, t[ATTN_Q], t[ATTN_K], t[ATTN_V], NULL, NULL, t[ATTN_O], t[ATTN_LSE]);
  else
    attn_bwd_f64(&d, t[ATTN_Q], t[ATTN_K], t[ATTN_V], NULL, NULL, t[ATTN_O], t[ATTN_LSE], t[ATTN_DO], t[ATTN_DQ],
                 t[ATTN_DK], t[ATTN_DV], NULL);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  attn_dims d = dims_of(c);
  if (p == SMX_FWD) attn_fwd_f32(&d, t[ATTN_Q], t[ATTN_K], t[ATTN_V], NULL, NULL, t[ATTN_O], t[ATTN_LSE]);
  else
    attn_bwd_f32(&d, t[ATTN_Q], t[ATTN_K], t[ATTN_V], NULL, NULL, t[ATTN_O], t[ATTN_LSE], t[ATTN_DO], t[ATTN_DQ],
                 t[ATTN_DK], t[ATTN_DV], NULL);
}

/* multiply-adds of the direct reference: 2P per pair forward; backward 7P (two recomputed dot
 * pairs and three accumulations) */
static double reference_cost(const smx_config *c, smx_pass p) {
  return (p == SMX_FWD ? 2.0 : 7.0) * (double)c->v[ATTN_P] * smx_attention_causal_pairs(c->v[ATTN_L]) *
         (double)(c->v[ATTN_B] * c->v[ATTN_H]);
}

/* L = 1, 7, 97, 1025 (the odd lengths), tile-crossing 130, GQA 2:1, 3:1 and 4:1, every P
 * the CUDA kernels instantiate (32, 64, 128) and two they do not (16, 40). */
static const char *const check_shapes[] = {
    "B=1,L=1,H=1,Hkv=1,P=32",    "B=2,L=7,H=4,Hkv=2,P=64",     "B=1,L=97,H=3,Hkv=1,P=128",
    "B=1,L=130,H=2,Hkv=2,P=64",  "B=2,L=64,H=8,Hkv=2,P=32",    "B=1,L=33,H=2,Hkv=1,P=16",
    "B=1,L=20,H=1,Hkv=1,P=40",   "B=1,L=1025,H=2,Hkv=1,P=32",  NULL};
static const char *const ci_shapes[] = {"B=1,L=512,H=2,Hkv=1,P=64", "B=1,L=1024,H=2,Hkv=1,P=64", NULL};
/* quick also times dma's head shape (H=2, Hkv=1, P=64) so dma's and ssd's speedups over attention are one run's ratios */
static const char *const quick_shapes[] = {"B=1,L=1024,H=4,Hkv=4,P=64", "B=1,L=1024,H=4,Hkv=4,P=128",
                                           "B=1,L=1024,H=8,Hkv=2,P=64", "B=1,L=256,H=2,Hkv=1,P=64",
                                           "B=1,L=1024,H=2,Hkv=1,P=64", "B=1,L=4096,H=2,Hkv=1,P=64", NULL};
static const char *const paper_shapes[] = {
    "B=4,L=512,H=16,Hkv=16,P=64",   "B=4,L=1024,H=16,Hkv=16,P=64",  "B=4,L=2048,H=16,Hkv=16,P=64",
    "B=4,L=4096,H=16,Hkv=16,P=64",  "B=4,L=8192,H=16,Hkv=16,P=64",  "B=4,L=16384,H=16,Hkv=16,P=64",
    "B=2,L=512,H=16,Hkv=16,P=128",  "B=2,L=1024,H=16,Hkv=16,P=128", "B=2,L=2048,H=16,Hkv=16,P=128",
    "B=2,L=4096,H=16,Hkv=16,P=128", "B=2,L=8192,H=16,Hkv=16,P=128", "B=2,L=16384,H=16,Hkv=16,P=128",
    /* dma's paper sweep (flash-sparse-attn's head shape), for the speedup of dma over attention */
    "B=1,L=256,H=2,Hkv=1,P=64",     "B=1,L=1024,H=2,Hkv=1,P=64",    "B=1,L=4096,H=2,Hkv=1,P=64",
    "B=1,L=8192,H=2,Hkv=1,P=64",    "B=1,L=16384,H=2,Hkv=1,P=64",   "B=1,L=32768,H=2,Hkv=1,P=64",
    /* Mamba-2's width (H*P = 2048, P = 64) for ssd's crossover with attention */
    "B=8,L=512,H=32,Hkv=32,P=64",   "B=8,L=1024,H=32,Hkv=32,P=64",  "B=8,L=2048,H=32,Hkv=32,P=64",
    "B=8,L=4096,H=32,Hkv=32,P=64",  "B=8,L=8192,H=32,Hkv=32,P=64",  "B=8,L=16384,H=32,Hkv=32,P=64",
    "B=1,L=2048,H=32,Hkv=32,P=64",  "B=1,L=16384,H=32,Hkv=32,P=64",
    NULL};
static const char *const speedup_pairs[] = {"cuda.flash:cuda.cublas", "cuda.flash.bf16:cuda.cublas.bf16", NULL};

const smx_op smx_op_attention = {
    .name = "attention",
    .summary = "causal softmax attention with grouped-query heads: q (B,L,H,P), k and v (B,L,Hkv,P) -> o, lse",
    .n_params = 5,
    .params = params,
    .n_tensors = ATTN_NSLOTS,
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
    .paper_note = "FlashAttention-2's benchmark grid: B*H = 64 at P = 64 and 32 at P = 128 (it keeps B*L = 16K tokens; "
                  "here B*H is fixed so one curve is one head shape), L = 512...16K, causal; plus dma's B=1, H=2, Hkv=1, P=64 sweep and Mamba-2's width (H=32, P=64) for ssd",
    .speedup_pairs = speedup_pairs,
    .plot_tokens_per_s = 1,
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  float *const *t = (float *const *)tv;
  attn_dims d = dims_of(state);
  if (p == SMX_FWD) smx_attn_fwd_mixed(&d, t[ATTN_Q], t[ATTN_K], t[ATTN_V], NULL, NULL, t[ATTN_O], t[ATTN_LSE]);
  else
    smx_attn_bwd_mixed(&d, t[ATTN_Q], t[ATTN_K], t[ATTN_V], NULL, NULL, t[ATTN_O], t[ATTN_LSE], t[ATTN_DO], t[ATTN_DQ],
                       t[ATTN_DK], t[ATTN_DV], NULL);
  return SMX_OK;
}

const smx_variant smx_attention_reference = {
    .name = "reference",
    .summary = "direct per-row softmax in fp64 arithmetic, fp32 tensors (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};

/* ---------------------------------------------------------------------------------------------
 * attention_decode */

static attn_dims decode_dims(const smx_config *c) {
  attn_dims d = {c->v[DECODE_B], 1, c->v[DECODE_H], c->v[DECODE_HKV], c->v[DECODE_P], 0};
  d.scale = 1.0 / sqrt((double)d.P);
  return d;
}

static const smx_param_desc decode_params[] = {
    {"B", 1, 1 << 20, 1, "batch (sequences decoding one token each)"},
    {"S", 1, 1 << 22, 1024, "cache length, the new token included"},
    {"H", 1, 1 << 12, 8, "query heads"},
    {"Hkv", 1, 1 << 12, 8, "key/value heads (divides H)"},
    {"P", 1, 512, 128, "head dimension"},
};

static const smx_tensor_desc decode_tensors[DECODE_NSLOTS] = {
    [DECODE_Q] = {"q", SMX_ROLE_INPUT, -1, 0, 0},
    [DECODE_K] = {"k", SMX_ROLE_INPUT, -1, 0, 0},
    [DECODE_V] = {"v", SMX_ROLE_INPUT, -1, 0, 0},
    [DECODE_O] = {"o", SMX_ROLE_OUTPUT, -1, 0, 0},
};

static const smx_tolerance decode_tolerance[DECODE_NSLOTS] = {
    [DECODE_O] = {2, 8, "a convex combination of S cached v rows (split-K variants sum in another order)"},
};

static smx_status decode_validate(const smx_config *c) {
  int64_t B = c->v[DECODE_B], S = c->v[DECODE_S], H = c->v[DECODE_H], Hkv = c->v[DECODE_HKV], P = c->v[DECODE_P];
  if (H % Hkv)
    return smx_fail(SMX_ERR_INVALID, "attention_decode Hkv=%lld must divide H=%lld", (long long)Hkv, (long long)H);
  if (B * Hkv * P > ((int64_t)1 << 31) / S)
    return smx_fail(SMX_ERR_INVALID, "attention_decode cache B*S*Hkv*P = %lld*%lld*%lld*%lld is too large (at most 2^31 elements)",
                    (long long)B, (long long)S, (long long)Hkv, (long long)P);
  return SMX_OK;
}

static size_t decode_numel(const smx_config *c, int slot) {
  int64_t B = c->v[DECODE_B], S = c->v[DECODE_S], H = c->v[DECODE_H], Hkv = c->v[DECODE_HKV], P = c->v[DECODE_P];
  return (size_t)(slot == DECODE_K || slot == DECODE_V ? B * S * Hkv * P : B * H * P);
}

static double decode_flops(const smx_config *c, smx_pass p) {
  (void)p;
  return 4.0 * (double)(c->v[DECODE_B] * c->v[DECODE_H] * c->v[DECODE_S] * c->v[DECODE_P]);
}

/* the cache is read once (the heads of a group share it): decode is bandwidth-bound */
static double decode_bytes(const smx_config *c, smx_pass p) {
  (void)p;
  return 4.0 * (double)(decode_numel(c, DECODE_K) + decode_numel(c, DECODE_V) + 2 * decode_numel(c, DECODE_Q));
}

static void decode_oracle(const smx_config *c, smx_pass p, double *const *t) {
  attn_dims d = decode_dims(c);
  if (p == SMX_FWD) decode_f64(&d, c->v[DECODE_S], t[DECODE_Q], t[DECODE_K], t[DECODE_V], t[DECODE_O]);
}

static void decode_naive(const smx_config *c, smx_pass p, float *const *t) {
  attn_dims d = decode_dims(c);
  if (p == SMX_FWD) decode_f32(&d, c->v[DECODE_S], t[DECODE_Q], t[DECODE_K], t[DECODE_V], t[DECODE_O]);
}

static const char *const decode_check_shapes[] = {"B=1,S=1,H=1,Hkv=1,P=32", "B=2,S=7,H=4,Hkv=2,P=64",
                                                  "B=1,S=97,H=3,Hkv=1,P=128", "B=1,S=1025,H=2,Hkv=2,P=64",
                                                  "B=3,S=4100,H=8,Hkv=2,P=128", "B=1,S=50,H=2,Hkv=1,P=40", NULL};
static const char *const decode_ci[] = {"B=2,S=1024,H=32,Hkv=8,P=128", "B=2,S=4096,H=32,Hkv=8,P=128", NULL};
static const char *const decode_quick[] = {"B=4,S=1024,H=32,Hkv=8,P=128", "B=4,S=4096,H=32,Hkv=8,P=128",
                                           "B=4,S=16384,H=32,Hkv=8,P=128", "B=4,S=65536,H=32,Hkv=8,P=128", NULL};
static const char *const decode_paper[] = {"B=8,S=1024,H=32,Hkv=8,P=128",  "B=8,S=4096,H=32,Hkv=8,P=128",
                                           "B=8,S=16384,H=32,Hkv=8,P=128", "B=8,S=65536,H=32,Hkv=8,P=128",
                                           "B=1,S=65536,H=32,Hkv=8,P=128", NULL};

const smx_op smx_op_attention_decode = {
    .name = "attention_decode",
    .summary = "one decode step: q (B,H,P) against a KV cache (B,S,Hkv,P) that holds the new token",
    .n_params = 5,
    .params = decode_params,
    .n_tensors = DECODE_NSLOTS,
    .tensors = decode_tensors,
    .validate = decode_validate,
    .numel = decode_numel,
    .flops = decode_flops,
    .bytes = decode_bytes,
    .oracle_f64 = decode_oracle,
    .naive_f32 = decode_naive,
    .tolerance = decode_tolerance,
    .check_shapes = decode_check_shapes,
    .suite_shapes = {decode_ci, decode_quick, decode_paper},
    .sweep_param = "S",
    .shrink_param = "B",
    .paper_note = "a Llama-style GQA head shape (H = 32, Hkv = 8, P = 128); cache lengths 1K...64K as the issue asks",
};

static smx_status decode_ref_run(void *state, smx_pass p, void *const *tv) {
  float *const *t = (float *const *)tv;
  const smx_config *c = state;
  attn_dims d = decode_dims(c);
  if (p == SMX_FWD) smx_attn_decode_mixed(&d, c->v[DECODE_S], t[DECODE_Q], t[DECODE_K], t[DECODE_V], t[DECODE_O]);
  return SMX_OK;
}

const smx_variant smx_attention_decode_reference = {
    .name = "reference",
    .summary = "direct softmax over the cache in fp64 arithmetic, fp32 tensors (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = decode_ref_run,
};
