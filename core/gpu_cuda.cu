/* The CUDA backend (core/gpu.h): device probe and info, memory, the Philox fill kernel, cold-L2
 * event timing with a stream-blocking kernel, and peak measurements (cuBLAS sgemm, D2D copy).
 * Built only with CUDA (meson -Dcuda=enabled|auto). */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cufft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "gpu.h"
#include "seqmix/philox.h"
}
#include "cuda_check.h"

extern "C" int smx_gpu_emulated(void) {
#ifdef SMX_CUDA_EMULATION
  return 1;
#else
  return 0;
#endif
}

extern "C" int smx_gpu_probe(char *why, size_t n) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    int driver = 0;
    cudaDriverGetVersion(&driver);
    if (e == cudaErrorInsufficientDriver && driver == 0)
      snprintf(why, n, "no NVIDIA driver on this machine (cudaGetDeviceCount: %s)", cudaGetErrorString(e));
    else
      snprintf(why, n, "cudaGetDeviceCount failed: %s (error %d)", cudaGetErrorString(e), (int)e);
    return 0;
  }
  if (count == 0) snprintf(why, n, "the CUDA driver reports no device");
  return count;
}

extern "C" smx_status smx_gpu_malloc(void **p, size_t bytes) {
  cudaError_t e = cudaMalloc(p, bytes);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    *p = NULL;
    return smx_fail(e == cudaErrorMemoryAllocation ? SMX_ERR_NOMEM : SMX_ERR_BACKEND,
                    "cudaMalloc(%zu bytes) failed: %s", bytes, cudaGetErrorString(e));
  }
  return SMX_OK;
}

extern "C" void smx_gpu_free(void *p) {
  if (p) cudaFree(p);
}

extern "C" smx_status smx_gpu_memcpy_h2d(void *dst, const void *src, size_t bytes) {
  SMX_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
  return SMX_OK;
}

extern "C" smx_status smx_gpu_memcpy_d2h(void *dst, const void *src, size_t bytes) {
  SMX_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
  return SMX_OK;
}

extern "C" smx_status smx_gpu_memset(void *dst, int byte, size_t bytes) {
  SMX_CUDA_CHECK(cudaMemset(dst, byte, bytes));
  return SMX_OK;
}

extern "C" smx_status smx_gpu_sync(void) {
  SMX_CUDA_CHECK(cudaDeviceSynchronize());
  return SMX_OK;
}

extern "C" smx_status smx_gpu_mem_info(size_t *free_bytes, size_t *total_bytes) {
  SMX_CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes));
  return SMX_OK;
}

extern "C" smx_status smx_gpu_info_query(int dev, smx_gpu_info *out) {
  cudaDeviceProp p;
  SMX_CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
  snprintf(out->name, sizeof out->name, "%.127s", p.name);
  out->sm_count = p.multiProcessorCount;
  out->cc_major = p.major;
  out->cc_minor = p.minor;
  out->total_mem = p.totalGlobalMem;
  out->l2_bytes = (size_t)p.l2CacheSize;
  out->mem_bus_width_bits = p.memoryBusWidth;
  /* CUDA 13 removed clockRate/memoryClockRate from cudaDeviceProp: ask for the attributes. */
  SMX_CUDA_CHECK(cudaDeviceGetAttribute(&out->sm_clock_khz, cudaDevAttrClockRate, dev));
  SMX_CUDA_CHECK(cudaDeviceGetAttribute(&out->mem_clock_khz, cudaDevAttrMemoryClockRate, dev));
  SMX_CUDA_CHECK(cudaDriverGetVersion(&out->driver_version));
  SMX_CUDA_CHECK(cudaRuntimeGetVersion(&out->runtime_version));
  SMX_CUDA_CHECK(cudaDeviceGetPCIBusId(out->pci_bus_id, (int)sizeof out->pci_bus_id, dev));
  int v = 0;
  if (cufftGetVersion(&v) == CUFFT_SUCCESS) out->cufft_version = v;
  cublasHandle_t h;
  if (cublasCreate(&h) == CUBLAS_STATUS_SUCCESS) {
    if (cublasGetVersion(h, &v) == CUBLAS_STATUS_SUCCESS) out->cublas_version = v;
    cublasDestroy(h);
  }
  int cur = 0;
  SMX_CUDA_CHECK(cudaGetDevice(&cur));
  if (cur == dev) {
    size_t f = 0, t = 0;
    if (cudaMemGetInfo(&f, &t) == cudaSuccess) out->free_mem = f;
    else (void)cudaGetLastError();
  }
  return SMX_OK;
}

__global__ void smx_fill_uniform_kernel(float *d, size_t n, uint64_t seed, uint32_t stream, float lo, float hi) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    d[i] = smx_philox_uniform(seed, stream, i, lo, hi);
}

