/* ssd and ssd_decode: the ops' definitions (parameters, tensors, FLOP and byte counts, tolerances,
 * input distributions, shapes) and their references (reference/ssd_tmpl.h: the quadratic form in
 * fp64, fp32 and mixed precision). reference/ssd.h states the math.
 *
 *   seqmix check --op ssd
 *   seqmix check --op ssd_decode
 */
#include "reference/ssd.h"

#include <math.h>
#include <stdlib.h>

#include "reference/scratch.h"

#define T_IO double
#define T_ACC double
#define EXP exp
#define FN(n) n##_f64
#include "reference/ssd_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef FN

#define T_IO float
#define T_ACC float
#define EXP expf
#define FN(n) n##_f32
#include "reference/ssd_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef FN

#define T_IO float
#define T_ACC double
#define EXP exp
#define FN(n) n##_mixed
#include "reference/ssd_tmpl.h"
#undef T_IO
#undef T_ACC
#undef EXP
#undef FN

void smx_ssd_rope_tables_f64(int64_t pos0, int64_t L, int64_t N, double *cos_t, double *sin_t) {
  int64_t half = N / 2;
  for (int64_t t = 0; t < L; t++)
    for (int64_t i = 0; i < half; i++) {
      double a = (double)(pos0 + t) * pow(SSD_ROPE_THETA, -(double)(2 * i) / (double)N);
      cos_t[t * half + i] = cos(a);
      sin_t[t * half + i] = sin(a);
    }
}

void smx_ssd_rope_tables_f32(int64_t pos0, int64_t L, int64_t N, float *cos_t, float *sin_t) {
  int64_t half = N / 2;
  for (int64_t t = 0; t < L; t++)
    for (int64_t i = 0; i < half; i++) {
      double a = (double)(pos0 + t) * pow(SSD_ROPE_THETA, -(double)(2 * i) / (double)N);
      cos_t[t * half + i] = (float)cos(a);
      sin_t[t * half + i] = (float)sin(a);
    }
}

ssd_dims smx_ssd_dims(const smx_config *c) {
  ssd_dims d = {c->v[SSD_B], c->v[SSD_L], c->v[SSD_H], c->v[SSD_P], c->v[SSD_G], c->v[SSD_N], c->v[SSD_CHUNK],
                (int)c->v[SSD_ROPE], (int)c->v[SSD_GATE], (int)c->v[SSD_INIT], (int)c->v[SSD_SOFTPLUS]};
  return d;
}

ssd_dims smx_ssd_decode_dims(const smx_config *c, int64_t *pos) {
  ssd_dims d = {c->v[SSDD_B], 1, c->v[SSDD_H], c->v[SSDD_P], c->v[SSDD_G], c->v[SSDD_N], 1,
                (int)c->v[SSDD_ROPE], (int)c->v[SSDD_GATE], 1, (int)c->v[SSDD_SOFTPLUS]};
  if (pos) *pos = c->v[SSDD_POS];
  return d;
}

/* ---- input distributions (shared by ssd and ssd_decode) ----
 * Mamba-2's ranges, stretched to the stress case: A = -exp(A_log) with A_log uniform in
 * [0, ln 16] (Mamba-2 initializes A_log from U(1, 16)), so A in [-16, -1]; per head a time scale
 * delta0(h) log-spaced from 1e-3 to 1 (Mamba-2's dt range is 1e-3 ... 0.1; 1 is the stress end),
 * so some heads remember ~1000 steps (state passing across chunks matters) and some forget in one
 * step (a chunk's total decay reaches 16 * 256). The raw dt scatters around it by e^(+-0.5). */
static double delta0(int64_t h, int64_t H) { return H > 1 ? pow(10.0, -3.0 + 3.0 * (double)h / (double)(H - 1)) : 0.1; }

static void shape_delta(int softplus, int64_t H, int is_bias, float *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int64_t h = (int64_t)(i % (size_t)H);
    double u = v[i];
    if (is_bias) { /* dt_bias: softplus^-1 of the head's scale */
      double d0 = delta0(h, H) * exp(0.25 * u);
      v[i] = (float)log(expm1(d0));
    } else if (softplus) { /* raw dt, added to the bias before softplus */
      v[i] = (float)(0.5 * u);
    } else { /* delta itself */
      v[i] = (float)(delta0(h, H) * exp(0.5 * u));
    }
  }
}

