/* fftconv variant `cpu.monarch_fft`: the FFT convolution with the DFT computed as a Monarch
 * (order-2, four-step Cooley-Tukey) product of small dense DFT matrices, the way FlashFFTConv
 * evaluates it on tensor cores, here as OpenBLAS complex GEMMs (cblas_cgemm).
 *
 * N = N1 * N2 >= 2L - 1 (N1 = ceil(sqrt(2L - 1)), N2 = ceil((2L - 1) / N1): dense DFT matrices need
 * no smooth sizes, so N overshoots 2L - 1 by less than N1). With time index n = N2 n1 + n2 and
 * frequency index f = k1 + N1 k2,
 *   X[k1 + N1 k2] = sum_n2 W_N2^(n2 k2) W_N^(n2 k1) sum_n1 W_N1^(n1 k1) x[N2 n1 + n2]
 * so a batch of P rows stored as an N1 x P x N2 array [n1][p][n2] is transformed by
 *   1. one GEMM  F_N1 (N1 x N1) . X (N1 x P N2)          (DFTs of size N1 over the columns)
 *   2. the twiddles W_N^(k1 n2), pointwise
 *   3. one GEMM  X (N1 P x N2) . F_N2 (N2 x N2)          (DFTs of size N2 over the rows)
 * leaving the spectrum in the layout [k1][p][k2] (FlashFFTConv's permuted order, never undone: the
 * kernel's spectrum is kept in the same order and the inverse runs the three steps backwards with
 * conjugated matrices, returning to [n1][p][n2]). The batch index sits in the middle so both GEMMs
 * are single calls over the whole batch with unit-stride operands.
 *
 * Real inputs: two rows of the same channel (batch b and b + 1) ride in one complex row, v_b + i
 * v_(b+1). The kernel k is real, so conv(v_b + i v_(b+1), k) = conv(v_b, k) + i conv(v_(b+1), k):
 * the real and imaginary parts of the inverse transform are the two rows' outputs, with no
 * unpacking. The backward's dk needs sum_b corr(g_b, v_b) = Re IFFT(G conj(V)) over the packed
 * spectra (the cross terms land in the imaginary part), so it needs no unpacking either. An odd B
 * leaves the last row of each channel alone in its complex row (imaginary part zero). The kernels
 * themselves are transformed as complex rows with zero imaginary part (H rows, against B*H/2 data
 * rows).
 *
 * Work is split into groups of whole channels (the group size depends on the shape only) so each
 * channel's dk sum runs in one fixed order; OpenMP runs the groups, BLAS runs single-threaded
 * inside them. Results are bitwise repeatable at a fixed thread count.
 *
 *   seqmix check --op fftconv --variant cpu.monarch_fft
 *   seqmix bench --op fftconv --variant cpu.monarch_fft --suite quick
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_blas_single.h"
#include "fftw_plans.h"
#include "reference/fftconv.h"
#include "reference/gelu.h"

/* Order-2 Monarch costs 8 N (N1 + N2) flops per complex row, O(N^1.5): past this length the GEMMs
 * would take seconds per row where an FFT takes milliseconds. */
#define MONARCH_MAX_L 65536
/* Complex elements per batch buffer (256 KiB): the batch of rows one GEMM transforms. */
#define MONARCH_BATCH_ELEMS 32768

typedef struct monarch_state {
  int64_t B, H, L, N1, N2, N;
  int gelu, gates, threads;
  int64_t pairs;      /* ceil(B / 2) complex rows per channel */
  int64_t group;      /* channels per work group */
  int64_t pmax;       /* complex rows per batch */
  float *F1, *F1c;    /* N1 x N1 DFT matrix and its conjugate, interleaved complex */
  float *F2, *F2c;    /* N2 x N2 */
  float *tw, *twc;    /* N1 x N2 twiddles W_N^(k1 n2) and conjugates */
  float *kf;          /* H x N: FFT(k) / N in the [k1][k2] layout */
  float *work;        /* threads x (X, Y, Zv, acc) */
  size_t buf_elems;   /* complex elements per buffer: max(pmax, group) * N */
  double *dD_acc;     /* threads x group */
  size_t ws_bytes;
} monarch_state;

