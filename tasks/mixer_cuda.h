/* The CUDA side of the mixer kinds (internal to tasks/): for each kind that has one, the same
 * layer as tasks/mixer_<kind>.c with its tensors, options and contract (tasks/mixer.h), computed
 * on the device by the registered CUDA variants of its ops (tasks/op_layer.h) and the glue of
 * include/seqmix/model_ops_cuda.h. x, y, dx, dy, the weights w[i] and their gradients g[i] are
 * device pointers; g is zero on entry. The tensor list comes from the CPU kind (one definition of
 * a layer's parameters), so a model moves between devices with its flat parameter array.
 * Built only with CUDA; tests/test_model_cuda.c checks each kind against its CPU twin.
 */
#ifndef SEQMIX_TASKS_MIXER_CUDA_H
#define SEQMIX_TASKS_MIXER_CUDA_H

#include <stdint.h>

#include "tasks/mixer.h"

typedef struct mixer_cuda_kind {
  const char *name; /* the CPU kind's name */
  smx_status (*create)(const mixer_shape *s, void **state);
  void (*destroy)(void *state);
  /* adds the layer's weighted auxiliary loss (MoE load balancing) to *aux, one device float */
  smx_status (*forward)(void *state, float *const *w, const float *x, float *y, float *aux);
  smx_status (*backward)(void *state, float *const *w, const float *x, const float *dy, float *dx, float *const *g);
} mixer_cuda_kind;

/* NULL when the kind has no CUDA path. */
const mixer_cuda_kind *mixer_cuda_find(const char *name);
/* "attention, mlp": the kinds that have one (static storage). */
const char *mixer_cuda_names(void);
/* Device buffers of a layer: NULL-terminated pairs (float **, size_t floats), zeroed; one error line. */
smx_status mixer_cuda_alloc(const char *what, ...);
void mixer_cuda_free(float *p);

/* The mixers' elementwise glue (tasks/mixer_cuda_glue.cu), the loops of the CPU layers:
 * token-major (B, L, C) <-> channel rows (B, C, L), time contiguous; x (B, 3, n) <-> a, b, c (B, n)
 * (m2's three channel blocks). */
smx_status mixer_cuda_to_channels(int64_t B, int64_t L, int64_t C, const float *src, float *dst);
smx_status mixer_cuda_to_tokens(int64_t B, int64_t L, int64_t C, const float *src, float *dst);
smx_status mixer_cuda_split3(int64_t B, int64_t n, const float *x, float *a, float *b, float *c);
smx_status mixer_cuda_merge3(int64_t B, int64_t n, const float *a, const float *b, const float *c, float *x);
/* ssd (tasks/mixer_ssd.c): silu of the conv output split into x (T, E), B and C (T, G N), and the
 * silu's backward joining their gradients into (B, C, L); y = -exp(x); y = a b; y[t, e] = x[t, e]
 * w[e]; out[e] = sum over t in order of a[t, e] b[t, e]; y = v. */
smx_status ssd_cuda_silu_split(int64_t B, int64_t L, int64_t C, int64_t E, int64_t GN, const float *convT, float *xs,
                               float *bm, float *cm);
smx_status ssd_cuda_silu_join_bwd(int64_t B, int64_t L, int64_t C, int64_t E, int64_t GN, const float *dxs,
                                  const float *dbm, const float *dcm, const float *convT, float *dconvT);
smx_status ssd_cuda_neg_exp(int64_t n, const float *x, float *y);
smx_status ssd_cuda_mul(int64_t n, const float *a, const float *b, float *y);
smx_status ssd_cuda_scale_cols(int64_t T, int64_t E, const float *x, const float *w, float *y);
smx_status ssd_cuda_col_dot(int64_t T, int64_t E, const float *a, const float *b, float *out);
smx_status ssd_cuda_fill(int64_t n, float v, float *y);
/* h3 (tasks/mixer_h3.c shift_kernel / shift_kernel_bwd): the shift SSM's kernel k_shift (d, S) from
 * shift_B, shift_C and the op weight w (shortconv: reversed taps plus D_k; else padded to L); and
 * back from the weight's gradient dw to shift_B's, shift_C's and (shortconv) D_k's gradients. */
smx_status h3_cuda_shift_kernel(int64_t d, int64_t S, int64_t L, int shortconv, const float *sb, const float *sc,
                                const float *dk_skip, float *ksh, float *w);
smx_status h3_cuda_shift_kernel_bwd(int64_t d, int64_t S, int64_t L, int shortconv, const float *dw, const float *sb,
                                    const float *sc, float *dksh, float *gsb, float *gsc, float *gdk);

#endif
