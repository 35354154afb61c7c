/* Token-by-token decoding (tasks/model_decode.c, the decode hooks of tasks/mixer.h) against the
 * full forward.
 *
 * Each sequence mixer kind that decodes, on its own (mixers_decode): a layer's forward on
 * (B = 2, L = 13) against its decode hooks fed the same 13 rows one position at a time. Each model
 * (single kinds, the hybrids "attention,ssd" with "none,moe" and "attention,conba*3" with moe,
 * RoPE in attention and SSD): smx_model_logits on (2, 13) against 13 smx_model_decode calls, at
 * every position; the state bytes against the sizes computed by hand from the shapes; reset
 * reproducing the first run bit for bit; refusal of kinds without decode, of learned positions
 * shorter than the context, and of a token past max_ctx (one error line each).
 *
 * Tolerance: max |decode - full| <= 1e-4 max |full| over all positions. Both sides compute the same
 * fp32 math in different orders: the full forward's chunked SSD, blocked flash attention and
 * GEMMs over 26 rows against the decode's recurrence, flash-decoding over the cache and GEMMs over
 * 2 rows. Those reorderings move results by a few ulp times the condition of the sums (~1e-6
 * relative here); 1e-4 is far above that and far below the effect of the past on the logits,
 * which each test also measures (changing the first token must move later logits by > 1e-2 of
 * their scale), so a cache or state that lost or garbled the past would fail.
 *
 *   build/tests/seqmix_tests --filter model_decode/'*'
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/model.h"
#include "seqmix/philox.h"
#include "tasks/mixer.h"

enum { B = 2, L = 13, D = 16, V = 29 };

static double max_abs(const float *x, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
  return m;
}

/* ---- one mixer kind on its own ---- */

static void mixer_decodes_len(const char *kind, const char *options, int64_t len) {
  const mixer_kind *k = mixer_kind_find(kind);
  cr_assert(k && k->decode_create, "%s has no decode", kind);
  mixer_shape s = {.B = B, .L = len, .T = B * len, .d = D, .heads = 2, .d_ff = 24, .layer = 0, .layers = 2, .init_std = 0.35f};
  cr_assert_eq(mixer_options_parse(k, options, &s), SMX_OK, "%s", smx_last_error());
  mixer_tensor t[MIXER_MAX_TENSORS];
  int nt = 0;
  cr_assert_eq(k->tensors(&s, t, &nt), SMX_OK, "%s", smx_last_error());
  float *p[MIXER_MAX_TENSORS];
  for (int i = 0; i < nt; i++) {
    size_t n = t[i].size;
    p[i] = calloc(n ? n : 1, sizeof(float));
    switch (t[i].init) {
    case MI_NORMAL: mixer_fill_normal(p[i], n, 21, (uint32_t)i, 0.35f); break;
    case MI_OUT: mixer_fill_normal(p[i], n, 21, (uint32_t)i, 0.2f); break;
    case MI_ONES: for (size_t j = 0; j < n; j++) p[i][j] = 1.0f; break;
    case MI_ZEROS: mixer_fill_uniform(p[i], n, 21, (uint32_t)i, -0.3f, 0.3f); break; /* conba's lambda, kappa off zero */
    case MI_CUSTOM: k->init(&s, i, p[i], n, 21, (uint32_t)i); break;
    }
  }
  size_t Td = (size_t)(B * len * D);
  float *x = malloc(Td * 4), *y = malloc(Td * 4), *yd = malloc(Td * 4), *xs = malloc(B * D * 4), *ys = malloc(B * D * 4);
  mixer_fill_uniform(x, Td, 5, 0, -1, 1);
  void *fw = NULL, *dec = NULL;
  cr_assert_eq(k->create(&s, &fw), SMX_OK, "%s", smx_last_error());
  double aux = 0;
  cr_assert_eq(k->forward(fw, p, x, y, &aux), SMX_OK, "%s", smx_last_error());
  mixer_shape s1 = s;
  s1.L_model = s1.L, s1.L = 1, s1.T = B;
  cr_assert_eq(k->decode_create(&s1, len, &dec), SMX_OK, "%s", smx_last_error());
  for (int round = 0; round < 2; round++) { /* the second round after a reset */
    for (int64_t i = 0; i < len; i++) {
      for (int64_t b = 0; b < B; b++) memcpy(xs + b * D, x + (b * len + i) * D, D * 4);
      cr_assert_eq(k->decode_step(dec, p, xs, ys), SMX_OK, "%s: %s", kind, smx_last_error());
      for (int64_t b = 0; b < B; b++) memcpy(yd + (b * len + i) * D, ys + b * D, D * 4);
    }
    double err = 0, scale = max_abs(y, Td);
    for (size_t i = 0; i < Td; i++) err = fmax(err, fabs((double)yd[i] - y[i]));
    cr_expect_leq(err, 1e-4 * scale, "%s (%s) L %lld round %d: decode misses the forward by %g (scale %g)", kind, options,
                  (long long)len, round, err, scale);
    cr_log_info("%s (%s) L %lld round %d: max error %.3g of scale %.3g", kind, options, (long long)len, round, err, scale);
    cr_assert_gt(scale, 1e-2, "%s: the layer's output is too small to test", kind);
    k->decode_reset(dec);
  }
  cr_assert_eq(k->decode_step(dec, p, xs, ys), SMX_OK); /* overflow: fill up, then one more */
  for (int64_t i = 1; i < len; i++) cr_assert_eq(k->decode_step(dec, p, xs, ys), SMX_OK);
  cr_assert_eq(k->decode_step(dec, p, xs, ys), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "full"), "%s", smx_last_error());
  k->decode_destroy(dec);
  k->destroy(fw);
  for (int i = 0; i < nt; i++) free(p[i]);
  free(x), free(y), free(yd), free(xs), free(ys);
}