static void shape_A(float *v, size_t n) {
  for (size_t i = 0; i < n; i++) v[i] = (float)-exp(log(16.0) * 0.5 * ((double)v[i] + 1.0));
}

static void shape_input(const smx_config *c, int slot, float *v, size_t n) {
  ssd_dims d = smx_ssd_dims(c);
  if (slot == SSD_A) shape_A(v, n);
  else if (slot == SSD_DT) shape_delta(d.softplus, d.H, 0, v, n);
  else if (slot == SSD_DTBIAS) shape_delta(d.softplus, d.H, 1, v, n);
}

static void decode_shape_input(const smx_config *c, int slot, float *v, size_t n) {
  ssd_dims d = smx_ssd_decode_dims(c, NULL);
  if (slot == SSDD_A) shape_A(v, n);
  else if (slot == SSDD_DT) shape_delta(d.softplus, d.H, 0, v, n);
  else if (slot == SSDD_DTBIAS) shape_delta(d.softplus, d.H, 1, v, n);
}

/* ---------------------------------------------------------------------------------------------
 * ssd */

static const smx_param_desc params[] = {
    {"B", 1, 1 << 20, 1, "batch"},
    {"L", 1, 1 << 24, 256, "sequence length"},
    {"H", 1, 1 << 12, 4, "heads"},
    {"P", 1, 512, 64, "head dimension (x, y)"},
    {"G", 1, 1 << 12, 1, "groups of B and C (divides H; Cheems: G = H)"},
    {"N", 1, 512, 64, "state dimension (B, C; even when rope = 1)"},
    {"chunk", 1, 1024, 64, "chunk length of the chunked variants (Mamba-2: 256); the others ignore it"},
    {"rope", 0, 1, 0, "1 = RoPE on C and B at positions 0..L-1, theta 10000"},
    {"gate", 0, 1, 0, "1 = y * silu(z)"},
    {"init", 0, 1, 0, "1 = an initial state h0"},
    {"softplus", 0, 1, 1, "1 = delta = softplus(dt + dt_bias); 0 = delta = dt"},
};

static const smx_tensor_desc tensors[SSD_NSLOTS] = {
    [SSD_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},
    [SSD_DT] = {"dt", SMX_ROLE_INPUT, -1, 0, 0},
    [SSD_A] = {"A", SMX_ROLE_INPUT, -1, 0, 0},
    [SSD_BM] = {"B", SMX_ROLE_INPUT, -1, 0, 0},
    [SSD_CM] = {"C", SMX_ROLE_INPUT, -1, 0, 0},
    [SSD_D] = {"D", SMX_ROLE_INPUT, -1, 0, 0},
    [SSD_Z] = {"z", SMX_ROLE_INPUT, -1, 0, 0},
    [SSD_DTBIAS] = {"dt_bias", SMX_ROLE_INPUT, -1, 0, 0},
    [SSD_H0] = {"h0", SMX_ROLE_INPUT, -1, 0, 0},
    [SSD_Y] = {"y", SMX_ROLE_OUTPUT, -1, 0, 0},
    [SSD_HT] = {"hT", SMX_ROLE_OUTPUT, -1, 0, 0},
    [SSD_DY] = {"dy", SMX_ROLE_GRAD_OUT, SSD_Y, 0, 0},
    [SSD_DHT] = {"dhT", SMX_ROLE_GRAD_OUT, SSD_HT, 0, 0},
    [SSD_DX] = {"dx", SMX_ROLE_GRAD_IN, SSD_X, 0, 0},
    [SSD_DDT] = {"ddt", SMX_ROLE_GRAD_IN, SSD_DT, 0, 0},
    [SSD_DA] = {"dA", SMX_ROLE_GRAD_IN, SSD_A, 0, 0},
    [SSD_DBM] = {"dB", SMX_ROLE_GRAD_IN, SSD_BM, 0, 0},
    [SSD_DCM] = {"dC", SMX_ROLE_GRAD_IN, SSD_CM, 0, 0},
    [SSD_DD] = {"dD", SMX_ROLE_GRAD_IN, SSD_D, 0, 0},
    [SSD_DZ] = {"dz", SMX_ROLE_GRAD_IN, SSD_Z, 0, 0},
    [SSD_DDTBIAS] = {"ddt_bias", SMX_ROLE_GRAD_IN, SSD_DTBIAS, 0, 0},
    [SSD_DH0] = {"dh0", SMX_ROLE_GRAD_IN, SSD_H0, 0, 0},
};

