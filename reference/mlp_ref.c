/* mlp: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes) and its
 * reference (reference/mlp_tmpl.h in fp64, fp32 and mixed precision).
 *
 *   seqmix check --op mlp
 */
#include "reference/mlp.h"

#include <math.h>
#include <stdlib.h>

#include "reference/gelu.h"
#include "reference/scratch.h"

#define T_IO double
#define T_ACC double
#define EXP exp
#define GELU smx_gelu_f64
#define GELU_GRAD smx_gelu_grad_f64
#define FN(n) n##_f64
#include "reference/mlp_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef GELU
#undef GELU_GRAD
#undef FN

#define T_IO float
#define T_ACC float
#define EXP expf
#define GELU smx_gelu_f32
#define GELU_GRAD smx_gelu_grad_f32
#define FN(n) n##_f32
#include "reference/mlp_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef GELU
#undef GELU_GRAD
#undef FN

#define T_IO float
#define T_ACC double
#define EXP exp
#define GELU smx_gelu_f64
#define GELU_GRAD smx_gelu_grad_f64
#define FN(n) n##_mixed
#include "reference/mlp_tmpl.h"

static const smx_param_desc params[] = {
    {"T", 1, 1 << 24, 4096, "rows (tokens: batch x sequence, flattened)"},
    {"d", 1, 1 << 16, 256, "model width"},
    {"F", 1, 1 << 18, 1024, "hidden width (d_ff) of the gate and up projections"},
    {"act", 0, 1, 0, "0 = SiLU (SwiGLU), 1 = GELU, erf form (GeGLU)"},
};

static const smx_tensor_desc tensors[MLP_NSLOTS] = {
    [MLP_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},           [MLP_WG] = {"Wg", SMX_ROLE_INPUT, -1, 0, 0},
    [MLP_WU] = {"Wu", SMX_ROLE_INPUT, -1, 0, 0},         [MLP_WD] = {"Wd", SMX_ROLE_INPUT, -1, 0, 0},
    [MLP_Y] = {"y", SMX_ROLE_OUTPUT, -1, 0, 0},          [MLP_DY] = {"dy", SMX_ROLE_GRAD_OUT, MLP_Y, 0, 0},
    [MLP_DX] = {"dx", SMX_ROLE_GRAD_IN, MLP_X, 0, 0},    [MLP_DWG] = {"dWg", SMX_ROLE_GRAD_IN, MLP_WG, 0, 0},
    [MLP_DWU] = {"dWu", SMX_ROLE_GRAD_IN, MLP_WU, 0, 0}, [MLP_DWD] = {"dWd", SMX_ROLE_GRAD_IN, MLP_WD, 0, 0},
};

/* k = 2 against the naive fp32 evaluation (index-order sums); BLAS sums in other orders, and the
 * floors cover shapes whose naive sums happen to be exact (d = F = 1). */
static const smx_tolerance tolerance[MLP_NSLOTS] = {
    [MLP_Y] = {2, 16, "two d-term dot products, an activation, an F-term dot product"},
    [MLP_DX] = {2, 16, "a d-term back-product through the activation's derivative, then 2F-term sums"},
    [MLP_DWG] = {2, 16, "T-term sums of da x"},
    [MLP_DWU] = {2, 16, "T-term sums of du x"},
    [MLP_DWD] = {2, 16, "T-term sums of dy h"},
};

static smx_status validate(const smx_config *c) {
  int64_t T = c->v[MLP_T], d = c->v[MLP_D], F = c->v[MLP_F];
  const int64_t lim = (int64_t)1 << 31;
  if (T * d > lim || T * F > lim || F * d > lim)
    return smx_fail(SMX_ERR_INVALID, "mlp T=%lld, d=%lld, F=%lld: a tensor exceeds 2^31 elements", (long long)T,
                    (long long)d, (long long)F);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t T = c->v[MLP_T], d = c->v[MLP_D], F = c->v[MLP_F];
  switch (slot) {
  case MLP_WG: case MLP_WU: case MLP_WD: case MLP_DWG: case MLP_DWU: case MLP_DWD: return (size_t)(F * d);
  default: return (size_t)(T * d);
  }
}

