/* The list of mixer kinds with a CUDA path and their shared helpers (tasks/mixer_cuda.h). */
#include "tasks/mixer_cuda.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/gpu.h"

extern const mixer_cuda_kind mixer_cuda_attention, mixer_cuda_dma, mixer_cuda_ssd, mixer_cuda_h3, mixer_cuda_m2,
    mixer_cuda_conba, mixer_cuda_mlp, mixer_cuda_moe, mixer_cuda_cdmoe;
static const mixer_cuda_kind *const kinds[] = {&mixer_cuda_attention, &mixer_cuda_dma, &mixer_cuda_ssd,
                                               &mixer_cuda_h3,        &mixer_cuda_m2,  &mixer_cuda_conba,
                                               &mixer_cuda_mlp,       &mixer_cuda_moe, &mixer_cuda_cdmoe};
#define N_KINDS (int)(sizeof kinds / sizeof kinds[0])

const mixer_cuda_kind *mixer_cuda_find(const char *name) {
  for (int i = 0; i < N_KINDS; i++)
    if (!strcmp(kinds[i]->name, name)) return kinds[i];
  return NULL;
}

const char *mixer_cuda_names(void) {
  static char names[256];
  if (!names[0])
    for (int i = 0, o = 0; i < N_KINDS; i++) o += snprintf(names + o, sizeof names - (size_t)o, "%s%s", i ? ", " : "", kinds[i]->name);
  return names;
}

smx_status mixer_cuda_alloc(const char *what, ...) {
  va_list ap;
  va_start(ap, what);
  smx_status st = SMX_OK;
  float **p;
  while ((p = va_arg(ap, float **))) {
    size_t n = va_arg(ap, size_t);
    void *d = NULL;
    if (st == SMX_OK) st = smx_gpu_calloc(&d, (n ? n : 1) * sizeof(float));
    *p = d;
  }
  va_end(ap);
  if (st != SMX_OK) return smx_fail(SMX_ERR_NOMEM, "%s: cannot allocate its activations on the GPU", what);
  return SMX_OK;
}

void mixer_cuda_free(float *p) { smx_gpu_free(p); }
