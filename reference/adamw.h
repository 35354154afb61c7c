/* adamw: one AdamW step (PyTorch's torch.optim.AdamW, amsgrad off): decoupled weight decay, bias
 * correction, eps added outside the square root.
 *   p (n), g (n), m (n), v (n) -> p', m', v'  at step t >= 1:
 *   p1 = p (1 - lr wd)
 *   m' = b1 m + (1 - b1) g,   v' = b2 v + (1 - b2) g^2
 *   p' = p1 - (lr / (1 - b1^t)) m' / (sqrt(v') / sqrt(1 - b2^t) + eps)
 * The op's forward is the update; there is no backward (nothing differentiates through an
 * optimizer step), so every variant declares the forward pass only. The op's parameters are
 * integers, so the hyperparameters are given in fixed units (lr_u: lr in 1e-6, wd_m, beta1_m,
 * beta2_m: in 1e-3, eps_e: eps = 10^-eps_e); the C entry point (include/seqmix/model_ops.h) takes
 * floats. Slot and parameter indices shared by the reference and every variant.
 *
 *   seqmix check --op adamw */
#ifndef SEQMIX_REFERENCE_ADAMW_H
#define SEQMIX_REFERENCE_ADAMW_H

#include "seqmix/op.h"
#include "smx_config.h"

enum { ADAMW_P, ADAMW_G, ADAMW_M, ADAMW_V, ADAMW_P_OUT, ADAMW_M_OUT, ADAMW_V_OUT, ADAMW_NSLOTS };
enum { ADAMW_N, ADAMW_STEP, ADAMW_LR, ADAMW_WD, ADAMW_B1, ADAMW_B2, ADAMW_EPS };

extern const smx_op smx_op_adamw;
extern const smx_variant smx_adamw_reference, smx_adamw_cpu_fused;
#if SMX_HAVE_CUDA
extern const smx_variant smx_adamw_cuda_fused;
#define SMX_ADAMW_CUDA_VARIANTS &smx_adamw_cuda_fused,
#else
#define SMX_ADAMW_CUDA_VARIANTS
#endif

/* The hyperparameters a configuration stands for (lr = lr_u 1e-6, ...). */
typedef struct smx_adamw_config_values {
  double lr, wd, beta1, beta2, eps;
} smx_adamw_config_values;
smx_adamw_config_values smx_adamw_values(const smx_config *c);

#endif
