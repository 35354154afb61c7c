/* layernorm and rmsnorm: the ops' definitions (parameters, tensors, FLOP and byte counts,
 * tolerances, shapes) and their references (reference/norm_tmpl.h in fp64, fp32 and mixed precision).
 *
 *   seqmix check --op layernorm
 *   seqmix check --op rmsnorm
 */
#include "reference/norm.h"

#include <math.h>

#define T_IO double
#define T_ACC double
#define SQRT sqrt
#define FN(n) n##_f64
#include "reference/norm_tmpl.h"
#undef T_IO
#undef T_ACC
#undef SQRT
#undef FN

#define T_IO float
#define T_ACC float
#define SQRT sqrtf
#define FN(n) n##_f32
#include "reference/norm_tmpl.h"
#undef T_IO
#undef T_ACC
#undef SQRT
#undef FN

#define T_IO float
#define T_ACC double
#define SQRT sqrt
#define FN(n) n##_mixed
#include "reference/norm_tmpl.h"

static const smx_param_desc params[] = {
    {"T", 1, 1 << 24, 4096, "rows (tokens: batch x sequence, flattened)"},
    {"d", 1, 1 << 16, 256, "normalized width (model width)"},
};

static smx_status validate_named(const char *op, const smx_config *c) {
  if (c->v[NORM_T] * c->v[NORM_D] > ((int64_t)1 << 31))
    return smx_fail(SMX_ERR_INVALID, "%s T*d = %lld*%lld is too large (at most 2^31 elements)", op,
                    (long long)c->v[NORM_T], (long long)c->v[NORM_D]);
  return SMX_OK;
}
static smx_status ln_validate(const smx_config *c) { return validate_named("layernorm", c); }
static smx_status rms_validate(const smx_config *c) { return validate_named("rmsnorm", c); }

/* dx subtracts a projection from rstd g (g = dy w), which cancels: at d = 1 rmsnorm's dx is
 * rstd g eps / (x^2 + eps), thousands of times smaller than its terms. Its rounding error follows
 * the terms, so the floor multiplies max |rstd g| instead of max |dx|. */
static double dx_terms(const smx_config *c, const double *x, const double *w, const double *rstd, const double *dy) {
  (void)x;
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  double m = 0;
  for (int64_t t = 0; t < T; t++)
    for (int64_t i = 0; i < d; i++) m = fmax(m, fabs(rstd[t] * dy[t * d + i] * w[i]));
  return m;
}
static double ln_floor_scale(const smx_config *c, int slot, double *const *o) {
  return slot == LN_DX ? dx_terms(c, o[LN_X], o[LN_W], o[LN_RSTD], o[LN_DY]) : -1;
}
static double rms_floor_scale(const smx_config *c, int slot, double *const *o) {
  return slot == RMS_DX ? dx_terms(c, o[RMS_X], o[RMS_W], o[RMS_RSTD], o[RMS_DY]) : -1;
}

/* d = 1 (variance 0: y = b, dx = 0), odd and prime widths, one row, widths past a power of two. */
static const char *const check_shapes[] = {"T=1,d=1", "T=5,d=1", "T=7,d=13", "T=33,d=64", "T=1,d=257", "T=97,d=96",
                                           "T=64,d=1031", NULL};
static const char *const ci_shapes[] = {"T=1024,d=256", "T=4096,d=256", NULL};
static const char *const quick_shapes[] = {"T=4096,d=256", "T=16384,d=256", "T=16384,d=1024", NULL};
static const char *const paper_shapes[] = {"T=16384,d=1024", "T=65536,d=1024", "T=65536,d=4096", NULL};

/* ---------------------------------------------------------------------------------------------
 * layernorm */

static const smx_tensor_desc ln_tensors[LN_NSLOTS] = {
    [LN_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},          [LN_W] = {"w", SMX_ROLE_INPUT, -1, 0, 0},
    [LN_B] = {"b", SMX_ROLE_INPUT, -1, 0, 0},          [LN_Y] = {"y", SMX_ROLE_OUTPUT, -1, 0, 0},
    [LN_MEAN] = {"mean", SMX_ROLE_OUTPUT, -1, 1, 0},   [LN_RSTD] = {"rstd", SMX_ROLE_OUTPUT, -1, 1, 0},
    [LN_DY] = {"dy", SMX_ROLE_GRAD_OUT, LN_Y, 0, 0},   [LN_DX] = {"dx", SMX_ROLE_GRAD_IN, LN_X, 0, 0},
    [LN_DW] = {"dw", SMX_ROLE_GRAD_IN, LN_W, 0, 0},    [LN_DB] = {"db", SMX_ROLE_GRAD_IN, LN_B, 0, 0},
};

