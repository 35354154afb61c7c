/* shortconv: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes)
 * and its reference: the direct K-tap sums of reference/shortconv_tmpl.h in fp64 (the oracle), in
 * fp32 (the naive evaluation the tolerance rule compares with), and with fp32 tensors and fp64
 * accumulation (the `reference` variant).
 *
 *   seqmix check --op shortconv            # every variant against this reference
 */
#include "reference/shortconv.h"

#include <math.h>
#include <stdlib.h>

#define T_IO double
#define T_ACC double
#define FN(n) n##_f64
#include "reference/shortconv_tmpl.h"
#undef T_IO
#undef T_ACC
#undef FN

#define T_IO float
#define T_ACC float
#define FN(n) n##_f32
#include "reference/shortconv_tmpl.h"
#undef T_IO
#undef T_ACC
#undef FN

#define T_IO float
#define T_ACC double
#define FN(n) n##_mixed
#include "reference/shortconv_tmpl.h"

static const smx_param_desc params[] = {
    {"B", 1, 1 << 20, 4, "batch"},
    {"H", 1, 1 << 20, 16, "channels, each with its own K taps"},
    {"L", 1, 1 << 26, 1024, "sequence length"},
    {"K", 2, 4, 4, "taps (H3's shift SSM: 2..4; Mamba and M2: 4)"},
    {"bias", 0, 1, 1, "1 = a per-channel bias"},
};

static const smx_tensor_desc tensors[SHORTCONV_NSLOTS] = {
    [SHORTCONV_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},
    [SHORTCONV_W] = {"w", SMX_ROLE_INPUT, -1, 0, 0},
    [SHORTCONV_BIAS] = {"bias", SMX_ROLE_INPUT, -1, 0, 0},
    [SHORTCONV_Y] = {"y", SMX_ROLE_OUTPUT, -1, 0, 0},
    [SHORTCONV_DY] = {"dy", SMX_ROLE_GRAD_OUT, SHORTCONV_Y, 0, 0},
    [SHORTCONV_DX] = {"dx", SMX_ROLE_GRAD_IN, SHORTCONV_X, 0, 0},
    [SHORTCONV_DW] = {"dw", SMX_ROLE_GRAD_IN, SHORTCONV_W, 0, 0},
    [SHORTCONV_DBIAS] = {"dbias", SMX_ROLE_GRAD_IN, SHORTCONV_BIAS, 0, 0},
};

/* Tolerances (check.h rule), every floor against the sum of |terms| (floor_scale below), since
 * each output is a sum that may cancel. y and dx sum at most K + 1 products: a variant that fuses
 * them (FMA) rounds differently from the naive sum by a few eps. dw and dbias sum B*L terms per
 * channel in an order the variant picks (fp64 on the CPU, fp64 block trees on the GPU). */
static const smx_tolerance tolerance[SHORTCONV_NSLOTS] = {
    [SHORTCONV_Y] = {2, 4, "at most K + 1 = 5 products; floor against sum|w x| + |bias|"},
    [SHORTCONV_DX] = {2, 4, "at most K = 4 products; floor against sum|w dy|"},
    [SHORTCONV_DW] = {2, 4, "B*L products per tap, summed in another order; floor against sum|dy x|"},
    [SHORTCONV_DBIAS] = {2, 4, "B*L terms per channel, summed in another order; floor against sum|dy|"},
};

static int64_t P(const smx_config *c, int i) { return c->v[i]; }

static double max_abs(const double *v, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
  return m;
}