static void mixer_decodes(const char *kind, const char *options) { mixer_decodes_len(kind, options, L); }

Test(model_decode, mixer_attention) { mixer_decodes("attention", ""); }
Test(model_decode, mixer_attention_rope) { mixer_decodes("attention", "attention.rope=1"); }
Test(model_decode, mixer_ssd) { mixer_decodes("ssd", "ssd.P=4,ssd.N=8,ssd.G=2,ssd.chunk=4"); }
Test(model_decode, mixer_ssd_rope_conv2) { mixer_decodes("ssd", "ssd.P=8,ssd.N=6,ssd.chunk=5,ssd.rope=1,ssd.conv=2"); }
Test(model_decode, mixer_conba) { mixer_decodes("conba", "conba.N=4,conba.K=3"); }
Test(model_decode, mixer_dma) { mixer_decodes("dma", ""); }
Test(model_decode, mixer_dma_w_at_least_the_context) { mixer_decodes("dma", "dma.w=13,dma.select=0"); }
/* past one chunk of keys (the decode steps split the cache into 256-key chunks and combine them) */
Test(model_decode, mixer_dma_over_several_chunks) { mixer_decodes_len("dma", "", 600); }
Test(model_decode, mixer_attention_over_several_chunks) { mixer_decodes_len("attention", "attention.rope=1", 600); }
Test(model_decode, mixer_conba_plain) { mixer_decodes("conba", "conba.N=5,conba.delay=0,conba.scaling=0,conba.feedback=0"); }
Test(model_decode, mixer_h3) { mixer_decodes("h3", ""); }                          /* N = 64, shift 4: shortconv */
Test(model_decode, mixer_h3_shortconv) { mixer_decodes("h3", "h3.N=8,h3.shift=2"); }
Test(model_decode, mixer_h3_fftconv_shift) { mixer_decodes("h3", "h3.N=6,h3.shift=7"); } /* the shift by fftconv */
Test(model_decode, mixer_h3_shift_past_the_context) { mixer_decodes("h3", "h3.N=4,h3.shift=20"); } /* taps >= L cropped */
Test(model_decode, mixer_m2) { mixer_decodes("m2", ""); }                          /* the implicit hyena filter */
Test(model_decode, mixer_m2_wide_filter) { mixer_decodes("m2", "m2.emb=5,m2.order=8,m2.w=3"); }
Test(model_decode, mixer_m2_explicit_kernel) { mixer_decodes("m2", "m2.filter=1"); }
/* long enough for the recurrence's rounding against the FFT's to show, and for modes to decay */
Test(model_decode, mixer_h3_long) { mixer_decodes_len("h3", "h3.N=16,h3.shift=9", 700); }
Test(model_decode, mixer_m2_long) { mixer_decodes_len("m2", "", 700); }

