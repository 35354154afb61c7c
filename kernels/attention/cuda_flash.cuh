/* FlashAttention-2 kernels shared by attention (kernels/attention/cuda_flash.cu: cuda.flash,
 * cuda.flash.bf16) and dma (kernels/dma/cuda_flash_sparse.cu: cuda.flash_sparse,
 * cuda.flash_sparse.bf16). The math is reference/attention.h and reference/dma.h; the algorithm is
 * FlashAttention-2 (Dao, 2023):
 *
 *   forward   one block per (b, h, query tile; grid x = b * H + h, y = tile, longest rows first).
 *             Q stays in shared memory (fp32) or registers (bf16); K/V tiles stream through a
 *             double-buffered cp.async pipeline; online softmax with O, the running max and the
 *             running sum in registers; O and LSE written once.
 *   backward  delta_f32 / delta_bf16: D_i = <do_i, o_i>. Then one block per (b, KV head g, key
 *             tile) that loops over the heads of g's group and the query tiles that can see the
 *             key tile, keeping dK, dV (and dbias) of its keys in registers: they are written
 *             once, without atomics and deterministically. dQ goes out by atomicAdd into an fp32
 *             buffer (dQ itself for fp32, a workspace converted by store_dq for bf16).
 *
 * Template parameters: the element type (float: SIMT fp32 FMA, because fp32 tensors must keep
 * fp32 accuracy and TF32 tensor cores would not; __nv_bfloat16: mma.sync m16n8k16 bf16 tensor cores
 * with fp32 accumulation and fp32 softmax), the head dimension P (32, 64, 128) and DMA:
 *
 *   DMA off  causal attention: key j visible to row i iff j <= i.
 *   DMA on   s_ij = scale <q_i, k_j> + bias[b, g, j]; key j kept for rows j <= i < keep[j]
 *            (smx_dma_keep_until_cuda); key tiles no row of the query tile keeps are skipped
 *            through keep_max (per KEEP_GRANULE keys, the largest keep[j] over kept keys, 0 when
 *            none is kept); a row with no kept key gets o = 0, lse = 0 and no gradient; the
 *            backward also writes dbias[b, g, j] = sum over rows and the group's heads of dS_ij.
 *
 * Masked scores are -inf; exponentials subtract a finite stand-in for a running max that is still
 * -inf, so exp never sees -inf - -inf. Partial tiles are zero-filled on load and masked; every
 * output row below L is written. Offsets are 64-bit. Tensors must be 16-byte aligned (cp.async).
 * Kernels use more than 48 KiB of dynamic shared memory for P = 128: call prepare() once first.
 */
#ifndef SEQMIX_KERNELS_ATTENTION_CUDA_FLASH_CUH
#define SEQMIX_KERNELS_ATTENTION_CUDA_FLASH_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include <type_traits>

#include "cuda_check.h"

namespace smx_flash {

typedef __nv_bfloat16 bf16;

/* keep_max holds one entry per KEEP_GRANULE keys; every key tile is a multiple of it. */
constexpr int KEEP_GRANULE = 32;
constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;

/* ---- arguments -------------------------------------------------------------------------------- */

template <typename T> struct fwd_args {
  const T *q, *k, *v;       /* (B, L, H, P), (B, L, Hkv, P), (B, L, Hkv, P) */
  const T *bias;            /* DMA: (B, Hkv, L) */
  const int32_t *keep;      /* DMA: keep_until, (B*Hkv, L) */
  const int32_t *keep_max;  /* DMA: (B*Hkv, ceil(L / KEEP_GRANULE)) */
  T *o;                     /* (B, L, H, P) */
  float *lse;               /* (B, H, L) */
  int L, H, Hkv;
  float scale;
};

template <typename T> struct bwd_args {
  const T *q, *k, *v, *dout;
  const T *bias;            /* DMA */
  const int32_t *keep, *keep_max;
  const float *lse;         /* (B, H, L) */
  float *delta;             /* (B, H, L) workspace: written by delta_*, read by the main kernel */
  float *dq_acc;            /* (B, L, H, P) fp32, zeroed before the kernel */
  T *dk, *dv;
  T *dbias;                 /* DMA: (B, Hkv, L) */
  int L, H, Hkv;
  float scale;
};

/* ---- PTX wrappers ----------------------------------------------------------------------------- */

#ifdef SMX_CUDA_EMULATION /* the CUDA emulator (emu/cuda_emu.h): the same instructions on the host */
__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, bool valid) {
  smx_emu::cp_async16(smem, gmem, valid);
}
__device__ __forceinline__ void cp_async_commit() { smx_emu::cp_async_commit(); }
template <int N> __device__ __forceinline__ void cp_async_wait() { smx_emu::cp_async_wait(N); }
__device__ __forceinline__ void ldsm_x4(uint32_t r[4], const bf16 *p) { smx_emu::ldmatrix_x4(r, p, false); }
__device__ __forceinline__ void ldsm_x4_t(uint32_t r[4], const bf16 *p) { smx_emu::ldmatrix_x4(r, p, true); }
__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  smx_emu::mma_m16n8k16_bf16(c, a, b0, b1);
}
#else
/* 16-byte global -> shared copy that bypasses L1; valid = false zero-fills (src is not read). */
__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, bool valid) {
  unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(n) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
/* Waits until at most N of this thread's committed groups are still in flight. */
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

/* Four 8x8 bf16 matrices; lane l supplies the address of row l % 8 of matrix l / 8 and receives,
 * in register m, elements (l / 4, 2 (l % 4) + {0, 1}) of matrix m, or with .trans elements
 * (2 (l % 4) + {0, 1}, l / 4). */
__device__ __forceinline__ void ldsm_x4(uint32_t r[4], const bf16 *p) {
  unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t r[4], const bf16 *p) {
  unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}

/* c (16x8 fp32) += a (16x16 bf16, row) * b (16x8 bf16, col). With g = lane / 4, t = lane % 4:
 * a[0] = A[g][2t..2t+1], a[1] = A[g+8][2t..], a[2] = A[g][2t+8..], a[3] = A[g+8][2t+8..];
 * b0 = B[2t..2t+1][g], b1 = B[2t+8..][g]; c[0..1] = C[g][2t..2t+1], c[2..3] = C[g+8][2t..].
 * The lower 16 bits of a register hold the lower column (row for b). */
__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

#endif

/* ---- element and fragment helpers ------------------------------------------------------------- */

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(bf16 x) { return __bfloat162float(x); }
__device__ __forceinline__ void put(float *p, float x) { *p = x; }
__device__ __forceinline__ void put(bf16 *p, float x) { *p = __float2bfloat16_rn(x); }
__device__ __forceinline__ float f4(const float4 &v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }
__device__ __forceinline__ float dot4(const float4 &a, const float4 &b, float acc) {
  return fmaf(a.w, b.w, fmaf(a.z, b.z, fmaf(a.y, b.y, fmaf(a.x, b.x, acc))));
}
/* Two floats as a bf16x2 register, lo in the lower half. */
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return static_cast<uint32_t>(__bfloat16_as_ushort(v.x)) | (static_cast<uint32_t>(__bfloat16_as_ushort(v.y)) << 16);
}
/* The A fragment (16 rows x 16 k) of a product whose left factor is the accumulator of a previous
 * mma: accumulator tiles n and n + 1 (8 columns each) become the k halves. */