enum { W_X, W_Y, W_ZV, W_ACC, W_COUNT };

static const char *unsupported(const smx_config *c) {
  if (c->v[FFTCONV_L] > MONARCH_MAX_L)
    return "order-2 Monarch DFT costs O(N^1.5) per row: L > 65536 is left to the FFT variants";
  return NULL;
}

static void destroy(void *p) {
  monarch_state *s = p;
  if (!s) return;
  smx_fftw_free(s->F1);
  smx_fftw_free(s->F1c);
  smx_fftw_free(s->F2);
  smx_fftw_free(s->F2c);
  smx_fftw_free(s->tw);
  smx_fftw_free(s->twc);
  smx_fftw_free(s->kf);
  smx_fftw_free(s->work);
  free(s->dD_acc);
  free(s);
}

/* e^(-2 pi i (a mod m) / m) in double, rounded once: reducing the exponent first keeps the angle
 * exact for large products a. */
static void root(int64_t a, int64_t m, float *out, int conj) {
  double ang = -6.283185307179586476925 * (double)(a % m) / (double)m;
  out[0] = (float)cos(ang);
  out[1] = (float)(conj ? -sin(ang) : sin(ang));
}

static void dft_matrix(int64_t n, float *F, float *Fc) {
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) {
      root(i * j, n, F + 2 * (i * n + j), 0);
      root(i * j, n, Fc + 2 * (i * n + j), 1);
    }
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  const char *why = unsupported(c);
  if (why) return smx_fail(SMX_ERR_UNSUPPORTED, "cpu.monarch_fft: %s", why);
  monarch_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.monarch_fft: cannot allocate state");
  s->B = c->v[FFTCONV_B];
  s->H = c->v[FFTCONV_H];
  s->L = c->v[FFTCONV_L];
  s->gelu = (int)c->v[FFTCONV_GELU];
  s->gates = (int)c->v[FFTCONV_GATES];
  int64_t need = 2 * s->L - 1;
  s->N1 = (int64_t)ceil(sqrt((double)need));
  while (s->N1 * s->N1 < need) s->N1++;
  while ((s->N1 - 1) * (s->N1 - 1) >= need) s->N1--;
  s->N2 = (need + s->N1 - 1) / s->N1;
  s->N = s->N1 * s->N2;
  s->pairs = (s->B + 1) / 2;
  s->threads = omp_get_max_threads();
  s->pmax = MONARCH_BATCH_ELEMS / s->N;
  if (s->pmax < 1) s->pmax = 1;
  s->group = s->pairs >= s->pmax ? 1 : s->pmax / s->pairs;
  if (s->group > s->H) s->group = s->H;
  int64_t rows = s->pmax > s->group ? s->pmax : s->group;
  s->buf_elems = (size_t)rows * (size_t)s->N;
  size_t f1 = (size_t)(s->N1 * s->N1) * 2 * sizeof(float), f2 = (size_t)(s->N2 * s->N2) * 2 * sizeof(float);
  size_t twb = (size_t)s->N * 2 * sizeof(float), kfb = (size_t)s->H * (size_t)s->N * 2 * sizeof(float);
  size_t wb = (size_t)s->threads * W_COUNT * s->buf_elems * 2 * sizeof(float);
  s->F1 = smx_fftw_alloc(f1);
  s->F1c = smx_fftw_alloc(f1);
  s->F2 = smx_fftw_alloc(f2);
  s->F2c = smx_fftw_alloc(f2);
  s->tw = smx_fftw_alloc(twb);
  s->twc = smx_fftw_alloc(twb);
  s->kf = smx_fftw_alloc(kfb);
  s->work = smx_fftw_alloc(wb);
  s->dD_acc = calloc((size_t)s->threads * (size_t)s->group, sizeof(double));
  if (!s->F1 || !s->F1c || !s->F2 || !s->F2c || !s->tw || !s->twc || !s->kf || !s->work || !s->dD_acc) {
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "cpu.monarch_fft: cannot allocate %zu bytes of workspace",
                    2 * f1 + 2 * f2 + 2 * twb + kfb + wb);
  }
  s->ws_bytes = 2 * f1 + 2 * f2 + 2 * twb + kfb + wb;
  dft_matrix(s->N1, s->F1, s->F1c);
  dft_matrix(s->N2, s->F2, s->F2c);
  for (int64_t k1 = 0; k1 < s->N1; k1++)
    for (int64_t n2 = 0; n2 < s->N2; n2++) {
      root(k1 * n2, s->N, s->tw + 2 * (k1 * s->N2 + n2), 0);
      root(k1 * n2, s->N, s->twc + 2 * (k1 * s->N2 + n2), 1);
    }
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) { return ((const monarch_state *)p)->ws_bytes; }

