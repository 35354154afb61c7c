/* Buffers on the CPU (64-byte aligned, pre-faulted) or the GPU. Work buffers are allocated once
 * and reused: smx_buffer_reserve() grows a buffer only when a larger size is asked for, because
 * on these VMs a first-touch page fault costs ~3 us per 4 KiB page and would pollute timings. */
#ifndef SEQMIX_BUFFER_H
#define SEQMIX_BUFFER_H

#include <stddef.h>

#include "seqmix/device.h"
#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smx_buffer {
  void *ptr;
  size_t bytes;
  smx_device device;
} smx_buffer;

smx_status smx_buffer_alloc(smx_buffer *b, smx_device d, size_t bytes);
smx_status smx_buffer_reserve(smx_buffer *b, smx_device d, size_t bytes);
void smx_buffer_free(smx_buffer *b);
/* Copies between host memory and a buffer on any device, at a byte offset into the buffer. */
smx_status smx_buffer_write(smx_buffer *dst, size_t offset, const void *src, size_t bytes);
smx_status smx_buffer_read(void *dst, const smx_buffer *src, size_t offset, size_t bytes);

/* Host allocation helpers used across the library (aligned, zeroed, never NULL on success). */
void *smx_host_alloc(size_t bytes);
void smx_host_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
