/* ssmconv variant `cuda.statepass`: H3's state passing on the GPU, the same algorithm and the same
 * per-chunk formulas as cpu.statepass (docs/ops/ssmconv.md).
 *
 * Forward: (1) each mode's discretization (fp64); (2) the first T taps per channel and their cuFFT;
 * (3) every chunk of every row as one batched cuFFT convolution (segments processed in batches
 * that fit a fixed workspace, zero-padded to F >= 2T - 1); (4) per (row, chunk) block, each mode's
 * sum of u against E^(T-1-i); (5) one thread per (row, mode) scans the chunks to get the state
 * entering each (fp64); (6) each output adds its chunk's entering-state share.
 * Backward: the same segments give du's correlation with the taps and the chunks' local
 * dy-u correlation spectra (summed per channel in a fixed order); per (row, chunk) blocks form the
 * five chunk sums; one thread per (channel, mode) scans each row forward (states) and backward
 * (adjoint state), accumulating the parameters' adjoints in fp64 over the batch in order; du adds
 * the adjoint's share; a block per (channel, mode) adds the correlation terms and applies the
 * chain rule (reference/ssm_diag.h).
 *
 * Powers E^j are evaluated where used: exponent and phase in fp64, phase reduced mod 2 pi, then
 * fp32 expf and sincosf, so their accuracy does not fall with j. All reductions run in a fixed
 * order: results are repeatable.
 *
 *   seqmix check --op ssmconv --variant cuda.statepass      (needs a GPU; skipped otherwise)
 *   seqmix bench --op ssmconv --variant cuda.statepass --suite paper
 */
#include <cuda_runtime.h>
#include <cufft.h>
#include <stdlib.h>

extern "C" {
#include "reference/fftconv.h"
#include "reference/ssmconv.h"
}
#include "reference/ssm_diag.h"
#include "cuda_check.h"

namespace {

const size_t SEGMENT_BUDGET = (size_t)256 << 20;  /* bytes for the batched chunk FFT buffers */
const size_t CHUNK_ARRAYS_LIMIT = (size_t)8 << 30; /* per-(row, chunk, mode) arrays */

struct dmode {
  double zr, zi;
  smx_c64 E, Bbar, C, ET;
};

struct params {
  const float *p[SSMC_NSLOTS];
};

struct sp_state {
  int64_t B, H, N, L, T, F, nf, nchunks, rows, segs, sb;
  cufftHandle r2c_k, c2r_k, r2c_s, c2r_s;
  int plans_made;
  void *work;
  dmode *md;
  float *kpad, *segpad;
  cufftComplex *kf, *specA, *specB, *racc;
  float2 *sums;               /* rows x nchunks x N x 5 chunk sums */
  smx_c64 *s_enter, *lam_next; /* rows x nchunks x N */
  smx_c64 *adj;               /* H x N x 3: adj C, adj Bbar, adj E */
  double *ddt;                /* H x N */
  size_t ws_bytes;
};

enum { SUM_U, SUM_L, SUM_C, SUM_VU, SUM_VB, SUM_COUNT };

inline unsigned grid_for(size_t n) {
  size_t b = (n + 255) / 256;
  return (unsigned)(b > 65535 * 8 ? 65535 * 8 : (b ? b : 1));
}

#define GRID_STRIDE(i, n) \
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

/* E^j with exponent and phase in fp64, the phase reduced to [-pi, pi] before fp32 sincos. */
__device__ __forceinline__ float2 pw(double zr, double zi, int64_t j) {
  const double two_pi = 6.283185307179586476925;
  double ph = zi * (double)j;
  ph -= two_pi * rint(ph / two_pi);
  float mag = expf((float)(zr * (double)j)), sn, cs;
  sincosf((float)ph, &sn, &cs);
  return make_float2(mag * cs, mag * sn);
}

/* Sum over the block (blockDim.x a power of two, at most 256) in a fixed order. */
template <typename V>
__device__ V block_sum(V v, V *sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = (int)blockDim.x / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) sh[threadIdx.x] = sh[threadIdx.x] + sh[threadIdx.x + s];
    __syncthreads();
  }
  V r = sh[0];
  __syncthreads(); /* sh is reused by the next call */
  return r;
}

struct f2 {
  float x, y;
  __device__ f2 operator+(const f2 &o) const { return {x + o.x, y + o.y}; }
};
struct d2 {
  double x, y;
  __device__ d2 operator+(const d2 &o) const { return {x + o.x, y + o.y}; }
};

