/* ListOps, the Long Range Arena generator (google-research/long-range-arena
 * lra_benchmarks/data/listops.py; Nangia & Bowman 2018), tokenized as LRA's input pipeline does.
 * docs/tasks.md#listops.
 *
 *   seqmix task gen --task listops --n 1                                  # LRA's sizes: 500 < len < 2000
 *   seqmix task gen --task listops --param min_len=20,max_len=100 --n 2   # CPU-sized
 *
 * Tree (generate_tree(depth = 1, max_depth = 10, max_args = 10)): below max_depth a node is an
 * operator with probability VALUE_P = 0.25, else (and always at max_depth) a digit 0..9 uniform;
 * an operator takes U{2..max_args} children (generated first, as listops.py does) and one of
 * [MIN [MAX [MED [SM uniformly. Value: MIN, MAX, MED = int(np.median) (the mean of the two middle
 * values when their count is even, truncated), SM = sum mod 10. Length = digits + 2 per operator
 * (the operator and its closing bracket). A tree is kept when min_len < length < max_len (strict,
 * as listops.py) and it is not already in the split (listops.py's set); an operator subtree that
 * grows past max_len stops there (the tree would be rejected anyway, so the kept trees have
 * listops.py's distribution).
 *
 * Tokens (LRA's rename_close_brackets: '(' and ')' dropped, ']' -> X): pad 0, digits 0..9 -> 1..10,
 * [MIN [MAX [MED [SM -> 11..14, X -> 15, and a classify token 16 after the tree: the causal model
 * reads the whole expression before it, and its label there is the value's digit token (a 10-way
 * classification read from the LM head). Positions after it are padding with no label. T = max_len.
 * Randomness is seqmix's Philox (task_rng.h), not Python's random: the same distribution, other
 * draws. Train and test come from disjoint Philox streams and are de-duplicated within each split;
 * at these lengths a tree in both splits is astronomically unlikely, and it is not checked. */
#include <stdlib.h>
#include <string.h>

#include "task_impl.h"

enum { P_MIN_LEN, P_MAX_LEN, P_DEPTH, P_ARGS };
enum { TOK_PAD = 0, TOK_DIGIT = 1, TOK_OP = 11, TOK_CLOSE = 15, TOK_CLS = 16, VOCAB = 17 };
enum { OP_MIN, OP_MAX, OP_MED, OP_SM };
#define VALUE_P 0.25

static int64_t lo_seq_len(const smx_task_config *c) { return task_int(c, P_MAX_LEN); }
static int64_t lo_vocab(const smx_task_config *c) {
  (void)c;
  return VOCAB;
}

static smx_status lo_validate(const smx_task_config *c) {
  int64_t lo = task_int(c, P_MIN_LEN), hi = task_int(c, P_MAX_LEN);
  if (hi - lo < 2)
    return smx_fail(SMX_ERR_INVALID, "listops: no length lies strictly between min_len=%lld and max_len=%lld", (long long)lo,
                    (long long)hi);
  return SMX_OK;
}

typedef struct tree_gen {
  task_rng *r;
  int32_t *out; /* the tokens so far */
  int64_t len, cap;
  int max_depth, max_args;
} tree_gen;

