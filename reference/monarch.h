/* monarch: the Monarch matrix multiply of Monarch Mixer (M2), fp32.
 *
 *   x (B, n) -> y (B, n),  y = M x per row,  M = P L P^T R
 *
 * n = k p. R is block-diagonal with k blocks of p x p, stored R (k, p, p); L is block-diagonal with
 * p blocks of k x k, stored L (p, k, k); P is the k x p <-> p x k transpose permutation. Element by
 * element (the peer's blockdiag_butterfly_multiply_reference with w1 = R, w2 = L, q = p, l = p,
 * r = s = k):
 *
 *   h[b, r, l]     = sum_j R[r, l, j] x[b, r p + j]          (R: block r maps x's r-th p-chunk)
 *   y[b, s p + l]  = sum_r L[l, s, r] h[b, r, l]             (P^T, then L: block l mixes the k
 *                                                             chunks' l-th entries; then P)
 *   M[s p + l, r p + j] = L[l, s, r] R[r, l, j]
 *
 * p = k = sqrt(n) is the paper's square case (P = P^T); any n = k p works (n = 12 as 3 blocks of 4
 * and 4 blocks of 3). p = 0 in a configuration means sqrt(n) (n must then be a perfect square).
 * Backward, with g = dy: dx = M^T g, dR and dL the gradients of the two factors (docs/ops/monarch.md).
 *
 * Slot and parameter indices shared by the reference and every variant.
 *
 *   seqmix check --op monarch */
#ifndef SEQMIX_REFERENCE_MONARCH_H
#define SEQMIX_REFERENCE_MONARCH_H

#include <stdint.h>

#include "seqmix/op.h"
#include "smx_config.h"

enum { MONARCH_X, MONARCH_R, MONARCH_L, MONARCH_Y, MONARCH_DY, MONARCH_DX, MONARCH_DR, MONARCH_DL, MONARCH_NSLOTS };
enum { MONARCH_B, MONARCH_N, MONARCH_P };

extern const smx_op smx_op_monarch;
extern const smx_variant smx_monarch_reference, smx_monarch_cpu_blockdiag, smx_monarch_baseline_openblas;

/* The registry's CUDA entries (kernels/registry.c lists them inside this macro). */
#if SMX_HAVE_CUDA
extern const smx_variant smx_monarch_cuda_bmm, smx_monarch_cuda_fused, smx_monarch_baseline_cublas;
#define SMX_MONARCH_CUDA_VARIANTS &smx_monarch_cuda_bmm, &smx_monarch_cuda_fused,
#define SMX_MONARCH_CUDA_BASELINES &smx_monarch_baseline_cublas,
#else
#define SMX_MONARCH_CUDA_VARIANTS
#define SMX_MONARCH_CUDA_BASELINES
#endif

/* The block size p of R (the configuration's p, or sqrt(n) for p = 0) and the block count k = n / p. */
int64_t smx_monarch_p(const smx_config *c);
static inline int64_t smx_monarch_k(const smx_config *c) { return c->v[MONARCH_N] / smx_monarch_p(c); }

/* Writes the dense n x n matrix M (row-major, n = k p) of the factors R (k, p, p) and L (p, k, k):
 * M[s p + l, r p + j] = L[l, s, r] R[r, l, j], each entry one fp32 product. Used by the dense
 * baselines (the reference builds its own in fp64). */
void smx_monarch_dense_f32(int64_t k, int64_t p, const float *R, const float *L, float *M);

#endif
