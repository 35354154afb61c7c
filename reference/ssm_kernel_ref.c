/* ssm_kernel: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes)
 * and its reference: every power of every mode by its own complex exponential
 * (reference/ssm_kernel_tmpl.h), in fp64 (the oracle), in fp32 (the naive evaluation) and with
 * fp32 tensors and fp64 arithmetic (the `reference` variant).
 *
 *   seqmix check --op ssm_kernel            # every variant against this reference
 */
#include "reference/ssm_kernel.h"
#include "reference/scratch.h"
#include "reference/ssm_diag.h"

#include <math.h>
#include <stdlib.h>

#define T_IO double
#define T_ACC double
#define FN(n) n##_f64
#define SSM(n) n##_f64
#define SSM_MODE smx_ssm_mode64
#define SSM_C smx_c64
#include "reference/ssm_kernel_tmpl.h"
#undef T_IO
#undef T_ACC
#undef FN
#undef SSM
#undef SSM_MODE
#undef SSM_C

#define T_IO float
#define T_ACC float
#define FN(n) n##_f32
#define SSM(n) n##_f32
#define SSM_MODE smx_ssm_mode32
#define SSM_C smx_c32
#include "reference/ssm_kernel_tmpl.h"
#undef T_IO
#undef T_ACC
#undef FN
#undef SSM
#undef SSM_MODE
#undef SSM_C

#define T_IO float
#define T_ACC double
#define FN(n) n##_mixed
#define SSM(n) n##_f64
#define SSM_MODE smx_ssm_mode64
#define SSM_C smx_c64
#include "reference/ssm_kernel_tmpl.h"

static const smx_param_desc params[] = {
    {"H", 1, 1 << 20, 16, "channels, each with its own SSM"},
    {"N", 1, 1024, 32, "complex modes per channel (state size 2N; H3's d_state = 64 is N = 32)"},
    {"L", 1, 1 << 26, 1024, "kernel length"},
};

static const smx_tensor_desc tensors[SSMK_NSLOTS] = {
    [SSMK_LOGDT] = {"log_dt", SMX_ROLE_INPUT, -1, 0, 0},
    [SSMK_LOGARE] = {"log_A_re", SMX_ROLE_INPUT, -1, 0, 0},
    [SSMK_AIM] = {"A_im", SMX_ROLE_INPUT, -1, 0, 0},
    [SSMK_B] = {"B", SMX_ROLE_INPUT, -1, 0, 0},
    [SSMK_C] = {"C", SMX_ROLE_INPUT, -1, 0, 0},
    [SSMK_K] = {"k", SMX_ROLE_OUTPUT, -1, 0, 0},
    [SSMK_DK] = {"dk", SMX_ROLE_GRAD_OUT, SSMK_K, 0, 0},
    [SSMK_DLOGDT] = {"dlog_dt", SMX_ROLE_GRAD_IN, SSMK_LOGDT, 0, 0},
    [SSMK_DLOGARE] = {"dlog_A_re", SMX_ROLE_GRAD_IN, SSMK_LOGARE, 0, 0},
    [SSMK_DAIM] = {"dA_im", SMX_ROLE_GRAD_IN, SSMK_AIM, 0, 0},
    [SSMK_DB] = {"dB", SMX_ROLE_GRAD_IN, SSMK_B, 0, 0},
    [SSMK_DC] = {"dC", SMX_ROLE_GRAD_IN, SSMK_C, 0, 0},
};

/* Tolerances (check.h rule). The naive fp32 evaluation forms z l in fp32 before the exponential,
 * so its phase error grows with l (|Im z| l eps); the variants reduce the phase in fp64 and are far
 * more accurate than that. The floors cover short kernels, where the naive error is small: k sums
 * N terms (floor against their magnitudes, floor_scale below); the gradients sum L terms per mode
 * and then pass through the per-mode chain rule, the dt gradient over all modes of a channel. */
