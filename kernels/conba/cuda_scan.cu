/* conba variant `cuda.scan` and conba_decode variant `cuda.step` (reference/conba.h states the
 * math). fp32 throughout; the projections are cuBLAS sgemm (fp32 math, no TF32, so the results
 * meet fp32 tolerances) over all B*L tokens, the rest is elementwise kernels and the scan.
 *
 * The scan: one thread per (sequence b, channel e), walking time with its N-vector of h in
 * registers (N <= 64; the kernels are instantiated for N <= 16, 32, 64). Threads are laid out
 * per sequence in whole warps (channels padded to a multiple of 32; padding lanes carry zeros), so
 * each warp belongs to one sequence and its lanes read B_t and C_t at the same address.
 *
 * Backward recomputes the forward (a variant's backward must not rely on a forward call), saving
 * the scan state every SEG = 64 steps; each segment is then replayed from its checkpoint into a
 * per-thread history in global memory and walked in reverse:
 *   dh_t = dq_t C_t + lambda dq_{t+1} C_{t+1} + exp(delta_{t+1} A) dh_{t+1}.
 * The per-token sums over channels (dB_t, dC_t) are warp sums written per warp and added in warp
 * order by a second kernel; the per-channel sums over time are each thread's own, then summed over
 * the batch in order: no floating-point atomics, so two runs give identical bits.
 *
 * cuBLAS is column-major: a row-major (r x c) matrix is, to cuBLAS, the column-major (c x r) one,
 * its transpose; the three products below are written for row-major operands (see gemm_*).
 *
 *   seqmix check --op conba --variant cuda.scan            (needs a GPU; skipped otherwise)
 *   seqmix check --op conba_decode --variant cuda.step
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

extern "C" {
#include "reference/conba.h"
}
#include "cuda_check.h"

namespace {

constexpr int NT = 256;        /* threads of the elementwise kernels */
constexpr int SCAN_WARPS = 4;  /* warps per block of the scan kernels */
constexpr int SEG = 64;        /* steps between scan checkpoints */
constexpr int NMAX = 64;       /* largest N the scan keeps in registers */
constexpr unsigned FULL = 0xffffffffu;

unsigned grid_for(int64_t n) {
  int64_t b = (n + NT - 1) / NT;
  return (unsigned)(b < 1 ? 1 : (b > 65535 * 64 ? 65535 * 64 : b)); /* grid-stride loops cover the rest */
}

__device__ __forceinline__ float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }
__device__ __forceinline__ float softplusf(float v) { return v > 20.0f ? v : log1pf(expf(v)); }
/* d silu(a) / da */
__device__ __forceinline__ float dsilu(float a) {
  float s = sigm(a);
  return s * (1.0f + a * (1.0f - s));
}

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* ---- row-major sgemm ---- */

cublasStatus_t blas_init(cublasHandle_t *h) {
  cublasStatus_t st = cublasCreate(h);
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  st = cublasSetStream(*h, 0); /* the legacy default stream, as everything else */
  return st != CUBLAS_STATUS_SUCCESS ? st : cublasSetMathMode(*h, CUBLAS_PEDANTIC_MATH);
}

/* C (M x Nc) = A (M x K) B^T + beta C, B (Nc x K): activations times a weight (out, in) */
cublasStatus_t gemm_nt(cublasHandle_t h, const float *A, const float *B, float *C, int64_t M, int64_t Nc, int64_t K,
                       float beta) {
  const float one = 1.0f;
  return cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)Nc, (int)M, (int)K, &one, B, (int)K, A, (int)K, &beta, C,
                     (int)Nc);
}
/* C (M x Nc) = A (M x K) B + beta C, B (K x Nc): a gradient times a weight, back to its input */
cublasStatus_t gemm_nn(cublasHandle_t h, const float *A, const float *B, float *C, int64_t M, int64_t Nc, int64_t K,
                       float beta) {
  const float one = 1.0f;
  return cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)Nc, (int)M, (int)K, &one, B, (int)Nc, A, (int)K, &beta, C,
                     (int)Nc);
}
/* C (M x Nc) = A^T B, A (K x M), B (K x Nc): a weight gradient summed over the K tokens */
cublasStatus_t gemm_tn(cublasHandle_t h, const float *A, const float *B, float *C, int64_t M, int64_t Nc, int64_t K) {
  const float one = 1.0f, zero = 0.0f;
  return cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, (int)Nc, (int)M, (int)K, &one, B, (int)Nc, A, (int)M, &zero, C,
                     (int)Nc);
}
/* out (n) = column sums of A (T x n) = A^T ones */
cublasStatus_t colsum(cublasHandle_t h, const float *A, const float *ones, float *out, int64_t T, int64_t n) {
  const float one = 1.0f, zero = 0.0f;
  return cublasSgemv(h, CUBLAS_OP_N, (int)n, (int)T, &one, A, (int)n, ones, 1, &zero, out, 1);
}

/* ---- elementwise kernels (i: token b*L + t, e: channel; k = i*E + e) ---- */

