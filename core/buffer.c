/* CPU and GPU buffers (include/seqmix/buffer.h). */
#include "seqmix/buffer.h"

#include <stdlib.h>
#include <string.h>

#include "gpu.h"

void *smx_host_alloc(size_t bytes) {
  size_t rounded = (bytes + 63) & ~(size_t)63;
  if (rounded == 0) rounded = 64;
  void *p = aligned_alloc(64, rounded);
  if (p) memset(p, 0, rounded); /* touch every page now, not inside a timed region */
  return p;
}

void smx_host_free(void *p) { free(p); }

smx_status smx_gpu_calloc(void **p, size_t bytes) {
  smx_status s = smx_gpu_malloc(p, bytes);
  if (s == SMX_OK && (s = smx_gpu_memset(*p, 0, bytes)) != SMX_OK) {
    smx_gpu_free(*p);
    *p = NULL;
  }
  return s;
}

smx_status smx_buffer_alloc(smx_buffer *b, smx_device d, size_t bytes) {
  b->ptr = NULL;
  b->bytes = 0;
  b->device = d;
  if (d == SMX_DEV_CPU) {
    b->ptr = smx_host_alloc(bytes);
    if (!b->ptr) return smx_fail(SMX_ERR_NOMEM, "cannot allocate %zu bytes of host memory", bytes);
  } else {
    smx_status s = smx_device_ready(d);
    if (s != SMX_OK) return s;
    s = smx_gpu_malloc(&b->ptr, bytes ? bytes : 64);
    if (s != SMX_OK) return s;
  }
  b->bytes = bytes;
  return SMX_OK;
}

smx_status smx_buffer_reserve(smx_buffer *b, smx_device d, size_t bytes) {
  if (b->ptr && b->device == d && b->bytes >= bytes) return SMX_OK;
  smx_buffer_free(b);
  return smx_buffer_alloc(b, d, bytes);
}

void smx_buffer_free(smx_buffer *b) {
  if (b->ptr) {
    if (b->device == SMX_DEV_CPU) smx_host_free(b->ptr);
    else smx_gpu_free(b->ptr);
  }
  b->ptr = NULL;
  b->bytes = 0;
}

smx_status smx_buffer_write(smx_buffer *dst, size_t offset, const void *src, size_t bytes) {
  if (offset + bytes > dst->bytes)
    return smx_fail(SMX_ERR_INVALID, "buffer write of %zu bytes at %zu overruns %zu bytes", bytes, offset, dst->bytes);
  char *p = (char *)dst->ptr + offset;
  if (dst->device == SMX_DEV_CPU) {
    memcpy(p, src, bytes);
    return SMX_OK;
  }
  return smx_gpu_memcpy_h2d(p, src, bytes);
}

smx_status smx_buffer_read(void *dst, const smx_buffer *src, size_t offset, size_t bytes) {
  if (offset + bytes > src->bytes)
    return smx_fail(SMX_ERR_INVALID, "buffer read of %zu bytes at %zu overruns %zu bytes", bytes, offset, src->bytes);
  const char *p = (const char *)src->ptr + offset;
  if (src->device == SMX_DEV_CPU) {
    memcpy(dst, p, bytes);
    return SMX_OK;
  }
  return smx_gpu_memcpy_d2h(dst, p, bytes);
}