__device__ __forceinline__ void acc_to_a(uint32_t a[4], const float lo[4], const float hi[4]) {
  a[0] = pack_bf16(lo[0], lo[1]);
  a[1] = pack_bf16(lo[2], lo[3]);
  a[2] = pack_bf16(hi[0], hi[1]);
  a[3] = pack_bf16(hi[2], hi[3]);
}
/* ldmatrix row addresses, as (row, column) offsets within a 16x16 bf16 block. Pattern X (row =
 * lane % 16, column = 8 (lane / 16)) gives with ldsm_x4 the A fragment of a row-major [m][k]
 * block, and with ldsm_x4_t the B fragments of n-tiles 0 and 1 (registers 0-1, 2-3) from a
 * [k][n] block. Pattern Y (row = lane % 8 + 8 (lane / 16), column = lane & 8) gives with ldsm_x4
 * the B fragments of n-tiles 0 and 1 from an [n][k] block, and with ldsm_x4_t the A fragment
 * from a [k][m] block. */
__device__ __forceinline__ int x_row(int lane) { return lane & 15; }
__device__ __forceinline__ int x_col(int lane) { return (lane >> 4) << 3; }
__device__ __forceinline__ int y_row(int lane) { return (lane & 7) + ((lane >> 4) << 3); }
__device__ __forceinline__ int y_col(int lane) { return lane & 8; }

/* Largest keep_until over the kept keys of key tile kt (BC keys), 0 when none is kept. */
template <int BC> __device__ __forceinline__ int tile_keep_max(const int32_t *km, int ng, int kt) {
  int m = 0;
  for (int gi = kt * (BC / KEEP_GRANULE); gi < (kt + 1) * (BC / KEEP_GRANULE) && gi < ng; ++gi) m = max(m, km[gi]);
  return m;
}

/* Stages rows [r0, r0 + ROWS) of one head (src: row 0 of that head, rows stride elements apart)
 * into shared rows of LD elements by 16-byte cp.async; rows at or past L are zero-filled. */
template <typename T, int ROWS, int P, int LD, int NT>
__device__ __forceinline__ void stage_rows(T *dst, const T *src, int64_t stride, int r0, int L) {
  constexpr int E = 16 / sizeof(T), CPR = P / E;
  for (int c = threadIdx.x; c < ROWS * CPR; c += NT) {
    const int r = c / CPR, e = (c % CPR) * E;
    const bool ok = r0 + r < L;
    cp_async16(dst + r * LD + e, src + (ok ? (int64_t)(r0 + r) * stride : 0) + e, ok);
  }
}

/* DMA per-key data of key tile k0: keep_until, and the bias times mul (log2(e) where the kernel
 * works in base 2); keys at or past L are never kept. Plain loads: the rows are not 16-byte
 * aligned; the block barrier after the next cp.async wait publishes them. */
template <typename T, int BC, int NT>
__device__ __forceinline__ void stage_keys(int *s_keep, float *s_bias, const int32_t *keep, const T *bias, int k0,
                                           int L, float mul) {
  for (int j = threadIdx.x; j < BC; j += NT) {
    const bool ok = k0 + j < L;
    s_keep[j] = ok ? keep[k0 + j] : 0;
    s_bias[j] = ok ? to_f(bias[k0 + j]) * mul : 0.f;
  }
}

extern __shared__ __align__(16) unsigned char flash_smem[];

/* ---- tile shapes ------------------------------------------------------------------------------ */

template <typename T, int P, bool DMA> struct fwd_tile;
template <int P, bool DMA> struct fwd_tile<float, P, DMA> {
  static constexpr int BR = 64, BC = 32, NT = 128, LD = P + 4, LDP = BC + 8;
  /* sQ [BR][LD], sK and sV [2][BC][LD], sP [BR][LDP]; DMA: bias and keep [2][BC] */
  static constexpr size_t smem = (BR * LD + 4 * BC * LD + BR * LDP) * sizeof(float) + (DMA ? 4 * BC * 4 : 0);
};
template <int P, bool DMA> struct fwd_tile<bf16, P, DMA> {
  static constexpr int BR = 64, BC = 64, NT = 128, LD = P + 8;
  /* sQ [BR][LD], sK and sV [2][BC][LD]; DMA: bias and keep [2][BC] */
  static constexpr size_t smem = (BR * LD + 4 * BC * LD) * sizeof(bf16) + (DMA ? 4 * BC * 4 : 0);
};

template <typename T, int P, bool DMA> struct bwd_tile;
template <int P, bool DMA> struct bwd_tile<float, P, DMA> {
  static constexpr int BC = 64, BR = 32, NT = 256, LD = P + 4, LDS = BR + 8;
  /* sK, sV [BC][LD]; sQ, sdO [2][BR][LD]; sPt, sdS [BC][LDS]; lse, D [2][BR]; DMA: bias, keep [BC] */
  static constexpr size_t smem =
      (2 * BC * LD + 4 * BR * LD + 2 * BC * LDS + 4 * BR) * sizeof(float) + (DMA ? 2 * BC * 4 : 0);
};
template <int P, bool DMA> struct bwd_tile<bf16, P, DMA> {
  /* 32 query rows at P = 128 keep dK, dV and the two score tiles within 255 registers */
  static constexpr int BC = 64, BR = P == 128 ? 32 : 64, NT = 128, LD = P + 8, LDS = BR + 8;
  /* sK, sV [BC][LD]; sQ, sdO [2][BR][LD]; sdS [BC][LDS]; lse, D [2][BR]; DMA: bias, keep [BC] */
  static constexpr size_t smem = (2 * BC * LD + 4 * BR * LD + BC * LDS) * sizeof(bf16) + 4 * BR * sizeof(float) +
                                 (DMA ? 2 * BC * 4 : 0);
};

/* ---- fp32 forward (SIMT) ---------------------------------------------------------------------- */
/* 128 threads: ty = tid / 8 owns query rows ty + 16 r (r < 4), tx = tid % 8 owns key columns
 * tx + 8 c (c < 4) of the score tile and output columns 32 c4 + 4 tx + (0..3); a row's 8 threads are
 * consecutive lanes of one warp, so row reductions are shuffles. Row strides of P + 4 floats keep
 * the float4 reads of 8 consecutive rows on distinct banks. */