/* u = silu(conv_b + sum_j conv_w[e][j] xin_{t-K+1+j}), zeros before t = 0 */
__global__ void k_conv(const float *xin, const float *cw, const float *cb, float *upre, float *u, int64_t T, int64_t L,
                       int64_t E, int64_t K) {
  GRID_STRIDE(k, T * E) {
    int64_t i = k / E, e = k % E, t = i % L;
    float a = cb[e];
    for (int64_t j = 0; j < K; j++)
      if (t - K + 1 + j >= 0) a += cw[e * K + j] * xin[(i - K + 1 + j) * E + e];
    upre[k] = a;
    u[k] = a * sigm(a);
  }
}

/* delta = softplus(dpre + b_dt) (dpre keeps the pre-activation); s = sigmoid(s) or 1 */
__global__ void k_gates(float *dpre, float *delta, float *s, const float *bdt, int64_t T, int64_t E, int scaling) {
  GRID_STRIDE(k, T * E) {
    int64_t e = k % E;
    float v = dpre[k] + bdt[e];
    dpre[k] = v;
    delta[k] = softplusf(v);
    s[k] = scaling ? sigm(s[k]) : 1.0f;
  }
}

/* y = s q + D u, y' = y - kappa (y - r), m = y' silu(z) */
__global__ void k_outputs(const float *s, const float *q, const float *u, const float *r, const float *z,
                          const float *D, const float *kappa, float *yp, float *m, int64_t T, int64_t E, int feedback) {
  GRID_STRIDE(k, T * E) {
    int64_t e = k % E;
    float y = s[k] * q[k] + D[e] * u[k];
    float v = feedback ? y - kappa[e] * (y - r[k]) : y;
    yp[k] = v;
    m[k] = v * z[k] * sigm(z[k]);
  }
}

/* From dm = do W_out (in place): dz; dq, dspre, dr and du for the products; per-token terms of
 * dkappa (into dm) and dD (into dDt). */
__global__ void k_out_bwd(float *dm, const float *s, const float *q, const float *u, const float *r, const float *z,
                          const float *yp, const float *D, const float *kappa, float *dz, float *dq, float *dspre,
                          float *dr, float *du, float *dDt, int64_t T, int64_t E, int scaling, int feedback) {
  GRID_STRIDE(k, T * E) {
    int64_t e = k % E;
    float g = dm[k], zz = z[k], sz = sigm(zz), dyp = g * zz * sz, dy = dyp;
    dz[k] = g * yp[k] * sz * (1.0f + zz * (1.0f - sz));
    float y = s[k] * q[k] + D[e] * u[k], kterm = 0.0f;
    dr[k] = 0.0f;
    if (feedback) {
      dy = (1.0f - kappa[e]) * dyp;
      dr[k] = kappa[e] * dyp;
      kterm = (r[k] - y) * dyp;
    }
    dm[k] = kterm;
    dq[k] = s[k] * dy;
    dspre[k] = scaling ? q[k] * dy * s[k] * (1.0f - s[k]) : 0.0f;
    du[k] = D[e] * dy;
    dDt[k] = u[k] * dy;
  }
}

/* a[k] *= sigmoid(p[k]): d softplus; a[k] *= dsilu(p[k]) when silu */
__global__ void k_mul_dact(float *a, const float *p, int64_t n, int silu) {
  GRID_STRIDE(k, n) a[k] *= silu ? dsilu(p[k]) : sigm(p[k]);
}

/* dconv_w[e][j] = sum over tokens (in order) of dupre_i xin_{i-K+1+j} within a sequence */
__global__ void k_conv_dw(const float *dupre, const float *xin, float *dcw, int64_t T, int64_t L, int64_t E,
                          int64_t K) {
  GRID_STRIDE(k, E * K) {
    int64_t e = k / K, j = k % K;
    float acc = 0.0f;
    for (int64_t i = 0; i < T; i++)
      if (i % L - K + 1 + j >= 0) acc += dupre[i * E + e] * xin[(i - K + 1 + j) * E + e];
    dcw[k] = acc;
  }
}

/* dxin_i = sum_j conv_w[e][j] dupre_{i+K-1-j} within a sequence (xin_i feeds upre_{i+K-1-j} through tap j) */
__global__ void k_conv_dx(const float *dupre, const float *cw, float *dxin, int64_t T, int64_t L, int64_t E,
                          int64_t K) {
  GRID_STRIDE(k, T * E) {
    int64_t i = k / E, e = k % E, t = i % L;
    float acc = 0.0f;
    for (int64_t j = 0; j < K; j++)
      if (t + K - 1 - j < L) acc += cw[e * K + j] * dupre[(i + K - 1 - j) * E + e];
    dxin[k] = acc;
  }
}

/* out[j] = sum over b (in order) of part[b * M + j], or 0 when the mechanism is off */
__global__ void k_sum_batch(const float *part, float *out, int64_t Bn, int64_t M, int on) {
  GRID_STRIDE(j, M) {
    float acc = 0.0f;
    for (int64_t b = 0; on && b < Bn; b++) acc += part[b * M + j];
    out[j] = acc;
  }
}

