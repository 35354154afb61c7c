/* The one family of check macros for CUDA, cuBLAS and cuFFT calls (.cu files only).
 *
 *   SMX_CUDA_CHECK(cudaMalloc(&p, n));
 *   SMX_CUBLAS_CHECK(cublasSgemm(...));
 *   SMX_CUFFT_CHECK(cufftExecR2C(...));
 *
 * Each evaluates its call once; on failure it records "<file>:<line>: <call> failed: <reason>" as
 * the last error and returns SMX_ERR_NOMEM (allocation failures) or SMX_ERR_BACKEND from the
 * enclosing function (library code never exits). cuFFT has no error-string function, hence the
 * table below. */
#ifndef SEQMIX_CUDA_CHECK_H
#define SEQMIX_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cufft.h>

#include "seqmix/status.h"

static inline const char *smx_cufft_error_string(cufftResult r) {
  switch (r) {
  case CUFFT_SUCCESS: return "CUFFT_SUCCESS";
  case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
  case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED";
  case CUFFT_INVALID_TYPE: return "CUFFT_INVALID_TYPE";
  case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
  case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
  case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
  case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
  case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
  case CUFFT_UNALIGNED_DATA: return "CUFFT_UNALIGNED_DATA";
  case CUFFT_INVALID_DEVICE: return "CUFFT_INVALID_DEVICE";
  case CUFFT_NO_WORKSPACE: return "CUFFT_NO_WORKSPACE";
  case CUFFT_NOT_IMPLEMENTED: return "CUFFT_NOT_IMPLEMENTED";
  case CUFFT_NOT_SUPPORTED: return "CUFFT_NOT_SUPPORTED";
  default: return "cuFFT error (see cufft.h for the code)";
  }
}

static inline const char *smx_cuda_error_string(cudaError_t e) { return cudaGetErrorString(e); }
static inline const char *smx_cublas_error_string(cublasStatus_t s) { return cublasGetStatusString(s); }

/* Allocation failures are SMX_ERR_NOMEM (benchmarks shrink a shape that does not fit); the rest
 * are SMX_ERR_BACKEND. */
static inline smx_status smx_status_of(cudaError_t e) {
  return e == cudaErrorMemoryAllocation ? SMX_ERR_NOMEM : SMX_ERR_BACKEND;
}
static inline smx_status smx_status_of(cufftResult r) { return r == CUFFT_ALLOC_FAILED ? SMX_ERR_NOMEM : SMX_ERR_BACKEND; }
static inline smx_status smx_status_of(cublasStatus_t s) {
  return s == CUBLAS_STATUS_ALLOC_FAILED ? SMX_ERR_NOMEM : SMX_ERR_BACKEND;
}

#define SMX_CHECK_GEN(call, ok_value, to_string)                                                   \
  do {                                                                                             \
    auto smx_rc_ = (call);                                                                         \
    if (smx_rc_ != (ok_value)) {                                                                   \
      (void)cudaGetLastError(); /* clear a non-sticky error so later calls are not blamed */       \
      return smx_fail(smx_status_of(smx_rc_), "%s:%d: %s failed: %s", __FILE__, __LINE__, #call,   \
                      to_string(smx_rc_));                                                         \
    }                                                                                              \
  } while (0)

#define SMX_CUDA_CHECK(call) SMX_CHECK_GEN(call, cudaSuccess, smx_cuda_error_string)
#define SMX_CUBLAS_CHECK(call) SMX_CHECK_GEN(call, CUBLAS_STATUS_SUCCESS, smx_cublas_error_string)
#define SMX_CUFFT_CHECK(call) SMX_CHECK_GEN(call, CUFFT_SUCCESS, smx_cufft_error_string)
/* After a kernel launch: configuration errors surface from cudaGetLastError. */
#define SMX_CUDA_CHECK_LAUNCH() SMX_CUDA_CHECK(cudaGetLastError())

#endif
