/* The kernels of ssd's `cuda.chunked` (kernels/ssd/cuda_chunked.cu): Mamba-2's chunked algorithm
 * (the Triton pipeline chunk_cumsum -> chunk_state -> state_passing -> chunk_scan and its
 * backward) in fp32 SIMT arithmetic. fp32 tensors must keep fp32 accuracy, which TF32 tensor
 * cores would not. reference/ssd.h states the math; per chunk c of head h (rows t0 .. t0+q-1,
 * local t, s < q), cum_t = a_{t0} + ... + a_{t0+t} in fp64:
 *
 *   k_cumsum            per (b, h, c): delta, d delta / d dt, cum (a block scan in fp64)
 *   k_chunk_state<0>    X_c = U^T diag(dd) B'                dd_s = exp(cum_{q-1} - cum_s)
 *   k_state_pass<0>     S_c = entry state of chunk c, in place of X_c; hT
 *   k_chunk_scan<0>     y = (W o C'B'^T) U + diag(e) C' S_c^T + D x, gated     e_t = exp(cum_t)
 *   backward:
 *   k_chunk_scan<1>     (gate only) g = dy silu(z) and dz, from y0 recomputed
 *   k_chunk_state<1>    Z_c = g^T diag(e) C'   (the gradient reaching S_c from chunk c's rows)
 *   k_state_pass<1>     dS_c = gradient of the state leaving chunk c, in place of Z_c; dh0
 *   k_bwd_chunk         per (b, h, c) every remaining term: dU (into dx), dC', dB' (per head), the
 *                       decay gradient da, then dx, ddt and the chunk's dA, dD, ddt_bias partials
 *   k_dbc, k_params     fixed-order sums over a group's heads (dB, dC, rotated back) and over
 *                       batch and chunks (dA, dD, ddt_bias): two runs give identical bits
 *
 * Numerics (reference/ssd.h): every exponent is a difference of fp64 prefix sums rounded to fp32
 * after subtracting, and is <= 0. The decay gradient da_r (the sum of dseg(t, s) over segments
 * s < r <= t) is summed from its terms, as the reference does: per row t the exclusive prefix over
 * s of dseg(t, s) (accumulated in fp64, kept in an fp32 tile), then the sum over rows t >= r in
 * fp64 — never as differences of prefix sums.
 *
 * RoPE is applied while B and C are staged into shared memory (rotated copies never exist in
 * global memory): element n of B'_t reads B_t[n] and its partner n +- N/2 and the fp32 cos/sin
 * tables (fp64 on the host, rounded). B and C of a group are read by each of its heads.
 *
 * Every product is a 64 x 64 output tile per block of 256 threads (4 x 4 per thread), its operands
 * staged 16 k-values at a time (mm below). Chunks of up to QMAX rows; P and N are tiled by 64 with
 * bounds checks, so any P and N work. Static shared memory only (at most 48,968 bytes,
 * k_bwd_chunk). Offsets are 64-bit up to a chunk's first row, 32-bit within it.
 *
 *   seqmix check --op ssd --variant cuda.chunked        (needs a GPU; skipped otherwise)
 */
#ifndef SEQMIX_KERNELS_SSD_CUDA_SSD_CUH
#define SEQMIX_KERNELS_SSD_CUDA_SSD_CUH

#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

