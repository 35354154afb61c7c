/* Vector erff and expf for `omp simd` loops, from glibc's libmvec (x86-64, glibc >= 2.35; at most
 * 4 ulp, as glibc documents for its vector math). glibc's <math.h> declares the SIMD variants
 * only under -ffast-math, which seqmix does not use; declaring them here (the same declarations,
 * nothing else changes in the build) lets GCC call _ZGVbN4v_erff and friends from loops marked
 * SMX_SIMD_MATH, so a row of GELUs costs about 1.2 ns an element instead of a 21 ns scalar erff
 * call each (measured on amd-epyc-2c). Without libmvec the loops stay scalar: same formula, the
 * scalar functions.
 * Include it only in CPU kernels that want it: every erff/expf in the including file may then be
 * vectorized. */
#ifndef SEQMIX_KERNELS_CPU_SIMD_MATH_H
#define SEQMIX_KERNELS_CPU_SIMD_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "smx_config.h"

#if SMX_HAVE_LIBMVEC && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
float erff(float) __attribute__((simd("notinbranch")));
float expf(float) __attribute__((simd("notinbranch")));
#define SMX_SIMD_MATH _Pragma("omp simd")
#define SMX_PARALLEL_SIMD_MATH _Pragma("omp parallel for simd schedule(static)")
#else
#define SMX_SIMD_MATH
#define SMX_PARALLEL_SIMD_MATH _Pragma("omp parallel for schedule(static)")
#endif

/* GELU (erf form, reference/gelu.h's formula) of a row in place */
static inline void smx_gelu_row_f32(float *x, int64_t n) {
  SMX_SIMD_MATH
  for (int64_t t = 0; t < n; t++) x[t] = 0.5f * x[t] * (1.0f + erff(x[t] * 0.70710678f));
}

/* -min(z^2 / 2, 87), the Gaussian's exponent in GELU'(z), held at -87 (e^-87 = 1.6e-38, still a
 * normal float): below it libmvec's expf takes a scalar path for every lane that would underflow
 * (measured: 15 ns an element at |z| up to 64 against 3 ns at |z| <= 1), and the term it changes
 * is below 1e-36. The min is an integer min of the bit patterns (order-preserving for non-negative
 * floats), which the vectorizer takes without -ffast-math where a float compare blocks it. */
static inline float smx_gelu_phi_arg(float z) {
  float w = 0.5f * z * z;
  int32_t wi, lim = 0x42AE0000; /* 87.0f */
  memcpy(&wi, &w, sizeof wi);
  wi = wi < lim ? wi : lim;
  memcpy(&w, &wi, sizeof w);
  return -w;
}

/* The GELU backward of a row from its pre-activation z: g = dy * post * GELU'(z) and dpost =
 * dy * GELU(z) with a post-gate, g = dy * GELU'(z) without one (post and dpost both NULL). g may
 * be z or dy itself: each element is read before its own is written. */
static inline void smx_gelu_row_bwd_f32(const float *z, const float *dy, const float *post, float *dpost, float *g,
                                        int64_t n) {
  if (post) {
    SMX_SIMD_MATH
    for (int64_t t = 0; t < n; t++) {
      float zt = z[t], e = erff(zt * 0.70710678f);
      dpost[t] = dy[t] * (0.5f * zt * (1.0f + e));
      g[t] = dy[t] * post[t] * (0.5f * (1.0f + e) + zt * 0.39894228f * expf(smx_gelu_phi_arg(zt)));
    }
  } else {
    SMX_SIMD_MATH
    for (int64_t t = 0; t < n; t++) {
      float zt = z[t], e = erff(zt * 0.70710678f);
      g[t] = dy[t] * (0.5f * (1.0f + e) + zt * 0.39894228f * expf(smx_gelu_phi_arg(zt)));
    }
  }
}

#endif
