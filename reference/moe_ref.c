/* moe and moe_router: the ops' definitions (parameters, tensors, FLOP and byte counts, tolerances,
 * shapes) and their references (reference/moe_tmpl.h in fp64, fp32 and mixed precision), plus the
 * top-k in the documented total order that every moe and cdmoe variant uses.
 *
 *   seqmix check --op moe
 *   seqmix check --op moe_router
 */
#include "reference/moe.h"

#include <math.h>
#include <stdlib.h>

#include "reference/scratch.h"

typedef struct moe_dims {
  int64_t T, d, E, k, F, S;
  int renorm;
} moe_dims;

/* ---- top-k: an insertion into the sorted list of the best k seen so far ---- */

#define DEFINE_TOPK(NAME, TS)                                                                                        \
  void NAME(const TS *s, const int32_t *id, int64_t n, int64_t k, int32_t *out) {                                   \
    int64_t m = 0;                                                                                                   \
    for (int64_t i = 0; i < n; i++) {                                                                                \
      TS v = s[i];                                                                                                   \
      int32_t vi = id ? id[i] : (int32_t)i;                                                                          \
      /* beats(a, b): score a > score b, or equal scores and id a < id b */                                          \
      int64_t p = m;                                                                                                 \
      while (p > 0) {                                                                                                \
        TS w = s[out[p - 1]];                                                                                        \
        int32_t wi = id ? id[out[p - 1]] : out[p - 1];                                                               \
        if (v > w || (v == w && vi < wi)) p--;                                                                       \
        else break;                                                                                                  \
      }                                                                                                              \
      if (p >= k) continue;                                                                                          \
      int64_t last = m < k ? m : k - 1;                                                                              \
      for (int64_t q = last; q > p; q--) out[q] = out[q - 1];                                                        \
      out[p] = (int32_t)i;                                                                                           \
      if (m < k) m++;                                                                                                \
    }                                                                                                                \
  }

DEFINE_TOPK(smx_moe_topk_f32, float)
DEFINE_TOPK(smx_moe_topk_f64, double)

void smx_moe_quantize(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = floorf((x[i] + 1.0f) * 2.0f) * 0.5f - 1.0f;
}

/* ---- the references ---- */

#define T_IO double
#define T_ACC double
#define EXP exp
#define TOPK smx_moe_topk_f64
#define FN(n) n##_f64
#include "reference/moe_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef TOPK
#undef FN

#define T_IO float
#define T_ACC float
#define EXP expf
#define TOPK smx_moe_topk_f32
#define FN(n) n##_f32
#include "reference/moe_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef TOPK
#undef FN

#define T_IO float
#define T_ACC double
#define EXP exp
#define TOPK smx_moe_topk_f64
#define FN(n) n##_mixed
#include "reference/moe_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef TOPK
#undef FN

/* ---------------------------------------------------------------------------------------------
 * moe */

static moe_dims dims_of(const smx_config *c) {
  moe_dims d = {c->v[MOE_T], c->v[MOE_D], c->v[MOE_E], c->v[MOE_K], c->v[MOE_F], c->v[MOE_S],
                (int)c->v[MOE_RENORM]};
  return d;
}

double smx_moe_param_bytes(const smx_config *c) {
  double D = (double)c->v[MOE_D], E = (double)c->v[MOE_E];
  if (c->op == &smx_op_moe_router) return 4.0 * D * E;
  return 4.0 * (D * E + 3.0 * E * D * (double)c->v[MOE_F] + 3.0 * D * (double)c->v[MOE_S]);
}

static const smx_param_desc params[] = {
    {"T", 1, 1 << 20, 1024, "tokens (batch x sequence, flattened)"},
    {"d", 1, 8192, 512, "model width"},
    {"E", 1, 1 << 16, 64, "experts"},
    {"k", 1, 1 << 16, 2, "experts per token (at most E)"},
    {"F", 1, 1 << 16, 64, "expert GLU width (d_ff of one expert)"},
    {"S", 0, 1 << 16, 1024, "shared expert GLU width (0 = no shared expert)"},
    {"renorm", 0, 1, 0, "1 = gates renormalized over the selected experts (softmax over their logits)"},
    {"ties", 0, 2, 0, "1 = x and router from {-1,-.5,0,.5} (exact, tied logits); 2 = zero router (all tied)"},
};

