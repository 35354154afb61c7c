/* hyena_filter: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes)
 * and its reference (reference/hyena_filter_tmpl.h in fp64, fp32 and mixed precision), plus the
 * positional features and decay rates every variant uses.
 *
 *   seqmix check --op hyena_filter
 */
#include "reference/hyena_filter.h"

#include <math.h>
#include <stdlib.h>

#include "reference/scratch.h"

#define T_IO double
#define T_ACC double
#define SIN_FN sin
#define COS_FN cos
#define EXP_FN exp
#define FN(n) n##_f64
#include "reference/hyena_filter_tmpl.h"
#undef T_IO
#undef T_ACC
#undef SIN_FN
#undef COS_FN
#undef EXP_FN
#undef FN

#define T_IO float
#define T_ACC float
#define SIN_FN sinf
#define COS_FN cosf
#define EXP_FN expf
#define FN(n) n##_f32
#include "reference/hyena_filter_tmpl.h"
#undef T_IO
#undef T_ACC
#undef SIN_FN
#undef COS_FN
#undef EXP_FN
#undef FN

#define T_IO float
#define T_ACC double
#define SIN_FN sin
#define COS_FN cos
#define EXP_FN exp
#define FN(n) n##_mixed
#include "reference/hyena_filter_tmpl.h"

static const double PI = 3.14159265358979323846;

/* torch.linspace(a, b, n)[i] (n = 1: a) */
static double linspace(double a, double b, int64_t n, int64_t i) { return n > 1 ? a + (b - a) * (double)i / (double)(n - 1) : a; }

void smx_hyena_features(int64_t L, int64_t E, double *z, double *tn) {
  int64_t nb = (E - 1) / 2;
  for (int64_t t = 0; t < L; t++) {
    double w = 2 * PI * (double)t / (double)L;
    tn[t] = linspace(0, 1, L, t);
    double *zt = z + t * E;
    zt[0] = tn[t];
    for (int64_t j = 0; j < nb; j++) {
      double f = linspace(1e-4, (double)(nb - 1), nb, j);
      zt[1 + j] = cos(f * w);
      zt[1 + nb + j] = -sin(f * w);
    }
  }
}

/* |delta_h|: ExponentialModulation's rates between ln(target)/slow_pct and ln(target)/fast_pct
 * (target 1e-2, 1.5 and 0.3: the slowest channel decays to 1e-2 at t = 1.5, the fastest at 0.3) */
double smx_hyena_decay_rate(int64_t H, int64_t h) { return fabs(linspace(log(1e-2) / 1.5, log(1e-2) / 0.3, H, h)); }

static const smx_param_desc params[] = {
    {"H", 1, 1 << 16, 768, "channels (d_model): one filter each"},
    {"L", 1, 1 << 20, 1024, "filter length (the sequence length; also the positional grid's seq_len)"},
    {"emb", 3, 63, 3, "positional feature width E (odd): time, then cos and sin of (E-1)/2 bands"},
    {"order", 1, 1024, 16, "MLP width F (M2-BERT's hyena_filter_order)"},
};

static const smx_tensor_desc tensors[HYF_NSLOTS] = {
    [HYF_W1] = {"W1", SMX_ROLE_INPUT, -1, 0, 0},         [HYF_B1] = {"b1", SMX_ROLE_INPUT, -1, 0, 0},
    [HYF_W2] = {"W2", SMX_ROLE_INPUT, -1, 0, 0},         [HYF_B2] = {"b2", SMX_ROLE_INPUT, -1, 0, 0},
    [HYF_W3] = {"W3", SMX_ROLE_INPUT, -1, 0, 0},         [HYF_B3] = {"b3", SMX_ROLE_INPUT, -1, 0, 0},
    [HYF_W4] = {"W4", SMX_ROLE_INPUT, -1, 0, 0},         [HYF_FREQ] = {"freq", SMX_ROLE_INPUT, -1, 0, 0},
    [HYF_K] = {"k", SMX_ROLE_OUTPUT, -1, 0, 0},          [HYF_DK] = {"dk", SMX_ROLE_GRAD_OUT, HYF_K, 0, 0},
    [HYF_DW1] = {"dW1", SMX_ROLE_GRAD_IN, HYF_W1, 0, 0}, [HYF_DB1] = {"db1", SMX_ROLE_GRAD_IN, HYF_B1, 0, 0},
    [HYF_DW2] = {"dW2", SMX_ROLE_GRAD_IN, HYF_W2, 0, 0}, [HYF_DB2] = {"db2", SMX_ROLE_GRAD_IN, HYF_B2, 0, 0},
    [HYF_DW3] = {"dW3", SMX_ROLE_GRAD_IN, HYF_W3, 0, 0}, [HYF_DB3] = {"db3", SMX_ROLE_GRAD_IN, HYF_B3, 0, 0},
    [HYF_DW4] = {"dW4", SMX_ROLE_GRAD_IN, HYF_W4, 0, 0}, [HYF_DFREQ] = {"dfreq", SMX_ROLE_GRAD_IN, HYF_FREQ, 0, 0},
};

