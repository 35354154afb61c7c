/* ssd_decode variant `cuda.step`: one token per sequence (reference/ssd.h),
 *   state_out = exp(a) state_in + delta x B'^T,  y = (state_out C' + D x) * silu(z),
 * in fp32. The step moves a P x N state in and out per head for 5 flops per element, so it is
 * bound by memory bandwidth: each warp owns ROWS rows p of one (b, h), lanes run along N so every
 * load and store of a state row is coalesced (float4 per lane when N is a multiple of 4 and the
 * state tensors are 16-byte aligned), and the row's readout is a warp reduction. Each warp rotates
 * its own B and C (RoPE at position `pos`, cos/sin computed once in create() in fp64, rounded to
 * fp32) and keeps them in registers: any N up to the op's 512.
 *
 *   seqmix check --op ssd_decode --variant cuda.step        (needs a GPU; skipped otherwise)
 *   seqmix bench --op ssd_decode --variant cuda.step --suite quick
 */
#include <stdint.h>
#include <stdlib.h>

extern "C" {
#include "reference/ssd.h"
}
#include "cuda_check.h"

namespace {

constexpr int THREADS = 256, WARPS = THREADS / 32;
constexpr int ROWS = 4;      /* state rows per warp: enough loads in flight per warp, B' and C' set up once */
constexpr int NMAX = 512;    /* the op's largest N: 16 elements per lane and row */
constexpr unsigned FULL = 0xffffffffu;

struct step_args {
  const float *x, *dt, *A, *Bm, *Cm, *D, *z, *dt_bias, *sin_;
  float *y, *sout;
  const float *cs, *sn; /* N/2 each: the angles of position pos */
  int B, H, P, G, N, hpg, rope, gate, softplus;
};

/* Element n of R m (the rotate-half pairing of reference/ssd_tmpl.h's step). */
__device__ __forceinline__ float rot(const step_args &a, const float *m, int n) {
  const float v = m[n];
  if (!a.rope) return v;
  const int half = a.N >> 1;
  return n < half ? v * a.cs[n] - m[n + half] * a.sn[n] : v * a.cs[n - half] + m[n - half] * a.sn[n - half];
}

__device__ __forceinline__ double softplus(double v) { return v > 20.0 ? v : log1p(exp(v)); }

/* PER = state elements per lane and row (N <= 32 PER; instantiated for 4, 8, 16 so registers
 * follow N). VEC: lane l holds elements 4 (l + 32 k') + e, k = 4 k' + e (N % 4 == 0, 16-byte
 * aligned state rows); otherwise elements l + 32 k. Every state load of the warp's rows is issued
 * before the first store, so each lane has up to ROWS * PER loads in flight. */
template <int PER, bool VEC> __global__ void __launch_bounds__(THREADS) k_step(step_args a) {
  const int lane = threadIdx.x & 31;
  const int groups = (a.P + ROWS - 1) / ROWS;
  const int64_t wid = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5), bh = wid / groups;
  if (bh >= (int64_t)a.B * a.H) return; /* whole warps only: the shuffles below see every lane */
  const int h = (int)(bh % a.H), b = (int)(bh / a.H), g = h / a.hpg, p0 = (int)(wid % groups) * ROWS;
  const float *bm = a.Bm + ((int64_t)b * a.G + g) * a.N, *cm = a.Cm + ((int64_t)b * a.G + g) * a.N;
  float bp[PER], cp[PER];
#pragma unroll
  for (int k = 0; k < PER; k++) {
    const int n = VEC ? 4 * (lane + 32 * (k / 4)) + k % 4 : lane + 32 * k;
    bp[k] = n < a.N ? rot(a, bm, n) : 0.f;
    cp[k] = n < a.N ? rot(a, cm, n) : 0.f;
  }
  const float raw = a.dt[bh];
  const float dl = a.softplus ? (float)softplus((double)(raw + a.dt_bias[h])) : raw;
  const float decay = expf(dl * a.A[h]);
  float sv[ROWS][PER];
#pragma unroll
  for (int r = 0; r < ROWS; r++) {
    const int p = p0 + r;
    const float *src = a.sin_ + (bh * a.P + p) * a.N;
#pragma unroll
    for (int k = 0; k < PER; k++) {
      if (VEC) {
        if (k % 4) continue;
        const int n = 4 * (lane + 32 * (k / 4));
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if (p < a.P && n < a.N) v = *reinterpret_cast<const float4 *>(src + n);
        sv[r][k] = v.x;
        sv[r][k + 1] = v.y;
        sv[r][k + 2] = v.z;
        sv[r][k + 3] = v.w;
      } else {
        const int n = lane + 32 * k;
        sv[r][k] = (p < a.P && n < a.N) ? src[n] : 0.f;
      }
    }
  }
  float acc[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; r++) {
    const int p = p0 + r;
    acc[r] = 0.f;
    if (p >= a.P) continue;
    const float u = dl * a.x[bh * a.P + p];
    float *dst = a.sout + (bh * a.P + p) * a.N;
#pragma unroll
    for (int k = 0; k < PER; k++) {
      const int n = VEC ? 4 * (lane + 32 * (k / 4)) + k % 4 : lane + 32 * k;
      sv[r][k] = decay * sv[r][k] + u * bp[k];
      acc[r] += sv[r][k] * cp[k];
      if (!VEC && n < a.N) dst[n] = sv[r][k];
      if (VEC && k % 4 == 3 && n < a.N)
        *reinterpret_cast<float4 *>(dst + n - 3) = make_float4(sv[r][k - 3], sv[r][k - 2], sv[r][k - 1], sv[r][k]);
    }
  }
  const float Dh = a.D[h];
#pragma unroll
  for (int r = 0; r < ROWS; r++) {
    float v = acc[r];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL, v, o);
    const int p = p0 + r;
    if (lane == 0 && p < a.P) {
      const int64_t i = bh * a.P + p;
      float y0 = v + Dh * a.x[i];
      if (a.gate) {
        const float zv = a.z[i];
        y0 *= zv * (float)(1.0 / (1.0 + exp(-(double)zv)));
      }
      a.y[i] = y0;
    }
  }
}

