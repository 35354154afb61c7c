/* The decode hooks (tasks/mixer.h's decode_*) of the sequence mixer kinds that decode, each in
 * tasks/mixer_<kind>_decode.c beside its kind's file, which lists them in its mixer_kind. Internal
 * to tasks/. The model's decoder is tasks/model_decode.c. */
#ifndef SEQMIX_TASKS_MIXER_DECODE_H
#define SEQMIX_TASKS_MIXER_DECODE_H

#include "tasks/mixer.h"

#define MIXER_DECODE_HOOKS(kind)                                                                                       \
  smx_status mixer_##kind##_decode_create(const mixer_shape *s, int64_t max_ctx, void **state);                       \
  smx_status mixer_##kind##_decode_step(void *state, float *const *p, const float *x, float *y);                      \
  void mixer_##kind##_decode_reset(void *state);                                                                       \
  void mixer_##kind##_decode_destroy(void *state);                                                                     \
  size_t mixer_##kind##_decode_state_bytes(const mixer_shape *s, int64_t ctx);                                       \
  void mixer_##kind##_decode_seek(void *state, int64_t pos);

MIXER_DECODE_HOOKS(attention)
MIXER_DECODE_HOOKS(ssd)
MIXER_DECODE_HOOKS(conba)
MIXER_DECODE_HOOKS(dma)
MIXER_DECODE_HOOKS(h3)
MIXER_DECODE_HOOKS(m2)

/* The initializers of a kind's decode fields: `MIXER_DECODE_INIT(ssd)` inside its mixer_kind. */
#define MIXER_DECODE_INIT(kind)                                                                                        \
  .decode_create = mixer_##kind##_decode_create, .decode_step = mixer_##kind##_decode_step,                           \
  .decode_reset = mixer_##kind##_decode_reset, .decode_destroy = mixer_##kind##_decode_destroy,                       \
  .decode_state_bytes = mixer_##kind##_decode_state_bytes, .decode_seek = mixer_##kind##_decode_seek

#endif