/* ---- whole models ---- */

static smx_model_config config(const char *mixer, const char *channel, const char *options, int64_t layers, int64_t max_len) {
  smx_model_config c = {.vocab = V, .d = D, .layers = layers, .heads = 2, .d_ff = 24, .max_len = max_len, .init_std = 0.3f};
  snprintf(c.mixer, sizeof c.mixer, "%s", mixer);
  snprintf(c.channel, sizeof c.channel, "%s", channel);
  snprintf(c.options, sizeof c.options, "%s", options);
  return c;
}

static smx_model *random_model(const smx_model_config *c) {
  smx_model *m = NULL;
  cr_assert_eq(smx_model_create(c, B, L, &m), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_model_init(m, 7), SMX_OK);
  /* move every parameter off its initial value (gains off 1, biases and conba's lambda, kappa off 0) */
  float *p = smx_model_params(m), *noise = malloc(smx_model_param_count(m) * sizeof *noise);
  mixer_fill_uniform(noise, smx_model_param_count(m), 8, 0, -0.1f, 0.1f);
  for (size_t i = 0; i < smx_model_param_count(m); i++) p[i] += noise[i];
  free(noise);
  return m;
}

static void tokens(int32_t *ids) {
  for (int i = 0; i < B * L; i++) ids[i] = (int32_t)(smx_philox_word(4, 0, (uint64_t)i) % V);
}

/* Decodes (B, L) tokens one position at a time and compares with smx_model_logits; checks the
 * state bytes (expected after L tokens), reset and overflow. */
