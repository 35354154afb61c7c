/* rope: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes) and
 * its reference (reference/rope_tmpl.h in fp64, fp32 and mixed precision).
 *
 *   seqmix check --op rope
 */
#include "reference/rope.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

#define T_IO double
#define T_ACC double
#define COS cos
#define SIN sin
#define POW pow
#define FN(n) n##_f64
#include "reference/rope_tmpl.h"
#undef T_IO
#undef T_ACC
#undef COS
#undef SIN
#undef POW
#undef FN

#define T_IO float
#define T_ACC float
#define COS cosf
#define SIN sinf
#define POW powf
#define FN(n) n##_f32
#include "reference/rope_tmpl.h"
#undef T_IO
#undef T_ACC
#undef COS
#undef SIN
#undef POW
#undef FN

#define T_IO float
#define T_ACC double
#define COS cos
#define SIN sin
#define POW pow
#define FN(n) n##_mixed
#include "reference/rope_tmpl.h"

void smx_rope_tables(const smx_config *c, float *cos_t, float *sin_t) {
  int64_t L = c->v[ROPE_L], P = c->v[ROPE_P], half = P / 2;
  double theta = (double)c->v[ROPE_THETA];
  for (int64_t t = 0; t < L; t++) {
    double pos = (double)(c->v[ROPE_OFFSET] + t);
    for (int64_t i = 0; i < half; i++) {
      double a = pos * pow(theta, -(double)(2 * i) / (double)P);
      cos_t[t * half + i] = (float)cos(a);
      sin_t[t * half + i] = (float)sin(a);
    }
  }
}

static const smx_param_desc params[] = {
    {"B", 1, 1 << 20, 2, "batch"},
    {"L", 1, 1 << 26, 1024, "sequence length (tokens in this call)"},
    {"H", 1, 1 << 16, 8, "heads"},
    {"P", 2, 1024, 64, "head dimension (even: rotate-half pairs its two halves)"},
    {"offset", 0, 1 << 30, 0, "position of the first token (decode: the cache length)"},
    {"theta", 2, 1000000000, 10000, "RoPE base"},
};

static const smx_tensor_desc tensors[ROPE_NSLOTS] = {
    [ROPE_X] = {"x", SMX_ROLE_INPUT, -1},
    [ROPE_Y] = {"y", SMX_ROLE_OUTPUT, -1},
    [ROPE_DY] = {"dy", SMX_ROLE_GRAD_OUT, ROPE_Y},
    [ROPE_DX] = {"dx", SMX_ROLE_GRAD_IN, ROPE_X},
};

/* k = 0: the naive fp32 evaluation computes the angle itself in fp32, whose error grows with the
 * position (at position 65535 one ulp of the angle is 0.004 rad), and a variant must not inherit
 * that. What remains is the rotation by an angle correct to fp64: cos and sin rounded to fp32
 * (0.5 ulp each), two products and a sum: measured worst err = 0.12 * 8 eps max|x| (3 seeds), so c = 4. */
static const smx_tolerance tolerance[ROPE_NSLOTS] = {
    [ROPE_Y] = {0, 4, "fp32 rounding of fp64-exact cos/sin and of the 2-term rotation; fp32 angles are not accepted"},
    [ROPE_DX] = {0, 4, "the inverse rotation, same roundings"},
};

static smx_status validate(const smx_config *c) {
  int64_t B = c->v[ROPE_B], L = c->v[ROPE_L], H = c->v[ROPE_H], P = c->v[ROPE_P];
  if (P % 2) return smx_fail(SMX_ERR_INVALID, "rope P=%lld must be even (rotate-half pairs the two halves)", (long long)P);
  if (B * H * P > ((int64_t)1 << 31) / L)
    return smx_fail(SMX_ERR_INVALID, "rope B*L*H*P = %lld*%lld*%lld*%lld is too large (at most 2^31 elements)",
                    (long long)B, (long long)L, (long long)H, (long long)P);
  if (c->v[ROPE_OFFSET] + L > ((int64_t)1 << 31))
    return smx_fail(SMX_ERR_INVALID, "rope offset+L = %lld exceeds 2^31 positions", (long long)(c->v[ROPE_OFFSET] + L));
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  (void)slot;
  return (size_t)(c->v[ROPE_B] * c->v[ROPE_L] * c->v[ROPE_H] * c->v[ROPE_P]);
}

/* 4 multiplies and 2 adds per pair of elements; the tables are not counted (a variant may store them). */
static double flops(const smx_config *c, smx_pass p) {
  (void)p;
  return 3.0 * (double)numel(c, ROPE_X);
}

/* x read and y written (dy read and dx written), fp32. */
static double bytes(const smx_config *c, smx_pass p) {
  (void)p;
  return 8.0 * (double)numel(c, ROPE_X);
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  if (p == SMX_FWD) rotate_f64(c, 0, t[ROPE_X], t[ROPE_Y]);
  else rotate_f64(c, 1, t[ROPE_DY], t[ROPE_DX]);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  if (p == SMX_FWD) rotate_f32(c, 0, t[ROPE_X], t[ROPE_Y]);
  else rotate_f32(c, 1, t[ROPE_DY], t[ROPE_DX]);
}

/* P = 2 (one pair), P = 6 (pairs not a multiple of 4), odd L, a decode step (L = 1) at a large
 * offset, another base. */
static const char *const check_shapes[] = {
    "B=1,L=1,H=1,P=2",         "B=2,L=7,H=3,P=32",           "B=1,L=97,H=2,P=64,offset=5",
    "B=3,L=33,H=1,P=128,offset=65535", "B=1,L=5,H=4,P=6",   "B=2,L=16,H=2,P=64,theta=500000",
    "B=1,L=1,H=8,P=128,offset=1048575", NULL};
static const char *const ci_shapes[] = {"B=2,L=256,H=8,P=64", "B=2,L=1024,H=8,P=64", "B=2,L=4096,H=8,P=64", NULL};
static const char *const quick_shapes[] = {"B=2,L=256,H=8,P=128", "B=2,L=1024,H=8,P=128", "B=2,L=4096,H=8,P=128",
                                           NULL};
static const char *const paper_shapes[] = {"B=16,L=1024,H=16,P=128", "B=16,L=4096,H=16,P=128",
                                           "B=16,L=16384,H=16,P=128", NULL};

const smx_op smx_op_rope = {
    .name = "rope",
    .summary = "rotary position embedding, rotate-half (HF Llama) convention, on (B, L, H, P); Q/K and SSD's C/B",
    .n_params = 6,
    .params = params,
    .n_tensors = ROPE_NSLOTS,
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
    .paper_note = "the FlashAttention benchmark's head shape (H=16, P=128) at 16 sequences; rope has no paper figure of its own",
};

/* ---- the `reference` variant: fp32 tensors, angles and rotation in fp64 ---- */

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  float *const *t = (float *const *)tv;
  if (p == SMX_FWD) rotate_mixed(state, 0, t[ROPE_X], t[ROPE_Y]);
  else rotate_mixed(state, 1, t[ROPE_DY], t[ROPE_DX]);
  return SMX_OK;
}

const smx_variant smx_rope_reference = {
    .name = "reference",
    .summary = "angles and rotation in fp64 per element, fp32 tensors (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};
