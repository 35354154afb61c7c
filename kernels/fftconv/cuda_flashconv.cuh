/* The device code of fftconv's `cuda.flashconv` (kernels/fftconv/cuda_flashconv.cu): the Monarch
 * DFT stages, the block-level transform, and the spectrum, forward and backward kernels. Kept apart
 * from the host code so the same source can be compiled for a host emulation of its index math
 * (one thread per block, barriers as no-ops), which is how it was checked before any GPU ran it.
 * Include only from cuda_flashconv.cu (or such an emulation, which defines the CUDA keywords). */
#ifndef SEQMIX_FFTCONV_CUDA_FLASHCONV_CUH
#define SEQMIX_FFTCONV_CUDA_FLASHCONV_CUH

#include <cuda_bf16.h>
#include <stdint.h>

#include "reference/gelu.h"

#ifdef __CUDACC__
#define SMX_FC_DYNAMIC_SMEM(name) extern __shared__ float2 name[]
#define SMX_FC_NOINLINE __noinline__
#define SMX_FC_UNROLL _Pragma("unroll")
#elif defined(SMX_CUDA_EMULATION) /* the CUDA emulator (emu/cuda_emu.h) */
#define SMX_FC_DYNAMIC_SMEM(name) float2 *name = (float2 *)::smx_emu::dynamic_smem()
#define SMX_FC_NOINLINE __attribute__((noinline))
#define SMX_FC_UNROLL
#else /* the host emulation of tests/test_flashconv_emu.cc */
#define SMX_FC_DYNAMIC_SMEM(name) float2 *name = smx_fc_emulated_smem
#define SMX_FC_NOINLINE __attribute__((noinline))
#define SMX_FC_UNROLL
#endif

