/* ssmconv: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes)
 * and its reference: the SSM's recurrence, step by step (reference/ssmconv_tmpl.h), in fp64 (the
 * oracle), in fp32 (the naive evaluation) and with fp32 tensors and fp64 arithmetic (the
 * `reference` variant). O(B H N L) time and O(N) memory per row, so the oracle reaches L = 64K and
 * beyond at small B*H.
 *
 *   seqmix check --op ssmconv            # every variant against this reference
 */
#include "reference/ssmconv.h"
#include "reference/fftconv.h"
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
#include "reference/ssmconv_tmpl.h"
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
#include "reference/ssmconv_tmpl.h"
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
#include "reference/ssmconv_tmpl.h"

static const smx_param_desc params[] = {
    {"B", 1, 1 << 20, 1, "batch"},
    {"H", 1, 1 << 20, 16, "channels, each with its own SSM"},
    {"N", 1, 256, 32, "complex modes per channel (state size 2N; H3's d_state = 64 is N = 32)"},
    {"L", 1, 1 << 26, 65536, "sequence length"},
    {"chunk", 1, 65536, 1024, "state passing's chunk (the on-chip FFT's length); the reference ignores it"},
};

static const smx_tensor_desc tensors[SSMC_NSLOTS] = {
    [SSMC_U] = {"u", SMX_ROLE_INPUT, -1, 0, 0},
    [SSMC_LOGDT] = {"log_dt", SMX_ROLE_INPUT, -1, 0, 0},
    [SSMC_LOGARE] = {"log_A_re", SMX_ROLE_INPUT, -1, 0, 0},
    [SSMC_AIM] = {"A_im", SMX_ROLE_INPUT, -1, 0, 0},
    [SSMC_B] = {"B", SMX_ROLE_INPUT, -1, 0, 0},
    [SSMC_C] = {"C", SMX_ROLE_INPUT, -1, 0, 0},
    [SSMC_D] = {"D", SMX_ROLE_INPUT, -1, 0, 0},
    [SSMC_Y] = {"y", SMX_ROLE_OUTPUT, -1, 0, 0},
    [SSMC_DY] = {"dy", SMX_ROLE_GRAD_OUT, SSMC_Y, 0, 0},
    [SSMC_DU] = {"du", SMX_ROLE_GRAD_IN, SSMC_U, 0, 0},
    [SSMC_DLOGDT] = {"dlog_dt", SMX_ROLE_GRAD_IN, SSMC_LOGDT, 0, 0},
    [SSMC_DLOGARE] = {"dlog_A_re", SMX_ROLE_GRAD_IN, SSMC_LOGARE, 0, 0},
    [SSMC_DAIM] = {"dA_im", SMX_ROLE_GRAD_IN, SSMC_AIM, 0, 0},
    [SSMC_DB] = {"dB", SMX_ROLE_GRAD_IN, SSMC_B, 0, 0},
    [SSMC_DC] = {"dC", SMX_ROLE_GRAD_IN, SSMC_C, 0, 0},
    [SSMC_DD] = {"dD", SMX_ROLE_GRAD_IN, SSMC_D, 0, 0},
};

/* Tolerances (check.h rule). The naive fp32 recurrence rounds the state at every step, so its error
 * grows with the modes' memory (1/|Re z| steps); the state-passing variants' error is the FFT's
 * (~eps log2 of the chunk's FFT) plus fp32 sums over one chunk. The floors carry short sequences. */
static const smx_tolerance tolerance[SSMC_NSLOTS] = {
    [SSMC_Y] = {2, 16, "chunk FFT rounding (as fftconv) plus the state's fp32 correction"},
    [SSMC_DU] = {2, 16, "as y, in reverse"},
    [SSMC_DLOGDT] = {2, 16, "B*L*N terms per channel through the chain rule"},
    [SSMC_DLOGARE] = {2, 16, "B*L terms per mode through the chain rule"},
    [SSMC_DAIM] = {2, 16, "B*L terms per mode through the chain rule"},
    [SSMC_DB] = {2, 16, "B*L terms per mode"},
    [SSMC_DC] = {2, 16, "B*L terms per mode"},
    [SSMC_DD] = {2, 4, "B*L terms per channel, fp64 sums; floor against sum|dy u|"},
};

static int64_t P(const smx_config *c, int i) { return c->v[i]; }

