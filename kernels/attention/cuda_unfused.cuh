/* The unfused ("naive") GPU attention that attention `cuda.cublas` and dma `cuda.dense_bias` share:
 * the (L x L) score matrix of every (batch, head) is materialized in fp32, as PyTorch's math SDPA
 * path does, so these variants are the memory-bound baselines the fused kernels are measured
 * against. .cu files only; everything is in an anonymous namespace (each including file gets its
 * own copy; host helpers are inline and kernels templates, so none is reported unused).
 *
 * Forward:  s = scale Q K^T (+ the caller's dense mask, already in s)   cuBLAS, fp32 out
 *           causal row softmax -> P (in place for fp32; a bf16 copy for bf16) and lse
 *           O = P V                                                     cuBLAS, written in O's layout
 * Backward: s again (the caller re-adds its mask), dP = dO V^T,
 *           one kernel per row: P recomputed as the forward computed it, D_i = sum_j P_ij dP_ij
 *           (softmax's backward on the materialized P; equal to <do_i, o_i>), dS = P (dP - D)
 *           (zero above the diagonal); the saved lse is not needed,
 *           dV = P^T dO, dQ = scale dS K, dK = scale dS^T Q.
 *
 * cuBLAS is column-major: a row-major (rows x cols) matrix with row stride ld is, to cuBLAS, the
 * column-major (cols x rows) matrix with leading dimension ld, i.e. its transpose. So head h of
 * q (B, L, H, P) is the P x L matrix Q^T (ld H*P), and a row-major score block s[i][j] (ld L) is
 * the column-major s^T. Every GEMM below computes the transpose of the row-major result:
 *   s^T = K Q^T, O^T = V^T P^T, dP^T = V dO^T, dV^T = dO^T P, dQ^T = K^T dS^T, dK^T = Q^T dS.
 * One GEMM per query head h, batched over b (the batch stride of every operand is constant); GQA
 * reads KV head g = h / (H / Hkv). dK and dV sum over the H/Hkv query heads of a group: the heads
 * of a group are consecutive, so the first one writes (beta = 0) and the others accumulate
 * (beta = 1) into an fp32 buffer in a fixed order (deterministic).
 *
 * bf16: the GEMM operands are bf16 (cublasGemmStridedBatchedEx, fp32 compute); scores, dP, lse,
 * D and the dK/dV accumulators stay fp32; P and dS are rounded to bf16 only as GEMM operands. */
#ifndef SEQMIX_KERNELS_ATTENTION_CUDA_UNFUSED_CUH
#define SEQMIX_KERNELS_ATTENTION_CUDA_UNFUSED_CUH

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

extern "C" {
#include "seqmix/op.h"
}
#include "cuda_check.h"

namespace {

constexpr int UNFUSED_ROW_THREADS = 256; /* one block per score row */

__device__ __forceinline__ float unfused_f32(float x) { return x; }
__device__ __forceinline__ float unfused_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T unfused_from_f32(float x);
template <> __device__ __forceinline__ float unfused_from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 unfused_from_f32<__nv_bfloat16>(float x) {
  return __float2bfloat16(x); /* round to nearest even, as the harness rounds */
}

/* Adds x to a running (max m, sum l = sum exp(x - m)). A -inf score (masked key) is skipped: it
 * adds nothing, and exp(-inf - -inf) would be NaN when nothing has been seen yet. */
__device__ __forceinline__ void online_add(float &m, float &l, float x) {
  if (x > m) {
    l = l * expf(m - x) + 1.0f; /* m = -inf at the start: exp(-inf) = 0 */
    m = x;
  } else if (x != -INFINITY) {
    l += expf(x - m);
  }
}

/* Merges two (max, sum) pairs; two empty ones (-inf, 0) stay empty. */
__device__ __forceinline__ void online_merge(float &m, float &l, float m2, float l2) {
  float mx = fmaxf(m, m2);
  if (mx == -INFINITY) return;
  l = l * expf(m - mx) + l2 * expf(m2 - mx);
  m = mx;
}

/* The (max, sum) of the whole block. Lanes of a butterfly may differ in the last bit (FMA
 * contraction makes the merge order-dependent), so only lane 0's pair of each warp is kept and
 * every thread merges those in the same order: all threads of the row then use the same lse. */
template <int THREADS> __device__ __forceinline__ void block_merge(float &m, float &l) {
  __shared__ float wm[THREADS / 32], wl[THREADS / 32];
  for (int o = 16; o > 0; o >>= 1)
    online_merge(m, l, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, l, o));
  if ((threadIdx.x & 31) == 0) {
    wm[threadIdx.x / 32] = m;
    wl[threadIdx.x / 32] = l;
  }
  __syncthreads();
  m = wm[0];
  l = wl[0];
  for (int w = 1; w < THREADS / 32; w++) online_merge(m, l, wm[w], wl[w]);
  __syncthreads(); /* wm/wl are reused by the next row */
}

