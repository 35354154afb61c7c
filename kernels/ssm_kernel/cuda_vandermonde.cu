/* ssm_kernel variant `cuda.vandermonde`: forward, one thread per position l of a channel (grid
 * (ceil(L/256), H)); the channel's modes (2 C Bbar and z = dt A, fp64) sit in shared memory and
 * each thread sums 2 Re(w_n E_n^l) over the modes, E^l = exp(z l) with the exponent formed in fp64
 * and the phase reduced mod 2 pi in fp64 before the fp32 exponential and sincos, so accuracy does
 * not fall with l. Backward, one block per (channel, mode): each thread sums a strided share of
 * S = sum dk E^l and U = sum l dk E^(l-1) in fp64, the block reduces in a fixed tree order, thread
 * 0 applies the chain rule (reference/ssm_diag.h), and a last kernel sums each channel's dt
 * gradient over its modes in order. Results are repeatable.
 *
 *   seqmix check --op ssm_kernel --variant cuda.vandermonde     (needs a GPU; skipped otherwise)
 *   seqmix bench --op ssm_kernel --variant cuda.vandermonde --suite paper
 */
#include <cuda_runtime.h>
#include <stdlib.h>

extern "C" {
#include "reference/ssm_kernel.h"
}
#include "reference/ssm_diag.h"
#include "cuda_check.h"

namespace {

struct vdm_state {
  int64_t H, N, L;
  double *ddt; /* H x N: each mode's share of d/d(dt) */
};

__device__ smx_ssm_mode64 mode_of(const float *const *p, int64_t h, int64_t n, int64_t N) {
  int64_t i = h * N + n;
  double b[2] = {p[SSMK_B][2 * i], p[SSMK_B][2 * i + 1]}, c[2] = {p[SSMK_C][2 * i], p[SSMK_C][2 * i + 1]};
  return smx_ssm_mode_f64(p[SSMK_LOGDT][h], p[SSMK_LOGARE][i], p[SSMK_AIM][i], b, c);
}

/* exp(z l) with z = (zr, zi): exponent and phase in fp64, the phase reduced to [-pi, pi]. */
__device__ __forceinline__ float2 power(double zr, double zi, int64_t l) {
  const double two_pi = 6.283185307179586476925;
  double ph = zi * (double)l;
  ph -= two_pi * rint(ph / two_pi);
  float mag = expf((float)(zr * (double)l)), sn, cs;
  sincosf((float)ph, &sn, &cs);
  return make_float2(mag * cs, mag * sn);
}

struct params {
  const float *p[SSMK_NSLOTS];
};

__global__ void forward_kernel(params a, float *k, int64_t N, int64_t L) {
  extern __shared__ double sh[]; /* N x (wr, wi, zr, zi) */
  int64_t h = blockIdx.y;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) {
    smx_ssm_mode64 m = mode_of(a.p, h, n, N);
    smx_c64 w = cmul_f64(m.C, m.Bbar);
    sh[4 * n] = 2 * w.re;
    sh[4 * n + 1] = 2 * w.im;
    sh[4 * n + 2] = m.dt * m.A.re;
    sh[4 * n + 3] = m.dt * m.A.im;
  }
  __syncthreads();
  int64_t l = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (l >= L) return;
  float acc = 0;
  for (int64_t n = 0; n < N; n++) {
    float2 e = power(sh[4 * n + 2], sh[4 * n + 3], l);
    acc += (float)sh[4 * n] * e.x - (float)sh[4 * n + 1] * e.y;
  }
  k[h * L + l] = acc;
}

