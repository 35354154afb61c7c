/* lm_head_ce: the tied LM head with cross-entropy, mean over labelled positions.
 *   x (T, d) final hidden states, W (V, d) the embedding table (tied head, no bias),
 *   labels (T): a class in [0, V) or -100 = ignored (excluded from the loss and its mean)
 *   z_t = W x_t (V logits),  lse_t = log sum_v exp(z_t[v])
 *   loss = (1/n) sum over labelled t of (lse_t - z_t[label_t]),  n = number of labelled positions
 *          (n = 0: loss = 0 and zero gradients, where PyTorch's mean returns NaN)
 *   backward: dz_t = dloss/n (softmax(z_t) - onehot(label_t)) at labelled t, 0 elsewhere;
 *             dx_t = dz_t W,  dW = sum_t dz_t x_t^T
 * Only labelled positions contribute, so a variant computes logits only there: it gathers the
 * labelled rows and multiplies only those (tasks.md §9: on MQAR that is most of the training
 * time). The reference computes the logits at every position and masks them, so every check
 * compares the gathered computation with the all-positions one. Labels travel as floats holding
 * exact integers (V is limited to 2^24); the C entry points (include/seqmix/model_ops.h) take
 * int32 labels. Slot and parameter indices shared by the reference and every variant.
 *
 *   seqmix check --op lm_head_ce */
#ifndef SEQMIX_REFERENCE_LM_HEAD_CE_H
#define SEQMIX_REFERENCE_LM_HEAD_CE_H

#include "seqmix/op.h"
#include "smx_config.h"

#define SMX_IGNORE_LABEL (-100)

enum { CE_X, CE_W, CE_LABELS, CE_LOSS, CE_DLOSS, CE_DX, CE_DW, CE_NSLOTS };
enum { CE_T, CE_D, CE_V, CE_IGNORE };

extern const smx_op smx_op_lm_head_ce;
extern const smx_variant smx_lm_head_ce_reference, smx_lm_head_ce_cpu_gather;
#if SMX_HAVE_CUDA
extern const smx_variant smx_lm_head_ce_cuda_gather;
#define SMX_LM_HEAD_CE_CUDA_VARIANTS &smx_lm_head_ce_cuda_gather,
#else
#define SMX_LM_HEAD_CE_CUDA_VARIANTS
#endif

#endif
