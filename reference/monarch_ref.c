/* monarch: the op's definition (parameters, tensors, FLOP and byte counts, tolerances, shapes) and
 * its reference: the dense matrix M materialized from the factors and multiplied directly
 * (reference/monarch_tmpl.h) in fp64 (the oracle), in fp32 (the naive evaluation the tolerance rule
 * compares with), and with fp32 tensors and fp64 accumulation (the `reference` variant).
 *
 *   seqmix check --op monarch            # every variant against this reference
 */
#include "reference/monarch.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "reference/scratch.h"

/* ---- (double, double): the oracle ---- */
#define T_IO double
#define T_ACC double
#define FN(n) n##_f64
#include "reference/monarch_tmpl.h"
#undef T_IO
#undef T_ACC
#undef FN

/* ---- (float, float): the naive fp32 evaluation ---- */
#define T_IO float
#define T_ACC float
#define FN(n) n##_f32
#include "reference/monarch_tmpl.h"
#undef T_IO
#undef T_ACC
#undef FN

/* ---- (float, double): the `reference` variant ---- */
#define T_IO float
#define T_ACC double
#define FN(n) n##_mixed
#include "reference/monarch_tmpl.h"

void smx_monarch_dense_f32(int64_t k, int64_t p, const float *R, const float *L, float *M) { dense_f32(k, p, R, L, M); }

/* p = 0: the largest divisor of n not above sqrt(n) — sqrt(n) for a perfect square, the most
 * balanced factorization otherwise (n = 2048: 64 blocks of 32, then 32 blocks of 64). */
int64_t smx_monarch_p(const smx_config *c) {
  int64_t n = c->v[MONARCH_N], p = c->v[MONARCH_P];
  if (p > 0) return p;
  int64_t best = 1;
  for (int64_t d = 1; d * d <= n; d++)
    if (n % d == 0) best = d;
  return best;
}

static const smx_param_desc params[] = {
    {"B", 1, 1 << 24, 1024, "batch (rows of x, each multiplied by M)"},
    {"n", 1, 1 << 16, 1024, "size of M (n x n), n = k p"},
    {"p", 0, 1 << 16, 0, "block size of R (k = n/p blocks of p x p; L: p blocks of k x k); 0 = the largest "
                         "divisor of n not above sqrt(n)"},
};

static const smx_tensor_desc tensors[MONARCH_NSLOTS] = {
    [MONARCH_X] = {"x", SMX_ROLE_INPUT, -1, 0, 0},           [MONARCH_R] = {"R", SMX_ROLE_INPUT, -1, 0, 0},
    [MONARCH_L] = {"L", SMX_ROLE_INPUT, -1, 0, 0},           [MONARCH_Y] = {"y", SMX_ROLE_OUTPUT, -1, 0, 0},
    [MONARCH_DY] = {"dy", SMX_ROLE_GRAD_OUT, MONARCH_Y, 0, 0}, [MONARCH_DX] = {"dx", SMX_ROLE_GRAD_IN, MONARCH_X, 0, 0},
    [MONARCH_DR] = {"dR", SMX_ROLE_GRAD_IN, MONARCH_R, 0, 0}, [MONARCH_DL] = {"dL", SMX_ROLE_GRAD_IN, MONARCH_L, 0, 0},
};

/* k = 2 against the naive fp32 dense evaluation (each M entry one rounded product, then an n-term
 * fp32 dot product). The factored variants sum p terms and then k terms, a different order with
 * a smaller error bound; the floor covers shapes whose naive error happens to be tiny (n = 1, small
 * blocks), the blocked GEMMs' own summation orders and cuda.fused's 3xTF32 products (a few ulps
 * per product; docs/ops/monarch.md). dR and dL also sum over the batch. */
static const smx_tolerance tolerance[MONARCH_NSLOTS] = {
    [MONARCH_Y] = {2, 16, "a p-term then a k-term dot product per output; naive: n-term dot products of rounded M"},
    [MONARCH_DX] = {2, 16, "the transposed products: k-term then p-term sums per input"},
    [MONARCH_DR] = {2, 16, "B-term sums over the batch of dh x, each dh = L^T dy a k-term sum"},
    [MONARCH_DL] = {2, 16, "B-term sums over the batch of dy h, each h = R x a p-term sum"},
};

static int64_t P(const smx_config *c, int i) { return c->v[i]; }

