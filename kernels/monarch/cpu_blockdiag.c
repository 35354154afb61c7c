/* monarch variant `cpu.blockdiag`: the two block-diagonal products as small OpenBLAS GEMMs, one
 * per block, over tiles of the batch (OpenMP over tiles, OpenBLAS single-threaded inside, so the
 * split and every result are fixed by the thread count). Formulas: reference/monarch.h.
 *
 * The middle permutation P^T costs nothing: R's GEMM for block r writes its p x m output
 * (entry [l][b]) with leading dimension k m into a tile buffer laid out [l][r][b], which is
 * exactly the k x m operand L's GEMM for block l reads. x is read in place (block r is the m x p
 * matrix at x + r p with leading dimension n) and dx is written in place the same way. The outer
 * P is the one permutation a GEMM cannot absorb: y[b, s p + l] has unit stride along the block
 * index l, while every GEMM output needs unit stride along one of its own free dimensions (b or
 * s, both strided here). So L's GEMMs write a tile buffer [l][b][s] that stays in cache, and
 * the tile is transposed into y (and dy gathered from it in the backward).
 *
 *   seqmix check --op monarch --variant cpu.blockdiag
 *   seqmix bench --op monarch --variant cpu.blockdiag --suite quick
 */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_blas_single.h"
#include "reference/monarch.h"
#include "seqmix/buffer.h"

typedef struct blockdiag_state {
  int64_t B, n, p, k, tile;
  int threads;
  float *work;  /* threads x (3 tile n + n (p + k)) */
  size_t per_thread, bytes;
} blockdiag_state;

/* Rows of x per tile: GEMMs wide enough to reach OpenBLAS's kernel speed, tile buffers (three of
 * tile x n floats) that stay in L2, and at least one tile per thread where the batch allows. */
static int64_t tile_rows(int64_t B, int64_t n, int threads) {
  int64_t t = 64;
  while (t > 8 && t * n * 12 > ((int64_t)1 << 21)) t /= 2;
  int64_t even = (B + threads - 1) / threads;
  if (even < t) t = even > 0 ? even : 1;
  return t;
}

static void destroy(void *p) {
  blockdiag_state *s = p;
  if (!s) return;
  smx_host_free(s->work);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  blockdiag_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.blockdiag: cannot allocate state");
  s->B = c->v[MONARCH_B];
  s->n = c->v[MONARCH_N];
  s->p = smx_monarch_p(c);
  s->k = s->n / s->p;
  s->threads = omp_get_max_threads();
  s->tile = tile_rows(s->B, s->n, s->threads);
  s->per_thread = (size_t)(3 * s->tile * s->n + s->n * (s->p + s->k));
  s->bytes = (size_t)s->threads * s->per_thread * sizeof(float);
  s->work = smx_host_alloc(s->bytes);
  if (!s->work) {
    size_t want = s->bytes;
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "cpu.blockdiag: cannot allocate %zu bytes of workspace", want);
  }
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) { return ((const blockdiag_state *)p)->bytes; }

static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                 const float *Bm, int64_t ldb, float beta, float *C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, Bm, (int)ldb, beta, C, (int)ldc);
}

/* h tile: W1[l][r][b] = sum_j R[r, l, j] x[b, r p + j]  (R's block r as a p x p by p x m GEMM) */
static void apply_R(const blockdiag_state *s, int64_t m, const float *x0, const float *R, float *W1) {
  int64_t p = s->p, k = s->k, n = s->n;
  for (int64_t r = 0; r < k; r++) gemm(CblasNoTrans, CblasTrans, p, m, p, R + r * p * p, p, x0 + r * p, n, 0, W1 + r * m, k * m);
}

static void forward_tile(const blockdiag_state *s, int64_t m, const float *x0, const float *R, const float *L, float *y0,
                         float *W1, float *W2) {
  int64_t p = s->p, k = s->k, n = s->n;
  apply_R(s, m, x0, R, W1);
  /* W2[l][b][s] = sum_r W1[l][r][b] L[l, s, r] */
  for (int64_t l = 0; l < p; l++)
    gemm(CblasTrans, CblasTrans, m, k, k, W1 + l * k * m, m, L + l * k * k, k, 0, W2 + l * m * k, k);
  for (int64_t b = 0; b < m; b++)
    for (int64_t l = 0; l < p; l++) {
      const float *src = W2 + (l * m + b) * k;
      float *dst = y0 + b * n + l;
      for (int64_t q = 0; q < k; q++) dst[q * p] = src[q];
    }
}

