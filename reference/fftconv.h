/* fftconv: the causal long convolution of H3 (FlashConv) and FlashFFTConv, fp32.
 *   u (B, H, L), k (H, L), D (H) -> y (B, H, L);  y = causal_conv(u, k) + D*u, optionally GELU (erf form);
 *   with gates=1 also pre, post (B, H, L):  y = post * act(causal_conv(pre*u, k) + D*pre*u)  (FlashFFTConv's
 *   pre- and post-gates). The gate slots are empty (zero elements) when gates=0.
 * Slot and parameter indices shared by the reference and every variant. */
#ifndef SEQMIX_REFERENCE_FFTCONV_H
#define SEQMIX_REFERENCE_FFTCONV_H

#include <stddef.h>
#include <stdint.h>

#include "seqmix/op.h"

enum {
  FFTCONV_U, FFTCONV_K, FFTCONV_D, FFTCONV_Y, FFTCONV_DY, FFTCONV_DU, FFTCONV_DK, FFTCONV_DD,
  FFTCONV_PRE, FFTCONV_POST, FFTCONV_DPRE, FFTCONV_DPOST, FFTCONV_NSLOTS
};
enum { FFTCONV_B, FFTCONV_H, FFTCONV_L, FFTCONV_GELU, FFTCONV_GATES };

extern const smx_op smx_op_fftconv;
extern const smx_variant smx_fftconv_reference;

/* The FFT length the FFT variants use: the smallest 2^a 3^b 5^c 7^d >= 2L - 1, which makes the
 * circular convolution of the zero-padded rows equal the causal one (and at least 2) (and the lags of the
 * backward correlations land in [0, L) without wrapping). FFTW and cuFFT are fast at these sizes. */
int64_t smx_fftconv_fft_size(int64_t L);

#endif
