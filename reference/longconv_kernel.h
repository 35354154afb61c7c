/* longconv_kernel: the explicit learned long-convolution kernel (the "simple long convolutions"
 * LongConvKernel of HazyResearch/safari and hyena-dna, the explicit alternative to M2's implicit
 * hyena_filter), fp32.
 *
 *   kernel (H, L) -> k (H, L),   k = sign(kernel) max(|kernel| - lam, 0)     (soft threshold)
 *   backward: dkernel = dk where |kernel| > lam, else 0
 *
 * lam = lam_milli / 1000. The parameter is initialized with an exponential decay along the kernel
 * (the peer's "double_exp" weight_init): kernel[h, j] = 0.02 n exp(-(j / L) (H/2)^(h / H)), n a
 * standard draw; smx_longconv_init_scale gives the deterministic factor, and the op's inputs
 * follow that distribution (uniform draws in place of normal ones).
 *
 *   seqmix check --op longconv_kernel */
#ifndef SEQMIX_REFERENCE_LONGCONV_KERNEL_H
#define SEQMIX_REFERENCE_LONGCONV_KERNEL_H

#include <stdint.h>

#include "seqmix/op.h"
#include "smx_config.h"

enum { LCK_KERNEL, LCK_K, LCK_DK, LCK_DKERNEL, LCK_NSLOTS };
enum { LCK_PH, LCK_PL, LCK_PLAM };

extern const smx_op smx_op_longconv_kernel;
extern const smx_variant smx_longconv_kernel_reference, smx_longconv_kernel_cpu_omp;

/* The registry's CUDA entry (kernels/registry.c lists it inside this macro). */
#if SMX_HAVE_CUDA
extern const smx_variant smx_longconv_kernel_cuda_elementwise;
#define SMX_LONGCONV_KERNEL_CUDA_VARIANTS &smx_longconv_kernel_cuda_elementwise,
#else
#define SMX_LONGCONV_KERNEL_CUDA_VARIANTS
#endif

/* 0.02 exp(-(j / L) (H/2)^(h / H)): the initialization's scale of kernel[h, j] */
double smx_longconv_init_scale(int64_t H, int64_t L, int64_t h, int64_t j);
/* lam of a configuration */
double smx_longconv_lam(const smx_config *c);

#endif