static double floor_scale(const smx_config *c, int slot, double *const *t) {
  int64_t B = P(c, SHORTCONV_PB), H = P(c, SHORTCONV_PH), L = P(c, SHORTCONV_PL), K = P(c, SHORTCONV_PK);
  int bias = (int)P(c, SHORTCONV_PBIAS);
  double worst = 0;
  if (slot == SHORTCONV_Y || slot == SHORTCONV_DX) {
    const double *v = t[slot == SHORTCONV_Y ? SHORTCONV_X : SHORTCONV_DY];
    double vmax = max_abs(v, (size_t)(B * H * L));
    for (int64_t h = 0; h < H; h++) {
      double s = 0;
      for (int64_t j = 0; j < K; j++) s += fabs(t[SHORTCONV_W][h * K + j]);
      s *= vmax;
      if (slot == SHORTCONV_Y && bias) s += fabs(t[SHORTCONV_BIAS][h]);
      worst = fmax(worst, s);
    }
    return worst;
  }
  for (int64_t h = 0; h < H; h++) {
    for (int64_t j = 0; j < (slot == SHORTCONV_DW ? K : 1); j++) {
      double s = 0;
      for (int64_t b = 0; b < B; b++) {
        const double *dy = t[SHORTCONV_DY] + (b * H + h) * L, *x = t[SHORTCONV_X] + (b * H + h) * L;
        for (int64_t tt = 0; tt < L; tt++) {
          int64_t src = tt - (K - 1) + j;
          if (slot == SHORTCONV_DBIAS) s += fabs(dy[tt]);
          else if (src >= 0) s += fabs(dy[tt] * x[src]);
        }
      }
      worst = fmax(worst, s);
    }
  }
  return worst;
}

static smx_status validate(const smx_config *c) {
  int64_t B = P(c, SHORTCONV_PB), H = P(c, SHORTCONV_PH), L = P(c, SHORTCONV_PL);
  const int64_t max_elems = (int64_t)1 << 31;
  if (B * H > max_elems / L)
    return smx_fail(SMX_ERR_INVALID, "shortconv B*H*L = %lld*%lld*%lld is too large (at most 2^31 elements per tensor)",
                    (long long)B, (long long)H, (long long)L);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t B = P(c, SHORTCONV_PB), H = P(c, SHORTCONV_PH), L = P(c, SHORTCONV_PL), K = P(c, SHORTCONV_PK);
  switch (slot) {
  case SHORTCONV_X: case SHORTCONV_Y: case SHORTCONV_DY: case SHORTCONV_DX: return (size_t)(B * H * L);
  case SHORTCONV_W: case SHORTCONV_DW: return (size_t)(H * K);
  case SHORTCONV_BIAS: case SHORTCONV_DBIAS: return P(c, SHORTCONV_PBIAS) ? (size_t)H : 0;
  }
  return 0;
}

/* Useful work: a multiply-add per tap and output (2 flops), the bias add; backward the same for
 * dx and for dw, plus the dbias sum. */
static double flops(const smx_config *c, smx_pass p) {
  double n = (double)P(c, SHORTCONV_PB) * (double)P(c, SHORTCONV_PH) * (double)P(c, SHORTCONV_PL);
  double K = (double)P(c, SHORTCONV_PK), bias = (double)P(c, SHORTCONV_PBIAS);
  if (p == SMX_FWD) return n * (2 * K + bias);
  return n * (4 * K + bias);
}

/* Compulsory traffic: forward reads x, w, bias and writes y; backward reads x, dy, w and writes
 * dx, dw, dbias. A memory-bound op: this is what "% of memory bandwidth" divides. */