namespace smx_ssd {

constexpr int QMAX = 256; /* longest chunk: one k_cumsum thread per row, row arrays in shared memory */
constexpr int NT = 256;   /* threads of every chunk kernel */
constexpr int TILE = 64;  /* output tile side */
constexpr int KT = 16;    /* k-values staged per step */
constexpr int LDS = TILE + 1; /* odd leading dimension: a warp writing down a column hits 32 banks */
constexpr unsigned FULL = 0xffffffffu;

__host__ __device__ __forceinline__ int cdiv(int a, int b) { return (a + b - 1) / b; }

/* Everything a kernel reads: the op's tensors (device pointers), the RoPE tables, the workspace and
 * the shape. Passed by value. */
struct args {
  const float *x, *dt, *A, *Bm, *Cm, *D, *z, *dt_bias, *h0, *dy, *dhT;
  float *y, *hT, *dx, *ddt, *dA, *dBm, *dCm, *dD, *dz, *ddt_bias, *dh0;
  const float *cs, *sn; /* L x N/2 (rope) */
  float *delta, *ddelta; /* (B, H, L) */
  double *cum;           /* (B, H, L): per chunk, the inclusive prefix sums of a = delta A */
  float *st, *dst;       /* (B, H, nc, P, N) */
  float *g;              /* (B, L, H, P): dy silu(z) (gate = 1) */
  float *dBh, *dCh;      /* (B, L, H, N): dB', dC' per head (the outputs themselves when G = H) */
  double *part;          /* (B, H, nc, 3): the chunk's sums for dA, dD, ddt_bias */
  int B, L, H, P, G, N, Q, nc, hpg, rope, gate, init, softplus;
};

/* One chunk of one head: block coordinates and extent. */
struct chunk_at {
  int b, h, g, c, t0, q;
  int64_t bh;
};
__device__ __forceinline__ chunk_at locate(const args &a, int64_t bhc) {
  chunk_at r;
  r.c = (int)(bhc % a.nc);
  r.bh = bhc / a.nc;
  r.h = (int)(r.bh % a.H);
  r.b = (int)(r.bh / a.H);
  r.g = r.h / a.hpg;
  r.t0 = r.c * a.Q;
  r.q = min(a.Q, a.L - r.t0);
  return r;
}

/* Offset of row (b, t, h) of a (B, L, H, W) tensor, times W: x, y, dy, dx, z, dz, g (W = P) and
 * dBh, dCh (W = N). */
__device__ __forceinline__ int64_t row_of(const args &a, int b, int t, int h, int W) {
  return (((int64_t)b * a.L + t) * a.H + h) * W;
}

/* A chunk's view of the tensors it reads by row: 64-bit bases at the chunk's first row, then 32-bit
 * offsets, which suffice inside a chunk (t < 256 rows of at most H P or G N <= 2^21 floats; a P x N
 * state <= 2^18) and keep the staging loads' address arithmetic, most of these kernels'
 * registers, narrow. */
struct chunk_view {
  int64_t xo, no;     /* offsets of row (b, t0, h) in the P-wide and the N-wide (B, L, H, .) tensors */
  const float *Bc, *Cc; /* B and C at (b, t0, g) */
  const float *co, *si; /* the tables at position t0 (rope = 1), else NULL */
  int xld, nld, bld, half;
};
__device__ __forceinline__ chunk_view view_of(const args &a, const chunk_at &k) {
  chunk_view v;
  v.xo = row_of(a, k.b, k.t0, k.h, a.P);
  v.no = row_of(a, k.b, k.t0, k.h, a.N);
  const int64_t bo = (((int64_t)k.b * a.L + k.t0) * a.G + k.g) * a.N;
  v.Bc = a.Bm + bo;
  v.Cc = a.Cm + bo;
  v.half = a.N >> 1;
  v.co = a.rope ? a.cs + (int64_t)k.t0 * v.half : NULL;
  v.si = a.rope ? a.sn + (int64_t)k.t0 * v.half : NULL;
  v.xld = a.H * a.P;
  v.nld = a.H * a.N;
  v.bld = a.G * a.N;
  return v;
}

/* Element n of R_t m_t for B or C (m = v.Bc or v.Cc), chunk row t: the rotate-half pairing of
 * reference/ssd_tmpl.h (o[i] = x1 co - x2 si, o[i + half] = x2 co + x1 si). */
__device__ __forceinline__ float rot(const chunk_view &v, const float *m, int t, int n) {
  const float *r = m + t * v.bld;
  const float x = r[n];
  if (!v.co) return x;
  const float *co = v.co + t * v.half, *si = v.si + t * v.half;
  return n < v.half ? x * co[n] - r[n + v.half] * si[n] : x * co[n - v.half] + r[n - v.half] * si[n - v.half];
}

__device__ __forceinline__ double softplus(double v) { return v > 20.0 ? v : log1p(exp(v)); }
__device__ __forceinline__ float sigmoid(float v) { return (float)(1.0 / (1.0 + exp(-(double)v))); }

/* ---- the tile product ------------------------------------------------------------------------ */

struct stage {
  float a[KT][LDS], b[KT][LDS];
};

/* acc[i][j] += sum_{k < K} fa(k, m_i) fb(k, n_j) with m_i = ty + 16 i, n_j = tx + 16 j (tid = 16 ty
 * + tx), m, n < 64. fa and fb return 0 outside their operand. AK (BK) = true stages with
 * consecutive threads on consecutive k, for operands whose k index is the contiguous one in
 * memory; false puts them on consecutive m (n). A barrier comes first, so shared memory the caller
 * wrote before the call is visible to fa and fb, and fa and fb are called only before the last
 * barrier inside: the caller may overwrite what they read as soon as mm returns. Every thread of
 * the block must call it with the same K. The k order is fixed: results are deterministic. */
template <bool AK, bool BK, class FA, class FB>
__device__ __forceinline__ void mm(float (&acc)[4][4], int K, stage &s, FA fa, FB fb) {
  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  for (int k0 = 0; k0 < K; k0 += KT) {
    __syncthreads();
#pragma unroll
    for (int r = 0; r < KT * TILE / NT; r++) {
      const int e = tid + r * NT;
      const int ka = AK ? e % KT : e / TILE, ma = AK ? e / KT : e % TILE;
      s.a[ka][ma] = k0 + ka < K ? fa(k0 + ka, ma) : 0.f;
      const int kb = BK ? e % KT : e / TILE, nb = BK ? e / KT : e % TILE;
      s.b[kb][nb] = k0 + kb < K ? fb(k0 + kb, nb) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < KT; kk++) {
      float av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; i++) av[i] = s.a[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; j++) bv[j] = s.b[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
  }
}

/* Sum over the 16 threads sharing ty (lanes differing in their low 4 bits), fixed tree. */
__device__ __forceinline__ float sum16(float v) {
#pragma unroll
  for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(FULL, v, o);
  return v;
}
__device__ __forceinline__ double sum32(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL, v, o);
  return v;
}

/* ---- forward ---------------------------------------------------------------------------------- */

/* Block (b, h, c), one thread per row: delta (softplus of dt + bias in fp64, rounded, as the fp32
 * reference forms it), its derivative (ddelta != NULL) and cum, an inclusive scan in fp64 (warp
 * shuffles, then the warp totals in order). */
__global__ void __launch_bounds__(NT) k_cumsum(args a) {
  __shared__ double wsum[NT / 32];
  const chunk_at k = locate(a, blockIdx.x);
  const int i = threadIdx.x, lane = i & 31, w = i >> 5;
  double v = 0;
  if (i < k.q) {
    const int64_t row = ((int64_t)k.b * a.L + k.t0 + i) * a.H + k.h;
    float raw = a.dt[row], dl, ddl = 1.f;
    if (a.softplus) {
      raw += a.dt_bias[k.h];
      dl = (float)softplus((double)raw);
      ddl = sigmoid(raw);
    } else {
      dl = raw;
    }
    a.delta[k.bh * a.L + k.t0 + i] = dl;
    if (a.ddelta) a.ddelta[k.bh * a.L + k.t0 + i] = ddl;
    v = (double)dl * (double)a.A[k.h];
  }
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const double u = __shfl_up_sync(FULL, v, o);
    if (lane >= o) v += u;
  }
  if (lane == 31) wsum[w] = v;
  __syncthreads();
  double pre = 0;
  for (int j = 0; j < w; j++) pre += wsum[j];
  if (i < k.q) a.cum[k.bh * a.L + k.t0 + i] = pre + v;
}