__device__ smx_ssm_mode64 mode_of(const params &a, int64_t h, int64_t n, int64_t N) {
  int64_t i = h * N + n;
  double b[2] = {a.p[SSMC_B][2 * i], a.p[SSMC_B][2 * i + 1]}, c[2] = {a.p[SSMC_C][2 * i], a.p[SSMC_C][2 * i + 1]};
  return smx_ssm_mode_f64(a.p[SSMC_LOGDT][h], a.p[SSMC_LOGARE][i], a.p[SSMC_AIM][i], b, c);
}

__global__ void modes_kernel(params a, dmode *md, int64_t H, int64_t N, int64_t T) {
  GRID_STRIDE(i, (size_t)(H * N)) {
    int64_t h = (int64_t)i / N, n = (int64_t)i % N;
    smx_ssm_mode64 m = mode_of(a, h, n, N);
    dmode d;
    d.zr = m.dt * m.A.re;
    d.zi = m.dt * m.A.im;
    d.E = m.E;
    d.Bbar = m.Bbar;
    d.C = m.C;
    d.ET = cexp_f64(cscale_f64(m.A, m.dt * (double)T));
    md[i] = d;
  }
}

/* kpad[h, j] = sum_n 2 Re(C Bbar E^j) for j < T, 0 up to F */
__global__ void taps_kernel(const dmode *md, float *kpad, int64_t H, int64_t N, int64_t T, int64_t F) {
  GRID_STRIDE(i, (size_t)(H * F)) {
    int64_t h = (int64_t)i / F, j = (int64_t)i % F;
    float acc = 0;
    if (j < T)
      for (int64_t n = 0; n < N; n++) {
        const dmode &d = md[h * N + n];
        smx_c64 w = cmul_f64(d.C, d.Bbar);
        float2 e = pw(d.zr, d.zi, j);
        acc += 2 * ((float)w.re * e.x - (float)w.im * e.y);
      }
    kpad[i] = acc;
  }
}

/* Segment g (channel-major: g = (h B + b) nchunks + c) -> its row, chunk and length. */
struct seg_geom {
  int64_t r, h, c, len;
};
__device__ __forceinline__ seg_geom geom(int64_t g, int64_t B, int64_t H, int64_t L, int64_t T, int64_t nchunks) {
  seg_geom s;
  s.h = g / (B * nchunks);
  int64_t rem = g % (B * nchunks), b = rem / nchunks;
  s.c = rem % nchunks;
  s.r = b * H + s.h;
  s.len = L - s.c * T < T ? L - s.c * T : T;
  return s;
}

/* segpad[q, i] = src of segment g0 + q, zero-padded (and zero for q past the last segment) */
__global__ void pad_segments(const float *src, float *segpad, int64_t g0, int64_t sb, int64_t segs, int64_t B,
                             int64_t H, int64_t L, int64_t T, int64_t F, int64_t nchunks) {
  GRID_STRIDE(i, (size_t)(sb * F)) {
    int64_t q = (int64_t)i / F, j = (int64_t)i % F, g = g0 + q;
    float v = 0;
    if (g < segs) {
      seg_geom s = geom(g, B, H, L, T, nchunks);
      if (j < s.len) v = src[s.r * L + s.c * T + j];
    }
    segpad[i] = v;
  }
}

/* out[q, f] = a[q, f] * (kf[h, f] or its conjugate) * scale */
__global__ void multiply_segments(const cufftComplex *a, const cufftComplex *kf, cufftComplex *out, int64_t g0,
                                  int64_t sb, int64_t B, int64_t nchunks, int64_t H, int64_t nf, int conj_k,
                                  float scale) {
  GRID_STRIDE(i, (size_t)(sb * nf)) {
    int64_t q = (int64_t)i / nf, f = (int64_t)i % nf;
    int64_t h = (g0 + q) / (B * nchunks);
    if (h >= H) h = H - 1; /* padding segments past the end: their output is discarded */
    cufftComplex x = a[i], y = kf[h * nf + f];
    float yi = conj_k ? -y.y : y.y;
    out[i] = make_cuFloatComplex((x.x * y.x - x.y * yi) * scale, (x.x * yi + x.y * y.x) * scale);
  }
}

