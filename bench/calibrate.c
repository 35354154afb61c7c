/* Peak measurements for the "% of peak" counters: what this machine reaches now, not a datasheet.
 * CPU: OpenBLAS sgemm (n = 2048) and a parallel memcpy of 256 MiB (bytes read + written);
 * GPU: cuBLAS sgemm without TF32 and a device-to-device copy (core/gpu_cuda.cu). Best of a few
 * runs after a warm-up. */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "seqmix/bench.h"
#include "seqmix/buffer.h"
#include "seqmix/timer.h"

static smx_status cpu_copy(double *bytes_per_s) {
  const size_t n = (size_t)256 << 20;
  char *a = smx_host_alloc(n), *b = smx_host_alloc(n);
  if (!a || !b) {
    smx_host_free(a);
    smx_host_free(b);
    return smx_fail(SMX_ERR_NOMEM, "calibration: cannot allocate 512 MiB");
  }
  memset(a, 1, n);
  double best = 1e30;
  for (int r = 0; r < 6; r++) {
    double t0 = smx_now();
#pragma omp parallel
    {
      int nt = omp_get_num_threads(), id = omp_get_thread_num();
      size_t chunk = (n / (size_t)nt + 63) & ~(size_t)63;
      size_t lo = chunk * (size_t)id, hi = lo + chunk > n ? n : lo + chunk;
      if (lo < hi) memcpy(b + lo, a + lo, hi - lo);
    }
    double t = smx_now() - t0;
    if (r > 0 && t < best) best = t;
  }
  *bytes_per_s = 2.0 * (double)n / best;
  smx_host_free(a);
  smx_host_free(b);
  return SMX_OK;
}

static smx_status cpu_sgemm(double *flops) {
  const int n = 2048;
  size_t bytes = (size_t)n * n * sizeof(float);
  float *a = smx_host_alloc(bytes), *b = smx_host_alloc(bytes), *c = smx_host_alloc(bytes);
  if (!a || !b || !c) {
    smx_host_free(a);
    smx_host_free(b);
    smx_host_free(c);
    return smx_fail(SMX_ERR_NOMEM, "calibration: cannot allocate GEMM operands");
  }
  for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = 1.0f / (float)(1 + i % 7);
  double best = 1e30;
  for (int r = 0; r < 4; r++) {
    double t0 = smx_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double t = smx_now() - t0;
    if (r > 0 && t < best) best = t;
  }
  *flops = 2.0 * n * (double)n * n / best;
  smx_host_free(a);
  smx_host_free(b);
  smx_host_free(c);
  return SMX_OK;
}

smx_status smx_calibrate(int with_gpu, smx_peaks *out) {
  memset(out, 0, sizeof *out);
  smx_status s = cpu_copy(&out->cpu_bytes_per_s);
  if (s == SMX_OK) s = cpu_sgemm(&out->cpu_flops);
  if (s == SMX_OK && with_gpu) s = smx_gpu_measure_peaks(&out->gpu_flops, &out->gpu_bytes_per_s);
  return s;
}