/* Block (b, h, c, P tile, N tile) of a P x N product over the chunk's rows:
 *   GRAD = 0: X_c = sum_s dd_s u_s B'_s^T into st      (u = delta x)
 *   GRAD = 1: Z_c = sum_t g_t (e_t C'_t)^T into dst      (g = dy when gate = 0) */
template <bool GRAD> __global__ void __launch_bounds__(NT) k_chunk_state(args a) {
  __shared__ stage s;
  __shared__ float wt[QMAX], dl[QMAX];
  const int npt = cdiv(a.P, TILE), nnt = cdiv(a.N, TILE);
  int64_t id = blockIdx.x;
  const int ni = (int)(id % nnt);
  id /= nnt;
  const int pi = (int)(id % npt);
  const chunk_at k = locate(a, id / npt);
  const double *cum = a.cum + k.bh * a.L + k.t0;
  for (int i = threadIdx.x; i < k.q; i += NT) {
    wt[i] = GRAD ? expf((float)cum[i]) : expf((float)(cum[k.q - 1] - cum[i]));
    dl[i] = a.delta[k.bh * a.L + k.t0 + i];
  }
  const chunk_view v = view_of(a, k);
  const float *X = (GRAD ? (a.gate ? a.g : a.dy) : a.x) + v.xo;
  const float *M = GRAD ? v.Cc : v.Bc;
  float acc[4][4] = {};
  mm<false, false>(
      acc, k.q, s,
      [&](int t, int m) {
        const int p = pi * TILE + m;
        if (p >= a.P) return 0.f;
        const float e = X[t * v.xld + p];
        return GRAD ? e : (dl[t] * e) * wt[t];
      },
      [&](int t, int n) {
        const int nn = ni * TILE + n;
        if (nn >= a.N) return 0.f;
        const float e = rot(v, M, t, nn);
        return GRAD ? e * wt[t] : e;
      });
  float *out = (GRAD ? a.dst : a.st) + (k.bh * a.nc + k.c) * (int64_t)a.P * a.N;
  const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int p = pi * TILE + ty + 16 * i, n = ni * TILE + tx + 16 * j;
      if (p < a.P && n < a.N) out[p * a.N + n] = acc[i][j];
    }
}

/* Thread per (b, h, state element), sequential over chunks:
 *   REV = 0: S = h0 or 0; per chunk: st[c] <- S (the entry state), S = exp(tot_c) S + X_c; hT = S
 *   REV = 1: dS = dhT; per chunk from the last: dst[c] <- dS (the gradient of the state leaving
 *            chunk c), dS = exp(tot_c) dS + Z_c; dh0 = dS */