/* dst[row, c T + i] = segpad[q, i] + D[h] src[row, c T + i] for the batch's segments */
__global__ void segments_out(const float *segpad, const float *src, const float *D, float *dst, int64_t g0,
                             int64_t sb, int64_t segs, int64_t B, int64_t H, int64_t L, int64_t T, int64_t F,
                             int64_t nchunks) {
  GRID_STRIDE(i, (size_t)(sb * T)) {
    int64_t q = (int64_t)i / T, j = (int64_t)i % T, g = g0 + q;
    if (g >= segs) continue;
    seg_geom s = geom(g, B, H, L, T, nchunks);
    if (j >= s.len) continue;
    int64_t o = s.r * L + s.c * T + j;
    dst[o] = segpad[q * F + j] + D[s.h] * src[o];
  }
}

/* racc[h, f] += sum over the batch's segments of channel h (in order) of dyf conj(uf) / F */
__global__ void racc_accumulate(const cufftComplex *dyf, const cufftComplex *uf, cufftComplex *racc, int64_t g0,
                                int64_t sb, int64_t segs, int64_t B, int64_t nchunks, int64_t H, int64_t nf,
                                float scale) {
  GRID_STRIDE(i, (size_t)(H * nf)) {
    int64_t h = (int64_t)i / nf, f = (int64_t)i % nf;
    int64_t lo = h * B * nchunks, hi = lo + B * nchunks;
    if (lo < g0) lo = g0;
    if (hi > g0 + sb) hi = g0 + sb;
    if (hi > segs) hi = segs;
    if (lo >= hi) continue;
    float re = racc[i].x, im = racc[i].y;
    for (int64_t g = lo; g < hi; g++) {
      cufftComplex d = dyf[(g - g0) * nf + f], u = uf[(g - g0) * nf + f];
      re += (d.x * u.x + d.y * u.y) * scale;
      im += (d.y * u.x - d.x * u.y) * scale;
    }
    racc[i] = make_cuFloatComplex(re, im);
  }
}

/* One block of 256 per (row, chunk): each mode's chunk sums (fp32 terms, fixed-order tree).
 * sums[k]: SUM_U = sum u[i] E^(len-1-i) (carry), SUM_L = sum dy E^tau, SUM_C = sum dy (tau+1) E^tau,
 * SUM_VU = sum u[i] E^(len-i), SUM_VB = sum u[i] (len-1-i) E^(len-1-i). The forward asks only SUM_U. */
__global__ void chunk_sums_kernel(const float *u, const float *dy, const dmode *md, float2 *sums, int64_t H,
                                  int64_t N, int64_t L, int64_t T, int64_t nchunks, int all) {
  __shared__ f2 sh[256];
  int64_t r = blockIdx.x / nchunks, c = blockIdx.x % nchunks, h = r % H;
  int64_t c0 = c * T, len = L - c0 < T ? L - c0 : T;
  const float *ur = u + r * L + c0, *dyr = all ? dy + r * L + c0 : NULL;
  for (int64_t n = 0; n < N; n++) {
    const dmode &d = md[h * N + n];
    f2 a[SUM_COUNT] = {{0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}};
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      float x = ur[i];
      float2 e = pw(d.zr, d.zi, len - 1 - i);
      a[SUM_U] = a[SUM_U] + f2{x * e.x, x * e.y};
      if (all) {
        float w = x * (float)(len - 1 - i);
        a[SUM_VB] = a[SUM_VB] + f2{w * e.x, w * e.y};
        float2 e1 = pw(d.zr, d.zi, len - i);
        a[SUM_VU] = a[SUM_VU] + f2{x * e1.x, x * e1.y};
        float g = dyr[i];
        float2 et = pw(d.zr, d.zi, i);
        a[SUM_L] = a[SUM_L] + f2{g * et.x, g * et.y};
        float gw = g * (float)(i + 1);
        a[SUM_C] = a[SUM_C] + f2{gw * et.x, gw * et.y};
      }
    }
    size_t o = ((size_t)blockIdx.x * N + n) * SUM_COUNT;
    for (int k = 0; k < (all ? SUM_COUNT : 1); k++) {
      f2 t = block_sum(a[k], sh);
      if (threadIdx.x == 0) sums[o + k] = make_float2(t.x, t.y);
    }
  }
}

