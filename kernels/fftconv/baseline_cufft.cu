/* fftconv baseline `cufft.roundtrip`: the cuFFT floor for one fftconv forward — a batched R2C and
 * C2R of all B*H rows at the length cuda.cufft uses, nothing else. Benchmarked beside the variants
 * so the ratio to the library's own round trip comes from one run; never checked.
 *
 *   seqmix bench --op fftconv --variant cufft.roundtrip --suite paper
 */
#include <cuda_runtime.h>
#include <cufft.h>
#include <stdlib.h>

extern "C" {
#include "gpu.h"
#include "reference/fftconv.h"
}
#include "cuda_check.h"

namespace {

struct roundtrip_state {
  cufftHandle r2c, c2r;
  int plans;
  float *real, *out;
  cufftComplex *spec;
  size_t ws_bytes;
};

void destroy_state(void *p) {
  roundtrip_state *s = (roundtrip_state *)p;
  if (!s) return;
  if (s->plans & 1) cufftDestroy(s->r2c);
  if (s->plans & 2) cufftDestroy(s->c2r);
  cudaFree(s->real);
  cudaFree(s->out);
  cudaFree(s->spec);
  free(s);
}

smx_status setup(roundtrip_state *s, const smx_config *c) {
  long long rows = (long long)(c->v[FFTCONV_B] * c->v[FFTCONV_H]);
  long long n = (long long)smx_fftconv_fft_size(c->v[FFTCONV_L]), nf = n / 2 + 1;
  size_t w1 = 0, w2 = 0;
  SMX_CUFFT_CHECK(cufftCreate(&s->r2c));
  s->plans |= 1; /* set as soon as the handle exists, so a failed plan is still destroyed */
  SMX_CUFFT_CHECK(cufftMakePlanMany64(s->r2c, 1, &n, NULL, 1, n, NULL, 1, nf, CUFFT_R2C, rows, &w1));
  SMX_CUFFT_CHECK(cufftCreate(&s->c2r));
  s->plans |= 2;
  SMX_CUFFT_CHECK(cufftMakePlanMany64(s->c2r, 1, &n, NULL, 1, nf, NULL, 1, n, CUFFT_C2R, rows, &w2));
  size_t rb = (size_t)rows * n * sizeof(float), cb = (size_t)rows * nf * sizeof(cufftComplex);
  SMX_CUDA_CHECK(cudaMalloc(&s->real, rb));
  SMX_CUDA_CHECK(cudaMalloc(&s->out, rb));
  SMX_CUDA_CHECK(cudaMalloc(&s->spec, cb));
  /* data rows like the op's, not zeros */
  smx_status st = smx_gpu_fill_uniform(s->real, (size_t)rows * n, 1, 0, -1.0f, 1.0f);
  if (st != SMX_OK) return st;
  s->ws_bytes = w1 + w2 + 2 * rb + cb;
  return SMX_OK;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  roundtrip_state *s = (roundtrip_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cufft.roundtrip: cannot allocate state");
  smx_status st = setup(s, c);
  if (st != SMX_OK) {
    destroy_state(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) { return ((const roundtrip_state *)p)->ws_bytes; }

smx_status run(void *p, smx_pass pass, void *const *t) {
  (void)pass;
  (void)t;
  roundtrip_state *s = (roundtrip_state *)p;
  SMX_CUFFT_CHECK(cufftExecR2C(s->r2c, s->real, s->spec));
  SMX_CUFFT_CHECK(cufftExecC2R(s->c2r, s->spec, s->out));
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_fftconv_baseline_cufft = {
    "cufft.roundtrip",
    "baseline: bare cuFFT batched R2C + C2R of all B*H rows at the same N (the library floor)",
    SMX_DEV_CUDA,
    1,
    SMX_PASS_BIT(SMX_FWD),
    NULL,
    create,
    destroy_state,
    workspace_bytes,
    run,
};
