/* lm_head_ce: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes)
 * and its reference: logits at every position, masked by the labels (fp64 and fp32).
 *
 *   seqmix check --op lm_head_ce
 */
#include "reference/lm_head_ce.h"

#include <math.h>
#include <stdlib.h>

#include "reference/scratch.h"

static int64_t count_labelled(int64_t T, const double *lab_d, const float *lab_f) {
  int64_t n = 0;
  for (int64_t t = 0; t < T; t++) n += (lab_d ? lab_d[t] : (double)lab_f[t]) != SMX_IGNORE_LABEL;
  return n;
}

/* z = W x_t at every position; lse by the max-shifted sum. */
#define DEFINE_CE(SFX, T_IO, T_ACC, EXP, LOG, LABD, LABF)                                                            \
  static void ce_logits_##SFX(int64_t d, int64_t V, const T_IO *xr, const T_IO *w, T_ACC *z, T_ACC *lse) {          \
    T_ACC m = -INFINITY, s = 0;                                                                                      \
    for (int64_t v = 0; v < V; v++) {                                                                                \
      T_ACC a = 0;                                                                                                   \
      for (int64_t k = 0; k < d; k++) a += (T_ACC)xr[k] * (T_ACC)w[v * d + k];                                       \
      z[v] = a;                                                                                                      \
      if (a > m) m = a;                                                                                              \
    }                                                                                                                \
    for (int64_t v = 0; v < V; v++) s += EXP(z[v] - m);                                                              \
    *lse = m + LOG(s);                                                                                               \
  }                                                                                                                  \
  static void ce_fwd_##SFX(int64_t T, int64_t d, int64_t V, const T_IO *x, const T_IO *w, const T_IO *labels,        \
                           T_IO *loss) {                                                                             \
    T_ACC *z = smx_ref_scratch((size_t)V * sizeof(T_ACC)), sum = 0, lse;                                             \
    int64_t n = count_labelled(T, LABD, LABF);                                                                       \
    for (int64_t t = 0; t < T; t++) {                                                                                \
      ce_logits_##SFX(d, V, x + t * d, w, z, &lse);                                                                  \
      if (labels[t] != SMX_IGNORE_LABEL) sum += lse - z[(int64_t)labels[t]];                                         \
    }                                                                                                                \
    loss[0] = (T_IO)(n ? sum / (T_ACC)n : 0);                                                                        \
    free(z);                                                                                                         \
  }                                                                                                                  \
  static void ce_bwd_##SFX(int64_t T, int64_t d, int64_t V, const T_IO *x, const T_IO *w, const T_IO *labels,        \
                           const T_IO *dloss, T_IO *dx, T_IO *dw) {                                                  \
    T_ACC *z = smx_ref_scratch((size_t)V * sizeof(T_ACC)), lse;                                                      \
    T_ACC *gw = smx_ref_scratch((size_t)(V * d) * sizeof(T_ACC));                                                    \
    for (int64_t i = 0; i < V * d; i++) gw[i] = 0;                                                                   \
    int64_t n = count_labelled(T, LABD, LABF);                                                                       \
    T_ACC scale = n ? (T_ACC)dloss[0] / (T_ACC)n : 0;                                                                \
    for (int64_t t = 0; t < T; t++) {                                                                                \
      ce_logits_##SFX(d, V, x + t * d, w, z, &lse);                                                                  \
      int lab = labels[t] != SMX_IGNORE_LABEL;                                                                       \
      for (int64_t v = 0; v < V; v++) /* dz, zero at an ignored position */                                          \
        z[v] = lab ? (EXP(z[v] - lse) - (v == (int64_t)labels[t] ? 1 : 0)) * scale : 0;                              \
      for (int64_t k = 0; k < d; k++) {                                                                              \
        T_ACC s = 0;                                                                                                 \
        for (int64_t v = 0; v < V; v++) s += z[v] * (T_ACC)w[v * d + k];                                             \
        dx[t * d + k] = (T_IO)s;                                                                                     \
      }                                                                                                              \
      for (int64_t v = 0; v < V; v++)                                                                                \
        for (int64_t k = 0; k < d; k++) gw[v * d + k] += z[v] * (T_ACC)x[t * d + k];                                 \
    }                                                                                                                \
    for (int64_t i = 0; i < V * d; i++) dw[i] = (T_IO)gw[i];                                                         \
    free(z);                                                                                                         \
    free(gw);                                                                                                        \
  }

