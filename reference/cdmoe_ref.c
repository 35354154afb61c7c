/* cdmoe and cdmoe_router: the ops' definitions (parameters, tensors, FLOP and byte counts,
 * tolerances, shapes) and their references (reference/cdmoe_tmpl.h in fp64, fp32 and mixed
 * precision: dense scoring of all N experts, the definition), plus the product-key top-k the
 * optimized variants use.
 *
 *   seqmix check --op cdmoe
 *   seqmix check --op cdmoe_router
 */
#include "reference/cdmoe.h"

#include <math.h>
#include <stdlib.h>

#include "reference/moe.h"
#include "reference/scratch.h"

typedef struct cd_dims {
  int64_t T, d, N, K, H, kh, kp, S;
} cd_dims;

int64_t smx_cdmoe_keys(int64_t N) {
  if (N < 1) return -1;
  int64_t K = (int64_t)llround(sqrt((double)N));
  return K * K == N ? K : -1;
}

size_t smx_cdmoe_pk_work_bytes(int64_t kp) { return (size_t)(2 * kp + 2 * kp * kp) * sizeof(int32_t); }

void smx_cdmoe_pk_topk(const float *s, int64_t K, int64_t kp, int64_t kh, int32_t *e, float *score, void *work) {
  int32_t *ix = work, *iy = ix + kp, *gid = iy + kp;
  float *gs = (float *)(gid + kp * kp);
  smx_moe_topk_f32(s, NULL, K, kp, ix);
  smx_moe_topk_f32(s + K, NULL, K, kp, iy);
  for (int64_t a = 0; a < kp; a++)
    for (int64_t b = 0; b < kp; b++) {
      gs[a * kp + b] = s[ix[a]] + s[K + iy[b]];
      gid[a * kp + b] = (int32_t)(ix[a] * K + iy[b]);
    }
  smx_moe_topk_f32(gs, gid, kp * kp, kh, e); /* positions in the grid, then expert ids */
  for (int64_t j = 0; j < kh; j++) {
    score[j] = gs[e[j]];
    e[j] = gid[e[j]];
  }
}

/* An expert (a, b) of the dense top-kh outside the grid would be beaten by the kp candidates of
 * its half (each pairs with b into a better expert), so kp >= kh suffices; kp = K is the full grid. */
const char *smx_cdmoe_pk_inexact(int64_t K, int64_t kp, int64_t kh) {
  if (kp < kh && kp < K)
    return "kp < kh and kp < K: the kp x kp grid can miss experts of the dense top-kh, so product keys would not "
           "compute the op (exact whenever kp >= kh or kp = K)";
  return NULL;
}

/* ---- the references ---- */

#define MOE_TMPL_GLU_ONLY
#define T_IO double
#define T_ACC double
#define EXP exp
#define TOPK smx_moe_topk_f64
#define FN(n) n##_f64
#include "reference/moe_tmpl.h"
#include "reference/cdmoe_tmpl.h"
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
#include "reference/cdmoe_tmpl.h"
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
#include "reference/cdmoe_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef TOPK
#undef FN

/* ---------------------------------------------------------------------------------------------
 * shared by both ops: the parameters up to ties have the same meaning and order */

static cd_dims dims_of(const smx_config *c) {
  int router = c->op == &smx_op_cdmoe_router;
  cd_dims d = {c->v[CD_T], c->v[CD_D], c->v[CD_E], smx_cdmoe_keys(c->v[CD_E]), c->v[CD_H], c->v[CD_KH],
               c->v[CD_KP], router ? 0 : c->v[CD_S]};
  return d;
}

double smx_cdmoe_param_bytes(const smx_config *c) {
  cd_dims d = dims_of(c);
  double keys = (double)(d.H * 2 * d.K);
  if (c->op == &smx_op_cdmoe_router) return 4.0 * (double)d.d * keys;
  return 4.0 * (double)d.d * (keys + 2.0 * (double)d.N + 3.0 * (double)d.S);
}