/* k = 2 against the naive fp32 quadratic form; the floors cover orders of summation (a chunked
 * variant sums a row as intra-chunk + carried state) where the naive error happens to be small.
 * dA and ddt_bias cancel over batch and time while their floor multiplies max|ref|: their floors
 * come from a 300-seed sweep of cpu.chunked (worst c needed in brackets); dB and dC get a
 * floor_scale instead (below). */
static const smx_tolerance tolerance[SSD_NSLOTS] = {
    [SSD_Y] = {2, 16, "decay-weighted sums over the past; chunked variants split each into intra-chunk + state"},
    [SSD_HT] = {2, 16, "decay-weighted sum of L outer products"},
    [SSD_DX] = {2, 16, "sum over future rows"},
    [SSD_DDT] = {2, 32, "dA-chain: sums of decay gradients over every segment crossing the step (cancelling)"},
    [SSD_DA] = {2, 64, "sum over batch and time of the dt-weighted decay gradients, cancelling (worst over 300 seeds: 37)"},
    [SSD_DBM] = {2, 16, "sum over future rows and the group's heads; floor on one uncancelled term (floor_scale)"},
    [SSD_DCM] = {2, 16, "sum over past rows and the group's heads; floor on one uncancelled term (floor_scale)"},
    [SSD_DD] = {2, 16, "sum over batch, time and P of g x"},
    [SSD_DZ] = {2, 16, "elementwise on y0"},
    [SSD_DDTBIAS] = {2, 64, "sum over batch and time of ddt, cancelling"},
    [SSD_DH0] = {2, 16, "sum over rows of decayed g C'^T"},
};

/* dB and dC are sums of w <g_t, u_s> C'_t (resp. B'_s) whose P-term dot <g, u> can cancel to far
 * below its terms (L = 1, small P): their error follows the size of one uncancelled term,
 * sum_p |g_p| max|u| max|C| (rotation can scale a coordinate by up to sqrt 2), when that exceeds
 * max|ref|. Other slots: max|ref|. */
static double floor_scale(const smx_config *c, int slot, double *const *t) {
  if (slot != SSD_DBM && slot != SSD_DCM) return -1;
  ssd_dims d = smx_ssd_dims(c);
  double gmax = 0, umax = 0, mmax = 0, ref = 0;
  int64_t rows = d.B * d.L * d.H;
  for (int64_t r = 0; r < rows; r++) {
    double delta = d.softplus ? smx_ssd_softplus(t[SSD_DT][r] + t[SSD_DTBIAS][r % d.H]) : t[SSD_DT][r], g1 = 0;
    for (int64_t p = 0; p < d.P; p++) {
      double g = t[SSD_DY][r * d.P + p];
      if (d.gate) {
        double z = t[SSD_Z][r * d.P + p];
        g *= z / (1.0 + exp(-z));
      }
      g1 += fabs(g);
      umax = fmax(umax, fabs(delta * t[SSD_X][r * d.P + p]));
    }
    gmax = fmax(gmax, g1);
  }
  const double *m = t[slot == SSD_DBM ? SSD_CM : SSD_BM];
  size_t nm = (size_t)(d.B * d.L * d.G * d.N);
  for (size_t i = 0; i < nm; i++) mmax = fmax(mmax, fabs(m[i]));
  for (size_t i = 0; i < nm; i++) ref = fmax(ref, fabs(t[slot][i]));
  return fmax(ref, gmax * umax * mmax * (d.rope ? sqrt(2.0) : 1.0));
}

