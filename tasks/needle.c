/* Long-context retrieval in token form: the passkey test (Mohtashami & Jaggi 2023, "Landmark
 * Attention"), RULER's needle-in-a-haystack family (NVIDIA/RULER scripts/data/synthetic/niah.py;
 * Hsieh et al. 2024) and RULER's variable tracking (variable_tracking.py), with the natural-language templates replaced by special tokens as the
 * project's reference notes recommend for small models (reference/tasks.md §4.1). docs/tasks.md#needle.
 *
 *   seqmix task gen --task passkey --param L=64,depth=50 --n 1
 *   seqmix task gen --task niah --param L=256,K=4,Q=2,haystack=1 --n 1
 *   seqmix task gen --task vartrack --param L=256,hops=4 --n 1
 *
 * Tokens: pad 0, digits 0..9 -> 1..10, NEEDLE 11, IS 12, Q 13, the noise motif 14..21 (eight
 * tokens repeated: the landmark code's "The grass is green. The sky is blue. ..."), keys from 22 on.
 *
 * passkey: [noise prefix] NEEDLE d1..dD NEEDLE [noise suffix] Q d1..d(D-1), the prefix and the
 * suffix each the motif from its start (the landmark code cuts both from the same garbage string);
 * labels d1..dD at Q and at the D - 1 answer tokens (teacher forcing). depth = -1 draws the prefix
 * length uniformly from 0..F (F noise tokens in all), as the landmark code; 0..100 puts it at that
 * share of F. Digits uniform.
 *
 * niah: K keys of klen tokens (distinct), NV values of vlen digits per key (first digit non-zero:
 * RULER's random 7-digit numbers), one needle per (key, value): NEEDLE key IS value. The haystack is
 * the noise motif (haystack=0, RULER's "noise") or distractor needles with other keys and values
 * (haystack=1, RULER's "needle"); the needles go in at sentence boundaries (motif repeats or whole
 * distractors) at depths drawn without replacement from 40 evenly spaced depths in 0..100%
 * (RULER's default) or all at depth (0..100). Then, for each of Q queried keys (distinct, random):
 * Q key IS and the key's NV values in the order they stand in the context, teacher-forced,
 * labelled from IS on. A haystack
 * that does not fill the context whole is left-padded. RULER's configs: single (K = 1), multikey
 * (K = 4, Q = 1; haystack=1 is multikey_2/3), multivalue (NV = 4), multiquery (K = Q = 4).
 *
 * vartrack: `chains` chains of hops + 1 variables (names of nlen tokens, all distinct): VAR x0 EQ
 * d1..d5 (RULER's 5-digit value, 10000..99999), then VAR x(i) EQ VAR x(i-1); the statements, chain
 * after chain, go into the noise haystack in order at sorted random sentence boundaries (RULER
 * inserts them at sorted random positions). Question: Q d1..d5 IS and the names of the first
 * chain in order, teacher-forced (RULER asks for "all variables assigned the value" of chain 0).
 * Tokens here: VAR 11, EQ 12, Q 13, noise 14..21, names from 22.
 *
 * Scores: the model's accuracy is Zoology's per-position rule over the labelled answer tokens;
 * exact match (passkey) and RULER's string_match_all (the share of answer values produced whole)
 * count whole values instead. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "task_impl.h"

enum { TOK_DIGIT = 1, TOK_NEEDLE = 11, TOK_IS = 12, TOK_Q = 13, TOK_NOISE = 14, NOISE_LEN = 8, TOK_KEY = 22 };
#define RULER_DEPTHS 40

/* ---- passkey ---- */

enum { PK_L, PK_DEPTH, PK_D };

static int64_t pk_seq_len(const smx_task_config *c) { return task_int(c, PK_L); }
static int64_t pk_vocab(const smx_task_config *c) {
  (void)c;
  return TOK_KEY;
}

static int64_t pk_span(const smx_task_config *c) { return task_int(c, PK_D); }

static smx_status pk_validate(const smx_task_config *c) {
  int64_t L = task_int(c, PK_L), D = task_int(c, PK_D);
  if (L < 2 * D + 2)
    return smx_fail(SMX_ERR_INVALID, "passkey: L=%lld is shorter than the needle and the answer (2D + 2 = %lld tokens)",
                    (long long)L, (long long)(2 * D + 2));
  return SMX_OK;
}

static void noise(int32_t *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = TOK_NOISE + (int32_t)(i % NOISE_LEN);
}

