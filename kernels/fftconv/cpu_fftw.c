/* fftconv variant `cpu.fftw`: real FFTs (FFTW, single precision) of rows zero-padded to
 * N >= 2L - 1, a complex product, the inverse FFT, then D*u, GELU and the post-gate fused into the
 * copy-out (the pre-gate is fused into the copy-in).
 * Plans are cached per N; the workspace (per-thread rows and the FFT of k) is allocated once in
 * create(). OpenMP splits rows (forward) and channels (backward, so the dk sum over the batch is
 * accumulated in the frequency domain in a fixed order and results are bitwise repeatable).
 *
 *   seqmix check --op fftconv --variant cpu.fftw
 *   seqmix bench --op fftconv --variant cpu.fftw --suite quick
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "fftw_plans.h"
#include "reference/fftconv.h"
#include "kernels/cpu_simd_math.h"
#include "reference/gelu.h"

typedef struct fftw_state {
  int64_t B, H, L, N, nf;
  int gelu, gates, threads;
  fftwf_plan r2c, c2r;
  fftwf_complex *kf;   /* H x nf: FFT(k), scaled by 1/N */
  float *rows;         /* threads x 3 x pad(N): the padded input row, the inverse-FFT output, v = pre*u */
  fftwf_complex *cbuf; /* threads x 4 x nf: FFT(u), FFT(g), a product, the dk accumulator */
  size_t row_stride, c_stride, ws_bytes;
} fftw_state;

enum { C_UF, C_GF, C_PROD, C_DKACC, C_COUNT };

static void destroy(void *p) {
  fftw_state *s = p;
  if (!s) return;
  smx_fftw_free(s->kf);
  smx_fftw_free(s->rows);
  smx_fftw_free(s->cbuf);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  fftw_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.fftw: cannot allocate state");
  s->B = c->v[FFTCONV_B];
  s->H = c->v[FFTCONV_H];
  s->L = c->v[FFTCONV_L];
  s->gelu = (int)c->v[FFTCONV_GELU];
  s->gates = (int)c->v[FFTCONV_GATES];
  s->N = smx_fftconv_fft_size(s->L);
  s->nf = s->N / 2 + 1;
  s->threads = omp_get_max_threads();
  if (s->N > (int64_t)1 << 30) {
    long long n = (long long)s->N;
    destroy(s);
    return smx_fail(SMX_ERR_UNSUPPORTED, "cpu.fftw: FFT length %lld exceeds FFTW's int sizes", n);
  }
  smx_status st = smx_fftw_plans((int)s->N, &s->r2c, &s->c2r);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  s->row_stride = smx_fftw_pad((size_t)s->N);
  s->c_stride = smx_fftw_pad(2 * (size_t)s->nf) / 2;
  size_t kf_bytes = (size_t)s->H * s->c_stride * sizeof(fftwf_complex);
  size_t rows_bytes = (size_t)s->threads * 3 * s->row_stride * sizeof(float);
  size_t c_bytes = (size_t)s->threads * C_COUNT * s->c_stride * sizeof(fftwf_complex);
  s->kf = smx_fftw_alloc(kf_bytes);
  s->rows = smx_fftw_alloc(rows_bytes);
  s->cbuf = smx_fftw_alloc(c_bytes);
  if (!s->kf || !s->rows || !s->cbuf) {
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "cpu.fftw: cannot allocate %zu bytes of workspace", kf_bytes + rows_bytes + c_bytes);
  }
  s->ws_bytes = kf_bytes + rows_bytes + c_bytes;
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) { return ((const fftw_state *)p)->ws_bytes; }

static float *row_buf(fftw_state *s, int tid, int i) { return s->rows + ((size_t)tid * 3 + i) * s->row_stride; }
static fftwf_complex *c_buf(fftw_state *s, int tid, int i) { return s->cbuf + ((size_t)tid * C_COUNT + i) * s->c_stride; }

