/* The layer interface the task runner's model composes (tasks/model.c), internal to tasks/.
 *
 * A mixer kind is one sequence mixer (attention, dma, ssd, h3, m2, conba) or channel mixer (mlp,
 * moe, cdmoe): a function y = f(x) of the normalized residual stream x (T = B L tokens by d) with
 * its own learned tensors, options and saved activations. The model owns every parameter (one
 * flat array, so one AdamW call updates all) and hands a layer pointers to its tensors; a layer
 * owns the activations its backward needs, allocated once in create(), so a training step
 * allocates nothing. Each kind lives in tasks/mixer_<name>.c and is listed in tasks/mixers.c.
 *
 * Contract (checked for every kind by tests/test_mixers.c against finite differences):
 *  - tensors() validates the shape and options (one error line) and lists the layer's tensors,
 *    in a fixed order, with their sizes, how to initialize them and whether weight decay applies;
 *  - forward(x) writes y (T, d), adds the layer's weighted auxiliary loss (MoE load balancing) to
 *    *aux, and keeps in the state what backward needs;
 *  - backward(x, dy) runs right after forward on the same x and parameters; it writes dx (T, d)
 *    and each tensor's gradient into g[i], which is zero on entry (the model zeroes g before
 *    every step, so a kind may overwrite or add). The auxiliary loss's gradient is included (its
 *    weight is the kind's option);
 *  - results are bitwise repeatable at a fixed thread count.
 * Layers built on a registered op run that op's CPU variant through tasks/op_layer.h, so what the
 * model trains with is what `seqmix check` verifies.
 */
#ifndef SEQMIX_TASKS_MIXER_H
#define SEQMIX_TASKS_MIXER_H

#include <stddef.h>
#include <stdint.h>

#include "seqmix/status.h"

#define MIXER_MAX_TENSORS 32
#define MIXER_MAX_OPTS 12

typedef struct mixer_opt {
  const char *name; /* "N": written "ssd.N=16" in the model's options */
  double min, max, def;
  int integer;      /* 1: the value must be an integer */
  const char *doc;
} mixer_opt;

typedef struct mixer_shape {
  int64_t B, L, T, d; /* T = B L tokens, token-major (B, L, d) */
  int64_t heads;      /* the model's heads option (attention-like mixers) */
  int64_t d_ff;       /* the model's MLP width (mlp) */
  int layer, layers;
  float init_std;     /* N(0, std) for MI_NORMAL; MI_OUT uses std / sqrt(2 layers) (GPT-2's scaled residual projections) */
  double opt[MIXER_MAX_OPTS]; /* the kind's options, in its opts order (defaults filled in) */
  /* decode_create only: the L the model's layers were made for (a kind whose tensors are as long
   * as the sequence, m2's explicit kernel, needs the decoder's context to be it); 0 elsewhere */
  int64_t L_model;
} mixer_shape;

typedef enum mixer_init {
  MI_NORMAL = 0, /* N(0, init_std) */
  MI_OUT,        /* N(0, init_std / sqrt(2 layers)): projections into the residual stream */
  MI_ONES,
  MI_ZEROS,
  MI_CUSTOM,     /* the kind's init() (an SSM's A, a decay kernel, a dt bias) */
} mixer_init;

typedef struct mixer_tensor {
  char name[32];    /* "wq": the model names it "layer0.attention.wq" */
  size_t size;      /* floats */
  mixer_init init;
  int decays;       /* 1: AdamW's weight decay applies (matrices) */
} mixer_tensor;

typedef struct mixer_kind {
  const char *name;
  const char *summary;
  int channel;      /* 0: a sequence mixer; 1: a channel mixer */
  int n_opts;
  const mixer_opt *opts;
  smx_status (*tensors)(const mixer_shape *s, mixer_tensor *t, int *n);
  smx_status (*create)(const mixer_shape *s, void **state);
  void (*destroy)(void *state);
  /* MI_CUSTOM tensors: fill t (n floats) from the seed; stream is unique per tensor of the model */
  void (*init)(const mixer_shape *s, int i, float *t, size_t n, uint64_t seed, uint32_t stream);
  smx_status (*forward)(void *state, float *const *p, const float *x, float *y, double *aux);
  smx_status (*backward)(void *state, float *const *p, const float *x, const float *dy, float *dx, float *const *g);
  /* Options the finite-difference test runs with (small sizes; a selection that keeps every
   * candidate, since a perturbation must not change what is selected), or NULL. */
  const char *check_options;
  /* Decoding (incremental inference, tasks/model_decode.c), NULL where the kind cannot decode.
   * Channel mixers need none: they are per token, so the model runs their forward on a shape of
   * L = 1 (T = B). A sequence mixer's decoder holds what its past tokens leave behind (a KV cache,
   * a conv window, a recurrent state) for s->B sequences (s->L = 1, s->T = B; the other fields as
   * the model's layer), up to max_ctx tokens each:
   *  - decode_create validates (one error line: options the decode cannot follow) and allocates
   *    everything, so a step allocates nothing of its own (an op's variant state may be remade);
   *  - decode_step takes one new token per sequence, x (B, d) normalized, and writes y (B, d): the
   *    row the forward would give at the current position; then advances the position. It fails
   *    in one line once max_ctx tokens have been taken;
   *  - decode_reset empties the state (position 0), decode_destroy frees it;
   *  - decode_seek (benchmarks: decode speed at a long context without decoding the context
   *    first) moves to position pos <= max_ctx as if pos tokens had been taken: the cache rows
   *    below pos keep what they hold (zeros if never written), a recurrent state is zeroed;
   *  - decode_state_bytes: fp32 bytes of cache / state one sequence holds after ctx tokens (what
   *    must be kept between tokens: not the scratch of a step, nor a second copy kept to update a
   *    state out of place). */
  smx_status (*decode_create)(const mixer_shape *s, int64_t max_ctx, void **state);
  smx_status (*decode_step)(void *state, float *const *p, const float *x, float *y);
  void (*decode_reset)(void *state);
  void (*decode_destroy)(void *state);
  size_t (*decode_state_bytes)(const mixer_shape *s, int64_t ctx);
  void (*decode_seek)(void *state, int64_t pos);
} mixer_kind;