static smx_status validate_common(const char *op, const smx_config *c) {
  int64_t T = c->v[CD_T], D = c->v[CD_D], N = c->v[CD_E], H = c->v[CD_H], kh = c->v[CD_KH], kp = c->v[CD_KP];
  int64_t K = smx_cdmoe_keys(N);
  if (K < 0)
    return smx_fail(SMX_ERR_INVALID, "%s E=%lld is not a perfect square: N = E experts need K = sqrt(N) sub-keys per half",
                    op, (long long)N);
  if (kp > K)
    return smx_fail(SMX_ERR_INVALID, "%s kp=%lld must be at most K = sqrt(E) = %lld (candidates per half out of K sub-keys)",
                    op, (long long)kp, (long long)K);
  if (kh > kp * kp)
    return smx_fail(SMX_ERR_INVALID, "%s kh=%lld must be at most kp^2 = %lld (experts chosen from the kp x kp grid)", op,
                    (long long)kh, (long long)(kp * kp));
  if (T * D > ((int64_t)1 << 31) || N * D > ((int64_t)1 << 31) || T * H * kh > ((int64_t)1 << 31) ||
      D * H * 2 * K > ((int64_t)1 << 31))
    return smx_fail(SMX_ERR_INVALID, "%s T=%lld, d=%lld, E=%lld, H=%lld is too large (at most 2^31 elements per tensor)",
                    op, (long long)T, (long long)D, (long long)N, (long long)H);
  return SMX_OK;
}

/* ties = 1: x and the router snapped to {-1, -0.5, 0, 0.5}, so scores and their sums are exact in
 * every precision and often tied; ties = 2: a zero router, every score 0: each head takes experts
 * 0..kh-1 (the lowest ids), every token the same ones. */
static int64_t ties_of(const smx_config *c) { return c->v[c->op == &smx_op_cdmoe_router ? CDR_TIES : CD_TIES]; }

static void shape_common(const smx_config *c, int slot, float *x, size_t n) {
  if (slot != CD_X && slot != CD_R) return; /* CD_X == CDR_X, CD_R == CDR_R */
  if (ties_of(c) == 1) smx_moe_quantize(x, n);
  if (ties_of(c) == 2 && slot == CD_R)
    for (size_t i = 0; i < n; i++) x[i] = 0;
}

static const char *fd_unusable(const smx_config *c) {
  if (ties_of(c) && c->v[CD_KH] < c->v[CD_E])
    return "ties: a perturbation reorders tied scores and so moves the detached selection";
  return NULL;
}

/* Router and retrieval multiply-adds per token: the router GEMM and, per selected expert, the
 * down and up dot products. */
static double router_macs(const cd_dims *d) { return (double)d->T * (double)d->d * (double)(d->H * 2 * d->K); }

/* ---------------------------------------------------------------------------------------------
 * cdmoe */

static const smx_param_desc params[] = {
    {"T", 1, 1 << 20, 1024, "tokens (batch x sequence, flattened)"},
    {"d", 1, 8192, 512, "model width"},
    {"E", 1, 1 << 20, 1024, "experts N, a perfect square (K = sqrt(N) sub-keys per half)"},
    {"H", 1, 64, 1, "retrieval heads, each with its own router (d x 2K); 1 = Doge's CDMoE"},
    {"kh", 1, 1 << 20, 8, "experts per head (final top-k, at most kp^2)"},
    {"kp", 1, 1024, 8, "candidates per half (k', at most K)"},
    {"S", 0, 1 << 16, 1024, "shared GLU MLP width (0 = none)"},
    {"ties", 0, 2, 0, "1 = x and router from {-1,-.5,0,.5} (exact, tied scores); 2 = zero router (all tied)"},
};

