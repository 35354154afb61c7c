/* fftconv: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes)
 * and its reference: the direct O(L^2) sums of reference/fftconv_tmpl.h in fp64 (the oracle),
 * in fp32 (the naive evaluation the tolerance rule compares with), and with fp32 tensors and fp64
 * accumulation (the `reference` variant that benchmarks time).
 *
 *   seqmix check --op fftconv            # every variant against this reference
 */
#include "reference/fftconv.h"
#include "reference/gelu.h"
#include "reference/scratch.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>


/* ---- (double, double): the oracle ---- */
#define T_IO double
#define T_ACC double
#define GELU_FN smx_gelu_f64
#define GELU_GRAD_FN smx_gelu_grad_f64
#define FN(n) n##_f64
#include "reference/fftconv_tmpl.h"
#undef T_IO
#undef T_ACC
#undef GELU_FN
#undef GELU_GRAD_FN
#undef FN

/* ---- (float, float): the naive fp32 evaluation ---- */
#define T_IO float
#define T_ACC float
#define GELU_FN smx_gelu_f32
#define GELU_GRAD_FN smx_gelu_grad_f32
#define FN(n) n##_f32
#include "reference/fftconv_tmpl.h"
#undef T_IO
#undef T_ACC
#undef GELU_FN
#undef GELU_GRAD_FN
#undef FN

/* ---- (float, double): the `reference` variant ---- */
#define T_IO float
#define T_ACC double
#define GELU_FN smx_gelu_f64
#define GELU_GRAD_FN smx_gelu_grad_f64
#define FN(n) n##_mixed
#include "reference/fftconv_tmpl.h"

int64_t smx_fftconv_fft_size(int64_t L) {
  int64_t need = 2 * L - 1;
  if (need < 2) need = 2; /* a length-1 FFT is degenerate for some libraries; 2 is as correct */
  for (int64_t n = need;; n++) {
    int64_t m = n;
    static const int primes[] = {2, 3, 5, 7};
    for (int i = 0; i < 4; i++)
      while (m % primes[i] == 0) m /= primes[i];
    if (m == 1) return n;
  }
}

static const smx_param_desc params[] = {
    {"B", 1, 1 << 20, 4, "batch"},
    {"H", 1, 1 << 20, 16, "channels (heads), each with its own kernel"},
    {"L", 1, 1 << 26, 1024, "sequence length (any L >= 1, not only powers of two)"},
    {"gelu", 0, 1, 0, "1 = apply GELU (erf form) to the output, fused"},
    {"gates", 0, 1, 0, "1 = FlashFFTConv's pre- and post-gates: y = post * act(conv(pre * u, k) + D pre u)"},
};

static const smx_tensor_desc tensors[FFTCONV_NSLOTS] = {
    [FFTCONV_U] = {"u", SMX_ROLE_INPUT, -1},        [FFTCONV_K] = {"k", SMX_ROLE_INPUT, -1},
    [FFTCONV_D] = {"D", SMX_ROLE_INPUT, -1},        [FFTCONV_Y] = {"y", SMX_ROLE_OUTPUT, -1},
    [FFTCONV_DY] = {"dy", SMX_ROLE_GRAD_OUT, FFTCONV_Y}, [FFTCONV_DU] = {"du", SMX_ROLE_GRAD_IN, FFTCONV_U},
    [FFTCONV_DK] = {"dk", SMX_ROLE_GRAD_IN, FFTCONV_K},  [FFTCONV_DD] = {"dD", SMX_ROLE_GRAD_IN, FFTCONV_D},
    [FFTCONV_PRE] = {"pre", SMX_ROLE_INPUT, -1},        [FFTCONV_POST] = {"post", SMX_ROLE_INPUT, -1},
    [FFTCONV_DPRE] = {"dpre", SMX_ROLE_GRAD_IN, FFTCONV_PRE}, [FFTCONV_DPOST] = {"dpost", SMX_ROLE_GRAD_IN, FFTCONV_POST},
};

/* Tolerances (check.h rule). The FFT's rounding error is spread over all outputs (~eps * log2 N
 * * rms of the row), while the naive fp32 direct sum's error grows like eps * sqrt(L) * rms; at
 * small L the naive sum is nearly exact, so the floor term carries the bound there. c = 64 covers
 * log2(64K) = 16 butterfly stages with margin (measured worst: see docs/ops/fftconv.md). dk and dD
 * also sum over the batch, which the floor scales with through max|ref|. */