static const smx_tensor_desc tensors[MOE_NSLOTS] = {
    [MOE_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},       [MOE_WR] = {"wr", SMX_ROLE_INPUT, -1, 0, 0},
    [MOE_WG] = {"wg", SMX_ROLE_INPUT, -1, 0, 0},     [MOE_WU] = {"wu", SMX_ROLE_INPUT, -1, 0, 0},
    [MOE_WD] = {"wd", SMX_ROLE_INPUT, -1, 0, 0},     [MOE_SG] = {"sg", SMX_ROLE_INPUT, -1, 0, 0},
    [MOE_SU] = {"su", SMX_ROLE_INPUT, -1, 0, 0},     [MOE_SD] = {"sd", SMX_ROLE_INPUT, -1, 0, 0},
    [MOE_Y] = {"y", SMX_ROLE_OUTPUT, -1, 0, 0},      [MOE_AUX] = {"aux", SMX_ROLE_OUTPUT, -1, 0, 0},
    [MOE_DY] = {"dy", SMX_ROLE_GRAD_OUT, MOE_Y, 0, 0}, [MOE_DAUX] = {"daux", SMX_ROLE_GRAD_OUT, MOE_AUX, 0, 0},
    [MOE_DX] = {"dx", SMX_ROLE_GRAD_IN, MOE_X, 0, 0},  [MOE_DWR] = {"dwr", SMX_ROLE_GRAD_IN, MOE_WR, 0, 0},
    [MOE_DWG] = {"dwg", SMX_ROLE_GRAD_IN, MOE_WG, 0, 0}, [MOE_DWU] = {"dwu", SMX_ROLE_GRAD_IN, MOE_WU, 0, 0},
    [MOE_DWD] = {"dwd", SMX_ROLE_GRAD_IN, MOE_WD, 0, 0}, [MOE_DSG] = {"dsg", SMX_ROLE_GRAD_IN, MOE_SG, 0, 0},
    [MOE_DSU] = {"dsu", SMX_ROLE_GRAD_IN, MOE_SU, 0, 0}, [MOE_DSD] = {"dsd", SMX_ROLE_GRAD_IN, MOE_SD, 0, 0},
};

/* k = 2 against the naive fp32 evaluation; the floors cover outputs whose naive error happens to
 * be zero (E = 1, exact tied inputs) and the other summation orders of the blocked variants. */
static const smx_tolerance tolerance[MOE_NSLOTS] = {
    [MOE_Y] = {2, 16, "shared GLU + k gated GLUs: d- and F-term dot products, an E-term softmax"},
    [MOE_AUX] = {2, 16, "E products of a routed fraction and a mean of T probabilities"},
    [MOE_DX] = {2, 32, "sums of the router's E-term and each GLU's F-term back-products; softmax gradients cancel"},
    [MOE_DWR] = {2, 32, "sums over T tokens of x dl; dl, a softmax gradient, sums to zero over experts"},
    [MOE_DWG] = {2, 16, "sums over the expert's tokens of x da"},
    [MOE_DWU] = {2, 16, "sums over the expert's tokens of x db"},
    [MOE_DWD] = {2, 16, "sums over the expert's tokens of h g dy"},
    [MOE_DSG] = {2, 16, "sums over T tokens of x da"},
    [MOE_DSU] = {2, 16, "sums over T tokens of x db"},
    [MOE_DSD] = {2, 16, "sums over T tokens of h dy"},
};

static smx_status check_sizes(const char *op, int64_t T, int64_t D, int64_t E, int64_t k) {
  if (k > E)
    return smx_fail(SMX_ERR_INVALID, "%s k=%lld must be at most E=%lld (experts chosen per token out of E)", op,
                    (long long)k, (long long)E);
  if (T * D > ((int64_t)1 << 31) || T * E > ((int64_t)1 << 31) || T * k > ((int64_t)1 << 31))
    return smx_fail(SMX_ERR_INVALID, "%s T=%lld is too large for d=%lld, E=%lld (at most 2^31 elements per tensor)",
                    op, (long long)T, (long long)D, (long long)E);
  return SMX_OK;
}

