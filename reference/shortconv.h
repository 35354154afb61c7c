/* shortconv: the causal depthwise short convolution (H3's shift SSM, M2's and Mamba's conv1d), fp32.
 *   x (B, H, L), w (H, K), bias (H, when bias = 1) -> y (B, H, L)
 *   y[b,h,t] = bias[h] + sum_{j=0..K-1, t-(K-1)+j >= 0} w[h,j] x[b,h,t-(K-1)+j]
 * (nn.Conv1d / causal_conv1d's weight order: w[h, K-1] multiplies the current token.) The layout
 * is fftconv's (B, H, L): channels H, time contiguous.
 * Slot and parameter indices shared by the reference and every variant. */
#ifndef SEQMIX_REFERENCE_SHORTCONV_H
#define SEQMIX_REFERENCE_SHORTCONV_H

#include "seqmix/op.h"
#include "smx_config.h"

enum { SHORTCONV_X, SHORTCONV_W, SHORTCONV_BIAS, SHORTCONV_Y, SHORTCONV_DY, SHORTCONV_DX, SHORTCONV_DW, SHORTCONV_DBIAS,
       SHORTCONV_NSLOTS };
enum { SHORTCONV_PB, SHORTCONV_PH, SHORTCONV_PL, SHORTCONV_PK, SHORTCONV_PBIAS };

extern const smx_op smx_op_shortconv;
extern const smx_variant smx_shortconv_reference, smx_shortconv_cpu_direct;

/* The registry's CUDA entry (kernels/registry.c lists it inside this macro). */
#if SMX_HAVE_CUDA
extern const smx_variant smx_shortconv_cuda_direct;
#define SMX_SHORTCONV_CUDA_VARIANTS &smx_shortconv_cuda_direct,
#else
#define SMX_SHORTCONV_CUDA_VARIANTS
#endif

#endif
