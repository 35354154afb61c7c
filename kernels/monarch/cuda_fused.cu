/* monarch variant `cuda.fused`: the forward in one kernel with both factors applied on chip. A
 * block of 8 warps takes 16 rows of x into shared memory (16 n floats), applies R block by block
 * in place, then L block by block in place, and writes y: the intermediate h never leaves the SM
 * and neither permutation costs a pass over memory (both are the addressing of the shared tile).
 * The products run on tensor cores (wmma m16n16k8, TF32) with the 3xTF32 split: each fp32 operand
 * v = hi + lo with hi = tf32(v), lo = tf32(v - hi), and a b ~ hi_a hi_b + hi_a lo_b + lo_a hi_b
 * accumulated in fp32. The dropped lo_a lo_b term is ~2^-22 relative, so the products are as
 * accurate as fp32 FMAs up to a few ulps and the op's fp32 tolerance applies unchanged (plain
 * TF32, 2^-11 per operand, would not meet it).
 *
 * Backward: dx is the same fused kernel on dy with the transposed factors (L^T, then R^T), which
 * also writes dy and dh to memory in GEMM layouts; a third launch of the kernel writes h = R x. The
 * weight gradients are reductions over the whole batch (dL = sum_b dy h^T per block, dR = sum_b dh
 * x^T), which no single block can own, so they are two cuBLAS strided-batched GEMMs with K = B on
 * those intermediates (as the peers' backward does with bmm).
 *
 * Shared-memory tile: element (b, i) of the 16 x n tile at S[i * 16 + b] (column-major, b
 * fastest). R's block r is then the 16 x p column-major matrix at S + 16 r p (leading dimension
 * 16), and L's block l the 16 x k matrix at S + 16 l with leading dimension 16 p: one layout serves
 * both factors, and y's index s p + l is again i. Each block of a factor maps columns to the same
 * columns, so a warp overwrites its own block in place after reading all of it (its accumulators
 * hold the whole block's output).
 *
 * Supported: p and k in {16, 32, 64} (template instances) with 64 n bytes of shared memory per block
 * (n <= 2048 here); sm_80 or newer (TF32 wmma); tensors 32-byte aligned (wmma's pointer rule; the
 * harness's and benchmarks' buffers are).
 *
 *   seqmix check --op monarch --variant cuda.fused        (needs a GPU; skipped otherwise)
 *   seqmix bench --op monarch --variant cuda.fused --suite paper
 */
#include <mma.h>
#include <stdint.h>
#include <stdlib.h>

#include <type_traits>

extern "C" {
#include "reference/monarch.h"
}
#include "kernels/monarch/cuda_monarch.cuh"

