/* attention: causal softmax attention with grouped-query heads, the baseline every paper compares
 * with, and its single-token decode step against a KV cache.
 *
 *   q (B, L, H, P), k and v (B, L, Hkv, P), Hkv divides H: query head h reads KV head h / (H / Hkv).
 *   s_ij = scale * <q_i, k_j>, scale = 1/sqrt(P), visible keys j <= i (causal)
 *   lse_i = log sum_{j<=i} exp(s_ij)          (natural log; (B, H, L))
 *   o_i   = sum_{j<=i} exp(s_ij - lse_i) v_j   ((B, L, H, P))
 * Backward (given o and lse, saved by the forward: the FlashAttention-2 contract):
 *   D_i = <do_i, o_i>,  dP_ij = <do_i, v_j>,  dS_ij = P_ij (dP_ij - D_i)
 *   dq_i = scale sum_j dS_ij k_j,  dk_j = scale sum_{i,h in group} dS_ij q_i,  dv_j = sum_{i,h in group} P_ij do_i
 *
 * attention_decode: one new token per sequence against a cache that already holds it:
 *   q (B, H, P), k and v (B, S, Hkv, P) -> o (B, H, P) = softmax(scale q K^T) V over all S cached
 * positions (every cached token is in the past). Forward only. Replaying it with S = 1..L over a
 * sequence reproduces the rows of the causal forward (tests/test_attention.c).
 *
 * Layouts are row-major in the order written; the CPU and CUDA variants share these indices. */
#ifndef SEQMIX_REFERENCE_ATTENTION_H
#define SEQMIX_REFERENCE_ATTENTION_H

#include "seqmix/op.h"

enum { ATTN_Q, ATTN_K, ATTN_V, ATTN_O, ATTN_LSE, ATTN_DO, ATTN_DQ, ATTN_DK, ATTN_DV, ATTN_NSLOTS };
enum { ATTN_B, ATTN_L, ATTN_H, ATTN_HKV, ATTN_P };

enum { DECODE_Q, DECODE_K, DECODE_V, DECODE_O, DECODE_NSLOTS };
enum { DECODE_B, DECODE_S, DECODE_H, DECODE_HKV, DECODE_P };

extern const smx_op smx_op_attention, smx_op_attention_decode;
extern const smx_variant smx_attention_reference, smx_attention_decode_reference;

/* Causal (query, key) pairs of one head: L (L + 1) / 2. */
double smx_attention_causal_pairs(int64_t L);

#endif