template <bool REV> __global__ void __launch_bounds__(NT) k_state_pass(args a) {
  const int64_t PN = (int64_t)a.P * a.N, per = (PN + NT - 1) / NT;
  const int64_t bh = blockIdx.x / per, i = (blockIdx.x % per) * NT + threadIdx.x;
  if (i >= PN) return;
  float *buf = (REV ? a.dst : a.st) + bh * a.nc * PN + i;
  const double *cum = a.cum + bh * a.L;
  /* the next chunk's value is loaded before this chunk's store: through one pointer the compiler
   * could not move the load up itself, and the loop would wait a full memory latency per chunk */
  if (!REV) {
    float S = a.init ? a.h0[bh * PN + i] : 0.f, next = buf[0];
    for (int c = 0; c < a.nc; c++) {
      const float X = next;
      if (c + 1 < a.nc) next = buf[(c + 1) * PN];
      buf[c * PN] = S;
      S = expf((float)cum[min(c * a.Q + a.Q, a.L) - 1]) * S + X;
    }
    if (a.hT) a.hT[bh * PN + i] = S;
  } else {
    float S = a.dhT[bh * PN + i], next = buf[(a.nc - 1) * PN];
    for (int c = a.nc - 1; c >= 0; c--) {
      const float Z = next;
      if (c > 0) next = buf[(c - 1) * PN];
      buf[c * PN] = S;
      S = expf((float)cum[min(c * a.Q + a.Q, a.L) - 1]) * S + Z;
    }
    if (a.init) a.dh0[bh * PN + i] = S;
  }
}

/* Block (b, h, c, row tile ti, P tile): y0 for 64 rows t of the chunk,
 *   y0_t = sum_{s <= t} exp(cum_t - cum_s) <C'_t, B'_s> u_s + e_t S_c C'_t + D x_t,
 * the column tiles si <= ti in turn (C'B'^T tile, times the weights, into shared memory, then times
 * U). GRAD = 0 writes y (gated); GRAD = 1 (gate = 1) writes g = dy z sigma(z) and dz. */
template <bool GRAD> __global__ void __launch_bounds__(NT) k_chunk_scan(args a) {
  __shared__ stage s;
  __shared__ float ms[TILE][LDS];
  __shared__ double cm[QMAX];
  __shared__ float dl[QMAX];
  const int npt = cdiv(a.P, TILE), ntt = cdiv(a.Q, TILE);
  int64_t id = blockIdx.x;
  const int pi = (int)(id % npt);
  id /= npt;
  const int ti = (int)(id % ntt);
  const chunk_at k = locate(a, id / ntt);
  if (ti * TILE >= k.q) return; /* the short last chunk has fewer row tiles (block-uniform) */
  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const int rows = min(k.q, ti * TILE + TILE);
  for (int i = tid; i < rows; i += NT) {
    cm[i] = a.cum[k.bh * a.L + k.t0 + i];
    dl[i] = a.delta[k.bh * a.L + k.t0 + i];
  }
  const chunk_view v = view_of(a, k);
  const float *x = a.x + v.xo;
  float acc[4][4] = {};
  for (int si = 0; si <= ti; si++) {
    float cb[4][4] = {};
    mm<true, true>(
        cb, a.N, s,
        [&](int n, int m) {
          const int t = ti * TILE + m;
          return t < k.q ? rot(v, v.Cc, t, n) : 0.f;
        },
        [&](int n, int c) {
          const int sr = si * TILE + c;
          return sr < k.q ? rot(v, v.Bc, sr, n) : 0.f;
        });
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const int t = ti * TILE + ty + 16 * i, sr = si * TILE + tx + 16 * j;
        const float w = (sr <= t && t < k.q) ? expf((float)(cm[t] - cm[sr])) : 0.f;
        ms[ty + 16 * i][tx + 16 * j] = w * cb[i][j];
      }
    mm<true, false>(
        acc, TILE, s, [&](int sr, int m) { return ms[m][sr]; },
        [&](int sr, int n) {
          const int r = si * TILE + sr, p = pi * TILE + n;
          return (r < k.q && p < a.P) ? dl[r] * x[r * v.xld + p] : 0.f;
        });
  }
  if (k.c > 0 || a.init) {
    const float *S = a.st + (k.bh * a.nc + k.c) * (int64_t)a.P * a.N;
    float sc[4][4] = {};
    mm<true, true>(
        sc, a.N, s,
        [&](int n, int m) {
          const int t = ti * TILE + m;
          return t < k.q ? rot(v, v.Cc, t, n) : 0.f;
        },
        [&](int n, int c) {
          const int p = pi * TILE + c;
          return p < a.P ? S[p * a.N + n] : 0.f;
        });
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int t = ti * TILE + ty + 16 * i;
      const float e = t < k.q ? expf((float)cm[t]) : 0.f;
#pragma unroll
      for (int j = 0; j < 4; j++) acc[i][j] = fmaf(e, sc[i][j], acc[i][j]);
    }
  }
  const float Dh = a.D[k.h];
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int t = ti * TILE + ty + 16 * i;
    if (t >= k.q) continue;
    const int64_t r = v.xo + t * v.xld;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int p = pi * TILE + tx + 16 * j;
      if (p >= a.P) continue;
      const float y0 = acc[i][j] + Dh * a.x[r + p];
      if (!GRAD) {
        if (a.gate) {
          const float zz = a.z[r + p];
          a.y[r + p] = y0 * (zz * sigmoid(zz));
        } else {
          a.y[r + p] = y0;
        }
      } else {
        const float zz = a.z[r + p], sg = sigmoid(zz), d = a.dy[r + p];
        a.g[r + p] = d * zz * sg;
        a.dz[r + p] = d * y0 * sg * (1 + zz * (1 - sg));
      }
    }
  }
}

