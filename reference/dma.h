/* dma: Dynamic Mask Attention (Wonderful Matrices / Doge / flash-sparse-attn), and dma_bias, the
 * per-key bias it computes from the value states. docs/ops/dma.md maps the three published
 * generations onto these options.
 *
 * dma_bias: v (B, L, Hkv, P), W (Hkv*P, Hkv), A (Hkv) -> bias (B, Hkv, L)
 *   s[b, t, g] = sum_c vflat[b, t, c] W[c, g]      (vflat: the Hkv*P values of token t, heads concatenated)
 *   form 0 ("log", flash-sparse-attn):   bias[b, g, t] = A_g * softplus(s)
 *   form 1 ("exp", Wonderful Matrices): bias[b, g, t] = exp(A_g * softplus(s))
 *   backward: dv, dW, dA from dbias (softplus' = sigmoid).
 *
 * dma: q (B, L, H, Hkv grouping as in attention.h), k, v (B, L, Hkv, P), bias (B, Hkv, L)
 *   A key selection (detached: no gradient flows through it) from the bias of the query's KV head:
 *     select 0 ("row"): query i keeps the top-w keys among j <= i by bias; all of them when i < w.
 *     select 1 ("shared"): one set for all queries, the top-w keys of the whole sequence by bias,
 *       then causality (query i sees the kept keys j <= i).
 *   Ties: key j' beats key j when bias[j'] > bias[j], or the biases are equal and j' > j (the more
 *   recent key wins). With every bias equal (A = 0 at initialization) row selection is a sliding
 *   window of the w most recent keys. CPU and GPU variants use this order exactly.
 *   Both selections are intervals: key j is kept for the query rows [j, e_j) (a key, once beaten
 *   w times, never returns), so the mask is one integer per key: smx_dma_keep_until().
 *   s_ij = scale <q_i, k_j> + bias_j on kept keys, -inf elsewhere; lse, o and the backward as in
 *   attention.h over the kept keys; dbias_j = sum over query rows and the heads of j's KV group
 *   of dS_ij. A query row with no kept key (possible only with select = 1) outputs zeros and
 *   lse = 0 (there is nothing to normalize; the backward skips the row). */
#ifndef SEQMIX_REFERENCE_DMA_H
#define SEQMIX_REFERENCE_DMA_H

#include <stdint.h>

#include "seqmix/op.h"

enum { DMA_Q, DMA_K, DMA_V, DMA_BIAS, DMA_O, DMA_LSE, DMA_DO, DMA_DQ, DMA_DK, DMA_DV, DMA_DBIAS, DMA_NSLOTS };
enum { DMA_B, DMA_L, DMA_H, DMA_HKV, DMA_P, DMA_W, DMA_SELECT, DMA_TIES };
enum { DMA_SELECT_ROW = 0, DMA_SELECT_SHARED = 1 };

enum { DMAB_V, DMAB_W, DMAB_A, DMAB_BIAS, DMAB_DBIAS, DMAB_DV, DMAB_DW, DMAB_DA, DMAB_NSLOTS };
enum { DMAB_B, DMAB_L, DMAB_HKV, DMAB_P, DMAB_FORM };
enum { DMA_FORM_LOG = 0, DMA_FORM_EXP = 1 };

extern const smx_op smx_op_dma, smx_op_dma_bias;
extern const smx_variant smx_dma_reference, smx_dma_bias_reference;

/* The selection of one (batch, KV head): bias[0..L) -> keep_until[0..L), where key j is kept for
 * the query rows j <= i < keep_until[j] (keep_until[j] == j: never kept). O(L log w); heap is
 * scratch for L int32. */
void smx_dma_keep_until(const float *bias, int64_t L, int64_t w, int select, int32_t *keep_until, int32_t *heap);
/* The same from fp64 biases (the oracle's copies of the same fp32 values: identical selection). */
void smx_dma_keep_until_f64(const double *bias, int64_t L, int64_t w, int select, int32_t *keep_until,
                            int32_t *heap);

/* Kept (query, key) pairs of one head for row selection: sum_i min(i + 1, w). */
double smx_dma_row_pairs(int64_t L, int64_t w);

#endif
