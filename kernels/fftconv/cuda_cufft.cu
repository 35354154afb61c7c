/* fftconv variant `cuda.cufft`: batched real FFTs with cuFFT (one plan for the B*H rows of u and
 * one for the H rows of k, made once in create() and kept with the state), a pointwise complex
 * product kernel, the inverse FFT, and D*v + GELU + the post-gate fused into the kernel that crops
 * the rows back to L (v = pre * u, the pre-gate fused into the padding kernel). Rows are zero-padded to N >= 2L - 1 (2,3,5,7-smooth), as cpu.fftw does. All reductions (dk over
 * the batch, dD over batch and time) run in a fixed order, so results are repeatable.
 *
 *   seqmix check --op fftconv --variant cuda.cufft        (needs a GPU; skipped otherwise)
 *   seqmix bench --op fftconv --variant cuda.cufft --suite paper
 */
#include <cuda_runtime.h>
#include <cufft.h>
#include <math.h>
#include <stdlib.h>

extern "C" {
#include "reference/fftconv.h"
}
#include "reference/gelu.h"
#include "cuda_check.h"

namespace {

struct cufft_state {
  int64_t B, H, L, N, nf, rows;
  int gelu, gates;
  cufftHandle r2c_rows, c2r_rows, r2c_k, c2r_k;
  int plans_made;
  void *work;        /* one cuFFT work area shared by the four plans (they run one after another) */
  float *pad;        /* rows x N real */
  cufftComplex *uf;  /* rows x nf: FFT(u); the forward's product in place */
  cufftComplex *gf;  /* rows x nf: FFT(g), or the product that gives the pre-activation (backward) */
  cufftComplex *hf;  /* H x nf: the dk spectrum */
  cufftComplex *kf;  /* H x nf: FFT(k), unscaled */
  size_t ws_bytes;
};

inline unsigned grid_for(size_t n) {
  size_t b = (n + 255) / 256;
  return (unsigned)(b > 65535 * 8 ? 65535 * 8 : (b ? b : 1));
}

#define GRID_STRIDE(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

/* dst (rows x N) = src (rows x L) zero-padded, times gate (rows x L) when gate is not NULL */
__global__ void pad_rows(const float *src, const float *gate, float *dst, int64_t rows, int64_t L, int64_t N) {
  GRID_STRIDE(i, (size_t)rows * N) {
    int64_t r = (int64_t)(i / N), t = (int64_t)(i % N);
    dst[i] = t < L ? (gate ? gate[r * L + t] * src[r * L + t] : src[r * L + t]) : 0.0f;
  }
}

/* out[r, f] = a[r, f] * (conj_b ? conj(b[r % H, f]) : b[r % H, f]) * scale */
__global__ void multiply(const cufftComplex *a, const cufftComplex *b, cufftComplex *out, int64_t rows, int64_t H,
                         int64_t nf, int conj_b, float scale) {
  GRID_STRIDE(i, (size_t)rows * nf) {
    int64_t r = (int64_t)(i / nf), f = (int64_t)(i % nf);
    cufftComplex x = a[i], y = b[(r % H) * nf + f];
    float yi = conj_b ? -y.y : y.y;
    out[i] = make_cuFloatComplex((x.x * y.x - x.y * yi) * scale, (x.x * yi + x.y * y.x) * scale);
  }
}

/* y[r, t] = post * act(conv[r, t] + D[h] v[r, t]) with conv the first L of each padded row and
 * v = pre * u (pre, post NULL without gates) */
__global__ void forward_epilogue(const float *conv, const float *u, const float *D, const float *pre, const float *post,
                                 float *y, int64_t rows, int64_t H, int64_t L, int64_t N, int gelu) {
  GRID_STRIDE(i, (size_t)rows * L) {
    int64_t r = (int64_t)(i / L), t = (int64_t)(i % L);
    float v = pre ? pre[i] * u[i] : u[i];
    float z = conv[r * N + t] + D[r % H] * v;
    float a = gelu ? smx_gelu_f32(z) : z;
    y[i] = post ? post[i] * a : a;
  }
}

/* g[r, t] = dy * post * gelu'(z) with z = conv + D v (conv valid only when gelu or gates);
 * dpost = dy * act(z) when gated */
__global__ void output_grad(const float *conv, const float *u, const float *D, const float *pre, const float *post,
                            const float *dy, float *g, float *dpost, int64_t rows, int64_t H, int64_t L, int64_t N,
                            int gelu) {
  GRID_STRIDE(i, (size_t)rows * L) {
    int64_t r = (int64_t)(i / L), t = (int64_t)(i % L);
    if (!gelu && !post) {
      g[i] = dy[i];
      continue;
    }
    float v = pre ? pre[i] * u[i] : u[i];
    float z = conv[r * N + t] + D[r % H] * v;
    if (dpost) dpost[i] = dy[i] * (gelu ? smx_gelu_f32(z) : z);
    g[i] = dy[i] * (post ? post[i] : 1.0f) * (gelu ? smx_gelu_grad_f32(z) : 1.0f);
  }
}

/* dv = corr[r, t] + D[h] g[r, t]; du = pre * dv in place over g, dpre = u * dv (gated) */
__global__ void input_grad(const float *corr, const float *D, const float *u, const float *pre, float *g_du,
                           float *dpre, int64_t rows, int64_t H, int64_t L, int64_t N) {
  GRID_STRIDE(i, (size_t)rows * L) {
    int64_t r = (int64_t)(i / L), t = (int64_t)(i % L);
    float dv = corr[r * N + t] + D[r % H] * g_du[i];
    if (pre) {
      dpre[i] = u[i] * dv;
      dv *= pre[i];
    }
    g_du[i] = dv;
  }
}

/* acc[h, f] = sum_b gf[b H + h, f] conj(uf[b H + h, f]) / N, summed over b in order */
__global__ void kernel_grad_spectrum(const cufftComplex *gf, const cufftComplex *uf, cufftComplex *acc, int64_t B,
                                     int64_t H, int64_t nf, float scale) {
  GRID_STRIDE(i, (size_t)H * nf) {
    int64_t h = (int64_t)(i / nf), f = (int64_t)(i % nf);
    float re = 0, im = 0;
    for (int64_t b = 0; b < B; b++) {
      size_t j = (size_t)(b * H + h) * nf + f;
      cufftComplex g = gf[j], u = uf[j];
      re += g.x * u.x + g.y * u.y;
      im += g.y * u.x - g.x * u.y;
    }
    acc[i] = make_cuFloatComplex(re * scale, im * scale);
  }
}

/* dst (rows x L) = the first L of each padded row of src */
__global__ void crop_rows(const float *src, float *dst, int64_t rows, int64_t L, int64_t N) {
  GRID_STRIDE(i, (size_t)rows * L) {
    int64_t r = (int64_t)(i / L), t = (int64_t)(i % L);
    dst[i] = src[r * N + t];
  }
}

/* dD[h] = sum_b sum_t g v, v = pre * u: one block per channel, fp64 partial sums, fixed tree order. */
__global__ void channel_dot(const float *g, const float *u, const float *pre, float *dD, int64_t B, int64_t H, int64_t L) {
  __shared__ double part[256];
  int64_t h = blockIdx.x;
  double acc = 0;
  for (int64_t b = 0; b < B; b++) {
    const float *gr = g + (b * H + h) * L, *ur = u + (b * H + h) * L, *pr = pre ? pre + (b * H + h) * L : NULL;
    for (int64_t t = threadIdx.x; t < L; t += blockDim.x)
      acc += (double)gr[t] * (double)(pr ? pr[t] * ur[t] : ur[t]); /* v rounded to fp32 as the FFT sees it */
  }
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) dD[h] = (float)part[0];
}