static const smx_tolerance tolerance[FFTCONV_NSLOTS] = {
    [FFTCONV_Y] = {2, 64, "FFT rounding ~ eps*log2(N)*rms(y), spread over the row"},
    [FFTCONV_DU] = {2, 64, "as y: one FFT correlation per row"},
    [FFTCONV_DK] = {2, 64, "FFT correlation summed over the batch in the frequency domain"},
    [FFTCONV_DD] = {2, 4, "a sum over B*L terms per channel; floor against sum|terms| (floor_scale below)"},
    [FFTCONV_DPRE] = {2, 64, "as du: u times one FFT correlation per row"},
    [FFTCONV_DPOST] = {2, 64, "as y: dy times the ungated output"},
};

/* dD[h] = sum_{b,t} g v with g = dy * post * GELU'(z), v = pre * u cancels heavily, so |dD| says
 * little about the rounding a correct fp32 evaluation makes: with GELU, the FFT's error in z (spread
 * evenly over the row) passes through GELU'' into every term. The summation error scale is
 * sum|g v|, bounded by max|GELU'| * sum|dy post pre u| (max GELU' = 1.129 at x = sqrt(2)); measured
 * err/(eps * this) <= 0.3. */
static double floor_scale(const smx_config *c, int slot, double *const *t) {
  if (slot != FFTCONV_DD) return -1;
  int64_t B = c->v[FFTCONV_B], H = c->v[FFTCONV_H], L = c->v[FFTCONV_L];
  double worst = 0;
  for (int64_t h = 0; h < H; h++) {
    double sum = 0;
    for (int64_t b = 0; b < B; b++)
      for (int64_t i = (b * H + h) * L; i < (b * H + h + 1) * L; i++) {
        double term = t[FFTCONV_DY][i] * t[FFTCONV_U][i];
        if (c->v[FFTCONV_GATES]) term *= t[FFTCONV_PRE][i] * t[FFTCONV_POST][i];
        sum += fabs(term);
      }
    if (sum > worst) worst = sum;
  }
  return (c->v[FFTCONV_GELU] ? 1.129 : 1.0) * worst;
}

static int64_t P(const smx_config *c, int i) { return c->v[i]; }

static smx_status validate(const smx_config *c) {
  int64_t B = P(c, FFTCONV_B), H = P(c, FFTCONV_H), L = P(c, FFTCONV_L);
  const int64_t max_elems = (int64_t)1 << 31;
  if (B * H > max_elems / L)
    return smx_fail(SMX_ERR_INVALID, "fftconv B*H*L = %lld*%lld*%lld is too large (at most 2^31 elements per tensor)",
                    (long long)B, (long long)H, (long long)L);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t B = P(c, FFTCONV_B), H = P(c, FFTCONV_H), L = P(c, FFTCONV_L);
  switch (slot) {
  case FFTCONV_U: case FFTCONV_Y: case FFTCONV_DY: case FFTCONV_DU: return (size_t)(B * H * L);
  case FFTCONV_K: case FFTCONV_DK: return (size_t)(H * L);
  case FFTCONV_D: case FFTCONV_DD: return (size_t)H;
  case FFTCONV_PRE: case FFTCONV_POST: case FFTCONV_DPRE: case FFTCONV_DPOST:
    return P(c, FFTCONV_GATES) ? (size_t)(B * H * L) : 0;
  }
  return 0;
}

/* Useful work, the same for every variant: the FFT algorithm at the standard padded size N = 2L,
 * counting 2.5 N log2 N flops per real FFT (half a complex radix-2 FFT, the convention of
 * FlashFFTConv's and ThunderKittens' fftconv benchmarks) and 6 flops per complex product.
 * Forward per row: FFT(u), product, inverse FFT, D*u; per channel: FFT(k).
 * Backward per row: FFT(u), FFT(g), inverse FFT for du, two products; per channel: FFT(k) and the
 * inverse FFT for dk. GELU's few flops per element are not counted. Gates add two multiplies per
 * element forward (pre * u, post * a) and five backward (pre * u, dy * post, dv * pre, dv * u,
 * dpost = dy * a). */
