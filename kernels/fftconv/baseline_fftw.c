/* fftconv baseline `fftw.roundtrip`: the FFT library's own floor for one fftconv forward — a
 * real FFT and an inverse real FFT of every one of the B*H rows at the length cpu.fftw uses, with
 * nothing else (no padding copies, no product, no kernel FFT). Benchmarked in the same run as the
 * variants so "time relative to the bare FFTW round trip" is a ratio from one run; never checked,
 * since it does not compute the op.
 *
 *   seqmix bench --op fftconv --variant fftw.roundtrip --suite quick
 */
#include <omp.h>
#include <stdlib.h>

#include "fftw_plans.h"
#include "reference/fftconv.h"
#include "seqmix/philox.h"

typedef struct roundtrip_state {
  int64_t rows, N, nf;
  fftwf_plan r2c, c2r;
  float *real;          /* threads x pad(N): a zero-padded data row per thread (r2c leaves it unchanged) */
  float *out;           /* threads x pad(N) */
  fftwf_complex *cplx;  /* threads x nf */
  size_t row_stride, c_stride, ws_bytes;
} roundtrip_state;

static void destroy(void *p) {
  roundtrip_state *s = p;
  if (!s) return;
  smx_fftw_free(s->real);
  smx_fftw_free(s->out);
  smx_fftw_free(s->cplx);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  roundtrip_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "fftw.roundtrip: cannot allocate state");
  s->rows = c->v[FFTCONV_B] * c->v[FFTCONV_H];
  s->N = smx_fftconv_fft_size(c->v[FFTCONV_L]);
  s->nf = s->N / 2 + 1;
  if (s->N > (int64_t)1 << 30) {
    long long n = (long long)s->N;
    destroy(s);
    return smx_fail(SMX_ERR_UNSUPPORTED, "fftw.roundtrip: FFT length %lld exceeds FFTW's int sizes", n);
  }
  smx_status st = smx_fftw_plans((int)s->N, &s->r2c, &s->c2r);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  int threads = omp_get_max_threads();
  s->row_stride = smx_fftw_pad((size_t)s->N);
  s->c_stride = smx_fftw_pad(2 * (size_t)s->nf) / 2;
  size_t rb = (size_t)threads * s->row_stride * sizeof(float);
  size_t cb = (size_t)threads * s->c_stride * sizeof(fftwf_complex);
  s->real = smx_fftw_alloc(rb);
  s->out = smx_fftw_alloc(rb);
  s->cplx = smx_fftw_alloc(cb);
  if (!s->real || !s->out || !s->cplx) {
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "fftw.roundtrip: cannot allocate workspace");
  }
  s->ws_bytes = 2 * rb + cb;
  /* data rows like the op's (uniform in [-1, 1), zero-padded to N), not zeros */
  for (int t = 0; t < threads; t++)
    for (int64_t i = 0; i < c->v[FFTCONV_L]; i++)
      s->real[(size_t)t * s->row_stride + (size_t)i] = smx_philox_uniform(1, (uint32_t)t, (uint64_t)i, -1.0f, 1.0f);
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) { return ((const roundtrip_state *)p)->ws_bytes; }

static smx_status run(void *p, smx_pass pass, void *const *t) {
  (void)pass;
  (void)t;
  roundtrip_state *s = p;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < s->rows; r++) {
    int tid = omp_get_thread_num();
    fftwf_complex *c = s->cplx + (size_t)tid * s->c_stride;
    fftwf_execute_dft_r2c(s->r2c, s->real + (size_t)tid * s->row_stride, c);
    fftwf_execute_dft_c2r(s->c2r, c, s->out + (size_t)tid * s->row_stride);
  }
  return SMX_OK;
}

const smx_variant smx_fftconv_baseline_fftw = {
    .name = "fftw.roundtrip",
    .summary = "baseline: bare FFTW r2c + c2r of all B*H rows at the same N (the library floor)",
    .device = SMX_DEV_CPU,
    .baseline = 1,
    .passes = SMX_PASS_BIT(SMX_FWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