/* tasks/mixers.c: the kinds, lookup, option parsing and pattern expansion */
int mixer_kind_count(void);
const mixer_kind *mixer_kind_at(int i);
const mixer_kind *mixer_kind_find(const char *name); /* NULL when unknown */
/* Expands a per-layer pattern ("attention,ssd", "attention,conba*7", cycled over `layers`) into
 * kinds[layers]; channel = 1 for a channel pattern ("none" gives NULL entries). One error line
 * on an unknown name or a kind of the other family. */
smx_status mixer_pattern_expand(const char *pattern, int channel, int layers, const mixer_kind **kinds);
/* Fills s->opt for kind k from "ssd.N=16,moe.E=8" (entries of other kinds are ignored; unknown
 * option names of a kind in the pattern, non-numbers and out-of-range values are errors). */
smx_status mixer_options_parse(const mixer_kind *k, const char *options, mixer_shape *s);
/* Every "kind.name" in options must name a known kind and one of its options. */
smx_status mixer_options_validate(const char *options);

/* The op configurations ("K=V,..." specs) of the layers built on registered ops, written by each
 * CPU layer (tasks/mixer_<kind>.c) and used by its CUDA side too (tasks/mixer_cuda_<kind>.c), so
 * both run the same ops on the same shapes. */
#define MIXER_SPEC_LEN 256
typedef char mixer_spec[MIXER_SPEC_LEN];
/* attention: 1 when attention.rope=1, and the rotation of q and k then */
int mixer_attention_rope(const mixer_shape *s);
void mixer_attention_rope_spec(const mixer_shape *s, mixer_spec rope);
/* ssd: the short conv and the SSD (options validated by the kind's tensors()) */
void mixer_ssd_op_specs(const mixer_shape *s, mixer_spec conv, mixer_spec ssd);
/* dma: the per-key bias and the attention */
void mixer_dma_op_specs(const mixer_shape *s, mixer_spec bias, mixer_spec attn);
/* h3: the gated long conv (fftconv), the SSM kernel, and the shift filter: shortconv when
 * *shortconv = 1, else an ungated fftconv */
void mixer_h3_op_specs(const mixer_shape *s, mixer_spec conv, mixer_spec kern, mixer_spec shift, int *shortconv);
/* m2: the short conv, the gated long conv, and the filter: longconv_kernel when *explicit_kernel =
 * 1, else hyena_filter */
void mixer_m2_op_specs(const mixer_shape *s, mixer_spec conv, mixer_spec fft, mixer_spec filt, int *explicit_kernel);
/* moe and cdmoe (tasks/mixer_moe.c, tasks/mixer_cdmoe.c): the op's configuration, whether the
 * shared GLU is there, and moe's aux weight. */
void mixer_moe_op_spec(const mixer_shape *s, char *spec, size_t n, int *shared, float *aux_weight);
void mixer_cdmoe_op_spec(const mixer_shape *s, char *spec, size_t n, int *shared);
/* The conba op configuration of a conba layer (tasks/mixer_conba.c); its weights are the op's slots. */
void mixer_conba_op_spec(const mixer_shape *s, char *spec, size_t n);

/* tasks/mixer_util.c: shared helpers */
/* N(0, std) by Box-Muller from the seed's Philox words (stream = tensor index): the model's init */
void mixer_fill_normal(float *x, size_t n, uint64_t seed, uint32_t stream, float std);
/* uniform [lo, hi) from the seed's Philox words */
void mixer_fill_uniform(float *x, size_t n, uint64_t seed, uint32_t stream, float lo, float hi);
/* y += x, z = x + y style helpers */
void mixer_add(float *y, const float *x, size_t n);
/* allocation of a list of (T*cols) float buffers: NULL-terminated pairs (float **, size_t floats) */
smx_status mixer_alloc(const char *what, ...);

#endif