static double flops(const smx_config *c, smx_pass p) {
  double B = (double)P(c, FFTCONV_B), H = (double)P(c, FFTCONV_H), L = (double)P(c, FFTCONV_L);
  double N = 2 * L, fft = 2.5 * N * log2(N > 1 ? N : 2), prod = 6 * (N / 2 + 1);
  double gates = P(c, FFTCONV_GATES) ? 1 : 0;
  if (p == SMX_FWD) return B * H * (2 * fft + prod + 2 * L + gates * 2 * L) + H * fft;
  return B * H * (3 * fft + 2 * prod + 4 * L + gates * 5 * L) + H * 2 * fft;
}

/* Compulsory traffic: every tensor the pass reads or writes, once (gated: pre and post read; dpre
 * and dpost written). */
static double bytes(const smx_config *c, smx_pass p) {
  double B = (double)P(c, FFTCONV_B), H = (double)P(c, FFTCONV_H), L = (double)P(c, FFTCONV_L);
  double gates = P(c, FFTCONV_GATES) ? 1 : 0;
  if (p == SMX_FWD) return 4 * (2 * B * H * L + H * L + H + gates * 2 * B * H * L);
  return 4 * (4 * B * H * L + 2 * H * L + 2 * H + gates * 4 * B * H * L);
}

static double reference_cost(const smx_config *c, smx_pass p) {
  double B = (double)P(c, FFTCONV_B), H = (double)P(c, FFTCONV_H), L = (double)P(c, FFTCONV_L);
  double one = B * H * L * (L + 1) / 2;
  return p == SMX_FWD ? one : (P(c, FFTCONV_GELU) || P(c, FFTCONV_GATES) ? 3 : 2) * one;
}

/* The gate slots' pointers, or NULL when the gates are off (the template then skips them). */
#define gate(c, t, slot) ((c)->v[FFTCONV_GATES] ? (t)[slot] : NULL)

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  int64_t B = P(c, FFTCONV_B), H = P(c, FFTCONV_H), L = P(c, FFTCONV_L);
  int gelu = (int)P(c, FFTCONV_GELU);
  if (p == SMX_FWD)
    forward_f64(B, H, L, gelu, t[FFTCONV_U], t[FFTCONV_K], t[FFTCONV_D], gate(c, t, FFTCONV_PRE),
                gate(c, t, FFTCONV_POST), t[FFTCONV_Y]);
  else
    backward_f64(B, H, L, gelu, t[FFTCONV_U], t[FFTCONV_K], t[FFTCONV_D], gate(c, t, FFTCONV_PRE), gate(c, t, FFTCONV_POST),
                 t[FFTCONV_DY], t[FFTCONV_DU], t[FFTCONV_DK], t[FFTCONV_DD], gate(c, t, FFTCONV_DPRE), gate(c, t, FFTCONV_DPOST));
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  int64_t B = P(c, FFTCONV_B), H = P(c, FFTCONV_H), L = P(c, FFTCONV_L);
  int gelu = (int)P(c, FFTCONV_GELU);
  if (p == SMX_FWD)
    forward_f32(B, H, L, gelu, t[FFTCONV_U], t[FFTCONV_K], t[FFTCONV_D], gate(c, t, FFTCONV_PRE),
                gate(c, t, FFTCONV_POST), t[FFTCONV_Y]);
  else
    backward_f32(B, H, L, gelu, t[FFTCONV_U], t[FFTCONV_K], t[FFTCONV_D], gate(c, t, FFTCONV_PRE), gate(c, t, FFTCONV_POST),
                 t[FFTCONV_DY], t[FFTCONV_DU], t[FFTCONV_DK], t[FFTCONV_DD], gate(c, t, FFTCONV_DPRE), gate(c, t, FFTCONV_DPOST));
}

/* Awkward shapes first: L = 1 and 2, primes, L just past a power of two, B or H = 1. */
static const char *const check_shapes[] = {
    "B=1,H=1,L=1",         "B=1,H=1,L=2,gelu=1",  "B=2,H=3,L=7",          "B=1,H=2,L=17,gelu=1",
    "B=3,H=2,L=97",        "B=2,H=5,L=128,gelu=1", "B=1,H=3,L=255",        "B=2,H=2,L=257",
    "B=2,H=2,L=1000",      "B=1,H=1,L=1031,gelu=1", "B=2,H=4,L=4096",       "B=1,H=2,L=4099",
    /* gated: L = 1, odd B (an unpaired row for variants that pair rows), primes, L past 2^k */
    "B=1,H=1,L=1,gates=1", "B=3,H=2,L=19,gelu=1,gates=1", "B=2,H=3,L=300,gates=1", "B=1,H=2,L=1031,gelu=1,gates=1",
    NULL};