namespace {

using namespace nvcuda;

const int ROWS = 16;   /* batch rows per block: wmma's M */
const int WARPS = 8;
const int THREADS = WARPS * 32;

enum kernel_mode { MODE_FORWARD = 0, MODE_H = 1, MODE_DX = 2 };

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
typedef wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> frag_a;
typedef wmma::fragment<wmma::accumulator, 16, 16, 8, float> frag_c;

template <typename Frag> __device__ void split_tf32(const Frag &v, Frag &hi, Frag &lo) {
  for (int e = 0; e < v.num_elements; e++) {
    float h = wmma::__float_to_tf32(v.x[e]);
    hi.x[e] = h;
    lo.x[e] = wmma::__float_to_tf32(v.x[e] - h);
  }
}

/* One factor applied in place to the tile: for each of nblocks square blocks of size BLK, the
 * 16 x BLK matrix A_q (entry (b, c) at S[16 (q qstride + c cstride) + b]) becomes A_q W_q, with
 * W_q (entry (c_in, c_out)) read from global memory: TRANS_W = 1 (forward) reads W_q^T of the
 * stored block (c_out, c_in) = w[q BLK^2 + c_out BLK + c_in], TRANS_W = 0 (backward) the stored
 * block itself, (c_in, c_out) = w[q BLK^2 + c_in BLK + c_out]. */
template <int BLK, int TRANS_W>
__device__ void apply_factor(float *S, const float *__restrict__ w, int nblocks, int qstride, int cstride) {
  typedef typename std::conditional<TRANS_W, wmma::col_major, wmma::row_major>::type layout_b;
  typedef wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, layout_b> frag_b;
  const int NT = BLK / 16, warp = threadIdx.x / 32;
  const int lda = 16 * cstride;
  for (int q = warp; q < nblocks; q += WARPS) {
    float *A = S + 16 * q * qstride;
    const float *W = w + (size_t)q * BLK * BLK;
    frag_c acc[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) wmma::fill_fragment(acc[t], 0.0f);
#pragma unroll 2
    for (int kk = 0; kk < BLK / 8; kk++) {
      frag_a a, a_hi, a_lo;
      wmma::load_matrix_sync(a, A + kk * 8 * lda, lda);
      split_tf32(a, a_hi, a_lo);
#pragma unroll
      for (int t = 0; t < NT; t++) {
        frag_b b, b_hi, b_lo;
        /* the 8 x 16 piece (c_in in [8 kk, 8 kk + 8), c_out in [16 t, 16 t + 16)) */
        const float *Wp = TRANS_W ? W + (16 * t) * BLK + 8 * kk : W + (8 * kk) * BLK + 16 * t;
        wmma::load_matrix_sync(b, Wp, BLK);
        split_tf32(b, b_hi, b_lo);
        wmma::mma_sync(acc[t], a_lo, b_hi, acc[t]); /* small terms first */
        wmma::mma_sync(acc[t], a_hi, b_lo, acc[t]);
        wmma::mma_sync(acc[t], a_hi, b_hi, acc[t]);
      }
    }
    __syncwarp(); /* every lane has read the whole block before any lane overwrites it */
#pragma unroll
    for (int t = 0; t < NT; t++) wmma::store_matrix_sync(A + 16 * t * lda, acc[t], lda, wmma::mem_col_major);
    __syncwarp();
  }
}
#endif

/* MODE_FORWARD: in = x, out = y.  MODE_H: in = x, wsA = h as [l][r][b].  MODE_DX: in = dy, out = dx,
 * wsA = dy as [l][s][b], wsB = dh as [l][r][b]. */
template <int P, int K, int MODE>
__global__ void __launch_bounds__(THREADS) fused(const float *__restrict__ in, const float *__restrict__ R,
                                                  const float *__restrict__ L, float *__restrict__ out,
                                                  float *__restrict__ wsA, float *__restrict__ wsB, int64_t B) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  extern __shared__ __align__(128) float S[];
  const int n = P * K;
  const int64_t b0 = (int64_t)blockIdx.x * ROWS;
  /* S[i 16 + b] = in[b0 + b, i]; rows past B are zeros (their outputs are never stored) */
  for (int idx = threadIdx.x; idx < ROWS * n; idx += THREADS) {
    int b = idx % ROWS, i = idx / ROWS;
    S[idx] = b0 + b < B ? in[(b0 + b) * n + i] : 0.0f;
  }
  __syncthreads();
  if (MODE == MODE_DX) {
    /* dy as [l][s][b] for the dL GEMM: i = s P + l */
    for (int idx = threadIdx.x; idx < ROWS * n; idx += THREADS) {
      int b = idx % ROWS, i = idx / ROWS, s = i / P, l = i % P;
      if (b0 + b < B) wsA[((int64_t)l * K + s) * B + b0 + b] = S[idx];
    }
    /* L's block l transposed: dh[b, r, l] = sum_s L[l, s, r] dy[b, s P + l] (in place; the loop
     * above only read S, and apply_factor's warps write their own blocks after reading them) */
    __syncthreads();
    apply_factor<K, 0>(S, L, P, 1, P);
    __syncthreads();
    for (int idx = threadIdx.x; idx < ROWS * n; idx += THREADS) {
      int b = idx % ROWS, i = idx / ROWS, r = i / P, l = i % P;
      if (b0 + b < B) wsB[((int64_t)l * K + r) * B + b0 + b] = S[idx];
    }
    __syncthreads();
    /* R's block r transposed: dx[b, r P + j] = sum_l R[r, l, j] dh[b, r, l] */
    apply_factor<P, 0>(S, R, K, P, 1);
  } else {
    /* h[b, r, l] = sum_j R[r, l, j] x[b, r P + j], at i = r P + l */
    apply_factor<P, 1>(S, R, K, P, 1);
    __syncthreads();
    if (MODE == MODE_H) {
      for (int idx = threadIdx.x; idx < ROWS * n; idx += THREADS) {
        int b = idx % ROWS, i = idx / ROWS, r = i / P, l = i % P;
        if (b0 + b < B) wsA[((int64_t)l * K + r) * B + b0 + b] = S[idx];
      }
      return;
    }
    /* y[b, s P + l] = sum_r L[l, s, r] h[b, r, l]: block l is the 16 x K matrix at S + 16 l, ld 16 P */
    apply_factor<K, 1>(S, L, P, 1, P);
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < ROWS * n; idx += THREADS) {
    int b = idx % ROWS, i = idx / ROWS;
    if (b0 + b < B) out[(b0 + b) * n + i] = S[idx];
  }
#endif
}