static smx_status validate(const smx_config *c) {
  int64_t B = P(c, MONARCH_B), n = P(c, MONARCH_N), p = P(c, MONARCH_P);
  if (p > n || (p > 0 && n % p != 0))
    return smx_fail(SMX_ERR_INVALID, "monarch p = %lld must divide n = %lld (n = k p; p = 0 picks one)", (long long)p,
                    (long long)n);
  if (B > (((int64_t)1 << 31) - 1) / n) /* cuBLAS and OpenBLAS take int dimensions */
    return smx_fail(SMX_ERR_INVALID, "monarch B*n = %lld*%lld is too large (at most 2^31 - 1 elements per tensor)",
                    (long long)B, (long long)n);
  return SMX_OK;
}

static size_t numel(const smx_config *c, int slot) {
  int64_t B = P(c, MONARCH_B), n = P(c, MONARCH_N), p = smx_monarch_p(c), k = n / p;
  switch (slot) {
  case MONARCH_X: case MONARCH_Y: case MONARCH_DY: case MONARCH_DX: return (size_t)(B * n);
  case MONARCH_R: case MONARCH_DR: return (size_t)(k * p * p);
  case MONARCH_L: case MONARCH_DL: return (size_t)(p * k * k);
  }
  return 0;
}

/* Useful work: the two block-diagonal products, B n p multiply-adds for R and B n k for L, so
 * 2 B n (p + k) flops forward (dense: 2 B n^2, n / (2 sqrt n) times more for p = k = sqrt n).
 * Backward: dx through both factors and the two weight gradients, twice the forward; the
 * recomputed R x that the weight gradient of L needs is not counted. */
static double flops(const smx_config *c, smx_pass p) {
  double B = (double)P(c, MONARCH_B), n = (double)P(c, MONARCH_N), bp = (double)smx_monarch_p(c), k = n / bp;
  double fwd = 2 * B * n * (bp + k);
  return p == SMX_FWD ? fwd : 2 * fwd;
}

/* Compulsory traffic: x, R, L read and y written (forward); x, dy, R, L read and dx, dR, dL written. */
static double bytes(const smx_config *c, smx_pass p) {
  double B = (double)P(c, MONARCH_B), n = (double)P(c, MONARCH_N), bp = (double)smx_monarch_p(c), k = n / bp;
  double w = n * (bp + k);
  return p == SMX_FWD ? 4 * (2 * B * n + w) : 4 * (4 * B * n + 2 * w);
}

/* The dense products: B n^2 forward, 2 B n^2 + the two n^2 (p or k)-term contractions backward,
 * plus building M. */
static double reference_cost(const smx_config *c, smx_pass p) {
  double B = (double)P(c, MONARCH_B), n = (double)P(c, MONARCH_N), bp = (double)smx_monarch_p(c), k = n / bp;
  return p == SMX_FWD ? (B + 1) * n * n : (2 * B + 1) * n * n + n * n * (bp + k) / 2;
}

static void oracle_f64(const smx_config *c, smx_pass p, double *const *t) {
  int64_t B = P(c, MONARCH_B), bp = smx_monarch_p(c), k = smx_monarch_k(c), n = k * bp;
  double *M = smx_ref_scratch((size_t)(n * n) * sizeof(double));
  if (p == SMX_FWD) {
    forward_f64(B, k, bp, t[MONARCH_X], t[MONARCH_R], t[MONARCH_L], t[MONARCH_Y], M);
  } else {
    double *G = smx_ref_scratch((size_t)(n * n) * sizeof(double));
    backward_f64(B, k, bp, t[MONARCH_X], t[MONARCH_R], t[MONARCH_L], t[MONARCH_DY], t[MONARCH_DX], t[MONARCH_DR],
                 t[MONARCH_DL], M, G);
    free(G);
  }
  free(M);
}

static void naive_f32(const smx_config *c, smx_pass p, float *const *t) {
  int64_t B = P(c, MONARCH_B), bp = smx_monarch_p(c), k = smx_monarch_k(c), n = k * bp;
  float *M = smx_ref_scratch((size_t)(n * n) * sizeof(float));
  if (p == SMX_FWD) {
    forward_f32(B, k, bp, t[MONARCH_X], t[MONARCH_R], t[MONARCH_L], t[MONARCH_Y], M);
  } else {
    float *G = smx_ref_scratch((size_t)(n * n) * sizeof(float));
    backward_f32(B, k, bp, t[MONARCH_X], t[MONARCH_R], t[MONARCH_L], t[MONARCH_DY], t[MONARCH_DX], t[MONARCH_DR],
                 t[MONARCH_DL], M, G);
    free(G);
  }
  free(M);
}

/* n = 1; rectangular factorizations (n = 12 as 3 x 4 and 4 x 3, n = 96, 512 with blocks of 4 and
 * 128); squares from 4 to 64; odd batches throughout; n = 4096 (the quick suite's size). */