static int value_of(int op, const int *v, int n) {
  int r = v[0];
  switch (op) {
  case OP_MIN: for (int i = 1; i < n; i++) r = v[i] < r ? v[i] : r; return r;
  case OP_MAX: for (int i = 1; i < n; i++) r = v[i] > r ? v[i] : r; return r;
  case OP_SM: for (int i = 1; i < n; i++) r += v[i]; return r % 10;
  default: { /* MED: int(np.median(v)); the values are digits, so a count sort */
    int count[10] = {0}, s[16], k = 0;
    for (int i = 0; i < n; i++) count[v[i]]++;
    for (int d = 0; d < 10; d++)
      while (count[d]--) s[k++] = d;
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
  }
}

/* listops.py's generate_tree; returns the node's value, or -1 once the tree outgrows cap. */
static int node(tree_gen *g, int depth) {
  double r = depth < g->max_depth ? task_rng_unit(g->r) : 1.0;
  if (g->len >= g->cap) return -1;
  if (r > VALUE_P) {
    int v = (int)task_rng_below(g->r, 10);
    g->out[g->len++] = TOK_DIGIT + v;
    return v;
  }
  int n = 2 + (int)task_rng_below(g->r, (uint32_t)(g->max_args - 1)), vals[16];
  int64_t at = g->len++; /* the operator's token, drawn after its children as listops.py draws it */
  for (int i = 0; i < n; i++)
    if ((vals[i] = node(g, depth + 1)) < 0) return -1;
  int op = (int)task_rng_below(g->r, 4);
  if (g->len >= g->cap) return -1;
  g->out[at] = TOK_OP + op;
  g->out[g->len++] = TOK_CLOSE;
  return value_of(op, vals, n);
}

static smx_status lo_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  const int64_t T = task_int(c, P_MAX_LEN), lo = task_int(c, P_MIN_LEN);
  /* A budget instead of listops.py's endless loop: settings that keep almost no tree (a narrow
   * window far from the typical size) fail with a count instead of spinning. */
  const int64_t max_draws = 100000 * n + 100000;
  int64_t cap = 2;
  while (cap < 2 * n) cap <<= 1;
  int64_t *table = malloc((size_t)cap * sizeof *table), *lens = malloc((size_t)n * sizeof *lens);
  int32_t *buf = malloc((size_t)T * sizeof *buf);
  if (!table || !lens || !buf) {
    free(table), free(lens), free(buf);
    return smx_fail(SMX_ERR_NOMEM, "listops: cannot allocate %lld examples of %lld tokens", (long long)n, (long long)T);
  }
  for (int64_t i = 0; i < cap; i++) table[i] = -1;
  int64_t have = 0, draws = 0;
  while (have < n && draws < max_draws) {
    task_rng r;
    task_rng_init(&r, seed, split, TASK_PART_EXAMPLE, (uint64_t)draws++);
    tree_gen g = {&r, buf, 0, T - 1, (int)task_int(c, P_DEPTH), (int)task_int(c, P_ARGS)};
    int v = node(&g, 1);
    if (v < 0 || g.len <= lo || g.len >= T) continue; /* keep lo < length < max_len */
    int64_t slot = (int64_t)(task_seq_hash(buf, g.len) & (uint64_t)(cap - 1)), dup = 0;
    for (; table[slot] >= 0; slot = (slot + 1) & (cap - 1)) {
      int64_t q = table[slot];
      if (lens[q] == g.len && memcmp(inputs + q * T, buf, (size_t)g.len * sizeof *buf) == 0) {
        dup = 1;
        break;
      }
    }
    if (dup) continue;
    int32_t *in = inputs + have * T, *lb = labels + have * T;
    memcpy(in, buf, (size_t)g.len * sizeof *buf);
    in[g.len] = TOK_CLS;
    for (int64_t t = g.len + 1; t < T; t++) in[t] = TOK_PAD;
    for (int64_t t = 0; t < T; t++) lb[t] = SMX_IGNORE_LABEL;
    lb[g.len] = TOK_DIGIT + v;
    lens[have] = g.len;
    table[slot] = have++;
  }
  free(table), free(lens), free(buf);
  if (have < n)
    return smx_fail(SMX_ERR_INVALID,
                    "listops: only %lld trees with %lld < length < %lld in %lld draws; widen the window or lower n",
                    (long long)have, (long long)lo, (long long)T, (long long)draws);
  return SMX_OK;
}

const smx_task smx_task_listops = {
    .name = "listops",
    .summary = "Long Range Arena ListOps: the value (0-9) of a nested MIN/MAX/MED/SM expression, read at a classify token",
    .source = "google-research/long-range-arena lra_benchmarks/data/listops.py",
    .n_params = 4,
    .params = {{"min_len", 500, 0, 1 << 20, 0, "trees strictly longer than this (LRA: 500)"},
               {"max_len", 2000, 3, 1 << 20, 0, "trees strictly shorter than this; the sequence length T (LRA: 2000)"},
               {"depth", 10, 1, 20, 0, "max_depth of the tree (LRA: 10)"},
               {"args", 10, 2, 15, 0, "max_args of an operator (LRA: 10)"}},
    .validate = lo_validate,
    .seq_len = lo_seq_len,
    .vocab = lo_vocab,
    .generate = lo_generate,
};
