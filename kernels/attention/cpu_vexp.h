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

/* e^x for x already in [-87, 88]: no compares, so loops over it vectorize without -ffast-math */
static inline float smx_vexpf_inrange(float x) {
  const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  float n = (x * 1.44269504088896341f + shifter) - shifter;
  float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
  int32_t e = ((int32_t)n + 127) << 23;
  float s;
  memcpy(&s, &e, sizeof s);
  return p * s;
}

static inline float smx_vexpf(float x) {
  x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
  return smx_vexpf_inrange(x);
}

/* e^x for x <= 0 (a softmax term x = s - max), 0 for x = -inf, branch-free: |x| is held at 87 as
 * an integer min of its bits (order-preserving for magnitudes) and -inf is masked by its bit
 * pattern, both integer selects the vectorizer takes where float compares stop it */
static inline float smx_vexpf_nonpos(float x) {
  int32_t xi, ei;
  memcpy(&xi, &x, sizeof xi);
  int32_t mag = xi & 0x7fffffff, keep = -(int32_t)(xi != (int32_t)0xff800000); /* all ones unless -inf */
  mag = mag < 0x42ae0000 ? mag : 0x42ae0000; /* 87.0f */
  xi = (xi & (int32_t)0x80000000) | mag;     /* the sign kept: a rounding-level positive x stays positive */
  memcpy(&x, &xi, sizeof x);
  float e = smx_vexpf_inrange(x);
  memcpy(&ei, &e, sizeof ei);
  ei &= keep; /* an AND, not a select: GCC 12 vectorizes it, not the ternary */
  memcpy(&e, &ei, sizeof e);
  return e;
}

#endif