static void model_decodes(const smx_model_config *c, size_t expect_bytes) {
  smx_model *m = random_model(c);
  int32_t ids[B * L], ids2[B * L], step[B];
  tokens(ids);
  size_t n = (size_t)B * L * V;
  float *full = malloc(n * 4), *full2 = malloc(n * 4), *dec = malloc(n * 4), *dec2 = malloc(n * 4), lg[B * V];
  cr_assert_eq(smx_model_logits(m, ids, full), SMX_OK, "%s", smx_last_error());
  /* the past matters: another first token moves the later logits well above the tolerance */
  memcpy(ids2, ids, sizeof ids);
  for (int b = 0; b < B; b++) ids2[b * L] = (ids[b * L] + 1) % V;
  cr_assert_eq(smx_model_logits(m, ids2, full2), SMX_OK, "%s", smx_last_error());
  double scale = max_abs(full, n), effect = 0;
  for (int b = 0; b < B; b++)
    for (int i = 1; i < L; i++)
      for (int v = 0; v < V; v++) effect = fmax(effect, fabs(full2[(b * L + i) * V + v] - full[(b * L + i) * V + v]));
  cr_expect_gt(effect, 1e-2 * scale, "%s: the context moves the logits by only %g (scale %g)", c->mixer, effect, scale);

  smx_model_decoder *d = NULL;
  cr_assert_eq(smx_model_decoder_create(m, B, L, &d), SMX_OK, "%s", smx_last_error());
  size_t at0 = 0;
  cr_assert_eq(smx_model_state_bytes(c, 0, &at0), SMX_OK, "%s", smx_last_error());
  cr_expect_eq(smx_model_decoder_state_bytes(d), at0); /* before any token: the constant states only */
  for (int round = 0; round < 2; round++) {
    float *out = round ? dec2 : dec;
    for (int i = 0; i < L; i++) {
      cr_assert_eq(smx_model_decoder_position(d), i);
      for (int b = 0; b < B; b++) step[b] = ids[b * L + i];
      cr_assert_eq(smx_model_decode(d, step, lg), SMX_OK, "%s: %s", c->mixer, smx_last_error());
      for (int b = 0; b < B; b++) memcpy(out + (b * L + i) * V, lg + b * V, V * 4);
    }
    cr_assert_eq(smx_model_decoder_state_bytes(d), expect_bytes, "%s: %zu state bytes, expected %zu", c->mixer,
                 smx_model_decoder_state_bytes(d), expect_bytes);
    if (round == 0) {
      /* a token past max_ctx: refused, nothing changes */
      cr_assert_eq(smx_model_decode(d, step, lg), SMX_ERR_INVALID);
      cr_assert(strstr(smx_last_error(), "decoder is full (13 tokens per sequence)"), "%s", smx_last_error());
      cr_assert_eq(smx_model_decoder_position(d), L);
      smx_model_decoder_reset(d);
      cr_assert_eq(smx_model_decoder_position(d), 0);
    }
  }
  double err = 0;
  for (size_t i = 0; i < n; i++) err = fmax(err, fabs((double)dec[i] - full[i]));
  cr_expect_leq(err, 1e-4 * scale, "%s / %s / %s: decode misses the forward by %g (scale %g)", c->mixer, c->channel,
                c->options, err, scale);
  cr_log_info("%s / %s: max error %.3g, context effect %.3g, scale %.3g", c->mixer, c->channel, err, effect, scale);
  cr_expect(!memcmp(dec, dec2, n * 4), "%s: decoding after a reset differs from the first run", c->mixer);
  size_t bytes = 0;
  cr_assert_eq(smx_model_state_bytes(c, L, &bytes), SMX_OK, "%s", smx_last_error());
  cr_expect_eq(bytes, expect_bytes, "%s: smx_model_state_bytes %zu, expected %zu", c->mixer, bytes, expect_bytes);
  smx_model_decoder_destroy(d);
  smx_model_destroy(m);
  free(full), free(full2), free(dec), free(dec2);
}

/* bytes per sequence after ctx tokens, by hand: attention 2 ctx d; ssd (K-1)(E + 2GN) + E N with
 * E = expand d (H P = E); conba E (K-1) + E N; dma ctx (2 d + H); h3 (S - 1 + N) d (the shift window
 * and N/2 complex modes per channel); m2 (ctx + 6) d (the long conv's inputs and the short conv's
 * window of 2 rows of 3d) */
#define F 4u
#define ATTN(ctx) (2u * (ctx) * D * F)
#define SSD(E, G, N, K) ((size_t)(((K) - 1) * ((E) + 2 * (G) * (N)) + (E) * (N)) * F)
#define DMA(ctx) ((ctx) * (2u * D + 2u) * F)
#define CONBA(E, N, K) ((size_t)((E) * ((K) - 1) + (E) * (N)) * F)
#define H3(N, S) ((size_t)(((S) - 1 + (N)) * D) * F)
#define M2(ctx) ((size_t)(((ctx) + 6) * D) * F)

Test(model_decode, attention_mlp_with_positions) {
  smx_model_config c = config("attention", "mlp", "", 2, L);
  model_decodes(&c, 2 * ATTN(L));
}

Test(model_decode, ssd_mlp) {
  smx_model_config c = config("ssd", "mlp", "ssd.P=4,ssd.N=8,ssd.G=2,ssd.chunk=4", 2, 0);
  model_decodes(&c, 2 * SSD(32, 2, 8, 4));
}

Test(model_decode, conba_cdmoe) {
  smx_model_config c = config("conba", "cdmoe", "conba.N=4,conba.K=3,cdmoe.E=16,cdmoe.kh=4", 2, 0);
  model_decodes(&c, 2 * CONBA(32, 4, 3));
}

