/* rope: rotary position embedding on a (B, L, H, P) tensor, rotate-half convention (HF Llama,
 * non-interleaved), shared by attention (Q, K) and SSD (C, B).
 *   angle(t, i) = (offset + t) * theta^(-2i/P),  i < P/2
 *   y[.., i]       = x[.., i] cos - x[.., i + P/2] sin
 *   y[.., i + P/2] = x[.., i + P/2] cos + x[.., i] sin
 * The backward is the inverse rotation: dx = R(-angle) dy. `offset` is the position of the first
 * token (decode: the cache length). */
#ifndef SEQMIX_REFERENCE_ROPE_H
#define SEQMIX_REFERENCE_ROPE_H

#include "seqmix/op.h"

enum { ROPE_X, ROPE_Y, ROPE_DY, ROPE_DX, ROPE_NSLOTS };
enum { ROPE_B, ROPE_L, ROPE_H, ROPE_P, ROPE_OFFSET, ROPE_THETA };

extern const smx_op smx_op_rope;
extern const smx_variant smx_rope_reference;

/* cos and sin of every (position, frequency) pair of a configuration, computed in fp64 and rounded
 * to fp32: L x P/2 each. The CPU and CUDA variants share them. */
void smx_rope_tables(const smx_config *c, float *cos_t, float *sin_t);

#endif