template <int P, bool DMA>
__global__ void __launch_bounds__(fwd_tile<float, P, DMA>::NT) fwd_f32(const fwd_args<float> a) {
  typedef fwd_tile<float, P, DMA> S;
  constexpr int BR = S::BR, BC = S::BC, NT = S::NT, LD = S::LD, LDP = S::LDP, NC = P / 32;
  float *sQ = reinterpret_cast<float *>(flash_smem);
  float *sK = sQ + BR * LD, *sV = sK + 2 * BC * LD, *sP = sV + 2 * BC * LD;
  float *sBias = sP + BR * LDP;
  int *sKeep = reinterpret_cast<int *>(sBias + 2 * BC);

  const int L = a.L, H = a.H, Hkv = a.Hkv;
  const int b = blockIdx.x / H, h = blockIdx.x % H, g = h / (H / Hkv);
  const int q0 = (gridDim.y - 1 - blockIdx.y) * BR; /* the longest rows first */
  const int tid = threadIdx.x, ty = tid >> 3, tx = tid & 7;
  const int64_t qs = (int64_t)H * P, ks = (int64_t)Hkv * P;
  const float *qg = a.q + (int64_t)b * L * qs + (int64_t)h * P;
  const float *kg = a.k + (int64_t)b * L * ks + (int64_t)g * P;
  const float *vg = a.v + (int64_t)b * L * ks + (int64_t)g * P;
  const int64_t bg = (int64_t)b * Hkv + g;
  const int ng = (L + KEEP_GRANULE - 1) / KEEP_GRANULE;
  const int nkt = (min(L, q0 + BR) + BC - 1) / BC; /* causal: no key past the tile's last row */

  auto needed = [&](int kt) { return !DMA || tile_keep_max<BC>(a.keep_max + bg * ng, ng, kt) > q0; };
  auto next_needed = [&](int kt) {
    do ++kt;
    while (kt < nkt && !needed(kt));
    return kt;
  };
  auto stage_kv = [&](int kt, int buf) {
    stage_rows<float, BC, P, LD, NT>(sK + buf * BC * LD, kg, ks, kt * BC, L);
    stage_rows<float, BC, P, LD, NT>(sV + buf * BC * LD, vg, ks, kt * BC, L);
    if constexpr (DMA)
      stage_keys<float, BC, NT>(sKeep + buf * BC, sBias + buf * BC, a.keep + bg * L, a.bias + bg * L, kt * BC, L, 1.f);
  };

  stage_rows<float, BR, P, LD, NT>(sQ, qg, qs, q0, L);
  int kt = needed(0) ? 0 : next_needed(0);
  if (kt < nkt) stage_kv(kt, 0);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  float m[4], l[4], o[4][4 * NC];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
#pragma unroll
    for (int c = 0; c < 4 * NC; ++c) o[r][c] = 0.f;
  }

  for (int buf = 0; kt < nkt; buf ^= 1) {
    const int nxt = next_needed(kt);
    if (nxt < nkt) stage_kv(nxt, buf ^ 1);
    cp_async_commit();
    cp_async_wait<1>(); /* everything but the prefetch just issued */
    __syncthreads();
    const float *cK = sK + buf * BC * LD, *cV = sV + buf * BC * LD;
    const int k0 = kt * BC;

    float s[4][4];
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
      for (int c = 0; c < 4; ++c) s[r][c] = 0.f;
#pragma unroll 4
    for (int p = 0; p < P; p += 4) {
      float4 qv[4], kv[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) qv[r] = *reinterpret_cast<const float4 *>(sQ + (ty + 16 * r) * LD + p);
#pragma unroll
      for (int c = 0; c < 4; ++c) kv[c] = *reinterpret_cast<const float4 *>(cK + (tx + 8 * c) * LD + p);
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int c = 0; c < 4; ++c) s[r][c] = dot4(qv[r], kv[c], s[r][c]);
    }

    /* a tile left of the block's first row needs no causal mask */
    const bool diag = k0 + BC - 1 > q0;
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int i = q0 + ty + 16 * r;
      float mx = -INFINITY;
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int jl = tx + 8 * c, j = k0 + jl;
        float x = s[r][c] * a.scale;
        bool ok;
        if constexpr (DMA) {
          x += sBias[buf * BC + jl];
          ok = j <= i && i < sKeep[buf * BC + jl];
        } else {
          ok = !diag || j <= i;
        }
        s[r][c] = ok ? x : -INFINITY;
        mx = fmaxf(mx, s[r][c]);
      }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
      const float mnew = fmaxf(m[r], mx);
      const float base = mnew == -INFINITY ? 0.f : mnew; /* finite, so no -inf - -inf */
      const float alpha = expf(m[r] - base);
      m[r] = mnew;
      float sum = 0.f;
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const float pv = expf(s[r][c] - base);
        sum += pv;
        sP[(ty + 16 * r) * LDP + tx + 8 * c] = pv;
      }
      l[r] = l[r] * alpha + sum; /* this thread's share; the 8 shares are added at the end */
#pragma unroll
      for (int c = 0; c < 4 * NC; ++c) o[r][c] *= alpha;
    }
    __syncwarp(); /* a row of sP is written and read by the same 8 lanes */

#pragma unroll 2
    for (int j = 0; j < BC; j += 4) {
      float4 pr[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) pr[r] = *reinterpret_cast<const float4 *>(sP + (ty + 16 * r) * LDP + j);
#pragma unroll
      for (int jj = 0; jj < 4; ++jj)
#pragma unroll
        for (int c4 = 0; c4 < NC; ++c4) {
          const float4 vv = *reinterpret_cast<const float4 *>(cV + (j + jj) * LD + 32 * c4 + 4 * tx);
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            const float pj = f4(pr[r], jj);
            o[r][4 * c4 + 0] = fmaf(pj, vv.x, o[r][4 * c4 + 0]);
            o[r][4 * c4 + 1] = fmaf(pj, vv.y, o[r][4 * c4 + 1]);
            o[r][4 * c4 + 2] = fmaf(pj, vv.z, o[r][4 * c4 + 2]);
            o[r][4 * c4 + 3] = fmaf(pj, vv.w, o[r][4 * c4 + 3]);
          }
        }
    }
    __syncthreads(); /* buffer buf and sP are refilled next */
    kt = nxt;
  }

#pragma unroll
  for (int r = 0; r < 4; ++r) {
    float sum = l[r];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    sum += __shfl_xor_sync(0xffffffffu, sum, 4);
    const int i = q0 + ty + 16 * r;
    if (i >= L) continue;
    /* a row with no kept key (DMA) has sum = 0 and o = 0: o stays 0, lse = 0. A division, not a
     * reciprocal: one rounding fewer, as fp32 accuracy is what this variant is for */
    const float d = sum > 0.f ? sum : 1.f;
    float *og = a.o + ((int64_t)b * L + i) * qs + (int64_t)h * P;
#pragma unroll
    for (int c4 = 0; c4 < NC; ++c4) {
      const float *oc = o[r] + 4 * c4;
      *reinterpret_cast<float4 *>(og + 32 * c4 + 4 * tx) = make_float4(oc[0] / d, oc[1] / d, oc[2] / d, oc[3] / d);
    }
    if (tx == 0) a.lse[((int64_t)b * H + h) * L + i] = sum > 0.f ? m[r] + logf(sum) : 0.f;
  }
}

/* ---- bf16 forward (tensor cores) -------------------------------------------------------------- */
/* 4 warps, 16 query rows each. Q fragments are loaded once into registers; per key tile
 * S = Q K^T (mma, B from K rows by ldmatrix), online softmax in base 2 on the accumulators, then
 * O += P V with P repacked from the accumulators as bf16 A fragments and V by ldmatrix.trans.
 * Rows of P + 8 bf16 keep ldmatrix's 8-row phases on distinct banks. */
