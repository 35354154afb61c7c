/* embedding: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes)
 * and its reference (a lookup and an in-order scatter-add, fp64 and fp32).
 *
 *   seqmix check --op embedding
 */
#include "reference/embedding.h"

#include <math.h>
#include <stdlib.h>

#include "reference/scratch.h"

#define DEFINE_EMBEDDING(SFX, T_IO, T_ACC)                                                                           \
  static void emb_fwd_##SFX(int64_t T, int64_t d, const T_IO *ids, const T_IO *table, T_IO *y) {                   \
    for (int64_t t = 0; t < T; t++)                                                                                  \
      for (int64_t i = 0; i < d; i++) y[t * d + i] = table[(int64_t)ids[t] * d + i];                                 \
  }                                                                                                                  \
  /* every row's contributions summed in position order */                                                         \
  static void emb_bwd_##SFX(int64_t T, int64_t V, int64_t d, const T_IO *ids, const T_IO *dy, T_IO *dtable) {      \
    T_ACC *acc = smx_ref_scratch((size_t)(V * d) * sizeof(T_ACC));                                                   \
    for (int64_t i = 0; i < V * d; i++) acc[i] = 0;                                                                  \
    for (int64_t t = 0; t < T; t++)                                                                                  \
      for (int64_t i = 0; i < d; i++) acc[(int64_t)ids[t] * d + i] += (T_ACC)dy[t * d + i];                         \
    for (int64_t i = 0; i < V * d; i++) dtable[i] = (T_IO)acc[i];                                                    \
    free(acc);                                                                                                       \
  }

DEFINE_EMBEDDING(f64, double, double)
DEFINE_EMBEDDING(f32, float, float)
DEFINE_EMBEDDING(mixed, float, double)

static const smx_param_desc params[] = {
    {"B", 1, 1 << 20, 64, "batch"},
    {"L", 1, 1 << 24, 256, "sequence length"},
    {"V", 1, 1 << 24, 8192, "vocabulary size (ids are exact in fp32 below 2^24)"},
    {"d", 1, 1 << 16, 128, "embedding width"},
};

static const smx_tensor_desc tensors[EMB_NSLOTS] = {
    [EMB_IDS] = {"ids", SMX_ROLE_INPUT, -1, 0, 0},
    [EMB_TABLE] = {"table", SMX_ROLE_INPUT, -1, 0, 0},
    [EMB_Y] = {"y", SMX_ROLE_OUTPUT, -1, 0, 0},
    [EMB_DY] = {"dy", SMX_ROLE_GRAD_OUT, EMB_Y, 0, 0},
    [EMB_DTABLE] = {"dtable", SMX_ROLE_GRAD_IN, EMB_TABLE, 0, 0},
};

/* y is a copy: exact (k = 0 and a floor of one ulp, which a wrong row would exceed by far). */
static const smx_tolerance tolerance[EMB_NSLOTS] = {
    [EMB_Y] = {0, 1, "a copy of table rows: exact"},
    [EMB_DTABLE] = {2, 4, "sums of dy over the positions of each id, in position order"},
};

static smx_status validate(const smx_config *c) {
  int64_t T = c->v[EMB_B] * c->v[EMB_L], V = c->v[EMB_V], d = c->v[EMB_D];
  if (c->v[EMB_B] > ((int64_t)1 << 31) / c->v[EMB_L] || T * d > ((int64_t)1 << 31) || V * d > ((int64_t)1 << 31))
    return smx_fail(SMX_ERR_INVALID, "embedding B*L=%lld, V=%lld, d=%lld: a tensor exceeds 2^31 elements",
                    (long long)(c->v[EMB_B] * c->v[EMB_L]), (long long)V, (long long)d);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t T = c->v[EMB_B] * c->v[EMB_L], V = c->v[EMB_V], d = c->v[EMB_D];
  switch (slot) {
  case EMB_IDS: return (size_t)T;
  case EMB_TABLE: case EMB_DTABLE: return (size_t)(V * d);
  default: return (size_t)(T * d);
  }
}