/* internal linkage: the library's object and the emulation test may both hold these symbols */
namespace {

constexpr int THREADS = 256; /* 255 registers per thread: a radix-16 column and its roots stay in registers */
constexpr int64_t MAX_L = 32768;       /* N <= 65536 */
constexpr int64_t MIN_N = 256;
constexpr int64_t INNER_MAX = 16384;   /* complex values of one row in shared memory (128 KiB) */
constexpr int64_t SLOTS_ELEMS = 8192;  /* G * N for N <= 8192 (64 KiB) */
constexpr int MAX_STAGES = 8;

struct geometry {
  int N, NI, RO, G;         /* FFT length, inner length, outer radix (1, 2, 4), rows per block */
  int n_stages;             /* inner stages */
  int radix[MAX_STAGES];    /* inner radices, first stage first */
};


__device__ __forceinline__ float2 cmul(float2 a, float2 b) {
  return make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}
__device__ __forceinline__ float2 cmulc(float2 a, float2 b) { /* a * conj(b) */
  return make_float2(a.x * b.x + a.y * b.y, a.y * b.x - a.x * b.y);
}

/* One decimation-in-frequency stage of radix R on nslots rows of length len (at X, shared or
 * global memory), sub-blocks of size M (a divisor of len), stride S = M / R:
 *   X[blk M + k S + c] = W_M^(c k) sum_j W_R^(j k) X[blk M + j S + c].
 * tw is the table of W_N^m; W_M^e = W_N^(e N / M). Ends with a barrier. Not inlined: each stage
 * gets its own register allocation (the R values of a column and the R roots of unity), instead
 * of the eight stage bodies competing for the registers of every kernel that calls them. */
template <int R>
__device__ SMX_FC_NOINLINE void stage_fwd(float2 *X, int nslots, int len, int M, const float2 *__restrict__ tw, int N) {
  const int S = M / R, cols = len / R, total = nslots * cols, step_m = N / M;
  float2 w[R];
SMX_FC_UNROLL
  for (int m = 0; m < R; m++) w[m] = tw[m * (N / R)];
  for (int id = threadIdx.x; id < total; id += blockDim.x) {
    int slot = id / cols, rem = id - slot * cols, blk = rem / S, c = rem - blk * S;
    float2 *base = X + (size_t)slot * len + (size_t)blk * M + c;
    float2 x[R];
SMX_FC_UNROLL
    for (int j = 0; j < R; j++) x[j] = base[j * S];
SMX_FC_UNROLL
    for (int k = 0; k < R; k++) {
      float2 s = x[0];
SMX_FC_UNROLL
      for (int j = 1; j < R; j++) {
        float2 p = cmul(x[j], w[(j * k) % R]);
        s.x += p.x;
        s.y += p.y;
      }
      base[k * S] = k ? cmul(s, tw[(c * k * step_m) & (N - 1)]) : s;
    }
  }
  __syncthreads();
}

/* The inverse of stage_fwd times R: X[blk M + j S + c] = sum_k conj(W_R^(j k)) conj(W_M^(c k)) X[blk M + k S + c]. */
template <int R>
__device__ SMX_FC_NOINLINE void stage_inv(float2 *X, int nslots, int len, int M, const float2 *__restrict__ tw, int N) {
  const int S = M / R, cols = len / R, total = nslots * cols, step_m = N / M;
  float2 w[R];
SMX_FC_UNROLL
  for (int m = 0; m < R; m++) w[m] = tw[m * (N / R)];
  for (int id = threadIdx.x; id < total; id += blockDim.x) {
    int slot = id / cols, rem = id - slot * cols, blk = rem / S, c = rem - blk * S;
    float2 *base = X + (size_t)slot * len + (size_t)blk * M + c;
    float2 y[R];
SMX_FC_UNROLL
    for (int k = 0; k < R; k++) {
      float2 v = base[k * S];
      y[k] = k ? cmulc(v, tw[(c * k * step_m) & (N - 1)]) : v;
    }
SMX_FC_UNROLL
    for (int j = 0; j < R; j++) {
      float2 s = y[0];
SMX_FC_UNROLL
      for (int k = 1; k < R; k++) {
        float2 p = cmulc(y[k], w[(j * k) % R]);
        s.x += p.x;
        s.y += p.y;
      }
      base[j * S] = s;
    }
  }
  __syncthreads();
}

__device__ void stage(bool inverse, int R, float2 *X, int nslots, int len, int M, const float2 *tw, int N) {
  switch (R) {
  case 2: inverse ? stage_inv<2>(X, nslots, len, M, tw, N) : stage_fwd<2>(X, nslots, len, M, tw, N); break;
  case 4: inverse ? stage_inv<4>(X, nslots, len, M, tw, N) : stage_fwd<4>(X, nslots, len, M, tw, N); break;
  case 8: inverse ? stage_inv<8>(X, nslots, len, M, tw, N) : stage_fwd<8>(X, nslots, len, M, tw, N); break;
  default: inverse ? stage_inv<16>(X, nslots, len, M, tw, N) : stage_fwd<16>(X, nslots, len, M, tw, N); break;
  }
}

/* The inner stages on nslots rows of length NI in shared memory (forward: first stage first). */
__device__ SMX_FC_NOINLINE void inner(const geometry &g, bool inverse, float2 *X, int nslots, const float2 *tw) {
  int M[MAX_STAGES];
  int m = g.NI;
  for (int s = 0; s < g.n_stages; s++) {
    M[s] = m;
    m /= g.radix[s];
  }
  if (!inverse)
    for (int s = 0; s < g.n_stages; s++) stage(false, g.radix[s], X, nslots, g.NI, M[s], tw, g.N);
  else
    for (int s = g.n_stages - 1; s >= 0; s--) stage(true, g.radix[s], X, nslots, g.NI, M[s], tw, g.N);
}

/* The whole DFT (or unnormalized inverse) of the rows at W in place. RO == 1: W is shared memory
 * holding nslots rows. RO > 1: W is one row in global memory; the outer stage runs there, the
 * inner sub-blocks go through shared memory. Every caller enters after a barrier and leaves after
 * one. */
__device__ SMX_FC_NOINLINE void block_dft(const geometry &g, bool inverse, float2 *W, float2 *smem, int nslots, const float2 *tw) {
  if (g.RO == 1) {
    inner(g, inverse, W, nslots, tw);
    return;
  }
  if (!inverse) stage(false, g.RO, W, 1, g.N, g.N, tw, g.N);
  for (int k1 = 0; k1 < g.RO; k1++) {
    float2 *sub = W + (size_t)k1 * g.NI;
    for (int i = threadIdx.x; i < g.NI; i += blockDim.x) smem[i] = sub[i];
    __syncthreads();
    inner(g, inverse, smem, 1, tw);
    for (int i = threadIdx.x; i < g.NI; i += blockDim.x) sub[i] = smem[i];
    __syncthreads();
  }
  if (inverse) stage(true, g.RO, W, 1, g.N, g.N, tw, g.N);
}

/* The packed rows of complex row q of channel h: batch 2q (real part) and 2q + 1 (imaginary). */
struct rows_of {
  int64_t a, b; /* row indices (b * H + h) or -1 */
};
__device__ __forceinline__ rows_of pair_rows(int64_t q, int64_t pairs, int64_t B, int64_t H) {
  int64_t h = q / pairs, j = q - h * pairs;
  rows_of r;
  r.a = (2 * j) * H + h;
  r.b = 2 * j + 1 < B ? (2 * j + 1) * H + h : -1;
  return r;
}

/* Storage types: fp32 (cuda.flashconv) and bf16 (cuda.flashconv.bf16); arithmetic is fp32 in both. */
__device__ __forceinline__ float ld(const float *p, size_t i) { return p[i]; }
__device__ __forceinline__ float ld(const __nv_bfloat16 *p, size_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void st(float *p, size_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__nv_bfloat16 *p, size_t i, float v) { p[i] = __float2bfloat16(v); }

/* W[s N + n] = (x_a[n], x_b[n]) for n < L (x = gate * src when gate is set), 0 beyond */
template <typename T>
__device__ void load_rows(float2 *W, int N, int nslots, const int64_t *ra, const int64_t *rb, int64_t L,
                          const T *__restrict__ src, const T *__restrict__ gate) {
  for (int i = threadIdx.x; i < nslots * N; i += blockDim.x) {
    int s = i / N, n = i - s * N;
    float2 v = make_float2(0.f, 0.f);
    if (n < L) {
      size_t ia = (size_t)(ra[s] * L + n);
      v.x = gate ? ld(gate, ia) * ld(src, ia) : ld(src, ia);
      if (rb[s] >= 0) {
        size_t ib = (size_t)(rb[s] * L + n);
        v.y = gate ? ld(gate, ib) * ld(src, ib) : ld(src, ib);
      }
    }
    W[i] = v;
  }
}

/* W[s N + f] = W[s N + f] * K_h[f] (conj_k: conj(K_h)); src may alias W */
__device__ void multiply_k(float2 *W, const float2 *src, int N, int nslots, const int64_t *hs,
                           const float2 *__restrict__ kf, bool conj_k) {
  for (int i = threadIdx.x; i < nslots * N; i += blockDim.x) {
    int s = i / N, f = i - s * N;
    float2 k = kf[(size_t)hs[s] * N + f];
    W[i] = conj_k ? cmulc(src[i], k) : cmul(src[i], k);
  }
}

/* ---- kernels ---- */

/* kf[h] = DFT(k_h) / N: G channels per block (grid-stride), zero imaginary parts. */
template <typename T>
__global__ void __launch_bounds__(THREADS) kernel_spectrum(geometry g, const T *__restrict__ k, int64_t H, int64_t L,
                                                           const float2 *__restrict__ tw, float2 *kf) {
  SMX_FC_DYNAMIC_SMEM(smem);
  const float inv_n = 1.0f / (float)g.N;
  int64_t ngroups = (H + g.G - 1) / g.G;
  for (int64_t grp = blockIdx.x; grp < ngroups; grp += gridDim.x) {
    int64_t h0 = grp * g.G;
    int nslots = (int)(H - h0 < g.G ? H - h0 : g.G);
    float2 *W = g.RO == 1 ? smem : kf + (size_t)h0 * g.N; /* RO > 1: G = 1, transform in place */
    for (int i = threadIdx.x; i < nslots * g.N; i += blockDim.x) {
      int s = i / g.N, n = i - s * g.N;
      W[i] = make_float2(n < L ? ld(k, (size_t)((h0 + s) * L + n)) : 0.f, 0.f);
    }
    __syncthreads();
    block_dft(g, false, W, smem, nslots, tw);
    for (int i = threadIdx.x; i < nslots * g.N; i += blockDim.x) {
      float2 v = W[i];
      kf[(size_t)h0 * g.N + i] = make_float2(v.x * inv_n, v.y * inv_n);
    }
    __syncthreads();
  }
}

/* Forward: G complex rows per group, groups grid-stride. */
template <typename T>
__global__ void __launch_bounds__(THREADS) forward_kernel(geometry g, int64_t B, int64_t H, int64_t L, int64_t pairs,
                                                          int gelu, const T *__restrict__ u, const T *__restrict__ D,
                                                          const T *__restrict__ pre, const T *__restrict__ post,
                                                          const float2 *__restrict__ tw, const float2 *__restrict__ kf,
                                                          float2 *work, T *y) {
  SMX_FC_DYNAMIC_SMEM(smem);
  __shared__ int64_t ra[SLOTS_ELEMS / MIN_N], rb[SLOTS_ELEMS / MIN_N], hs[SLOTS_ELEMS / MIN_N];
  int64_t total = H * pairs, ngroups = (total + g.G - 1) / g.G;
  float2 *W = g.RO == 1 ? smem : work + (size_t)blockIdx.x * g.N;
  for (int64_t grp = blockIdx.x; grp < ngroups; grp += gridDim.x) {
    int64_t q0 = grp * g.G;
    int nslots = (int)(total - q0 < g.G ? total - q0 : g.G);
    for (int s = threadIdx.x; s < nslots; s += blockDim.x) {
      rows_of r = pair_rows(q0 + s, pairs, B, H);
      ra[s] = r.a;
      rb[s] = r.b;
      hs[s] = (q0 + s) / pairs;
    }
    __syncthreads();
    load_rows(W, g.N, nslots, ra, rb, L, u, pre);
    __syncthreads();
    block_dft(g, false, W, smem, nslots, tw);
    multiply_k(W, W, g.N, nslots, hs, kf, false);
    __syncthreads();
    block_dft(g, true, W, smem, nslots, tw);
    for (int i = threadIdx.x; i < nslots * (int)L; i += blockDim.x) {
      int s = i / (int)L, t = i - s * (int)L;
      float2 c = W[(size_t)s * g.N + t];
      float d = ld(D, (size_t)hs[s]);
      for (int half = 0; half < 2; half++) {
        int64_t r = half ? rb[s] : ra[s];
        if (r < 0) continue;
        size_t idx = (size_t)(r * L + t);
        float v = pre ? ld(pre, idx) * ld(u, idx) : ld(u, idx);
        float z = (half ? c.y : c.x) + d * v;
        float a = gelu ? smx_gelu_f32(z) : z;
        st(y, idx, post ? ld(post, idx) * a : a);
      }
    }
    __syncthreads();
  }
}

/* Backward: one channel per block (grid-stride), its complex rows in groups of G in batch order:
 *   Zv = DFT(v) (saved in zv); z = IDFT(Zv K) when GELU or the post-gate needs it;
 *   g = dy post GELU'(z) written over z in W and kept in fp32 in gbuf; dpost = dy act(z);
 *   dD += g v (fp64 per thread);
 *   Zg = DFT(g); acc += sum_slots Zg conj(Zv) (slot order); dv = IDFT(Zg conj(K)) + D g;
 *   du = pre dv; dpre = u dv.  Then dk = Re IDFT(acc) / N and dD by a fixed tree. */
template <typename T>
__global__ void __launch_bounds__(THREADS) backward_kernel(
    geometry g, int64_t B, int64_t H, int64_t L, int64_t pairs, int gelu, const T *__restrict__ u,
    const T *__restrict__ D, const T *__restrict__ pre, const T *__restrict__ post, const T *__restrict__ dy,
    const float2 *__restrict__ tw, const float2 *__restrict__ kf, float2 *work, float2 *zv_all, float2 *g_all,
    float2 *acc_all, T *du, T *dk, T *dD, T *dpre, T *dpost) {
  SMX_FC_DYNAMIC_SMEM(smem);
  __shared__ int64_t ra[SLOTS_ELEMS / MIN_N], rb[SLOTS_ELEMS / MIN_N], hs[SLOTS_ELEMS / MIN_N];
  __shared__ double red[THREADS];
  float2 *W = g.RO == 1 ? smem : work + (size_t)blockIdx.x * g.N;
  float2 *zv = zv_all + (size_t)blockIdx.x * g.G * g.N, *acc = acc_all + (size_t)blockIdx.x * g.N;
  float2 *gbuf = g_all + (size_t)blockIdx.x * g.G * g.N; /* g of the group's packed rows, time order */
  const float inv_n = 1.0f / (float)g.N;
  const bool need_z = gelu || post;
  for (int64_t h = blockIdx.x; h < H; h += gridDim.x) {
    double dd = 0;
    const float d = ld(D, (size_t)h);
    for (int i = threadIdx.x; i < g.N; i += blockDim.x) acc[i] = make_float2(0.f, 0.f);
    for (int64_t j0 = 0; j0 < pairs; j0 += g.G) {
      int nslots = (int)(pairs - j0 < g.G ? pairs - j0 : g.G);
      __syncthreads(); /* the previous group's readers of ra/rb/hs are done */
      for (int s = threadIdx.x; s < nslots; s += blockDim.x) {
        rows_of r = pair_rows(h * pairs + j0 + s, pairs, B, H);
        ra[s] = r.a;
        rb[s] = r.b;
        hs[s] = h;
      }
      __syncthreads();
      /* Zv */
      load_rows(W, g.N, nslots, ra, rb, L, u, pre);
      __syncthreads();
      block_dft(g, false, W, smem, nslots, tw);
      for (int i = threadIdx.x; i < nslots * g.N; i += blockDim.x) zv[i] = W[i];
      __syncthreads(); /* W is rewritten below with another thread mapping */
      /* z (time order in W) */
      if (need_z) {
        multiply_k(W, W, g.N, nslots, hs, kf, false);
        __syncthreads();
        block_dft(g, true, W, smem, nslots, tw);
      }
      /* g over z in W (the next DFT's input) and in gbuf, dpost, dD */
      for (int i = threadIdx.x; i < nslots * (int)L; i += blockDim.x) {
        int s = i / (int)L, t = i - s * (int)L;
        float2 c = need_z ? W[(size_t)s * g.N + t] : make_float2(0.f, 0.f);
        float2 gp = make_float2(0.f, 0.f);
        for (int half = 0; half < 2; half++) {
          int64_t r = half ? rb[s] : ra[s];
          if (r < 0) continue;
          size_t idx = (size_t)(r * L + t);
          float v = pre ? ld(pre, idx) * ld(u, idx) : ld(u, idx);
          float gv = ld(dy, idx);
          if (need_z) {
            float z = (half ? c.y : c.x) + d * v;
            if (dpost) st(dpost, idx, gv * (gelu ? smx_gelu_f32(z) : z));
            gv *= (post ? ld(post, idx) : 1.0f) * (gelu ? smx_gelu_grad_f32(z) : 1.0f);
          }
          if (half)
            gp.y = gv;
          else
            gp.x = gv;
          dd += (double)gv * (double)v;
        }
        W[(size_t)s * g.N + t] = gp; /* the same thread read this element above */
        gbuf[(size_t)s * g.N + t] = gp;
      }
      for (int i = threadIdx.x; i < nslots * (g.N - (int)L); i += blockDim.x) { /* zero padding */
        int s = i / (g.N - (int)L), t = (int)L + (i - s * (g.N - (int)L));
        W[(size_t)s * g.N + t] = make_float2(0.f, 0.f);
      }
      __syncthreads();
      /* Zg; acc += sum_s Zg conj(Zv) */
      block_dft(g, false, W, smem, nslots, tw);
      for (int f = threadIdx.x; f < g.N; f += blockDim.x) {
        float2 a = acc[f];
        for (int s = 0; s < nslots; s++) {
          float2 p = cmulc(W[(size_t)s * g.N + f], zv[(size_t)s * g.N + f]);
          a.x += p.x;
          a.y += p.y;
        }
        acc[f] = a;
      }
      __syncthreads(); /* the sums above read W with another thread mapping than multiply_k writes it */
      /* dv = IDFT(Zg conj(K)) + D g */
      multiply_k(W, W, g.N, nslots, hs, kf, true);
      __syncthreads();
      block_dft(g, true, W, smem, nslots, tw);
      for (int i = threadIdx.x; i < nslots * (int)L; i += blockDim.x) {
        int s = i / (int)L, t = i - s * (int)L;
        float2 c = W[(size_t)s * g.N + t], gp = gbuf[(size_t)s * g.N + t];
        for (int half = 0; half < 2; half++) {
          int64_t r = half ? rb[s] : ra[s];
          if (r < 0) continue;
          size_t idx = (size_t)(r * L + t);
          float dv = (half ? c.y : c.x) + d * (half ? gp.y : gp.x);
          if (pre) {
            st(dpre, idx, ld(u, idx) * dv);
            dv *= ld(pre, idx);
          }
          st(du, idx, dv);
        }
      }
    }
    /* dk = Re IDFT(acc) / N */
    __syncthreads();
    for (int i = threadIdx.x; i < g.N; i += blockDim.x) W[i] = acc[i];
    __syncthreads();
    block_dft(g, true, W, smem, 1, tw);
    for (int t = threadIdx.x; t < (int)L; t += blockDim.x) st(dk, (size_t)h * L + t, W[t].x * inv_n);
    red[threadIdx.x] = dd;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if ((int)threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
      __syncthreads();
    }
    if (threadIdx.x == 0) st(dD, (size_t)h, (float)red[0]);
    __syncthreads();
  }
}

} // namespace

#endif