template <int P, bool DMA>
__global__ void __launch_bounds__(fwd_tile<bf16, P, DMA>::NT) fwd_bf16(const fwd_args<bf16> a) {
  typedef fwd_tile<bf16, P, DMA> S;
  constexpr int BR = S::BR, BC = S::BC, NT = S::NT, LD = S::LD, KS = P / 16, NB = BC / 8, NO = P / 8;
  bf16 *sQ = reinterpret_cast<bf16 *>(flash_smem);
  bf16 *sK = sQ + BR * LD, *sV = sK + 2 * BC * LD;
  float *sBias = reinterpret_cast<float *>(sV + 2 * BC * LD);
  int *sKeep = reinterpret_cast<int *>(sBias + 2 * BC);

  const int L = a.L, H = a.H, Hkv = a.Hkv;
  const int b = blockIdx.x / H, h = blockIdx.x % H, g = h / (H / Hkv);
  const int q0 = (gridDim.y - 1 - blockIdx.y) * BR;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, t4 = lane & 3;
  const int64_t qs = (int64_t)H * P, ks = (int64_t)Hkv * P;
  const bf16 *qg = a.q + (int64_t)b * L * qs + (int64_t)h * P;
  const bf16 *kg = a.k + (int64_t)b * L * ks + (int64_t)g * P;
  const bf16 *vg = a.v + (int64_t)b * L * ks + (int64_t)g * P;
  const int64_t bg = (int64_t)b * Hkv + g;
  const int ng = (L + KEEP_GRANULE - 1) / KEEP_GRANULE;
  const int nkt = (min(L, q0 + BR) + BC - 1) / BC;
  const float scale2 = a.scale * LOG2E;

  auto needed = [&](int kt) { return !DMA || tile_keep_max<BC>(a.keep_max + bg * ng, ng, kt) > q0; };
  auto next_needed = [&](int kt) {
    do ++kt;
    while (kt < nkt && !needed(kt));
    return kt;
  };
  auto stage_kv = [&](int kt, int buf) {
    stage_rows<bf16, BC, P, LD, NT>(sK + buf * BC * LD, kg, ks, kt * BC, L);
    stage_rows<bf16, BC, P, LD, NT>(sV + buf * BC * LD, vg, ks, kt * BC, L);
    if constexpr (DMA)
      stage_keys<bf16, BC, NT>(sKeep + buf * BC, sBias + buf * BC, a.keep + bg * L, a.bias + bg * L, kt * BC, L, LOG2E);
  };

  stage_rows<bf16, BR, P, LD, NT>(sQ, qg, qs, q0, L);
  int kt = needed(0) ? 0 : next_needed(0);
  if (kt < nkt) stage_kv(kt, 0);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  uint32_t qf[KS][4];
#pragma unroll
  for (int ks16 = 0; ks16 < KS; ++ks16)
    ldsm_x4(qf[ks16], sQ + (warp * 16 + x_row(lane)) * LD + ks16 * 16 + x_col(lane));

  /* rows gr (index 0) and gr + 8 (index 1) of the warp's 16 */
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, o[NO][4];
#pragma unroll
  for (int n = 0; n < NO; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;

  for (int buf = 0; kt < nkt; buf ^= 1) {
    const int nxt = next_needed(kt);
    if (nxt < nkt) stage_kv(nxt, buf ^ 1);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const bf16 *cK = sK + buf * BC * LD, *cV = sV + buf * BC * LD;
    const int k0 = kt * BC;

    float s[NB][4];
#pragma unroll
    for (int n = 0; n < NB; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
    for (int ks16 = 0; ks16 < KS; ++ks16)
#pragma unroll
      for (int n2 = 0; n2 < NB / 2; ++n2) {
        uint32_t bb[4];
        ldsm_x4(bb, cK + (n2 * 16 + y_row(lane)) * LD + ks16 * 16 + y_col(lane));
        mma_bf16(s[2 * n2], qf[ks16], bb[0], bb[1]);
        mma_bf16(s[2 * n2 + 1], qf[ks16], bb[2], bb[3]);
      }

    const bool diag = k0 + BC - 1 > q0;
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < NB; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = q0 + warp * 16 + gr + 8 * (e >> 1), jl = n * 8 + 2 * t4 + (e & 1), j = k0 + jl;
        float x = s[n][e] * scale2;
        bool ok;
        if constexpr (DMA) {
          x += sBias[buf * BC + jl];
          ok = j <= i && i < sKeep[buf * BC + jl];
        } else {
          ok = !diag || j <= i;
        }
        s[n][e] = ok ? x : -INFINITY;
        mx[e >> 1] = fmaxf(mx[e >> 1], s[n][e]);
      }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      const float mnew = fmaxf(m[r], mx[r]);
      const float base = mnew == -INFINITY ? 0.f : mnew;
      const float alpha = exp2f(m[r] - base);
      m[r] = mnew;
      float sum = 0.f;
#pragma unroll
      for (int n = 0; n < NB; ++n) {
        s[n][2 * r] = exp2f(s[n][2 * r] - base);
        s[n][2 * r + 1] = exp2f(s[n][2 * r + 1] - base);
        sum += s[n][2 * r] + s[n][2 * r + 1];
      }
      l[r] = l[r] * alpha + sum; /* this lane's share of the row; the quad adds up at the end */
#pragma unroll
      for (int n = 0; n < NO; ++n) {
        o[n][2 * r] *= alpha;
        o[n][2 * r + 1] *= alpha;
      }
    }

#pragma unroll
    for (int kk = 0; kk < BC / 16; ++kk) {
      uint32_t pa[4];
      acc_to_a(pa, s[2 * kk], s[2 * kk + 1]);
#pragma unroll
      for (int n2 = 0; n2 < NO / 2; ++n2) {
        uint32_t bb[4];
        ldsm_x4_t(bb, cV + (kk * 16 + x_row(lane)) * LD + n2 * 16 + x_col(lane));
        mma_bf16(o[2 * n2], pa, bb[0], bb[1]);
        mma_bf16(o[2 * n2 + 1], pa, bb[2], bb[3]);
      }
    }
    __syncthreads();
    kt = nxt;
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float sum = l[r];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int i = q0 + warp * 16 + gr + 8 * r;
    if (i >= L) continue;
    const float inv = sum > 0.f ? 1.f / sum : 0.f;
    bf16 *og = a.o + ((int64_t)b * L + i) * qs + (int64_t)h * P;
#pragma unroll
    for (int n = 0; n < NO; ++n)
      *reinterpret_cast<__nv_bfloat162 *>(og + n * 8 + 2 * t4) =
          __floats2bfloat162_rn(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
    if (t4 == 0) a.lse[((int64_t)b * H + h) * L + i] = sum > 0.f ? m[r] * LN2 + logf(sum) : 0.f;
  }
}

/* ---- backward: shared pieces ------------------------------------------------------------------ */

/* The query tiles that can see key tile kt, for one head: [qt0, qt1). Causal: rows from the
 * tile's first key on. DMA: rows below the largest keep_until of the tile's kept keys (past the
 * tile every row below it is covered, since each kept key's interval starts inside the tile). */
template <int BC, int BR, bool DMA> struct query_span {
  int qt0, qt1;
  __device__ __forceinline__ query_span(const int32_t *keep_max, int64_t bg, int ng, int kt, int L) {
    int end = L;
    if constexpr (DMA) end = tile_keep_max<BC>(keep_max + bg * ng, ng, kt);
    qt0 = kt * BC / BR;
    qt1 = max(qt0, (end + BR - 1) / BR);
  }
};

/* Stages the Q and dO rows, lse (times lse_mul) and D of iteration it = (head of the group,
 * query tile) into the given buffers. */
template <typename T, int P, int BR, int LD, int NT>
__device__ __forceinline__ void stage_queries(const bwd_args<T> &a, int b, int g, int it, int nq, int qt0, T *sQ,
                                              T *sdO, float *sLse, float *sD, float lse_mul) {
  const int L = a.L, H = a.H, G = H / a.Hkv;
  const int h = g * G + it / nq, i0 = (qt0 + it % nq) * BR;
  const int64_t qs = (int64_t)H * P, off = (int64_t)b * L * qs + (int64_t)h * P;
  stage_rows<T, BR, P, LD, NT>(sQ, a.q + off, qs, i0, L);
  stage_rows<T, BR, P, LD, NT>(sdO, a.dout + off, qs, i0, L);
  const int64_t row = ((int64_t)b * H + h) * L;
  for (int r = threadIdx.x; r < BR; r += NT) {
    const bool ok = i0 + r < L;
    sLse[r] = ok ? a.lse[row + i0 + r] * lse_mul : 0.f;
    sD[r] = ok ? a.delta[row + i0 + r] : 0.f;
  }
}

/* ---- fp32 backward (SIMT) --------------------------------------------------------------------- */
/* 256 threads, ty = tid / 8, tx = tid % 8. Scores (transposed, keys x queries): keys ty + 32 r
 * (r < 2), queries tx + 8 c (c < 4). dK, dV: keys ty + 32 r, columns 32 c4 + 4 tx + (0..3).
 * dQ: query ty, the same columns. P^T and dS^T pass through shared memory between the layouts. */
template <int P, bool DMA>
__global__ void __launch_bounds__(bwd_tile<float, P, DMA>::NT) bwd_f32(const bwd_args<float> a) {
  typedef bwd_tile<float, P, DMA> S;
  constexpr int BC = S::BC, BR = S::BR, NT = S::NT, LD = S::LD, LDS = S::LDS, NC = P / 32;
  float *sK = reinterpret_cast<float *>(flash_smem);
  float *sV = sK + BC * LD, *sQ = sV + BC * LD, *sdO = sQ + 2 * BR * LD, *sPt = sdO + 2 * BR * LD;
  float *sdS = sPt + BC * LDS, *sLse = sdS + BC * LDS, *sD = sLse + 2 * BR, *sBias = sD + 2 * BR;
  int *sKeep = reinterpret_cast<int *>(sBias + BC);

  const int L = a.L, H = a.H, Hkv = a.Hkv;
  const int kt = blockIdx.y, k0 = kt * BC; /* low key tiles see the most rows: they start first */
  const int b = blockIdx.x / Hkv, g = blockIdx.x % Hkv, G = H / Hkv;
  const int tid = threadIdx.x, ty = tid >> 3, tx = tid & 7;
  const int64_t ks = (int64_t)Hkv * P, qs = (int64_t)H * P, bg = (int64_t)b * Hkv + g;
  const int ng = (L + KEEP_GRANULE - 1) / KEEP_GRANULE;

  stage_rows<float, BC, P, LD, NT>(sK, a.k + (int64_t)b * L * ks + (int64_t)g * P, ks, k0, L);
  stage_rows<float, BC, P, LD, NT>(sV, a.v + (int64_t)b * L * ks + (int64_t)g * P, ks, k0, L);
  if constexpr (DMA) stage_keys<float, BC, NT>(sKeep, sBias, a.keep + bg * L, a.bias + bg * L, k0, L, 1.f);
  const query_span<BC, BR, DMA> span(a.keep_max, bg, ng, kt, L);
  const int nq = span.qt1 - span.qt0, n_it = G * nq;
  if (n_it > 0) stage_queries<float, P, BR, LD, NT>(a, b, g, 0, nq, span.qt0, sQ, sdO, sLse, sD, 1.f);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  float dk[2][4 * NC], dv[2][4 * NC], dbias[2] = {0.f, 0.f};
#pragma unroll
  for (int r = 0; r < 2; ++r)
#pragma unroll
    for (int c = 0; c < 4 * NC; ++c) dk[r][c] = dv[r][c] = 0.f;

  for (int it = 0; it < n_it; ++it) {
    const int buf = it & 1;
    if (it + 1 < n_it)
      stage_queries<float, P, BR, LD, NT>(a, b, g, it + 1, nq, span.qt0, sQ + (buf ^ 1) * BR * LD,
                                          sdO + (buf ^ 1) * BR * LD, sLse + (buf ^ 1) * BR, sD + (buf ^ 1) * BR, 1.f);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const float *cQ = sQ + buf * BR * LD, *cdO = sdO + buf * BR * LD, *cLse = sLse + buf * BR, *cD = sD + buf * BR;
    const int h = g * G + it / nq, i0 = (span.qt0 + it % nq) * BR;

    float st[2][4], dpt[2][4];
#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int c = 0; c < 4; ++c) st[r][c] = dpt[r][c] = 0.f;
#pragma unroll 2
    for (int p = 0; p < P; p += 4) {
      float4 kv[2], vv[2], qv[4], dov[4];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        kv[r] = *reinterpret_cast<const float4 *>(sK + (ty + 32 * r) * LD + p);
        vv[r] = *reinterpret_cast<const float4 *>(sV + (ty + 32 * r) * LD + p);
      }
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        qv[c] = *reinterpret_cast<const float4 *>(cQ + (tx + 8 * c) * LD + p);
        dov[c] = *reinterpret_cast<const float4 *>(cdO + (tx + 8 * c) * LD + p);
      }
#pragma unroll
      for (int r = 0; r < 2; ++r)
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          st[r][c] = dot4(kv[r], qv[c], st[r][c]);
          dpt[r][c] = dot4(vv[r], dov[c], dpt[r][c]);
        }
    }

