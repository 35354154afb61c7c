/* The task runner's language model (tasks/model.c), fp32, on the CPU or on CUDA (tasks/model_cuda.c):
 *
 *   x = embedding(ids) [+ learned positions]
 *   per layer l: x = x + mixer_l(norm(x));  x = x + channel_l(norm(x))   (channel "none": no second half)
 *   h = norm(x), or with pool "mean" its running mean h_t = (1/(t+1)) sum_{s<=t} norm(x)_s over each
 *       sequence (S4's pooled decoder: a classification label at the last real token reads the mean
 *       of the whole sequence so far, padding after it never enters)
 *   loss = cross-entropy of the tied LM head on h, only at labelled positions (-100 elsewhere)
 *          + the channel mixers' weighted auxiliary losses (MoE load balancing)
 *
 * Norms are LayerNorm (Zoology's blocks). The mixers of each layer come from per-layer patterns
 * cycled over the layers: sequence mixers attention, dma, ssd, h3, m2, conba ("attention,ssd" =
 * alternate; "attention,conba*7" = MixCon's 1:7), channel mixers none, mlp, moe, cdmoe ("none,moe"
 * = MoE every other layer). Each kind's options are written "kind.name=value" ("ssd.N=16,ssd.rope=1");
 * `seqmix task mixers` lists the kinds, options and defaults (tasks/mixer_<kind>.c documents each
 * layer's math and which op computes it).
 *
 * Parameters live in one flat array (one AdamW call updates them all), in the order
 * smx_model_param_name lists; gradients have the same layout. A model is created for one batch
 * shape (B sequences of L tokens): activations for the backward and every workspace are allocated
 * once, so a training step allocates nothing. CPU results are bitwise repeatable at a fixed thread
 * count; CUDA results agree with them to rounding (cuBLAS orders its sums its own way, and the
 * flash attention backward sums dQ by atomics, so CUDA runs do not repeat bit for bit). A CUDA
 * model keeps parameters, gradients and AdamW moments on the device; the mixer kinds with a CUDA
 * path are listed by `seqmix task mixers`, and a model with another kind is refused in one line.
 *
 *   tests: build/tests/seqmix_tests --filter model/'*'    (finite-difference check of every gradient)
 *          build/tests/seqmix_tests --filter mixers/'*'   (each mixer kind on its own)
 *          build/tests/seqmix_tests --filter model_decode/'*'   (decoding against the full forward)
 */
#ifndef SEQMIX_MODEL_H
#define SEQMIX_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "seqmix/device.h"
#include "seqmix/model_ops.h"
#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMX_MODEL_PATTERN_LEN 128
#define SMX_MODEL_OPTIONS_LEN 512

/* What the head reads at a position: the final norm there, or its running mean (see above). */
typedef enum smx_model_pool { SMX_POOL_NONE = 0, SMX_POOL_MEAN = 1 } smx_model_pool;

typedef struct smx_model_config {
  int64_t vocab;      /* V: tokens in [0, V) */
  int64_t d;          /* model width */
  int64_t layers;
  int64_t heads;      /* attention and dma heads; d must be a multiple */
  int64_t d_ff;       /* the MLP's hidden width (SwiGLU) */
  int64_t max_len;    /* > 0: learned positions for up to max_len tokens; 0: none */
  char mixer[SMX_MODEL_PATTERN_LEN];   /* sequence mixers per layer, cycled: "attention" (empty = attention) */
  char channel[SMX_MODEL_PATTERN_LEN]; /* channel mixers per layer, cycled: "none", "mlp", "none,moe" (empty = none) */
  char options[SMX_MODEL_OPTIONS_LEN]; /* "kind.name=value,..." (empty = every default) */
  float norm_eps;     /* LayerNorm epsilon (1e-5 if 0) */
  float init_std;     /* N(0, std) weights (0.02 if 0); output projections scaled by 1/sqrt(2 layers) */
  smx_device device;  /* SMX_DEV_CPU (the zero value) or SMX_DEV_CUDA */
  smx_model_pool pool; /* SMX_POOL_NONE (the zero value) or SMX_POOL_MEAN */
} smx_model_config;

/* "none" / "mean"; parse gives one error line for another name. */
const char *smx_model_pool_name(smx_model_pool p);
smx_status smx_model_pool_parse(const char *name, smx_model_pool *out);

typedef struct smx_model smx_model;

/* Checks a pattern or options string on its own (one error line): what a CLI or sweep validates
 * before training. channel = 1 for a channel-mixer pattern. */
smx_status smx_model_pattern_check(const char *pattern, int channel, int64_t layers);
smx_status smx_model_options_check(const char *options);
/* 1 when every layer's sequence mixer is attention (Zoology gives only those learned positions). */
int smx_model_attention_only(const smx_model_config *c);
/* Writes the mixer kinds, their options and defaults, one per line (seqmix task mixers). */
void smx_model_describe_mixers(FILE *out);

