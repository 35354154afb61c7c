/* GELU in the erf form (PyTorch's default, H3's F.gelu) and its derivative, for host and device
 * code alike, so the reference, the CPU and the CUDA variants evaluate the same formula.
 *   GELU(x) = x/2 (1 + erf(x / sqrt 2)),  GELU'(x) = (1 + erf(x / sqrt 2))/2 + x phi(x) */
#ifndef SEQMIX_REFERENCE_GELU_H
#define SEQMIX_REFERENCE_GELU_H

#include <math.h>

#if defined(__CUDACC__)
#define SMX_GELU_FN static __host__ __device__ __forceinline__
#else
#define SMX_GELU_FN static inline
#endif

SMX_GELU_FN double smx_gelu_f64(double x) { return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440)); }
SMX_GELU_FN double smx_gelu_grad_f64(double x) {
  return 0.5 * (1.0 + erf(x * 0.70710678118654752440)) + x * 0.39894228040143267794 * exp(-0.5 * x * x);
}
SMX_GELU_FN float smx_gelu_f32(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678f)); }
SMX_GELU_FN float smx_gelu_grad_f32(float x) {
  return 0.5f * (1.0f + erff(x * 0.70710678f)) + x * 0.39894228f * expf(-0.5f * x * x);
}

#endif