static smx_status validate(const smx_config *c) {
  ssd_dims d = smx_ssd_dims(c);
  if (d.H % d.G)
    return smx_fail(SMX_ERR_INVALID, "ssd G=%lld must divide H=%lld (heads share B and C per group)", (long long)d.G,
                    (long long)d.H);
  if (d.rope && d.N % 2)
    return smx_fail(SMX_ERR_INVALID, "ssd N=%lld must be even when rope=1 (rotate-half pairs the two halves)",
                    (long long)d.N);
  const int64_t lim = (int64_t)1 << 31;
  if (d.B * d.H * d.P > lim / d.L || d.B * d.G * d.N > lim / d.L || d.B * d.H * d.P * d.N > lim)
    return smx_fail(SMX_ERR_INVALID,
                    "ssd tensors too large: B*L*H*P = %lld*%lld*%lld*%lld, B*L*G*N and B*H*P*N must each be at most 2^31",
                    (long long)d.B, (long long)d.L, (long long)d.H, (long long)d.P);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  ssd_dims d = smx_ssd_dims(c);
  switch (slot) {
  case SSD_X: case SSD_Y: case SSD_DY: case SSD_DX: return (size_t)(d.B * d.L * d.H * d.P);
  case SSD_Z: case SSD_DZ: return d.gate ? (size_t)(d.B * d.L * d.H * d.P) : 0;
  case SSD_DT: case SSD_DDT: return (size_t)(d.B * d.L * d.H);
  case SSD_A: case SSD_D: case SSD_DA: case SSD_DD: return (size_t)d.H;
  case SSD_DTBIAS: case SSD_DDTBIAS: return d.softplus ? (size_t)d.H : 0;
  case SSD_BM: case SSD_CM: case SSD_DBM: case SSD_DCM: return (size_t)(d.B * d.L * d.G * d.N);
  case SSD_HT: case SSD_DHT: return (size_t)(d.B * d.H * d.P * d.N);
  case SSD_H0: case SSD_DH0: return d.init ? (size_t)(d.B * d.H * d.P * d.N) : 0;
  default: return 0;
  }
}

/* Useful work = the recurrent form's, the least any exact method does: per token and head a P x N
 * state decay-and-update (2PN flops) and readout (2PN); backward five P x N products (the state
 * gradient, dC, dB, dx and the decay gradient: 10PN). Chunked methods do O(chunk (N + P)) more per
 * token to gain matrix-multiply speed, so their FLOP/s reads low by design; compare times. */
static double flops(const smx_config *c, smx_pass p) {
  ssd_dims d = smx_ssd_dims(c);
  double tok = (double)(d.B * d.L * d.H) * (double)(d.P * d.N);
  return (p == SMX_FWD ? 4.0 : 10.0) * tok;
}

static double bytes(const smx_config *c, smx_pass p) {
  double in = 0, out = 0;
  for (int s = 0; s < SSD_NSLOTS; s++) {
    smx_role r = tensors[s].role;
    double n = (double)numel(c, s);
    if (p == SMX_FWD) {
      if (r == SMX_ROLE_INPUT) in += n;
      else if (r == SMX_ROLE_OUTPUT) out += n;
    } else {
      if (r == SMX_ROLE_INPUT || r == SMX_ROLE_GRAD_OUT) in += n;
      else if (r == SMX_ROLE_GRAD_IN) out += n;
    }
  }
  return 4.0 * (in + out);
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  ssd_dims d = smx_ssd_dims(c);
  if (p == SMX_FWD) fwd_f64(&d, t);
  else bwd_f64(&d, t);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  ssd_dims d = smx_ssd_dims(c);
  if (p == SMX_FWD) fwd_f32(&d, t);
  else bwd_f32(&d, t);
}

/* multiply-adds of the quadratic form: (N + P) per pair, three passes over the pairs backward */
static double reference_cost(const smx_config *c, smx_pass p) {
  ssd_dims d = smx_ssd_dims(c);
  double pairs = 0.5 * (double)d.L * (double)(d.L + 1) * (double)(d.B * d.H);
  return (p == SMX_FWD ? 1.0 : 3.0) * pairs * (double)(d.N + d.P);
}