/* ---- backward --------------------------------------------------------------------------------- */

/* Block (b, h, c): every gradient term of the chunk, with S_in = st[c] (entry state), dS = dst[c]
 * (gradient of the state leaving it), g the output gradient, u = delta x:
 *   1. state terms, per 64-row tile:
 *        dC'_t  = e_t g_t S_in                    T1_t = <that, C'_t>     (dseg(t, chunk start))
 *        dU_s   = dd_s dS B'_s                    T2_s = <u_s, dS B'_s>   (times dd_s: dseg(end, s))
 *        dB'_s  = dd_s dS^T u_s
 *      and dtot = exp(tot) <dS, S_in>; then da_r += sum_{t >= r} T1_t + sum_{s < r} dd_s T2_s + dtot
 *   2. intra-chunk, per tile pair (ti, si <= ti): CB = C'B'^T, dM = g U^T, W = exp(cum_t - cum_s)
 *      (s <= t), M = W o CB: dseg = M o dM feeds da; dU += M^T g, dC' += (W o dM) B',
 *      dB' += (W o dM)^T C'
 *   3. rows: dx = delta dU + D g, ddt = (<dU, x> + A da) ddelta, and the chunk's sums
 *      delta da (dA), g x (dD), ddt (ddt_bias) into part.
 * dU accumulates in dx's rows and dC', dB' in dCh, dBh (rows this block owns); each accumulator
 * element is always read and written by the same thread, so they need no barrier until step 3.
 * Two blocks per SM (at most 128 registers): their shared memory fits twice, and the row-prefix
 * loops below stay partly rolled so that the 128 hold without spills. */
