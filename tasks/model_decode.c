/* Token-by-token decoding (incremental inference) of the task runner's model on the CPU
 * (include/seqmix/model.h: smx_model_decoder_*): the model's forward taken one position at a time
 * for B sequences, with each sequence mixer's decode hooks (tasks/mixer.h) holding what the past
 * tokens leave behind: the KV cache of attention and dma, the conv windows and recurrent states of
 * ssd, conba and h3, the past inputs of m2's long convolution. Channel mixers are per token, so each runs its own forward on a shape of one token per
 * sequence (L = 1, T = B); MoE routing is per token and has no capacity limit, so a token gets the
 * experts and gates it gets in the full sequence. A step:
 *
 *   x = embedding(ids) [+ positions[position]]
 *   per half-block: x += mixer.decode_step(norm(x))   or   x += channel.forward(norm(x))
 *   logits = norm_f(x) E^T                            (the tied head, as smx_model_logits)
 *   (pool "mean": the head reads the running mean of norm_f(x) over the positions so far, kept as a
 *    sum in double per sequence, so norm_f runs at every step, prefill included)
 *
 * The decoder reads the model's parameters when it steps (pointers into them), so it decodes with
 * whatever the model holds then. Checked against smx_model_logits at every position by
 * tests/test_model_decode.c; docs/task_runner.md, "Decoding", has the state sizes per kind.
 *
 *   build/tests/seqmix_tests --filter model_decode/'*'
 */
#include <stdio.h>
#include <string.h>

#include "seqmix/buffer.h"
#include "seqmix/model.h"
#include "seqmix/model_ops.h"
#include "tasks/mixer.h"
#include "tasks/model_internal.h"

typedef struct dec_half {
  const mixer_kind *kind; /* NULL: channel "none" */
  mixer_shape shape;      /* B sequences of one token */
  void *state;            /* the decode state (sequence mixers) or the layer (channel mixers) */
} dec_half;

struct smx_model_decoder {
  smx_model *m;
  int64_t B, max_ctx, pos, d, V;
  int n_halves;
  dec_half *h;
  float *x, *n, *y, *mean, *rstd; /* (B, d), (B) */
  double *pool_sum;               /* pool "mean": the sum of norm_f(x) over the positions so far (B, d) */
};

/* "attention, ssd, conba": the sequence mixer kinds that decode */
static void decoding_kinds(char *buf, size_t size) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < mixer_kind_count() && o < size; i++) {
    const mixer_kind *k = mixer_kind_at(i);
    if (!k->channel && k->decode_create) o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? ", " : "", k->name);
  }
}

static smx_status no_decode(int layer, const char *kind) {
  char names[256];
  decoding_kinds(names, sizeof names);
  return smx_fail(SMX_ERR_UNSUPPORTED, "model decode: layer %d's sequence mixer %s cannot decode (kinds that decode: %s)",
                  layer, kind, names);
}

smx_status smx_model_state_bytes(const smx_model_config *c, int64_t ctx, size_t *out) {
  *out = 0;
  if (ctx < 0) return smx_fail(SMX_ERR_INVALID, "model state bytes: context %lld is negative", (long long)ctx);
  if (c->layers < 1 || c->layers > 64) return smx_fail(SMX_ERR_INVALID, "model layers %lld is out of range (1..64)", (long long)c->layers);
  const mixer_kind *seq[64];
  smx_status s;
  if ((s = mixer_pattern_expand(c->mixer, 0, (int)c->layers, seq)) != SMX_OK || (s = mixer_options_validate(c->options)) != SMX_OK)
    return s;
  size_t total = 0;
  for (int l = 0; l < (int)c->layers; l++) {
    mixer_shape sh = {.B = 1, .L = 1, .T = 1, .d = c->d, .heads = c->heads, .d_ff = c->d_ff, .layer = l,
                      .layers = (int)c->layers, .init_std = c->init_std};
    mixer_tensor t[MIXER_MAX_TENSORS];
    int nt = 0;
    if ((s = mixer_options_parse(seq[l], c->options, &sh)) != SMX_OK || (s = seq[l]->tensors(&sh, t, &nt)) != SMX_OK) return s;
    if (!seq[l]->decode_state_bytes) return no_decode(l, seq[l]->name);
    total += seq[l]->decode_state_bytes(&sh, ctx);
  }
  *out = total;
  return SMX_OK;
}

