/* Helpers shared by the mixer kinds (tasks/mixer.h): initialization from the seed, buffers. */
#include <math.h>
#include <stdarg.h>

#include "seqmix/buffer.h"
#include "seqmix/philox.h"
#include "tasks/mixer.h"

void mixer_fill_normal(float *x, size_t n, uint64_t seed, uint32_t stream, float std) {
  for (size_t i = 0; i < n; i++) {
    double u1 = ((double)(smx_philox_word(seed, stream, 2 * i) >> 8) + 0.5) * (1.0 / 16777216.0);
    double u2 = (double)(smx_philox_word(seed, stream, 2 * i + 1) >> 8) * (1.0 / 16777216.0);
    x[i] = (float)(std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
  }
}

void mixer_fill_uniform(float *x, size_t n, uint64_t seed, uint32_t stream, float lo, float hi) {
  for (size_t i = 0; i < n; i++) {
    double u = (double)(smx_philox_word(seed, stream, i) >> 8) * (1.0 / 16777216.0);
    x[i] = (float)(lo + (hi - lo) * u);
  }
}

void mixer_add(float *y, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += x[i];
}

smx_status mixer_alloc(const char *what, ...) {
  va_list ap;
  va_start(ap, what);
  float **p;
  smx_status s = SMX_OK;
  while ((p = va_arg(ap, float **))) {
    size_t n = va_arg(ap, size_t);
    if (!(*p = smx_host_alloc((n ? n : 1) * sizeof(float)))) s = smx_fail(SMX_ERR_NOMEM, "%s: cannot allocate %zu floats", what, n);
  }
  va_end(ap);
  return s;
}