static double bytes(const smx_config *c, smx_pass p) {
  double n = (double)P(c, SHORTCONV_PB) * (double)P(c, SHORTCONV_PH) * (double)P(c, SHORTCONV_PL);
  double H = (double)P(c, SHORTCONV_PH), K = (double)P(c, SHORTCONV_PK), bias = (double)P(c, SHORTCONV_PBIAS);
  if (p == SMX_FWD) return 4 * (2 * n + H * K + H * bias);
  return 4 * (3 * n + 2 * H * K + H * bias);
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  int64_t B = P(c, SHORTCONV_PB), H = P(c, SHORTCONV_PH), L = P(c, SHORTCONV_PL), K = P(c, SHORTCONV_PK);
  int bias = (int)P(c, SHORTCONV_PBIAS);
  if (p == SMX_FWD)
    forward_f64(B, H, L, K, t[SHORTCONV_X], t[SHORTCONV_W], bias ? t[SHORTCONV_BIAS] : NULL, t[SHORTCONV_Y]);
  else
    backward_f64(B, H, L, K, t[SHORTCONV_X], t[SHORTCONV_W], t[SHORTCONV_DY], t[SHORTCONV_DX], t[SHORTCONV_DW],
                 bias ? t[SHORTCONV_DBIAS] : NULL);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  int64_t B = P(c, SHORTCONV_PB), H = P(c, SHORTCONV_PH), L = P(c, SHORTCONV_PL), K = P(c, SHORTCONV_PK);
  int bias = (int)P(c, SHORTCONV_PBIAS);
  if (p == SMX_FWD)
    forward_f32(B, H, L, K, t[SHORTCONV_X], t[SHORTCONV_W], bias ? t[SHORTCONV_BIAS] : NULL, t[SHORTCONV_Y]);
  else
    backward_f32(B, H, L, K, t[SHORTCONV_X], t[SHORTCONV_W], t[SHORTCONV_DY], t[SHORTCONV_DX], t[SHORTCONV_DW],
                 bias ? t[SHORTCONV_DBIAS] : NULL);
}

/* Awkward shapes: L shorter than K (every output in the warm-up), L = K, primes, every K, without bias. */
static const char *const check_shapes[] = {
    "B=1,H=1,L=1,K=4",       "B=1,H=2,L=2,K=3,bias=0", "B=2,H=3,L=3,K=3",      "B=2,H=3,L=7,K=2",
    "B=3,H=5,L=97,K=4",      "B=1,H=4,L=128,K=2,bias=0", "B=2,H=7,L=1031,K=3",  "B=2,H=16,L=4099,K=4",
    NULL};
static const char *const ci_shapes[] = {"B=2,H=64,L=1024,K=4", "B=2,H=64,L=4096,K=4", NULL};
static const char *const quick_shapes[] = {"B=4,H=256,L=1024,K=4", "B=4,H=256,L=4096,K=4", "B=4,H=256,L=4096,K=2",
                                           "B=4,H=256,L=16384,K=4", NULL};
/* FlashFFTConv's short depthwise conv table: b = 16, L = 1K..8K, D = 768..8192 (k = 5 there; here 4). */
static const char *const paper_shapes[] = {"B=16,H=768,L=1024,K=4", "B=16,H=768,L=4096,K=4",
                                           "B=16,H=768,L=8192,K=4", "B=16,H=2048,L=8192,K=4",
                                           "B=16,H=8192,L=8192,K=4", NULL};

const smx_op smx_op_shortconv = {
    .name = "shortconv",
    .summary = "causal depthwise short convolution, K = 2..4 taps (+bias): H3's shift SSM, M2's and Mamba's conv1d",
    .n_params = 5,
    .params = params,
    .n_tensors = SHORTCONV_NSLOTS,
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
    .sweep_param = "L",
    .shrink_param = "B",
    .paper_note = "FlashFFTConv's depthwise-conv shapes (b = 16, L = 1K..8K, D = 768..8192) with K = 4 instead of 5 "
                  "(Mamba's and M2's width; K is at most 4 here), fp32",
    .plot_tokens_per_s = 1,
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  int64_t B = P(c, SHORTCONV_PB), H = P(c, SHORTCONV_PH), L = P(c, SHORTCONV_PL), K = P(c, SHORTCONV_PK);
  int bias = (int)P(c, SHORTCONV_PBIAS);
  float *const *t = (float *const *)tv;
  if (p == SMX_FWD)
    forward_mixed(B, H, L, K, t[SHORTCONV_X], t[SHORTCONV_W], bias ? t[SHORTCONV_BIAS] : NULL, t[SHORTCONV_Y]);
  else
    backward_mixed(B, H, L, K, t[SHORTCONV_X], t[SHORTCONV_W], t[SHORTCONV_DY], t[SHORTCONV_DX], t[SHORTCONV_DW],
                   bias ? t[SHORTCONV_DBIAS] : NULL);
  return SMX_OK;
}

const smx_variant smx_shortconv_reference = {
    .name = "reference",
    .summary = "direct K-tap sums, fp32 tensors, fp64 accumulation (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};