template <int PER> void launch(bool vec, unsigned blocks, const step_args &a) {
  if (vec) k_step<PER, true><<<blocks, THREADS>>>(a);
  else k_step<PER, false><<<blocks, THREADS>>>(a);
}

struct step_state {
  ssd_dims d;
  int64_t pos;
  float *tab; /* device: cos then sin of position pos, N/2 each (rope = 1) */
};

void destroy(void *p) {
  step_state *s = (step_state *)p;
  if (!s) return;
  cudaFree(s->tab);
  free(s);
}

smx_status upload(step_state *s) {
  const int half = (int)(s->d.N / 2);
  float host[NMAX];
  smx_ssd_rope_tables_f32(s->pos, 1, s->d.N, host, host + half);
  SMX_CUDA_CHECK(cudaMalloc(&s->tab, 2 * (size_t)half * sizeof(float)));
  SMX_CUDA_CHECK(cudaMemcpy(s->tab, host, 2 * (size_t)half * sizeof(float), cudaMemcpyHostToDevice));
  return SMX_OK;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  step_state *s = (step_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.step: cannot allocate state");
  s->d = smx_ssd_decode_dims(c, &s->pos);
  if (s->d.N > NMAX) {
    free(s);
    return smx_fail(SMX_ERR_UNSUPPORTED, "cuda.step: N > %d", NMAX);
  }
  if (s->d.rope) {
    smx_status st = upload(s);
    if (st != SMX_OK) {
      destroy(s);
      return st;
    }
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) {
  const step_state *s = (const step_state *)p;
  return s->tab ? 2 * (size_t)(s->d.N / 2) * sizeof(float) : 0;
}

smx_status run(void *p, smx_pass pass, void *const *tv) {
  const step_state *s = (const step_state *)p;
  if (pass != SMX_FWD) return smx_fail(SMX_ERR_UNSUPPORTED, "cuda.step: ssd_decode has no backward");
  float *const *t = (float *const *)tv;
  const ssd_dims &d = s->d;
  step_args a = {};
  a.x = t[SSDD_X];
  a.dt = t[SSDD_DT];
  a.A = t[SSDD_A];
  a.Bm = t[SSDD_BM];
  a.Cm = t[SSDD_CM];
  a.D = t[SSDD_D];
  a.z = t[SSDD_Z];
  a.dt_bias = t[SSDD_DTBIAS];
  a.sin_ = t[SSDD_SIN];
  a.y = t[SSDD_Y];
  a.sout = t[SSDD_SOUT];
  a.cs = s->tab;
  a.sn = s->tab ? s->tab + d.N / 2 : NULL;
  a.B = (int)d.B;
  a.H = (int)d.H;
  a.P = (int)d.P;
  a.G = (int)d.G;
  a.N = (int)d.N;
  a.hpg = (int)(d.H / d.G);
  a.rope = d.rope;
  a.gate = d.gate;
  a.softplus = d.softplus;
  const int64_t warps = d.B * d.H * ((d.P + ROWS - 1) / ROWS);
  const unsigned blocks = (unsigned)((warps + WARPS - 1) / WARPS);
  const bool vec = d.N % 4 == 0 && ((uintptr_t)a.sin_ | (uintptr_t)a.sout) % 16 == 0;
  if (d.N <= 128) launch<4>(vec, blocks, a);
  else if (d.N <= 256) launch<8>(vec, blocks, a);
  else launch<16>(vec, blocks, a);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_ssd_decode_cuda_step = {
    "cuda.step",
    "fp32 state update and readout in one coalesced pass over the state: a warp per (batch, head, 4 rows), "
    "lanes along N, RoPE inline",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD),
    NULL,
    create,
    destroy,
    workspace_bytes,
    run,
    SMX_F32,
};