static smx_status pk_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  const int64_t L = task_int(c, PK_L), D = task_int(c, PK_D), F = L - 2 * D - 2;
  const double depth = c->v[PK_DEPTH];
  for (int64_t e = 0; e < n; e++) {
    task_rng r;
    task_rng_init(&r, seed, split, TASK_PART_EXAMPLE, (uint64_t)e);
    int32_t *in = inputs + e * L, *lb = labels + e * L, key[64];
    for (int64_t j = 0; j < D; j++) key[j] = TOK_DIGIT + (int32_t)task_rng_below(&r, 10);
    int64_t pre = depth < 0 ? (int64_t)task_rng_below(&r, (uint32_t)(F + 1)) : (int64_t)llround(depth / 100.0 * (double)F);
    int64_t t = 0;
    noise(in, pre), t = pre;
    in[t++] = TOK_NEEDLE;
    for (int64_t j = 0; j < D; j++) in[t++] = key[j];
    in[t++] = TOK_NEEDLE;
    noise(in + t, F - pre), t += F - pre;
    for (int64_t u = 0; u < L; u++) lb[u] = SMX_IGNORE_LABEL;
    in[t++] = TOK_Q;
    task_answer(in, lb, t, key, D);
  }
  return SMX_OK;
}

const smx_task smx_task_passkey = {
    .name = "passkey",
    .summary = "passkey retrieval: D digits marked in a noise haystack, asked for at the end (token form)",
    .source = "Mohtashami & Jaggi 2023 (Landmark Attention) passkey prompt, in tokens (reference/tasks.md 4.1)",
    .n_params = 3,
    .params = {{"L", 1024, 8, 16777216, 0, "sequence length (context and question)"},
               {"depth", -1, -1, 100, 1, "needle depth in percent of the haystack; -1 = uniform (the landmark code)"},
               {"D", 5, 1, 64, 0, "digits of the passkey"}},
    .validate = pk_validate,
    .seq_len = pk_seq_len,
    .vocab = pk_vocab,
    .answer_span = pk_span,
    .generate = pk_generate,
};

/* ---- niah ---- */

enum { NI_L, NI_K, NI_NV, NI_Q, NI_HAY, NI_DEPTH, NI_KLEN, NI_VLEN, NI_KEYS };

static int64_t ni_seq_len(const smx_task_config *c) { return task_int(c, NI_L); }
static int64_t ni_vocab(const smx_task_config *c) { return TOK_KEY + task_int(c, NI_KEYS); }

static int64_t ni_span(const smx_task_config *c) { return task_int(c, NI_VLEN); }
static int64_t ni_needle_len(const smx_task_config *c) { return 2 + task_int(c, NI_KLEN) + task_int(c, NI_VLEN); }
static int64_t ni_query_len(const smx_task_config *c) {
  return task_int(c, NI_Q) * (task_int(c, NI_KLEN) + 1 + task_int(c, NI_NV) * task_int(c, NI_VLEN));
}

static smx_status ni_validate(const smx_task_config *c) {
  int64_t L = task_int(c, NI_L), K = task_int(c, NI_K), NV = task_int(c, NI_NV), Q = task_int(c, NI_Q);
  int64_t klen = task_int(c, NI_KLEN), keys = task_int(c, NI_KEYS);
  if (Q > K) return smx_fail(SMX_ERR_INVALID, "niah: Q=%lld queried keys is more than K=%lld keys", (long long)Q, (long long)K);
  if (c->v[NI_DEPTH] < 0 && K * NV > RULER_DEPTHS)
    return smx_fail(SMX_ERR_INVALID, "niah: %lld needles need more than RULER's %d depths; give depth=0..100",
                    (long long)(K * NV), RULER_DEPTHS);
  double space = pow((double)keys, (double)klen);
  if (space < 2.0 * (double)K + 1)
    return smx_fail(SMX_ERR_INVALID, "niah: keys=%lld^klen=%lld cannot give %lld distinct keys and distractors", (long long)keys,
                    (long long)klen, (long long)K);
  int64_t need = K * NV * ni_needle_len(c) + ni_query_len(c);
  if (L < need)
    return smx_fail(SMX_ERR_INVALID, "niah: L=%lld cannot hold %lld needles and the questions (%lld tokens)", (long long)L,
                    (long long)(K * NV), (long long)need);
  return SMX_OK;
}

static void draw_key(task_rng *r, int64_t klen, int64_t keys, int32_t *k) {
  for (int64_t j = 0; j < klen; j++) k[j] = TOK_KEY + (int32_t)task_rng_below(r, (uint32_t)keys);
}