/* L = 1; L not a multiple of the chunk (7/4, 97/16, 130/64, 300/128, 600/256); G = 1, between and
 * = H; P != N, odd P and N without rope; RoPE, gate, initial state and softplus on and off; the
 * issue's stress end (chunk 256, delta up to ~1 with A down to -16) in the 600-long case. */
static const char *const check_shapes[] = {
    "B=1,L=1,H=1,P=4,G=1,N=4,chunk=4",
    "B=1,L=1,H=2,P=4,G=1,N=6,chunk=4,rope=1,gate=1,init=1",
    "B=2,L=7,H=4,P=8,G=2,N=6,chunk=4,rope=1,gate=1,init=1",
    "B=1,L=97,H=4,P=16,G=4,N=8,chunk=16,rope=1",
    "B=1,L=130,H=2,P=32,G=1,N=16,chunk=64,init=1,softplus=0",
    "B=2,L=65,H=3,P=5,G=3,N=9,chunk=32,gate=1",
    "B=1,L=300,H=4,P=8,G=1,N=32,chunk=128,rope=1,gate=1",
    "B=1,L=600,H=4,P=16,G=2,N=16,chunk=256,rope=1,init=1,gate=1",
    NULL};
static const char *const ci_shapes[] = {"B=1,L=256,H=4,P=64,G=1,N=64,chunk=64",
                                        "B=1,L=1024,H=4,P=64,G=1,N=64,chunk=64", NULL};
/* On two cores the quick suite times the crossover with attention at dma's head shape (B = 1,
 * H = 2, P = 64: attention's quick suite has it at L = 256, 1024, 4096), RoPE's overhead there, and
 * the speedups over the reference and cpu.scan at H = 4 (the O(L^2) reference at Mamba-2's full
 * width would take minutes per case). Mamba-2's head shape itself is in the paper suite. */
static const char *const quick_shapes[] = {
    "B=1,L=256,H=2,P=64,G=1,N=64,chunk=256",          "B=1,L=1024,H=2,P=64,G=1,N=64,chunk=256",
    "B=1,L=4096,H=2,P=64,G=1,N=64,chunk=256",         "B=1,L=1024,H=2,P=64,G=1,N=64,chunk=256,rope=1",
    "B=1,L=4096,H=2,P=64,G=1,N=64,chunk=256,rope=1",  "B=1,L=1024,H=4,P=64,G=1,N=128,chunk=256",
    "B=1,L=4096,H=4,P=64,G=1,N=128,chunk=256",        NULL};
static const char *const paper_shapes[] = {
    "B=8,L=512,H=32,P=64,G=1,N=64,chunk=256",   "B=8,L=1024,H=32,P=64,G=1,N=64,chunk=256",
    "B=8,L=2048,H=32,P=64,G=1,N=64,chunk=256",  "B=8,L=4096,H=32,P=64,G=1,N=64,chunk=256",
    "B=8,L=8192,H=32,P=64,G=1,N=64,chunk=256",  "B=8,L=16384,H=32,P=64,G=1,N=64,chunk=256",
    "B=8,L=512,H=32,P=64,G=1,N=128,chunk=256",  "B=8,L=2048,H=32,P=64,G=1,N=128,chunk=256",
    "B=8,L=16384,H=32,P=64,G=1,N=128,chunk=256",
    "B=8,L=2048,H=32,P=64,G=1,N=64,chunk=256,rope=1", "B=8,L=16384,H=32,P=64,G=1,N=64,chunk=256,rope=1",
    "B=1,L=2048,H=32,P=64,G=1,N=64,chunk=256",  "B=1,L=16384,H=32,P=64,G=1,N=64,chunk=256",
    NULL};
static const char *const speedup_pairs[] = {"cpu.chunked:cpu.scan", "cpu.chunked:attention/cpu.flash",
                                            "cuda.chunked:attention/cuda.flash", NULL};