/* k = 2 against the naive fp32 evaluation (the same per-position loops in fp32); the floor covers
 * the GEMM variant's other summation orders and fp32 sin/cos. Weight gradients sum over the L
 * positions. */
static const smx_tolerance tolerance[HYF_NSLOTS] = {
    [HYF_K] = {2, 16, "three F-term layers through sin, then an F-term output dot product"},
    [HYF_DW1] = {2, 16, "sums over L positions of da1 z"},
    [HYF_DB1] = {2, 16, "sums over L positions of da1"},
    [HYF_DW2] = {2, 16, "sums over L positions of da2 s1"},
    [HYF_DB2] = {2, 16, "sums over L positions of da2"},
    [HYF_DW3] = {2, 16, "sums over L positions of da3 s2"},
    [HYF_DB3] = {2, 16, "sums over L positions of da3"},
    [HYF_DW4] = {2, 16, "sums over L positions of dk decay s3"},
    [HYF_DFREQ] = {2, 16, "sums over L positions and three layers of g a"},
};

static int64_t P(const smx_config *c, int i) { return c->v[i]; }

static smx_status validate(const smx_config *c) {
  int64_t H = P(c, HYF_PH), L = P(c, HYF_PL), E = P(c, HYF_PE), F = P(c, HYF_PF);
  if (E % 2 == 0)
    return smx_fail(SMX_ERR_INVALID, "hyena_filter emb = %lld must be odd (time, then a cos and a sin per band)",
                    (long long)E);
  if (H > ((int64_t)1 << 31) / L)
    return smx_fail(SMX_ERR_INVALID, "hyena_filter H*L = %lld*%lld is too large (at most 2^31 elements)", (long long)H,
                    (long long)L);
  if (F * L > ((int64_t)1 << 28))
    return smx_fail(SMX_ERR_INVALID, "hyena_filter order*L = %lld*%lld is too large (at most 2^28: the per-position "
                    "activations are kept)", (long long)F, (long long)L);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t H = P(c, HYF_PH), L = P(c, HYF_PL), E = P(c, HYF_PE), F = P(c, HYF_PF);
  switch (slot) {
  case HYF_W1: case HYF_DW1: return (size_t)(F * E);
  case HYF_W2: case HYF_W3: case HYF_DW2: case HYF_DW3: return (size_t)(F * F);
  case HYF_W4: case HYF_DW4: return (size_t)(H * F);
  case HYF_B1: case HYF_B2: case HYF_B3: case HYF_FREQ:
  case HYF_DB1: case HYF_DB2: case HYF_DB3: case HYF_DFREQ: return (size_t)F;
  case HYF_K: case HYF_DK: return (size_t)(H * L);
  }
  return 0;
}

/* Multiply-adds per position of the MLP and the output layer (forward); 3 F sines and H products
 * with the decay window are counted as one flop each. Backward: the two products per weight
 * (gradient of the weight, gradient of the input) plus the recomputed forward is not counted. */
static double fwd_macs(const smx_config *c) {
  double H = (double)P(c, HYF_PH), E = (double)P(c, HYF_PE), F = (double)P(c, HYF_PF);
  return F * E + 2 * F * F + H * F;
}
static double flops(const smx_config *c, smx_pass p) {
  double L = (double)P(c, HYF_PL), H = (double)P(c, HYF_PH), F = (double)P(c, HYF_PF);
  double per = 2 * fwd_macs(c) + 3 * F + H;
  return p == SMX_FWD ? L * per : L * (2 * per);
}
static double bytes(const smx_config *c, smx_pass p) {
  double H = (double)P(c, HYF_PH), L = (double)P(c, HYF_PL), E = (double)P(c, HYF_PE), F = (double)P(c, HYF_PF);
  double w = F * E + 2 * F * F + H * F + 4 * F;
  return p == SMX_FWD ? 4 * (w + H * L) : 4 * (2 * w + H * L);
}
static double reference_cost(const smx_config *c, smx_pass p) {
  return (double)P(c, HYF_PL) * fwd_macs(c) * (p == SMX_FWD ? 1 : 3);
}