static void draw_value(task_rng *r, int64_t vlen, int32_t *v) {
  for (int64_t j = 0; j < vlen; j++) v[j] = TOK_DIGIT + (j == 0 && vlen > 1 ? 1 + (int32_t)task_rng_below(r, 9) : (int32_t)task_rng_below(r, 10));
}

/* key i of the list equals none of the first n keys */
static int key_new(const int32_t *keys, int64_t n, int64_t klen, const int32_t *k) {
  for (int64_t i = 0; i < n; i++)
    if (!memcmp(keys + i * klen, k, (size_t)klen * sizeof *k)) return 0;
  return 1;
}

static smx_status ni_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  const int64_t L = task_int(c, NI_L), K = task_int(c, NI_K), NV = task_int(c, NI_NV), Q = task_int(c, NI_Q);
  const int64_t klen = task_int(c, NI_KLEN), vlen = task_int(c, NI_VLEN), nkeys = task_int(c, NI_KEYS);
  const int hay = (int)task_int(c, NI_HAY);
  const double depth = c->v[NI_DEPTH];
  const int64_t nl = ni_needle_len(c), needles = K * NV, H = L - needles * nl - ni_query_len(c);
  /* the haystack's sentences: motif repeats, or whole distractor needles */
  const int64_t sent_len = hay ? nl : NOISE_LEN, sents = H / sent_len, lead = H - sents * sent_len;
  int32_t *keys = malloc((size_t)(K * klen) * sizeof *keys), *vals = malloc((size_t)(needles * vlen) * sizeof *vals);
  int32_t *tmp = malloc((size_t)(klen > vlen ? klen : vlen) * sizeof *tmp), *at = malloc((size_t)needles * sizeof *at);
  int32_t *qk = malloc((size_t)K * sizeof *qk), *answer = malloc((size_t)(NV * vlen) * sizeof *answer);
  int32_t *slots = malloc((size_t)(NV > RULER_DEPTHS ? NV : RULER_DEPTHS) * sizeof *slots);
  if (!keys || !vals || !tmp || !at || !qk || !slots || !answer) {
    free(keys), free(vals), free(tmp), free(at), free(qk), free(slots), free(answer);
    return smx_fail(SMX_ERR_NOMEM, "niah: cannot allocate the needles");
  }
  for (int64_t e = 0; e < n; e++) {
    task_rng r;
    task_rng_init(&r, seed, split, TASK_PART_EXAMPLE, (uint64_t)e);
    int32_t *in = inputs + e * L, *lb = labels + e * L;
    for (int64_t i = 0; i < K; i++) /* distinct keys */
      do draw_key(&r, klen, nkeys, keys + i * klen);
      while (!key_new(keys, i, klen, keys + i * klen));
    for (int64_t i = 0; i < needles; i++) draw_value(&r, vlen, vals + i * vlen);
    /* each needle's sentence index: RULER's depths (linspace(0, 100, 40) without replacement) or one depth */
    if (depth < 0) task_rng_distinct(&r, 0, RULER_DEPTHS, (int)needles, slots);
    for (int64_t i = 0; i < needles; i++) {
      double d = depth < 0 ? 100.0 * (double)slots[i] / (RULER_DEPTHS - 1) : depth;
      at[i] = (int32_t)llround(d / 100.0 * (double)sents);
    }
    task_rng_distinct(&r, 0, (uint32_t)K, (int)Q, qk);
    int64_t t = 0;
    for (; t < lead; t++) in[t] = 0;
    for (int64_t s = 0; s <= sents; s++) {
      for (int64_t i = 0; i < needles; i++) /* the needles at this boundary, in needle order */
        if (at[i] == s) {
          in[t++] = TOK_NEEDLE;
          for (int64_t j = 0; j < klen; j++) in[t++] = keys[(i / NV) * klen + j];
          in[t++] = TOK_IS;
          for (int64_t j = 0; j < vlen; j++) in[t++] = vals[i * vlen + j];
        }
      if (s == sents) break;
      if (!hay) {
        noise(in + t, NOISE_LEN), t += NOISE_LEN;
        continue;
      }
      in[t++] = TOK_NEEDLE; /* a distractor: another key, any value */
      do draw_key(&r, klen, nkeys, tmp);
      while (!key_new(keys, K, klen, tmp));
      for (int64_t j = 0; j < klen; j++) in[t++] = tmp[j];
      in[t++] = TOK_IS;
      draw_value(&r, vlen, tmp);
      for (int64_t j = 0; j < vlen; j++) in[t++] = tmp[j];
    }
    for (int64_t u = 0; u < L; u++) lb[u] = SMX_IGNORE_LABEL;
    for (int64_t q = 0; q < Q; q++) {
      int64_t k = qk[q];
      in[t++] = TOK_Q;
      for (int64_t j = 0; j < klen; j++) in[t++] = keys[k * klen + j];
      in[t++] = TOK_IS; /* its label: the first answer token; each answer token's label: the next */
      /* the key's values in the order they stand in the context (RULER's string_match_all does not
       * care about order; a token answer needs one the model can see) */
      int32_t *ord = slots; /* free by now */
      for (int64_t v = 0; v < NV; v++) {
        int64_t i = k * NV + v, p = v;
        for (; p > 0 && (at[ord[p - 1]] > at[i] || (at[ord[p - 1]] == at[i] && ord[p - 1] > i)); p--) ord[p] = ord[p - 1];
        ord[p] = (int32_t)i;
      }
      for (int64_t v = 0; v < NV; v++) memcpy(answer + v * vlen, vals + ord[v] * vlen, (size_t)vlen * sizeof *answer);
      t = task_answer(in, lb, t, answer, NV * vlen);
    }
  }
  free(keys), free(vals), free(tmp), free(at), free(qk), free(slots), free(answer);
  return SMX_OK;
}

