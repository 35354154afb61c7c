/* Long-context efficiency: the architectures, prefill and decode timing, and the longest context
 * that fits a memory budget (include/seqmix/efficiency.h).
 *
 * Timing follows the harness's rules (validate, then time): every measurement is preceded by an
 * untimed run of the same work (first-touch page faults, OpenMP thread start-up, the op variants'
 * first-call setup), and the figure is the median of the timed runs, so one slow outlier (another
 * process, a timer tick) does not move it. The model's parameters are drawn from seed 1: the cost
 * of a forward does not depend on their values.
 *
 *   build/tests/seqmix_tests --filter efficiency/'*'
 */
#include "seqmix/efficiency.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/buffer.h"
#include "seqmix/stats.h"
#include "seqmix/tasks.h"
#include "seqmix/timer.h"

/* MixCon's hybrids: blocks of 8 layers, attention 1:7 or 2:6 against Conba, MoE every other
 * layer (Jamba's layout, which MixCon follows); Jamba itself with Mamba (here: SSD, the Mamba-2
 * block) in Conba's place; Mixtral: attention and MoE in every layer. */
static const smx_eff_arch archs[] = {
    {"attention", "attention", "mlp", "attention.rope=1", "softmax attention (RoPE), a KV cache growing with the context"},
    {"dma", "dma", "mlp", "", "dynamic mask attention (every key), KV cache plus a per-key bias"},
    {"ssd", "ssd", "mlp", "", "Mamba-2 blocks (SSD): a fixed conv window and state"},
    {"conba", "conba", "mlp", "", "Conba (MixCon's SSM): a fixed conv window and state"},
    {"h3", "h3", "mlp", "", "H3: shift and diagonal SSMs by FFT convolution; decodes as recurrences (a fixed window and state)"},
    {"m2", "m2", "mlp", "",
     "M2: gated long convolution by an implicit filter; decodes over its cached inputs (d floats per token, O(ctx) a step)"},
    {"mixcon-1:7", "attention,conba*7", "mlp,moe", "attention.rope=1",
     "MixCon: 1 attention per 7 Conba layers, MoE every other layer"},
    {"mixcon-2:6", "attention,conba*3", "mlp,moe", "attention.rope=1",
     "MixCon: 2 attention per 6 Conba layers, MoE every other layer"},
    {"jamba-1:7", "attention,ssd*7", "mlp,moe", "attention.rope=1",
     "Jamba-like: 1 attention per 7 SSD layers, MoE every other layer"},
    {"mixtral", "attention", "moe", "attention.rope=1", "Mixtral-like: attention and a top-2 MoE in every layer"},
};

int smx_eff_arch_count(void) { return (int)(sizeof archs / sizeof archs[0]); }
const smx_eff_arch *smx_eff_arch_at(int i) { return i >= 0 && i < smx_eff_arch_count() ? &archs[i] : NULL; }

smx_status smx_eff_arch_lookup(const char *name, const smx_eff_arch **out) {
  *out = NULL;
  char known[512];
  size_t o = 0;
  known[0] = 0;
  for (int i = 0; i < smx_eff_arch_count(); i++) {
    if (name && !strcmp(name, archs[i].name)) {
      *out = &archs[i];
      return SMX_OK;
    }
    if (o < sizeof known) o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", i ? ", " : "", archs[i].name);
  }
  return smx_fail(SMX_ERR_INVALID, "unknown architecture '%s' (known: %s)", name ? name : "", known);
}

smx_status smx_eff_model_config(const smx_eff_arch *a, const smx_eff_shape *s, smx_model_config *out) {
  memset(out, 0, sizeof *out);
  out->vocab = s->vocab, out->d = s->d, out->layers = s->layers, out->heads = s->heads, out->d_ff = s->d_ff;
  out->max_len = 0; /* RoPE in attention instead: no length limit */
  out->device = SMX_DEV_CPU;
  snprintf(out->mixer, sizeof out->mixer, "%s", a->mixer);
  snprintf(out->channel, sizeof out->channel, "%s", a->channel);
  snprintf(out->options, sizeof out->options, "%s", a->options);
  smx_status st;
  if ((st = smx_model_pattern_check(out->mixer, 0, out->layers)) != SMX_OK ||
      (st = smx_model_pattern_check(out->channel, 1, out->layers)) != SMX_OK || (st = smx_model_options_check(out->options)) != SMX_OK)
    return st;
  return SMX_OK;
}