/* A plan without its own work area (create_plans_and_buffers gives all four one shared area).
 * *made is set as soon as the handle exists, so a failed plan is still destroyed. */
smx_status make_plan(cufftHandle *plan, int *made, int bit, int64_t N, int64_t batch, cufftType type, size_t *work) {
  long long n = (long long)N;
  long long nf = (long long)(N / 2 + 1);
  SMX_CUFFT_CHECK(cufftCreate(plan));
  *made |= bit;
  SMX_CUFFT_CHECK(cufftSetAutoAllocation(*plan, 0));
  long long idist = type == CUFFT_R2C ? n : nf, odist = type == CUFFT_R2C ? nf : n;
  SMX_CUFFT_CHECK(cufftMakePlanMany64(*plan, 1, &n, NULL, 1, idist, NULL, 1, odist, type, (long long)batch, work));
  return SMX_OK;
}

void destroy_state(void *p) {
  cufft_state *s = (cufft_state *)p;
  if (!s) return;
  if (s->plans_made & 1) cufftDestroy(s->r2c_rows);
  if (s->plans_made & 2) cufftDestroy(s->c2r_rows);
  if (s->plans_made & 4) cufftDestroy(s->r2c_k);
  if (s->plans_made & 8) cufftDestroy(s->c2r_k);
  cudaFree(s->work);
  cudaFree(s->pad);
  cudaFree(s->uf);
  cudaFree(s->gf);
  cudaFree(s->hf);
  cudaFree(s->kf);
  free(s);
}