extern "C" smx_status smx_gpu_fill_uniform(float *d, size_t n, uint64_t seed, uint32_t stream, float lo, float hi) {
  if (n == 0) return SMX_OK;
  size_t blocks = (n + 255) / 256;
  if (blocks > 65535) blocks = 65535;
  smx_fill_uniform_kernel<<<(unsigned)blocks, 256>>>(d, n, seed, stream, lo, hi);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

/* bf16 with the host's rounding (round to nearest even, as smx_f32_to_bf16) of the same values */
__global__ void smx_fill_uniform_bf16_kernel(uint16_t *d, size_t n, uint64_t seed, uint32_t stream, float lo,
                                             float hi) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t u = __float_as_uint(smx_philox_uniform(seed, stream, i, lo, hi)); /* finite: no NaN case */
    d[i] = (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
  }
}

extern "C" smx_status smx_gpu_fill_uniform_bf16(void *d, size_t n, uint64_t seed, uint32_t stream, float lo,
                                                float hi) {
  if (n == 0) return SMX_OK;
  size_t blocks = (n + 255) / 256;
  if (blocks > 65535) blocks = 65535;
  smx_fill_uniform_bf16_kernel<<<(unsigned)blocks, 256>>>((uint16_t *)d, n, seed, stream, lo, hi);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Timing */

/* Holds the stream until the host writes flag[0] (so everything the caller enqueues after it is
 * launched back to back), or until ~timeout_cycles pass so a lost release can never hang; in that
 * case it sets flag[1], and the sample is reported as invalid instead of silently including launch
 * gaps. */
__global__ void smx_block_stream_kernel(volatile int *flag, long long timeout_cycles) {
  long long t0 = clock64();
  while (flag[0] == 0) {
    if (clock64() - t0 > timeout_cycles) {
      flag[1] = 1;
      break;
    }
  }
}

struct smx_gpu_timer {
  cudaEvent_t start, stop;
  int events;
  void *l2_flush;
  size_t l2_bytes;
  int *flag_host; /* [0] release, [1] timed out; host-mapped */
  int *flag_dev;
};

extern "C" void smx_gpu_timer_destroy(smx_gpu_timer *t) {
  if (!t) return;
  if (t->events & 1) cudaEventDestroy(t->start);
  if (t->events & 2) cudaEventDestroy(t->stop);
  cudaFree(t->l2_flush);
  if (t->flag_host) cudaFreeHost(t->flag_host);
  free(t);
}

static smx_status timer_init(smx_gpu_timer *t) {
  int dev = 0, l2 = 0;
  SMX_CUDA_CHECK(cudaGetDevice(&dev));
  SMX_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
  t->l2_bytes = (size_t)(l2 > 0 ? l2 : 1 << 20) * 2; /* twice L2: evicts everything */
  SMX_CUDA_CHECK(cudaMalloc(&t->l2_flush, t->l2_bytes));
  SMX_CUDA_CHECK(cudaHostAlloc((void **)&t->flag_host, 2 * sizeof(int), cudaHostAllocMapped));
  SMX_CUDA_CHECK(cudaHostGetDevicePointer((void **)&t->flag_dev, t->flag_host, 0));
  SMX_CUDA_CHECK(cudaEventCreate(&t->start));
  t->events |= 1;
  SMX_CUDA_CHECK(cudaEventCreate(&t->stop));
  t->events |= 2;
  return SMX_OK;
}

extern "C" smx_status smx_gpu_timer_create(smx_gpu_timer **out) {
  *out = NULL;
#ifdef SMX_CUDA_EMULATION
  /* the emulator (emu/cuda_emu.h) runs kernels on the CPU: its times say nothing about a GPU */
  return smx_fail(SMX_ERR_UNSUPPORTED, "this build runs CUDA under the host emulator (-Demulate_cuda=true): "
                                       "it checks CUDA variants but cannot time them");
#endif
  smx_gpu_timer *t = (smx_gpu_timer *)calloc(1, sizeof *t);
  if (!t) return smx_fail(SMX_ERR_NOMEM, "cannot allocate a GPU timer");
  smx_status s = timer_init(t);
  if (s != SMX_OK) {
    smx_gpu_timer_destroy(t);
    return s;
  }
  *out = t;
  return SMX_OK;
}

static void release(smx_gpu_timer *t) { __atomic_store_n(&t->flag_host[0], 1, __ATOMIC_RELEASE); }

extern "C" smx_status smx_gpu_timer_start(smx_gpu_timer *t) {
  SMX_CUDA_CHECK(cudaMemsetAsync(t->l2_flush, 0, t->l2_bytes, 0));
  __atomic_store_n(&t->flag_host[1], 0, __ATOMIC_RELAXED);
  __atomic_store_n(&t->flag_host[0], 0, __ATOMIC_RELEASE);
  smx_block_stream_kernel<<<1, 1>>>(t->flag_dev, 4000000000LL);
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaEventRecord(t->start, 0);
  if (e != cudaSuccess) {
    release(t); /* never leave a spinning kernel behind */
    return smx_fail(smx_status_of(e), "GPU timer start failed: %s", cudaGetErrorString(e));
  }
  return SMX_OK;
}

extern "C" smx_status smx_gpu_timer_stop(smx_gpu_timer *t, double *seconds) {
  *seconds = 0;
  cudaError_t e = cudaEventRecord(t->stop, 0);
  release(t); /* first, whatever happened: the work behind the spin kernel must run */
  if (e == cudaSuccess) e = cudaEventSynchronize(t->stop);
  float ms = 0;
  if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, t->start, t->stop);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return smx_fail(smx_status_of(e), "GPU timer stop failed: %s", cudaGetErrorString(e));
  }
  if (__atomic_load_n(&t->flag_host[1], __ATOMIC_ACQUIRE))
    return smx_fail(SMX_ERR_BACKEND, "GPU timer: the spin kernel timed out before the work was enqueued; "
                                     "the sample would include launch gaps");
  *seconds = ms * 1e-3;
  return SMX_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Peaks: best of several runs, so they are what this GPU can reach now (clocks included). */