__global__ void __launch_bounds__(NT, 2) k_bwd_chunk(args a) {
  /* 48,968 bytes: within the 48 KiB of static shared memory because the column partials live in
   * the staging area (no product runs while they do) and T1, T2 in the dCB tile (step 1 only) */
  __shared__ union {
    stage s;
    double colp[4][TILE];
  } us;
  __shared__ float buf[TILE][LDS];
  __shared__ union {
    float tile[TILE][LDS];
    double rows[2][QMAX];
  } ub;
  __shared__ double cm[QMAX], da[QMAX];
  __shared__ float ew[QMAX], dd[QMAX], dl[QMAX];
  __shared__ double red[3][NT / 32];
  __shared__ double dtot;
  stage &s = us.s;
  double *t1 = ub.rows[0], *t2 = ub.rows[1];
  float(&dcb)[TILE][LDS] = ub.tile;
  const chunk_at k = locate(a, blockIdx.x);
  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4, lane = tid & 31, w = tid >> 5;
  const int q = k.q, nt = cdiv(q, TILE), npt = cdiv(a.P, TILE), nnt = cdiv(a.N, TILE);
  const bool has_in = k.c > 0 || a.init;
  const int64_t PN = (int64_t)a.P * a.N;
  const chunk_view v = view_of(a, k);
  /* the chunk's rows: g, x and dx (dU until step 3) P wide, dC' and dB' N wide */
  const float *gs = (a.gate ? a.g : a.dy) + v.xo, *x = a.x + v.xo;
  float *dx = a.dx + v.xo, *dCh = a.dCh + v.no, *dBh = a.dBh + v.no;
  const float *Sin = a.st + (k.bh * a.nc + k.c) * PN, *dS = a.dst + (k.bh * a.nc + k.c) * PN;
  const double *cum = a.cum + k.bh * a.L + k.t0;
  auto xr = [&](int t) { return t * v.xld; };
  auto nr = [&](int t) { return t * v.nld; };
  auto Cp = [&](int t, int n) { return rot(v, v.Cc, t, n); };
  auto Bp = [&](int t, int n) { return rot(v, v.Bc, t, n); };
  for (int i = tid; i < q; i += NT) {
    cm[i] = cum[i];
    ew[i] = expf((float)cum[i]);
    dd[i] = expf((float)(cum[q - 1] - cum[i]));
    dl[i] = a.delta[k.bh * a.L + k.t0 + i];
    da[i] = t1[i] = t2[i] = 0;
  }
  __syncthreads();

  /* 1. state terms */
  for (int ti = 0; ti < nt; ti++) {
    for (int ni = 0; ni < nnt; ni++) {
      float acc[4][4] = {};
      if (has_in)
        mm<true, false>(
            acc, a.P, s,
            [&](int p, int m) {
              const int t = ti * TILE + m;
              return t < q ? gs[xr(t) + p] : 0.f;
            },
            [&](int p, int n) {
              const int nn = ni * TILE + n;
              return nn < a.N ? Sin[p * a.N + nn] : 0.f;
            });
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int t = ti * TILE + ty + 16 * i;
        float part = 0;
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const int nn = ni * TILE + tx + 16 * j;
          if (t < q && nn < a.N) {
            const float dc = ew[t] * acc[i][j];
            dCh[nr(t) + nn] = dc;
            if (has_in) part += dc * Cp(t, nn);
          }
        }
        part = sum16(part);
        if (tx == 0 && t < q) t1[t] += part;
      }
    }
    for (int pi = 0; pi < npt; pi++) {
      float acc[4][4] = {};
      mm<true, true>(
          acc, a.N, s,
          [&](int n, int m) {
            const int t = ti * TILE + m;
            return t < q ? Bp(t, n) : 0.f;
          },
          [&](int n, int c) {
            const int p = pi * TILE + c;
            return p < a.P ? dS[p * a.N + n] : 0.f;
          });
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int t = ti * TILE + ty + 16 * i;
        float part = 0;
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const int p = pi * TILE + tx + 16 * j;
          if (t < q && p < a.P) {
            const float qv = acc[i][j];
            dx[xr(t) + p] = dd[t] * qv;
            part += (dl[t] * x[xr(t) + p]) * qv;
          }
        }
        part = sum16(part);
        if (tx == 0 && t < q) t2[t] += part;
      }
    }
    for (int ni = 0; ni < nnt; ni++) {
      float acc[4][4] = {};
      mm<true, false>(
          acc, a.P, s,
          [&](int p, int m) {
            const int t = ti * TILE + m;
            return t < q ? dd[t] * (dl[t] * x[xr(t) + p]) : 0.f;
          },
          [&](int p, int n) {
            const int nn = ni * TILE + n;
            return nn < a.N ? dS[p * a.N + nn] : 0.f;
          });
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const int t = ti * TILE + ty + 16 * i, nn = ni * TILE + tx + 16 * j;
          if (t < q && nn < a.N) dBh[nr(t) + nn] = acc[i][j];
        }
    }
  }
  /* dtot = exp(tot) <dS, S_in>: the chunk's total decay scales S_in into the state leaving it */
  {
    double part = 0;
    if (has_in)
      for (int64_t i = tid; i < PN; i += NT) part += (double)dS[i] * (double)Sin[i];
    part = sum32(part);
    if (lane == 0) red[0][w] = part;
    __syncthreads(); /* also publishes t1, t2 */
    if (tid == 0) {
      double sum = 0;
      for (int j = 0; j < NT / 32; j++) sum += red[0][j];
      dtot = (double)expf((float)cm[q - 1]) * sum;
    }
    __syncthreads();
  }
  /* da_r += sum_{t >= r} T1_t + sum_{s < r} dd_s T2_s + dtot: warp 0, each lane a run of rows, the
   * runs joined by a shuffle scan (fixed order) */
  if (w == 0) {
    const int per = cdiv(q, 32), r0 = min(q, lane * per), r1 = min(q, r0 + per);
    double s1 = 0, s2 = 0;
    for (int r = r0; r < r1; r++) {
      s1 += t1[r];
      s2 += (double)dd[r] * t2[r];
    }
    double suf = 0, pre = 0; /* sums of s1 over lanes above, of s2 over lanes below */
    for (int o = 1; o < 32; o++) {
      const double u1 = __shfl_sync(FULL, s1, (lane + o) & 31), u2 = __shfl_sync(FULL, s2, (lane - o) & 31);
      if (lane + o < 32) suf += u1;
      if (lane - o >= 0) pre += u2;
    }
    double run = suf;
    for (int r = r1 - 1; r >= r0; r--) {
      run += t1[r];
      t1[r] = run;
    }
    run = pre;
    for (int r = r0; r < r1; r++) {
      da[r] += t1[r] + run + dtot;
      run += (double)dd[r] * t2[r];
    }
  }

  /* 2. intra-chunk pairs */
  for (int ti = 0; ti < nt; ti++) {
    double carry = 0; /* sum of dseg(t, s) over the column tiles done, row t = ti*64 + tid/4 */
    for (int si = 0; si <= ti; si++) {
      float cb[4][4] = {}, dm[4][4] = {};
      mm<true, true>(
          cb, a.N, s,
          [&](int n, int m) {
            const int t = ti * TILE + m;
            return t < q ? Cp(t, n) : 0.f;
          },
          [&](int n, int c) {
            const int sr = si * TILE + c;
            return sr < q ? Bp(sr, n) : 0.f;
          });
      mm<true, true>(
          dm, a.P, s,
          [&](int p, int m) {
            const int t = ti * TILE + m;
            return t < q ? gs[xr(t) + p] : 0.f;
          },
          [&](int p, int c) {
            const int sr = si * TILE + c;
            return sr < q ? dl[sr] * x[xr(sr) + p] : 0.f;
          });
      /* cb becomes M = W o CB, dm becomes dCB = W o dM; buf gets dseg = M o dM */
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const int t = ti * TILE + ty + 16 * i, sr = si * TILE + tx + 16 * j;
          const float wv = (sr <= t && t < q) ? expf((float)(cm[t] - cm[sr])) : 0.f;
          cb[i][j] *= wv;
          buf[ty + 16 * i][tx + 16 * j] = cb[i][j] * dm[i][j];
          dm[i][j] *= wv;
        }
      __syncthreads();
      /* row prefix: thread (row tid/4, quarter tid%4) holds 16 columns; R(t, r) = carry + sum of
       * dseg(t, s) over this tile's s < r replaces dseg(t, r) where r <= t (0 elsewhere) */
      {
        const int r = tid >> 2, qt = tid & 3, t = ti * TILE + r;
        float *row = &buf[r][16 * qt];
        double loc = 0;
#pragma unroll 4
        for (int j = 0; j < 16; j++) loc += row[j];
        const int base = lane & ~3;
        const double p0 = __shfl_sync(FULL, loc, base), p1 = __shfl_sync(FULL, loc, base + 1),
                     p2 = __shfl_sync(FULL, loc, base + 2), p3 = __shfl_sync(FULL, loc, base + 3);
        double run = carry + (qt > 0 ? p0 : 0) + (qt > 1 ? p1 : 0) + (qt > 2 ? p2 : 0);
        carry += ((p0 + p1) + p2) + p3;
#pragma unroll 4
        for (int j = 0; j < 16; j++) {
          const int sr = si * TILE + 16 * qt + j;
          const float ds = row[j];
          row[j] = (sr <= t && t < q) ? (float)run : 0.f;
          run += ds;
        }
      }
      __syncthreads();
      /* column sums over the tile's rows t >= r, in four quarters, then in order */
      {
        const int c = tid & 63, qt = tid >> 6;
        double cs = 0;
#pragma unroll 4
        for (int j = 0; j < 16; j++) cs += buf[16 * qt + j][c];
        us.colp[qt][c] = cs;
      }
      __syncthreads();
      if (tid < TILE && si * TILE + tid < q)
        da[si * TILE + tid] += ((us.colp[0][tid] + us.colp[1][tid]) + us.colp[2][tid]) + us.colp[3][tid];
      /* M into buf (its column readers passed the barrier above) and dCB into dcb; colp stays
       * readable until the next product's first barrier */
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
          buf[ty + 16 * i][tx + 16 * j] = cb[i][j];
          dcb[ty + 16 * i][tx + 16 * j] = dm[i][j];
        }
      /* dU_s += sum_t M(t, s) g_t */
      for (int pi = 0; pi < npt; pi++) {
        float acc[4][4] = {};
        mm<false, false>(
            acc, TILE, s, [&](int t, int m) { return buf[t][m]; },
            [&](int t, int c) {
              const int tr = ti * TILE + t, p = pi * TILE + c;
              return (tr < q && p < a.P) ? gs[xr(tr) + p] : 0.f;
            });
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
          for (int j = 0; j < 4; j++) {
            const int sr = si * TILE + ty + 16 * i, p = pi * TILE + tx + 16 * j;
            if (sr < q && p < a.P) dx[xr(sr) + p] += acc[i][j];
          }
      }
      /* dC'_t += sum_s dCB(t, s) B'_s, dB'_s += sum_t dCB(t, s) C'_t */
      for (int ni = 0; ni < nnt; ni++) {
        float acc[4][4] = {};
        mm<false, false>(
            acc, TILE, s, [&](int sr, int m) { return dcb[m][sr]; },
            [&](int sr, int c) {
              const int r = si * TILE + sr, nn = ni * TILE + c;
              return (r < q && nn < a.N) ? Bp(r, nn) : 0.f;
            });
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
          for (int j = 0; j < 4; j++) {
            const int t = ti * TILE + ty + 16 * i, nn = ni * TILE + tx + 16 * j;
            if (t < q && nn < a.N) dCh[nr(t) + nn] += acc[i][j];
          }
      }
      for (int ni = 0; ni < nnt; ni++) {
        float acc[4][4] = {};
        mm<false, false>(
            acc, TILE, s, [&](int t, int m) { return dcb[t][m]; },
            [&](int t, int c) {
              const int tr = ti * TILE + t, nn = ni * TILE + c;
              return (tr < q && nn < a.N) ? Cp(tr, nn) : 0.f;
            });
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
          for (int j = 0; j < 4; j++) {
            const int sr = si * TILE + ty + 16 * i, nn = ni * TILE + tx + 16 * j;
            if (sr < q && nn < a.N) dBh[nr(sr) + nn] += acc[i][j];
          }
      }
    }
  }

  /* 3. rows: a warp per row, lanes over P */
  __syncthreads();
  const float A = a.A[k.h], Dh = a.D[k.h];
  double sA = 0, sD = 0, sBias = 0;
  for (int t = w; t < q; t += NT / 32) {
    const int r = xr(t);
    double ux = 0, gx = 0;
    for (int p = lane; p < a.P; p += 32) {
      const float xv = x[r + p], gv = gs[r + p], du = dx[r + p];
      ux += (double)du * xv;
      gx += (double)gv * xv;
      dx[r + p] = dl[t] * du + Dh * gv;
    }
    ux = sum32(ux);
    gx = sum32(gx);
    if (lane == 0) {
      const float ddt = (float)((double)A * da[t] + ux) * a.ddelta[k.bh * a.L + k.t0 + t];
      a.ddt[((int64_t)k.b * a.L + k.t0 + t) * a.H + k.h] = ddt;
      sA += da[t] * dl[t];
      sD += gx;
      sBias += ddt;
    }
  }
  if (lane == 0) {
    red[0][w] = sA;
    red[1][w] = sD;
    red[2][w] = sBias;
  }
  __syncthreads();
  if (tid < 3) {
    double sum = 0;
    for (int j = 0; j < NT / 32; j++) sum += red[tid][j];
    a.part[(k.bh * a.nc + k.c) * 3 + tid] = sum;
  }
}