const smx_task smx_task_niah = {
    .name = "niah",
    .summary = "RULER needle in a haystack (token form): K keys with NV values each in a noise or distractor haystack; Q asked",
    .source = "NVIDIA/RULER scripts/data/synthetic/niah.py (Hsieh et al. 2024), in tokens (reference/tasks.md 4.1)",
    .n_params = 9,
    .params = {{"L", 1024, 8, 16777216, 0, "sequence length (context and questions)"},
               {"K", 1, 1, 1024, 0, "num_needle_k: keys (needle groups)"},
               {"NV", 1, 1, 64, 0, "num_needle_v: values per key"},
               {"Q", 1, 1, 1024, 0, "num_needle_q: keys asked (at most K)"},
               {"haystack", 0, 0, 1, 0, "0 = noise motif (RULER's noise), 1 = distractor needles (RULER's needle)"},
               {"depth", -1, -1, 100, 1, "every needle at this depth (percent); -1 = RULER's 40 depths without replacement"},
               {"klen", 2, 1, 16, 0, "tokens per key (RULER: an adjective-noun word pair)"},
               {"vlen", 7, 1, 32, 0, "digits per value (RULER: 7-digit numbers)"},
               {"keys", 256, 2, 1 << 20, 0, "key-word vocabulary"}},
    .validate = ni_validate,
    .seq_len = ni_seq_len,
    .vocab = ni_vocab,
    .answer_span = ni_span,
    .generate = ni_generate,
};

/* ---- vartrack ---- */

enum { VT_L, VT_CHAINS, VT_HOPS, VT_NLEN, VT_NAMES };
enum { TOK_VAR = 11, TOK_EQ = 12, VT_VALUE_DIGITS = 5 };

static int64_t vt_seq_len(const smx_task_config *c) { return task_int(c, VT_L); }
static int64_t vt_vocab(const smx_task_config *c) { return TOK_KEY + task_int(c, VT_NAMES); }

static int64_t vt_span(const smx_task_config *c) { return task_int(c, VT_NLEN); }

/* statement tokens of one chain, and the question with its answer */
static int64_t vt_chain_len(const smx_task_config *c) {
  int64_t nlen = task_int(c, VT_NLEN);
  return (2 + nlen + VT_VALUE_DIGITS) + task_int(c, VT_HOPS) * (3 + 2 * nlen);
}
static int64_t vt_query_len(const smx_task_config *c) {
  return 2 + VT_VALUE_DIGITS + (task_int(c, VT_HOPS) + 1) * task_int(c, VT_NLEN) - 1;
}

static smx_status vt_validate(const smx_task_config *c) {
  int64_t L = task_int(c, VT_L), vars = task_int(c, VT_CHAINS) * (task_int(c, VT_HOPS) + 1);
  if (pow((double)task_int(c, VT_NAMES), (double)task_int(c, VT_NLEN)) < 2.0 * (double)vars)
    return smx_fail(SMX_ERR_INVALID, "vartrack: names=%lld^nlen=%lld cannot name %lld distinct variables comfortably",
                    (long long)task_int(c, VT_NAMES), (long long)task_int(c, VT_NLEN), (long long)vars);
  int64_t need = task_int(c, VT_CHAINS) * vt_chain_len(c) + vt_query_len(c);
  if (L < need)
    return smx_fail(SMX_ERR_INVALID, "vartrack: L=%lld cannot hold the statements and the question (%lld tokens)", (long long)L,
                    (long long)need);
  return SMX_OK;
}

