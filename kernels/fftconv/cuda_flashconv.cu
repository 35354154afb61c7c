/* fftconv variants `cuda.flashconv` (fp32) and `cuda.flashconv.bf16` (bf16 storage, the same fp32
 * arithmetic): a fused block FFT convolution in the manner of FlashFFTConv.
 * The length-N DFT (N a power of two, 256..65536, N >= 2L - 1) is evaluated as a Monarch product
 * of small dense DFT matrices with twiddles: N = R_1 R_2 ... R_p, each stage s applies the R_s x R_s
 * DFT matrix to the columns of the current sub-blocks and multiplies by the twiddles W_M^(c k)
 * (decimation in frequency). The spectrum is left in the resulting digit-reversed order; the
 * kernel's spectrum is computed by the same code so the pointwise product lines up, and the
 * inverse runs the stages backwards with conjugated matrices and twiddles, back to time order.
 *
 * Data stay in shared memory: one thread block owns G packed rows (G * N = 8192 complex for
 * N <= 8192, one row of 16384 at N = 16384) and runs load (with the pre-gate) -> DFT -> product ->
 * inverse -> epilogue (D v, GELU, post-gate) without touching global memory in between. For
 * N = 32K and 64K a row does not fit (8 bytes per fp32 complex value, 227 KB of shared memory per
 * block on an H100), so, as FlashFFTConv does for its largest sizes, an outer radix-2 or radix-4
 * stage runs on the row in global memory (L2) and the inner 16K sub-blocks go through shared
 * memory one after another.
 *
 * Two rows of one channel (batch b and b + 1) ride in one complex row, v_b + i v_(b+1): k is real,
 * so the real and imaginary parts of the inverse are the two rows' convolutions (cpu.monarch_fft
 * does the same; see docs/ops/fftconv.md). Backward runs one block per channel over its rows in
 * batch order, so dk (accumulated in the frequency domain: Re IDFT(sum G conj(V)) / N) and dD
 * (fp64 per thread, fixed tree) are repeatable.
 *
 * Precision: fp32 storage and fp32 FMA on CUDA cores. Tensor cores are not used in this fp32
 * variant: their fp32 path is TF32 (10-bit mantissa), whose ~1e-3 relative error per DFT stage would
 * exceed the op's fp32 tolerance (err <= 2 err_naive + 64 eps max|ref|) by orders of magnitude.
 * The small DFT matrices are built from a twiddle table computed in fp64 on the host.
 *
 * UNVERIFIED ON HARDWARE: compiled with nvcc, never run on a GPU (the checks skip it without one).
 * The device code (cuda_flashconv.cuh) is checked on the host by tests/test_flashconv_emu.cc.
 *
 *   seqmix check --op fftconv --variant cuda.flashconv        (needs a GPU; skipped otherwise)
 *   seqmix bench --op fftconv --variant cuda.flashconv --suite paper
 */
#include <cuda_runtime.h>
#include <math.h>
#include <stdlib.h>

extern "C" {
#include "reference/fftconv.h"
}
#include "cuda_check.h"
#include "cuda_flashconv.cuh"