typedef struct consts {
  double *z, *tn, *rate;
} consts;

static void consts_make(const smx_config *c, consts *k) {
  int64_t H = P(c, HYF_PH), L = P(c, HYF_PL), E = P(c, HYF_PE);
  k->z = smx_ref_scratch((size_t)(L * E) * sizeof(double));
  k->tn = smx_ref_scratch((size_t)L * sizeof(double));
  k->rate = smx_ref_scratch((size_t)H * sizeof(double));
  smx_hyena_features(L, E, k->z, k->tn);
  for (int64_t h = 0; h < H; h++) k->rate[h] = smx_hyena_decay_rate(H, h);
}
static void consts_free(consts *k) {
  free(k->z);
  free(k->tn);
  free(k->rate);
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  consts k;
  consts_make(c, &k);
  if (p == SMX_FWD) forward_f64(P(c, HYF_PH), P(c, HYF_PL), P(c, HYF_PE), P(c, HYF_PF), k.z, k.tn, k.rate, t);
  else backward_f64(P(c, HYF_PH), P(c, HYF_PL), P(c, HYF_PE), P(c, HYF_PF), k.z, k.tn, k.rate, t);
  consts_free(&k);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  consts k;
  consts_make(c, &k);
  if (p == SMX_FWD) forward_f32(P(c, HYF_PH), P(c, HYF_PL), P(c, HYF_PE), P(c, HYF_PF), k.z, k.tn, k.rate, t);
  else backward_f32(P(c, HYF_PH), P(c, HYF_PL), P(c, HYF_PE), P(c, HYF_PF), k.z, k.tn, k.rate, t);
  consts_free(&k);
}

/* L = 1 and 2, odd L, emb 3 to 7, order 1 to 32, H = 1 and a few hundred */
static const char *const check_shapes[] = {
    "H=1,L=1,emb=3,order=1",   "H=3,L=2,emb=3,order=4",   "H=5,L=17,emb=5,order=8",  "H=16,L=100,emb=3,order=16",
    "H=7,L=257,emb=7,order=5", "H=64,L=1000,emb=3,order=16", "H=300,L=129,emb=5,order=32", NULL};
static const char *const ci_shapes[] = {"H=128,L=1024,emb=3,order=16", NULL};
static const char *const quick_shapes[] = {"H=768,L=1024,emb=3,order=16", "H=768,L=4096,emb=3,order=16",
                                           "H=768,L=4096,emb=5,order=128", NULL};
static const char *const paper_shapes[] = {"H=768,L=512,emb=5,order=128",  "H=768,L=1024,emb=5,order=128",
                                           "H=768,L=2048,emb=5,order=128", "H=768,L=4096,emb=5,order=128",
                                           "H=768,L=8192,emb=5,order=128", NULL};

static const char *const speedup_pairs[] = {"cuda.blas:cpu.blas", NULL};

const smx_op smx_op_hyena_filter = {
    .name = "hyena_filter",
    .summary = "M2-BERT's implicit long-conv filter: positional features -> sine MLP -> exponential decay, k (H, L)",
    .n_params = 4,
    .params = params,
    .n_tensors = HYF_NSLOTS,
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
    .sweep_param = "L",
    .speedup_pairs = speedup_pairs,
    .paper_note = "M2-BERT-base's filter (d_model 768, emb 5, order 128) at its sequence lengths 512..8192; the filter is "
                  "computed once per layer and step, not per token",
};

/* ---- the `reference` variant: fp32 tensors, fp64 arithmetic ---- */

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  consts k;
  consts_make(c, &k);
  if (p == SMX_FWD) forward_mixed(P(c, HYF_PH), P(c, HYF_PL), P(c, HYF_PE), P(c, HYF_PF), k.z, k.tn, k.rate, t);
  else backward_mixed(P(c, HYF_PH), P(c, HYF_PL), P(c, HYF_PE), P(c, HYF_PF), k.z, k.tn, k.rate, t);
  consts_free(&k);
  return SMX_OK;
}

const smx_variant smx_hyena_filter_reference = {
    .name = "reference",
    .summary = "one position at a time, the MLP as plain dot products; fp32 tensors, fp64 arithmetic (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};
