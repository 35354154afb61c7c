/* Pieces the CUDA monarch variants and baseline share (kernels/monarch/cuda_bmm.cu, cuda_fused.cu,
 * baseline_cublas.cu; hyena_filter's cuda.blas uses the GEMM wrapper too): a handle without TF32,
 * a row-major strided-batched sgemm over cuBLAS's column-major one, the
 * tiled transposes that apply the output permutation P, and the kernel that materializes the
 * dense M. Formulas and layouts: reference/monarch.h. .cu files only. */
#ifndef SEQMIX_KERNELS_MONARCH_CUDA_MONARCH_CUH
#define SEQMIX_KERNELS_MONARCH_CUDA_MONARCH_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "cuda_check.h"

namespace monarch {
namespace { /* internal linkage: each .cu that includes this gets its own copy of the kernels */

/* A handle on the legacy default stream (where the timers and every other kernel run), without
 * TF32: this op is fp32 and cuBLAS must not round its inputs. */
inline smx_status blas_init(cublasHandle_t *h) {
  SMX_CUBLAS_CHECK(cublasCreate(h));
  SMX_CUBLAS_CHECK(cublasSetStream(*h, 0));
  SMX_CUBLAS_CHECK(cublasSetMathMode(*h, CUBLAS_PEDANTIC_MATH));
  return SMX_OK;
}

/* Row-major C_i (M x N) = op(A_i) op(B_i) + beta C_i for i < batch, X_i = X + i * sX: the
 * column-major call computes C^T = op(B)^T op(A)^T, a row-major matrix with leading dimension ld
 * being the column-major transpose with the same ld. */
inline smx_status gemm(cublasHandle_t h, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                       long long sA, const float *B, int64_t ldb, long long sB, float beta, float *C, int64_t ldc,
                       long long sC, int64_t batch) {
  const float one = 1.0f;
  SMX_CUBLAS_CHECK(cublasSgemmStridedBatched(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N,
                                             (int)M, (int)K, &one, B, (int)ldb, sB, A, (int)lda, sA, &beta, C,
                                             (int)ldc, sC, (int)batch));
  return SMX_OK;
}

const int TILE = 32;

/* y[b, s p + l] = W[l][b][s] (W is p x B x k): one 32 x 32 (l, s) tile of one row b per block,
 * read along s and written along l through shared memory, so both sides are coalesced. */
__global__ void scatter_output(const float *W, float *y, int64_t B, int64_t p, int64_t k) {
  __shared__ float tile[TILE][TILE + 1];
  int64_t tiles_s = (k + TILE - 1) / TILE;
  int64_t l0 = (blockIdx.x / tiles_s) * TILE, s0 = (blockIdx.x % tiles_s) * TILE;
  for (int64_t b = blockIdx.y; b < B; b += gridDim.y) {
    for (int i = threadIdx.y; i < TILE; i += blockDim.y) {
      int64_t l = l0 + i, s = s0 + threadIdx.x;
      if (l < p && s < k) tile[i][threadIdx.x] = W[(l * B + b) * k + s];
    }
    __syncthreads();
    for (int i = threadIdx.y; i < TILE; i += blockDim.y) {
      int64_t s = s0 + i, l = l0 + threadIdx.x;
      if (l < p && s < k) y[b * p * k + s * p + l] = tile[threadIdx.x][i];
    }
    __syncthreads(); /* the tile is reused for the next row */
  }
}

/* W[l][b][s] = dy[b, s p + l]: the inverse of scatter_output */
__global__ void gather_output_grad(const float *dy, float *W, int64_t B, int64_t p, int64_t k) {
  __shared__ float tile[TILE][TILE + 1];
  int64_t tiles_s = (k + TILE - 1) / TILE;
  int64_t l0 = (blockIdx.x / tiles_s) * TILE, s0 = (blockIdx.x % tiles_s) * TILE;
  for (int64_t b = blockIdx.y; b < B; b += gridDim.y) {
    for (int i = threadIdx.y; i < TILE; i += blockDim.y) {
      int64_t s = s0 + i, l = l0 + threadIdx.x;
      if (l < p && s < k) tile[threadIdx.x][i] = dy[b * p * k + s * p + l];
    }
    __syncthreads();
    for (int i = threadIdx.y; i < TILE; i += blockDim.y) {
      int64_t l = l0 + i, s = s0 + threadIdx.x;
      if (l < p && s < k) W[(l * B + b) * k + s] = tile[i][threadIdx.x];
    }
    __syncthreads();
  }
}

inline smx_status launch_permute(bool scatter, const float *src, float *dst, int64_t B, int64_t p, int64_t k) {
  int64_t tiles = ((p + TILE - 1) / TILE) * ((k + TILE - 1) / TILE);
  if (tiles > 2147483647LL) return smx_fail(SMX_ERR_UNSUPPORTED, "monarch: too many permutation tiles");
  dim3 grid((unsigned)tiles, (unsigned)(B < 65535 ? B : 65535)), block(TILE, 8);
  if (scatter) scatter_output<<<grid, block>>>(src, dst, B, p, k);
  else gather_output_grad<<<grid, block>>>(src, dst, B, p, k);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

/* M[s p + l, r p + j] = L[l, s, r] R[r, l, j] */
__global__ void build_dense(const float *R, const float *L, float *M, int64_t p, int64_t k) {
  int64_t n = p * k, total = n * n;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t row = i / n, col = i % n;
    int64_t s = row / p, l = row % p, r = col / p, j = col % p;
    M[i] = L[(l * k + s) * k + r] * R[(r * p + l) * p + j];
  }
}

} // namespace
} // namespace monarch

#endif