namespace {


struct flash_state {
  int64_t B, H, L, pairs, n_groups;
  int gelu, gates;
  geometry geo;
  int fwd_grid, bwd_grid;
  size_t smem_bytes;
  float2 *tw;     /* N: W_N^m = exp(-2 pi i m / N) */
  float2 *kf;     /* H x N: DFT(k) / N, digit-reversed */
  float2 *work;   /* per block, RO > 1 only: one row in global memory */
  float2 *zv;     /* bwd_grid x G x N: the rows' spectra */
  float2 *acc;    /* bwd_grid x N: the channel's dk spectrum */
  float2 *gbuf;   /* bwd_grid x G x N: the output gradient g of the rows, fp32, time order */
  size_t ws_bytes;
};

geometry make_geometry(int64_t L) {
  geometry g{};
  int64_t N = MIN_N;
  while (N < 2 * L - 1) N *= 2;
  g.N = (int)N;
  g.NI = (int)(N < INNER_MAX ? N : INNER_MAX);
  g.RO = (int)(N / g.NI);
  g.G = N <= SLOTS_ELEMS ? (int)(SLOTS_ELEMS / N) : 1;
  int m = 0;
  while ((1 << m) < g.NI) m++;
  g.n_stages = 0;
  while (m >= 4) {
    g.radix[g.n_stages++] = 16;
    m -= 4;
  }
  if (m > 0) g.radix[g.n_stages++] = 1 << m;
  return g;
}

const char *unsupported(const smx_config *c) {
  if (c->v[FFTCONV_L] > MAX_L) return "cuda.flashconv: FFT sizes up to 64K (L <= 32768)";
  return NULL;
}

void destroy(void *p) {
  flash_state *s = (flash_state *)p;
  if (!s) return;
  cudaFree(s->tw);
  cudaFree(s->kf);
  cudaFree(s->work);
  cudaFree(s->zv);
  cudaFree(s->acc);
  cudaFree(s->gbuf);
  free(s);
}

template <typename T>
smx_status setup(flash_state *s) {
  const geometry &g = s->geo;
  int dev = 0, sms = 0, optin = 0;
  SMX_CUDA_CHECK(cudaGetDevice(&dev));
  SMX_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  SMX_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  s->smem_bytes = (size_t)(g.RO == 1 ? g.G * g.N : g.NI) * sizeof(float2);
  /* static shared memory: row tables and the dD reduction */
  size_t static_bytes = 3 * (SLOTS_ELEMS / MIN_N) * sizeof(int64_t) + THREADS * sizeof(double);
  if (s->smem_bytes + static_bytes > (size_t)optin)
    return smx_fail(SMX_ERR_UNSUPPORTED, "cuda.flashconv: needs %zu bytes of shared memory per block, the device allows %d",
                    s->smem_bytes + static_bytes, optin);
  SMX_CUDA_CHECK(cudaFuncSetAttribute(kernel_spectrum<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)s->smem_bytes));
  SMX_CUDA_CHECK(cudaFuncSetAttribute(forward_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)s->smem_bytes));
  SMX_CUDA_CHECK(cudaFuncSetAttribute(backward_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)s->smem_bytes));
  int64_t total = s->H * s->pairs;
  s->n_groups = (total + g.G - 1) / g.G;
  int64_t cap = (int64_t)sms * 4;
  s->fwd_grid = (int)(s->n_groups < cap ? s->n_groups : cap);
  s->bwd_grid = (int)(s->H < cap ? s->H : cap);
  /* the twiddle table in fp64, rounded once */
  float2 *host = (float2 *)malloc((size_t)g.N * sizeof(float2));
  if (!host) return smx_fail(SMX_ERR_NOMEM, "cuda.flashconv: cannot allocate the twiddle table");
  for (int m = 0; m < g.N; m++) {
    double ang = -6.283185307179586476925 * (double)m / (double)g.N;
    host[m] = make_float2((float)cos(ang), (float)sin(ang));
  }
  cudaError_t e = cudaMalloc(&s->tw, (size_t)g.N * sizeof(float2));
  if (e == cudaSuccess) e = cudaMemcpy(s->tw, host, (size_t)g.N * sizeof(float2), cudaMemcpyHostToDevice);
  free(host);
  SMX_CUDA_CHECK(e);
  size_t kf_b = (size_t)s->H * g.N * sizeof(float2);
  int grid_most = s->fwd_grid > s->bwd_grid ? s->fwd_grid : s->bwd_grid;
  size_t work_b = g.RO > 1 ? (size_t)grid_most * g.N * sizeof(float2) : 0;
  size_t zv_b = (size_t)s->bwd_grid * g.G * g.N * sizeof(float2), acc_b = (size_t)s->bwd_grid * g.N * sizeof(float2);
  SMX_CUDA_CHECK(cudaMalloc(&s->kf, kf_b));
  if (work_b) SMX_CUDA_CHECK(cudaMalloc(&s->work, work_b));
  SMX_CUDA_CHECK(cudaMalloc(&s->zv, zv_b));
  SMX_CUDA_CHECK(cudaMalloc(&s->acc, acc_b));
  SMX_CUDA_CHECK(cudaMalloc(&s->gbuf, zv_b));
  s->ws_bytes = (size_t)g.N * sizeof(float2) + kf_b + work_b + 2 * zv_b + acc_b;
  return SMX_OK;
}