/* FFT of one row zero-padded from L to N. */
static void rfft_padded(fftw_state *s, int tid, const float *x, fftwf_complex *out) {
  float *r = row_buf(s, tid, 0);
  memcpy(r, x, (size_t)s->L * sizeof(float));
  memset(r + s->L, 0, (size_t)(s->N - s->L) * sizeof(float));
  fftwf_execute_dft_r2c(s->r2c, r, out);
}

/* prod = a * b (conj_b: a * conj(b)); inverse FFT; returns the real row (length N). */
static float *multiply_inverse(fftw_state *s, int tid, const fftwf_complex *a, const fftwf_complex *b, int conj_b) {
  fftwf_complex *prod = c_buf(s, tid, C_PROD);
  float sign = conj_b ? -1.0f : 1.0f;
  for (int64_t f = 0; f < s->nf; f++) {
    float ar = a[f][0], ai = a[f][1], br = b[f][0], bi = sign * b[f][1];
    prod[f][0] = ar * br - ai * bi;
    prod[f][1] = ar * bi + ai * br;
  }
  float *y = row_buf(s, tid, 1);
  fftwf_execute_dft_c2r(s->c2r, prod, y);
  return y;
}

/* FFT(k[h]) / N for every channel. */
static void transform_kernels(fftw_state *s, const float *k) {
  const float inv_n = 1.0f / (float)s->N;
#pragma omp parallel for schedule(static)
  for (int64_t h = 0; h < s->H; h++) {
    fftwf_complex *kf = s->kf + (size_t)h * s->c_stride;
    rfft_padded(s, omp_get_thread_num(), k + h * s->L, kf);
    for (int64_t f = 0; f < s->nf; f++) {
      kf[f][0] *= inv_n;
      kf[f][1] *= inv_n;
    }
  }
}

/* out = causal_conv(v, k_h) + D v; leaves FFT(v) in cbuf C_UF. */
static void conv_row(fftw_state *s, int tid, const float *v, const fftwf_complex *kf, float d, float *out) {
  fftwf_complex *uf = c_buf(s, tid, C_UF);
  rfft_padded(s, tid, v, uf);
  const float *y = multiply_inverse(s, tid, uf, kf, 0);
  for (int64_t t = 0; t < s->L; t++) out[t] = y[t] + d * v[t];
}

/* The row the convolution sees: u itself, or v = pre * u in a per-thread row. */
static const float *gated_input(fftw_state *s, int tid, const float *u, const float *pre) {
  if (!s->gates) return u;
  float *v = row_buf(s, tid, 2);
  for (int64_t t = 0; t < s->L; t++) v[t] = pre[t] * u[t];
  return v;
}

static void forward(fftw_state *s, const float *u, const float *k, const float *D, const float *pre,
                    const float *post, float *y) {
  transform_kernels(s, k);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < s->B * s->H; r++) {
    int tid = omp_get_thread_num();
    int64_t h = r % s->H;
    float *yr = y + r * s->L;
    const float *v = gated_input(s, tid, u + r * s->L, s->gates ? pre + r * s->L : NULL);
    conv_row(s, tid, v, s->kf + (size_t)h * s->c_stride, D[h], yr);
    if (s->gelu) smx_gelu_row_f32(yr, s->L);
    if (s->gates)
      for (int64_t t = 0; t < s->L; t++) yr[t] *= post[r * s->L + t];
  }
}

/* Per channel h (one thread each, so the batch sums below run in a fixed order), v = pre * u:
 *   z   = conv(v) + D v, a = act(z)       (recomputed when GELU or the post-gate needs it)
 *   g   = dy * post * gelu'(z)            (staged in du's row, overwritten by du at the end)
 *   dpost = dy * a
 *   dv  = IFFT(FFT(g) conj(FFT(k))) + D g (correlation: lags land in [0, L) since N >= 2L-1)
 *   du  = pre * dv,  dpre = u * dv
 *   dk  = IFFT(sum_b FFT(g) conj(FFT(v))) / N
 *   dD  = sum_b sum_t g v                 (fp64 accumulator) */