DEFINE_CE(f64, double, double, exp, log, labels, NULL)
DEFINE_CE(f32, float, float, expf, logf, NULL, labels)
DEFINE_CE(mixed, float, double, exp, log, NULL, labels)

static const smx_param_desc params[] = {
    {"T", 1, 1 << 24, 4096, "positions (batch x sequence, flattened)"},
    {"d", 1, 1 << 16, 64, "model width"},
    {"V", 1, 1 << 24, 8192, "vocabulary size (labels are exact in fp32 below 2^24)"},
    {"ignore", 0, 100, 75, "percent of positions drawn with the ignore label -100 (100: none labelled)"},
};

static const smx_tensor_desc tensors[CE_NSLOTS] = {
    [CE_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},
    [CE_W] = {"W", SMX_ROLE_INPUT, -1, 0, 0},
    [CE_LABELS] = {"labels", SMX_ROLE_INPUT, -1, 0, 0},
    [CE_LOSS] = {"loss", SMX_ROLE_OUTPUT, -1, 0, 0},
    [CE_DLOSS] = {"dloss", SMX_ROLE_GRAD_OUT, CE_LOSS, 0, 0},
    [CE_DX] = {"dx", SMX_ROLE_GRAD_IN, CE_X, 0, 0},
    [CE_DW] = {"dW", SMX_ROLE_GRAD_IN, CE_W, 0, 0},
};

/* k = 2 against the naive fp32 evaluation at every position; the floors cover the shapes whose
 * naive error happens to be zero (V = 1: every loss term is exactly 0) and the other summation
 * orders of BLAS. */
static const smx_tolerance tolerance[CE_NSLOTS] = {
    [CE_LOSS] = {2, 16, "d-term logits, a V-term log-sum-exp, a mean over the labelled positions"},
    [CE_DX] = {2, 16, "V-term back-products of softmax minus one-hot (sums to zero: cancels)"},
    [CE_DW] = {2, 16, "sums over the labelled positions of dz x"},
};

static smx_status validate(const smx_config *c) {
  int64_t T = c->v[CE_T], d = c->v[CE_D], V = c->v[CE_V];
  const int64_t lim = (int64_t)1 << 31;
  if (T * d > lim || V * d > lim || T * V > lim)
    return smx_fail(SMX_ERR_INVALID, "lm_head_ce T=%lld, d=%lld, V=%lld: a tensor (or the T x V logits) exceeds 2^31 elements",
                    (long long)T, (long long)d, (long long)V);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t T = c->v[CE_T], d = c->v[CE_D], V = c->v[CE_V];
  switch (slot) {
  case CE_X: case CE_DX: return (size_t)(T * d);
  case CE_W: case CE_DW: return (size_t)(V * d);
  case CE_LABELS: return (size_t)T;
  default: return 1; /* loss, dloss */
  }
}

/* labels: a position is ignored with probability ignore/100, else its class is uniform in [0, V). */
static void shape_input(const smx_config *c, int slot, float *x, size_t n) {
  if (slot != CE_LABELS) return;
  double q = (double)c->v[CE_IGNORE] / 100.0, V = (double)c->v[CE_V];
  for (size_t i = 0; i < n; i++) {
    double p = ((double)x[i] + 1.0) * 0.5; /* [0, 1) */
    if (p < q) {
      x[i] = (float)SMX_IGNORE_LABEL;
      continue;
    }
    double v = floor((p - q) / (1.0 - q) * V);
    x[i] = (float)(v < 0 ? 0 : v > V - 1 ? V - 1 : v);
  }
}

/* The useful work counts only the labelled positions (what a gathering variant computes): the
 * expected count (1 - ignore/100) T; forward one logits GEMM, backward two more (dx, dW). */
static double labelled(const smx_config *c) { return (double)c->v[CE_T] * (1.0 - (double)c->v[CE_IGNORE] / 100.0); }
static double flops(const smx_config *c, smx_pass p) {
  double m = labelled(c) * (double)c->v[CE_D] * (double)c->v[CE_V];
  return p == SMX_FWD ? 2 * m : 6 * m;
}