template <typename T>
smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  const char *why = unsupported(c);
  if (why) return smx_fail(SMX_ERR_UNSUPPORTED, "%s", why);
  flash_state *s = (flash_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.flashconv: cannot allocate state");
  s->B = c->v[FFTCONV_B];
  s->H = c->v[FFTCONV_H];
  s->L = c->v[FFTCONV_L];
  s->gelu = (int)c->v[FFTCONV_GELU];
  s->gates = (int)c->v[FFTCONV_GATES];
  s->pairs = (s->B + 1) / 2;
  s->geo = make_geometry(s->L);
  smx_status st = setup<T>(s);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) { return ((const flash_state *)p)->ws_bytes; }

template <typename T>
smx_status spectrum(flash_state *s, const T *k) {
  int64_t groups = (s->H + s->geo.G - 1) / s->geo.G;
  int grid = (int)(groups < s->fwd_grid ? groups : s->fwd_grid);
  kernel_spectrum<<<grid, THREADS, s->smem_bytes>>>(s->geo, k, s->H, s->L, s->tw, s->kf);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

template <typename T>
smx_status run(void *p, smx_pass pass, void *const *tv) {
  flash_state *s = (flash_state *)p;
  T *const *t = (T *const *)tv;
  const T *pre = s->gates ? t[FFTCONV_PRE] : NULL, *post = s->gates ? t[FFTCONV_POST] : NULL;
  smx_status st = spectrum<T>(s, t[FFTCONV_K]);
  if (st != SMX_OK) return st;
  if (pass == SMX_FWD) {
    forward_kernel<T><<<s->fwd_grid, THREADS, s->smem_bytes>>>(s->geo, s->B, s->H, s->L, s->pairs, s->gelu, t[FFTCONV_U],
                                                             t[FFTCONV_D], pre, post, s->tw, s->kf, s->work,
                                                             t[FFTCONV_Y]);
    SMX_CUDA_CHECK_LAUNCH();
    return SMX_OK;
  }
  backward_kernel<T><<<s->bwd_grid, THREADS, s->smem_bytes>>>(
      s->geo, s->B, s->H, s->L, s->pairs, s->gelu, t[FFTCONV_U], t[FFTCONV_D], pre, post, t[FFTCONV_DY], s->tw, s->kf,
      s->work, s->zv, s->gbuf, s->acc, t[FFTCONV_DU], t[FFTCONV_DK], t[FFTCONV_DD], s->gates ? t[FFTCONV_DPRE] : NULL,
      s->gates ? t[FFTCONV_DPOST] : NULL);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_fftconv_cuda_flashconv = {
    "cuda.flashconv",
    "fused block FFT conv: DFT as Monarch products of small DFT matrices + twiddles in shared memory (fp32, "
    "N = 256..64K), gates fused; unverified on hardware",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    unsupported,
    create<float>,
    destroy,
    workspace_bytes,
    run<float>,
    SMX_F32,
};

/* bf16 storage of every tensor (the harness rounds inputs, checks against the naive reference in
 * bf16 storage); the same fp32 arithmetic, so half the memory traffic of the fp32 variant. */
extern "C" const smx_variant smx_fftconv_cuda_flashconv_bf16 = {
    "cuda.flashconv.bf16",
    "cuda.flashconv with bf16 storage (fp32 DFT arithmetic on CUDA cores); unverified on hardware",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    unsupported,
    create<__nv_bfloat16>,
    destroy,
    workspace_bytes,
    run<__nv_bfloat16>,
    SMX_BF16,
};