smx_status create_plans_and_buffers(cufft_state *s) {
  size_t w[4] = {0, 0, 0, 0}, most = 0;
  smx_status st;
  if ((st = make_plan(&s->r2c_rows, &s->plans_made, 1, s->N, s->rows, CUFFT_R2C, &w[0])) != SMX_OK) return st;
  if ((st = make_plan(&s->c2r_rows, &s->plans_made, 2, s->N, s->rows, CUFFT_C2R, &w[1])) != SMX_OK) return st;
  if ((st = make_plan(&s->r2c_k, &s->plans_made, 4, s->N, s->H, CUFFT_R2C, &w[2])) != SMX_OK) return st;
  if ((st = make_plan(&s->c2r_k, &s->plans_made, 8, s->N, s->H, CUFFT_C2R, &w[3])) != SMX_OK) return st;
  for (int i = 0; i < 4; i++)
    if (w[i] > most) most = w[i];
  size_t pad_b = (size_t)s->rows * s->N * sizeof(float);
  size_t spec_b = (size_t)s->rows * s->nf * sizeof(cufftComplex);
  size_t h_b = (size_t)s->H * s->nf * sizeof(cufftComplex);
  SMX_CUDA_CHECK(cudaMalloc(&s->work, most ? most : 16));
  SMX_CUFFT_CHECK(cufftSetWorkArea(s->r2c_rows, s->work));
  SMX_CUFFT_CHECK(cufftSetWorkArea(s->c2r_rows, s->work));
  SMX_CUFFT_CHECK(cufftSetWorkArea(s->r2c_k, s->work));
  SMX_CUFFT_CHECK(cufftSetWorkArea(s->c2r_k, s->work));
  SMX_CUDA_CHECK(cudaMalloc(&s->pad, pad_b));
  SMX_CUDA_CHECK(cudaMalloc(&s->uf, spec_b));
  SMX_CUDA_CHECK(cudaMalloc(&s->gf, spec_b));
  SMX_CUDA_CHECK(cudaMalloc(&s->hf, h_b));
  SMX_CUDA_CHECK(cudaMalloc(&s->kf, h_b));
  s->ws_bytes = most + pad_b + 2 * spec_b + 2 * h_b;
  return SMX_OK;
}

/* kf = FFT(pad(k)), uf = FFT(pad(v)), v = pre * u (or u) */
smx_status transform_inputs(cufft_state *s, const float *u, const float *k, const float *pre) {
  pad_rows<<<grid_for((size_t)s->H * s->N), 256>>>(k, NULL, s->pad, s->H, s->L, s->N);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUFFT_CHECK(cufftExecR2C(s->r2c_k, s->pad, s->kf));
  pad_rows<<<grid_for((size_t)s->rows * s->N), 256>>>(u, pre, s->pad, s->rows, s->L, s->N);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUFFT_CHECK(cufftExecR2C(s->r2c_rows, s->pad, s->uf));
  return SMX_OK;
}

/* pad = IFFT(a * b or a * conj(b)) / N over all rows; the product goes to `prod` (which may be a). */
smx_status correlate_rows(cufft_state *s, const cufftComplex *a, const cufftComplex *b, int conj_b, cufftComplex *prod) {
  multiply<<<grid_for((size_t)s->rows * s->nf), 256>>>(a, b, prod, s->rows, s->H, s->nf, conj_b, 1.0f / (float)s->N);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUFFT_CHECK(cufftExecC2R(s->c2r_rows, prod, s->pad));
  return SMX_OK;
}