/* dB and dC: thread per (b, t, g) and element (rope = 0) or rotate-half pair (rope = 1): the sum
 * over the group's heads in head order, then R_t^T. In place when dBh is dB itself (G = H). */
__global__ void __launch_bounds__(NT) k_dbc(args a) {
  const int per = a.rope ? a.N / 2 : a.N;
  const int64_t id = (int64_t)blockIdx.x * NT + threadIdx.x, rows = (int64_t)a.B * a.L * a.G;
  if (id >= rows * per) return;
  const int i = (int)(id % per), g = (int)((id / per) % a.G);
  const int64_t bt = id / per / a.G; /* b * L + t */
  const int t = (int)(bt % a.L), half = a.N / 2;
  const int64_t out = (bt * a.G + g) * a.N;
  for (int which = 0; which < 2; which++) {
    const float *src = which ? a.dCh : a.dBh;
    float *dst = which ? a.dCm : a.dBm;
    float x1 = 0, x2 = 0;
    for (int h = g * a.hpg; h < (g + 1) * a.hpg; h++) {
      const float *r = src + (bt * a.H + h) * a.N;
      x1 += r[i];
      if (a.rope) x2 += r[i + half];
    }
    if (!a.rope) {
      dst[out + i] = x1;
    } else {
      const float co = a.cs[(int64_t)t * half + i], si = a.sn[(int64_t)t * half + i];
      dst[out + i] = x1 * co + x2 * si;
      dst[out + i + half] = x2 * co - x1 * si;
    }
  }
}

/* dA, dD, ddt_bias: thread per head, the chunk sums over batch and chunks in order */
__global__ void k_params(args a) {
  const int h = blockIdx.x * blockDim.x + threadIdx.x;
  if (h >= a.H) return;
  double s[3] = {0, 0, 0};
  for (int b = 0; b < a.B; b++)
    for (int c = 0; c < a.nc; c++)
      for (int j = 0; j < 3; j++) s[j] += a.part[(((int64_t)b * a.H + h) * a.nc + c) * 3 + j];
  a.dA[h] = (float)s[0];
  a.dD[h] = (float)s[1];
  if (a.softplus) a.ddt_bias[h] = (float)s[2];
}

} // namespace smx_ssd

#endif