/* k = 2 against the naive two-pass fp32 evaluation; the floors cover d = 1 (exact zero variance,
 * so the naive error is 0) and other summation orders over d and T. */
static const smx_tolerance ln_tolerance[LN_NSLOTS] = {
    [LN_Y] = {2, 16, "a d-term mean and variance, then a scale and shift per element"},
    [LN_MEAN] = {2, 8, "a d-term sum"},
    [LN_RSTD] = {2, 8, "a d-term sum of squared deviations, a square root and a reciprocal"},
    [LN_DX] = {2, 32, "two d-term sums subtracted from rstd g: cancels, so the floor scales with max|rstd g|"},
    [LN_DW] = {2, 16, "T-term sums of dy xhat"},
    [LN_DB] = {2, 8, "T-term column sums of dy"},
};

static size_t ln_numel(const smx_config *c, int slot) {
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  switch (slot) {
  case LN_W: case LN_B: case LN_DW: case LN_DB: return (size_t)d;
  case LN_MEAN: case LN_RSTD: return (size_t)T;
  default: return (size_t)(T * d);
  }
}

/* Per element: forward 2 for the mean and 3 for the variance, 4 for xhat w + b (the T square roots
 * are not counted); backward 4 (g, two sums) + 4 (dx) + 4 (dw, db). */
static double ln_flops(const smx_config *c, smx_pass p) {
  return (p == SMX_FWD ? 9.0 : 12.0) * (double)(c->v[NORM_T] * c->v[NORM_D]);
}

/* forward x read, y written (mean and rstd: T each); backward x, dy read, dx written. */
static double ln_bytes(const smx_config *c, smx_pass p) {
  double n = (double)(c->v[NORM_T] * c->v[NORM_D]), T = (double)c->v[NORM_T], d = (double)c->v[NORM_D];
  return 4.0 * (p == SMX_FWD ? 2 * n + 2 * T + 2 * d : 3 * n + 2 * T + 3 * d);
}

static void ln_oracle(const smx_config *c, smx_pass p, double *const *t) {
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  if (p == SMX_FWD) ln_fwd_f64(T, d, t[LN_X], t[LN_W], t[LN_B], t[LN_Y], t[LN_MEAN], t[LN_RSTD]);
  else ln_bwd_f64(T, d, t[LN_X], t[LN_W], t[LN_MEAN], t[LN_RSTD], t[LN_DY], t[LN_DX], t[LN_DW], t[LN_DB]);
}

static void ln_naive(const smx_config *c, smx_pass p, float *const *t) {
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  if (p == SMX_FWD) ln_fwd_f32(T, d, t[LN_X], t[LN_W], t[LN_B], t[LN_Y], t[LN_MEAN], t[LN_RSTD]);
  else ln_bwd_f32(T, d, t[LN_X], t[LN_W], t[LN_MEAN], t[LN_RSTD], t[LN_DY], t[LN_DX], t[LN_DW], t[LN_DB]);
}

const smx_op smx_op_layernorm = {
    .name = "layernorm",
    .summary = "LayerNorm over the last dim (eps 1e-5, affine w, b): x (T,d) -> y (T,d), saved mean, rstd (T)",
    .n_params = 2,
    .params = params,
    .n_tensors = LN_NSLOTS,
    .tensors = ln_tensors,
    .validate = ln_validate,
    .numel = ln_numel,
    .flops = ln_flops,
    .bytes = ln_bytes,
    .oracle_f64 = ln_oracle,
    .naive_f32 = ln_naive,
    .tolerance = ln_tolerance,
    .floor_scale = ln_floor_scale,
    .check_shapes = check_shapes,
    .suite_shapes = {ci_shapes, quick_shapes, paper_shapes},
    .sweep_param = "T",
    .shrink_param = "T",
    .paper_note = "no paper figure: a model op (the pre-norms of the trained models)",
};

static smx_status ln_ref_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  if (p == SMX_FWD) ln_fwd_mixed(T, d, t[LN_X], t[LN_W], t[LN_B], t[LN_Y], t[LN_MEAN], t[LN_RSTD]);
  else ln_bwd_mixed(T, d, t[LN_X], t[LN_W], t[LN_MEAN], t[LN_RSTD], t[LN_DY], t[LN_DX], t[LN_DW], t[LN_DB]);
  return SMX_OK;
}

const smx_variant smx_layernorm_reference = {
    .name = "reference",
    .summary = "per-row loops, fp64 sums, fp32 tensors (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ln_ref_run,
};

