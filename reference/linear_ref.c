/* linear: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes) and
 * its reference (reference/linear_tmpl.h in fp64, fp32 and mixed precision).
 *
 *   seqmix check --op linear
 */
#include "reference/linear.h"

#define T_IO double
#define T_ACC double
#define FN(n) n##_f64
#include "reference/linear_tmpl.h"
#undef T_IO
#undef T_ACC
#undef FN

#define T_IO float
#define T_ACC float
#define FN(n) n##_f32
#include "reference/linear_tmpl.h"
#undef T_IO
#undef T_ACC
#undef FN

#define T_IO float
#define T_ACC double
#define FN(n) n##_mixed
#include "reference/linear_tmpl.h"

static const smx_param_desc params[] = {
    {"T", 1, 1 << 24, 1024, "rows (tokens: batch x sequence, flattened)"},
    {"din", 1, 1 << 16, 256, "input features"},
    {"dout", 1, 1 << 20, 256, "output features"},
    {"bias", 0, 1, 1, "1 = add a bias b (dout)"},
};

static const smx_tensor_desc tensors[LIN_NSLOTS] = {
    [LIN_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},        [LIN_W] = {"W", SMX_ROLE_INPUT, -1, 0, 0},
    [LIN_B] = {"b", SMX_ROLE_INPUT, -1, 0, 0},        [LIN_Y] = {"y", SMX_ROLE_OUTPUT, -1, 0, 0},
    [LIN_DY] = {"dy", SMX_ROLE_GRAD_OUT, LIN_Y, 0, 0}, [LIN_DX] = {"dx", SMX_ROLE_GRAD_IN, LIN_X, 0, 0},
    [LIN_DW] = {"dW", SMX_ROLE_GRAD_IN, LIN_W, 0, 0}, [LIN_DB] = {"db", SMX_ROLE_GRAD_IN, LIN_B, 0, 0},
};

/* k = 2 against the naive fp32 dot products (summed in index order); BLAS sums in blocks and with
 * FMAs, usually more accurately, and the floor covers the elements where the naive order happens
 * to be exact (din = 1, T = 1). */
static const smx_tolerance tolerance[LIN_NSLOTS] = {
    [LIN_Y] = {2, 8, "din-term dot products plus the bias"},
    [LIN_DX] = {2, 8, "dout-term dot products"},
    [LIN_DW] = {2, 8, "T-term sums of products"},
    [LIN_DB] = {2, 8, "T-term column sums of dy"},
};

static smx_status validate(const smx_config *c) {
  int64_t T = c->v[LIN_T], K = c->v[LIN_DIN], N = c->v[LIN_DOUT];
  const int64_t lim = (int64_t)1 << 31;
  if (T * K > lim || T * N > lim || K * N > lim)
    return smx_fail(SMX_ERR_INVALID, "linear T=%lld, din=%lld, dout=%lld: a tensor exceeds 2^31 elements", (long long)T,
                    (long long)K, (long long)N);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t T = c->v[LIN_T], K = c->v[LIN_DIN], N = c->v[LIN_DOUT];
  switch (slot) {
  case LIN_X: case LIN_DX: return (size_t)(T * K);
  case LIN_W: case LIN_DW: return (size_t)(N * K);
  case LIN_B: case LIN_DB: return c->v[LIN_BIAS] ? (size_t)N : 0;
  default: return (size_t)(T * N); /* y, dy */
  }
}

/* 2 flops per multiply-add: forward T din dout of them, backward twice that (dx and dW). */
static double flops(const smx_config *c, smx_pass p) {
  double m = (double)c->v[LIN_T] * (double)c->v[LIN_DIN] * (double)c->v[LIN_DOUT];
  return p == SMX_FWD ? 2 * m : 4 * m;
}

/* fp32 tensors read and written once: forward x, W, b -> y; backward x, W, dy -> dx, dW, db. */
static double bytes(const smx_config *c, smx_pass p) {
  double x = (double)numel(c, LIN_X), w = (double)numel(c, LIN_W), b = (double)numel(c, LIN_B),
         y = (double)numel(c, LIN_Y);
  return 4.0 * (p == SMX_FWD ? x + w + b + y : 2 * x + 2 * w + y + b);
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  int64_t T = c->v[LIN_T], K = c->v[LIN_DIN], N = c->v[LIN_DOUT];
  int bias = (int)c->v[LIN_BIAS];
  if (p == SMX_FWD) linear_fwd_f64(T, K, N, bias, t[LIN_X], t[LIN_W], t[LIN_B], t[LIN_Y]);
  else linear_bwd_f64(T, K, N, bias, t[LIN_X], t[LIN_W], t[LIN_DY], t[LIN_DX], t[LIN_DW], t[LIN_DB]);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  int64_t T = c->v[LIN_T], K = c->v[LIN_DIN], N = c->v[LIN_DOUT];
  int bias = (int)c->v[LIN_BIAS];
  if (p == SMX_FWD) linear_fwd_f32(T, K, N, bias, t[LIN_X], t[LIN_W], t[LIN_B], t[LIN_Y]);
  else linear_bwd_f32(T, K, N, bias, t[LIN_X], t[LIN_W], t[LIN_DY], t[LIN_DX], t[LIN_DW], t[LIN_DB]);
}

static double reference_cost(const smx_config *c, smx_pass p) {
  double m = (double)c->v[LIN_T] * (double)c->v[LIN_DIN] * (double)c->v[LIN_DOUT];
  return p == SMX_FWD ? m : 2 * m;
}

/* one element; primes everywhere; no bias; a width past a power of two; T = 1 (a decode step). */
static const char *const check_shapes[] = {
    "T=1,din=1,dout=1",          "T=7,din=13,dout=5",   "T=33,din=64,dout=17,bias=0", "T=65,din=31,dout=128",
    "T=128,din=96,dout=257",     "T=1,din=200,dout=33", NULL};
static const char *const ci_shapes[] = {"T=256,din=64,dout=256", "T=1024,din=64,dout=256", NULL};
static const char *const quick_shapes[] = {"T=1024,din=256,dout=1024", "T=4096,din=256,dout=1024",
                                           "T=16384,din=256,dout=1024", NULL};
static const char *const paper_shapes[] = {"T=4096,din=1024,dout=4096", "T=16384,din=1024,dout=4096",
                                           "T=65536,din=1024,dout=4096", NULL};

const smx_op smx_op_linear = {
    .name = "linear",
    .summary = "fully connected layer (nn.Linear): x (T,din), W (dout,din), b (dout) -> y = x W^T + b",
    .n_params = 4,
    .params = params,
    .n_tensors = LIN_NSLOTS,
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
    .paper_note = "no paper figure: a model op (projections of the trained models); d = 1024 -> 4096 as a GLU's up projection",
};

/* ---- the `reference` variant: fp32 tensors, fp64 sums ---- */

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  int64_t T = c->v[LIN_T], K = c->v[LIN_DIN], N = c->v[LIN_DOUT];
  int bias = (int)c->v[LIN_BIAS];
  if (p == SMX_FWD) linear_fwd_mixed(T, K, N, bias, t[LIN_X], t[LIN_W], t[LIN_B], t[LIN_Y]);
  else linear_bwd_mixed(T, K, N, bias, t[LIN_X], t[LIN_W], t[LIN_DY], t[LIN_DX], t[LIN_DW], t[LIN_DB]);
  return SMX_OK;
}

const smx_variant smx_linear_reference = {
    .name = "reference",
    .summary = "triple loops, fp64 sums, fp32 tensors (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};
