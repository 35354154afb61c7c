/* What the CPU ssd variants (cpu_scan.c, cpu_chunked.c) share: the per-token deltas, RoPE-rotated
 * copies of B and C (fp64 tables rounded to fp32, as kernels/rope/cpu_table.c does), the inverse
 * rotation of their gradients, and a workspace allocator that counts bytes for workspace_bytes().
 * Header-only (static inline) so each variant stays one translation unit.
 *
 *   seqmix check --op ssd --variant cpu.scan
 *   seqmix check --op ssd --variant cpu.chunked
 */
#ifndef SEQMIX_KERNELS_SSD_CPU_SSD_COMMON_H
#define SEQMIX_KERNELS_SSD_CPU_SSD_COMMON_H

#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "reference/ssd.h"
#include "seqmix/buffer.h"

typedef struct ssd_cpu_base {
  ssd_dims d;
  int threads;           /* omp_get_max_threads() at create(): per-thread scratch is sized by it */
  float *cs, *sn;        /* RoPE cos / sin, L x N/2 (rope = 1) */
  float *Br, *Cr;        /* B' and C', B x L x G x N (rope = 1; otherwise the inputs are read) */
  float *delta, *ddelta; /* B x L x H */
  size_t bytes;          /* everything allocated through ssd_cpu_take */
} ssd_cpu_base;

/* Allocates and counts; a failure leaves *ok = 0 (callers test once after all allocations). */
static inline void *ssd_cpu_take(ssd_cpu_base *s, size_t bytes, int *ok) {
  void *p = smx_host_alloc(bytes ? bytes : 1);
  if (!p) *ok = 0;
  s->bytes += bytes;
  return p;
}

static inline void ssd_cpu_base_free(ssd_cpu_base *s) {
  smx_host_free(s->cs);
  smx_host_free(s->sn);
  smx_host_free(s->Br);
  smx_host_free(s->Cr);
  smx_host_free(s->delta);
  smx_host_free(s->ddelta);
}

/* The buffers every variant needs; returns 0 when memory ran out. */
static inline int ssd_cpu_base_init(ssd_cpu_base *s, const smx_config *c) {
  int ok = 1;
  s->d = smx_ssd_dims(c);
  s->threads = omp_get_max_threads();
  const ssd_dims *d = &s->d;
  size_t rows = (size_t)(d->B * d->L * d->H);
  s->delta = ssd_cpu_take(s, rows * sizeof(float), &ok);
  s->ddelta = ssd_cpu_take(s, rows * sizeof(float), &ok);
  if (d->rope) {
    size_t nt = (size_t)(d->L * (d->N / 2)), nbc = (size_t)(d->B * d->L * d->G * d->N);
    s->cs = ssd_cpu_take(s, nt * sizeof(float), &ok);
    s->sn = ssd_cpu_take(s, nt * sizeof(float), &ok);
    s->Br = ssd_cpu_take(s, nbc * sizeof(float), &ok);
    s->Cr = ssd_cpu_take(s, nbc * sizeof(float), &ok);
    if (ok) smx_ssd_rope_tables_f32(0, d->L, d->N, s->cs, s->sn);
  }
  return ok;
}

/* delta and d delta / d dt (ddelta may be NULL) for every (b, t, h), as the naive fp32 reference
 * forms them: dt + dt_bias in fp32, softplus and sigmoid evaluated in fp64 and rounded. */
static inline void ssd_cpu_deltas(const ssd_dims *d, const float *dt, const float *bias, float *delta, float *ddelta) {
  int64_t n = d->B * d->L * d->H;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float v = dt[i];
    if (d->softplus) {
      v += bias[i % d->H];
      delta[i] = (float)smx_ssd_softplus((double)v);
      if (ddelta) ddelta[i] = (float)(1.0 / (1.0 + exp(-(double)v)));
    } else {
      delta[i] = v;
      if (ddelta) ddelta[i] = 1.0f;
    }
  }
}

/* out = R_t in (sign = +1: B', C' from B, C) or R_t^T in (sign = -1: dB, dC from dB', dC') for every
 * (b, t, g) row of N values; in == out is allowed (each pair is read before it is written). */
static inline void ssd_cpu_rotate(const ssd_dims *d, const float *cs, const float *sn, float sign, const float *in,
                                  float *out) {
  int64_t half = d->N / 2, rows = d->B * d->L * d->G;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    int64_t t = (r / d->G) % d->L;
    const float *co = cs + t * half, *si = sn + t * half, *x = in + r * d->N;
    float *y = out + r * d->N;
    for (int64_t i = 0; i < half; i++) {
      float x1 = x[i], x2 = x[i + half], s = sign * si[i];
      y[i] = x1 * co[i] - x2 * s;
      y[i + half] = x2 * co[i] + x1 * s;
    }
  }
}

/* Per call: the deltas, and B', C' when rope = 1. *Bp and *Cp get what the kernels read. */
static inline void ssd_cpu_prepare(ssd_cpu_base *s, float *const *t, int want_ddelta, const float **Bp,
                                   const float **Cp) {
  const ssd_dims *d = &s->d;
  ssd_cpu_deltas(d, t[SSD_DT], t[SSD_DTBIAS], s->delta, want_ddelta ? s->ddelta : NULL);
  if (d->rope) {
    ssd_cpu_rotate(d, s->cs, s->sn, 1.0f, t[SSD_BM], s->Br);
    ssd_cpu_rotate(d, s->cs, s->sn, 1.0f, t[SSD_CM], s->Cr);
    *Bp = s->Br;
    *Cp = s->Cr;
  } else {
    *Bp = t[SSD_BM];
    *Cp = t[SSD_CM];
  }
}

static inline float ssd_cpu_sigmoid(float v) { return (float)(1.0 / (1.0 + exp(-(double)v))); }

/* dA, dD and ddt_bias from per-(b, h, k) fp64 partials (k < parts), summed over b and k in a fixed
 * order so the result does not depend on the thread count. */
static inline void ssd_cpu_reduce_params(const ssd_dims *d, int64_t parts, const double *pA, const double *pD,
                                         const double *pBias, float *const *t) {
  for (int64_t h = 0; h < d->H; h++) {
    double sa = 0, sd = 0, sb = 0;
    for (int64_t b = 0; b < d->B; b++)
      for (int64_t k = 0; k < parts; k++) {
        int64_t i = (b * d->H + h) * parts + k;
        sa += pA[i];
        sd += pD[i];
        sb += pBias[i];
      }
    t[SSD_DA][h] = (float)sa;
    t[SSD_DD][h] = (float)sd;
    if (d->softplus) t[SSD_DDTBIAS][h] = (float)sb;
  }
}

#endif