static const smx_tensor_desc tensors[CD_NSLOTS] = {
    [CD_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},          [CD_R] = {"r", SMX_ROLE_INPUT, -1, 0, 0},
    [CD_DOWN] = {"down", SMX_ROLE_INPUT, -1, 0, 0},    [CD_UP] = {"up", SMX_ROLE_INPUT, -1, 0, 0},
    [CD_SG] = {"sg", SMX_ROLE_INPUT, -1, 0, 0},        [CD_SU] = {"su", SMX_ROLE_INPUT, -1, 0, 0},
    [CD_SD] = {"sd", SMX_ROLE_INPUT, -1, 0, 0},        [CD_Y] = {"y", SMX_ROLE_OUTPUT, -1, 0, 0},
    [CD_DY] = {"dy", SMX_ROLE_GRAD_OUT, CD_Y, 0, 0},   [CD_DX] = {"dx", SMX_ROLE_GRAD_IN, CD_X, 0, 0},
    [CD_DR] = {"dr", SMX_ROLE_GRAD_IN, CD_R, 0, 0},    [CD_DDOWN] = {"ddown", SMX_ROLE_GRAD_IN, CD_DOWN, 0, 0},
    [CD_DUP] = {"dup", SMX_ROLE_GRAD_IN, CD_UP, 0, 0}, [CD_DSG] = {"dsg", SMX_ROLE_GRAD_IN, CD_SG, 0, 0},
    [CD_DSU] = {"dsu", SMX_ROLE_GRAD_IN, CD_SU, 0, 0}, [CD_DSD] = {"dsd", SMX_ROLE_GRAD_IN, CD_SD, 0, 0},
};

static const smx_tolerance tolerance[CD_NSLOTS] = {
    [CD_Y] = {2, 16, "shared GLU + H kh weighted single neurons: d-term dot products, a kh-term softmax"},
    [CD_DX] = {2, 32, "the router's H 2K-term back-product of a softmax gradient (cancelling), plus d-term terms"},
    [CD_DR] = {2, 32, "sums over T tokens of x ds; ds sums to zero over a head's selection"},
    [CD_DDOWN] = {2, 16, "sums over the expert's selections of dz x"},
    [CD_DUP] = {2, 16, "sums over the expert's selections of w silu(z) dy"},
    [CD_DSG] = {2, 16, "sums over T tokens of x da"},
    [CD_DSU] = {2, 16, "sums over T tokens of x db"},
    [CD_DSD] = {2, 16, "sums over T tokens of h dy"},
};

static smx_status validate(const smx_config *c) { return validate_common("cdmoe", c); }

static size_t numel(const smx_config *c, int slot) {
  cd_dims d = dims_of(c);
  switch (slot) {
  case CD_X: case CD_Y: case CD_DY: case CD_DX: return (size_t)(d.T * d.d);
  case CD_R: case CD_DR: return (size_t)(d.d * d.H * 2 * d.K);
  case CD_DOWN: case CD_UP: case CD_DDOWN: case CD_DUP: return (size_t)(d.N * d.d);
  default: return (size_t)(d.d * d.S); /* shared MLP */
  }
}

static double fwd_macs(const cd_dims *d) {
  return router_macs(d) + (double)d->T * (double)d->d * (2.0 * (double)(d->H * d->kh) + 3.0 * (double)d->S);
}

static double flops(const smx_config *c, smx_pass p) {
  cd_dims d = dims_of(c);
  return (p == SMX_FWD ? 2.0 : 4.0) * fwd_macs(&d);
}

/* Forward reads x, the router, the selected experts' rows (at most T H kh of each table) and the
 * shared MLP, and writes y; backward also reads dy and writes every (dense) gradient. */
static double bytes(const smx_config *c, smx_pass p) {
  cd_dims d = dims_of(c);
  double act = 4.0 * (double)(d.T * d.d), rows = fmin((double)(d.T * d.H * d.kh), (double)d.N);
  double read = 4.0 * (double)d.d * ((double)(d.H * 2 * d.K) + 2.0 * rows + 3.0 * (double)d.S);
  return p == SMX_FWD ? 2 * act + read : 3 * act + read + smx_cdmoe_param_bytes(c);
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  cd_dims d = dims_of(c);
  if (p == SMX_FWD) cd_fwd_f64(&d, t);
  else cd_bwd_f64(&d, t);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  cd_dims d = dims_of(c);
  if (p == SMX_FWD) cd_fwd_f32(&d, t);
  else cd_bwd_f32(&d, t);
}