static double floor_scale(const smx_config *c, int slot, double *const *t) {
  if (slot != SSMC_DD) return -1;
  int64_t B = P(c, SSMC_PB), H = P(c, SSMC_PH), L = P(c, SSMC_PL);
  double worst = 0;
  for (int64_t h = 0; h < H; h++) {
    double s = 0;
    for (int64_t b = 0; b < B; b++)
      for (int64_t i = (b * H + h) * L; i < (b * H + h + 1) * L; i++) s += fabs(t[SSMC_DY][i] * t[SSMC_U][i]);
    worst = fmax(worst, s);
  }
  return worst;
}

static smx_status validate(const smx_config *c) {
  int64_t B = P(c, SSMC_PB), H = P(c, SSMC_PH), L = P(c, SSMC_PL);
  const int64_t max_elems = (int64_t)1 << 31;
  if (B * H > max_elems / L)
    return smx_fail(SMX_ERR_INVALID, "ssmconv B*H*L = %lld*%lld*%lld is too large (at most 2^31 elements per tensor)",
                    (long long)B, (long long)H, (long long)L);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t B = P(c, SSMC_PB), H = P(c, SSMC_PH), N = P(c, SSMC_PN), L = P(c, SSMC_PL);
  switch (slot) {
  case SSMC_U: case SSMC_Y: case SSMC_DY: case SSMC_DU: return (size_t)(B * H * L);
  case SSMC_LOGDT: case SSMC_DLOGDT: case SSMC_D: case SSMC_DD: return (size_t)H;
  case SSMC_LOGARE: case SSMC_AIM: case SSMC_DLOGARE: case SSMC_DAIM: return (size_t)(H * N);
  case SSMC_B: case SSMC_C: case SSMC_DB: case SSMC_DC: return (size_t)(2 * H * N);
  }
  return 0;
}

/* Useful work of state passing at this chunk length T (FFT length F = the fftconv rule for T):
 * per row and chunk, forward 2 real FFTs (2.5 F log2 F each) and a complex product (6 (F/2 + 1));
 * per element and mode, 4 flops for the state's share of the output and 4 for the carried state.
 * Backward: 3 FFTs and 2 products per chunk; per element and mode, 24 flops (the du correction,
 * the carried state, and the four chunk sums the parameters' gradients need). */
static double flops(const smx_config *c, smx_pass p) {
  double B = (double)P(c, SSMC_PB), H = (double)P(c, SSMC_PH), N = (double)P(c, SSMC_PN), L = (double)P(c, SSMC_PL);
  int64_t T = P(c, SSMC_PCHUNK) < P(c, SSMC_PL) ? P(c, SSMC_PCHUNK) : P(c, SSMC_PL);
  double F = (double)smx_fftconv_fft_size(T), fft = 2.5 * F * log2(F), prod = 6 * (F / 2 + 1);
  double chunks = ceil(L / (double)T);
  if (p == SMX_FWD) return B * H * chunks * (2 * fft + prod) + B * H * L * 8 * N;
  return B * H * chunks * (3 * fft + 2 * prod) + B * H * L * 24 * N;
}

static double bytes(const smx_config *c, smx_pass p) {
  double B = (double)P(c, SSMC_PB), H = (double)P(c, SSMC_PH), N = (double)P(c, SSMC_PN), L = (double)P(c, SSMC_PL);
  double par = 2 * H + 6 * H * N;
  return p == SMX_FWD ? 4 * (2 * B * H * L + par) : 4 * (3 * B * H * L + 2 * par);
}

/* Per element and mode the recurrence is a complex multiply-add and a real part (~6 multiply-adds);
 * the backward carries x, p, q and the adjoint with their sums (~30). */
static double reference_cost(const smx_config *c, smx_pass p) {
  double n = (double)P(c, SSMC_PB) * (double)P(c, SSMC_PH) * (double)P(c, SSMC_PN) * (double)P(c, SSMC_PL);
  return p == SMX_FWD ? 6 * n : 30 * n;
}

static void shape_input(const smx_config *c, int slot, float *v, size_t n) {
  int64_t N = P(c, SSMC_PN);
  if (slot == SSMC_LOGDT) smx_ssm_shape_param(SMX_SSM_LOG_DT, N, v, n);
  else if (slot == SSMC_LOGARE) smx_ssm_shape_param(SMX_SSM_LOG_A_RE, N, v, n);
  else if (slot == SSMC_AIM) smx_ssm_shape_param(SMX_SSM_A_IM, N, v, n);
}

