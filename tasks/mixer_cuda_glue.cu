/* The elementwise glue of the mixers on CUDA (tasks/mixer_cuda_<kind>.c), each the loop of the CPU
 * layer it mirrors with one thread per element: token-major <-> channel rows, the split of three
 * channel blocks (m2), ssd's silu and split into x, B, C, A = -exp(A_log), the norm's gain, and
 * h3's shift kernel from its parameters. Sums (a gain's gradient, the shift kernel's correlations)
 * run in the CPU's order, one thread per output: repeatable, no atomics. Built only with CUDA.
 *
 *   build/tests/seqmix_tests --filter model_cuda/'*'      (needs a GPU; skipped otherwise)
 */
#include <cuda_runtime.h>

extern "C" {
#include "tasks/mixer_cuda.h"
}
#include "kernels/moe/cuda_moe_common.cuh"

namespace {

using moe_cuda::grid_for;

#define FOR_N(i, n) for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__device__ __forceinline__ float sigmoid(float a) { return 1.0f / (1.0f + expf(-a)); }

/* (B, L, C) token-major -> (B, C, L) time-major; index by the destination */
__global__ void k_to_time_major(int64_t B, int64_t L, int64_t C, const float *src, float *dst) {
  FOR_N(k, B * C * L) {
    int64_t t = k % L, c = (k / L) % C, b = k / (L * C);
    dst[k] = src[(b * L + t) * C + c];
  }
}

/* (B, C, L) -> (B, L, C); index by the destination */
__global__ void k_to_token_major(int64_t B, int64_t L, int64_t C, const float *src, float *dst) {
  FOR_N(k, B * L * C) {
    int64_t c = k % C, t = k / C, b = t / L, i = t % L;
    dst[k] = src[(b * C + c) * L + i];
  }
}

__global__ void k_silu_split(int64_t B, int64_t L, int64_t C, int64_t E, int64_t GN, const float *convT, float *xs,
                             float *bm, float *cm) {
  FOR_N(k, B * L * C) {
    int64_t c = k % C, t = k / C, b = t / L, i = t % L;
    float a = convT[(b * C + c) * L + i], v = a * sigmoid(a);
    if (c < E) xs[t * E + c] = v;
    else if (c < E + GN) bm[t * GN + c - E] = v;
    else cm[t * GN + c - E - GN] = v;
  }
}

__global__ void k_silu_join_bwd(int64_t B, int64_t L, int64_t C, int64_t E, int64_t GN, const float *dxs,
                                const float *dbm, const float *dcm, const float *convT, float *dconvT) {
  FOR_N(k, B * C * L) {
    int64_t i = k % L, c = (k / L) % C, b = k / (L * C), t = b * L + i;
    float gv = c < E ? dxs[t * E + c] : c < E + GN ? dbm[t * GN + c - E] : dcm[t * GN + c - E - GN];
    float a = convT[k], sg = sigmoid(a);
    dconvT[k] = gv * sg * (1.0f + a * (1.0f - sg));
  }
}

__global__ void k_neg_exp(int64_t n, const float *x, float *y) {
  FOR_N(i, n) y[i] = -expf(x[i]);
}

__global__ void k_mul(int64_t n, const float *a, const float *b, float *y) {
  FOR_N(i, n) y[i] = a[i] * b[i];
}

__global__ void k_scale_cols(int64_t T, int64_t E, const float *x, const float *w, float *y) {
  FOR_N(i, T * E) y[i] = x[i] * w[i % E];
}

__global__ void k_col_dot(int64_t T, int64_t E, const float *a, const float *b, float *out) {
  FOR_N(e, E) {
    float acc = 0.0f;
    for (int64_t t = 0; t < T; t++) acc += a[t * E + e] * b[t * E + e];
    out[e] = acc;
  }
}

__global__ void k_fill(int64_t n, float v, float *y) {
  FOR_N(i, n) y[i] = v;
}

/* x (B, 3, n) <-> a, b, c (B, n) */
__global__ void k_split3(int64_t B, int64_t n, const float *x, float *a, float *b, float *c) {
  FOR_N(i, B * n) {
    const float *xi = x + 3 * (i / n) * n + i % n;
    a[i] = xi[0], b[i] = xi[n], c[i] = xi[2 * n];
  }
}

__global__ void k_merge3(int64_t B, int64_t n, const float *a, const float *b, const float *c, float *x) {
  FOR_N(i, B * n) {
    float *xi = x + 3 * (i / n) * n + i % n;
    xi[0] = a[i], xi[n] = b[i], xi[2 * n] = c[i];
  }
}

/* h3: one thread per channel, tasks/mixer_h3.c's shift_kernel and shift_kernel_bwd */
__global__ void k_h3_shift(int64_t d, int64_t S, int64_t L, int shortconv, const float *sb, const float *sc,
                           const float *dk_skip, float *ksh, float *w) {
  FOR_N(c, d) {
    const float *Bc = sb + c * S, *Cc = sc + c * S;
    float *k = ksh + c * S;
    for (int64_t m = 0; m < S; m++) {
      double acc = 0;
      for (int64_t i = 0; i + m < S; i++) acc += (double)Bc[i] * Cc[i + m];
      k[m] = (float)acc;
    }
    if (shortconv) {
      for (int64_t m = 0; m < S; m++) w[c * S + S - 1 - m] = k[m];
      w[c * S + S - 1] += dk_skip[c];
    } else {
      for (int64_t m = 0; m < L; m++) w[c * L + m] = m < S ? k[m] : 0.0f;
    }
  }
}

__global__ void k_h3_shift_bwd(int64_t d, int64_t S, int64_t L, int shortconv, const float *dw, const float *sb,
                               const float *sc, float *dksh, float *gsb, float *gsc, float *gdk) {
  FOR_N(c, d) {
    float *dk = dksh + c * S;
    if (shortconv) {
      for (int64_t m = 0; m < S; m++) dk[m] = dw[c * S + S - 1 - m];
      gdk[c] = dw[c * S + S - 1];
    } else {
      for (int64_t m = 0; m < S; m++) dk[m] = m < L ? dw[c * L + m] : 0.0f;
    }
    const float *Bc = sb + c * S, *Cc = sc + c * S;
    for (int64_t j = 0; j < S; j++) {
      double db = 0, dc = 0;
      for (int64_t m = 0; j + m < S; m++) db += (double)dk[m] * Cc[j + m];
      for (int64_t m = 0; m <= j; m++) dc += (double)dk[m] * Bc[j - m];
      gsb[c * S + j] = (float)db;
      gsc[c * S + j] = (float)dc;
    }
  }
}

} // namespace