/* a token sequence over the vocabulary (its values do not change the cost) */
static void fill_ids(int32_t *ids, int64_t n, int64_t vocab) {
  for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 7919 + 13) % vocab);
}

smx_status smx_eff_prefill(const smx_model_config *mc, int64_t ctx, int reps, double *median_s) {
  *median_s = NAN;
  if (ctx < 1 || reps < 1 || reps > 101)
    return smx_fail(SMX_ERR_INVALID, "prefill: context %lld and repetitions %d must be >= 1 (repetitions <= 101)",
                    (long long)ctx, reps);
  smx_model *m = NULL;
  smx_status st = smx_model_create(mc, 1, ctx, &m);
  if (st != SMX_OK) return st;
  int32_t *ids = smx_host_alloc((size_t)ctx * sizeof *ids), *labels = smx_host_alloc((size_t)ctx * sizeof *labels);
  double t[101];
  if (!ids || !labels) st = smx_fail(SMX_ERR_NOMEM, "prefill: cannot allocate %lld tokens", (long long)ctx);
  if (st == SMX_OK) st = smx_model_init(m, 1);
  if (st == SMX_OK) {
    fill_ids(ids, ctx, mc->vocab);
    for (int64_t i = 0; i < ctx; i++) labels[i] = SMX_IGNORE_LABEL; /* no loss: the forward alone */
    float loss;
    for (int r = -1; r < reps && st == SMX_OK; r++) {
      double t0 = smx_now();
      st = smx_model_step(m, ids, labels, 0, &loss, NULL);
      if (r >= 0) t[r] = smx_now() - t0;
    }
  }
  if (st == SMX_OK) *median_s = smx_median(t, (size_t)reps);
  smx_host_free(ids);
  smx_host_free(labels);
  smx_model_destroy(m);
  return st;
}

smx_status smx_eff_decode(const smx_model_config *mc, int64_t ctx, int64_t tokens, double *median_s) {
  *median_s = NAN;
  if (ctx < 0 || tokens < 1 || tokens > 1024)
    return smx_fail(SMX_ERR_INVALID, "decode: context %lld must be >= 0 and tokens %lld in 1..1024", (long long)ctx,
                    (long long)tokens);
  const int64_t warm = 2;
  smx_model *m = NULL;
  smx_model_decoder *d = NULL;
  double *t = malloc((size_t)tokens * sizeof *t);
  if (!t) return smx_fail(SMX_ERR_NOMEM, "decode: cannot allocate %lld timings", (long long)tokens);
  smx_status st = smx_model_create(mc, 1, 1, &m);
  if (st == SMX_OK) st = smx_model_init(m, 1);
  if (st == SMX_OK) st = smx_model_decoder_create(m, 1, ctx + warm + tokens, &d);
  if (st == SMX_OK) st = smx_model_decoder_seek(d, ctx);
  for (int64_t i = -warm; i < tokens && st == SMX_OK; i++) {
    int32_t id = (int32_t)((ctx + warm + i) % mc->vocab);
    double t0 = smx_now();
    st = smx_model_decode(d, &id, NULL);
    if (i >= 0) t[i] = smx_now() - t0;
  }
  if (st == SMX_OK) *median_s = smx_median(t, (size_t)tokens);
  free(t);
  smx_model_decoder_destroy(d);
  smx_model_destroy(m);
  return st;
}

smx_status smx_eff_max_context(const smx_model_config *mc, size_t params, double budget, int64_t limit, int64_t *ctx) {
  *ctx = -1;
  size_t s0, s1;
  smx_status st;
  if ((st = smx_model_state_bytes(mc, 0, &s0)) != SMX_OK || (st = smx_model_state_bytes(mc, 1, &s1)) != SMX_OK) return st;
  double fixed = (double)params * sizeof(float) + (double)s0, per_token = (double)(s1 - s0);
  if (fixed > budget) return SMX_OK;
  if (per_token <= 0) {
    *ctx = limit;
    return SMX_OK;
  }
  double n = floor((budget - fixed) / per_token); /* the state is linear in the context */
  *ctx = n >= (double)limit ? limit : (int64_t)n;
  return SMX_OK;
}