/* Where the generic central differences (h = 1e-5, limit 1e-6) cannot judge the backward:
 * - short L: the outputs barely depend on A (Bbar = B (E - 1)/A = B dt (1 + dt A/2 + ...)), so the
 *   A gradients are ~dt^2 (1e-6..1e-8) and the differences resolve only ~1e-11 of a loss of order 1
 *   (measured: 3e-5 relative disagreement at L = 1);
 * - long L: dt's effect is summed over thousands of steps that cancel, and the step's truncation
 *   error reaches 4e-6..5e-5 on dlog_dt (seeds 2, 7 at L = 3000, 4099). tests/test_h3ops.c checks
 *   every gradient there by Richardson-extrapolated differences (agreement 1e-7). */
static const char *fd_unusable(const smx_config *c) {
  if (P(c, SSMC_PL) < 16) return "at L < 16 the A gradients (~dt^2) are below what h = 1e-5 differences resolve";
  if (P(c, SSMC_PL) > 2048)
    return "at L > 2048 the h = 1e-5 differences' truncation error on dlog_dt exceeds 1e-6; tests/test_h3ops.c "
           "checks these shapes by extrapolated differences";
  return NULL;
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  if (p == SMX_FWD) forward_f64(P(c, SSMC_PB), P(c, SSMC_PH), P(c, SSMC_PN), P(c, SSMC_PL), t);
  else backward_f64(P(c, SSMC_PB), P(c, SSMC_PH), P(c, SSMC_PN), P(c, SSMC_PL), t);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  if (p == SMX_FWD) forward_f32(P(c, SSMC_PB), P(c, SSMC_PH), P(c, SSMC_PN), P(c, SSMC_PL), t);
  else backward_f32(P(c, SSMC_PB), P(c, SSMC_PH), P(c, SSMC_PN), P(c, SSMC_PL), t);
}

/* Awkward shapes: L = 1; chunk 1 (every step a chunk); L not a multiple of the chunk (17/4,
 * 100/16, 1000/64, 4099/512); L a multiple (64/64, 256/32); one chunk only (3000/4096). */
static const char *const check_shapes[] = {
    "B=1,H=1,N=1,L=1,chunk=4",      "B=1,H=2,N=2,L=5,chunk=1",     "B=2,H=2,N=3,L=17,chunk=4",
    "B=1,H=1,N=4,L=64,chunk=64",    "B=2,H=3,N=4,L=100,chunk=16",  "B=1,H=2,N=5,L=256,chunk=32",
    "B=1,H=2,N=8,L=1000,chunk=64",  "B=1,H=1,N=16,L=3000,chunk=4096", "B=2,H=2,N=8,L=4099,chunk=512",
    NULL};
static const char *const ci_shapes[] = {"B=1,H=16,N=16,L=16384,chunk=1024", NULL};
static const char *const quick_shapes[] = {"B=1,H=16,N=32,L=65536,chunk=1024", "B=1,H=16,N=32,L=65536,chunk=4096",
                                           "B=1,H=16,N=32,L=262144,chunk=4096", NULL};
static const char *const paper_shapes[] = {"B=1,H=768,N=32,L=65536,chunk=8192", "B=1,H=768,N=32,L=131072,chunk=8192",
                                           "B=1,H=768,N=32,L=262144,chunk=8192", "B=1,H=768,N=32,L=524288,chunk=8192",
                                           "B=1,H=768,N=32,L=1048576,chunk=8192", NULL};

const smx_op smx_op_ssmconv = {
    .name = "ssmconv",
    .summary = "long causal conv with a diagonal-SSM kernel by H3's state passing: chunked FFT convs + carried state",
    .n_params = 5,
    .params = params,
    .n_tensors = SSMC_NSLOTS,
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
    .paper_note = "H3-125M's width (H = 768) and state (N = 32) at L = 64K..1M with FlashConv's largest fused FFT "
                  "(8K) as the chunk; FlashConv measured fp16 inside the H3 layer, this op is fp32",
    .shape_input = shape_input,
    .fd_unusable = fd_unusable,
    .plot_tokens_per_s = 1,
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  if (p == SMX_FWD) forward_mixed(P(c, SSMC_PB), P(c, SSMC_PH), P(c, SSMC_PN), P(c, SSMC_PL), t);
  else backward_mixed(P(c, SSMC_PB), P(c, SSMC_PH), P(c, SSMC_PN), P(c, SSMC_PL), t);
  return SMX_OK;
}

const smx_variant smx_ssmconv_reference = {
    .name = "reference",
    .summary = "the SSM recurrence step by step (forward-mode state derivatives for the backward), fp32 tensors, fp64 arithmetic (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};