typedef void (*kernel_fn)(const float *, const float *, const float *, float *, float *, float *, int64_t);

struct instance {
  int p, k;
  kernel_fn fn[3];
};

#define INSTANCE(P, K) {P, K, {fused<P, K, MODE_FORWARD>, fused<P, K, MODE_H>, fused<P, K, MODE_DX>}}
const instance instances[] = {INSTANCE(16, 16), INSTANCE(16, 32), INSTANCE(32, 16), INSTANCE(16, 64),
                              INSTANCE(64, 16), INSTANCE(32, 32), INSTANCE(32, 64), INSTANCE(64, 32)};
#undef INSTANCE

const instance *find_instance(int64_t p, int64_t k) {
  for (size_t i = 0; i < sizeof instances / sizeof instances[0]; i++)
    if (instances[i].p == p && instances[i].k == k) return &instances[i];
  return NULL;
}

size_t smem_bytes(int64_t n) { return (size_t)ROWS * (size_t)n * sizeof(float); }

const char *unsupported(const smx_config *c) {
  int64_t p = smx_monarch_p(c), k = c->v[MONARCH_N] / p;
  if (!find_instance(p, k))
    return "cuda.fused: needs block sizes p and k = n/p in {16, 32, 64} with n <= 2048 (wmma tiles, the 16 x n tile in "
           "shared memory)";
  return NULL;
}

struct fused_state {
  int64_t B, n, p, k;
  const instance *inst;
  cublasHandle_t blas;
  int have_blas;
  float *W1, *D2, *G1; /* backward: h [l][r][b], dy [l][s][b], dh [l][r][b] */
  size_t bytes;
};

void destroy(void *p) {
  fused_state *s = (fused_state *)p;
  if (!s) return;
  if (s->have_blas) cublasDestroy(s->blas);
  cudaFree(s->W1);
  cudaFree(s->D2);
  cudaFree(s->G1);
  free(s);
}

