/* RULER's aggregation tasks in token form (NVIDIA/RULER scripts/data/synthetic/
 * common_words_extraction.py and freq_words_extraction.py; Hsieh et al. 2024), with words as
 * tokens as the project's reference notes recommend for small models (reference/tasks.md §4.1).
 * docs/tasks.md#word-extraction.
 *
 *   seqmix task gen --task cwe --param L=256 --n 1
 *   seqmix task gen --task fwe --param L=256 --n 1
 *
 * Tokens: pad 0, Q 1, the noise word 2 (fwe's "..."), words from 3.
 *
 * cwe: `cw` common words repeated `freq_cw` times and as many uncommon words, `freq_ucw` times
 * each, as fill the context (RULER searches the word count that fills the length), all distinct
 * words from the vocabulary, shuffled. RULER's settings: 10 / 30 / 3, or 10 / 6 / 1 below 4096
 * tokens (the defaults here are those of the short setting). Question: Q, then the common words,
 * teacher-forced, in the order of their first occurrence (RULER's string_match_all ignores order;
 * a token answer needs one the model can see).
 *
 * fwe: a Zipf draw over `vocab` words: the word of rank k appears floor(s k^-alpha) times, s the
 * largest that fits the context (RULER's N k^-alpha / zeta(alpha) with N filling the length); the rank-1 word is replaced by the noise word
 * (RULER's "..."); shuffled. Question: Q, then the words of ranks 2, 3, 4 (RULER's answer, the top
 * three real words) in rank order, teacher-forced. Which word has which rank is a random
 * permutation per example. A context too short to separate ranks 4 and 5 is refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "task_impl.h"

enum { TOK_Q = 1, TOK_NOISE = 2, TOK_WORD = 3 };

static void shuffle(task_rng *r, int32_t *x, int64_t n) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)task_rng_below(r, (uint32_t)(i + 1));
    int32_t t = x[i];
    x[i] = x[j], x[j] = t;
  }
}

/* k distinct words of [0, vocab) into out, in random order: a partial Fisher-Yates over a table
 * the caller keeps as 0..vocab-1 between calls (restored on return) */
static void distinct_words(task_rng *r, int32_t *table, int64_t vocab, int64_t k, int32_t *out) {
  for (int64_t i = 0; i < k; i++) {
    int64_t j = i + (int64_t)task_rng_below(r, (uint32_t)(vocab - i));
    int32_t t = table[i];
    table[i] = table[j], table[j] = t;
    out[i] = table[i];
  }
  for (int64_t i = 0; i < vocab; i++) table[i] = (int32_t)i;
}

/* ---- cwe ---- */

enum { CW_L, CW_CW, CW_FREQ_CW, CW_FREQ_UCW, CW_VOCAB };

static int64_t cw_seq_len(const smx_task_config *c) { return task_int(c, CW_L); }
static int64_t cw_vocab(const smx_task_config *c) { return TOK_WORD + task_int(c, CW_VOCAB); }
static int64_t cw_context(const smx_task_config *c) { return task_int(c, CW_L) - task_int(c, CW_CW); }
static int64_t cw_uncommon(const smx_task_config *c) {
  return (cw_context(c) - task_int(c, CW_CW) * task_int(c, CW_FREQ_CW)) / task_int(c, CW_FREQ_UCW);
}

static smx_status cw_validate(const smx_task_config *c) {
  int64_t cw = task_int(c, CW_CW), fc = task_int(c, CW_FREQ_CW), fu = task_int(c, CW_FREQ_UCW);
  if (fc <= fu) return smx_fail(SMX_ERR_INVALID, "cwe: freq_cw=%lld must exceed freq_ucw=%lld", (long long)fc, (long long)fu);
  if (cw_context(c) < cw * fc)
    return smx_fail(SMX_ERR_INVALID, "cwe: L=%lld cannot hold %lld common words x %lld and the answer", (long long)task_int(c, CW_L),
                    (long long)cw, (long long)fc);
  if (cw + cw_uncommon(c) > task_int(c, CW_VOCAB))
    return smx_fail(SMX_ERR_INVALID, "cwe: %lld distinct words are needed, vocab=%lld", (long long)(cw + cw_uncommon(c)),
                    (long long)task_int(c, CW_VOCAB));
  return SMX_OK;
}