/* 3 GEMMs of T d F multiply-adds forward; backward 6 (dh, dx twice, dWg, dWu, dWd) and the
 * recomputed a and u (2), which the useful work does not count. */
static double flops(const smx_config *c, smx_pass p) {
  double m = (double)c->v[MLP_T] * (double)c->v[MLP_D] * (double)c->v[MLP_F];
  return p == SMX_FWD ? 6 * m : 12 * m;
}

static double bytes(const smx_config *c, smx_pass p) {
  double a = (double)numel(c, MLP_X), w = 3.0 * (double)numel(c, MLP_WG);
  return 4.0 * (p == SMX_FWD ? 2 * a + w : 3 * a + 2 * w);
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  int64_t T = c->v[MLP_T], d = c->v[MLP_D], F = c->v[MLP_F];
  int gelu = (int)c->v[MLP_ACT];
  if (p == SMX_FWD) mlp_fwd_f64(T, d, F, gelu, t[MLP_X], t[MLP_WG], t[MLP_WU], t[MLP_WD], t[MLP_Y]);
  else
    mlp_bwd_f64(T, d, F, gelu, t[MLP_X], t[MLP_WG], t[MLP_WU], t[MLP_WD], t[MLP_DY], t[MLP_DX], t[MLP_DWG], t[MLP_DWU],
                t[MLP_DWD]);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  int64_t T = c->v[MLP_T], d = c->v[MLP_D], F = c->v[MLP_F];
  int gelu = (int)c->v[MLP_ACT];
  if (p == SMX_FWD) mlp_fwd_f32(T, d, F, gelu, t[MLP_X], t[MLP_WG], t[MLP_WU], t[MLP_WD], t[MLP_Y]);
  else
    mlp_bwd_f32(T, d, F, gelu, t[MLP_X], t[MLP_WG], t[MLP_WU], t[MLP_WD], t[MLP_DY], t[MLP_DX], t[MLP_DWG], t[MLP_DWU],
                t[MLP_DWD]);
}

static double reference_cost(const smx_config *c, smx_pass p) {
  double m = (double)c->v[MLP_T] * (double)c->v[MLP_D] * (double)c->v[MLP_F];
  return p == SMX_FWD ? 3 * m : 8 * m;
}

/* one element each; primes; GELU; F past a power of two; T = 1. */
static const char *const check_shapes[] = {"T=1,d=1,F=1",       "T=7,d=13,F=11",       "T=33,d=32,F=64,act=1",
                                           "T=65,d=24,F=96",    "T=16,d=64,F=129,act=1", "T=1,d=48,F=200",
                                           NULL};
static const char *const ci_shapes[] = {"T=256,d=64,F=256", "T=1024,d=64,F=256", NULL};
static const char *const quick_shapes[] = {"T=1024,d=256,F=1024", "T=4096,d=256,F=1024", NULL};
static const char *const paper_shapes[] = {"T=4096,d=1024,F=4096", "T=16384,d=1024,F=4096", NULL};

const smx_op smx_op_mlp = {
    .name = "mlp",
    .summary = "GLU MLP (SwiGLU or GeGLU), no biases: x (T,d) -> (act(x Wg^T) * x Wu^T) Wd^T (T,d)",
    .n_params = 4,
    .params = params,
    .n_tensors = MLP_NSLOTS,
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
    .sweep_param = "T",
    .shrink_param = "T",
    .paper_note = "no paper figure: the channel mixer of the trained models (d_ff = 4d)",
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  int64_t T = c->v[MLP_T], d = c->v[MLP_D], F = c->v[MLP_F];
  int gelu = (int)c->v[MLP_ACT];
  if (p == SMX_FWD) mlp_fwd_mixed(T, d, F, gelu, t[MLP_X], t[MLP_WG], t[MLP_WU], t[MLP_WD], t[MLP_Y]);
  else
    mlp_bwd_mixed(T, d, F, gelu, t[MLP_X], t[MLP_WG], t[MLP_WU], t[MLP_WD], t[MLP_DY], t[MLP_DX], t[MLP_DWG],
                  t[MLP_DWU], t[MLP_DWD]);
  return SMX_OK;
}

const smx_variant smx_mlp_reference = {
    .name = "reference",
    .summary = "per-token loops, fp64 arithmetic, fp32 tensors (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};
