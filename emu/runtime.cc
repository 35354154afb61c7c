/* The CUDA emulator's runtime API (emu/cuda_emu.h): the cuda* calls seqmix makes, over host memory.
 * One device, described as an H100 (132 SMs, 227 KiB of opt-in shared memory per block, compute
 * capability 9.0) so the variants take their sm_90 paths and their shared-memory limits, named
 * "seqmix CUDA emulator (host CPU)" so no report can mistake it for a GPU. Memory from cudaMalloc
 * is filled with 0xff bytes (NaN as floats, bf16 and fp64) so a kernel that reads memory it never
 * wrote shows it. Streams and events exist only as far as seqmix's code needs them: launches are
 * synchronous, and elapsed times are refused (cudaErrorNotSupported). */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "emu/cuda_emu.h"

namespace {

thread_local cudaError_t last_error = cudaSuccess;
std::mutex allocations_lock;
std::unordered_set<void *> allocations; /* what cudaFree may be given */
std::unordered_map<const void *, int> smem_attribute; /* cudaFuncAttributeMaxDynamicSharedMemorySize */

const int SMEM_OPTIN = 232448; /* 227 KiB, the H100's */
const int SMEM_DEFAULT = 48 * 1024;

cudaError_t fail_with(cudaError_t e) {
  last_error = e;
  return e;
}

size_t host_memory(int name) {
  long pages = sysconf(name), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? (size_t)pages * (size_t)page : (size_t)16 << 30;
}

} // namespace

namespace smx_emu {
void note_launch_error(int e) { last_error = (cudaError_t)e; }
size_t launch_smem_limit() {
  size_t most = SMEM_DEFAULT;
  for (const auto &kv : smem_attribute) most = (size_t)kv.second > most ? (size_t)kv.second : most;
  return most;
}
} // namespace smx_emu

extern "C" {

cudaError_t cudaGetDeviceCount(int *count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int *dev) {
  *dev = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int dev) { return dev == 0 ? cudaSuccess : fail_with(cudaErrorInvalidDevice); }
cudaError_t cudaDriverGetVersion(int *v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int *v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaGetLastError(void) {
  cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return last_error; }

const char *cudaGetErrorString(cudaError_t e) {
  switch (e) {
  case cudaSuccess: return "no error";
  case cudaErrorInvalidValue: return "invalid argument";
  case cudaErrorMemoryAllocation: return "out of memory";
  case cudaErrorInvalidConfiguration: return "invalid configuration argument";
  case cudaErrorInvalidDevice: return "invalid device ordinal";
  case cudaErrorNotSupported: return "operation not supported (under the CUDA emulator)";
  default: return "CUDA error (emulated)";
  }
}
const char *cudaGetErrorName(cudaError_t e) { return cudaGetErrorString(e); }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int dev) {
  if (dev != 0) return fail_with(cudaErrorInvalidDevice);
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "seqmix CUDA emulator (host CPU)");
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 132;
  p->totalGlobalMem = host_memory(_SC_PHYS_PAGES);
  p->l2CacheSize = 50 << 20;
  p->memoryBusWidth = 5120;
  p->sharedMemPerBlock = SMEM_DEFAULT;
  p->sharedMemPerBlockOptin = SMEM_OPTIN;
  p->maxThreadsPerBlock = 1024;
  p->warpSize = 32;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int dev) {
  if (dev != 0) return fail_with(cudaErrorInvalidDevice);
  switch (a) {
  case cudaDevAttrMultiProcessorCount: *v = 132; break;
  case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = SMEM_OPTIN; break;
  case cudaDevAttrMaxSharedMemoryPerBlock: *v = SMEM_DEFAULT; break;
  case cudaDevAttrComputeCapabilityMajor: *v = 9; break;
  case cudaDevAttrComputeCapabilityMinor: *v = 0; break;
  case cudaDevAttrClockRate: *v = 1980000; break;
  case cudaDevAttrMemoryClockRate: *v = 2619000; break;
  case cudaDevAttrL2CacheSize: *v = 50 << 20; break;
  case cudaDevAttrMaxThreadsPerBlock: *v = 1024; break;
  case cudaDevAttrWarpSize: *v = 32; break;
  default: return fail_with(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

cudaError_t cudaDeviceGetPCIBusId(char *id, int len, int dev) {
  if (dev != 0) return fail_with(cudaErrorInvalidDevice);
  snprintf(id, (size_t)len, "emulated");
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
  *total_bytes = host_memory(_SC_PHYS_PAGES);
  *free_bytes = host_memory(_SC_AVPHYS_PAGES);
  return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes) {
  if (bytes == 0) {
    *p = nullptr;
    return cudaSuccess;
  }
  void *q = nullptr;
  if (bytes > host_memory(_SC_PHYS_PAGES) || posix_memalign(&q, 256, bytes) != 0) {
    *p = nullptr;
    return fail_with(cudaErrorMemoryAllocation);
  }
  memset(q, 0xff, bytes); /* never-written device memory reads as NaN */
  std::lock_guard<std::mutex> g(allocations_lock);
  allocations.insert(q);
  *p = q;
  return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
  if (!p) return cudaSuccess;
  std::lock_guard<std::mutex> g(allocations_lock);
  auto it = allocations.find(p);
  if (it == allocations.end()) {
    fprintf(stderr, "cuda emulator: cudaFree(%p) of memory cudaMalloc did not return\n", p);
    return fail_with(cudaErrorInvalidValue);
  }
  allocations.erase(it);
  free(p);
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned int flags) {
  (void)flags;
  *p = malloc(bytes ? bytes : 1);
  return *p ? cudaSuccess : fail_with(cudaErrorMemoryAllocation);
}
cudaError_t cudaFreeHost(void *p) {
  free(p);
  return cudaSuccess;
}
cudaError_t cudaHostGetDevicePointer(void **dev, void *host, unsigned int flags) {
  (void)flags;
  *dev = host;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
  (void)kind;
  if (bytes) memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
  (void)s;
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void *dst, int value, size_t bytes) {
  if (bytes) memset(dst, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t s) {
  (void)s;
  return cudaMemset(dst, value, bytes);
}

cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  (void)s;
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void *func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  if (value < 0 || value > SMEM_OPTIN) return fail_with(cudaErrorInvalidValue);
  smem_attribute[func] = value;
  return cudaSuccess;
}

/* events: creatable and recordable; no elapsed times under the emulator */
struct CUevent_st {
  int recorded;
};
cudaError_t cudaEventCreate(cudaEvent_t *e) {
  *e = (cudaEvent_t)calloc(1, sizeof(CUevent_st));
  return *e ? cudaSuccess : fail_with(cudaErrorMemoryAllocation);
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  free(e);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  (void)s;
  ((CUevent_st *)e)->recorded = 1;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  (void)e;
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
  (void)a;
  (void)b;
  *ms = 0.0f;
  return fail_with(cudaErrorNotSupported);
}

} // extern "C"