/* Row r = (b*H + h)*L + i of s (B, H, L, L): with m the row max and l = sum_{j<=i} exp(s_rj - m),
 * lse_r = m + log l and P_rj = exp(s_rj - m) / l for j <= i, 0 above the diagonal (the P V GEMM
 * reads whole rows). Dividing by l rather than taking exp(s - lse) keeps the rounding of lse (a
 * few ulp of a number up to log L, the same for the whole row) out of P, as the references do. A
 * row whose visible scores are all -inf (dma: no kept key) gets P = 0 and lse = 0
 * (reference/dma.h). p may alias s (fp32): every thread reads an element before it writes it. */
template <typename TP>
__global__ void __launch_bounds__(UNFUSED_ROW_THREADS)
    causal_softmax(const float *s, TP *p, float *lse, int64_t rows, int64_t L) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    int64_t i = r % L;
    const float *sr = s + r * L;
    TP *pr = p + r * L;
    float m = -INFINITY, l = 0.0f;
    for (int64_t j = threadIdx.x; j <= i; j += UNFUSED_ROW_THREADS) online_add(m, l, sr[j]);
    block_merge<UNFUSED_ROW_THREADS>(m, l);
    bool empty = m == -INFINITY;
    if (threadIdx.x == 0) lse[r] = empty ? 0.0f : m + logf(l);
    for (int64_t j = threadIdx.x; j < L; j += UNFUSED_ROW_THREADS)
      pr[j] = unfused_from_f32<TP>(j <= i && !empty ? expf(sr[j] - m) / l : 0.0f);
  }
}

/* The sum of the block's values, the same in every thread: each warp's lane 0 total (a butterfly
 * gives every lane the same sum anyway), then the warps in order. */
template <int THREADS> __device__ __forceinline__ float block_sum(float v) {
  __shared__ float ws[THREADS / 32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if ((threadIdx.x & 31) == 0) ws[threadIdx.x / 32] = v;
  __syncthreads();
  v = ws[0];
  for (int w = 1; w < THREADS / 32; w++) v += ws[w];
  __syncthreads(); /* ws is reused by the next row */
  return v;
}

/* Row r of the backward: P recomputed exactly as causal_softmax computed it (exp(s - m) / l, the
 * same bits, which the dV GEMM reads), D_i = sum_j P_ij dP_ij (softmax's own backward on the
 * materialized P and dP; equal to <do_i, o_i>), and dS = P (dP - D), both 0 above the diagonal.
 * Taking D from the same P and dP values as the dS terms keeps the identities of the exact
 * gradient: a one-key row (L = 1, i = 0) has P = 1 and dS = 0 exactly, where D = <do_i, o_i> would
 * leave the difference of two differently rounded dot products. Written to p and ds (which alias s
 * and dp for fp32), and dS also to dp in fp32 when keep_ds32 (bf16 runs whose caller reduces dS,
 * the dma bias gradient). A row whose visible scores are all -inf gets P = 0, dS = 0. */
template <typename T>
__global__ void __launch_bounds__(UNFUSED_ROW_THREADS)
    softmax_grad(const float *s, float *dp, T *p, T *ds, int keep_ds32, int64_t rows, int64_t L) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    int64_t i = r % L;
    const float *sr = s + r * L;
    float *dr = dp + r * L;
    T *pr = p + r * L, *dsr = ds + r * L;
    float m = -INFINITY, l = 0.0f;
    for (int64_t j = threadIdx.x; j <= i; j += UNFUSED_ROW_THREADS) online_add(m, l, sr[j]);
    block_merge<UNFUSED_ROW_THREADS>(m, l);
    bool empty = m == -INFINITY;
    float part = 0.0f;
    if (!empty)
      for (int64_t j = threadIdx.x; j <= i; j += UNFUSED_ROW_THREADS) part += expf(sr[j] - m) / l * dr[j];
    float d = block_sum<UNFUSED_ROW_THREADS>(part); /* every thread has read its dP before any is replaced */
    for (int64_t j = threadIdx.x; j < L; j += UNFUSED_ROW_THREADS) {
      float pv = 0.0f, g = 0.0f;
      if (j <= i && !empty) {
        pv = expf(sr[j] - m) / l;
        g = pv * (dr[j] - d);
      }
      pr[j] = unfused_from_f32<T>(pv);
      dsr[j] = unfused_from_f32<T>(g);
      if (keep_ds32) dr[j] = g;
    }
  }
}