/* One block of 256 threads per (h, n). */
__global__ void backward_mode_kernel(params a, const float *dk, float *dlog_a_re, float *da_im, float *db, float *dc,
                                     double *ddt, int64_t N, int64_t L) {
  __shared__ double part[4][256];
  int64_t h = blockIdx.x / N, n = blockIdx.x % N;
  smx_ssm_mode64 m = mode_of(a.p, h, n, N);
  double zr = m.dt * m.A.re, zi = m.dt * m.A.im;
  double sr = 0, si = 0, ur = 0, ui = 0;
  const float *g = dk + h * L;
  for (int64_t l = threadIdx.x; l < L; l += blockDim.x) {
    double gl = (double)g[l];
    float2 e = power(zr, zi, l);
    sr += gl * e.x;
    si += gl * e.y;
    if (l >= 1) {
      float2 e1 = power(zr, zi, l - 1);
      ur += gl * (double)l * e1.x;
      ui += gl * (double)l * e1.y;
    }
  }
  part[0][threadIdx.x] = sr;
  part[1][threadIdx.x] = si;
  part[2][threadIdx.x] = ur;
  part[3][threadIdx.x] = ui;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if ((int)threadIdx.x < stride)
      for (int q = 0; q < 4; q++) part[q][threadIdx.x] += part[q][threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  smx_c64 S = c_f64(part[0][0], part[1][0]), U = c_f64(part[2][0], part[3][0]);
  smx_c64 adj_c = cmul_f64(m.Bbar, S), adj_bbar = cmul_f64(m.C, S), adj_e = cmul_f64(cmul_f64(m.C, m.Bbar), U);
  double gc[2], gb[2], g_are, g_aim, g_dt;
  smx_ssm_chain_f64(&m, adj_c, adj_bbar, adj_e, gc, gb, &g_are, &g_aim, &g_dt);
  int64_t i = h * N + n;
  dc[2 * i] = (float)gc[0];
  dc[2 * i + 1] = (float)gc[1];
  db[2 * i] = (float)gb[0];
  db[2 * i + 1] = (float)gb[1];
  dlog_a_re[i] = (float)g_are;
  da_im[i] = (float)g_aim;
  ddt[i] = g_dt;
}

/* dlog_dt[h] = dt sum_n ddt[h, n], modes in order. */
__global__ void dt_grad_kernel(const float *log_dt, const double *ddt, float *dlog_dt, int64_t H, int64_t N) {
  int64_t h = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (h >= H) return;
  double s = 0;
  for (int64_t n = 0; n < N; n++) s += ddt[h * N + n];
  dlog_dt[h] = (float)(s * exp((double)log_dt[h]));
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  vdm_state *s = (vdm_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.vandermonde: cannot allocate state");
  s->H = c->v[SSMK_PH];
  s->N = c->v[SSMK_PN];
  s->L = c->v[SSMK_PL];
  cudaError_t e = cudaMalloc(&s->ddt, (size_t)s->H * s->N * sizeof(double));
  if (e != cudaSuccess) {
    free(s);
    return smx_fail(e == cudaErrorMemoryAllocation ? SMX_ERR_NOMEM : SMX_ERR_BACKEND,
                    "cuda.vandermonde: cudaMalloc failed: %s", cudaGetErrorString(e));
  }
  *out = s;
  return SMX_OK;
}

void destroy(void *p) {
  vdm_state *s = (vdm_state *)p;
  if (!s) return;
  cudaFree(s->ddt);
  free(s);
}

size_t workspace_bytes(const void *p) {
  const vdm_state *s = (const vdm_state *)p;
  return (size_t)s->H * s->N * sizeof(double);
}

smx_status run(void *p, smx_pass pass, void *const *tv) {
  const vdm_state *s = (const vdm_state *)p;
  float *const *t = (float *const *)tv;
  params a;
  for (int i = 0; i < SSMK_NSLOTS; i++) a.p[i] = t[i];
  if (pass == SMX_FWD) {
    /* grid.y is limited to 65535 channels per launch: launch channel slices */
    for (int64_t h0 = 0; h0 < s->H; h0 += 65535) {
      int64_t nh = s->H - h0 < 65535 ? s->H - h0 : 65535;
      params sl = a;
      sl.p[SSMK_LOGDT] = a.p[SSMK_LOGDT] + h0;
      sl.p[SSMK_LOGARE] = a.p[SSMK_LOGARE] + h0 * s->N;
      sl.p[SSMK_AIM] = a.p[SSMK_AIM] + h0 * s->N;
      sl.p[SSMK_B] = a.p[SSMK_B] + 2 * h0 * s->N;
      sl.p[SSMK_C] = a.p[SSMK_C] + 2 * h0 * s->N;
      dim3 grid((unsigned)((s->L + 255) / 256), (unsigned)nh);
      forward_kernel<<<grid, 256, (size_t)s->N * 4 * sizeof(double)>>>(sl, t[SSMK_K] + h0 * s->L, s->N, s->L);
      SMX_CUDA_CHECK_LAUNCH();
    }
    return SMX_OK;
  }
  /* H * N <= 2^30 blocks (validate: H * 2N <= 2^31) */
  backward_mode_kernel<<<(unsigned)(s->H * s->N), 256>>>(a, t[SSMK_DK], t[SSMK_DLOGARE], t[SSMK_DAIM], t[SSMK_DB],
                                                         t[SSMK_DC], s->ddt, s->N, s->L);
  SMX_CUDA_CHECK_LAUNCH();
  dt_grad_kernel<<<(unsigned)((s->H + 255) / 256), 256>>>(t[SSMK_LOGDT], s->ddt, t[SSMK_DLOGDT], s->H, s->N);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_ssm_kernel_cuda_vandermonde = {
    "cuda.vandermonde",
    "a thread per position (forward) / a block per mode (backward), fp64 phase reduction, fp32 exponentials",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    NULL,
    create,
    destroy,
    workspace_bytes,
    run,
    SMX_F32,
};