static smx_status cw_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  const int64_t L = task_int(c, CW_L), cw = task_int(c, CW_CW), fc = task_int(c, CW_FREQ_CW), fu = task_int(c, CW_FREQ_UCW);
  const int64_t V = task_int(c, CW_VOCAB), U = cw_uncommon(c), ctx = cw * fc + U * fu, lead = cw_context(c) - ctx;
  int32_t *table = malloc((size_t)V * sizeof *table), *words = malloc((size_t)(cw + U) * sizeof *words);
  int32_t *seen = calloc((size_t)V, sizeof *seen);
  if (!table || !words || !seen) {
    free(table), free(words), free(seen);
    return smx_fail(SMX_ERR_NOMEM, "cwe: cannot allocate the word table");
  }
  for (int64_t i = 0; i < V; i++) table[i] = (int32_t)i;
  for (int64_t e = 0; e < n; e++) {
    task_rng r;
    task_rng_init(&r, seed, split, TASK_PART_EXAMPLE, (uint64_t)e);
    int32_t *in = inputs + e * L, *lb = labels + e * L;
    distinct_words(&r, table, V, cw + U, words); /* words[0..cw) common */
    int64_t t = 0;
    for (; t < lead; t++) in[t] = 0;
    for (int64_t w = 0; w < cw + U; w++)
      for (int64_t k = 0; k < (w < cw ? fc : fu); k++) in[t++] = TOK_WORD + words[w];
    shuffle(&r, in + lead, ctx);
    for (int64_t u = 0; u < L; u++) lb[u] = SMX_IGNORE_LABEL;
    in[t++] = TOK_Q;
    int64_t given = 0; /* the common words by first occurrence: written over words[0..cw), which are marked */
    for (int64_t w = 0; w < cw; w++) seen[words[w]] = 1;
    for (int64_t s = lead; s < lead + ctx && given < cw; s++) {
      int32_t x = in[s] - TOK_WORD;
      if (seen[x] != 1) continue;
      seen[x] = 0;
      words[given++] = in[s];
    }
    task_answer(in, lb, t, words, cw);
  }
  free(table), free(words), free(seen);
  return SMX_OK;
}

const smx_task smx_task_cwe = {
    .name = "cwe",
    .summary = "RULER common words extraction (token form): name the cw words repeated freq_cw times among rarer ones",
    .source = "NVIDIA/RULER scripts/data/synthetic/common_words_extraction.py (Hsieh et al. 2024), in tokens",
    .n_params = 5,
    .params = {{"L", 1024, 8, 16777216, 0, "sequence length (context and answer)"},
               {"cw", 10, 1, 1024, 0, "num_cw: common words (RULER: 10)"},
               {"freq_cw", 6, 2, 1024, 0, "repeats of a common word (RULER: 30; 6 below 4096 tokens)"},
               {"freq_ucw", 1, 1, 1024, 0, "repeats of an uncommon word (RULER: 3; 1 below 4096 tokens)"},
               {"vocab", 4096, 2, 1 << 24, 0, "word vocabulary"}},
    .validate = cw_validate,
    .seq_len = cw_seq_len,
    .vocab = cw_vocab,
    .generate = cw_generate,
};

/* ---- fwe ---- */

enum { FW_L, FW_ALPHA, FW_VOCAB };
#define FW_ANSWER 3

static int64_t fw_seq_len(const smx_task_config *c) { return task_int(c, FW_L); }
static int64_t fw_vocab(const smx_task_config *c) { return TOK_WORD + task_int(c, FW_VOCAB); }

/* The words' counts, counts[k-1] = floor(s k^-alpha) for rank k, at the largest integer scale s
 * (the rank-1 count) whose total fits the context. RULER's N k^-alpha / zeta(alpha) with N chosen
 * to fill the length is the same family: the normalization cancels into s. Returns the total. */