Test(model_decode, attention_ssd_none_moe) {
  smx_model_config c = config("attention,ssd", "none,moe", "ssd.P=4,ssd.N=8,ssd.chunk=4,moe.E=4,moe.k=2", 4, 0);
  model_decodes(&c, 2 * ATTN(L) + 2 * SSD(32, 1, 8, 4));
}

Test(model_decode, attention_conba3_moe) {
  smx_model_config c = config("attention,conba*3", "moe", "conba.N=4,moe.E=4,moe.k=2,moe.S=8,moe.renorm=1", 4, 0);
  model_decodes(&c, ATTN(L) + 3 * CONBA(32, 4, 4));
}

/* pool "mean": the decoder's running sum of norm_f(x) against the forward's running mean */
Test(model_decode, ssd_attention_mean_pool) {
  smx_model_config c = config("ssd,attention", "mlp", "ssd.P=4,ssd.N=8,ssd.chunk=4,attention.rope=1", 2, 0);
  c.pool = SMX_POOL_MEAN;
  model_decodes(&c, SSD(32, 1, 8, 4) + ATTN(L));
}

Test(model_decode, dma_attention_mlp) {
  smx_model_config c = config("dma,attention", "mlp", "", 2, 0);
  model_decodes(&c, DMA(L) + ATTN(L));
}

Test(model_decode, attention_ssd_both_rope) {
  smx_model_config c = config("attention,ssd", "mlp", "attention.rope=1,ssd.rope=1,ssd.P=8,ssd.N=8,ssd.chunk=4", 2, 0);
  model_decodes(&c, ATTN(L) + SSD(32, 1, 8, 4));
}

Test(model_decode, h3_mlp) {
  smx_model_config c = config("h3", "mlp", "h3.N=8,h3.shift=3", 2, 0);
  model_decodes(&c, 2 * H3(8, 3));
}

Test(model_decode, h3_long_shift_defaults) {
  smx_model_config c = config("h3", "none", "h3.shift=9", 2, 0); /* N = 64; the shift by fftconv */
  model_decodes(&c, 2 * H3(64, 9));
}

Test(model_decode, m2_mlp) {
  smx_model_config c = config("m2", "mlp", "", 2, 0);
  model_decodes(&c, 2 * M2(L));
}

Test(model_decode, m2_explicit_kernel_moe) {
  smx_model_config c = config("m2", "moe", "m2.filter=1,moe.E=4,moe.k=2", 2, 0);
  model_decodes(&c, 2 * M2(L));
}

Test(model_decode, attention_h3_mlp) {
  smx_model_config c = config("attention,h3", "mlp", "attention.rope=1,h3.N=16,h3.shift=4", 2, 0);
  model_decodes(&c, ATTN(L) + H3(16, 4));
}

Test(model_decode, m2_ssd_none_moe) {
  smx_model_config c = config("m2,ssd", "none,moe", "ssd.P=4,ssd.N=8,ssd.chunk=4,moe.E=4,moe.k=2", 4, 0);
  model_decodes(&c, 2 * M2(L) + 2 * SSD(32, 1, 8, 4));
}

/* m2's hyena filter depends on the forward's length (positions t / (L - 1), phases 2 pi t / L):
 * a decoder of max_ctx tokens is the forward over max_ctx tokens. A model of L = 13 decoded for 7
 * tokens gives the logits of the same parameters' forward over 7 tokens, which differ from the
 * first 7 rows of the forward over 13. */