/* ids: uniform integers in [0, V) (stored as floats); a small V makes most ids repeat. */
static void shape_input(const smx_config *c, int slot, float *x, size_t n) {
  if (slot != EMB_IDS) return;
  double V = (double)c->v[EMB_V];
  for (size_t i = 0; i < n; i++) {
    double v = floor(((double)x[i] + 1.0) * 0.5 * V);
    x[i] = (float)(v < 0 ? 0 : v > V - 1 ? V - 1 : v);
  }
}

/* The forward moves data; the backward adds one dy element per position and column. */
static double flops(const smx_config *c, smx_pass p) {
  return p == SMX_FWD ? 0.0 : (double)(c->v[EMB_B] * c->v[EMB_L] * c->v[EMB_D]);
}

/* forward: ids read, T rows read and written; backward: ids and dy read, dtable written (V d). */
static double bytes(const smx_config *c, smx_pass p) {
  double T = (double)(c->v[EMB_B] * c->v[EMB_L]), V = (double)c->v[EMB_V], d = (double)c->v[EMB_D];
  return 4.0 * (p == SMX_FWD ? T + 2 * T * d : T + T * d + V * d);
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  int64_t T = c->v[EMB_B] * c->v[EMB_L];
  if (p == SMX_FWD) emb_fwd_f64(T, c->v[EMB_D], t[EMB_IDS], t[EMB_TABLE], t[EMB_Y]);
  else emb_bwd_f64(T, c->v[EMB_V], c->v[EMB_D], t[EMB_IDS], t[EMB_DY], t[EMB_DTABLE]);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  int64_t T = c->v[EMB_B] * c->v[EMB_L];
  if (p == SMX_FWD) emb_fwd_f32(T, c->v[EMB_D], t[EMB_IDS], t[EMB_TABLE], t[EMB_Y]);
  else emb_bwd_f32(T, c->v[EMB_V], c->v[EMB_D], t[EMB_IDS], t[EMB_DY], t[EMB_DTABLE]);
}

/* one token and a one-row table; a tiny vocabulary (every id repeats); a vocabulary larger than
 * the tokens (most rows untouched: zero gradient); odd widths. */
static const char *const check_shapes[] = {"B=1,L=1,V=1,d=1",    "B=2,L=37,V=5,d=13", "B=3,L=64,V=1000,d=32",
                                           "B=1,L=129,V=64,d=64", "B=4,L=16,V=2,d=7",  NULL};
static const char *const ci_shapes[] = {"B=64,L=64,V=8192,d=64", "B=64,L=256,V=8192,d=64", NULL};
static const char *const quick_shapes[] = {"B=64,L=256,V=8192,d=128", "B=64,L=1024,V=8192,d=128", NULL};
static const char *const paper_shapes[] = {"B=64,L=1024,V=8192,d=512", "B=16,L=8192,V=32768,d=1024", NULL};

const smx_op smx_op_embedding = {
    .name = "embedding",
    .summary = "token embedding: ids (B,L) (exact integers stored as floats), table (V,d) -> y (B,L,d); scatter-add backward",
    .n_params = 4,
    .params = params,
    .n_tensors = EMB_NSLOTS,
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
    .paper_note = "no paper figure: the input layer of the trained models (MQAR's V = 8192)",
    .shape_input = shape_input,
};

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  int64_t T = c->v[EMB_B] * c->v[EMB_L];
  if (p == SMX_FWD) emb_fwd_mixed(T, c->v[EMB_D], t[EMB_IDS], t[EMB_TABLE], t[EMB_Y]);
  else emb_bwd_mixed(T, c->v[EMB_V], c->v[EMB_D], t[EMB_IDS], t[EMB_DY], t[EMB_DTABLE]);
  return SMX_OK;
}

const smx_variant smx_embedding_reference = {
    .name = "reference",
    .summary = "row copies; the scatter-add in position order in fp64 (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ref_run,
};
