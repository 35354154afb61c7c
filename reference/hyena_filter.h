/* hyena_filter: the implicit long-convolution filter of M2-BERT's sequence mixer (Hyena's
 * HyenaFilter as in HazyResearch/m2 bert/src/mm/hyena_utils.py), fp32.
 *
 *   W1 (F, E), b1 (F), W2 (F, F), b2 (F), W3 (F, F), b3 (F), W4 (H, F), freq (F)  ->  k (H, L)
 *
 * with E = emb (odd, >= 3), F = order (the MLP width), for t < L:
 *   tn[t] = t / (L - 1) (0 for L = 1)                     torch.linspace(0, 1, L)
 *   z[t]  = [tn[t], cos(f_j w_t) (j < nb), -sin(f_j w_t) (j < nb)],  nb = (E - 1) / 2,
 *           w_t = 2 pi t / L,  f_j = linspace(1e-4, nb - 1, nb)[j]      (Re, Im of exp(-i f w))
 *   s1 = sin(freq * (W1 z + b1)),  s2 = sin(freq * (W2 s1 + b2)),  s3 = sin(freq * (W3 s2 + b3))
 *   o  = W4 s3                                            (the last linear has no bias)
 *   k[h, t] = o[h] exp(-tn[t] |delta_h|),  delta = linspace(ln(1e-2) / 1.5, ln(1e-2) / 0.3, H)
 * freq is one (F) vector shared by the three sine activations (the peer appends the same Sin module
 * three times). Backward: dk -> dW1, db1, dW2, db2, dW3, db3, dW4, dfreq. The positional features
 * z and the decay rates are constants here (docs/ops/hyena_filter.md says why).
 *
 * Slot and parameter indices shared by the reference and every variant.
 *
 *   seqmix check --op hyena_filter */
#ifndef SEQMIX_REFERENCE_HYENA_FILTER_H
#define SEQMIX_REFERENCE_HYENA_FILTER_H

#include <stdint.h>

#include "seqmix/op.h"
#include "smx_config.h"

enum { HYF_W1, HYF_B1, HYF_W2, HYF_B2, HYF_W3, HYF_B3, HYF_W4, HYF_FREQ, HYF_K, HYF_DK, HYF_DW1, HYF_DB1, HYF_DW2,
       HYF_DB2, HYF_DW3, HYF_DB3, HYF_DW4, HYF_DFREQ, HYF_NSLOTS };
enum { HYF_PH, HYF_PL, HYF_PE, HYF_PF };

extern const smx_op smx_op_hyena_filter;
extern const smx_variant smx_hyena_filter_reference, smx_hyena_filter_cpu_blas;

/* The registry's CUDA entry (kernels/registry.c lists it inside this macro). */
#if SMX_HAVE_CUDA
extern const smx_variant smx_hyena_filter_cuda_blas;
#define SMX_HYENA_FILTER_CUDA_VARIANTS &smx_hyena_filter_cuda_blas,
#else
#define SMX_HYENA_FILTER_CUDA_VARIANTS
#endif

/* The constants of the definition, in fp64: z (L x E, row-major), tn (L) and |delta| (H). */
void smx_hyena_features(int64_t L, int64_t E, double *z, double *tn);
double smx_hyena_decay_rate(int64_t H, int64_t h);

#endif