#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int jl = ty + 32 * r, j = k0 + jl, il = tx + 8 * c, i = i0 + il;
        float x = st[r][c] * a.scale;
        bool ok = i < L && j <= i;
        if constexpr (DMA) {
          x += sBias[jl];
          ok = ok && i < sKeep[jl];
        }
        const float pv = ok ? expf(x - cLse[il]) : 0.f;
        const float ds = pv * (dpt[r][c] - cD[il]);
        sPt[jl * LDS + il] = pv;
        sdS[jl * LDS + il] = ds;
        if constexpr (DMA) dbias[r] += ds;
      }
    __syncthreads();

    /* dV += P^T dO, dK += dS^T Q (scale applied at the end) */
#pragma unroll 2
    for (int i = 0; i < BR; i += 4) {
      float4 pr[2], dr[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        pr[r] = *reinterpret_cast<const float4 *>(sPt + (ty + 32 * r) * LDS + i);
        dr[r] = *reinterpret_cast<const float4 *>(sdS + (ty + 32 * r) * LDS + i);
      }
#pragma unroll
      for (int ii = 0; ii < 4; ++ii)
#pragma unroll
        for (int c4 = 0; c4 < NC; ++c4) {
          const float4 dov = *reinterpret_cast<const float4 *>(cdO + (i + ii) * LD + 32 * c4 + 4 * tx);
          const float4 qv = *reinterpret_cast<const float4 *>(cQ + (i + ii) * LD + 32 * c4 + 4 * tx);
#pragma unroll
          for (int r = 0; r < 2; ++r) {
            const float pj = f4(pr[r], ii), dj = f4(dr[r], ii);
            dv[r][4 * c4 + 0] = fmaf(pj, dov.x, dv[r][4 * c4 + 0]);
            dv[r][4 * c4 + 1] = fmaf(pj, dov.y, dv[r][4 * c4 + 1]);
            dv[r][4 * c4 + 2] = fmaf(pj, dov.z, dv[r][4 * c4 + 2]);
            dv[r][4 * c4 + 3] = fmaf(pj, dov.w, dv[r][4 * c4 + 3]);
            dk[r][4 * c4 + 0] = fmaf(dj, qv.x, dk[r][4 * c4 + 0]);
            dk[r][4 * c4 + 1] = fmaf(dj, qv.y, dk[r][4 * c4 + 1]);
            dk[r][4 * c4 + 2] = fmaf(dj, qv.z, dk[r][4 * c4 + 2]);
            dk[r][4 * c4 + 3] = fmaf(dj, qv.w, dk[r][4 * c4 + 3]);
          }
        }
    }

    /* dQ rows of this tile += scale dS K, one query row per ty */
    float dq[4 * NC];