/* dst = src rounded to T (the fp32 dK/dV accumulators of a bf16 run) */
template <typename T> __global__ void narrow(const float *src, T *dst, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    dst[i] = unfused_from_f32<T>(src[i]);
}

inline unsigned unfused_grid(int64_t n, int per_block) {
  int64_t b = (n + per_block - 1) / per_block;
  return (unsigned)(b > 65535 * 16 ? 65535 * 16 : (b ? b : 1));
}

struct unfused {
  int64_t B, L, H, Hkv, P, G;
  smx_dtype dtype;
  float scale;
  cublasHandle_t blas;
  int blas_made;
  float *s;           /* (B, H, L, L) fp32: scores (+ mask), then P in place (fp32 runs) */
  float *dp;          /* (B, H, L, L) fp32: dP, then dS in place */
  void *p16, *ds16;   /* bf16 runs: (B, H, L, L) P and dS as GEMM operands */
  float *dk32, *dv32; /* bf16 runs: (B, L, Hkv, P) fp32 group sums of dK, dV */
};

/* Bytes unfused_init allocates, in double so absurd shapes cannot overflow the test. */
inline double unfused_bytes(int64_t B, int64_t L, int64_t H, int64_t Hkv, int64_t P, smx_dtype dt) {
  double sq = (double)B * H * L * L, bytes = 2 * 4 * sq;
  if (dt == SMX_BF16) bytes += 2 * 2 * sq + 2 * 4.0 * B * L * Hkv * P;
  return bytes;
}

inline void unfused_release(unfused *u) {
  if (u->blas_made) cublasDestroy(u->blas);
  cudaFree(u->s);
  cudaFree(u->dp);
  cudaFree(u->p16);
  cudaFree(u->ds16);
  cudaFree(u->dk32);
  cudaFree(u->dv32);
}

/* Fills u and allocates; on failure the caller still calls unfused_release (blas_made and the
 * NULL pointers say what exists). u must be zeroed. */
inline smx_status unfused_init(unfused *u, int64_t B, int64_t L, int64_t H, int64_t Hkv, int64_t P, smx_dtype dt) {
  u->B = B;
  u->L = L;
  u->H = H;
  u->Hkv = Hkv;
  u->P = P;
  u->G = H / Hkv;
  u->dtype = dt;
  u->scale = (float)(1.0 / sqrt((double)P));
  SMX_CUBLAS_CHECK(cublasCreate(&u->blas));
  u->blas_made = 1;
  SMX_CUBLAS_CHECK(cublasSetStream(u->blas, 0)); /* the legacy default stream, as everything else */
  size_t sq = (size_t)(B * H) * (size_t)(L * L);
  SMX_CUDA_CHECK(cudaMalloc(&u->s, sq * sizeof(float)));
  SMX_CUDA_CHECK(cudaMalloc(&u->dp, sq * sizeof(float)));
  if (dt == SMX_BF16) {
    size_t kv = (size_t)(B * L * Hkv * P);
    SMX_CUDA_CHECK(cudaMalloc(&u->p16, sq * sizeof(__nv_bfloat16)));
    SMX_CUDA_CHECK(cudaMalloc(&u->ds16, sq * sizeof(__nv_bfloat16)));
    SMX_CUDA_CHECK(cudaMalloc(&u->dk32, kv * sizeof(float)));
    SMX_CUDA_CHECK(cudaMalloc(&u->dv32, kv * sizeof(float)));
  }
  return SMX_OK;
}

