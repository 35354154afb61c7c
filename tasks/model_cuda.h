/* The task runner's model on CUDA (internal to tasks/; include/seqmix/model.h is the interface):
 * tasks/model.c lays out the flat parameter array and describes the layers; this keeps the
 * parameters, gradients, AdamW moments and activations on the device and runs a step there with
 * the registered CUDA variants (embedding cuda.sorted, layernorm cuda.rows, lm_head_ce
 * cuda.gather, the mixers' own, tasks/mixer_cuda.h) and the glue of include/seqmix/model_ops_cuda.h.
 * The host sends the batch's ids and labels and reads back the loss (and the predictions when
 * asked): one synchronisation per step. Slots a layer leaves to its op (tasks/op_layer.h) get their
 * device buffers on first use, so the first step allocates; later steps do not. Built only with CUDA.
 */
#ifndef SEQMIX_TASKS_MODEL_CUDA_H
#define SEQMIX_TASKS_MODEL_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "seqmix/model_ops.h"
#include "tasks/mixer.h"

typedef struct model_cuda_half {
  const char *kind;     /* the mixer kind's name */
  mixer_shape shape;
  size_t norm_w, norm_b; /* offsets of the pre-norm's gain and bias in the flat parameters */
  int nt;
  size_t off[MIXER_MAX_TENSORS];
} model_cuda_half;

typedef struct model_cuda_desc {
  int64_t B, L, T, d, V, max_len;
  float eps;
  int pool_mean; /* the head reads the running mean of the final norm (smx_model_pool SMX_POOL_MEAN) */
  size_t n_params, emb, pos, norm_f_w, norm_f_b; /* offsets */
  int n_halves;                                  /* present half-blocks, in order */
  const model_cuda_half *halves;
} model_cuda_desc;

typedef struct model_cuda model_cuda;

/* One error line when a layer has no CUDA path or the device refuses a shape. */
smx_status model_cuda_create(const model_cuda_desc *desc, model_cuda **out);
void model_cuda_destroy(model_cuda *g);
/* Uploads the parameters (n_params floats) and zeroes the AdamW moments. */
smx_status model_cuda_set_params(model_cuda *g, const float *p);
/* Downloads the parameters and/or the gradients of the last backward step (either may be NULL). */
smx_status model_cuda_get(model_cuda *g, float *p, float *grad);
/* As smx_model_step; ids and labels are host arrays the caller has validated. */
smx_status model_cuda_step(model_cuda *g, const int32_t *ids, const int32_t *labels, int backward, float *loss,
                           int32_t *pred);
/* AdamW on parameters [off, off + n) with h (its weight decay already chosen for that tensor). */
smx_status model_cuda_adamw(model_cuda *g, int64_t step, const smx_adamw_hparams *h, size_t off, size_t n);

#endif