#define LAUNCH(n, kernel, ...)                                                                                         \
  do {                                                                                                                 \
    if ((n) > 0) {                                                                                                     \
      kernel<<<grid_for(n), 256>>>(__VA_ARGS__);                                                                       \
      SMX_CUDA_CHECK_LAUNCH();                                                                                         \
    }                                                                                                                  \
    return SMX_OK;                                                                                                     \
  } while (0)

extern "C" smx_status mixer_cuda_to_channels(int64_t B, int64_t L, int64_t C, const float *src, float *dst) {
  LAUNCH(B * L * C, k_to_time_major, B, L, C, src, dst);
}
extern "C" smx_status mixer_cuda_to_tokens(int64_t B, int64_t L, int64_t C, const float *src, float *dst) {
  LAUNCH(B * L * C, k_to_token_major, B, L, C, src, dst);
}
extern "C" smx_status ssd_cuda_silu_split(int64_t B, int64_t L, int64_t C, int64_t E, int64_t GN, const float *convT,
                                          float *xs, float *bm, float *cm) {
  LAUNCH(B * L * C, k_silu_split, B, L, C, E, GN, convT, xs, bm, cm);
}
extern "C" smx_status ssd_cuda_silu_join_bwd(int64_t B, int64_t L, int64_t C, int64_t E, int64_t GN, const float *dxs,
                                             const float *dbm, const float *dcm, const float *convT, float *dconvT) {
  LAUNCH(B * L * C, k_silu_join_bwd, B, L, C, E, GN, dxs, dbm, dcm, convT, dconvT);
}
extern "C" smx_status ssd_cuda_neg_exp(int64_t n, const float *x, float *y) { LAUNCH(n, k_neg_exp, n, x, y); }
extern "C" smx_status ssd_cuda_mul(int64_t n, const float *a, const float *b, float *y) { LAUNCH(n, k_mul, n, a, b, y); }
extern "C" smx_status ssd_cuda_scale_cols(int64_t T, int64_t E, const float *x, const float *w, float *y) {
  LAUNCH(T * E, k_scale_cols, T, E, x, w, y);
}
extern "C" smx_status ssd_cuda_col_dot(int64_t T, int64_t E, const float *a, const float *b, float *out) {
  LAUNCH(E, k_col_dot, T, E, a, b, out);
}
extern "C" smx_status ssd_cuda_fill(int64_t n, float v, float *y) { LAUNCH(n, k_fill, n, v, y); }
extern "C" smx_status mixer_cuda_split3(int64_t B, int64_t n, const float *x, float *a, float *b, float *c) {
  LAUNCH(B * n, k_split3, B, n, x, a, b, c);
}
extern "C" smx_status mixer_cuda_merge3(int64_t B, int64_t n, const float *a, const float *b, const float *c, float *x) {
  LAUNCH(B * n, k_merge3, B, n, a, b, c, x);
}
extern "C" smx_status h3_cuda_shift_kernel(int64_t d, int64_t S, int64_t L, int shortconv, const float *sb,
                                           const float *sc, const float *dk_skip, float *ksh, float *w) {
  LAUNCH(d, k_h3_shift, d, S, L, shortconv, sb, sc, dk_skip, ksh, w);
}
extern "C" smx_status h3_cuda_shift_kernel_bwd(int64_t d, int64_t S, int64_t L, int shortconv, const float *dw,
                                               const float *sb, const float *sc, float *dksh, float *gsb, float *gsc,
                                               float *gdk) {
  LAUNCH(d, k_h3_shift_bwd, d, S, L, shortconv, dw, sb, sc, dksh, gsb, gsc, gdk);
}