void smx_model_decoder_destroy(smx_model_decoder *d) {
  if (!d) return;
  if (d->h)
    for (int i = 0; i < d->n_halves; i++) {
      dec_half *h = &d->h[i];
      if (!h->kind || !h->state) continue;
      if (h->kind->channel) h->kind->destroy(h->state);
      else h->kind->decode_destroy(h->state);
    }
  smx_host_free(d->h);
  smx_host_free(d->pool_sum);
  float *b[] = {d->x, d->n, d->y, d->mean, d->rstd};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  smx_host_free(d);
}

smx_status smx_model_decoder_create(smx_model *m, int64_t B, int64_t max_ctx, smx_model_decoder **out) {
  *out = NULL;
  const smx_model_config *c = model_config(m);
  if (c->device != SMX_DEV_CPU) return smx_fail(SMX_ERR_UNSUPPORTED, "model decode: the model is on CUDA (decoding runs on the CPU only)");
  if (B < 1 || max_ctx < 1 || B > (1 << 20))
    return smx_fail(SMX_ERR_INVALID, "model decode: %lld sequences of up to %lld tokens is out of range", (long long)B,
                    (long long)max_ctx);
  if (c->max_len > 0 && max_ctx > c->max_len)
    return smx_fail(SMX_ERR_INVALID, "model decode: context %lld is longer than the model's %lld learned positions",
                    (long long)max_ctx, (long long)c->max_len);
  int nh = model_n_halves(m);
  for (int i = 0; i < nh; i += 2) {
    model_half_view v;
    model_half(m, i, &v);
    if (!v.kind->decode_create) return no_decode(i / 2, v.kind->name);
  }
  smx_model_decoder *d = smx_host_alloc(sizeof *d);
  if (!d) return smx_fail(SMX_ERR_NOMEM, "model decode: cannot allocate the decoder");
  d->m = m, d->B = B, d->max_ctx = max_ctx, d->d = c->d, d->V = c->vocab, d->n_halves = nh;
  size_t Bd = (size_t)(B * c->d);
  smx_status s = mixer_alloc("model decode", &d->x, Bd, &d->n, Bd, &d->y, Bd, &d->mean, (size_t)B, &d->rstd, (size_t)B, (float **)NULL);
  if (s == SMX_OK && !(d->h = smx_host_alloc((size_t)nh * sizeof *d->h)))
    s = smx_fail(SMX_ERR_NOMEM, "model decode: cannot allocate the decoder");
  if (s == SMX_OK && c->pool == SMX_POOL_MEAN) {
    if (!(d->pool_sum = smx_host_alloc(Bd * sizeof(double)))) s = smx_fail(SMX_ERR_NOMEM, "model decode: cannot allocate the decoder");
    else memset(d->pool_sum, 0, Bd * sizeof(double));
  }
  for (int i = 0; s == SMX_OK && i < nh; i++) {
    model_half_view v;
    model_half(m, i, &v);
    dec_half *h = &d->h[i];
    if (!(h->kind = v.kind)) continue;
    h->shape = *v.shape;
    h->shape.L_model = h->shape.L;
    h->shape.B = B, h->shape.L = 1, h->shape.T = B;
    s = h->kind->channel ? h->kind->create(&h->shape, &h->state) : h->kind->decode_create(&h->shape, max_ctx, &h->state);
    if (s != SMX_OK) h->state = NULL;
  }
  if (s != SMX_OK) {
    smx_model_decoder_destroy(d);
    return s;
  }
  *out = d;
  return SMX_OK;
}

void smx_model_decoder_reset(smx_model_decoder *d) {
  for (int i = 0; i < d->n_halves; i++)
    if (d->h[i].kind && !d->h[i].kind->channel) d->h[i].kind->decode_reset(d->h[i].state);
  if (d->pool_sum) memset(d->pool_sum, 0, (size_t)(d->B * d->d) * sizeof(double));
  d->pos = 0;
}