static smx_status validate(const smx_config *c) {
  smx_status s = check_sizes("moe", c->v[MOE_T], c->v[MOE_D], c->v[MOE_E], c->v[MOE_K]);
  if (s != SMX_OK) return s;
  if (c->v[MOE_E] * c->v[MOE_D] * c->v[MOE_F] > ((int64_t)1 << 31) || c->v[MOE_D] * c->v[MOE_S] > ((int64_t)1 << 31))
    return smx_fail(SMX_ERR_INVALID, "moe E*d*F = %lld*%lld*%lld is too large (at most 2^31 elements)",
                    (long long)c->v[MOE_E], (long long)c->v[MOE_D], (long long)c->v[MOE_F]);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t T = c->v[MOE_T], D = c->v[MOE_D], E = c->v[MOE_E], F = c->v[MOE_F], S = c->v[MOE_S];
  switch (slot) {
  case MOE_X: case MOE_Y: case MOE_DY: case MOE_DX: return (size_t)(T * D);
  case MOE_WR: case MOE_DWR: return (size_t)(D * E);
  case MOE_WG: case MOE_WU: case MOE_WD: case MOE_DWG: case MOE_DWU: case MOE_DWD: return (size_t)(E * D * F);
  case MOE_SG: case MOE_SU: case MOE_SD: case MOE_DSG: case MOE_DSU: case MOE_DSD: return (size_t)(D * S);
  default: return 1; /* aux, daux */
  }
}

/* Multiply-adds of the forward: the router GEMM, k GLUs of width F per token, the shared GLU. */
static double fwd_macs(const smx_config *c) {
  double T = (double)c->v[MOE_T], D = (double)c->v[MOE_D];
  return T * D * ((double)c->v[MOE_E] + 3.0 * (double)c->v[MOE_K] * (double)c->v[MOE_F] + 3.0 * (double)c->v[MOE_S]);
}

/* 2 flops per multiply-add; backward twice the forward (a gradient for each operand of each product). */
static double flops(const smx_config *c, smx_pass p) { return (p == SMX_FWD ? 2.0 : 4.0) * fwd_macs(c); }

/* Forward reads x and every parameter and writes y; backward reads them and dy and writes a
 * gradient of each (a sparse layer touches only the selected experts' rows, but the gradient
 * tensors are dense). */
static double bytes(const smx_config *c, smx_pass p) {
  double act = 4.0 * (double)numel(c, MOE_X), par = smx_moe_param_bytes(c);
  return p == SMX_FWD ? 2 * act + par : 3 * act + 2 * par;
}

static void shape_input(const smx_config *c, int slot, float *x, size_t n) {
  if (slot != MOE_X && slot != MOE_WR) return;
  if (c->v[MOE_TIES] == MOE_TIES_SOME) smx_moe_quantize(x, n);
  if (c->v[MOE_TIES] == MOE_TIES_ALL && slot == MOE_WR)
    for (size_t i = 0; i < n; i++) x[i] = 0;
}

static const char *fd_unusable(const smx_config *c) {
  if (c->v[MOE_TIES] && c->v[MOE_K] < c->v[MOE_E])
    return "ties: a perturbation reorders tied logits and so moves the detached selection";
  return NULL;
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  moe_dims d = dims_of(c);
  if (p == SMX_FWD)
    moe_fwd_f64(&d, t[MOE_X], t[MOE_WR], t[MOE_WG], t[MOE_WU], t[MOE_WD], t[MOE_SG], t[MOE_SU], t[MOE_SD], t[MOE_Y],
                t[MOE_AUX]);
  else moe_bwd_f64(&d, t);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  moe_dims d = dims_of(c);
  if (p == SMX_FWD)
    moe_fwd_f32(&d, t[MOE_X], t[MOE_WR], t[MOE_WG], t[MOE_WU], t[MOE_WD], t[MOE_SG], t[MOE_SU], t[MOE_SD], t[MOE_Y],
                t[MOE_AUX]);
  else moe_bwd_f32(&d, t);
}

static double reference_cost(const smx_config *c, smx_pass p) { return (p == SMX_FWD ? 1.0 : 3.0) * fwd_macs(c); }

/* E = 1 (k = E), k = 1, 2, 4, 8 and k = E = 16; with and without renormalization and a shared
 * expert; ties = 1 (tied exact logits) and ties = 2 (every token on experts 0..k-1, the rest empty). */