/* dense scoring: N sums per token and head on top of the products */
static double reference_cost(const smx_config *c, smx_pass p) {
  cd_dims d = dims_of(c);
  double f = fwd_macs(&d) + (double)d.T * (double)d.H * (double)d.N;
  return p == SMX_FWD ? f : 2.0 * f + router_macs(&d);
}

/* N = 16 ... 65536; kp = K with kh = kp^2 = N (every expert), kp = K = kh, kp = kh < K, kp > kh;
 * H = 1, 2, 4; ties = 1 (tied exact scores) and 2 (every token on experts 0..kh-1); kp < kh < K,
 * where product keys are inexact (cpu.pk says so and skips). */
static const char *const check_shapes[] = {
    "T=7,d=8,E=16,H=1,kh=16,kp=4,S=0",
    "T=20,d=16,E=64,H=1,kh=8,kp=8,S=8",
    "T=33,d=16,E=256,H=1,kh=8,kp=8,S=12",
    "T=16,d=8,E=1024,H=2,kh=4,kp=6,S=8",
    "T=9,d=12,E=144,H=4,kh=3,kp=12,S=6",
    "T=40,d=8,E=64,H=1,kh=8,kp=8,S=0,ties=1",
    "T=24,d=8,E=256,H=2,kh=5,kp=5,S=4,ties=1",
    "T=12,d=8,E=256,H=1,kh=4,kp=4,S=4,ties=2",
    "T=5,d=8,E=65536,H=2,kh=8,kp=8,S=0",
    "T=8,d=8,E=256,H=1,kh=8,kp=4,S=0",
    NULL};
static const char *const ci_shapes[] = {"T=128,d=64,E=1024,H=1,kh=8,kp=8,S=128", "T=128,d=64,E=4096,H=4,kh=8,kp=8,S=128",
                                        NULL};
#define CD_SWEEP(T, H, KP16)                                                                                          \
  "T=" #T ",d=512,E=16,H=" #H ",kh=8,kp=" #KP16 ",S=1024", "T=" #T ",d=512,E=64,H=" #H ",kh=8,kp=8,S=1024",         \
      "T=" #T ",d=512,E=256,H=" #H ",kh=8,kp=8,S=1024", "T=" #T ",d=512,E=1024,H=" #H ",kh=8,kp=8,S=1024",           \
      "T=" #T ",d=512,E=4096,H=" #H ",kh=8,kp=8,S=1024", "T=" #T ",d=512,E=16384,H=" #H ",kh=8,kp=8,S=1024",         \
      "T=" #T ",d=512,E=65536,H=" #H ",kh=8,kp=8,S=1024"
/* at N = 16, K = 4: kp = K (the full grid), kh = 8 of the 16 experts */
static const char *const quick_shapes[] = {CD_SWEEP(1024, 1, 4), CD_SWEEP(1024, 4, 4), NULL};
static const char *const paper_shapes[] = {CD_SWEEP(16384, 1, 4), CD_SWEEP(16384, 4, 4), NULL};
static const char *const speedup_pairs[] = {"cpu.pk:moe/cpu.loop", "cpu.pk:moe/cpu.grouped", "cuda.pk:moe/cuda.loop",
                                            "cuda.pk:moe/cuda.grouped", NULL};