static int64_t fw_counts(const smx_task_config *c, int64_t *counts) {
  const int64_t budget = task_int(c, FW_L) - FW_ANSWER, V = task_int(c, FW_VOCAB);
  const double a = c->v[FW_ALPHA];
  int64_t lo = 0, hi = budget, total = 0;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2, sum = 0;
    for (int64_t k = 1; k <= V && sum <= budget; k++) sum += (int64_t)floor((double)mid * pow((double)k, -a));
    if (sum <= budget) lo = mid;
    else hi = mid - 1;
  }
  for (int64_t k = 1; k <= V; k++) {
    int64_t m = (int64_t)floor((double)lo * pow((double)k, -a));
    if (counts) counts[k - 1] = m;
    total += m;
  }
  return total;
}

static smx_status fw_validate(const smx_task_config *c) {
  int64_t V = task_int(c, FW_VOCAB);
  if (V < FW_ANSWER + 2) return smx_fail(SMX_ERR_INVALID, "fwe: vocab=%lld needs at least 5 words", (long long)V);
  int64_t *counts = malloc((size_t)V * sizeof *counts);
  if (!counts) return smx_fail(SMX_ERR_NOMEM, "fwe: cannot allocate the counts");
  fw_counts(c, counts);
  int ok = counts[FW_ANSWER] > counts[FW_ANSWER + 1] && counts[FW_ANSWER] > 0; /* rank 4 above rank 5 */
  free(counts);
  if (!ok)
    return smx_fail(SMX_ERR_INVALID, "fwe: L=%lld is too short for ranks 4 and 5 to differ in count at alpha=%g",
                    (long long)task_int(c, FW_L), c->v[FW_ALPHA]);
  return SMX_OK;
}

static smx_status fw_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  const int64_t L = task_int(c, FW_L), V = task_int(c, FW_VOCAB);
  int64_t *counts = malloc((size_t)V * sizeof *counts);
  int32_t *table = malloc((size_t)V * sizeof *table), *rank = malloc((size_t)V * sizeof *rank);
  if (!counts || !table || !rank) {
    free(counts), free(table), free(rank);
    return smx_fail(SMX_ERR_NOMEM, "fwe: cannot allocate the word table");
  }
  const int64_t ctx = fw_counts(c, counts), lead = L - FW_ANSWER - ctx;
  for (int64_t i = 0; i < V; i++) table[i] = (int32_t)i;
  for (int64_t e = 0; e < n; e++) {
    task_rng r;
    task_rng_init(&r, seed, split, TASK_PART_EXAMPLE, (uint64_t)e);
    int32_t *in = inputs + e * L, *lb = labels + e * L;
    distinct_words(&r, table, V, V, rank); /* rank[k] = the word of rank k + 1 */
    int64_t t = 0;
    for (; t < lead; t++) in[t] = 0;
    for (int64_t k = 0; k < V; k++)
      for (int64_t m = 0; m < counts[k]; m++) in[t++] = k == 0 ? TOK_NOISE : TOK_WORD + rank[k];
    shuffle(&r, in + lead, ctx);
    for (int64_t u = 0; u < L; u++) lb[u] = SMX_IGNORE_LABEL;
    in[t++] = TOK_Q;
    int32_t answer[FW_ANSWER];
    for (int j = 0; j < FW_ANSWER; j++) answer[j] = TOK_WORD + rank[1 + j];
    task_answer(in, lb, t, answer, FW_ANSWER);
  }
  free(counts), free(table), free(rank);
  return SMX_OK;
}

const smx_task smx_task_fwe = {
    .name = "fwe",
    .summary = "RULER frequent words extraction (token form): the three most frequent real words of a Zipf draw",
    .source = "NVIDIA/RULER scripts/data/synthetic/freq_words_extraction.py (Hsieh et al. 2024), in tokens",
    .n_params = 3,
    .params = {{"L", 1024, 8, 16777216, 0, "sequence length (context and answer)"},
               {"alpha", 2.0, 1.05, 10, 1, "Zipf exponent (RULER: 2.0)"},
               {"vocab", 2000, 5, 1 << 20, 0, "words (RULER: 2,000 coded words)"}},
    .validate = fw_validate,
    .seq_len = fw_seq_len,
    .vocab = fw_vocab,
    .generate = fw_generate,
};