static const char *const check_shapes[] = {
    "T=1,d=4,E=1,k=1,F=2,S=0",
    "T=37,d=16,E=8,k=2,F=8,S=12",
    "T=33,d=8,E=16,k=16,F=4,S=0,renorm=1",
    "T=64,d=8,E=16,k=4,F=4,S=4,ties=1",
    "T=40,d=8,E=12,k=3,F=4,S=0,ties=1,renorm=1",
    "T=24,d=8,E=32,k=2,F=4,S=4,ties=2",
    "T=50,d=32,E=64,k=8,F=16,S=32",
    "T=64,d=16,E=256,k=1,F=4,S=0,renorm=1",
    "T=129,d=24,E=20,k=2,F=8,S=16",
    NULL};
static const char *const ci_shapes[] = {"T=128,d=64,E=64,k=2,F=16,S=128", "T=128,d=64,E=256,k=2,F=16,S=128", NULL};
static const char *const quick_shapes[] = {
    "T=1024,d=512,E=16,k=2,F=64,S=1024",  "T=1024,d=512,E=64,k=2,F=64,S=1024",
    "T=1024,d=512,E=256,k=2,F=64,S=1024", "T=1024,d=512,E=1024,k=2,F=64,S=1024",
    "T=1024,d=512,E=4096,k=2,F=64,S=1024", "T=1024,d=512,E=16384,k=2,F=64,S=1024", NULL};
static const char *const paper_shapes[] = {
    "T=16384,d=512,E=16,k=2,F=64,S=1024",   "T=16384,d=512,E=64,k=2,F=64,S=1024",
    "T=16384,d=512,E=256,k=2,F=64,S=1024",  "T=16384,d=512,E=1024,k=2,F=64,S=1024",
    "T=16384,d=512,E=4096,k=2,F=64,S=1024", "T=16384,d=512,E=16384,k=2,F=64,S=1024", NULL};
static const char *const speedup_pairs[] = {"cpu.grouped:cpu.loop", "cuda.grouped:cuda.loop", NULL};

const smx_op smx_op_moe = {
    .name = "moe",
    .summary = "top-k mixture of GLU experts + shared expert + load-balancing loss: x (T,d) -> y (T,d), aux",
    .n_params = 8,
    .params = params,
    .n_tensors = MOE_NSLOTS,
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
    .sweep_param = "E",
    .paper_note = "the Wonderful Matrices figure publishes no shapes; the issue's: d = 512, fine-grained GLU experts "
                  "(F = 64), top-2, a shared GLU of width 2d, T = 1024 tokens on the CPU (E up to 4096) and 16384 "
                  "on a GPU (E up to 16384); parameters grow as 3 E d F (1.6 GB at E = 4096)",
    .shape_input = shape_input,
    .fd_unusable = fd_unusable,
    .speedup_pairs = speedup_pairs,
    .plot_tokens_per_s = 0,
    .param_bytes = smx_moe_param_bytes,
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  float *const *t = (float *const *)tv;
  moe_dims d = dims_of(state);
  if (p == SMX_FWD)
    moe_fwd_mixed(&d, t[MOE_X], t[MOE_WR], t[MOE_WG], t[MOE_WU], t[MOE_WD], t[MOE_SG], t[MOE_SU], t[MOE_SD],
                  t[MOE_Y], t[MOE_AUX]);
  else moe_bwd_mixed(&d, t);
  return SMX_OK;
}

