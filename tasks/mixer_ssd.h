/* The ssd layer's dimensions from its options (tasks/mixer_ssd.c), shared with its CUDA side
 * (tasks/mixer_cuda_ssd.c) so both read the options one way. Internal to tasks/. */
#ifndef SEQMIX_TASKS_MIXER_SSD_H
#define SEQMIX_TASKS_MIXER_SSD_H

#include "tasks/mixer.h"

typedef struct ssd_layer_dims {
  int64_t E, H, P, G, N; /* inner width, heads, head dimension, groups, state */
  int64_t C, K, chunk;   /* conv channels E + 2 G N, conv taps, SSD chunk */
  int rope;
} ssd_layer_dims;

/* Validates the options against the shape (one error line). */
smx_status mixer_ssd_dims(const mixer_shape *s, ssd_layer_dims *out);

#endif