/* One GEMM operand (or result): a base pointer, its type, leading dimension and batch stride. */
struct operand {
  void *p;
  cudaDataType t;
  int ld;
  long long stride;
};

/* Head h of a (B, L, heads, P) tensor of element type t: the P x L column-major matrix at h*P,
 * leading dimension heads*P, batches L*heads*P apart. */
inline operand head_of(const unfused *u, const void *base, cudaDataType t, int64_t heads, int64_t h) {
  size_t es = t == CUDA_R_16BF ? 2 : 4;
  return {(char *)base + (size_t)(h * u->P) * es, t, (int)(heads * u->P), (long long)(u->L * heads * u->P)};
}

/* Block h of a (B, H, L, L) buffer: the row-major L x L block (ld L), batches H*L*L apart. */
inline operand square_of(const unfused *u, const void *base, cudaDataType t, int64_t h) {
  size_t es = t == CUDA_R_16BF ? 2 : 4;
  return {(char *)base + (size_t)h * (size_t)(u->L * u->L) * es, t, (int)u->L, (long long)(u->H * u->L * u->L)};
}

/* C = alpha op(A) op(B) + beta C over the B batches, fp32 accumulation (A and B share a type). */
inline cublasStatus_t gemm(const unfused *u, cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n,
                           int64_t k, float alpha, operand a, operand b, float beta, operand c) {
  return cublasGemmStridedBatchedEx(u->blas, ta, tb, (int)m, (int)n, (int)k, &alpha, a.p, a.t, a.ld, a.stride, b.p, b.t,
                                    b.ld, b.stride, &beta, c.p, c.t, c.ld, c.stride, (int)u->B, CUBLAS_COMPUTE_32F,
                                    CUBLAS_GEMM_DEFAULT);
}

inline cudaDataType io_type(const unfused *u) { return u->dtype == SMX_BF16 ? CUDA_R_16BF : CUDA_R_32F; }

/* s = scale Q K^T + beta s for every (b, h): s^T (L x L) = K Q^T with K = (K^T)^T. beta = 1 adds
 * the dense mask the caller wrote into s (-inf entries stay -inf). */
inline smx_status unfused_scores(unfused *u, const void *q, const void *k, float beta) {
  cudaDataType t = io_type(u);
  for (int64_t h = 0; h < u->H; h++) {
    int64_t g = h / u->G;
    SMX_CUBLAS_CHECK(gemm(u, CUBLAS_OP_T, CUBLAS_OP_N, u->L, u->L, u->P, u->scale, head_of(u, k, t, u->Hkv, g),
                          head_of(u, q, t, u->H, h), beta, square_of(u, u->s, CUDA_R_32F, h)));
  }
  return SMX_OK;
}

/* From the scores in u->s: P and lse (causal softmax), then O^T (P x L) = V^T P^T. */
inline smx_status unfused_forward(unfused *u, const void *v, void *o, float *lse) {
  int64_t rows = u->B * u->H * u->L;
  unsigned grid = unfused_grid(rows, 1);
  void *pbuf = u->s;
  if (u->dtype == SMX_BF16) {
    pbuf = u->p16;
    causal_softmax<__nv_bfloat16><<<grid, UNFUSED_ROW_THREADS>>>(u->s, (__nv_bfloat16 *)pbuf, lse, rows, u->L);
  } else {
    causal_softmax<float><<<grid, UNFUSED_ROW_THREADS>>>(u->s, u->s, lse, rows, u->L);
  }
  SMX_CUDA_CHECK_LAUNCH();
  cudaDataType t = io_type(u);
  for (int64_t h = 0; h < u->H; h++) {
    int64_t g = h / u->G;
    SMX_CUBLAS_CHECK(gemm(u, CUBLAS_OP_N, CUBLAS_OP_N, u->P, u->L, u->L, 1.0f, head_of(u, v, t, u->Hkv, g),
                          square_of(u, pbuf, t, h), 0.0f, head_of(u, o, t, u->H, h)));
  }
  return SMX_OK;
}