static const char *const ci_shapes[] = {"B=2,H=8,L=256", "B=2,H=8,L=1024", "B=2,H=8,L=4096", NULL};
static const char *const quick_shapes[] = {"B=4,H=16,L=256", "B=4,H=16,L=1024", "B=4,H=16,L=4096",
                                           "B=4,H=16,L=16384", "B=4,H=16,L=4096,gelu=1", NULL};
/* FlashFFTConv's shapes twice: ungated (H3's convolution, claim 1) and gated (the README's setting,
 * claim 2) */
static const char *const paper_shapes[] = {
    "B=64,H=768,L=256",         "B=64,H=768,L=1024",         "B=64,H=768,L=4096",         "B=64,H=768,L=8192",
    "B=64,H=768,L=16384",       "B=64,H=768,L=32768",        "B=64,H=768,L=256,gates=1",  "B=64,H=768,L=1024,gates=1",
    "B=64,H=768,L=4096,gates=1", "B=64,H=768,L=8192,gates=1", "B=64,H=768,L=16384,gates=1", "B=64,H=768,L=32768,gates=1",
    NULL};

/* gates=0 stays out of configuration names, so ungated results keep the names they had before
 * the parameter existed (and match the committed baselines) */
static const char *const quiet_defaults[] = {"gates", NULL};

/* the Monarch (DFT-as-GEMMs) variants against the FFT-library variants on the same device */
static const char *const speedup_pairs[] = {"cpu.monarch_fft:cpu.fftw", "cuda.flashconv:cuda.cufft",
                                            "cuda.flashconv.bf16:cuda.cufft", NULL};

const smx_op smx_op_fftconv = {
    .name = "fftconv",
    .summary = "causal long convolution y = causal_conv(u, k) + D*u (+GELU, +pre/post gates): H3 FlashConv / FlashFFTConv",
    .n_params = 5,
    .params = params,
    .n_tensors = FFTCONV_NSLOTS,
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
    .speedup_pairs = speedup_pairs,
    .quiet_defaults = quiet_defaults,
    .sweep_param = "L",
    .shrink_param = "B",
    .paper_note = "FlashFFTConv's shapes (B=64, H=768, L=256..32K), ungated and gated (gates=1, the README's setting); the "
                  "README measured fp16, these are fp32 and bf16 storage; B is halved where tensors and workspace do not fit "
                  "in device memory",
};

/* ---- the `reference` variant: fp32 tensors, fp64 accumulation, the direct sums ---- */

static size_t ref_workspace(const void *state) {
  const smx_config *c = state;
  /* per thread: rows of v (the gated input), g and the dk accumulator */
  return (size_t)P(c, FFTCONV_L) * 3 * sizeof(double) * (size_t)omp_get_max_threads();
}

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  int64_t B = P(c, FFTCONV_B), H = P(c, FFTCONV_H), L = P(c, FFTCONV_L);
  int gelu = (int)P(c, FFTCONV_GELU);
  float *const *t = (float *const *)tv;
  if (p == SMX_FWD)
    forward_mixed(B, H, L, gelu, t[FFTCONV_U], t[FFTCONV_K], t[FFTCONV_D], gate(c, t, FFTCONV_PRE),
                gate(c, t, FFTCONV_POST), t[FFTCONV_Y]);
  else
    backward_mixed(B, H, L, gelu, t[FFTCONV_U], t[FFTCONV_K], t[FFTCONV_D], gate(c, t, FFTCONV_PRE), gate(c, t, FFTCONV_POST),
                   t[FFTCONV_DY], t[FFTCONV_DU], t[FFTCONV_DK], t[FFTCONV_DD], gate(c, t, FFTCONV_DPRE), gate(c, t, FFTCONV_DPOST));
  return SMX_OK;
}

const smx_variant smx_fftconv_reference = {
    .name = "reference",
    .summary = "direct O(L^2) sums, fp32 tensors, fp64 accumulation (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = ref_workspace,
    .run = ref_run,
};
