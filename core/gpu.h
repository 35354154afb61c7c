/* Internal: the CUDA backend as seen from C. core/gpu_cuda.cu implements it when seqmix is built
 * with CUDA; core/gpu_stub.c implements the same functions as "built without CUDA" otherwise.
 * Everything runs on the legacy default stream so cuFFT/cuBLAS calls, kernels and timing events
 * are ordered without extra synchronisation. */
#ifndef SEQMIX_CORE_GPU_H
#define SEQMIX_CORE_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "seqmix/device.h"
#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of CUDA devices, or 0 with the reason written to why. Never initialises more than the
 * runtime's device query: safe on machines with no driver (cudaErrorInsufficientDriver). */
int smx_gpu_probe(char *why, size_t n);
/* 1 when the CUDA backend is the host emulator (meson -Demulate_cuda=true, emu/cuda_emu.h) */
int smx_gpu_emulated(void);

smx_status smx_gpu_malloc(void **p, size_t bytes);
/* smx_gpu_malloc then zeroed (core/buffer.c); *p = NULL on failure */
smx_status smx_gpu_calloc(void **p, size_t bytes);
void smx_gpu_free(void *p);
smx_status smx_gpu_memcpy_h2d(void *dst, const void *src, size_t bytes);
smx_status smx_gpu_memcpy_d2h(void *dst, const void *src, size_t bytes);
smx_status smx_gpu_memset(void *dst, int byte, size_t bytes);
smx_status smx_gpu_sync(void);
smx_status smx_gpu_info_query(int dev, smx_gpu_info *out);
smx_status smx_gpu_mem_info(size_t *free_bytes, size_t *total_bytes);

/* Fills n floats with smx_philox_uniform(seed, stream, i, lo, hi): the same values as the CPU. */
smx_status smx_gpu_fill_uniform(float *d, size_t n, uint64_t seed, uint32_t stream, float lo, float hi);
/* The same values rounded to bf16 (round to nearest even, as smx_f32_to_bf16): n 16-bit elements. */
smx_status smx_gpu_fill_uniform_bf16(void *d, size_t n, uint64_t seed, uint32_t stream, float lo, float hi);

/* Cold-cache GPU timing in the manner of nvbench: before each sample the L2 is flushed by a memset
 * of an L2-sized buffer, then a spin kernel holds the stream while the caller enqueues its work,
 * so launch latency is not timed; stop() releases the spin kernel and returns the event time. */
typedef struct smx_gpu_timer smx_gpu_timer;
smx_status smx_gpu_timer_create(smx_gpu_timer **t);
smx_status smx_gpu_timer_start(smx_gpu_timer *t);
smx_status smx_gpu_timer_stop(smx_gpu_timer *t, double *seconds);
void smx_gpu_timer_destroy(smx_gpu_timer *t);

/* Measured peaks of the current GPU: fp32 GEMM FLOP/s (cuBLAS sgemm) and device-to-device copy
 * bytes/s (read + write). Used for the "% of peak" counters. */
smx_status smx_gpu_measure_peaks(double *flops, double *bytes_per_s);

#ifdef __cplusplus
}
#endif
#endif
