/* ssmconv: the long causal convolution whose kernel is a diagonal SSM's (H3's SSM on K*V), fp32.
 *   u (B, H, L), log_dt (H), log_A_re (H, N), A_im (H, N), B (H, N, 2), C (H, N, 2), D (H)
 *     -> y (B, H, L),   y = causal_conv(u, k) + D u,   k = ssm_kernel(log_dt, A, B, C) of length L
 * equivalently the recurrence x[t] = E x[t-1] + Bbar u[t], y[t] = 2 Re(C x[t]) + D u[t]
 * (reference/ssm_diag.h). Slot and parameter indices shared by the reference and every variant. */
#ifndef SEQMIX_REFERENCE_SSMCONV_H
#define SEQMIX_REFERENCE_SSMCONV_H

#include "seqmix/op.h"
#include "smx_config.h"

enum { SSMC_U, SSMC_LOGDT, SSMC_LOGARE, SSMC_AIM, SSMC_B, SSMC_C, SSMC_D, SSMC_Y, SSMC_DY, SSMC_DU, SSMC_DLOGDT,
       SSMC_DLOGARE, SSMC_DAIM, SSMC_DB, SSMC_DC, SSMC_DD, SSMC_NSLOTS };
enum { SSMC_PB, SSMC_PH, SSMC_PN, SSMC_PL, SSMC_PCHUNK };

extern const smx_op smx_op_ssmconv;
extern const smx_variant smx_ssmconv_reference, smx_ssmconv_cpu_statepass;

/* The registry's CUDA entry (kernels/registry.c lists it inside this macro). */
#if SMX_HAVE_CUDA
extern const smx_variant smx_ssmconv_cuda_statepass;
#define SMX_SSMCONV_CUDA_VARIANTS &smx_ssmconv_cuda_statepass,
#else
#define SMX_SSMCONV_CUDA_VARIANTS
#endif

#endif
