/* adamw: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes) and
 * its reference (the update written out per element, fp64 and fp32).
 *
 *   seqmix check --op adamw
 */
#include "reference/adamw.h"

#include <math.h>

smx_adamw_config_values smx_adamw_values(const smx_config *c) {
  smx_adamw_config_values h = {(double)c->v[ADAMW_LR] * 1e-6, (double)c->v[ADAMW_WD] * 1e-3,
                               (double)c->v[ADAMW_B1] * 1e-3, (double)c->v[ADAMW_B2] * 1e-3,
                               pow(10.0, -(double)c->v[ADAMW_EPS])};
  return h;
}

/* The scalars in T (the naive evaluation computes them in fp32 too, as PyTorch does in its
 * parameter dtype for the bias corrections' powers). */
#define DEFINE_ADAMW(SFX, T, POW, SQRT)                                                                              \
  static void adamw_##SFX(const smx_config *c, const T *p, const T *g, const T *m, const T *v, T *po, T *mo, T *vo) { \
    smx_adamw_config_values h = smx_adamw_values(c);                                                                 \
    T lr = (T)h.lr, wd = (T)h.wd, b1 = (T)h.beta1, b2 = (T)h.beta2, eps = (T)h.eps, t = (T)c->v[ADAMW_STEP];        \
    T bc1 = (T)1 - POW(b1, t), bc2 = (T)1 - POW(b2, t);                                                              \
    for (int64_t i = 0; i < c->v[ADAMW_N]; i++) {                                                                    \
      T p1 = p[i] * ((T)1 - lr * wd);                                                                                \
      T m1 = b1 * m[i] + ((T)1 - b1) * g[i];                                                                         \
      T v1 = b2 * v[i] + ((T)1 - b2) * g[i] * g[i];                                                                  \
      po[i] = p1 - (lr / bc1) * m1 / (SQRT(v1) / SQRT(bc2) + eps);                                                   \
      mo[i] = m1;                                                                                                    \
      vo[i] = v1;                                                                                                    \
    }                                                                                                                \
  }

DEFINE_ADAMW(f64, double, pow, sqrt)
DEFINE_ADAMW(f32, float, powf, sqrtf)

/* the `reference` variant: fp32 tensors, every element's arithmetic in fp64 */
static void adamw_mixed(const smx_config *c, const float *p, const float *g, const float *m, const float *v, float *po,
                        float *mo, float *vo) {
  smx_adamw_config_values h = smx_adamw_values(c);
  double t = (double)c->v[ADAMW_STEP], bc1 = 1 - pow(h.beta1, t), bc2 = 1 - pow(h.beta2, t);
  for (int64_t i = 0; i < c->v[ADAMW_N]; i++) {
    double p1 = (double)p[i] * (1 - h.lr * h.wd);
    double m1 = h.beta1 * m[i] + (1 - h.beta1) * g[i];
    double v1 = h.beta2 * v[i] + (1 - h.beta2) * (double)g[i] * g[i];
    po[i] = (float)(p1 - (h.lr / bc1) * m1 / (sqrt(v1) / sqrt(bc2) + h.eps));
    mo[i] = (float)m1;
    vo[i] = (float)v1;
  }
}

static const smx_param_desc params[] = {
    {"n", 1, (int64_t)1 << 31, 1 << 20, "parameters updated (the flattened tensor)"},
    {"step", 1, 1000000000, 1, "the step number t (>= 1: bias corrections 1 - beta^t)"},
    {"lr_u", 0, 10000000, 1000, "learning rate in units of 1e-6 (1000 = 1e-3)"},
    {"wd_m", 0, 1000, 100, "weight decay in units of 1e-3 (100 = 0.1, zoology's)"},
    {"beta1_m", 0, 999, 900, "beta1 in units of 1e-3"},
    {"beta2_m", 0, 999, 999, "beta2 in units of 1e-3"},
    {"eps_e", 1, 30, 8, "eps = 10^-eps_e (8 = PyTorch's 1e-8)"},
};

static const smx_tensor_desc tensors[ADAMW_NSLOTS] = {
    [ADAMW_P] = {"p", SMX_ROLE_INPUT, -1, 0, 0},          [ADAMW_G] = {"g", SMX_ROLE_INPUT, -1, 0, 0},
    [ADAMW_M] = {"m", SMX_ROLE_INPUT, -1, 0, 0},          [ADAMW_V] = {"v", SMX_ROLE_INPUT, -1, 0, 0},
    [ADAMW_P_OUT] = {"p_out", SMX_ROLE_OUTPUT, -1, 0, 0}, [ADAMW_M_OUT] = {"m_out", SMX_ROLE_OUTPUT, -1, 0, 0},
    [ADAMW_V_OUT] = {"v_out", SMX_ROLE_OUTPUT, -1, 0, 0},
};