smx_status setup(fused_state *s) {
  int dev = 0, major = 0, optin = 0;
  SMX_CUDA_CHECK(cudaGetDevice(&dev));
  SMX_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  if (major < 8) return smx_fail(SMX_ERR_UNSUPPORTED, "cuda.fused: TF32 tensor cores need compute capability 8.0 or newer");
  SMX_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  size_t smem = smem_bytes(s->n);
  if (smem > (size_t)optin)
    return smx_fail(SMX_ERR_UNSUPPORTED, "cuda.fused: n = %lld needs %zu bytes of shared memory per block, the GPU allows %d",
                    (long long)s->n, smem, optin);
  for (int m = 0; m < 3; m++)
    SMX_CUDA_CHECK(cudaFuncSetAttribute(s->inst->fn[m], cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  smx_status st = monarch::blas_init(&s->blas);
  if (st != SMX_OK) return st;
  s->have_blas = 1;
  size_t one = (size_t)(s->B * s->n) * sizeof(float);
  SMX_CUDA_CHECK(cudaMalloc(&s->W1, one));
  SMX_CUDA_CHECK(cudaMalloc(&s->D2, one));
  SMX_CUDA_CHECK(cudaMalloc(&s->G1, one));
  s->bytes = 3 * one;
  return SMX_OK;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  fused_state *s = (fused_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.fused: cannot allocate state");
  s->B = c->v[MONARCH_B];
  s->n = c->v[MONARCH_N];
  s->p = smx_monarch_p(c);
  s->k = s->n / s->p;
  s->inst = find_instance(s->p, s->k);
  smx_status st = s->inst ? setup(s) : smx_fail(SMX_ERR_UNSUPPORTED, "%s", unsupported(c));
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) { return ((const fused_state *)p)->bytes; }

smx_status launch(fused_state *s, int mode, const float *in, const float *R, const float *L, float *out, float *wsA,
                  float *wsB) {
  int64_t blocks = (s->B + ROWS - 1) / ROWS;
  if (blocks > 2147483647LL) return smx_fail(SMX_ERR_UNSUPPORTED, "cuda.fused: B = %lld gives too many blocks", (long long)s->B);
  s->inst->fn[mode]<<<(unsigned)blocks, THREADS, smem_bytes(s->n)>>>(in, R, L, out, wsA, wsB, s->B);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

smx_status run(void *state, smx_pass pass, void *const *tv) {
  fused_state *s = (fused_state *)state;
  float *const *t = (float *const *)tv;
  for (int i = 0; i < MONARCH_NSLOTS; i++)
    if (t[i] && ((uintptr_t)t[i] & 31u))
      return smx_fail(SMX_ERR_INVALID, "cuda.fused: tensor %d is not 32-byte aligned (wmma loads need it)", i);
  if (pass == SMX_FWD) return launch(s, MODE_FORWARD, t[MONARCH_X], t[MONARCH_R], t[MONARCH_L], t[MONARCH_Y], NULL, NULL);
  int64_t B = s->B, p = s->p, k = s->k, n = s->n;
  smx_status st = launch(s, MODE_DX, t[MONARCH_DY], t[MONARCH_R], t[MONARCH_L], t[MONARCH_DX], s->D2, s->G1);
  if (st == SMX_OK) st = launch(s, MODE_H, t[MONARCH_X], t[MONARCH_R], t[MONARCH_L], NULL, s->W1, NULL);
  if (st != SMX_OK) return st;
  /* dL[l, s, r] = sum_b D2[l][s][b] W1[l][r][b]: batch l, C (k x k) = D2_l (k x B) W1_l^T */
  st = monarch::gemm(s->blas, false, true, k, k, B, s->D2, B, k * B, s->W1, B, k * B, 0.0f, t[MONARCH_DL], k, k * k, p);
  if (st != SMX_OK) return st;
  /* dR[r, l, j] = sum_b G1[l][r][b] x[b, r p + j]: batch r, C (p x p) = G1_r (p x B, ld k B) x_r */
  return monarch::gemm(s->blas, false, false, p, p, B, s->G1, k * B, B, t[MONARCH_X], n, p, 0.0f, t[MONARCH_DR], p,
                       p * p, k);
}

} // namespace

extern "C" const smx_variant smx_monarch_cuda_fused = {
    "cuda.fused",
    "one kernel, 16 rows per block in shared memory, R then L in place on tensor cores (3xTF32); backward: fused dx, "
    "cuBLAS weight gradients",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    unsupported,
    create,
    destroy,
    workspace_bytes,
    run,
    SMX_F32,
};
