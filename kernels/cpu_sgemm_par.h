/* sgemm for CPU kernels that also run OpenMP loops: the GEMM split over the OpenMP threads, each
 * block by OpenBLAS on its calling thread, so one thread pool does all the work.
 *
 * Why: this OpenBLAS is the pthreads build. A kernel that alternates threaded cblas_sgemm calls
 * with OpenMP loops keeps two pools of busy-waiting threads on the same cores; on the 2-core
 * machines the loop after each GEMM then waits for a scheduler tick (measured: mlp cpu.blas
 * forward at T = 256, d = 64, F = 256 took 8.0 ms this way and 0.40 ms with OpenBLAS on one
 * thread; lm_head_ce forward 4.0 vs 0.22 ms; conba cpu.scan forward 14.8 vs 2.4 ms).
 *   smx_sgemm_par(...)   outside parallel regions (inside one it is smx_sgemm: the caller then
 *                        holds OpenBLAS to one thread, smx_blas_single_begin/end, around its loop)
 *   smx_sgemm(...)       on the calling thread, e.g. per expert inside an OpenMP loop
 * A product with one row or one column (a decode step's 1 x d by d x F) goes to cblas_sgemv on the
 * calling thread: sgemm repacks the weight on every call and sgemv threads far earlier than sgemm
 * (ssd's decode went from 708 to 2,767 tokens/s at d = 128, 2 threads).
 * Row-major; the split (over M, or over N when N is the larger) and with it every result is fixed
 * by the thread count. */
#ifndef SEQMIX_KERNELS_CPU_SGEMM_PAR_H
#define SEQMIX_KERNELS_CPU_SGEMM_PAR_H

#include <cblas.h>
#include <stdint.h>

/* C (M x N) = alpha op(A) op(B) + beta C across the OpenMP threads, OpenBLAS single-threaded inside. */
void smx_sgemm_par(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* The same on the calling thread; K = 0 gives C = beta C (BLAS implementations disagree there). */
void smx_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

#endif