/* k = 2 against the naive fp32 evaluation (its powers of beta in fp32 too); a few ulps of floor
 * for elements whose naive value happens to be exact. */
static const smx_tolerance tolerance[ADAMW_NSLOTS] = {
    [ADAMW_P_OUT] = {2, 4, "a decay, a ratio of moments and a subtraction per element"},
    [ADAMW_M_OUT] = {2, 4, "two products and a sum per element"},
    [ADAMW_V_OUT] = {2, 4, "three products and a sum per element"},
};

static size_t numel(const smx_config *c, int slot) {
  (void)slot;
  return (size_t)c->v[ADAMW_N];
}

/* v is a second moment: drawn as the square of the uniform value, so it is non-negative */
static void shape_input(const smx_config *c, int slot, float *x, size_t n) {
  (void)c;
  if (slot != ADAMW_V) return;
  for (size_t i = 0; i < n; i++) x[i] = x[i] * x[i];
}

/* 13 flops per element (decay 2, m 3, v 4, the update 4; the square root counted as one); no
 * backward. */
static double flops(const smx_config *c, smx_pass p) { return p == SMX_FWD ? 13.0 * (double)c->v[ADAMW_N] : 0.0; }

/* four tensors read, three written */
static double bytes(const smx_config *c, smx_pass p) { return p == SMX_FWD ? 28.0 * (double)c->v[ADAMW_N] : 0.0; }

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  if (p != SMX_FWD) return; /* no backward */
  adamw_f64(c, t[ADAMW_P], t[ADAMW_G], t[ADAMW_M], t[ADAMW_V], t[ADAMW_P_OUT], t[ADAMW_M_OUT], t[ADAMW_V_OUT]);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  if (p != SMX_FWD) return;
  adamw_f32(c, t[ADAMW_P], t[ADAMW_G], t[ADAMW_M], t[ADAMW_V], t[ADAMW_P_OUT], t[ADAMW_M_OUT], t[ADAMW_V_OUT]);
}

/* one element; the first step (largest bias correction); no weight decay; a late step with a
 * large lr and beta2 = 0.95; beta1 = 0 (RMSProp-like); eps 1e-6. */
static const char *const check_shapes[] = {"n=1",
                                           "n=1000,step=1",
                                           "n=4097,step=10,wd_m=0",
                                           "n=333,step=100000,lr_u=10000,beta2_m=950",
                                           "n=77,step=3,beta1_m=0,eps_e=6",
                                           NULL};
static const char *const ci_shapes[] = {"n=1048576", "n=4194304", NULL};
static const char *const quick_shapes[] = {"n=1048576", "n=4194304", "n=16777216", NULL};
static const char *const paper_shapes[] = {"n=16777216", "n=67108864", "n=268435456", NULL};

const smx_op smx_op_adamw = {
    .name = "adamw",
    .summary = "one AdamW step (PyTorch semantics): p, g, m, v (n) -> p', m', v'; forward only",
    .n_params = 7,
    .params = params,
    .n_tensors = ADAMW_NSLOTS,
    .tensors = tensors,
    .numel = numel,
    .flops = flops,
    .bytes = bytes,
    .oracle_f64 = oracle_f64,
    .naive_f32 = naive_f32,
    .tolerance = tolerance,
    .check_shapes = check_shapes,
    .suite_shapes = {ci_shapes, quick_shapes, paper_shapes},
    .sweep_param = "n",
    .shrink_param = "n",
    .paper_note = "no paper figure: the optimizer of the trained models; n up to a 268M-parameter model",
    .shape_input = shape_input,
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  if (p != SMX_FWD) return smx_fail(SMX_ERR_UNSUPPORTED, "adamw has no backward pass");
  float *const *t = (float *const *)tv;
  adamw_mixed(state, t[ADAMW_P], t[ADAMW_G], t[ADAMW_M], t[ADAMW_V], t[ADAMW_P_OUT], t[ADAMW_M_OUT], t[ADAMW_V_OUT]);
  return SMX_OK;
}

const smx_variant smx_adamw_reference = {
    .name = "reference",
    .summary = "the update per element in fp64, fp32 tensors (the spec); forward only",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};