static float *wbuf(monarch_state *s, int tid, int i) {
  return s->work + ((size_t)tid * W_COUNT + (size_t)i) * s->buf_elems * 2;
}

static void cgemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                  int64_t ldc) {
  static const float one[2] = {1, 0}, zero[2] = {0, 0};
  cblas_cgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, one, A, (int)lda, B, (int)ldb, zero, C,
              (int)ldc);
}

/* Y[k1][p][n2] *= tw[k1][n2] */
static void twiddle(const monarch_state *s, float *Y, int64_t P, const float *tw) {
  for (int64_t k1 = 0; k1 < s->N1; k1++)
    for (int64_t p = 0; p < P; p++) {
      float *y = Y + 2 * ((k1 * P + p) * s->N2);
      const float *w = tw + 2 * (k1 * s->N2);
      for (int64_t n2 = 0; n2 < s->N2; n2++) {
        float a = y[2 * n2], b = y[2 * n2 + 1], c = w[2 * n2], d = w[2 * n2 + 1];
        y[2 * n2] = a * c - b * d;
        y[2 * n2 + 1] = a * d + b * c;
      }
    }
}

/* X [n1][p][n2] -> X [k1][p][k2] (the DFT of each of the P rows); Y is scratch. */
static void dft_forward(const monarch_state *s, float *X, float *Y, int64_t P) {
  cgemm(s->N1, P * s->N2, s->N1, s->F1, s->N1, X, P * s->N2, Y, P * s->N2);
  twiddle(s, Y, P, s->tw);
  cgemm(s->N1 * P, s->N2, s->N2, Y, s->N2, s->F2, s->N2, X, s->N2);
}

/* X [k1][p][k2] -> X [n1][p][n2] (the unnormalized inverse DFT); Y is scratch. */
static void dft_inverse(const monarch_state *s, float *X, float *Y, int64_t P) {
  cgemm(s->N1 * P, s->N2, s->N2, X, s->N2, s->F2c, s->N2, Y, s->N2);
  twiddle(s, Y, P, s->twc);
  cgemm(s->N1, P * s->N2, s->N1, s->F1c, s->N1, Y, P * s->N2, X, P * s->N2);
}

/* Offset (in complex elements) of time index n (or spectrum position n1*N2 + n2 of the [k1][k2]
 * layout) of batch row p in an N1 x P x N2 buffer. */
static inline size_t at(const monarch_state *s, int64_t P, int64_t p, int64_t n) {
  int64_t n1 = n / s->N2, n2 = n % s->N2;
  return (size_t)((n1 * P + p) * s->N2 + n2);
}