Test(model_decode, m2_decoder_is_the_forward_of_max_ctx) {
  enum { L7 = 7 };
  smx_model_config c = config("m2", "mlp", "", 2, 0);
  smx_model *m = random_model(&c), *m7 = NULL;
  cr_assert_eq(smx_model_create(&c, B, L7, &m7), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_model_param_count(m7), smx_model_param_count(m));
  memcpy(smx_model_params(m7), smx_model_params(m), smx_model_param_count(m) * sizeof(float));
  int32_t ids[B * L], ids7[B * L7], step[B];
  tokens(ids);
  for (int b = 0; b < B; b++) memcpy(ids7 + b * L7, ids + b * L, L7 * sizeof *ids);
  float *full = malloc((size_t)B * L * V * 4), full7[B * L7 * V], dec[B * L7 * V], lg[B * V];
  cr_assert_eq(smx_model_logits(m, ids, full), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_model_logits(m7, ids7, full7), SMX_OK, "%s", smx_last_error());
  smx_model_decoder *d = NULL;
  cr_assert_eq(smx_model_decoder_create(m, B, L7, &d), SMX_OK, "%s", smx_last_error());
  for (int i = 0; i < L7; i++) {
    for (int b = 0; b < B; b++) step[b] = ids7[b * L7 + i];
    cr_assert_eq(smx_model_decode(d, step, lg), SMX_OK, "%s", smx_last_error());
    for (int b = 0; b < B; b++) memcpy(dec + (b * L7 + i) * V, lg + b * V, V * 4);
  }
  double err = 0, other = 0, scale = max_abs(full7, sizeof full7 / 4);
  for (int b = 0; b < B; b++)
    for (int i = 0; i < L7; i++)
      for (int v = 0; v < V; v++) {
        float x = dec[(b * L7 + i) * V + v];
        err = fmax(err, fabs((double)x - full7[(b * L7 + i) * V + v]));
        other = fmax(other, fabs((double)x - full[(b * L + i) * V + v]));
      }
  cr_expect_leq(err, 1e-4 * scale, "decode of 7 misses the forward over 7 by %g (scale %g)", err, scale);
  cr_expect_gt(other, 1e-3 * scale, "the forward over 13 agrees with the one over 7 (%g): no length dependence?", other);
  cr_log_info("m2, max_ctx 7: %.3g from the forward over 7, %.3g from the first 7 rows of the forward over 13", err, other);
  smx_model_decoder_destroy(d);
  smx_model_destroy(m7);
  smx_model_destroy(m);
  free(full);
}

Test(model_decode, state_bytes_grow_with_context_for_attention_only) {
  smx_model_config c = config("attention,conba*7", "none", "conba.N=16", 8, 0);
  size_t b1 = 0, b2 = 0;
  cr_assert_eq(smx_model_state_bytes(&c, 1000, &b1), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_model_state_bytes(&c, 2000, &b2), SMX_OK, "%s", smx_last_error());
  cr_expect_eq(b1, ATTN(1000) + 7 * CONBA(32, 16, 4));
  cr_expect_eq(b2 - b1, ATTN(1000)); /* conba's state is constant */
  c = config("h3,m2", "none", "h3.N=16,h3.shift=8", 2, 0); /* h3's is constant too, m2 keeps d per token */
  cr_assert_eq(smx_model_state_bytes(&c, 1000, &b1), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_model_state_bytes(&c, 2000, &b2), SMX_OK, "%s", smx_last_error());
  cr_expect_eq(b1, H3(16, 8) + M2(1000));
  cr_expect_eq(b2 - b1, M2(2000) - M2(1000));
}

/* Every sequence mixer kind decodes, so no model is refused for its kind (model_decode.c's refusal
 * naming the layer and kind has no case left to test). */