/* Best event time over `reps` runs of work(), the first one discarded as warm-up. */
template <class Work> static smx_status best_time_ms(int reps, Work work, float *best) {
  cudaEvent_t e0, e1;
  SMX_CUDA_CHECK(cudaEventCreate(&e0));
  SMX_CUDA_CHECK(cudaEventCreate(&e1));
  *best = 1e30f;
  smx_status st = SMX_OK;
  for (int r = 0; r < reps && st == SMX_OK; r++) {
    float ms = 0;
    if (cudaEventRecord(e0, 0) != cudaSuccess) st = smx_fail(SMX_ERR_BACKEND, "cudaEventRecord failed");
    if (st == SMX_OK) st = work();
    if (st == SMX_OK && (cudaEventRecord(e1, 0) != cudaSuccess || cudaEventSynchronize(e1) != cudaSuccess ||
                         cudaEventElapsedTime(&ms, e0, e1) != cudaSuccess))
      st = smx_fail(SMX_ERR_BACKEND, "timing the peak measurement failed: %s", cudaGetErrorString(cudaGetLastError()));
    if (st == SMX_OK && r > 0 && ms < *best) *best = ms;
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return st;
}

static smx_status measure_copy(double *bytes_per_s) {
  const size_t n = (size_t)1 << 30;
  void *a = NULL, *b = NULL;
  smx_status st = smx_gpu_malloc(&a, n);
  if (st == SMX_OK) st = smx_gpu_malloc(&b, n);
  if (st == SMX_OK) st = smx_gpu_memset(a, 1, n);
  float best = 1e30f;
  if (st == SMX_OK)
    st = best_time_ms(6, [&]() -> smx_status {
      SMX_CUDA_CHECK(cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice, 0));
      return SMX_OK;
    }, &best);
  *bytes_per_s = 2.0 * (double)n / (best * 1e-3);
  cudaFree(a);
  cudaFree(b);
  return st;
}

static smx_status measure_sgemm(double *flops) {
  const int n = 8192;
  float *a = NULL, *b = NULL, *c = NULL;
  size_t nn = (size_t)n * n, bytes = nn * sizeof(float);
  cublasHandle_t h = NULL;
  smx_status st = smx_gpu_malloc((void **)&a, bytes);
  if (st == SMX_OK) st = smx_gpu_malloc((void **)&b, bytes);
  if (st == SMX_OK) st = smx_gpu_malloc((void **)&c, bytes);
  /* Random operands: zeros draw less power and would let the clocks (and the "peak") run high. */
  if (st == SMX_OK) st = smx_gpu_fill_uniform(a, nn, 1, 0, -1.0f, 1.0f);
  if (st == SMX_OK) st = smx_gpu_fill_uniform(b, nn, 1, 1, -1.0f, 1.0f);
  if (st == SMX_OK && cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) st = smx_fail(SMX_ERR_BACKEND, "cublasCreate failed");
  /* Plain fp32 (no TF32): the peak that fp32 kernels are measured against. */
  if (st == SMX_OK && cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH) != CUBLAS_STATUS_SUCCESS)
    st = smx_fail(SMX_ERR_BACKEND, "cublasSetMathMode failed");
  const float one = 1.0f, zero = 0.0f;
  float best = 1e30f;
  if (st == SMX_OK)
    st = best_time_ms(5, [&]() -> smx_status {
      SMX_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, n, b, n, &zero, c, n));
      return SMX_OK;
    }, &best);
  *flops = 2.0 * n * (double)n * n / (best * 1e-3);
  if (h) cublasDestroy(h);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  return st;
}

extern "C" smx_status smx_gpu_measure_peaks(double *flops, double *bytes_per_s) {
  *flops = *bytes_per_s = 0;
#ifdef SMX_CUDA_EMULATION
  return smx_fail(SMX_ERR_UNSUPPORTED, "this build runs CUDA under the host emulator: no GPU peaks to measure");
#endif
  smx_status s = measure_copy(bytes_per_s);
  if (s != SMX_OK) return s;
  return measure_sgemm(flops);
}