#pragma unroll
    for (int c = 0; c < 4 * NC; ++c) dq[c] = 0.f;
#pragma unroll 4
    for (int j = 0; j < BC; ++j) {
      const float d = sdS[j * LDS + ty];
#pragma unroll
      for (int c4 = 0; c4 < NC; ++c4) {
        const float4 kv = *reinterpret_cast<const float4 *>(sK + j * LD + 32 * c4 + 4 * tx);
        dq[4 * c4 + 0] = fmaf(d, kv.x, dq[4 * c4 + 0]);
        dq[4 * c4 + 1] = fmaf(d, kv.y, dq[4 * c4 + 1]);
        dq[4 * c4 + 2] = fmaf(d, kv.z, dq[4 * c4 + 2]);
        dq[4 * c4 + 3] = fmaf(d, kv.w, dq[4 * c4 + 3]);
      }
    }
    if (i0 + ty < L) {
      float *dst = a.dq_acc + ((int64_t)b * L + i0 + ty) * qs + (int64_t)h * P + 4 * tx;
#pragma unroll
      for (int c4 = 0; c4 < NC; ++c4)
#pragma unroll
        for (int e = 0; e < 4; ++e) atomicAdd(dst + 32 * c4 + e, dq[4 * c4 + e] * a.scale);
    }
    __syncthreads(); /* sPt, sdS and buffer buf are refilled next */
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int j = k0 + ty + 32 * r;
    if constexpr (DMA) {
      float db = dbias[r];
      db += __shfl_xor_sync(0xffffffffu, db, 1);
      db += __shfl_xor_sync(0xffffffffu, db, 2);
      db += __shfl_xor_sync(0xffffffffu, db, 4);
      if (tx == 0 && j < L) a.dbias[bg * L + j] = db;
    }
    if (j >= L) continue;
    const int64_t off = ((int64_t)b * L + j) * ks + (int64_t)g * P + 4 * tx;
#pragma unroll
    for (int c4 = 0; c4 < NC; ++c4) {
      const float *kc = dk[r] + 4 * c4, *vc = dv[r] + 4 * c4;
      *reinterpret_cast<float4 *>(a.dk + off + 32 * c4) =
          make_float4(kc[0] * a.scale, kc[1] * a.scale, kc[2] * a.scale, kc[3] * a.scale);
      *reinterpret_cast<float4 *>(a.dv + off + 32 * c4) = make_float4(vc[0], vc[1], vc[2], vc[3]);
    }
  }
}

/* ---- bf16 backward (tensor cores) ------------------------------------------------------------- */
/* 4 warps, warp w owns keys 16 w .. 16 w + 15 of the tile. Per query tile: S^T = K Q^T and
 * dP^T = V dO^T (A from K / V rows, B from Q / dO rows, both by ldmatrix), P^T and dS^T on the
 * accumulators, then dV += P^T dO and dK += dS^T Q with the accumulators repacked as A fragments
 * and dO / Q by ldmatrix.trans. dS^T goes to shared memory (bf16) for dQ = dS K: warp w takes
 * 16 query rows and a column range, A by ldmatrix.trans from dS^T, B by ldmatrix.trans from K. */