/* From the recomputed scores in u->s (mask included): dq, dk, dv. keep_ds32 = leave dS in fp32 in
 * u->dp (it is there anyway for fp32 runs). */
inline smx_status unfused_backward(unfused *u, const void *q, const void *k, const void *v, const void *dout, void *dq,
                                   void *dk, void *dv, int keep_ds32) {
  cudaDataType t = io_type(u);
  int bf16 = u->dtype == SMX_BF16;
  int64_t rows = u->B * u->H * u->L;
  /* dP^T (L x L) = V dO^T */
  for (int64_t h = 0; h < u->H; h++) {
    int64_t g = h / u->G;
    SMX_CUBLAS_CHECK(gemm(u, CUBLAS_OP_T, CUBLAS_OP_N, u->L, u->L, u->P, 1.0f, head_of(u, v, t, u->Hkv, g),
                          head_of(u, dout, t, u->H, h), 0.0f, square_of(u, u->dp, CUDA_R_32F, h)));
  }
  void *pbuf = bf16 ? u->p16 : (void *)u->s, *dsbuf = bf16 ? u->ds16 : (void *)u->dp;
  if (bf16) {
    softmax_grad<__nv_bfloat16><<<unfused_grid(rows, 1), UNFUSED_ROW_THREADS>>>(
        u->s, u->dp, (__nv_bfloat16 *)pbuf, (__nv_bfloat16 *)dsbuf, keep_ds32, rows, u->L);
  } else {
    /* P and dS in place: dS already is the fp32 copy, whatever keep_ds32 says */
    softmax_grad<float>
        <<<unfused_grid(rows, 1), UNFUSED_ROW_THREADS>>>(u->s, u->dp, u->s, u->dp, 0, rows, u->L);
  }
  SMX_CUDA_CHECK_LAUNCH();
  /* the fp32 outputs take the group sums directly; bf16 ones go through fp32 accumulators */
  void *dk_acc = bf16 ? (void *)u->dk32 : dk, *dv_acc = bf16 ? (void *)u->dv32 : dv;
  for (int64_t h = 0; h < u->H; h++) {
    int64_t g = h / u->G;
    float beta = h % u->G ? 1.0f : 0.0f; /* first head of its group writes, the others add */
    /* dV^T (P x L) = dO^T P */
    SMX_CUBLAS_CHECK(gemm(u, CUBLAS_OP_N, CUBLAS_OP_T, u->P, u->L, u->L, 1.0f, head_of(u, dout, t, u->H, h),
                          square_of(u, pbuf, t, h), beta, head_of(u, dv_acc, CUDA_R_32F, u->Hkv, g)));
    /* dQ^T (P x L) = scale K^T dS^T */
    SMX_CUBLAS_CHECK(gemm(u, CUBLAS_OP_N, CUBLAS_OP_N, u->P, u->L, u->L, u->scale, head_of(u, k, t, u->Hkv, g),
                          square_of(u, dsbuf, t, h), 0.0f, head_of(u, dq, t, u->H, h)));
    /* dK^T (P x L) = scale Q^T dS */
    SMX_CUBLAS_CHECK(gemm(u, CUBLAS_OP_N, CUBLAS_OP_T, u->P, u->L, u->L, u->scale, head_of(u, q, t, u->H, h),
                          square_of(u, dsbuf, t, h), beta, head_of(u, dk_acc, CUDA_R_32F, u->Hkv, g)));
  }
  if (bf16) {
    size_t n = (size_t)(u->B * u->L * u->Hkv * u->P);
    narrow<__nv_bfloat16><<<unfused_grid((int64_t)n, 256), 256>>>(u->dk32, (__nv_bfloat16 *)dk, n);
    SMX_CUDA_CHECK_LAUNCH();
    narrow<__nv_bfloat16><<<unfused_grid((int64_t)n, 256), 256>>>(u->dv32, (__nv_bfloat16 *)dv, n);
    SMX_CUDA_CHECK_LAUNCH();
  }
  return SMX_OK;
}

} // namespace

#endif