/* Forward: one thread per (row, mode) scans the chunks: s_enter[c] = s; s = E^T s + Bbar SUM_U. */
__global__ void state_scan_kernel(const dmode *md, const float2 *sums, smx_c64 *s_enter, int64_t rows, int64_t H,
                                  int64_t N, int64_t nchunks) {
  GRID_STRIDE(i, (size_t)(rows * N)) {
    int64_t r = (int64_t)i / N, n = (int64_t)i % N;
    const dmode &d = md[(r % H) * N + n];
    smx_c64 s = c_f64(0, 0);
    for (int64_t c = 0; c < nchunks; c++) {
      size_t o = ((size_t)r * nchunks + c) * N + n;
      s_enter[o] = s;
      float2 su = sums[o * SUM_COUNT + SUM_U];
      s = cadd_f64(cmul_f64(d.ET, s), cmul_f64(d.Bbar, c_f64(su.x, su.y)));
    }
  }
}

/* y[r, c T + tau] += sum_n 2 Re(C s_enter E^(tau+1)) for c > 0 */
__global__ void state_share_kernel(const dmode *md, const smx_c64 *s_enter, float *y, int64_t rows, int64_t H,
                                   int64_t N, int64_t L, int64_t T, int64_t nchunks) {
  GRID_STRIDE(i, (size_t)(rows * L)) {
    int64_t r = (int64_t)i / L, t = (int64_t)i % L, c = t / T, tau = t % T;
    if (c == 0) continue;
    float acc = 0;
    for (int64_t n = 0; n < N; n++) {
      const dmode &d = md[(r % H) * N + n];
      smx_c64 w = cmul_f64(d.C, s_enter[((size_t)r * nchunks + c) * N + n]);
      float2 e = pw(d.zr, d.zi, tau + 1);
      acc += 2 * ((float)w.re * e.x - (float)w.im * e.y);
    }
    y[i] += acc;
  }
}

/* Backward: one thread per (channel, mode), rows of the batch in order: the forward state scan,
 * then the reverse adjoint scan with the per-chunk adjoint contributions (fp64). */
__global__ void adjoint_scan_kernel(const dmode *md, const float2 *sums, smx_c64 *s_enter, smx_c64 *lam_next,
                                    smx_c64 *adj, int64_t B, int64_t H, int64_t N, int64_t L, int64_t T,
                                    int64_t nchunks) {
  GRID_STRIDE(i, (size_t)(H * N)) {
    int64_t h = (int64_t)i / N, n = (int64_t)i % N;
    const dmode &d = md[i];
    smx_c64 ac = c_f64(0, 0), ab = c_f64(0, 0), ae = c_f64(0, 0);
    for (int64_t b = 0; b < B; b++) {
      int64_t r = b * H + h;
      smx_c64 s = c_f64(0, 0);
      for (int64_t c = 0; c < nchunks; c++) {
        size_t o = ((size_t)r * nchunks + c) * N + n;
        s_enter[o] = s;
        float2 su = sums[o * SUM_COUNT + SUM_U];
        s = cadd_f64(cmul_f64(d.ET, s), cmul_f64(d.Bbar, c_f64(su.x, su.y)));
      }
      smx_c64 lam = c_f64(0, 0);
      for (int64_t c = nchunks - 1; c >= 0; c--) {
        size_t o = ((size_t)r * nchunks + c) * N + n;
        int64_t len = L - c * T < T ? L - c * T : T;
        int last = c == nchunks - 1;
        smx_c64 sc = s_enter[o];
        const float2 *sm = sums + o * SUM_COUNT;
        lam_next[o] = lam;
        if (!last) {
          ab = cadd_f64(ab, cmul_f64(lam, c_f64(sm[SUM_VU].x, sm[SUM_VU].y)));
          ae = cadd_f64(ae, cmul_f64(lam, cmul_f64(d.Bbar, c_f64(sm[SUM_VB].x, sm[SUM_VB].y))));
          ae = cadd_f64(ae, cscale_f64(cmul_f64(d.ET, cmul_f64(lam, sc)), (double)len));
        }
        if (c > 0) {
          smx_c64 vl = c_f64(sm[SUM_L].x, sm[SUM_L].y);
          ac = cadd_f64(ac, cmul_f64(sc, cmul_f64(d.E, vl)));
          ae = cadd_f64(ae, cmul_f64(sc, cmul_f64(d.C, c_f64(sm[SUM_C].x, sm[SUM_C].y))));
          lam = cadd_f64(cmul_f64(d.C, vl), last ? c_f64(0, 0) : cmul_f64(d.ET, lam));
        }
      }
    }
    adj[3 * i] = ac;
    adj[3 * i + 1] = ab;
    adj[3 * i + 2] = ae;
  }
}