/* Validates the configuration (one error line) and allocates parameters, gradients, activations
 * and workspaces for batches of B sequences of L tokens. */
smx_status smx_model_create(const smx_model_config *c, int64_t B, int64_t L, smx_model **out);
void smx_model_destroy(smx_model *m);

size_t smx_model_param_count(const smx_model *m);
smx_device smx_model_device(const smx_model *m);
/* The parameters and gradients in host memory. On CUDA these are copies: current after
 * smx_model_init and smx_model_sync; writing them does not reach the device. */
float *smx_model_params(smx_model *m);
float *smx_model_grads(smx_model *m);
/* CUDA: copies the device's parameters and last gradients to the host arrays above; CPU: nothing. */
smx_status smx_model_sync(smx_model *m);
/* One AdamW step (step >= 1) on every parameter on the model's device, h->weight_decay applied to
 * the tensors smx_model_param_decays marks and 0 to the rest; the moments live in the model. */
smx_status smx_model_adamw_step(smx_model *m, int64_t step, const smx_adamw_hparams *h);
/* Tensor i of the flat parameter array: its name ("layer0.wq"), offset and size; i out of range: NULL. */
const char *smx_model_param_name(const smx_model *m, int i, size_t *offset, size_t *size);
/* 1 where AdamW's weight decay applies (matrices), 0 for norms' gains and biases. */
int smx_model_param_decays(const smx_model *m, int i);

/* Draws every parameter from the seed (Philox): weights N(0, init_std), norms' gains 1, biases 0
 * (the same values on every device), and zeroes the AdamW moments. */
smx_status smx_model_init(smx_model *m, uint64_t seed);

/* Forward on ids (B, L) with labels (B, L) (-100: no loss); *loss = the mean cross-entropy over
 * labelled positions (0 when none). pred (B, L) or NULL: the argmax class at labelled positions,
 * -1 elsewhere. backward = 1 also writes the gradients of the loss (overwriting them). */
smx_status smx_model_step(smx_model *m, const int32_t *ids, const int32_t *labels, int backward, float *loss,
                          int32_t *pred);

/* The logits (B, L, V) of the tied LM head on ids (B, L): h E^T at every position (CPU models). */
smx_status smx_model_logits(smx_model *m, const int32_t *ids, float *logits);

/* ---- decoding (tasks/model_decode.c; docs/task_runner.md, "Decoding") ----
 * Token-by-token inference on the CPU for B sequences: each call takes one new token per sequence
 * at the current position and gives the logits the full forward gives there. Sequence mixers keep
 * a KV cache (attention, dma), a conv window and recurrent state (ssd, conba, h3) or the long
 * convolution's past inputs (m2, whose implicit filter is made for a length of max_ctx: its decoder
 * is the forward over max_ctx tokens); channel mixers are per token. The decoder reads the model's
 * current parameters at every step; the model must outlive it. */
typedef struct smx_model_decoder smx_model_decoder;

/* Refused in one line when a layer's sequence mixer cannot decode with its options (dma's top-w
 * selection; m2's explicit kernel unless max_ctx is the model's L), when the model is on CUDA, or
 * when max_ctx is longer than the model's learned positions. */
smx_status smx_model_decoder_create(smx_model *m, int64_t B, int64_t max_ctx, smx_model_decoder **out);
/* ids (B): one token per sequence; logits (B, V) or NULL (prefill without the head). Fails in one
 * line once max_ctx tokens have been decoded (nothing changes then). */
smx_status smx_model_decode(smx_model_decoder *d, const int32_t *ids, float *logits);
void smx_model_decoder_reset(smx_model_decoder *d); /* back to position 0, every state emptied */
int64_t smx_model_decoder_position(const smx_model_decoder *d); /* tokens decoded per sequence */
/* Benchmarks only: position pos (0..max_ctx) as if pos tokens had been decoded, without decoding
 * them: KV cache rows keep what they hold (zeros if never written), recurrent states are zeroed.
 * The next steps cost what they cost at that context; their logits mean nothing. */
smx_status smx_model_decoder_seek(smx_model_decoder *d, int64_t pos);
/* fp32 bytes of cache and state one sequence holds at the current position */
size_t smx_model_decoder_state_bytes(const smx_model_decoder *d);
void smx_model_decoder_destroy(smx_model_decoder *d);
/* The same for a configuration after ctx tokens, without a model (tables against context length);
 * one error line on a bad configuration or a kind that cannot decode. */
smx_status smx_model_state_bytes(const smx_model_config *c, int64_t ctx, size_t *out);

#ifdef __cplusplus
}
#endif
#endif