const smx_variant smx_moe_reference = {
    .name = "reference",
    .summary = "per-token loop: router dot products, softmax, top-k, each selected GLU; fp64 arithmetic (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};

/* ---------------------------------------------------------------------------------------------
 * moe_router */

static moe_dims router_dims(const smx_config *c) {
  moe_dims d = {c->v[MOER_T], c->v[MOER_D], c->v[MOER_E], c->v[MOER_K], 0, 0, (int)c->v[MOER_RENORM]};
  return d;
}

static const smx_param_desc router_params[] = {
    {"T", 1, 1 << 20, 1024, "tokens"},
    {"d", 1, 8192, 512, "model width"},
    {"E", 1, 1 << 16, 64, "experts"},
    {"k", 1, 1 << 16, 2, "experts per token (at most E)"},
    {"renorm", 0, 1, 0, "1 = gates renormalized over the selected experts"},
    {"ties", 0, 2, 0, "1 = x and router from {-1,-.5,0,.5} (exact, tied logits); 2 = zero router (all tied)"},
};

static const smx_tensor_desc router_tensors[MOER_NSLOTS] = {
    [MOER_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},
    [MOER_WR] = {"wr", SMX_ROLE_INPUT, -1, 0, 0},
    [MOER_G] = {"g", SMX_ROLE_OUTPUT, -1, 0, 0},
    [MOER_IDX] = {"idx", SMX_ROLE_OUTPUT, -1, 0, 0},
    [MOER_AUX] = {"aux", SMX_ROLE_OUTPUT, -1, 0, 0},
    [MOER_DG] = {"dg", SMX_ROLE_GRAD_OUT, MOER_G, 0, 0},
    [MOER_DAUX] = {"daux", SMX_ROLE_GRAD_OUT, MOER_AUX, 0, 0},
    [MOER_DX] = {"dx", SMX_ROLE_GRAD_IN, MOER_X, 0, 0},
    [MOER_DWR] = {"dwr", SMX_ROLE_GRAD_IN, MOER_WR, 0, 0},
};

static const smx_tolerance router_tolerance[MOER_NSLOTS] = {
    [MOER_G] = {2, 16, "softmax probabilities of d-term logits over E experts"},
    /* an index is right or off by at least 1: with the naive evaluation exact the bound (E eps) is
     * below 1; only where fp32 itself flips a near-tie (naive error >= 1) may a variant flip too */
    [MOER_IDX] = {1, 1, "expert indices: exact unless the fp32 logits themselves reorder a near-tie"},
    [MOER_AUX] = {2, 16, "E products of a routed fraction and a mean of T probabilities"},
    [MOER_DX] = {2, 32, "the router's E-term back-product of a softmax gradient (cancelling)"},
    [MOER_DWR] = {2, 32, "sums over T tokens of x dl; dl sums to zero over experts"},
};

static smx_status router_validate(const smx_config *c) {
  return check_sizes("moe_router", c->v[MOER_T], c->v[MOER_D], c->v[MOER_E], c->v[MOER_K]);
}

static size_t router_numel(const smx_config *c, int slot) {
  int64_t T = c->v[MOER_T], D = c->v[MOER_D], E = c->v[MOER_E], K = c->v[MOER_K];
  switch (slot) {
  case MOER_X: case MOER_DX: return (size_t)(T * D);
  case MOER_WR: case MOER_DWR: return (size_t)(D * E);
  case MOER_G: case MOER_IDX: case MOER_DG: return (size_t)(T * K);
  default: return 1;
  }
}

static double router_flops(const smx_config *c, smx_pass p) {
  return (p == SMX_FWD ? 2.0 : 4.0) * (double)(c->v[MOER_T] * c->v[MOER_D] * c->v[MOER_E]);
}

static double router_bytes(const smx_config *c, smx_pass p) {
  double x = (double)router_numel(c, MOER_X), w = (double)router_numel(c, MOER_WR), g = (double)router_numel(c, MOER_G);
  return 4.0 * (p == SMX_FWD ? x + w + 2 * g : 2 * x + 2 * w + g);
}

static void router_shape_input(const smx_config *c, int slot, float *x, size_t n) {
  if (slot != MOER_X && slot != MOER_WR) return;
  if (c->v[MOER_TIES] == MOE_TIES_SOME) smx_moe_quantize(x, n);
  if (c->v[MOER_TIES] == MOE_TIES_ALL && slot == MOER_WR)
    for (size_t i = 0; i < n; i++) x[i] = 0;
}

static const char *router_fd_unusable(const smx_config *c) {
  if (c->v[MOER_TIES] && c->v[MOER_K] < c->v[MOER_E])
    return "ties: a perturbation reorders tied logits and so moves the detached selection";
  return NULL;
}

static void router_oracle(const smx_config *c, smx_pass p, double *const *t) {
  moe_dims d = router_dims(c);
  if (p == SMX_FWD) router_fwd_f64(&d, t[MOER_X], t[MOER_WR], t[MOER_G], t[MOER_IDX], t[MOER_AUX]);
  else router_bwd_f64(&d, t[MOER_X], t[MOER_WR], t[MOER_DG], t[MOER_DAUX], t[MOER_DX], t[MOER_DWR]);
}

static void router_naive(const smx_config *c, smx_pass p, float *const *t) {
  moe_dims d = router_dims(c);
  if (p == SMX_FWD) router_fwd_f32(&d, t[MOER_X], t[MOER_WR], t[MOER_G], t[MOER_IDX], t[MOER_AUX]);
  else router_bwd_f32(&d, t[MOER_X], t[MOER_WR], t[MOER_DG], t[MOER_DAUX], t[MOER_DX], t[MOER_DWR]);
}

static double router_cost(const smx_config *c, smx_pass p) {
  return (p == SMX_FWD ? 1.0 : 3.0) * (double)(c->v[MOER_T] * c->v[MOER_D] * c->v[MOER_E]);
}

static const char *const router_check_shapes[] = {
    "T=1,d=4,E=1,k=1",          "T=37,d=16,E=8,k=2",          "T=33,d=8,E=16,k=16,renorm=1",
    "T=64,d=8,E=16,k=4,ties=1", "T=40,d=8,E=12,k=3,ties=1,renorm=1", "T=24,d=8,E=32,k=2,ties=2",
    "T=50,d=32,E=64,k=8",       "T=64,d=16,E=256,k=1,renorm=1", "T=16,d=8,E=4096,k=8",
    NULL};
static const char *const router_ci[] = {"T=128,d=64,E=64,k=2", "T=128,d=64,E=1024,k=2", NULL};
/* the same T, d and E as cdmoe_router's sweep, so the retrieval speedups are one run's ratios */
static const char *const router_quick[] = {"T=1024,d=512,E=16,k=2",   "T=1024,d=512,E=64,k=2",
                                           "T=1024,d=512,E=256,k=2",  "T=1024,d=512,E=1024,k=2",
                                           "T=1024,d=512,E=4096,k=2", "T=1024,d=512,E=16384,k=2",
                                           "T=1024,d=512,E=65536,k=2", NULL};
static const char *const router_paper[] = {"T=16384,d=512,E=16,k=2",    "T=16384,d=512,E=64,k=2",
                                           "T=16384,d=512,E=256,k=2",   "T=16384,d=512,E=1024,k=2",
                                           "T=16384,d=512,E=4096,k=2",  "T=16384,d=512,E=16384,k=2",
                                           "T=16384,d=512,E=65536,k=2", NULL};

const smx_op smx_op_moe_router = {
    .name = "moe_router",
    .summary = "moe's routing alone: router GEMM, softmax, top-k, gates and the load-balancing loss",
    .n_params = 6,
    .params = router_params,
    .n_tensors = MOER_NSLOTS,
    .tensors = router_tensors,
    .validate = router_validate,
    .numel = router_numel,
    .flops = router_flops,
    .bytes = router_bytes,
    .oracle_f64 = router_oracle,
    .naive_f32 = router_naive,
    .tolerance = router_tolerance,
    .check_shapes = router_check_shapes,
    .suite_shapes = {router_ci, router_quick, router_paper},
    .param_bytes = smx_moe_param_bytes,
    .reference_cost = router_cost,
    .sweep_param = "E",
    .paper_note = "the retrieval half of the moe sweep (d = 512, top-2), E up to 65536 since the router alone fits",
    .shape_input = router_shape_input,
    .fd_unusable = router_fd_unusable,
};

static smx_status router_ref_run(void *state, smx_pass p, void *const *tv) {
  float *const *t = (float *const *)tv;
  moe_dims d = router_dims(state);
  if (p == SMX_FWD) router_fwd_mixed(&d, t[MOER_X], t[MOER_WR], t[MOER_G], t[MOER_IDX], t[MOER_AUX]);
  else router_bwd_mixed(&d, t[MOER_X], t[MOER_WR], t[MOER_DG], t[MOER_DAUX], t[MOER_DX], t[MOER_DWR]);
  return SMX_OK;
}

const smx_variant smx_moe_router_reference = {
    .name = "reference",
    .summary = "per-token router dot products, softmax and top-k in fp64 arithmetic (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = router_ref_run,
};