/* du[r, c T + tau] += sum_n 2 Re(Bbar lambda' E^(T - tau)) for every chunk but the last */
__global__ void adjoint_share_kernel(const dmode *md, const smx_c64 *lam_next, float *du, int64_t rows, int64_t H,
                                     int64_t N, int64_t L, int64_t T, int64_t nchunks) {
  GRID_STRIDE(i, (size_t)(rows * L)) {
    int64_t r = (int64_t)i / L, t = (int64_t)i % L, c = t / T, tau = t % T;
    if (c == nchunks - 1) continue;
    float acc = 0;
    for (int64_t n = 0; n < N; n++) {
      const dmode &d = md[(r % H) * N + n];
      smx_c64 w = cmul_f64(d.Bbar, lam_next[((size_t)r * nchunks + c) * N + n]);
      float2 e = pw(d.zr, d.zi, T - tau);
      acc += 2 * ((float)w.re * e.x - (float)w.im * e.y);
    }
    du[i] += acc;
  }
}

/* One block of 256 per (channel, mode): the correlation terms (R = rpad[h, 0..T-1], already / F),
 * then the chain rule. */
__global__ void finish_kernel(params a, const float *rpad, const smx_c64 *adj, float *dlog_a_re, float *da_im,
                              float *db, float *dc, double *ddt, int64_t N, int64_t T, int64_t F) {
  __shared__ d2 sh[256];
  int64_t i = blockIdx.x, h = i / N, n = i % N;
  smx_ssm_mode64 m = mode_of(a, h, n, N);
  double zr = m.dt * m.A.re, zi = m.dt * m.A.im;
  d2 v0 = {0, 0}, v1 = {0, 0};
  for (int64_t j = threadIdx.x; j < T; j += blockDim.x) {
    double R = (double)rpad[h * F + j];
    float2 e = pw(zr, zi, j);
    v0 = v0 + d2{R * e.x, R * e.y};
    if (j >= 1) {
      float2 e1 = pw(zr, zi, j - 1);
      v1 = v1 + d2{R * (double)j * e1.x, R * (double)j * e1.y};
    }
  }
  d2 s0 = block_sum(v0, sh), s1 = block_sum(v1, sh);
  if (threadIdx.x != 0) return;
  smx_c64 vr = c_f64(s0.x, s0.y), vr1 = c_f64(s1.x, s1.y);
  smx_c64 adj_c = cadd_f64(adj[3 * i], cmul_f64(m.Bbar, vr));
  smx_c64 adj_b = cadd_f64(adj[3 * i + 1], cmul_f64(m.C, vr));
  smx_c64 adj_e = cadd_f64(adj[3 * i + 2], cmul_f64(cmul_f64(m.C, m.Bbar), vr1));
  double gc[2], gb[2], g_are, g_aim, g_dt;
  smx_ssm_chain_f64(&m, adj_c, adj_b, adj_e, gc, gb, &g_are, &g_aim, &g_dt);
  dc[2 * i] = (float)gc[0];
  dc[2 * i + 1] = (float)gc[1];
  db[2 * i] = (float)gb[0];
  db[2 * i + 1] = (float)gb[1];
  dlog_a_re[i] = (float)g_are;
  da_im[i] = (float)g_aim;
  ddt[i] = g_dt;
}

__global__ void dt_grad_kernel(const float *log_dt, const double *ddt, float *dlog_dt, int64_t H, int64_t N) {
  int64_t h = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (h >= H) return;
  double s = 0;
  for (int64_t n = 0; n < N; n++) s += ddt[h * N + n];
  dlog_dt[h] = (float)(s * exp((double)log_dt[h]));
}

/* dD[h] = sum_b sum_t dy u: a block of 256 per channel, fp64, fixed tree order. */
__global__ void skip_grad_kernel(const float *dy, const float *u, float *dD, int64_t B, int64_t H, int64_t L) {
  __shared__ double part[256];
  int64_t h = blockIdx.x;
  double acc = 0;
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = threadIdx.x; t < L; t += blockDim.x) acc += (double)dy[(b * H + h) * L + t] * (double)u[(b * H + h) * L + t];
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int s = (int)blockDim.x / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) dD[h] = (float)part[0];
}