/* dB (or dC) [i][n] = sum over the warps w of a sequence (in order) of part[(w * T + i) * N + n] */
__global__ void k_sum_warps(const float *part, float *out, int64_t T, int64_t N, int64_t WE) {
  GRID_STRIDE(k, T * N) {
    float acc = 0.0f;
    for (int64_t w = 0; w < WE; w++) acc += part[w * T * N + k];
    out[k] = acc;
  }
}

/* ---- the scan ---- */

struct scan_args {
  const float *delta, *u, *Bm, *Cm, *Alog, *lambda, *dq;
  float *q, *ckpt, *hist, *ddl, *du, *dBpart, *dCpart, *dAlog_b, *dlam_b;
  int64_t B, L, E, N, WE, nseg; /* WE: warps per sequence (channels padded to 32) */
  int delay;
};

/* The thread's (b, e) and whether e is a real channel; false for whole warps past the batch. */
__device__ __forceinline__ bool scan_thread(const scan_args &a, int64_t &b, int64_t &e, int64_t &w, bool &on) {
  int64_t gw = (int64_t)blockIdx.x * SCAN_WARPS + (threadIdx.x >> 5);
  b = gw / a.WE;
  w = gw % a.WE;
  e = w * 32 + (threadIdx.x & 31);
  on = e < a.E;
  return b < a.B;
}

/* One forward step of a thread's state: h <- exp(delta A) h + delta u B_t; returns the readout
 * (h_t + lambda h_{t-1}) . C_t. */
template <int NTS>
__device__ __forceinline__ float scan_step(const scan_args &a, const float (&A)[NTS], float (&h)[NTS], float lam,
                                           int64_t i, float dl, float du) {
  const float *Bt = a.Bm + i * a.N, *Ct = a.Cm + i * a.N;
  float acc = 0.0f;
#pragma unroll
  for (int n = 0; n < NTS; n++) {
    if (n >= a.N) break;
    float hp = h[n], hv = expf(dl * A[n]) * hp + du * Bt[n];
    h[n] = hv;
    acc += (hv + lam * hp) * Ct[n];
  }
  return acc;
}

template <int NTS>
__device__ __forceinline__ void scan_setup(const scan_args &a, int64_t e, bool on, float (&A)[NTS], float &lam) {
#pragma unroll
  for (int n = 0; n < NTS; n++) A[n] = on && n < a.N ? -expf(a.Alog[e * a.N + n]) : 0.0f;
  lam = on && a.delay ? a.lambda[e] : 0.0f;
}

/* q for every token; with a.ckpt, the state entering every segment ((b, seg, n, e): coalesced) */
template <int NTS> __global__ void __launch_bounds__(SCAN_WARPS * 32) k_scan_fwd(scan_args a) {
  int64_t b, e, w;
  bool on;
  if (!scan_thread(a, b, e, w, on)) return;
  float A[NTS], h[NTS], lam;
  scan_setup<NTS>(a, e, on, A, lam);
#pragma unroll
  for (int n = 0; n < NTS; n++) h[n] = 0.0f;
  for (int64_t t = 0; t < a.L; t++) {
    if (a.ckpt && on && t % SEG == 0) {
      float *ck = a.ckpt + ((b * a.nseg + t / SEG) * a.N) * a.E + e;
#pragma unroll
      for (int n = 0; n < NTS; n++)
        if (n < a.N) ck[n * a.E] = h[n];
    }
    int64_t i = b * a.L + t;
    float dl = on ? a.delta[i * a.E + e] : 0.0f, du = on ? dl * a.u[i * a.E + e] : 0.0f;
    float acc = scan_step<NTS>(a, A, h, lam, i, dl, du);
    if (on) a.q[i * a.E + e] = acc;
  }
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o; o >>= 1) v += __shfl_down_sync(FULL, v, o);
  return v; /* lane 0 holds the sum, added in a fixed order */
}

/* The reverse walk. Every lane of a warp runs every iteration (padding lanes with zeros) so the
 * warp sums see all 32 lanes. hist: (SEG + 1) x N slots per thread, column (b * WE + w) * 32 + lane
 * of a (B * WE * 32)-wide array: slot j holds h entering step t0 + j of the current segment. */