/* FFT(k_h) / N for every channel, batches of pmax channels as complex rows with zero imaginary part. */
static void transform_kernels(monarch_state *s, const float *k) {
  int64_t nb = (s->H + s->pmax - 1) / s->pmax;
  const float inv_n = 1.0f / (float)s->N;
#pragma omp parallel for schedule(static)
  for (int64_t bi = 0; bi < nb; bi++) {
    int tid = omp_get_thread_num();
    float *X = wbuf(s, tid, W_X), *Y = wbuf(s, tid, W_Y);
    int64_t h0 = bi * s->pmax, P = s->H - h0 < s->pmax ? s->H - h0 : s->pmax;
    memset(X, 0, (size_t)(P * s->N) * 2 * sizeof(float));
    for (int64_t p = 0; p < P; p++)
      for (int64_t t = 0; t < s->L; t++) X[2 * at(s, P, p, t)] = k[(h0 + p) * s->L + t];
    dft_forward(s, X, Y, P);
    for (int64_t p = 0; p < P; p++) {
      float *kf = s->kf + 2 * (size_t)((h0 + p) * s->N);
      for (int64_t f = 0; f < s->N; f++) {
        size_t i = at(s, P, p, f);
        kf[2 * f] = X[2 * i] * inv_n;
        kf[2 * f + 1] = X[2 * i + 1] * inv_n;
      }
    }
  }
}

/* The rows of complex row q (0 <= q < pairs) of channel h: batch 2q and 2q + 1 (-1 if past B). */
static inline int64_t row_of(const monarch_state *s, int64_t h, int64_t q, int half) {
  int64_t b = 2 * q + half;
  return b < s->B ? b * s->H + h : -1;
}

/* v = pre * u (or u) of row r at t */
static inline float vin(const monarch_state *s, const float *u, const float *pre, int64_t r, int64_t t) {
  size_t i = (size_t)(r * s->L + t);
  return s->gates ? pre[i] * u[i] : u[i];
}

/* Loads the packed rows of the P complex rows starting at index q0 of the group's list (channel
 * h0 + q / pairs, row q % pairs) into X from src (v = pre * u when pre is not NULL). */
static void load(const monarch_state *s, float *X, int64_t P, int64_t h0, int64_t q0, const float *src,
                 const float *pre) {
  memset(X, 0, (size_t)(P * s->N) * 2 * sizeof(float));
  for (int64_t p = 0; p < P; p++) {
    int64_t q = q0 + p, h = h0 + q / s->pairs;
    for (int half = 0; half < 2; half++) {
      int64_t r = row_of(s, h, q % s->pairs, half);
      if (r < 0) continue;
      for (int64_t t = 0; t < s->L; t++) {
        size_t i = (size_t)(r * s->L + t);
        X[2 * at(s, P, p, t) + (size_t)half] = pre ? pre[i] * src[i] : src[i];
      }
    }
  }
}

/* X[k1][p][k2] *= K_h[k1][k2] (conj_k: conj(K_h)) for the P complex rows starting at q0 */
static void multiply(const monarch_state *s, float *X, const float *Zsrc, int64_t P, int64_t h0, int64_t q0,
                     int conj_k) {
  float sign = conj_k ? -1.0f : 1.0f;
  for (int64_t k1 = 0; k1 < s->N1; k1++)
    for (int64_t p = 0; p < P; p++) {
      int64_t h = h0 + (q0 + p) / s->pairs;
      const float *kf = s->kf + 2 * (size_t)(h * s->N + k1 * s->N2);
      size_t o = 2 * (size_t)((k1 * P + p) * s->N2);
      for (int64_t k2 = 0; k2 < s->N2; k2++) {
        float a = Zsrc[o + 2 * k2], b = Zsrc[o + 2 * k2 + 1], c = kf[2 * k2], d = sign * kf[2 * k2 + 1];
        X[o + 2 * k2] = a * c - b * d;
        X[o + 2 * k2 + 1] = a * d + b * c;
      }
    }
}

/* The work groups: `group` whole channels each, their complex rows in channel order. */
static int64_t n_groups(const monarch_state *s) { return (s->H + s->group - 1) / s->group; }