Test(model_decode, refusals_are_one_line) {
  for (int i = 0; i < mixer_kind_count(); i++)
    cr_expect(mixer_kind_at(i)->channel || mixer_kind_at(i)->decode_create, "%s: no decode", mixer_kind_at(i)->name);
  smx_model_config c = config("dma", "none", "dma.w=4", 1, 0); /* top-w selection */
  smx_model *m = random_model(&c);
  smx_model_decoder *d = NULL;
  cr_assert_eq(smx_model_decoder_create(m, B, L, &d), SMX_ERR_UNSUPPORTED);
  cr_assert(strstr(smx_last_error(), "dma.w = 4 must be 0 or >= the context 13"), "%s", smx_last_error());
  cr_assert(!strchr(smx_last_error(), '\n'));
  smx_model_destroy(m);

  c = config("attention", "none", "", 1, L);
  m = random_model(&c);
  cr_assert_eq(smx_model_decoder_create(m, B, L + 1, &d), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "context 14 is longer than the model's 13 learned positions"), "%s", smx_last_error());
  cr_assert_eq(smx_model_decoder_create(m, B, L, &d), SMX_OK, "%s", smx_last_error());
  int32_t bad[B] = {0, V};
  cr_assert_eq(smx_model_decode(d, bad, NULL), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "token 29 of sequence 1 is outside the vocabulary"), "%s", smx_last_error());
  cr_assert_eq(smx_model_decoder_position(d), 0);
  smx_model_decoder_destroy(d);
  smx_model_destroy(m);

  /* m2's explicit kernel is a tensor of the model's L taps: another context would read past it */
  c = config("m2", "none", "m2.filter=1", 1, 0);
  m = random_model(&c);
  cr_assert_eq(smx_model_decoder_create(m, B, L + 1, &d), SMX_ERR_UNSUPPORTED);
  cr_assert(strstr(smx_last_error(), "m2.filter=1) holds the model's L = 13 taps: decode with max_ctx = 13, not 14"), "%s",
            smx_last_error());
  cr_assert_eq(smx_model_decoder_create(m, B, L, &d), SMX_OK, "%s", smx_last_error());
  smx_model_decoder_destroy(d);
  smx_model_destroy(m);
}

/* Seek (benchmarks): after decoding L tokens, seeking back to 5 keeps the KV cache rows below 5, so
 * an attention-only model decodes position 5 again bit for bit; a recurrent model restarts from a
 * zeroed state at that position (its state bytes are the context's). Out of range: one line. */
Test(model_decode, seek_moves_the_position) {
  smx_model_config c = config("attention", "mlp", "", 2, L);
  smx_model *m = random_model(&c);
  smx_model_decoder *d = NULL;
  cr_assert_eq(smx_model_decoder_create(m, 1, L, &d), SMX_OK, "%s", smx_last_error());
  float first[V], again[V];
  for (int32_t i = 0; i < L; i++) {
    int32_t id = (7 * i + 3) % V;
    cr_assert_eq(smx_model_decode(d, &id, i == 5 ? first : NULL), SMX_OK, "%s", smx_last_error());
  }
  cr_assert_eq(smx_model_decoder_seek(d, 5), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_model_decoder_position(d), 5);
  int32_t id = (7 * 5 + 3) % V;
  cr_assert_eq(smx_model_decode(d, &id, again), SMX_OK, "%s", smx_last_error());
  cr_expect(!memcmp(first, again, sizeof first), "attention after a seek to 5 decodes position 5 differently");
  cr_assert_eq(smx_model_decoder_seek(d, L + 1), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "cannot seek to position 14 (the decoder holds 0..13)"), "%s", smx_last_error());
  cr_assert_eq(smx_model_decoder_position(d), 6);
  smx_model_decoder_destroy(d);
  smx_model_destroy(m);

  c = config("attention,ssd", "none", "attention.rope=1,ssd.rope=1,ssd.P=8,ssd.N=8,ssd.chunk=4", 2, 0);
  m = random_model(&c);
  cr_assert_eq(smx_model_decoder_create(m, 1, L, &d), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_model_decoder_seek(d, L - 1), SMX_OK, "%s", smx_last_error());
  size_t bytes = 0;
  cr_assert_eq(smx_model_state_bytes(&c, L - 1, &bytes), SMX_OK);
  cr_expect_eq(smx_model_decoder_state_bytes(d), bytes);
  float lg[V];
  cr_assert_eq(smx_model_decode(d, &id, lg), SMX_OK, "%s", smx_last_error());
  for (int v = 0; v < V; v++) cr_assert(isfinite(lg[v]));
  cr_assert_eq(smx_model_decode(d, &id, lg), SMX_ERR_INVALID); /* full */
  smx_model_decoder_destroy(d);
  smx_model_destroy(m);
}