const smx_op smx_op_cdmoe = {
    .name = "cdmoe",
    .summary = "Cross-Domain MoE: shared GLU + product-key retrieval of N single-neuron experts: x (T,d) -> y (T,d)",
    .n_params = 8,
    .params = params,
    .n_tensors = CD_NSLOTS,
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
    .paper_note = "the issue's sweep (the paper publishes no shapes): d = 512, N = E = 16...65536, k' = k = 8 per "
                  "head (k' = K = 4 at N = 16), one head and four, a shared GLU of width 2d; T = 1024 tokens on the "
                  "CPU, 16384 on a GPU; matched with moe at the same T, d, E and S",
    .shape_input = shape_common,
    .fd_unusable = fd_unusable,
    .speedup_pairs = speedup_pairs,
    .param_bytes = smx_cdmoe_param_bytes,
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  cd_dims d = dims_of(state);
  if (p == SMX_FWD) cd_fwd_mixed(&d, (float *const *)tv);
  else cd_bwd_mixed(&d, (float *const *)tv);
  return SMX_OK;
}

const smx_variant smx_cdmoe_reference = {
    .name = "reference",
    .summary = "per token: router dot products, dense scores of all N experts, top-k, neurons; fp64 arithmetic (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};

/* ---------------------------------------------------------------------------------------------
 * cdmoe_router */

static const smx_param_desc router_params[] = {
    {"T", 1, 1 << 20, 1024, "tokens"},
    {"d", 1, 8192, 512, "model width"},
    {"E", 1, 1 << 20, 1024, "experts N, a perfect square"},
    {"H", 1, 64, 1, "retrieval heads"},
    {"kh", 1, 1 << 20, 8, "experts per head (at most kp^2)"},
    {"kp", 1, 1024, 8, "candidates per half (at most K)"},
    {"ties", 0, 2, 0, "1 = x and router from {-1,-.5,0,.5} (exact, tied scores); 2 = zero router (all tied)"},
};

static const smx_tensor_desc router_tensors[CDR_NSLOTS] = {
    [CDR_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},       [CDR_R] = {"r", SMX_ROLE_INPUT, -1, 0, 0},
    [CDR_W] = {"w", SMX_ROLE_OUTPUT, -1, 0, 0},      [CDR_IDX] = {"idx", SMX_ROLE_OUTPUT, -1, 0, 0},
    [CDR_DW] = {"dw", SMX_ROLE_GRAD_OUT, CDR_W, 0, 0}, [CDR_DX] = {"dx", SMX_ROLE_GRAD_IN, CDR_X, 0, 0},
    [CDR_DR] = {"dr", SMX_ROLE_GRAD_IN, CDR_R, 0, 0},
};

static const smx_tolerance router_tolerance[CDR_NSLOTS] = {
    [CDR_W] = {2, 16, "a kh-term softmax of sums of two d-term dot products"},
    [CDR_IDX] = {1, 1, "expert ids: exact unless the fp32 scores themselves reorder a near-tie"},
    [CDR_DX] = {2, 32, "the router's H 2K-term back-product of a softmax gradient (cancelling)"},
    [CDR_DR] = {2, 32, "sums over T tokens of x ds; ds sums to zero over a head's selection"},
};

static smx_status router_validate(const smx_config *c) { return validate_common("cdmoe_router", c); }

static size_t router_numel(const smx_config *c, int slot) {
  cd_dims d = dims_of(c);
  switch (slot) {
  case CDR_X: case CDR_DX: return (size_t)(d.T * d.d);
  case CDR_R: case CDR_DR: return (size_t)(d.d * d.H * 2 * d.K);
  default: return (size_t)(d.T * d.H * d.kh);
  }
}

static double router_flops(const smx_config *c, smx_pass p) {
  cd_dims d = dims_of(c);
  return (p == SMX_FWD ? 2.0 : 4.0) * router_macs(&d);
}

static double router_bytes(const smx_config *c, smx_pass p) {
  double x = (double)router_numel(c, CDR_X), r = (double)router_numel(c, CDR_R), w = (double)router_numel(c, CDR_W);
  return 4.0 * (p == SMX_FWD ? x + r + 2 * w : 2 * x + 2 * r + w);
}

static void router_oracle(const smx_config *c, smx_pass p, double *const *t) {
  cd_dims d = dims_of(c);
  if (p == SMX_FWD) cdr_fwd_f64(&d, t);
  else cdr_bwd_f64(&d, t);
}

static void router_naive(const smx_config *c, smx_pass p, float *const *t) {
  cd_dims d = dims_of(c);
  if (p == SMX_FWD) cdr_fwd_f32(&d, t);
  else cdr_bwd_f32(&d, t);
}

static double router_cost(const smx_config *c, smx_pass p) {
  cd_dims d = dims_of(c);
  double f = router_macs(&d) + (double)d.T * (double)d.H * (double)d.N;
  return p == SMX_FWD ? f : f + 2.0 * router_macs(&d);
}

static const char *const router_check_shapes[] = {
    "T=7,d=8,E=16,H=1,kh=16,kp=4",        "T=20,d=16,E=64,H=1,kh=8,kp=8",       "T=33,d=16,E=256,H=1,kh=8,kp=8",
    "T=16,d=8,E=1024,H=2,kh=4,kp=6",      "T=9,d=12,E=144,H=4,kh=3,kp=12",      "T=40,d=8,E=64,H=1,kh=8,kp=8,ties=1",
    "T=24,d=8,E=256,H=2,kh=5,kp=5,ties=1", "T=12,d=8,E=256,H=1,kh=4,kp=4,ties=2", "T=5,d=8,E=65536,H=2,kh=8,kp=8",
    NULL};
static const char *const router_ci[] = {"T=128,d=64,E=1024,H=1,kh=8,kp=8", "T=128,d=64,E=4096,H=4,kh=8,kp=8", NULL};
#define CDR_SWEEP(T, H)                                                                                               \
  "T=" #T ",d=512,E=16,H=" #H ",kh=8,kp=4", "T=" #T ",d=512,E=64,H=" #H ",kh=8,kp=8",                                \
      "T=" #T ",d=512,E=256,H=" #H ",kh=8,kp=8", "T=" #T ",d=512,E=1024,H=" #H ",kh=8,kp=8",                         \
      "T=" #T ",d=512,E=4096,H=" #H ",kh=8,kp=8", "T=" #T ",d=512,E=16384,H=" #H ",kh=8,kp=8",                       \
      "T=" #T ",d=512,E=65536,H=" #H ",kh=8,kp=8"
static const char *const router_quick[] = {CDR_SWEEP(1024, 1), CDR_SWEEP(1024, 4), NULL};
static const char *const router_paper[] = {CDR_SWEEP(16384, 1), CDR_SWEEP(16384, 4), NULL};
static const char *const router_pairs[] = {"cpu.pk:moe_router/cpu.dense", "cuda.pk:moe_router/cuda.dense", NULL};

const smx_op smx_op_cdmoe_router = {
    .name = "cdmoe_router",
    .summary = "cdmoe's expert retrieval alone: router GEMM, two top-kp, the grid top-kh, softmax weights",
    .n_params = 7,
    .params = router_params,
    .n_tensors = CDR_NSLOTS,
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
    .reference_cost = router_cost,
    .sweep_param = "E",
    .paper_note = "the retrieval half of the cdmoe sweep, matched with moe_router at the same T, d and E: the claim "
                  "is about retrieval time",
    .shape_input = shape_common,
    .fd_unusable = fd_unusable,
    .speedup_pairs = router_pairs,
    .param_bytes = smx_cdmoe_param_bytes,
};

static smx_status router_ref_run(void *state, smx_pass p, void *const *tv) {
  cd_dims d = dims_of(state);
  if (p == SMX_FWD) cdr_fwd_mixed(&d, (float *const *)tv);
  else cdr_bwd_mixed(&d, (float *const *)tv);
  return SMX_OK;
}

const smx_variant smx_cdmoe_router_reference = {
    .name = "reference",
    .summary = "per token: router dot products, dense scores of all N experts, top-k, softmax; fp64 (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = router_ref_run,
};