template <int P, bool DMA>
__global__ void __launch_bounds__(bwd_tile<bf16, P, DMA>::NT) bwd_bf16(const bwd_args<bf16> a) {
  typedef bwd_tile<bf16, P, DMA> S;
  constexpr int BC = S::BC, BR = S::BR, NT = S::NT, LD = S::LD, LDS = S::LDS;
  constexpr int KS = P / 16, NB = BR / 8, NO = P / 8;
  constexpr int MB = BR / 16, CW = P * MB / 4; /* dQ: 16-row blocks, columns per warp */
  bf16 *sK = reinterpret_cast<bf16 *>(flash_smem);
  bf16 *sV = sK + BC * LD, *sQ = sV + BC * LD, *sdO = sQ + 2 * BR * LD, *sdS = sdO + 2 * BR * LD;
  float *sLse = reinterpret_cast<float *>(sdS + BC * LDS), *sD = sLse + 2 * BR, *sBias = sD + 2 * BR;
  int *sKeep = reinterpret_cast<int *>(sBias + BC);

  const int L = a.L, H = a.H, Hkv = a.Hkv;
  const int kt = blockIdx.y, k0 = kt * BC; /* low key tiles see the most rows: they start first */
  const int b = blockIdx.x / Hkv, g = blockIdx.x % Hkv, G = H / Hkv;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, t4 = lane & 3;
  const int64_t ks = (int64_t)Hkv * P, qs = (int64_t)H * P, bg = (int64_t)b * Hkv + g;
  const int ng = (L + KEEP_GRANULE - 1) / KEEP_GRANULE;
  const float scale2 = a.scale * LOG2E;

  stage_rows<bf16, BC, P, LD, NT>(sK, a.k + (int64_t)b * L * ks + (int64_t)g * P, ks, k0, L);
  stage_rows<bf16, BC, P, LD, NT>(sV, a.v + (int64_t)b * L * ks + (int64_t)g * P, ks, k0, L);
  if constexpr (DMA) stage_keys<bf16, BC, NT>(sKeep, sBias, a.keep + bg * L, a.bias + bg * L, k0, L, LOG2E);
  const query_span<BC, BR, DMA> span(a.keep_max, bg, ng, kt, L);
  const int nq = span.qt1 - span.qt0, n_it = G * nq;
  if (n_it > 0) stage_queries<bf16, P, BR, LD, NT>(a, b, g, 0, nq, span.qt0, sQ, sdO, sLse, sD, LOG2E);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  /* accumulator rows: keys 16 warp + gr (index 0) and + 8 (index 1) */
  float dk[NO][4], dv[NO][4], dbias[2] = {0.f, 0.f};
#pragma unroll
  for (int n = 0; n < NO; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[n][e] = dv[n][e] = 0.f;

  for (int it = 0; it < n_it; ++it) {
    const int buf = it & 1;
    if (it + 1 < n_it)
      stage_queries<bf16, P, BR, LD, NT>(a, b, g, it + 1, nq, span.qt0, sQ + (buf ^ 1) * BR * LD,
                                         sdO + (buf ^ 1) * BR * LD, sLse + (buf ^ 1) * BR, sD + (buf ^ 1) * BR,
                                         LOG2E);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const bf16 *cQ = sQ + buf * BR * LD, *cdO = sdO + buf * BR * LD;
    const float *cLse = sLse + buf * BR, *cD = sD + buf * BR;
    const int h = g * G + it / nq, i0 = (span.qt0 + it % nq) * BR;

    float st[NB][4], dpt[NB][4];
#pragma unroll
    for (int n = 0; n < NB; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) st[n][e] = dpt[n][e] = 0.f;
    /* rolled at P = 128: unrolled, its prefetched fragments next to dK and dV spill there */
#pragma unroll(P == 128 ? 1 : KS)
    for (int ks16 = 0; ks16 < KS; ++ks16) {
      uint32_t ka[4], va[4];
      ldsm_x4(ka, sK + (warp * 16 + x_row(lane)) * LD + ks16 * 16 + x_col(lane));
      ldsm_x4(va, sV + (warp * 16 + x_row(lane)) * LD + ks16 * 16 + x_col(lane));
#pragma unroll
      for (int n2 = 0; n2 < NB / 2; ++n2) {
        uint32_t bb[4];
        ldsm_x4(bb, cQ + (n2 * 16 + y_row(lane)) * LD + ks16 * 16 + y_col(lane));
        mma_bf16(st[2 * n2], ka, bb[0], bb[1]);
        mma_bf16(st[2 * n2 + 1], ka, bb[2], bb[3]);
        ldsm_x4(bb, cdO + (n2 * 16 + y_row(lane)) * LD + ks16 * 16 + y_col(lane));
        mma_bf16(dpt[2 * n2], va, bb[0], bb[1]);
        mma_bf16(dpt[2 * n2 + 1], va, bb[2], bb[3]);
      }
    }

#pragma unroll
    for (int n = 0; n < NB; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int jl = warp * 16 + gr + 8 * (e >> 1), j = k0 + jl, il = n * 8 + 2 * t4 + (e & 1), i = i0 + il;
        float x = st[n][e] * scale2;
        bool ok = i < L && j <= i;
        if constexpr (DMA) {
          x += sBias[jl];
          ok = ok && i < sKeep[jl];
        }
        const float pv = ok ? exp2f(x - cLse[il]) : 0.f;
        const float ds = pv * (dpt[n][e] - cD[il]);
        st[n][e] = pv;
        dpt[n][e] = ds;
        if constexpr (DMA) dbias[e >> 1] += ds;
      }
#pragma unroll
    for (int n = 0; n < NB; ++n)
#pragma unroll
      for (int r = 0; r < 2; ++r)
        *reinterpret_cast<__nv_bfloat162 *>(sdS + (warp * 16 + gr + 8 * r) * LDS + n * 8 + 2 * t4) =
            __floats2bfloat162_rn(dpt[n][2 * r], dpt[n][2 * r + 1]);

#pragma unroll
    for (int kk = 0; kk < BR / 16; ++kk) {
      uint32_t pa[4], da[4];
      acc_to_a(pa, st[2 * kk], st[2 * kk + 1]);
      acc_to_a(da, dpt[2 * kk], dpt[2 * kk + 1]);
#pragma unroll
      for (int n2 = 0; n2 < NO / 2; ++n2) {
        uint32_t bb[4];
        ldsm_x4_t(bb, cdO + (kk * 16 + x_row(lane)) * LD + n2 * 16 + x_col(lane));
        mma_bf16(dv[2 * n2], pa, bb[0], bb[1]);
        mma_bf16(dv[2 * n2 + 1], pa, bb[2], bb[3]);
        ldsm_x4_t(bb, cQ + (kk * 16 + x_row(lane)) * LD + n2 * 16 + x_col(lane));
        mma_bf16(dk[2 * n2], da, bb[0], bb[1]);
        mma_bf16(dk[2 * n2 + 1], da, bb[2], bb[3]);
      }
    }
    __syncthreads(); /* dS^T complete */

    {
      const int mb = warp % MB, c0 = (warp / MB) * CW;
      uint32_t dsa[BC / 16][4];
#pragma unroll
      for (int kk = 0; kk < BC / 16; ++kk)
        ldsm_x4_t(dsa[kk], sdS + (kk * 16 + y_row(lane)) * LDS + mb * 16 + y_col(lane));
#pragma unroll
      for (int nc = 0; nc < CW / 16; ++nc) {
        float dq[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
        for (int kk = 0; kk < BC / 16; ++kk) {
          uint32_t bb[4];
          ldsm_x4_t(bb, sK + (kk * 16 + x_row(lane)) * LD + c0 + nc * 16 + x_col(lane));
          mma_bf16(dq[0], dsa[kk], bb[0], bb[1]);
          mma_bf16(dq[1], dsa[kk], bb[2], bb[3]);
        }
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int i = i0 + mb * 16 + gr + 8 * r;
          if (i >= L) continue;
          float *dst = a.dq_acc + ((int64_t)b * L + i) * qs + (int64_t)h * P + c0 + nc * 16 + 2 * t4;
#pragma unroll
          for (int hf = 0; hf < 2; ++hf) {
            atomicAdd(dst + hf * 8, dq[hf][2 * r] * a.scale);
            atomicAdd(dst + hf * 8 + 1, dq[hf][2 * r + 1] * a.scale);
          }
        }
      }
    }
    __syncthreads(); /* sdS and buffer buf are refilled next */
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int j = k0 + warp * 16 + gr + 8 * r;
    if constexpr (DMA) {
      float db = dbias[r];
      db += __shfl_xor_sync(0xffffffffu, db, 1);
      db += __shfl_xor_sync(0xffffffffu, db, 2);
      if (t4 == 0 && j < L) put(a.dbias + bg * L + j, db);
    }
    if (j >= L) continue;
    const int64_t off = ((int64_t)b * L + j) * ks + (int64_t)g * P + 2 * t4;
#pragma unroll
    for (int n = 0; n < NO; ++n) {
      *reinterpret_cast<__nv_bfloat162 *>(a.dk + off + n * 8) =
          __floats2bfloat162_rn(dk[n][2 * r] * a.scale, dk[n][2 * r + 1] * a.scale);
      *reinterpret_cast<__nv_bfloat162 *>(a.dv + off + n * 8) = __floats2bfloat162_rn(dv[n][2 * r], dv[n][2 * r + 1]);
    }
  }
}

/* ---- small kernels ---------------------------------------------------------------------------- */

/* D[b, h, i] = <do_i, o_i>, (B, L, H) rows of O in, (B, H, L) out. At L = 1, o_0 = v_0 exactly
 * and the references get dS = P (dP - D) = 0 exactly, so dq, dk and dbias are exactly 0 and the
 * check's bound for them is 0: D must round exactly as the main kernel's dP_ij = <do_i, v_j> does.
 *
 * fp32: one thread per row adding the products one after another in p order, as bwd_f32 adds
 * those of dP. */
template <int P>
__global__ void delta_f32(const float *o, const float *dout, float *delta, int L, int H, int64_t rows) {
  const int64_t row = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (row >= rows) return;
  const float4 *ov = reinterpret_cast<const float4 *>(o + row * P);
  const float4 *dv = reinterpret_cast<const float4 *>(dout + row * P);
  float acc = 0.f;
#pragma unroll 4
  for (int c = 0; c < P / 4; ++c) acc = dot4(ov[c], dv[c], acc);
  const int64_t h = row % H, i = (row / H) % L, b = row / ((int64_t)H * L);
  delta[(b * H + h) * L + i] = acc;
}

/* bf16: the diagonal of O dO^T over 16 rows per warp, through the same mma.sync sequence as
 * bwd_bf16's dP (16-wide k chunks in order into a zeroed fp32 accumulator, o in the A operand
 * where v is, do in B), so the tensor cores round both alike. Fragments straight from global
 * memory: each register is two adjacent bf16 of one row. */
template <int P>
__global__ void delta_bf16(const bf16 *o, const bf16 *dout, float *delta, int L, int H, int64_t rows) {
  const int64_t r0 = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32 * 16;
  if (r0 >= rows) return; /* whole warps leave together */
  const int lane = threadIdx.x & 31, gr = lane >> 2, t4 = lane & 3;
  auto word = [&](const bf16 *m, int64_t r, int col) {
    return r < rows ? *reinterpret_cast<const uint32_t *>(m + r * P + col) : 0u;
  };
  float c[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
  for (int ks16 = 0; ks16 < P / 16; ++ks16) {
    const int k0 = ks16 * 16 + 2 * t4;
    const uint32_t a[4] = {word(o, r0 + gr, k0), word(o, r0 + gr + 8, k0), word(o, r0 + gr, k0 + 8),
                           word(o, r0 + gr + 8, k0 + 8)};
#pragma unroll
    for (int nb = 0; nb < 2; ++nb)
      mma_bf16(c[nb], a, word(dout, r0 + nb * 8 + gr, k0), word(dout, r0 + nb * 8 + gr, k0 + 8));
  }
  /* lane (gr, t4) holds C[gr][2 t4 + e] in c[0][e] and C[gr + 8][8 + 2 t4 + e] in c[1][2 + e]:
   * diagonal where gr = 2 t4 + e */
  if ((gr >> 1) != t4) return;
  const bool odd = gr & 1;
  const float d[2] = {odd ? c[0][1] : c[0][0], odd ? c[1][3] : c[1][2]}; /* selects keep c in registers */
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int64_t row = r0 + gr + 8 * half;
    if (row >= rows) continue;
    const int64_t h = row % H, i = (row / H) % L, b = row / ((int64_t)H * L);
    delta[(b * H + h) * L + i] = d[half];
  }
}

/* The fp32 dQ accumulator into the element type (bf16 variants). */
template <typename T> __global__ void store_dq(const float *acc, T *dq, int64_t n) {
  const int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (e < n) put(dq + e, acc[e]);
}

/* ---- host launchers --------------------------------------------------------------------------- */

inline bool supported_head_dim(int64_t P) { return P == 32 || P == 64 || P == 128; }

template <typename T, int P, bool DMA> void *fwd_kernel() {
  if constexpr (std::is_same<T, float>::value)
    return reinterpret_cast<void *>(fwd_f32<P, DMA>);
  else
    return reinterpret_cast<void *>(fwd_bf16<P, DMA>);
}
template <typename T, int P, bool DMA> void *bwd_kernel() {
  if constexpr (std::is_same<T, float>::value)
    return reinterpret_cast<void *>(bwd_f32<P, DMA>);
  else
    return reinterpret_cast<void *>(bwd_bf16<P, DMA>);
}

/* Opts the two kernels of head dimension P into their dynamic shared memory (above 48 KiB for
 * some); once per state, before any launch. */
template <typename T, bool DMA, int P> smx_status prepare_p() {
  SMX_CUDA_CHECK(cudaFuncSetAttribute(fwd_kernel<T, P, DMA>(), cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      (int)fwd_tile<T, P, DMA>::smem));
  SMX_CUDA_CHECK(cudaFuncSetAttribute(bwd_kernel<T, P, DMA>(), cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      (int)bwd_tile<T, P, DMA>::smem));
  return SMX_OK;
}
template <typename T, bool DMA> smx_status prepare(int P) {
  switch (P) {
  case 32: return prepare_p<T, DMA, 32>();
  case 64: return prepare_p<T, DMA, 64>();
  default: return prepare_p<T, DMA, 128>();
  }
}

template <typename T, bool DMA, int P> smx_status forward_p(const fwd_args<T> &a, int B) {
  typedef fwd_tile<T, P, DMA> S;
  /* heads on x (up to 2^31 - 1 blocks), query tiles on y (L / 64 < 65536) */
  const dim3 grid((unsigned)(B * a.H), (unsigned)((a.L + S::BR - 1) / S::BR));
  if constexpr (std::is_same<T, float>::value)
    fwd_f32<P, DMA><<<grid, S::NT, S::smem>>>(a);
  else
    fwd_bf16<P, DMA><<<grid, S::NT, S::smem>>>(a);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}
/* O and LSE from Q, K, V (and for DMA bias, keep, keep_max). */
template <typename T, bool DMA> smx_status forward(const fwd_args<T> &a, int B, int P) {
  switch (P) {
  case 32: return forward_p<T, DMA, 32>(a, B);
  case 64: return forward_p<T, DMA, 64>(a, B);
  default: return forward_p<T, DMA, 128>(a, B);
  }
}

/* D, then the main kernel, for head dimension P. */
template <typename T, bool DMA, int P> smx_status backward_p(const bwd_args<T> &a, const T *o, int B) {
  typedef bwd_tile<T, P, DMA> S;
  const int64_t rows = (int64_t)B * a.L * a.H;
  if constexpr (std::is_same<T, float>::value)
    delta_f32<P><<<(unsigned)((rows + 255) / 256), 256>>>(o, a.dout, a.delta, a.L, a.H, rows);
  else
    delta_bf16<P><<<(unsigned)((rows + 63) / 64), 128>>>(o, a.dout, a.delta, a.L, a.H, rows); /* 16 rows a warp */
  SMX_CUDA_CHECK_LAUNCH();
  const dim3 grid((unsigned)(B * a.Hkv), (unsigned)((a.L + S::BC - 1) / S::BC));
  if constexpr (std::is_same<T, float>::value)
    bwd_f32<P, DMA><<<grid, S::NT, S::smem>>>(a);
  else
    bwd_bf16<P, DMA><<<grid, S::NT, S::smem>>>(a);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}
/* dQ, dK, dV (and for DMA dbias) from the forward's inputs, O, LSE and dO. a.delta is a (B, H, L)
 * fp32 workspace; a.dq_acc a (B, L, H, P) fp32 one, which for T = float is dq itself. */
template <typename T, bool DMA> smx_status backward(const bwd_args<T> &a, const T *o, T *dq, int B, int P) {
  const int64_t n = (int64_t)B * a.L * a.H * P;
  SMX_CUDA_CHECK(cudaMemsetAsync(a.dq_acc, 0, (size_t)n * sizeof(float), 0));
  smx_status st;
  switch (P) {
  case 32: st = backward_p<T, DMA, 32>(a, o, B); break;
  case 64: st = backward_p<T, DMA, 64>(a, o, B); break;
  default: st = backward_p<T, DMA, 128>(a, o, B); break;
  }
  if (st != SMX_OK) return st;
  if constexpr (!std::is_same<T, float>::value) {
    store_dq<T><<<(unsigned)((n + 255) / 256), 256>>>(a.dq_acc, dq, n);
    SMX_CUDA_CHECK_LAUNCH();
  }
  return SMX_OK;
}

} // namespace smx_flash

#endif
