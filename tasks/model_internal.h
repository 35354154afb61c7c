/* The model's layout as the decoder (tasks/model_decode.c) reads it, from tasks/model.c. Internal
 * to tasks/. Pointers are into the model's current parameters. */
#ifndef SEQMIX_TASKS_MODEL_INTERNAL_H
#define SEQMIX_TASKS_MODEL_INTERNAL_H

#include "seqmix/model.h"
#include "tasks/mixer.h"

typedef struct model_half_view {
  const mixer_kind *kind;         /* NULL: channel "none" */
  const mixer_shape *shape;       /* the training shape (B, L of the model) */
  const float *norm_w, *norm_b;   /* the half-block's LayerNorm */
  float *w[MIXER_MAX_TENSORS];    /* the kind's tensors */
  int nt;
} model_half_view;

/* 2 per layer: sequence mixer, then channel mixer */
int model_n_halves(const smx_model *m);
void model_half(smx_model *m, int i, model_half_view *v);
/* the configuration with defaults filled in (norm_eps, init_std) */
const smx_model_config *model_config(const smx_model *m);
/* the tied embedding (V, d), learned positions (max_len, d), the final norm's gain and bias */
void model_globals(smx_model *m, const float **emb, const float **pos, const float **norm_w, const float **norm_b);

#endif
