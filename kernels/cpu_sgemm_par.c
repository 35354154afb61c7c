/* The OpenMP-split sgemm of kernels/cpu_sgemm_par.h (why it exists is said there). Checked through
 * every kernel that uses it: seqmix check --op moe,cdmoe,mlp,lm_head_ce,hyena_filter,conba */
#include "kernels/cpu_sgemm_par.h"

#include <omp.h>

#include "kernels/cpu_blas_single.h"

void smx_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
    return;
  }
  /* A product with one row or one column is a GEMV: cblas_sgemm would pack the whole other operand
   * into panels on every call (a decode step's 1 x d by d x F products spent 86% of their time in
   * sgemm_incopy/sgemm_kernel at N = 1), while sgemv reads it once. beta = 0 must give zeros even
   * over NaN garbage, which sgemv's internal scaling does not promise, so C is cleared first.
   * OpenBLAS threads sgemv from 9,216 elements on (far below sgemm's threshold), and its pthreads
   * then stall the OpenMP loops around it (ssd decode: 614 tokens/s so, 2,550 on one thread), so
   * it runs on the calling thread; smx_sgemm_par splits the larger ones over the OpenMP threads.
   * Inside a parallel region the caller already holds OpenBLAS to one thread. */
  if (M == 1 || N == 1) {
    int64_t n = M == 1 ? N : M, inc_c = M == 1 ? 1 : ldc;
    int nested = omp_in_parallel(), saved = nested ? 0 : smx_blas_single_begin();
    if (beta == 0)
      for (int64_t i = 0; i < n; i++) C[i * inc_c] = 0;
    if (M == 1) { /* C(1 x N) = x' op(B), x = op(A)'s only row */
      int inc_x = ta == CblasNoTrans ? 1 : (int)lda;
      if (tb == CblasNoTrans) /* B is K x N */
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)N, alpha, B, (int)ldb, A, inc_x, beta, C, 1);
      else /* B is N x K */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)K, alpha, B, (int)ldb, A, inc_x, beta, C, 1);
    } else { /* C(M x 1) = op(A) x, x = op(B)'s only column */
      int inc_x = tb == CblasNoTrans ? (int)ldb : 1;
      if (ta == CblasNoTrans) /* A is M x K */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)M, (int)K, alpha, A, (int)lda, B, inc_x, beta, C, (int)ldc);
      else /* A is K x M */
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)M, alpha, A, (int)lda, B, inc_x, beta, C, (int)ldc);
    }
    if (!nested) smx_blas_single_end(saved);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void smx_sgemm_par(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  /* Inside a parallel region this is one thread's share of a loop, whose caller chose OpenBLAS's
   * threads. Below OpenBLAS's own threading threshold (interface/gemm.c: M N K under 4 x 65536)
   * a split costs more than it saves: a decode step's 1 x d by d x F products waited on waking the
   * second thread (ssd decode at 1K fell from 3,105 to 1,065 tokens/s when they were split), and
   * OpenBLAS runs such a product on the calling thread anyway. */
  if (omp_in_parallel() || (double)M * (double)N * (double)K < 262144.0) {
    smx_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  int nt = omp_get_max_threads();
  int split_m = M >= N;
  int64_t len = split_m ? M : N, chunk = (len + nt - 1) / nt;
  chunk = (chunk + 15) / 16 * 16; /* whole SIMD panels per thread */
  int64_t nchunks = (len + chunk - 1) / chunk;
  int saved = smx_blas_single_begin();
#pragma omp parallel for schedule(static) if (nchunks > 1)
  for (int64_t c = 0; c < nchunks; c++) {
    int64_t o = c * chunk, n = len - o < chunk ? len - o : chunk;
    if (split_m)
      smx_sgemm(ta, tb, n, N, K, alpha, ta == CblasNoTrans ? A + o * lda : A + o, lda, B, ldb, beta, C + o * ldc, ldc);
    else
      smx_sgemm(ta, tb, M, n, K, alpha, A, lda, tb == CblasNoTrans ? B + o : B + o * ldb, ldb, beta, C + o, ldc);
  }
  smx_blas_single_end(saved);
}
