/* The shared CPU GEMM helpers of kernels/cpu_sgemm_par.h against an fp64 oracle: every transpose
 * pair, padded leading dimensions, one-row and one-column products (the GEMV path a decode step
 * takes), K = 0, beta = 0 over NaN garbage, the OpenMP split, and calls from inside a parallel
 * region; OpenBLAS's thread count is left as it was found.
 *
 *   build/tests/seqmix_tests --filter sgemm/\*
 */
#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels/cpu_sgemm_par.h"

typedef void sgemm_fn(CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, int64_t, int64_t, int64_t, float, const float *, int64_t,
                      const float *, int64_t, float, float *, int64_t);

static float val(uint32_t i, uint32_t salt) { /* fixed values in [-1, 1) */
  uint32_t h = (i + 1) * 2654435761u ^ salt * 40503u;
  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  return (float)(h % 2001u) / 1000.0f - 1.0f;
}

/* One product checked: C = alpha op(A) op(B) + beta C, leading dimensions padded by 3, with the
 * padding of C (and, for beta = 0, C itself) filled with NaN. */
static void check_one(sgemm_fn *f, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K,
                      float alpha, float beta) {
  int64_t ar = ta == CblasNoTrans ? M : K, ac = ta == CblasNoTrans ? K : M;
  int64_t br = tb == CblasNoTrans ? K : N, bc = tb == CblasNoTrans ? N : K;
  int64_t lda = ac + 3, ldb = bc + 3, ldc = N + 3;
  float *A = malloc((size_t)(ar * lda + 1) * sizeof(float)), *B = malloc((size_t)(br * ldb + 1) * sizeof(float));
  float *C = malloc((size_t)(M * ldc) * sizeof(float));
  double *want = malloc((size_t)(M * N) * sizeof(double));
  cr_assert(A && B && C && want);
  for (int64_t i = 0; i < ar * lda + 1; i++) A[i] = val((uint32_t)i, 1);
  for (int64_t i = 0; i < br * ldb + 1; i++) B[i] = val((uint32_t)i, 2);
  for (int64_t i = 0; i < M * ldc; i++) C[i] = (i % ldc < N && beta != 0) ? val((uint32_t)i, 3) : NAN;
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++) {
        double a = ta == CblasNoTrans ? A[i * lda + k] : A[k * lda + i];
        double b = tb == CblasNoTrans ? B[k * ldb + j] : B[j * ldb + k];
        s += a * b;
      }
      want[i * N + j] = alpha * s + (beta != 0 ? beta * (double)C[i * ldc + j] : 0);
    }
  f(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  for (int64_t i = 0; i < M; i++) {
    for (int64_t j = 0; j < N; j++) {
      double got = C[i * ldc + j], w = want[i * N + j];
      cr_assert(fabs(got - w) <= 1e-5 * (1 + (double)K), "ta=%d tb=%d M=%lld N=%lld K=%lld beta=%g: C[%lld,%lld] = %g, want %g",
                ta == CblasTrans, tb == CblasTrans, (long long)M, (long long)N, (long long)K, (double)beta, (long long)i,
                (long long)j, got, w);
    }
    for (int64_t j = N; j < ldc; j++) /* the padding is not written */
      cr_assert(isnan(C[i * ldc + j]), "M=%lld N=%lld K=%lld: padding of row %lld written", (long long)M, (long long)N,
                (long long)K, (long long)i);
  }
  free(A), free(B), free(C), free(want);
}

static const int64_t shapes[][3] = {{1, 1, 1}, {1, 33, 17}, {1, 200, 1}, {29, 1, 40}, {1, 1, 64}, {7, 5, 0},
                                    {1, 9, 0},  {6, 1, 0},   {5, 7, 3},   {64, 48, 80}, {1, 4096, 128}, {3000, 1, 100}};

static void check_all(sgemm_fn *f) {
  const CBLAS_TRANSPOSE t[2] = {CblasNoTrans, CblasTrans};
  const float betas[3] = {0.0f, 1.0f, -0.5f};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int a = 0; a < 2; a++)
      for (int b = 0; b < 2; b++)
        for (int e = 0; e < 3; e++) check_one(f, t[a], t[b], shapes[s][0], shapes[s][1], shapes[s][2], 0.75f, betas[e]);
}

Test(sgemm, calling_thread_products_match_the_oracle_at_every_transpose_and_shape) {
  int before = openblas_get_num_threads();
  check_all(smx_sgemm);
  cr_assert_eq(openblas_get_num_threads(), before, "OpenBLAS's thread count changed");
}

Test(sgemm, split_products_match_the_oracle_at_every_transpose_and_shape) {
  int before = openblas_get_num_threads();
  check_all(smx_sgemm_par);
  cr_assert_eq(openblas_get_num_threads(), before, "OpenBLAS's thread count changed");
}

Test(sgemm, products_inside_a_parallel_region_match_the_oracle) {
  int before = openblas_get_num_threads();
  openblas_set_num_threads(1); /* what a caller looping over GEMMs does (cpu_blas_single.h) */
#pragma omp parallel for schedule(static) num_threads(2)
  for (int s = 0; s < 4; s++) {
    check_one(smx_sgemm, s & 1 ? CblasTrans : CblasNoTrans, s & 2 ? CblasTrans : CblasNoTrans, 1, 300, 70, 1.0f, 0.0f);
    check_one(smx_sgemm_par, s & 2 ? CblasTrans : CblasNoTrans, s & 1 ? CblasTrans : CblasNoTrans, 90, 1, 31, -1.0f, 1.0f);
  }
  openblas_set_num_threads(before);
}