smx_status smx_model_decoder_seek(smx_model_decoder *d, int64_t pos) {
  if (pos < 0 || pos > d->max_ctx)
    return smx_fail(SMX_ERR_INVALID, "model decode: cannot seek to position %lld (the decoder holds 0..%lld)", (long long)pos,
                    (long long)d->max_ctx);
  for (int i = 0; i < d->n_halves; i++)
    if (d->h[i].kind && !d->h[i].kind->channel) d->h[i].kind->decode_seek(d->h[i].state, pos);
  if (d->pool_sum) memset(d->pool_sum, 0, (size_t)(d->B * d->d) * sizeof(double));
  d->pos = pos;
  return SMX_OK;
}

int64_t smx_model_decoder_position(const smx_model_decoder *d) { return d->pos; }

size_t smx_model_decoder_state_bytes(const smx_model_decoder *d) {
  size_t total = 0;
  for (int i = 0; i < d->n_halves; i++)
    if (d->h[i].kind && !d->h[i].kind->channel) total += d->h[i].kind->decode_state_bytes(&d->h[i].shape, d->pos);
  return total;
}

#define TRY(call)                                                                                                      \
  do {                                                                                                                 \
    smx_status st_ = (call);                                                                                           \
    if (st_ != SMX_OK) return st_;                                                                                     \
  } while (0)

smx_status smx_model_decode(smx_model_decoder *d, const int32_t *ids, float *logits) {
  int64_t B = d->B, dm = d->d;
  if (!ids) return smx_fail(SMX_ERR_INVALID, "smx_model_decode: ids are required");
  if (d->pos >= d->max_ctx)
    return smx_fail(SMX_ERR_INVALID, "model decode: the decoder is full (%lld tokens per sequence); reset it or create a longer one",
                    (long long)d->max_ctx);
  for (int64_t b = 0; b < B; b++)
    if (ids[b] < 0 || ids[b] >= d->V)
      return smx_fail(SMX_ERR_INVALID, "token %d of sequence %lld is outside the vocabulary [0, %lld)", ids[b], (long long)b,
                      (long long)d->V);
  const smx_model_config *c = model_config(d->m);
  const float *emb, *pos, *nfw, *nfb;
  model_globals(d->m, &emb, &pos, &nfw, &nfb);
  TRY(smx_embedding_fwd_cpu(B, d->V, dm, ids, emb, d->x));
  if (c->max_len > 0)
    for (int64_t b = 0; b < B; b++)
      for (int64_t j = 0; j < dm; j++) d->x[b * dm + j] += pos[d->pos * dm + j];
  for (int i = 0; i < d->n_halves; i++) {
    dec_half *h = &d->h[i];
    if (!h->kind) continue;
    model_half_view v;
    model_half(d->m, i, &v);
    TRY(smx_layernorm_fwd_cpu(B, dm, c->norm_eps, d->x, v.norm_w, v.norm_b, d->n, d->mean, d->rstd));
    if (h->kind->channel) {
      double aux = 0; /* the load-balancing loss: training only */
      TRY(h->kind->forward(h->state, v.w, d->n, d->y, &aux));
    } else {
      TRY(h->kind->decode_step(h->state, v.w, d->n, d->y));
    }
    mixer_add(d->x, d->y, (size_t)(B * dm));
  }
  d->pos++;
  if (!logits && !d->pool_sum) return SMX_OK;
  TRY(smx_layernorm_fwd_cpu(B, dm, c->norm_eps, d->x, nfw, nfb, d->n, d->mean, d->rstd));
  if (d->pool_sum) /* the same sums in the same order as the forward's running mean */
    for (int64_t i = 0; i < B * dm; i++) {
      d->pool_sum[i] += d->n[i];
      d->n[i] = (float)(d->pool_sum[i] / (double)d->pos);
    }
  return logits ? smx_linear_fwd_cpu(B, dm, d->V, d->n, emb, NULL, logits) : SMX_OK;
}
