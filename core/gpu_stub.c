/* The CUDA backend for builds without CUDA (meson -Dcuda=disabled or no nvcc): every call says
 * so. Keeps the C API identical, so nothing above core/ needs an #ifdef. */
#include "gpu.h"

#include <stdio.h>

static smx_status not_built(void) {
  return smx_fail(SMX_ERR_NO_DEVICE, "this seqmix was built without CUDA (meson -Dcuda=disabled or no nvcc)");
}

int smx_gpu_emulated(void) { return 0; }

int smx_gpu_probe(char *why, size_t n) {
  snprintf(why, n, "built without CUDA (meson -Dcuda=disabled or no nvcc at configure time)");
  return 0;
}
smx_status smx_gpu_malloc(void **p, size_t bytes) { *p = NULL; (void)bytes; return not_built(); }
void smx_gpu_free(void *p) { (void)p; }
smx_status smx_gpu_memcpy_h2d(void *d, const void *s, size_t b) { (void)d; (void)s; (void)b; return not_built(); }
smx_status smx_gpu_memcpy_d2h(void *d, const void *s, size_t b) { (void)d; (void)s; (void)b; return not_built(); }
smx_status smx_gpu_memset(void *d, int v, size_t b) { (void)d; (void)v; (void)b; return not_built(); }
smx_status smx_gpu_sync(void) { return not_built(); }
smx_status smx_gpu_info_query(int dev, smx_gpu_info *out) { (void)dev; (void)out; return not_built(); }
smx_status smx_gpu_mem_info(size_t *f, size_t *t) { *f = *t = 0; return not_built(); }
smx_status smx_gpu_fill_uniform(float *d, size_t n, uint64_t seed, uint32_t stream, float lo, float hi) {
  (void)d; (void)n; (void)seed; (void)stream; (void)lo; (void)hi;
  return not_built();
}
smx_status smx_gpu_fill_uniform_bf16(void *d, size_t n, uint64_t seed, uint32_t stream, float lo, float hi) {
  (void)d; (void)n; (void)seed; (void)stream; (void)lo; (void)hi;
  return not_built();
}
smx_status smx_gpu_timer_create(smx_gpu_timer **t) { *t = NULL; return not_built(); }
smx_status smx_gpu_timer_start(smx_gpu_timer *t) { (void)t; return not_built(); }
smx_status smx_gpu_timer_stop(smx_gpu_timer *t, double *s) { (void)t; *s = 0; return not_built(); }
void smx_gpu_timer_destroy(smx_gpu_timer *t) { (void)t; }
smx_status smx_gpu_measure_peaks(double *f, double *b) { *f = *b = 0; return not_built(); }