smx_status forward(cufft_state *s, const float *u, const float *k, const float *D, const float *pre, const float *post,
                   float *y) {
  smx_status st;
  if ((st = transform_inputs(s, u, k, pre)) != SMX_OK) return st;
  if ((st = correlate_rows(s, s->uf, s->kf, 0, s->uf)) != SMX_OK) return st;
  forward_epilogue<<<grid_for((size_t)s->rows * s->L), 256>>>(s->pad, u, D, pre, post, y, s->rows, s->H, s->L, s->N,
                                                              s->gelu);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

/* Same steps as cpu.fftw: g (staged in du) and dpost -> dD -> FFT(g) -> dk -> du, dpre. FFT(v) must
 * survive until dk, so the pre-activation's product goes to gf, which FFT(g) then overwrites.
 * pre, post, dpre, dpost are NULL without gates. */
smx_status backward(cufft_state *s, const float *u, const float *k, const float *D, const float *pre, const float *post,
                    const float *dy, float *du, float *dk, float *dD, float *dpre, float *dpost) {
  smx_status st;
  size_t n_rows = (size_t)s->rows * s->L;
  if ((st = transform_inputs(s, u, k, pre)) != SMX_OK) return st;
  if ((s->gelu || s->gates) && (st = correlate_rows(s, s->uf, s->kf, 0, s->gf)) != SMX_OK) return st;
  output_grad<<<grid_for(n_rows), 256>>>(s->pad, u, D, pre, post, dy, du, dpost, s->rows, s->H, s->L, s->N, s->gelu);
  SMX_CUDA_CHECK_LAUNCH();
  channel_dot<<<(unsigned)s->H, 256>>>(du, u, pre, dD, s->B, s->H, s->L);
  SMX_CUDA_CHECK_LAUNCH();
  pad_rows<<<grid_for((size_t)s->rows * s->N), 256>>>(du, NULL, s->pad, s->rows, s->L, s->N);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUFFT_CHECK(cufftExecR2C(s->r2c_rows, s->pad, s->gf));
  /* dk = IFFT(sum_b G conj(U)) / N, first L lags */
  kernel_grad_spectrum<<<grid_for((size_t)s->H * s->nf), 256>>>(s->gf, s->uf, s->hf, s->B, s->H, s->nf, 1.0f / (float)s->N);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUFFT_CHECK(cufftExecC2R(s->c2r_k, s->hf, s->pad));
  crop_rows<<<grid_for((size_t)s->H * s->L), 256>>>(s->pad, dk, s->H, s->L, s->N);
  SMX_CUDA_CHECK_LAUNCH();
  /* du = IFFT(G conj(K)) / N + D g; G is not needed after this, so the product goes in place */
  if ((st = correlate_rows(s, s->gf, s->kf, 1, s->gf)) != SMX_OK) return st;
  input_grad<<<grid_for(n_rows), 256>>>(s->pad, D, u, pre, du, dpre, s->rows, s->H, s->L, s->N);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  cufft_state *s = (cufft_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.cufft: cannot allocate state");
  s->B = c->v[FFTCONV_B];
  s->H = c->v[FFTCONV_H];
  s->L = c->v[FFTCONV_L];
  s->gelu = (int)c->v[FFTCONV_GELU];
  s->gates = (int)c->v[FFTCONV_GATES];
  s->rows = s->B * s->H;
  s->N = smx_fftconv_fft_size(s->L);
  s->nf = s->N / 2 + 1;
  smx_status st = create_plans_and_buffers(s);
  if (st != SMX_OK) {
    destroy_state(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) { return ((const cufft_state *)p)->ws_bytes; }

smx_status run(void *p, smx_pass pass, void *const *tv) {
  cufft_state *s = (cufft_state *)p;
  float *const *t = (float *const *)tv;
  const float *pre = s->gates ? t[FFTCONV_PRE] : NULL, *post = s->gates ? t[FFTCONV_POST] : NULL;
  if (pass == SMX_FWD) return forward(s, t[FFTCONV_U], t[FFTCONV_K], t[FFTCONV_D], pre, post, t[FFTCONV_Y]);
  return backward(s, t[FFTCONV_U], t[FFTCONV_K], t[FFTCONV_D], pre, post, t[FFTCONV_DY], t[FFTCONV_DU], t[FFTCONV_DK],
                  t[FFTCONV_DD], s->gates ? t[FFTCONV_DPRE] : NULL, s->gates ? t[FFTCONV_DPOST] : NULL);
}

} // namespace

extern "C" const smx_variant smx_fftconv_cuda_cufft = {
    "cuda.cufft",
    "cuFFT batched R2C/C2R at N >= 2L-1, pointwise product kernel, fused pre-gate, D*u + GELU + post-gate epilogue",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    NULL,
    create,
    destroy_state,
    workspace_bytes,
    run,
};