template <int NTS> __global__ void __launch_bounds__(SCAN_WARPS * 32) k_scan_bwd(scan_args a) {
  int64_t b, e, w;
  bool on;
  if (!scan_thread(a, b, e, w, on)) return;
  const int lane = threadIdx.x & 31;
  const int64_t T = a.B * a.L, cols = a.B * a.WE * 32, col = (b * a.WE + w) * 32 + lane;
  float A[NTS], h[NTS], dH[NTS], gnext[NTS], decn[NTS], dAl[NTS], lam;
  scan_setup<NTS>(a, e, on, A, lam);
#pragma unroll
  for (int n = 0; n < NTS; n++) dH[n] = gnext[n] = decn[n] = dAl[n] = 0.0f;
  float dlam = 0.0f;
  for (int64_t g = a.nseg - 1; g >= 0; g--) {
    const int64_t t0 = g * SEG, t1 = t0 + SEG < a.L ? t0 + SEG : a.L;
    const float *ck = a.ckpt + ((b * a.nseg + g) * a.N) * a.E + e;
#pragma unroll
    for (int n = 0; n < NTS; n++) {
      if (n >= a.N) break;
      h[n] = on ? ck[n * a.E] : 0.0f;
      a.hist[(int64_t)n * cols + col] = h[n];
    }
    for (int64_t t = t0; t < t1; t++) {
      int64_t i = b * a.L + t;
      float dl = on ? a.delta[i * a.E + e] : 0.0f, du = on ? dl * a.u[i * a.E + e] : 0.0f;
      scan_step<NTS>(a, A, h, lam, i, dl, du);
      float *slot = a.hist + (t - t0 + 1) * a.N * cols + col;
#pragma unroll
      for (int n = 0; n < NTS; n++)
        if (n < a.N) slot[n * cols] = h[n];
    }
    for (int64_t t = t1 - 1; t >= t0; t--) {
      const int64_t i = b * a.L + t;
      const float *hp = a.hist + (t - t0) * a.N * cols + col, *hc = hp + a.N * cols;
      const float *Bt = a.Bm + i * a.N, *Ct = a.Cm + i * a.N;
      const float dl = on ? a.delta[i * a.E + e] : 0.0f, uu = on ? a.u[i * a.E + e] : 0.0f;
      const float dqe = on ? a.dq[i * a.E + e] : 0.0f;
      float ddle = 0.0f, due = 0.0f;
#pragma unroll
      for (int n = 0; n < NTS; n++) {
        if (n >= a.N) break;
        float hpn = hp[n * cols], hcn = hc[n * cols], Bn = Bt[n], Cn = Ct[n];
        float dg = dqe * Cn, dh = dg + gnext[n] + decn[n] * dH[n], dec = expf(dl * A[n]);
        float tc = dqe * (hcn + lam * hpn);
        dlam += dg * hpn;
        ddle += dh * (A[n] * dec * hpn + uu * Bn);
        dAl[n] += dh * dl * dec * hpn * A[n]; /* dA_log = dA * A */
        due += dh * dl * Bn;
        float tb = dh * dl * uu;
        dH[n] = dh;
        gnext[n] = lam * dg;
        decn[n] = dec;
        tb = warp_sum(tb);
        tc = warp_sum(tc);
        if (lane == 0) {
          a.dBpart[(w * T + i) * a.N + n] = tb;
          a.dCpart[(w * T + i) * a.N + n] = tc;
        }
      }
      if (on) {
        a.ddl[i * a.E + e] = ddle;
        a.du[i * a.E + e] += due;
      }
    }
  }
  if (on) {
    a.dlam_b[b * a.E + e] = dlam;
#pragma unroll
    for (int n = 0; n < NTS; n++)
      if (n < a.N) a.dAlog_b[(b * a.E + e) * a.N + n] = dAl[n];
  }
}

