/* A branch-free expf the compiler vectorizes (glibc's expf is a scalar call, and its vector
 * variants need -ffast-math): Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, a degree-6 Taylor
 * polynomial for e^r (relative error < 2^-22 on that range) and 2^n assembled from the exponent
 * bits. Inputs below -87 give e^-87 ~ 1.6e-38, not 0: callers mask excluded entries themselves.
 * The rounding of n uses the 1.5 * 2^23 trick (no rint instruction needed), so the result is the
 * same on every x86-64 vector width. */
#ifndef SEQMIX_KERNELS_ATTENTION_CPU_VEXP_H
#define SEQMIX_KERNELS_ATTENTION_CPU_VEXP_H

#include <stdint.h>
#include <string.h>

static inline float smx_vexpf(float x) {
  x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
  const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  float n = (x * 1.44269504088896341f + shifter) - shifter;
  float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
  int32_t e = ((int32_t)n + 127) << 23;
  float s;
  memcpy(&s, &e, sizeof s);
  return p * s;
}

#endif
