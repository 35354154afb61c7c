/* longconv_kernel: the op's definition (parameters, tensors, counts, tolerances, shapes), its
 * initialization's scale, and its reference: the soft threshold element by element in fp64 (the
 * oracle), fp32 (the naive evaluation) and fp32 tensors with fp64 arithmetic (the `reference`
 * variant). Formulas: reference/longconv_kernel.h.
 *
 *   seqmix check --op longconv_kernel
 */
#include "reference/longconv_kernel.h"

#include <math.h>

double smx_longconv_init_scale(int64_t H, int64_t L, int64_t h, int64_t j) {
  /* the peer's torch.pow(torch.tensor(int(H / 2)), i / H): an integer base */
  double base = (double)(H / 2);
  return 0.02 * exp(-((double)j / (double)L) * pow(base, (double)h / (double)H));
}

double smx_longconv_lam(const smx_config *c) { return (double)c->v[LCK_PLAM] / 1000.0; }

static const smx_param_desc params[] = {
    {"H", 1, 1 << 20, 768, "channels: one kernel each"},
    {"L", 1, 1 << 26, 1024, "kernel length"},
    {"lam_milli", 0, 1000, 1, "soft threshold lam in thousandths (1 = 0.001; the init scale is 0.02)"},
};

static const smx_tensor_desc tensors[LCK_NSLOTS] = {
    [LCK_KERNEL] = {"kernel", SMX_ROLE_INPUT, -1, 0, 0},
    [LCK_K] = {"k", SMX_ROLE_OUTPUT, -1, 0, 0},
    [LCK_DK] = {"dk", SMX_ROLE_GRAD_OUT, LCK_K, 0, 0},
    [LCK_DKERNEL] = {"dkernel", SMX_ROLE_GRAD_IN, LCK_KERNEL, 0, 0},
};

/* One subtraction per element: the fp32 result differs from fp64 by the rounding of |kernel| - lam
 * (and of lam itself, 0.001 being inexact in binary); the gradient is exact. */
static const smx_tolerance tolerance[LCK_NSLOTS] = {
    [LCK_K] = {2, 2, "one rounded subtraction per element"},
    [LCK_DKERNEL] = {2, 2, "a copy or a zero per element (exact)"},
};

static smx_status validate(const smx_config *c) {
  if (c->v[LCK_PH] > ((int64_t)1 << 31) / c->v[LCK_PL])
    return smx_fail(SMX_ERR_INVALID, "longconv_kernel H*L = %lld*%lld is too large (at most 2^31 elements)",
                    (long long)c->v[LCK_PH], (long long)c->v[LCK_PL]);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  (void)slot;
  return (size_t)(c->v[LCK_PH] * c->v[LCK_PL]);
}

/* |x| - lam, max, sign: 3 flops per element forward; a compare and select backward */
static double flops(const smx_config *c, smx_pass p) {
  double n = (double)(c->v[LCK_PH] * c->v[LCK_PL]);
  return p == SMX_FWD ? 3 * n : n;
}
static double bytes(const smx_config *c, smx_pass p) {
  double n = (double)(c->v[LCK_PH] * c->v[LCK_PL]);
  return p == SMX_FWD ? 8 * n : 12 * n;
}

/* The check inputs follow the initialization: kernel[h, j] = u scale(h, j), u uniform in [-1, 1).
 * Values within 1e-4 of +-lam move 2e-4 outward, so no element sits on the threshold's kink,
 * where fp32 and fp64 (lam = 0.001 is inexact) or a finite-difference step (1e-5) could disagree
 * about the side. */
static void shape_input(const smx_config *c, int slot, float *x, size_t n) {
  if (slot != LCK_KERNEL) return;
  int64_t H = c->v[LCK_PH], L = c->v[LCK_PL];
  double lam = smx_longconv_lam(c);
  for (int64_t h = 0; h < H; h++)
    for (int64_t j = 0; j < L; j++) {
      size_t i = (size_t)(h * L + j);
      if (i >= n) return;
      double v = x[i] * smx_longconv_init_scale(H, L, h, j);
      if (fabs(fabs(v) - lam) < 1e-4) v = copysign(fabs(v) < lam ? lam - 2e-4 : lam + 2e-4, v);
      x[i] = (float)v;
    }
}

#define SOFT(T, x, lam) ((x) > (T)0 ? ((x) - (lam) > (T)0 ? (x) - (lam) : (T)0) : ((x) + (lam) < (T)0 ? (x) + (lam) : (T)0))

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  size_t n = numel(c, 0);
  double lam = smx_longconv_lam(c);
  for (size_t i = 0; i < n; i++) {
    double x = t[LCK_KERNEL][i];
    if (p == SMX_FWD) t[LCK_K][i] = SOFT(double, x, lam);
    else t[LCK_DKERNEL][i] = fabs(x) > lam ? t[LCK_DK][i] : 0.0;
  }
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  size_t n = numel(c, 0);
  float lam = (float)smx_longconv_lam(c);
  for (size_t i = 0; i < n; i++) {
    float x = t[LCK_KERNEL][i];
    if (p == SMX_FWD) t[LCK_K][i] = SOFT(float, x, lam);
    else t[LCK_DKERNEL][i] = fabsf(x) > lam ? t[LCK_DK][i] : 0.0f;
  }
}

static const char *const check_shapes[] = {"H=1,L=1", "H=3,L=17", "H=16,L=1000,lam_milli=0", "H=64,L=257,lam_milli=5",
                                           "H=768,L=64,lam_milli=10", NULL};
static const char *const ci_shapes[] = {"H=768,L=1024", NULL};
static const char *const quick_shapes[] = {"H=768,L=1024", "H=768,L=4096", "H=768,L=16384", NULL};
static const char *const paper_shapes[] = {"H=768,L=1024", "H=768,L=4096", "H=768,L=16384", "H=768,L=65536", NULL};

const smx_op smx_op_longconv_kernel = {
    .name = "longconv_kernel",
    .summary = "explicit learned long-conv kernel: soft threshold sign(x) max(|x| - lam, 0), exponential-decay init",
    .n_params = 3,
    .params = params,
    .n_tensors = LCK_NSLOTS,
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
    .paper_note = "d_model 768 at M2-BERT's and the long-convolution papers' sequence lengths; memory-bound, a few "
                  "flops per element",
    .shape_input = shape_input,
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  size_t n = numel(c, 0);
  double lam = smx_longconv_lam(c);
  for (size_t i = 0; i < n; i++) {
    double x = t[LCK_KERNEL][i];
    if (p == SMX_FWD) t[LCK_K][i] = (float)SOFT(double, x, lam);
    else t[LCK_DKERNEL][i] = fabs(x) > lam ? t[LCK_DK][i] : 0.0f;
  }
  return SMX_OK;
}

const smx_variant smx_longconv_kernel_reference = {
    .name = "reference",
    .summary = "the soft threshold element by element, fp64 arithmetic (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};