smx_status launch_scan(const scan_args &a, bool backward) {
  const int64_t warps = a.B * a.WE;
  const unsigned blocks = (unsigned)((warps + SCAN_WARPS - 1) / SCAN_WARPS);
  const int th = SCAN_WARPS * 32;
  if (a.N <= 16) {
    if (backward) k_scan_bwd<16><<<blocks, th>>>(a);
    else k_scan_fwd<16><<<blocks, th>>>(a);
  } else if (a.N <= 32) {
    if (backward) k_scan_bwd<32><<<blocks, th>>>(a);
    else k_scan_fwd<32><<<blocks, th>>>(a);
  } else {
    if (backward) k_scan_bwd<NMAX><<<blocks, th>>>(a);
    else k_scan_fwd<NMAX><<<blocks, th>>>(a);
  }
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

/* ---------------------------------------------------------------------------------------------
 * cuda.scan */

struct scan_state {
  conba_dims d;
  int64_t T, WE, nseg;
  cublasHandle_t h;
  int h_made;
  /* T x E */
  float *xin, *z, *upre, *u, *dpre, *delta, *s, *r, *q, *yp, *m;
  float *dm, *du, *dz, *dq, *ddl, *dspre, *dr, *dxin;
  float *Bm, *Cm, *dBm, *dCm; /* T x N */
  float *dBpart, *dCpart;     /* WE x T x N */
  float *ckpt;                /* B x nseg x N x E */
  float *hist;                /* (SEG + 1) x N x B * WE * 32 */
  float *dAlog_b, *dlam_b;    /* B x E x N, B x E */
  float *ones;                /* T */
};

/* Every device buffer of the state with its element count; returns how many. */
constexpr int SCAN_NBUF = 30;
int scan_buffers(scan_state *s, float **ptr[SCAN_NBUF], size_t n[SCAN_NBUF]) {
  const conba_dims *d = &s->d;
  size_t TE = (size_t)(s->T * d->E), TN = (size_t)(s->T * d->N);
  float **te[] = {&s->xin, &s->z,  &s->upre, &s->u,  &s->dpre, &s->delta, &s->s,     &s->r,  &s->q,   &s->yp,
                  &s->m,   &s->dm, &s->du,   &s->dz, &s->dq,   &s->ddl,   &s->dspre, &s->dr, &s->dxin};
  float **tn[] = {&s->Bm, &s->Cm, &s->dBm, &s->dCm};
  int k = 0;
  for (float **p : te) ptr[k] = p, n[k++] = TE;
  for (float **p : tn) ptr[k] = p, n[k++] = TN;
  ptr[k] = &s->dBpart, n[k++] = (size_t)s->WE * TN;
  ptr[k] = &s->dCpart, n[k++] = (size_t)s->WE * TN;
  ptr[k] = &s->ckpt, n[k++] = (size_t)(d->B * s->nseg * d->N * d->E);
  ptr[k] = &s->hist, n[k++] = (size_t)(SEG + 1) * (size_t)d->N * (size_t)(d->B * s->WE * 32);
  ptr[k] = &s->dAlog_b, n[k++] = (size_t)(d->B * d->E * d->N);
  ptr[k] = &s->dlam_b, n[k++] = (size_t)(d->B * d->E);
  ptr[k] = &s->ones, n[k++] = (size_t)s->T;
  return k;
}

size_t scan_workspace(const void *p) {
  float **ptr[SCAN_NBUF];
  size_t n[SCAN_NBUF], total = 0;
  int count = scan_buffers((scan_state *)p, ptr, n);
  for (int i = 0; i < count; i++) total += n[i];
  return total * sizeof(float);
}

void scan_destroy(void *p) {
  scan_state *s = (scan_state *)p;
  if (!s) return;
  float **ptr[SCAN_NBUF];
  size_t n[SCAN_NBUF];
  int count = scan_buffers(s, ptr, n);
  for (int i = 0; i < count; i++) cudaFree(*ptr[i]);
  if (s->h_made) cublasDestroy(s->h);
  free(s);
}

__global__ void k_fill(float *p, int64_t n, float v) { GRID_STRIDE(i, n) p[i] = v; }

smx_status scan_alloc(scan_state *s) {
  float **ptr[SCAN_NBUF];
  size_t n[SCAN_NBUF];
  int count = scan_buffers(s, ptr, n);
  for (int i = 0; i < count; i++) SMX_CUDA_CHECK(cudaMalloc((void **)ptr[i], (n[i] ? n[i] : 1) * sizeof(float)));
  k_fill<<<grid_for(s->T), NT>>>(s->ones, s->T, 1.0f);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUBLAS_CHECK(blas_init(&s->h));
  s->h_made = 1;
  return SMX_OK;
}

smx_status scan_create(const smx_config *c, void **out) {
  *out = NULL;
  scan_state *s = (scan_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.scan: cannot allocate state");
  s->d = smx_conba_dims(c);
  s->T = s->d.B * s->d.L;
  s->WE = (s->d.E + 31) / 32;
  s->nseg = (s->d.L + SEG - 1) / SEG;
  smx_status st = scan_alloc(s);
  if (st != SMX_OK) {
    scan_destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

scan_args args_of(const scan_state *s, float *const *W) {
  scan_args a;
  a.delta = s->delta, a.u = s->u, a.Bm = s->Bm, a.Cm = s->Cm, a.Alog = W[CW_ALOG], a.lambda = W[CW_LAMBDA];
  a.dq = s->dq, a.q = s->q, a.ckpt = NULL, a.hist = s->hist, a.ddl = s->ddl, a.du = s->du;
  a.dBpart = s->dBpart, a.dCpart = s->dCpart, a.dAlog_b = s->dAlog_b, a.dlam_b = s->dlam_b;
  a.B = s->d.B, a.L = s->d.L, a.E = s->d.E, a.N = s->d.N, a.WE = s->WE, a.nseg = s->nseg, a.delay = s->d.delay;
  return a;
}

/* The activations up to m; o = m W_out^T when o is given. With ckpt, the scan checkpoints too. */
smx_status scan_forward(scan_state *s, float *const *t, float *o, bool ckpt) {
  const conba_dims *d = &s->d;
  float *const *W = t + CONBA_W0;
  const float *x = t[CONBA_X];
  int64_t T = s->T, E = d->E, N = d->N;
  cublasHandle_t h = s->h;
  SMX_CUBLAS_CHECK(gemm_nt(h, x, W[CW_IN], s->xin, T, E, d->d, 0.0f));
  SMX_CUBLAS_CHECK(gemm_nt(h, x, W[CW_Z], s->z, T, E, d->d, 0.0f));
  k_conv<<<grid_for(T * E), NT>>>(s->xin, W[CW_CONV], W[CW_CONVB], s->upre, s->u, T, d->L, E, d->K);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUBLAS_CHECK(gemm_nt(h, s->u, W[CW_DT], s->dpre, T, E, E, 0.0f));
  SMX_CUBLAS_CHECK(gemm_nt(h, s->u, W[CW_B], s->Bm, T, N, E, 0.0f));
  SMX_CUBLAS_CHECK(gemm_nt(h, s->u, W[CW_C], s->Cm, T, N, E, 0.0f));
  if (d->scaling) SMX_CUBLAS_CHECK(gemm_nt(h, s->u, W[CW_S], s->s, T, E, E, 0.0f));
  if (d->feedback) SMX_CUBLAS_CHECK(gemm_nt(h, s->u, W[CW_R], s->r, T, E, E, 0.0f));
  k_gates<<<grid_for(T * E), NT>>>(s->dpre, s->delta, s->s, W[CW_BDT], T, E, d->scaling);
  SMX_CUDA_CHECK_LAUNCH();
  scan_args a = args_of(s, W);
  if (ckpt) a.ckpt = s->ckpt;
  smx_status st = launch_scan(a, false);
  if (st != SMX_OK) return st;
  k_outputs<<<grid_for(T * E), NT>>>(s->s, s->q, s->u, s->r, s->z, W[CW_D], W[CW_KAPPA], s->yp, s->m, T, E,
                                     d->feedback);
  SMX_CUDA_CHECK_LAUNCH();
  if (o) SMX_CUBLAS_CHECK(gemm_nt(h, s->m, W[CW_OUT], o, T, d->d, E, 0.0f));
  return SMX_OK;
}

smx_status scan_backward(scan_state *s, float *const *t) {
  const conba_dims *d = &s->d;
  float *const *W = t + CONBA_W0;
  float *const *dW = t + CONBA_DW0;
  int64_t T = s->T, E = d->E, N = d->N, dm = d->d;
  cublasHandle_t h = s->h;
  smx_status st = scan_forward(s, t, NULL, true);
  if (st != SMX_OK) return st;

  /* output side: dW_out, dm = do W_out, then the elementwise gradients */
  SMX_CUBLAS_CHECK(gemm_tn(h, t[CONBA_DO], s->m, dW[CW_OUT], dm, E, T));
  SMX_CUBLAS_CHECK(gemm_nn(h, t[CONBA_DO], W[CW_OUT], s->dm, T, E, dm, 0.0f));
  /* ddl holds the per-token dD terms until the scan overwrites it */
  k_out_bwd<<<grid_for(T * E), NT>>>(s->dm, s->s, s->q, s->u, s->r, s->z, s->yp, W[CW_D], W[CW_KAPPA], s->dz, s->dq,
                                     s->dspre, s->dr, s->du, s->ddl, T, E, d->scaling, d->feedback);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUBLAS_CHECK(colsum(h, s->ddl, s->ones, dW[CW_D], T, E));
  if (d->feedback) {
    SMX_CUBLAS_CHECK(colsum(h, s->dm, s->ones, dW[CW_KAPPA], T, E));
    SMX_CUBLAS_CHECK(gemm_tn(h, s->dr, s->u, dW[CW_R], E, E, T));
    SMX_CUBLAS_CHECK(gemm_nn(h, s->dr, W[CW_R], s->du, T, E, E, 1.0f));
  } else {
    SMX_CUDA_CHECK(cudaMemsetAsync(dW[CW_KAPPA], 0, (size_t)E * sizeof(float), 0));
    SMX_CUDA_CHECK(cudaMemsetAsync(dW[CW_R], 0, (size_t)(E * E) * sizeof(float), 0));
  }
  if (d->scaling) {
    SMX_CUBLAS_CHECK(gemm_tn(h, s->dspre, s->u, dW[CW_S], E, E, T));
    SMX_CUBLAS_CHECK(gemm_nn(h, s->dspre, W[CW_S], s->du, T, E, E, 1.0f));
  } else {
    SMX_CUDA_CHECK(cudaMemsetAsync(dW[CW_S], 0, (size_t)(E * E) * sizeof(float), 0));
  }

  /* the scan in reverse, then the fixed-order sums of its partials */
  scan_args a = args_of(s, W);
  a.ckpt = s->ckpt;
  if ((st = launch_scan(a, true)) != SMX_OK) return st;
  k_sum_warps<<<grid_for(T * N), NT>>>(s->dBpart, s->dBm, T, N, s->WE);
  SMX_CUDA_CHECK_LAUNCH();
  k_sum_warps<<<grid_for(T * N), NT>>>(s->dCpart, s->dCm, T, N, s->WE);
  SMX_CUDA_CHECK_LAUNCH();
  k_sum_batch<<<grid_for(E * N), NT>>>(s->dAlog_b, dW[CW_ALOG], d->B, E * N, 1);
  SMX_CUDA_CHECK_LAUNCH();
  k_sum_batch<<<grid_for(E), NT>>>(s->dlam_b, dW[CW_LAMBDA], d->B, E, d->delay);
  SMX_CUDA_CHECK_LAUNCH();

  /* delta (through softplus), B and C projections */
  k_mul_dact<<<grid_for(T * E), NT>>>(s->ddl, s->dpre, T * E, 0);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUBLAS_CHECK(gemm_tn(h, s->ddl, s->u, dW[CW_DT], E, E, T));
  SMX_CUBLAS_CHECK(colsum(h, s->ddl, s->ones, dW[CW_BDT], T, E));
  SMX_CUBLAS_CHECK(gemm_nn(h, s->ddl, W[CW_DT], s->du, T, E, E, 1.0f));
  SMX_CUBLAS_CHECK(gemm_tn(h, s->dBm, s->u, dW[CW_B], N, E, T));
  SMX_CUBLAS_CHECK(gemm_nn(h, s->dBm, W[CW_B], s->du, T, E, N, 1.0f));
  SMX_CUBLAS_CHECK(gemm_tn(h, s->dCm, s->u, dW[CW_C], N, E, T));
  SMX_CUBLAS_CHECK(gemm_nn(h, s->dCm, W[CW_C], s->du, T, E, N, 1.0f));

  /* silu and the causal conv (du becomes d upre in place) */
  k_mul_dact<<<grid_for(T * E), NT>>>(s->du, s->upre, T * E, 1);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUBLAS_CHECK(colsum(h, s->du, s->ones, dW[CW_CONVB], T, E));
  k_conv_dw<<<grid_for(E * d->K), NT>>>(s->du, s->xin, dW[CW_CONV], T, d->L, E, d->K);
  SMX_CUDA_CHECK_LAUNCH();
  k_conv_dx<<<grid_for(T * E), NT>>>(s->du, W[CW_CONV], s->dxin, T, d->L, E, d->K);
  SMX_CUDA_CHECK_LAUNCH();

  /* the input projections */
  SMX_CUBLAS_CHECK(gemm_tn(h, s->dxin, t[CONBA_X], dW[CW_IN], E, dm, T));
  SMX_CUBLAS_CHECK(gemm_tn(h, s->dz, t[CONBA_X], dW[CW_Z], E, dm, T));
  SMX_CUBLAS_CHECK(gemm_nn(h, s->dxin, W[CW_IN], t[CONBA_DX], T, dm, E, 0.0f));
  SMX_CUBLAS_CHECK(gemm_nn(h, s->dz, W[CW_Z], t[CONBA_DX], T, dm, E, 1.0f));
  return SMX_OK;
}

smx_status scan_run(void *p, smx_pass pass, void *const *tv) {
  scan_state *s = (scan_state *)p;
  float *const *t = (float *const *)tv;
  return pass == SMX_FWD ? scan_forward(s, t, t[CONBA_O], false) : scan_backward(s, t);
}

const char *scan_unsupported(const smx_config *c) {
  return c->v[CONBA_N] > NMAX ? "cuda.scan keeps each channel's N states in registers: N <= 64" : NULL;
}

/* ---------------------------------------------------------------------------------------------
 * cuda.step (conba_decode) */

/* conv window and u per (b, e): a = conv_b + sum_{j<K-1} w_j cin_j + w_{K-1} xin; the window
 * shifts by one and takes xin */
__global__ void k_step_conv(const float *xin, const float *cin, const float *cw, const float *cb, float *cout, float *u,
                            int64_t BE, int64_t E, int64_t K) {
  GRID_STRIDE(k, BE) {
    int64_t e = k % E;
    const float *ci = cin + k * (K - 1), *w = cw + e * K;
    float *co = cout + k * (K - 1), a = cb[e];
    for (int64_t j = 0; j < K - 1; j++) a += w[j] * ci[j];
    a += w[K - 1] * xin[k];
    u[k] = a * sigm(a);
    for (int64_t j = 0; j + 1 < K - 1; j++) co[j] = ci[j + 1];
    co[K - 2] = xin[k];
  }
}

/* state update and readout per (b, e): h_out = exp(delta A) h_in + delta u B, y from
 * (h_out + lambda h_in) . C, then y' and m */
__global__ void k_step_state(const float *dlpre, const float *bdt, const float *u, const float *Bm, const float *Cm,
                             const float *Alog, const float *lambda, const float *spre, const float *D, const float *r,
                             const float *kappa, const float *z, const float *hin, float *hout, float *m, int64_t BE,
                             int64_t E, int64_t N, int delay, int scaling, int feedback) {
  GRID_STRIDE(k, BE) {
    int64_t b = k / E, e = k % E;
    float dl = softplusf(dlpre[k] + bdt[e]), du = dl * u[k], lam = delay ? lambda[e] : 0.0f, acc = 0.0f;
    const float *hi = hin + k * N, *Bt = Bm + b * N, *Ct = Cm + b * N, *Al = Alog + e * N;
    float *ho = hout + k * N;
    for (int64_t n = 0; n < N; n++) {
      float hv = expf(-dl * expf(Al[n])) * hi[n] + du * Bt[n];
      ho[n] = hv;
      acc += (hv + lam * hi[n]) * Ct[n];
    }
    float y = (scaling ? sigm(spre[k]) : 1.0f) * acc + D[e] * u[k];
    float yp = feedback ? y - kappa[e] * (y - r[k]) : y;
    m[k] = yp * z[k] * sigm(z[k]);
  }
}

struct step_state {
  conba_dims d;
  cublasHandle_t h;
  int h_made;
  float *xin, *z, *u, *dl, *s, *r, *m; /* B x E */
  float *Bm, *Cm;                      /* B x N */
};

void step_destroy(void *p) {
  step_state *s = (step_state *)p;
  if (!s) return;
  float *b[] = {s->xin, s->z, s->u, s->dl, s->s, s->r, s->m, s->Bm, s->Cm};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) cudaFree(b[i]);
  if (s->h_made) cublasDestroy(s->h);
  free(s);
}

smx_status step_alloc(step_state *s) {
  size_t BE = (size_t)(s->d.B * s->d.E), BN = (size_t)(s->d.B * s->d.N);
  float **be[] = {&s->xin, &s->z, &s->u, &s->dl, &s->s, &s->r, &s->m};
  for (size_t i = 0; i < sizeof be / sizeof be[0]; i++) SMX_CUDA_CHECK(cudaMalloc((void **)be[i], BE * sizeof(float)));
  SMX_CUDA_CHECK(cudaMalloc((void **)&s->Bm, BN * sizeof(float)));
  SMX_CUDA_CHECK(cudaMalloc((void **)&s->Cm, BN * sizeof(float)));
  SMX_CUBLAS_CHECK(blas_init(&s->h));
  s->h_made = 1;
  return SMX_OK;
}

smx_status step_create(const smx_config *c, void **out) {
  *out = NULL;
  step_state *s = (step_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.step: cannot allocate state");
  s->d = smx_conba_decode_dims(c);
  smx_status st = step_alloc(s);
  if (st != SMX_OK) {
    step_destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t step_workspace(const void *p) {
  const step_state *s = (const step_state *)p;
  return (size_t)(s->d.B * (7 * s->d.E + 2 * s->d.N)) * sizeof(float);
}

smx_status step_run(void *p, smx_pass pass, void *const *tv) {
  if (pass != SMX_FWD) return SMX_OK;
  step_state *s = (step_state *)p;
  const conba_dims *d = &s->d;
  float *const *t = (float *const *)tv;
  float *const *W = t + CONBAD_W0;
  int64_t B = d->B, E = d->E, N = d->N;
  cublasHandle_t h = s->h;
  SMX_CUBLAS_CHECK(gemm_nt(h, t[CONBAD_X], W[CW_IN], s->xin, B, E, d->d, 0.0f));
  SMX_CUBLAS_CHECK(gemm_nt(h, t[CONBAD_X], W[CW_Z], s->z, B, E, d->d, 0.0f));
  k_step_conv<<<grid_for(B * E), NT>>>(s->xin, t[CONBAD_CONV_IN], W[CW_CONV], W[CW_CONVB], t[CONBAD_CONV_OUT], s->u,
                                       B * E, E, d->K);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUBLAS_CHECK(gemm_nt(h, s->u, W[CW_DT], s->dl, B, E, E, 0.0f));
  SMX_CUBLAS_CHECK(gemm_nt(h, s->u, W[CW_B], s->Bm, B, N, E, 0.0f));
  SMX_CUBLAS_CHECK(gemm_nt(h, s->u, W[CW_C], s->Cm, B, N, E, 0.0f));
  if (d->scaling) SMX_CUBLAS_CHECK(gemm_nt(h, s->u, W[CW_S], s->s, B, E, E, 0.0f));
  if (d->feedback) SMX_CUBLAS_CHECK(gemm_nt(h, s->u, W[CW_R], s->r, B, E, E, 0.0f));
  k_step_state<<<grid_for(B * E), NT>>>(s->dl, W[CW_BDT], s->u, s->Bm, s->Cm, W[CW_ALOG], W[CW_LAMBDA], s->s, W[CW_D],
                                        s->r, W[CW_KAPPA], s->z, t[CONBAD_H_IN], t[CONBAD_H_OUT], s->m, B * E, E, N,
                                        d->delay, d->scaling, d->feedback);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUBLAS_CHECK(gemm_nt(h, s->m, W[CW_OUT], t[CONBAD_O], B, d->d, E, 0.0f));
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_conba_cuda_scan = {
    "cuda.scan",
    "cuBLAS sgemm projections, one thread per (sequence, channel) scanning time with h in registers (N <= 64), "
    "checkpointed reverse scan",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    scan_unsupported,
    scan_create,
    scan_destroy,
    scan_workspace,
    scan_run,
    SMX_F32,
};

extern "C" const smx_variant smx_conba_decode_cuda_step = {
    "cuda.step",
    "cuBLAS sgemm projections of the batch's tokens, one thread per (sequence, channel) for the window and state",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD),
    NULL,
    step_create,
    step_destroy,
    step_workspace,
    step_run,
    SMX_F32,
};