/* x and W read (backward: also dx and dW written); the logits are not counted. */
static double bytes(const smx_config *c, smx_pass p) {
  double x = (double)numel(c, CE_X), w = (double)numel(c, CE_W), T = (double)c->v[CE_T];
  return 4.0 * (p == SMX_FWD ? x + w + T : 2 * x + 2 * w + T);
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  int64_t T = c->v[CE_T], d = c->v[CE_D], V = c->v[CE_V];
  if (p == SMX_FWD) ce_fwd_f64(T, d, V, t[CE_X], t[CE_W], t[CE_LABELS], t[CE_LOSS]);
  else ce_bwd_f64(T, d, V, t[CE_X], t[CE_W], t[CE_LABELS], t[CE_DLOSS], t[CE_DX], t[CE_DW]);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  int64_t T = c->v[CE_T], d = c->v[CE_D], V = c->v[CE_V];
  if (p == SMX_FWD) ce_fwd_f32(T, d, V, t[CE_X], t[CE_W], t[CE_LABELS], t[CE_LOSS]);
  else ce_bwd_f32(T, d, V, t[CE_X], t[CE_W], t[CE_LABELS], t[CE_DLOSS], t[CE_DX], t[CE_DW]);
}

/* the reference computes logits at every position, labelled or not */
static double reference_cost(const smx_config *c, smx_pass p) {
  double m = (double)c->v[CE_T] * (double)c->v[CE_D] * (double)c->v[CE_V];
  return p == SMX_FWD ? m : 3 * m;
}

/* one position, one class (loss 0); every position labelled; none labelled (loss 0, zero
 * gradients); MQAR-like sparse labels; odd sizes; a vocabulary past a power of two. */
static const char *const check_shapes[] = {"T=1,d=1,V=1,ignore=0",   "T=7,d=5,V=11,ignore=0", "T=16,d=8,V=32,ignore=100",
                                           "T=64,d=16,V=97,ignore=90", "T=33,d=24,V=129",        "T=100,d=32,V=64,ignore=50",
                                           NULL};
/* ci: a smaller vocabulary, so the all-positions fp64 reference stays a fraction of a second */
static const char *const ci_shapes[] = {"T=256,d=64,V=2048,ignore=94", "T=1024,d=64,V=2048,ignore=94", NULL};
/* MQAR at L = 64, N = 4 (4 labelled of 64 positions: ignore 94) at batch 16, 64, 256; and the
 * all-positions head at batch 64 for the comparison */
static const char *const quick_shapes[] = {"T=1024,d=64,V=8192,ignore=94", "T=4096,d=64,V=8192,ignore=94",
                                           "T=16384,d=64,V=8192,ignore=94", "T=4096,d=64,V=8192,ignore=0", NULL};
static const char *const paper_shapes[] = {"T=8192,d=256,V=8192,ignore=94", "T=32768,d=256,V=8192,ignore=94",
                                           "T=131072,d=256,V=8192,ignore=94", "T=32768,d=256,V=8192,ignore=0", NULL};

const smx_op smx_op_lm_head_ce = {
    .name = "lm_head_ce",
    .summary = "tied LM head + cross-entropy (ignore label -100) at labelled positions only: x (T,d), W (V,d), labels -> mean loss",
    .n_params = 4,
    .params = params,
    .n_tensors = CE_NSLOTS,
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
    .paper_note = "MQAR's head (V = 8192) at Zoology's labelled fractions; tasks.md §9 measured the gather on 2 CPU cores",
    .shape_input = shape_input,
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  int64_t T = c->v[CE_T], d = c->v[CE_D], V = c->v[CE_V];
  if (p == SMX_FWD) ce_fwd_mixed(T, d, V, t[CE_X], t[CE_W], t[CE_LABELS], t[CE_LOSS]);
  else ce_bwd_mixed(T, d, V, t[CE_X], t[CE_W], t[CE_LABELS], t[CE_DLOSS], t[CE_DX], t[CE_DW]);
  return SMX_OK;
}

const smx_variant smx_lm_head_ce_reference = {
    .name = "reference",
    .summary = "logits at every position in fp64, masked by the labels (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};