/* ---------------------------------------------------------------------------------------------
 * rmsnorm */

static const smx_tensor_desc rms_tensors[RMS_NSLOTS] = {
    [RMS_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},         [RMS_W] = {"w", SMX_ROLE_INPUT, -1, 0, 0},
    [RMS_Y] = {"y", SMX_ROLE_OUTPUT, -1, 0, 0},        [RMS_RSTD] = {"rstd", SMX_ROLE_OUTPUT, -1, 1, 0},
    [RMS_DY] = {"dy", SMX_ROLE_GRAD_OUT, RMS_Y, 0, 0}, [RMS_DX] = {"dx", SMX_ROLE_GRAD_IN, RMS_X, 0, 0},
    [RMS_DW] = {"dw", SMX_ROLE_GRAD_IN, RMS_W, 0, 0},
};

static const smx_tolerance rms_tolerance[RMS_NSLOTS] = {
    [RMS_Y] = {2, 16, "a d-term sum of squares, a square root, then a scale per element"},
    [RMS_RSTD] = {2, 8, "a d-term sum of squares, a square root and a reciprocal"},
    [RMS_DX] = {2, 32, "rstd g minus a d-term projection: cancels, so the floor scales with max|rstd g|"},
    [RMS_DW] = {2, 16, "T-term sums of dy x rstd"},
};

static size_t rms_numel(const smx_config *c, int slot) {
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  switch (slot) {
  case RMS_W: case RMS_DW: return (size_t)d;
  case RMS_RSTD: return (size_t)T;
  default: return (size_t)(T * d);
  }
}

/* Per element: forward 2 (sum of squares) + 2 (x rstd w); backward 3 (the sum) + 4 (dx) + 3 (dw). */
static double rms_flops(const smx_config *c, smx_pass p) {
  return (p == SMX_FWD ? 4.0 : 10.0) * (double)(c->v[NORM_T] * c->v[NORM_D]);
}

static double rms_bytes(const smx_config *c, smx_pass p) {
  double n = (double)(c->v[NORM_T] * c->v[NORM_D]), T = (double)c->v[NORM_T], d = (double)c->v[NORM_D];
  return 4.0 * (p == SMX_FWD ? 2 * n + T + d : 3 * n + T + 2 * d);
}

static void rms_oracle(const smx_config *c, smx_pass p, double *const *t) {
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  if (p == SMX_FWD) rms_fwd_f64(T, d, t[RMS_X], t[RMS_W], t[RMS_Y], t[RMS_RSTD]);
  else rms_bwd_f64(T, d, t[RMS_X], t[RMS_W], t[RMS_RSTD], t[RMS_DY], t[RMS_DX], t[RMS_DW]);
}

static void rms_naive(const smx_config *c, smx_pass p, float *const *t) {
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  if (p == SMX_FWD) rms_fwd_f32(T, d, t[RMS_X], t[RMS_W], t[RMS_Y], t[RMS_RSTD]);
  else rms_bwd_f32(T, d, t[RMS_X], t[RMS_W], t[RMS_RSTD], t[RMS_DY], t[RMS_DX], t[RMS_DW]);
}

const smx_op smx_op_rmsnorm = {
    .name = "rmsnorm",
    .summary = "RMSNorm over the last dim (eps 1e-5, weight w): x (T,d) -> y (T,d), saved rstd (T)",
    .n_params = 2,
    .params = params,
    .n_tensors = RMS_NSLOTS,
    .tensors = rms_tensors,
    .validate = rms_validate,
    .numel = rms_numel,
    .flops = rms_flops,
    .bytes = rms_bytes,
    .oracle_f64 = rms_oracle,
    .naive_f32 = rms_naive,
    .tolerance = rms_tolerance,
    .floor_scale = rms_floor_scale,
    .check_shapes = check_shapes,
    .suite_shapes = {ci_shapes, quick_shapes, paper_shapes},
    .sweep_param = "T",
    .shrink_param = "T",
    .paper_note = "no paper figure: a model op (the pre-norms of Llama-style blocks)",
};

static smx_status rms_ref_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  if (p == SMX_FWD) rms_fwd_mixed(T, d, t[RMS_X], t[RMS_W], t[RMS_Y], t[RMS_RSTD]);
  else rms_bwd_mixed(T, d, t[RMS_X], t[RMS_W], t[RMS_RSTD], t[RMS_DY], t[RMS_DX], t[RMS_DW]);
  return SMX_OK;
}

const smx_variant smx_rmsnorm_reference = {
    .name = "reference",
    .summary = "per-row loops, fp64 sums, fp32 tensors (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = rms_ref_run,
};