static const smx_tolerance tolerance[SSMK_NSLOTS] = {
    [SSMK_K] = {2, 16, "N terms per element; floor against 2 sum_n |C Bbar|"},
    [SSMK_DLOGDT] = {2, 16, "L*N terms per channel through the chain rule"},
    [SSMK_DLOGARE] = {2, 16, "L terms per mode through the chain rule"},
    [SSMK_DAIM] = {2, 16, "L terms per mode through the chain rule"},
    [SSMK_DB] = {2, 16, "L terms per mode"},
    [SSMK_DC] = {2, 16, "L terms per mode"},
};

static int64_t P(const smx_config *c, int i) { return c->v[i]; }

/* k's terms are bounded by 2 |C Bbar| (every mode decays: |E| <= 1). */
static double floor_scale(const smx_config *c, int slot, double *const *t) {
  if (slot != SSMK_K) return -1;
  int64_t H = P(c, SSMK_PH), N = P(c, SSMK_PN);
  double worst = 0;
  for (int64_t h = 0; h < H; h++) {
    double s = 0;
    for (int64_t n = 0; n < N; n++) {
      int64_t i = h * N + n;
      smx_ssm_mode64 m = smx_ssm_mode_f64(t[SSMK_LOGDT][h], t[SSMK_LOGARE][i], t[SSMK_AIM][i], t[SSMK_B] + 2 * i,
                                          t[SSMK_C] + 2 * i);
      smx_c64 w = cmul_f64(m.C, m.Bbar);
      s += 2 * hypot(w.re, w.im);
    }
    worst = fmax(worst, s);
  }
  return worst;
}

static smx_status validate(const smx_config *c) {
  int64_t H = P(c, SSMK_PH), N = P(c, SSMK_PN), L = P(c, SSMK_PL);
  const int64_t max_elems = (int64_t)1 << 31;
  if (H > max_elems / L || H > max_elems / (2 * N))
    return smx_fail(SMX_ERR_INVALID, "ssm_kernel H*L = %lld*%lld or H*2N = %lld*%lld is too large (at most 2^31 elements per tensor)",
                    (long long)H, (long long)L, (long long)H, (long long)(2 * N));
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t H = P(c, SSMK_PH), N = P(c, SSMK_PN), L = P(c, SSMK_PL);
  switch (slot) {
  case SSMK_LOGDT: case SSMK_DLOGDT: return (size_t)H;
  case SSMK_LOGARE: case SSMK_AIM: case SSMK_DLOGARE: case SSMK_DAIM: return (size_t)(H * N);
  case SSMK_B: case SSMK_C: case SSMK_DB: case SSMK_DC: return (size_t)(2 * H * N);
  case SSMK_K: case SSMK_DK: return (size_t)(H * L);
  }
  return 0;
}

/* Useful work per (channel, mode, position): forward, the next power by a complex multiply (6)
 * and 2 Re(W E^l) accumulated (3); backward, the power (6) and the two sums S and T (4 + 5). The
 * per-mode discretization and chain rule (O(H N)) are not counted. */
static double flops(const smx_config *c, smx_pass p) {
  double hnl = (double)P(c, SSMK_PH) * (double)P(c, SSMK_PN) * (double)P(c, SSMK_PL);
  return p == SMX_FWD ? 9 * hnl : 15 * hnl;
}

static double bytes(const smx_config *c, smx_pass p) {
  double H = (double)P(c, SSMK_PH), N = (double)P(c, SSMK_PN), L = (double)P(c, SSMK_PL);
  double par = H + 6 * H * N;
  return p == SMX_FWD ? 4 * (par + H * L) : 4 * (2 * par + H * L);
}

/* Each term of the reference is a complex exponential (exp, sin, cos: ~25 multiply-adds' time). */
static double reference_cost(const smx_config *c, smx_pass p) {
  double hnl = (double)P(c, SSMK_PH) * (double)P(c, SSMK_PN) * (double)P(c, SSMK_PL);
  return p == SMX_FWD ? 25 * hnl : 50 * hnl;
}