static smx_status vt_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  const int64_t L = task_int(c, VT_L), chains = task_int(c, VT_CHAINS), hops = task_int(c, VT_HOPS);
  const int64_t nlen = task_int(c, VT_NLEN), nnames = task_int(c, VT_NAMES), vars = chains * (hops + 1);
  const int64_t H = L - chains * vt_chain_len(c) - vt_query_len(c), sents = H / NOISE_LEN, lead = H - sents * NOISE_LEN;
  int32_t *names = malloc((size_t)(vars * nlen) * sizeof *names), *vals = malloc((size_t)(chains * VT_VALUE_DIGITS) * sizeof *vals);
  int64_t *at = malloc((size_t)vars * sizeof *at);
  if (!names || !vals || !at) {
    free(names), free(vals), free(at);
    return smx_fail(SMX_ERR_NOMEM, "vartrack: cannot allocate the chains");
  }
  for (int64_t e = 0; e < n; e++) {
    task_rng r;
    task_rng_init(&r, seed, split, TASK_PART_EXAMPLE, (uint64_t)e);
    int32_t *in = inputs + e * L, *lb = labels + e * L;
    for (int64_t v = 0; v < vars; v++)
      do draw_key(&r, nlen, nnames, names + v * nlen);
      while (!key_new(names, v, nlen, names + v * nlen));
    for (int64_t k = 0; k < chains; k++) { /* 10000..99999 */
      int64_t x = 10000 + (int64_t)task_rng_below(&r, 90000);
      for (int j = VT_VALUE_DIGITS - 1; j >= 0; j--, x /= 10) vals[k * VT_VALUE_DIGITS + j] = TOK_DIGIT + (int32_t)(x % 10);
    }
    /* each statement's sentence boundary: sorted uniform draws, so the statements keep their order */
    for (int64_t v = 0; v < vars; v++) {
      int64_t b = (int64_t)task_rng_below(&r, (uint32_t)(sents + 1)), p = v;
      for (; p > 0 && at[p - 1] > b; p--) at[p] = at[p - 1];
      at[p] = b;
    }
    int64_t t = 0, next = 0;
    for (; t < lead; t++) in[t] = 0;
    for (int64_t s = 0; s <= sents; s++) {
      for (; next < vars && at[next] == s; next++) { /* statement `next`: chain next / (hops + 1), hop next % (hops + 1) */
        int64_t k = next / (hops + 1), h = next % (hops + 1);
        in[t++] = TOK_VAR;
        for (int64_t j = 0; j < nlen; j++) in[t++] = names[next * nlen + j];
        in[t++] = TOK_EQ;
        if (h == 0) {
          for (int j = 0; j < VT_VALUE_DIGITS; j++) in[t++] = vals[k * VT_VALUE_DIGITS + j];
        } else {
          in[t++] = TOK_VAR;
          for (int64_t j = 0; j < nlen; j++) in[t++] = names[(next - 1) * nlen + j];
        }
      }
      if (s < sents) noise(in + t, NOISE_LEN), t += NOISE_LEN;
    }
    for (int64_t u = 0; u < L; u++) lb[u] = SMX_IGNORE_LABEL;
    in[t++] = TOK_Q;
    for (int j = 0; j < VT_VALUE_DIGITS; j++) in[t++] = vals[j];
    in[t++] = TOK_IS;
    task_answer(in, lb, t, names, (hops + 1) * nlen); /* the first chain's names, in chain order */
  }
  free(names), free(vals), free(at);
  return SMX_OK;
}

const smx_task smx_task_vartrack = {
    .name = "vartrack",
    .summary = "RULER variable tracking (token form): chains of VAR x EQ value / VAR y EQ VAR x in noise; name the chain",
    .source = "NVIDIA/RULER scripts/data/synthetic/variable_tracking.py (Hsieh et al. 2024), in tokens (reference/tasks.md 4.1)",
    .n_params = 5,
    .params = {{"L", 1024, 8, 16777216, 0, "sequence length (context and question)"},
               {"chains", 1, 1, 64, 0, "num_chains (RULER: 1); the question is about the first"},
               {"hops", 4, 1, 64, 0, "num_hops: variables per chain - 1 (RULER: 4)"},
               {"nlen", 2, 1, 16, 0, "tokens per variable name (RULER: 5 upper-case letters)"},
               {"names", 256, 2, 1 << 20, 0, "name-token vocabulary"}},
    .validate = vt_validate,
    .seq_len = vt_seq_len,
    .vocab = vt_vocab,
    .answer_span = vt_span,
    .generate = vt_generate,
};