static void backward(fftw_state *s, const float *u, const float *k, const float *D, const float *pre,
                     const float *post, const float *dy, float *du, float *dk, float *dD, float *dpre, float *dpost) {
  transform_kernels(s, k);
  const float inv_n = 1.0f / (float)s->N;
#pragma omp parallel for schedule(static)
  for (int64_t h = 0; h < s->H; h++) {
    int tid = omp_get_thread_num();
    const fftwf_complex *kf = s->kf + (size_t)h * s->c_stride;
    fftwf_complex *uf = c_buf(s, tid, C_UF), *gf = c_buf(s, tid, C_GF), *acc = c_buf(s, tid, C_DKACC);
    memset(acc, 0, (size_t)s->nf * sizeof(fftwf_complex));
    double dD_acc = 0;
    for (int64_t b = 0; b < s->B; b++) {
      int64_t r = b * s->H + h;
      const float *ur = u + r * s->L, *dyr = dy + r * s->L;
      const float *prer = s->gates ? pre + r * s->L : NULL, *postr = s->gates ? post + r * s->L : NULL;
      const float *v = gated_input(s, tid, ur, prer);
      float *g = du + r * s->L;
      if (s->gelu || s->gates) {
        conv_row(s, tid, v, kf, D[h], g); /* g = z for now; FFT(v) is left in uf */
        if (s->gelu) {
          smx_gelu_row_bwd_f32(g, dyr, postr, s->gates ? dpost + r * s->L : NULL, g, s->L);
        } else {
          for (int64_t t = 0; t < s->L; t++) {
            dpost[r * s->L + t] = dyr[t] * g[t]; /* dy * z */
            g[t] = dyr[t] * postr[t];
          }
        }
      } else {
        rfft_padded(s, tid, v, uf);
        memcpy(g, dyr, (size_t)s->L * sizeof(float));
      }
      for (int64_t t = 0; t < s->L; t++) dD_acc += (double)g[t] * (double)v[t];
      rfft_padded(s, tid, g, gf);
      for (int64_t f = 0; f < s->nf; f++) {
        float gr = gf[f][0], gi = gf[f][1], ur_ = uf[f][0], ui = uf[f][1];
        acc[f][0] += gr * ur_ + gi * ui;
        acc[f][1] += gi * ur_ - gr * ui;
      }
      const float *corr = multiply_inverse(s, tid, gf, kf, 1);
      if (s->gates) {
        float *dpr = dpre + r * s->L;
        for (int64_t t = 0; t < s->L; t++) {
          float dv = corr[t] + D[h] * g[t];
          dpr[t] = ur[t] * dv;
          g[t] = prer[t] * dv;
        }
      } else {
        for (int64_t t = 0; t < s->L; t++) g[t] = corr[t] + D[h] * g[t];
      }
    }
    float *y = row_buf(s, tid, 1);
    fftwf_execute_dft_c2r(s->c2r, acc, y);
    for (int64_t j = 0; j < s->L; j++) dk[h * s->L + j] = y[j] * inv_n;
    dD[h] = (float)dD_acc;
  }
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  fftw_state *s = p;
  float *const *t = (float *const *)tv;
  if (pass == SMX_FWD)
    forward(s, t[FFTCONV_U], t[FFTCONV_K], t[FFTCONV_D], t[FFTCONV_PRE], t[FFTCONV_POST], t[FFTCONV_Y]);
  else
    backward(s, t[FFTCONV_U], t[FFTCONV_K], t[FFTCONV_D], t[FFTCONV_PRE], t[FFTCONV_POST], t[FFTCONV_DY], t[FFTCONV_DU],
             t[FFTCONV_DK], t[FFTCONV_DD], t[FFTCONV_DPRE], t[FFTCONV_DPOST]);
  return SMX_OK;
}

const smx_variant smx_fftconv_cpu_fftw = {
    .name = "cpu.fftw",
    .summary = "FFTW real FFTs at N >= 2L-1 (2,3,5,7-smooth), cached plans, fused gates, OpenMP over rows/channels",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