static void backward_tile(const blockdiag_state *s, int64_t m, const float *x0, const float *R, const float *L,
                          const float *dy0, float *dx0, float *W1, float *D2, float *G1, float *dR_acc, float *dL_acc) {
  int64_t p = s->p, k = s->k, n = s->n;
  /* D2[l][b][s] = dy[b, s p + l] */
  for (int64_t b = 0; b < m; b++)
    for (int64_t l = 0; l < p; l++) {
      const float *src = dy0 + b * n + l;
      float *dst = D2 + (l * m + b) * k;
      for (int64_t q = 0; q < k; q++) dst[q] = src[q * p];
    }
  apply_R(s, m, x0, R, W1);
  for (int64_t l = 0; l < p; l++) {
    /* dL[l, s, r] += sum_b D2[l][b][s] W1[l][r][b] */
    gemm(CblasTrans, CblasTrans, k, k, m, D2 + l * m * k, k, W1 + l * k * m, m, 1, dL_acc + l * k * k, k);
    /* G1[l][r][b] = sum_s L[l, s, r] D2[l][b][s]: the gradient of h[b, r, l] */
    gemm(CblasTrans, CblasTrans, k, m, k, L + l * k * k, k, D2 + l * m * k, k, 0, G1 + l * k * m, m);
  }
  for (int64_t r = 0; r < k; r++) {
    /* dR[r, l, j] += sum_b G1[l][r][b] x[b, r p + j];  dx[b, r p + j] = sum_l G1[l][r][b] R[r, l, j] */
    gemm(CblasNoTrans, CblasNoTrans, p, p, m, G1 + r * m, k * m, x0 + r * p, n, 1, dR_acc + r * p * p, p);
    gemm(CblasTrans, CblasNoTrans, m, p, p, G1 + r * m, k * m, R + r * p * p, p, 0, dx0 + r * p, n);
  }
}

static smx_status run(void *state, smx_pass pass, void *const *tv) {
  blockdiag_state *s = state;
  float *const *t = (float *const *)tv;
  int64_t n = s->n, tile = s->tile, ntiles = (s->B + tile - 1) / tile;
  size_t wsz = (size_t)(tile * n), rsz = (size_t)(n * s->p), lsz = (size_t)(n * s->k);
  int saved = smx_blas_single_begin();
#pragma omp parallel num_threads(s->threads)
  {
    int id = omp_get_thread_num();
    float *w = s->work + (size_t)id * s->per_thread;
    float *dR_acc = w + 3 * wsz, *dL_acc = dR_acc + rsz;
    if (pass == SMX_BWD) memset(dR_acc, 0, (rsz + lsz) * sizeof(float));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < ntiles; i++) {
      int64_t b0 = i * tile, m = s->B - b0 < tile ? s->B - b0 : tile;
      const float *x0 = t[MONARCH_X] + b0 * n;
      if (pass == SMX_FWD)
        forward_tile(s, m, x0, t[MONARCH_R], t[MONARCH_L], t[MONARCH_Y] + b0 * n, w, w + wsz);
      else
        backward_tile(s, m, x0, t[MONARCH_R], t[MONARCH_L], t[MONARCH_DY] + b0 * n, t[MONARCH_DX] + b0 * n, w, w + wsz,
                      w + 2 * wsz, dR_acc, dL_acc);
    }
    if (pass == SMX_BWD) {
      /* the per-thread partial sums, added in thread order (fixed at a fixed thread count) */
#pragma omp for schedule(static)
      for (int64_t e = 0; e < (int64_t)(rsz + lsz); e++) {
        float acc = 0;
        for (int j = 0; j < s->threads; j++) acc += s->work[(size_t)j * s->per_thread + 3 * wsz + (size_t)e];
        if (e < (int64_t)rsz) t[MONARCH_DR][e] = acc;
        else t[MONARCH_DL][e - (int64_t)rsz] = acc;
      }
    }
  }
  smx_blas_single_end(saved);
  return SMX_OK;
}

const smx_variant smx_monarch_cpu_blockdiag = {
    .name = "cpu.blockdiag",
    .summary = "per-block OpenBLAS sgemm over batch tiles (OpenMP); the middle permutation folded into leading dimensions",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
