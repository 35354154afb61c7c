/* Long-context efficiency of the task runner's model (tasks/efficiency.c): per architecture, the
 * prefill throughput (tokens per second of one forward over a context), the decode throughput
 * (tokens per second of one more token after a context, from the decoder of include/seqmix/model.h)
 * and the bytes of KV cache and recurrent state one sequence holds, against the context length;
 * and the longest context whose state fits a memory budget beside the parameters. MixCon's Table 1
 * and Figures 3-5 in seqmix's terms (docs/task_runner.md, "Long-context efficiency").
 *
 * The architectures are the model's mixer patterns at one width and depth: each kind alone, and
 * the hybrids the MixCon comparison names (MixCon 1:7 and 2:6 with MoE every other layer, a
 * Jamba-like attention + SSD 1:7 and a Mixtral-like attention + MoE model).
 *
 *   seqmix task efficiency --ctx 1024,4096,16384 --out eff.json --plots DIR
 *   build/tests/seqmix_tests --filter efficiency/'*'
 */
#ifndef SEQMIX_EFFICIENCY_H
#define SEQMIX_EFFICIENCY_H

#include <stddef.h>
#include <stdint.h>

#include "seqmix/model.h"
#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smx_eff_arch {
  const char *name;    /* "mixcon-1:7" */
  const char *mixer;   /* the model's sequence-mixer pattern, cycled over the layers */
  const char *channel; /* the channel pattern */
  const char *options; /* mixer options */
  const char *summary;
} smx_eff_arch;

int smx_eff_arch_count(void);
const smx_eff_arch *smx_eff_arch_at(int i);
/* Unknown names fail with one line listing the known ones. */
smx_status smx_eff_arch_lookup(const char *name, const smx_eff_arch **out);

typedef struct smx_eff_shape {
  int64_t vocab, d, layers, heads, d_ff;
} smx_eff_shape;

/* The model configuration of an architecture at a shape: no learned positions (attention layers
 * use RoPE, attention.rope=1, so any context is a valid position), CPU. */
smx_status smx_eff_model_config(const smx_eff_arch *a, const smx_eff_shape *s, smx_model_config *out);

/* Median seconds of `reps` forward passes over one sequence of ctx tokens (after one untimed
 * pass): the prefill. A model that cannot be allocated at ctx fails with SMX_ERR_NOMEM. */
smx_status smx_eff_prefill(const smx_model_config *mc, int64_t ctx, int reps, double *median_s);
/* Median seconds per token of `tokens` decode steps of one sequence after a context of ctx tokens
 * (the decoder seeks to ctx: the steps cost what they cost there; two untimed steps first).
 * SMX_ERR_UNSUPPORTED (one line) when a layer's kind cannot decode. */
smx_status smx_eff_decode(const smx_model_config *mc, int64_t ctx, int64_t tokens, double *median_s);
/* The longest context whose fp32 KV cache and state (smx_model_state_bytes) plus the fp32
 * parameters fit `budget` bytes, up to `limit`: *ctx = -1 when even no context fits, `limit`
 * when the state does not grow with the context (or the limit fits). */
smx_status smx_eff_max_context(const smx_model_config *mc, size_t params, double budget, int64_t limit, int64_t *ctx);

#ifdef __cplusplus
}
#endif
#endif