static void shape_input(const smx_config *c, int slot, float *v, size_t n) {
  int64_t N = P(c, SSMK_PN);
  if (slot == SSMK_LOGDT) smx_ssm_shape_param(SMX_SSM_LOG_DT, N, v, n);
  else if (slot == SSMK_LOGARE) smx_ssm_shape_param(SMX_SSM_LOG_A_RE, N, v, n);
  else if (slot == SSMK_AIM) smx_ssm_shape_param(SMX_SSM_A_IM, N, v, n);
}

#define ARGS(t) t[SSMK_LOGDT], t[SSMK_LOGARE], t[SSMK_AIM], t[SSMK_B], t[SSMK_C]
#define GRADS(t) t[SSMK_DK], t[SSMK_DLOGDT], t[SSMK_DLOGARE], t[SSMK_DAIM], t[SSMK_DB], t[SSMK_DC]

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  int64_t H = P(c, SSMK_PH), N = P(c, SSMK_PN), L = P(c, SSMK_PL);
  if (p == SMX_FWD) forward_f64(H, N, L, ARGS(t), t[SSMK_K]);
  else backward_f64(H, N, L, ARGS(t), GRADS(t));
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  int64_t H = P(c, SSMK_PH), N = P(c, SSMK_PN), L = P(c, SSMK_PL);
  if (p == SMX_FWD) forward_f32(H, N, L, ARGS(t), t[SSMK_K]);
  else backward_f32(H, N, L, ARGS(t), GRADS(t));
}

/* Awkward shapes: L = 1 and 2 (no T sum), one mode, primes, L past a power of two, the blocked
 * variants' block size (64) straddled. */
static const char *const check_shapes[] = {
    "H=1,N=1,L=1",   "H=2,N=1,L=2",    "H=2,N=3,L=7",     "H=3,N=4,L=63",   "H=2,N=5,L=65",
    "H=3,N=8,L=97",  "H=2,N=16,L=1000", "H=1,N=16,L=2049", "H=2,N=8,L=4099", NULL};
static const char *const ci_shapes[] = {"H=16,N=32,L=1024", "H=16,N=32,L=4096", NULL};
static const char *const quick_shapes[] = {"H=64,N=32,L=1024", "H=64,N=32,L=4096", "H=64,N=32,L=16384",
                                           "H=256,N=8,L=4096", NULL};
static const char *const paper_shapes[] = {"H=768,N=32,L=1024",  "H=768,N=32,L=2048",  "H=768,N=32,L=8192",
                                           "H=768,N=32,L=16384", "H=768,N=32,L=65536", NULL};

const smx_op smx_op_ssm_kernel = {
    .name = "ssm_kernel",
    .summary = "the length-L kernel of H3's diagonal SSM (S4D, ZOH) by Vandermonde evaluation",
    .n_params = 3,
    .params = params,
    .n_tensors = SSMK_NSLOTS,
    .tensors = tensors,
    .validate = validate,
    .numel = numel,
    .flops = flops,
    .bytes = bytes,
    .oracle_f64 = oracle_f64,
    .naive_f32 = naive_f32,
    .tolerance = tolerance,
    .floor_scale = floor_scale,
    .check_shapes = check_shapes,
    .suite_shapes = {ci_shapes, quick_shapes, paper_shapes},
    .reference_cost = reference_cost,
    .sweep_param = "L",
    .shrink_param = "H",
    .paper_note = "H3-125M's width (H = 768) and state (d_state = 64: N = 32 complex modes) at L = 1K..64K; the "
                  "papers time the kernel only inside the layer",
    .shape_input = shape_input,
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  int64_t H = P(c, SSMK_PH), N = P(c, SSMK_PN), L = P(c, SSMK_PL);
  float *const *t = (float *const *)tv;
  if (p == SMX_FWD) forward_mixed(H, N, L, ARGS(t), t[SSMK_K]);
  else backward_mixed(H, N, L, ARGS(t), GRADS(t));
  return SMX_OK;
}

const smx_variant smx_ssm_kernel_reference = {
    .name = "reference",
    .summary = "every power by its own complex exponential, fp32 tensors, fp64 arithmetic (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};
