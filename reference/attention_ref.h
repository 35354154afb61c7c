/* The attention reference kernels (reference/attention_tmpl.h), shared by the attention, dma and
 * attention_decode references: fp64 (the oracle), fp32 (the naive evaluation) and mixed (fp32
 * tensors, fp64 arithmetic: the `reference` variants). bias and keep are NULL for plain attention. */
#ifndef SEQMIX_REFERENCE_ATTENTION_REF_H
#define SEQMIX_REFERENCE_ATTENTION_REF_H

#include <stdint.h>

typedef struct attn_dims {
  int64_t B, L, H, Hkv, P;
  double scale;
} attn_dims;

#define SMX_ATTN_REF_DECLARE(sfx, T)                                                                                 \
  void smx_attn_fwd_##sfx(const attn_dims *d, const T *q, const T *k, const T *v, const T *bias,                    \
                          const int32_t *keep, T *o, T *lse);                                                        \
  void smx_attn_bwd_##sfx(const attn_dims *d, const T *q, const T *k, const T *v, const T *bias,                    \
                          const int32_t *keep, const T *o, const T *lse, const T *dout, T *dq, T *dk, T *dv,         \
                          T *dbias);                                                                                 \
  void smx_attn_decode_##sfx(const attn_dims *d, int64_t S, const T *q, const T *k, const T *v, T *o);
SMX_ATTN_REF_DECLARE(f64, double)
SMX_ATTN_REF_DECLARE(f32, float)
SMX_ATTN_REF_DECLARE(mixed, float)
#undef SMX_ATTN_REF_DECLARE

#endif
