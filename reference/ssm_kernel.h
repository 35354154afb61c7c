/* ssm_kernel: the length-L convolution kernel of H3's diagonal SSM (SSKernelDiag / S4D, ZOH), fp32.
 *   log_dt (H), log_A_re (H, N), A_im (H, N), B (H, N, 2), C (H, N, 2)  ->  k (H, L)
 *   k[h, l] = 2 Re sum_n C[h,n] Bbar[h,n] exp(dt[h] A[h,n])^l      (reference/ssm_diag.h)
 * Slot and parameter indices shared by the reference and every variant. */
#ifndef SEQMIX_REFERENCE_SSM_KERNEL_H
#define SEQMIX_REFERENCE_SSM_KERNEL_H

#include "seqmix/op.h"
#include "smx_config.h"

enum { SSMK_LOGDT, SSMK_LOGARE, SSMK_AIM, SSMK_B, SSMK_C, SSMK_K, SSMK_DK, SSMK_DLOGDT, SSMK_DLOGARE, SSMK_DAIM,
       SSMK_DB, SSMK_DC, SSMK_NSLOTS };
enum { SSMK_PH, SSMK_PN, SSMK_PL };

extern const smx_op smx_op_ssm_kernel;
extern const smx_variant smx_ssm_kernel_reference, smx_ssm_kernel_cpu_vandermonde;

#if SMX_HAVE_CUDA
extern const smx_variant smx_ssm_kernel_cuda_vandermonde;
#define SMX_SSM_KERNEL_CUDA_VARIANTS &smx_ssm_kernel_cuda_vandermonde,
#else
#define SMX_SSM_KERNEL_CUDA_VARIANTS
#endif

#endif