void geometry(const smx_config *c, int64_t *T, int64_t *nchunks) {
  int64_t L = c->v[SSMC_PL];
  *T = c->v[SSMC_PCHUNK] < L ? c->v[SSMC_PCHUNK] : L;
  *nchunks = (L + *T - 1) / *T;
}

/* bytes of the per-(row, chunk, mode) arrays: five float2 sums and two fp64 complex numbers */
size_t chunk_array_bytes(const smx_config *c) {
  int64_t T, nc;
  geometry(c, &T, &nc);
  size_t per = (size_t)c->v[SSMC_PB] * (size_t)c->v[SSMC_PH] * (size_t)nc * (size_t)c->v[SSMC_PN];
  return per * (SUM_COUNT * sizeof(float2) + 2 * sizeof(smx_c64));
}

const char *unsupported(const smx_config *c) {
  if (chunk_array_bytes(c) > CHUNK_ARRAYS_LIMIT)
    return "cuda.statepass: the per-(row, chunk, mode) state arrays exceed 8 GiB at this chunk; use a larger chunk";
  return NULL;
}

smx_status make_plan(cufftHandle *plan, int *made, int bit, int64_t F, int64_t batch, cufftType type, size_t *work) {
  long long n = (long long)F, nf = (long long)(F / 2 + 1);
  SMX_CUFFT_CHECK(cufftCreate(plan));
  *made |= bit;
  SMX_CUFFT_CHECK(cufftSetAutoAllocation(*plan, 0));
  long long idist = type == CUFFT_R2C ? n : nf, odist = type == CUFFT_R2C ? nf : n;
  SMX_CUFFT_CHECK(cufftMakePlanMany64(*plan, 1, &n, NULL, 1, idist, NULL, 1, odist, type, (long long)batch, work));
  return SMX_OK;
}

void destroy(void *p) {
  sp_state *s = (sp_state *)p;
  if (!s) return;
  if (s->plans_made & 1) cufftDestroy(s->r2c_k);
  if (s->plans_made & 2) cufftDestroy(s->c2r_k);
  if (s->plans_made & 4) cufftDestroy(s->r2c_s);
  if (s->plans_made & 8) cufftDestroy(s->c2r_s);
  void *bufs[] = {s->work, s->md, s->kpad, s->segpad, s->kf, s->specA, s->specB, s->racc,
                  s->sums, s->s_enter, s->lam_next, s->adj, s->ddt};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) cudaFree(bufs[i]);
  free(s);
}

smx_status allocate(sp_state *s) {
  size_t w[4] = {0, 0, 0, 0}, most = 0;
  smx_status st;
  if ((st = make_plan(&s->r2c_k, &s->plans_made, 1, s->F, s->H, CUFFT_R2C, &w[0])) != SMX_OK) return st;
  if ((st = make_plan(&s->c2r_k, &s->plans_made, 2, s->F, s->H, CUFFT_C2R, &w[1])) != SMX_OK) return st;
  if ((st = make_plan(&s->r2c_s, &s->plans_made, 4, s->F, s->sb, CUFFT_R2C, &w[2])) != SMX_OK) return st;
  if ((st = make_plan(&s->c2r_s, &s->plans_made, 8, s->F, s->sb, CUFFT_C2R, &w[3])) != SMX_OK) return st;
  for (int i = 0; i < 4; i++)
    if (w[i] > most) most = w[i];
  size_t per = (size_t)s->rows * s->nchunks * s->N;
  size_t sizes[] = {most ? most : 16,
                    (size_t)(s->H * s->N) * sizeof(dmode),
                    (size_t)(s->H * s->F) * sizeof(float),
                    (size_t)(s->sb * s->F) * sizeof(float),
                    (size_t)(s->H * s->nf) * sizeof(cufftComplex),
                    (size_t)(s->sb * s->nf) * sizeof(cufftComplex),
                    (size_t)(s->sb * s->nf) * sizeof(cufftComplex),
                    (size_t)(s->H * s->nf) * sizeof(cufftComplex),
                    per * SUM_COUNT * sizeof(float2),
                    per * sizeof(smx_c64),
                    per * sizeof(smx_c64),
                    (size_t)(s->H * s->N) * 3 * sizeof(smx_c64),
                    (size_t)(s->H * s->N) * sizeof(double)};
  void **ptrs[] = {&s->work, (void **)&s->md, (void **)&s->kpad, (void **)&s->segpad, (void **)&s->kf,
                   (void **)&s->specA, (void **)&s->specB, (void **)&s->racc, (void **)&s->sums,
                   (void **)&s->s_enter, (void **)&s->lam_next, (void **)&s->adj, (void **)&s->ddt};
  s->ws_bytes = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    SMX_CUDA_CHECK(cudaMalloc(ptrs[i], sizes[i]));
    s->ws_bytes += sizes[i];
  }
  SMX_CUFFT_CHECK(cufftSetWorkArea(s->r2c_k, s->work));
  SMX_CUFFT_CHECK(cufftSetWorkArea(s->c2r_k, s->work));
  SMX_CUFFT_CHECK(cufftSetWorkArea(s->r2c_s, s->work));
  SMX_CUFFT_CHECK(cufftSetWorkArea(s->c2r_s, s->work));
  return SMX_OK;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  sp_state *s = (sp_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.statepass: cannot allocate state");
  s->B = c->v[SSMC_PB];
  s->H = c->v[SSMC_PH];
  s->N = c->v[SSMC_PN];
  s->L = c->v[SSMC_PL];
  geometry(c, &s->T, &s->nchunks);
  s->F = smx_fftconv_fft_size(s->T);
  s->nf = s->F / 2 + 1;
  s->rows = s->B * s->H;
  s->segs = s->rows * s->nchunks;
  int64_t per_seg = s->F * (int64_t)sizeof(float) + 2 * s->nf * (int64_t)sizeof(cufftComplex);
  s->sb = (int64_t)(SEGMENT_BUDGET / (size_t)per_seg);
  if (s->sb < 1) s->sb = 1;
  if (s->sb > s->segs) s->sb = s->segs;
  smx_status st = allocate(s);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) { return ((const sp_state *)p)->ws_bytes; }