static void forward(monarch_state *s, const float *u, const float *k, const float *D, const float *pre,
                    const float *post, float *y) {
  transform_kernels(s, k);
#pragma omp parallel for schedule(static)
  for (int64_t gi = 0; gi < n_groups(s); gi++) {
    int tid = omp_get_thread_num();
    float *X = wbuf(s, tid, W_X), *Y = wbuf(s, tid, W_Y);
    int64_t h0 = gi * s->group, nh = s->H - h0 < s->group ? s->H - h0 : s->group, total = nh * s->pairs;
    for (int64_t q0 = 0; q0 < total; q0 += s->pmax) {
      int64_t P = total - q0 < s->pmax ? total - q0 : s->pmax;
      load(s, X, P, h0, q0, u, s->gates ? pre : NULL);
      dft_forward(s, X, Y, P);
      multiply(s, X, X, P, h0, q0, 0);
      dft_inverse(s, X, Y, P);
      for (int64_t p = 0; p < P; p++) {
        int64_t q = q0 + p, h = h0 + q / s->pairs;
        for (int half = 0; half < 2; half++) {
          int64_t r = row_of(s, h, q % s->pairs, half);
          if (r < 0) continue;
          for (int64_t t = 0; t < s->L; t++) {
            float z = X[2 * at(s, P, p, t) + (size_t)half] + D[h] * vin(s, u, pre, r, t);
            float a = s->gelu ? smx_gelu_f32(z) : z;
            y[r * s->L + t] = s->gates ? post[r * s->L + t] * a : a;
          }
        }
      }
    }
  }
}

/* Per group, per batch of complex rows (v = pre * u):
 *   Zv = DFT(v); z = IDFT(Zv K) + D v when GELU or the post-gate needs it; dpost = dy act(z);
 *   g = dy post GELU'(z) (staged in du's rows); dD += sum g v (fp64, fixed order);
 *   Zg = DFT(g); acc_h += Zg conj(Zv); dv = IDFT(Zg conj(K)) + D g; du = pre dv; dpre = u dv.
 * Then dk_h = Re IDFT(acc_h) / N for the group's channels in one batch. */
