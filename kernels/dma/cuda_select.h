/* The DMA key selection on the GPU (reference/dma.h): keep_until for every (batch, KV head) row
 * of a (B*Hkv, L) bias, identical to smx_dma_keep_until() on the CPU (same comparisons on the same
 * values, integers out). Used by cuda.dense_bias and cuda.flash_sparse. .cu files only. */
#ifndef SEQMIX_KERNELS_DMA_CUDA_SELECT_H
#define SEQMIX_KERNELS_DMA_CUDA_SELECT_H

#include <stdint.h>

extern "C" {
#include "seqmix/op.h"
}

/* bias: device, (BHkv, L) values of `dtype` (SMX_F32: float, SMX_BF16: __nv_bfloat16 bits);
 * keep_until: device, (BHkv, L) int32. Runs on the default stream; returns a launch error. */
smx_status smx_dma_keep_until_cuda(const void *bias, smx_dtype dtype, int64_t BHkv, int64_t L, int64_t w, int select,
                                   int32_t *keep_until);

#endif