smx_status prepare(sp_state *s, const params &a) {
  modes_kernel<<<grid_for((size_t)(s->H * s->N)), 256>>>(a, s->md, s->H, s->N, s->T);
  SMX_CUDA_CHECK_LAUNCH();
  taps_kernel<<<grid_for((size_t)(s->H * s->F)), 256>>>(s->md, s->kpad, s->H, s->N, s->T, s->F);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUFFT_CHECK(cufftExecR2C(s->r2c_k, s->kpad, s->kf));
  return SMX_OK;
}

/* segpad <- FFT of segments [g0, g0 + sb) of src, into spec */
smx_status segments_fft(sp_state *s, const float *src, int64_t g0, cufftComplex *spec) {
  pad_segments<<<grid_for((size_t)(s->sb * s->F)), 256>>>(src, s->segpad, g0, s->sb, s->segs, s->B, s->H, s->L,
                                                          s->T, s->F, s->nchunks);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUFFT_CHECK(cufftExecR2C(s->r2c_s, s->segpad, spec));
  return SMX_OK;
}

/* dst = IFFT(spec * kf or conj(kf)) / F + D src over the batch's segments */
smx_status segments_conv_out(sp_state *s, cufftComplex *spec, int conj_k, const float *src, const float *D, float *dst,
                             int64_t g0) {
  multiply_segments<<<grid_for((size_t)(s->sb * s->nf)), 256>>>(spec, s->kf, spec, g0, s->sb, s->B, s->nchunks, s->H,
                                                                s->nf, conj_k, 1.0f / (float)s->F);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUFFT_CHECK(cufftExecC2R(s->c2r_s, spec, s->segpad));
  segments_out<<<grid_for((size_t)(s->sb * s->T)), 256>>>(s->segpad, src, D, dst, g0, s->sb, s->segs, s->B, s->H,
                                                          s->L, s->T, s->F, s->nchunks);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

smx_status forward(sp_state *s, const params &a, float *y) {
  smx_status st;
  const float *u = a.p[SSMC_U], *D = a.p[SSMC_D];
  if ((st = prepare(s, a)) != SMX_OK) return st;
  for (int64_t g0 = 0; g0 < s->segs; g0 += s->sb) {
    if ((st = segments_fft(s, u, g0, s->specA)) != SMX_OK) return st;
    if ((st = segments_conv_out(s, s->specA, 0, u, D, y, g0)) != SMX_OK) return st;
  }
  if (s->nchunks > 1) {
    chunk_sums_kernel<<<(unsigned)s->segs, 256>>>(u, NULL, s->md, s->sums, s->H, s->N, s->L, s->T, s->nchunks, 0);
    SMX_CUDA_CHECK_LAUNCH();
    state_scan_kernel<<<grid_for((size_t)(s->rows * s->N)), 256>>>(s->md, s->sums, s->s_enter, s->rows, s->H, s->N,
                                                                   s->nchunks);
    SMX_CUDA_CHECK_LAUNCH();
    state_share_kernel<<<grid_for((size_t)(s->rows * s->L)), 256>>>(s->md, s->s_enter, y, s->rows, s->H, s->N, s->L,
                                                                    s->T, s->nchunks);
    SMX_CUDA_CHECK_LAUNCH();
  }
  return SMX_OK;
}

smx_status backward(sp_state *s, const params &a, float *const *t) {
  smx_status st;
  const float *u = a.p[SSMC_U], *dy = t[SSMC_DY], *D = a.p[SSMC_D];
  float *du = t[SSMC_DU];
  if ((st = prepare(s, a)) != SMX_OK) return st;
  SMX_CUDA_CHECK(cudaMemset(s->racc, 0, (size_t)(s->H * s->nf) * sizeof(cufftComplex)));
  for (int64_t g0 = 0; g0 < s->segs; g0 += s->sb) {
    if ((st = segments_fft(s, dy, g0, s->specA)) != SMX_OK) return st;
    if ((st = segments_fft(s, u, g0, s->specB)) != SMX_OK) return st;
    racc_accumulate<<<grid_for((size_t)(s->H * s->nf)), 256>>>(s->specA, s->specB, s->racc, g0, s->sb, s->segs, s->B,
                                                               s->nchunks, s->H, s->nf, 1.0f / (float)s->F);
    SMX_CUDA_CHECK_LAUNCH();
    if ((st = segments_conv_out(s, s->specA, 1, dy, D, du, g0)) != SMX_OK) return st;
  }
  chunk_sums_kernel<<<(unsigned)s->segs, 256>>>(u, dy, s->md, s->sums, s->H, s->N, s->L, s->T, s->nchunks, 1);
  SMX_CUDA_CHECK_LAUNCH();
  adjoint_scan_kernel<<<grid_for((size_t)(s->H * s->N)), 256>>>(s->md, s->sums, s->s_enter, s->lam_next, s->adj, s->B,
                                                                s->H, s->N, s->L, s->T, s->nchunks);
  SMX_CUDA_CHECK_LAUNCH();
  if (s->nchunks > 1) {
    adjoint_share_kernel<<<grid_for((size_t)(s->rows * s->L)), 256>>>(s->md, s->lam_next, du, s->rows, s->H, s->N,
                                                                      s->L, s->T, s->nchunks);
    SMX_CUDA_CHECK_LAUNCH();
  }
  /* R = IFFT(racc) (racc already carries 1/F) into kpad, which prepare() no longer needs */
  SMX_CUFFT_CHECK(cufftExecC2R(s->c2r_k, s->racc, s->kpad));
  finish_kernel<<<(unsigned)(s->H * s->N), 256>>>(a, s->kpad, s->adj, t[SSMC_DLOGARE], t[SSMC_DAIM], t[SSMC_DB],
                                                   t[SSMC_DC], s->ddt, s->N, s->T, s->F);
  SMX_CUDA_CHECK_LAUNCH();
  dt_grad_kernel<<<(unsigned)((s->H + 255) / 256), 256>>>(a.p[SSMC_LOGDT], s->ddt, t[SSMC_DLOGDT], s->H, s->N);
  SMX_CUDA_CHECK_LAUNCH();
  skip_grad_kernel<<<(unsigned)s->H, 256>>>(dy, u, t[SSMC_DD], s->B, s->H, s->L);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

smx_status run(void *p, smx_pass pass, void *const *tv) {
  sp_state *s = (sp_state *)p;
  float *const *t = (float *const *)tv;
  params a;
  for (int i = 0; i < SSMC_NSLOTS; i++) a.p[i] = t[i];
  if (pass == SMX_FWD) return forward(s, a, t[SSMC_Y]);
  return backward(s, a, t);
}

} // namespace

extern "C" const smx_variant smx_ssmconv_cuda_statepass = {
    "cuda.statepass",
    "H3 state passing: batched cuFFT chunk convs, per-chunk mode sums, fp64 state/adjoint scans, fused shares",
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