const smx_op smx_op_ssd = {
    .name = "ssd",
    .summary = "Mamba-2 SSD with optional RoPE on C and B: x (B,L,H,P), dt, A, B and C (B,L,G,N), D, z, h0 -> y, hT",
    .n_params = 11,
    .params = params,
    .n_tensors = SSD_NSLOTS,
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
    .shrink_param = "B",
    .paper_note = "Mamba-2's efficiency benchmark head shape (H*P = 2048, P = 64, N = 64/128, chunk 256), L = 512...16K at "
                  "B = 8 and B = 1; attention's paper suite times the same B, L, H, P for the crossover",
    .shape_input = shape_input,
    .speedup_pairs = speedup_pairs,
    .plot_tokens_per_s = 1,
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  ssd_dims d = smx_ssd_dims(state);
  if (p == SMX_FWD) fwd_mixed(&d, (float *const *)tv);
  else bwd_mixed(&d, (float *const *)tv);
  return SMX_OK;
}

const smx_variant smx_ssd_reference = {
    .name = "reference",
    .summary = "the quadratic (1-semiseparable) form, segment sums per pair, fp64 arithmetic, fp32 tensors (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};

/* ---------------------------------------------------------------------------------------------
 * ssd_decode */

static const smx_param_desc decode_params[] = {
    {"B", 1, 1 << 20, 1, "batch (sequences decoding one token each)"},
    {"H", 1, 1 << 12, 32, "heads"},
    {"P", 1, 512, 64, "head dimension"},
    {"G", 1, 1 << 12, 1, "groups of B and C (divides H)"},
    {"N", 1, 512, 128, "state dimension (even when rope = 1)"},
    {"pos", 0, 1 << 30, 0, "the token's position (RoPE angle)"},
    {"rope", 0, 1, 0, "1 = RoPE on C and B"},
    {"gate", 0, 1, 0, "1 = y * silu(z)"},
    {"softplus", 0, 1, 1, "1 = delta = softplus(dt + dt_bias)"},
};

static const smx_tensor_desc decode_tensors[SSDD_NSLOTS] = {
    [SSDD_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},
    [SSDD_DT] = {"dt", SMX_ROLE_INPUT, -1, 0, 0},
    [SSDD_A] = {"A", SMX_ROLE_INPUT, -1, 0, 0},
    [SSDD_BM] = {"B", SMX_ROLE_INPUT, -1, 0, 0},
    [SSDD_CM] = {"C", SMX_ROLE_INPUT, -1, 0, 0},
    [SSDD_D] = {"D", SMX_ROLE_INPUT, -1, 0, 0},
    [SSDD_Z] = {"z", SMX_ROLE_INPUT, -1, 0, 0},
    [SSDD_DTBIAS] = {"dt_bias", SMX_ROLE_INPUT, -1, 0, 0},
    [SSDD_SIN] = {"state_in", SMX_ROLE_INPUT, -1, 0, 0},
    [SSDD_Y] = {"y", SMX_ROLE_OUTPUT, -1, 0, 0},
    [SSDD_SOUT] = {"state_out", SMX_ROLE_OUTPUT, -1, 0, 0},
};

static const smx_tolerance decode_tolerance[SSDD_NSLOTS] = {
    [SSDD_Y] = {2, 8, "N-term readout of the updated state"},
    [SSDD_SOUT] = {2, 4, "one decay-multiply and one update per element"},
};

static smx_status decode_validate(const smx_config *c) {
  ssd_dims d = smx_ssd_decode_dims(c, NULL);
  if (d.H % d.G)
    return smx_fail(SMX_ERR_INVALID, "ssd_decode G=%lld must divide H=%lld", (long long)d.G, (long long)d.H);
  if (d.rope && d.N % 2)
    return smx_fail(SMX_ERR_INVALID, "ssd_decode N=%lld must be even when rope=1", (long long)d.N);
  if (d.B * d.H * d.P * d.N > ((int64_t)1 << 31))
    return smx_fail(SMX_ERR_INVALID, "ssd_decode state B*H*P*N = %lld*%lld*%lld*%lld is too large (at most 2^31)",
                    (long long)d.B, (long long)d.H, (long long)d.P, (long long)d.N);
  return SMX_OK;
}

static size_t decode_numel(const smx_config *c, int slot) {
  ssd_dims d = smx_ssd_decode_dims(c, NULL);
  switch (slot) {
  case SSDD_X: case SSDD_Y: return (size_t)(d.B * d.H * d.P);
  case SSDD_Z: return d.gate ? (size_t)(d.B * d.H * d.P) : 0;
  case SSDD_DT: return (size_t)(d.B * d.H);
  case SSDD_A: case SSDD_D: return (size_t)d.H;
  case SSDD_DTBIAS: return d.softplus ? (size_t)d.H : 0;
  case SSDD_BM: case SSDD_CM: return (size_t)(d.B * d.G * d.N);
  case SSDD_SIN: case SSDD_SOUT: return (size_t)(d.B * d.H * d.P * d.N);
  default: return 0;
  }
}

static double decode_flops(const smx_config *c, smx_pass p) {
  (void)p;
  ssd_dims d = smx_ssd_decode_dims(c, NULL);
  return 5.0 * (double)(d.B * d.H * d.P * d.N); /* decay, update (2), readout (2) per state element */
}

/* the state is read and written once: decode is bandwidth-bound */
static double decode_bytes(const smx_config *c, smx_pass p) {
  (void)p;
  double n = 0;
  for (int s = 0; s < SSDD_NSLOTS; s++) n += (double)decode_numel(c, s);
  return 4.0 * n;
}

static void decode_oracle(const smx_config *c, smx_pass p, double *const *t) {
  int64_t pos;
  ssd_dims d = smx_ssd_decode_dims(c, &pos);
  if (p == SMX_FWD) step_f64(&d, pos, t);
}

static void decode_naive(const smx_config *c, smx_pass p, float *const *t) {
  int64_t pos;
  ssd_dims d = smx_ssd_decode_dims(c, &pos);
  if (p == SMX_FWD) step_f32(&d, pos, t);
}

static const char *const decode_check_shapes[] = {
    "B=1,H=1,P=4,G=1,N=4",       "B=2,H=4,P=8,G=2,N=6,pos=7,rope=1,gate=1",
    "B=3,H=6,P=5,G=3,N=9,gate=1,softplus=0", "B=1,H=8,P=64,G=1,N=128,pos=65535,rope=1",
    "B=2,H=4,P=64,G=4,N=64,pos=100000,rope=1,gate=1", NULL};
static const char *const decode_ci[] = {"B=2,H=32,P=64,G=1,N=128", NULL};
static const char *const decode_quick[] = {"B=4,H=32,P=64,G=1,N=128", "B=4,H=32,P=64,G=1,N=128,rope=1", NULL};
static const char *const decode_paper[] = {"B=1,H=32,P=64,G=1,N=128", "B=8,H=32,P=64,G=1,N=128",
                                           "B=64,H=32,P=64,G=1,N=128", "B=8,H=32,P=64,G=1,N=128,rope=1", NULL};

const smx_op smx_op_ssd_decode = {
    .name = "ssd_decode",
    .summary = "one SSD decode step: x (B,H,P), dt, B and C (B,G,N), state (B,H,P,N) -> y, new state",
    .n_params = 9,
    .params = decode_params,
    .n_tensors = SSDD_NSLOTS,
    .tensors = decode_tensors,
    .validate = decode_validate,
    .numel = decode_numel,
    .flops = decode_flops,
    .bytes = decode_bytes,
    .oracle_f64 = decode_oracle,
    .naive_f32 = decode_naive,
    .tolerance = decode_tolerance,
    .check_shapes = decode_check_shapes,
    .suite_shapes = {decode_ci, decode_quick, decode_paper},
    .sweep_param = "B",
    .shrink_param = "B",
    .paper_note = "Mamba-2's head shape (H = 32, P = 64, N = 128): the state is P*N*4 bytes per head whatever the context",
    .shape_input = decode_shape_input,
};

static smx_status decode_ref_run(void *state, smx_pass p, void *const *tv) {
  int64_t pos;
  ssd_dims d = smx_ssd_decode_dims(state, &pos);
  if (p == SMX_FWD) step_mixed(&d, pos, (float *const *)tv);
  return SMX_OK;
}

const smx_variant smx_ssd_decode_reference = {
    .name = "reference",
    .summary = "the state update and readout in fp64 arithmetic, fp32 tensors (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = decode_ref_run,
};