static void backward(monarch_state *s, const float *u, const float *k, const float *D, const float *pre,
                     const float *post, const float *dy, float *du, float *dk, float *dD, float *dpre, float *dpost) {
  transform_kernels(s, k);
  const float inv_n = 1.0f / (float)s->N;
#pragma omp parallel for schedule(static)
  for (int64_t gi = 0; gi < n_groups(s); gi++) {
    int tid = omp_get_thread_num();
    float *X = wbuf(s, tid, W_X), *Y = wbuf(s, tid, W_Y), *Zv = wbuf(s, tid, W_ZV), *acc = wbuf(s, tid, W_ACC);
    double *dD_acc = s->dD_acc + (size_t)tid * (size_t)s->group;
    int64_t h0 = gi * s->group, nh = s->H - h0 < s->group ? s->H - h0 : s->group, total = nh * s->pairs;
    memset(acc, 0, (size_t)(s->group * s->N) * 2 * sizeof(float)); /* laid out with stride `group` */
    for (int64_t i = 0; i < nh; i++) dD_acc[i] = 0;
    for (int64_t q0 = 0; q0 < total; q0 += s->pmax) {
      int64_t P = total - q0 < s->pmax ? total - q0 : s->pmax;
      load(s, Zv, P, h0, q0, u, s->gates ? pre : NULL);
      dft_forward(s, Zv, Y, P);
      if (s->gelu || s->gates) {
        multiply(s, X, Zv, P, h0, q0, 0);
        dft_inverse(s, X, Y, P); /* X = N * conv(v, k) in time order */
      }
      /* g (into du's rows), dpost, dD */
      for (int64_t p = 0; p < P; p++) {
        int64_t q = q0 + p, h = h0 + q / s->pairs;
        for (int half = 0; half < 2; half++) {
          int64_t r = row_of(s, h, q % s->pairs, half);
          if (r < 0) continue;
          double dd = 0;
          for (int64_t t = 0; t < s->L; t++) {
            size_t i = (size_t)(r * s->L + t);
            float v = vin(s, u, pre, r, t), g = dy[i];
            if (s->gelu || s->gates) {
              float z = X[2 * at(s, P, p, t) + (size_t)half] + D[h] * v;
              if (s->gates) dpost[i] = dy[i] * (s->gelu ? smx_gelu_f32(z) : z);
              g = dy[i] * (s->gates ? post[i] : 1.0f) * (s->gelu ? smx_gelu_grad_f32(z) : 1.0f);
            }
            du[i] = g;
            dd += (double)g * (double)v;
          }
          dD_acc[h - h0] += dd;
        }
      }
      load(s, X, P, h0, q0, du, NULL);
      dft_forward(s, X, Y, P); /* X = Zg */
      /* acc_h[k1][k2] += Zg conj(Zv), in the group's channel order */
      for (int64_t k1 = 0; k1 < s->N1; k1++)
        for (int64_t p = 0; p < P; p++) {
          int64_t hl = (q0 + p) / s->pairs;
          float *a = acc + 2 * (size_t)((k1 * s->group + hl) * s->N2);
          size_t o = 2 * (size_t)((k1 * P + p) * s->N2);
          for (int64_t k2 = 0; k2 < s->N2; k2++) {
            float gr = X[o + 2 * k2], gim = X[o + 2 * k2 + 1], vr = Zv[o + 2 * k2], vi = Zv[o + 2 * k2 + 1];
            a[2 * k2] += gr * vr + gim * vi;
            a[2 * k2 + 1] += gim * vr - gr * vi;
          }
        }
      multiply(s, X, X, P, h0, q0, 1);
      dft_inverse(s, X, Y, P); /* X = corr(g, k) in time order */
      for (int64_t p = 0; p < P; p++) {
        int64_t q = q0 + p, h = h0 + q / s->pairs;
        for (int half = 0; half < 2; half++) {
          int64_t r = row_of(s, h, q % s->pairs, half);
          if (r < 0) continue;
          for (int64_t t = 0; t < s->L; t++) {
            size_t i = (size_t)(r * s->L + t);
            float dv = X[2 * at(s, P, p, t) + (size_t)half] + D[h] * du[i];
            if (s->gates) {
              dpre[i] = u[i] * dv;
              dv *= pre[i];
            }
            du[i] = dv;
          }
        }
      }
    }
    /* dk: the group's accumulators are already an N1 x group x N2 batch ([k1][h][k2]) */
    if (nh < s->group) { /* a short last group: compact to N1 x nh x N2 */
      for (int64_t k1 = 0; k1 < s->N1; k1++)
        memmove(acc + 2 * (size_t)(k1 * nh * s->N2), acc + 2 * (size_t)(k1 * s->group * s->N2),
                (size_t)(nh * s->N2) * 2 * sizeof(float));
    }
    dft_inverse(s, acc, Y, nh);
    for (int64_t hl = 0; hl < nh; hl++) {
      for (int64_t j = 0; j < s->L; j++) dk[(h0 + hl) * s->L + j] = acc[2 * at(s, nh, hl, j)] * inv_n;
      dD[h0 + hl] = (float)dD_acc[hl];
    }
  }
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  monarch_state *s = p;
  float *const *t = (float *const *)tv;
  /* BLAS single-threaded inside the OpenMP groups (this OpenBLAS is the pthreads build) */
  int saved = smx_blas_single_begin();
  if (pass == SMX_FWD)
    forward(s, t[FFTCONV_U], t[FFTCONV_K], t[FFTCONV_D], t[FFTCONV_PRE], t[FFTCONV_POST], t[FFTCONV_Y]);
  else
    backward(s, t[FFTCONV_U], t[FFTCONV_K], t[FFTCONV_D], t[FFTCONV_PRE], t[FFTCONV_POST], t[FFTCONV_DY], t[FFTCONV_DU],
             t[FFTCONV_DK], t[FFTCONV_DD], t[FFTCONV_DPRE], t[FFTCONV_DPOST]);
  smx_blas_single_end(saved);
  return SMX_OK;
}

const smx_variant smx_fftconv_cpu_monarch_fft = {
    .name = "cpu.monarch_fft",
    .summary = "DFT as an order-2 Monarch product (DFT-matrix GEMMs via OpenBLAS cgemm + twiddles), two rows per complex row",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .unsupported = unsupported,
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