static const char *const check_shapes[] = {
    "B=1,n=1",          "B=3,n=12,p=4",     "B=5,n=12,p=3",     "B=7,n=16",        "B=1,n=60",
    "B=9,n=64",         "B=3,n=96,p=8",     "B=5,n=128,p=4",    "B=3,n=256,p=16",  "B=3,n=512,p=128",
    "B=5,n=512,p=4",    "B=3,n=512,p=32",   "B=17,n=1024",      "B=3,n=2048",      "B=3,n=4096",
    NULL};
static const char *const ci_shapes[] = {"B=64,n=256", "B=64,n=1024", NULL};
static const char *const quick_shapes[] = {"B=1024,n=1024", "B=1024,n=4096", NULL};
static const char *const paper_shapes[] = {
    "B=1024,n=1024",  "B=1024,n=2048",  "B=1024,n=4096",  "B=1024,n=8192",  "B=1024,n=16384",
    "B=16384,n=1024", "B=16384,n=2048", "B=16384,n=4096", "B=16384,n=8192", "B=16384,n=16384", NULL};
/* Each variant over its device's dense baseline is drawn anyway (same-device baselines); the fused
 * kernel is also set against the two-GEMM one, and the GPU against the CPU. */
static const char *const speedup_pairs[] = {"cuda.fused:cuda.bmm", "cuda.bmm:cpu.blockdiag", NULL};

const smx_op smx_op_monarch = {
    .name = "monarch",
    .summary = "Monarch matrix multiply y = P L P^T R x (M2): two block-diagonal factors and transpose permutations",
    .n_params = 3,
    .params = params,
    .n_tensors = MONARCH_NSLOTS,
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
    .sweep_param = "n",
    .shrink_param = "B",
    .paper_note = "M2 publishes no standalone Monarch-multiply shapes; n = 1K..16K covers its sequence and model "
                  "widths with sqrt(n)-sized blocks (the most balanced factorization where n is not a square), "
                  "fp32 (the peers' fast path casts to bf16)",
    .speedup_pairs = speedup_pairs,
};

/* ---- the `reference` variant: fp32 tensors, the dense M in fp64 ---- */

typedef struct ref_state {
  smx_config c;
  double *M, *G;
  size_t bytes;
} ref_state;

static const char *ref_unsupported(const smx_config *c) {
  /* M and G are n^2 doubles each: 4 GB at n = 16384 */
  return c->v[MONARCH_N] > 16384 ? "reference: the dense n x n matrices exceed 4 GB (n <= 16384)" : NULL;
}

static void ref_destroy(void *p) {
  ref_state *s = p;
  if (!s) return;
  free(s->M);
  free(s->G);
  free(s);
}

static smx_status ref_create(const smx_config *c, void **out) {
  *out = NULL;
  ref_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "monarch reference: cannot allocate state");
  s->c = *c;
  size_t n = (size_t)c->v[MONARCH_N];
  s->bytes = 2 * n * n * sizeof(double);
  s->M = malloc(n * n * sizeof(double));
  s->G = malloc(n * n * sizeof(double));
  if (!s->M || !s->G) {
    ref_destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "monarch reference: cannot allocate two %zu x %zu fp64 matrices", n, n);
  }
  *out = s;
  return SMX_OK;
}

static size_t ref_workspace(const void *p) { return ((const ref_state *)p)->bytes; }

static smx_status ref_run(void *state, smx_pass p, void *const *tv) {
  ref_state *s = state;
  const smx_config *c = &s->c;
  int64_t B = P(c, MONARCH_B), bp = smx_monarch_p(c), k = smx_monarch_k(c);
  float *const *t = (float *const *)tv;
  if (p == SMX_FWD)
    forward_mixed(B, k, bp, t[MONARCH_X], t[MONARCH_R], t[MONARCH_L], t[MONARCH_Y], s->M);
  else
    backward_mixed(B, k, bp, t[MONARCH_X], t[MONARCH_R], t[MONARCH_L], t[MONARCH_DY], t[MONARCH_DX], t[MONARCH_DR],
                   t[MONARCH_DL], s->M, s->G);
  return SMX_OK;
}

const smx_variant smx_monarch_reference = {
    .name = "reference",
    .summary = "the dense n x n matrix M materialized in fp64, then direct products (the spec)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .unsupported = ref_unsupported,
    .create = ref_create,
    .destroy = ref_destroy,
    .workspace_bytes = ref_workspace,
    .run = ref_run,
};
