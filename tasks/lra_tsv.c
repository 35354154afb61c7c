/* Long Range Arena's released TSV datasets as seqmix tasks: ListOps (lra_listops) and Retrieval on
 * ACL Anthology Network pairs (lra_retrieval), read and tokenized as LRA's input pipelines do
 * (google-research/long-range-arena lra_benchmarks/listops/input_pipeline.py and
 * lra_benchmarks/matching/input_pipeline.py). docs/tasks.md "Real LRA data and the byte corpus".
 *
 *   seqmix task gen --task lra_listops --param L=2000,data=$HOME/lra_release/listops-1000 --n 1
 *   SEQMIX_DATA=~/data seqmix task gen --task lra_retrieval --param L=4000 --n 1 --split test
 *   build/tests/seqmix_tests --filter lra_data/\*
 *
 * ListOps (basic_{train,val,test}.tsv; header "Source<TAB>Target"; Python's csv writer, so rows end
 * in "\r\n"): the pipeline deletes '(' and ')', renames ']' to X and splits on whitespace, keeping
 * the first L tokens. Tokens are those of the synthetic listops task (tasks/listops.c): pad 0,
 * digits 0..9 -> 1..10, [MIN [MAX [MED [SM -> 11..14, X -> 15, classify 16 after the expression,
 * and the label at the classify token is the target's digit token 1 + target. So a tree the
 * synthetic task writes with max_len = M loads back token for token with L = M - 1 (T = L + 1).
 * LRA's TokenTextEncoder numbers the same 15 tokens in set order; only the numbering differs.
 *
 * Retrieval (new_aan_pairs.{train,eval,test}.tsv, no header, tab-separated without quoting:
 * label, id1, id2, text1, text2; label a float 0 or 1): each text is byte-encoded as LRA's
 * ByteTextEncoder does (byte b -> b + 1, 0 = pad) from its first 10,000 bytes, truncated to L.
 * LRA feeds the two documents to a dual encoder; a causal model reads them in one stream instead:
 * text1, separator 257, text2, classify 258, then padding; T = 2L + 2; the label at the classify
 * token is the class token 259 + label (class tokens never occur as inputs). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "task_data.h"
#include "task_impl.h"

/* ---- one TSV split: validated once, indexed by line offset, then the chosen rows re-read ---- */

typedef smx_status (*row_fn)(const smx_task_config *c, const char *file, int64_t lineno, char **fields, int nf,
                             void *ctx);

static int split_tabs(char *line, char **fields, int max) {
  int n = 0;
  for (char *p = line;;) {
    char *tab = strchr(p, '\t');
    if (n < max) fields[n] = p;
    n++;
    if (!tab) break;
    *tab = 0;
    p = tab + 1;
  }
  return n;
}

typedef struct tsv_split {
  FILE *f;
  int64_t *off, *line_no, n; /* each data row's offset and line number */
  char *line;
  size_t cap;
} tsv_split;

static void tsv_close(tsv_split *s) {
  if (s->f) fclose(s->f);
  free(s->off), free(s->line_no), free(s->line);
  memset(s, 0, sizeof *s);
}

/* Opens and checks every row: the header (when given), the column count, the label (check). */
static smx_status tsv_open(const smx_task_config *c, const char *path, const char *header, int nf, row_fn check,
                           tsv_split *s) {
  memset(s, 0, sizeof *s);
  smx_status st = task_data_open(c, path, &s->f);
  if (st != SMX_OK) return st;
  int64_t cap = 0, lineno = 0;
  char *fields[8];
  for (;;) {
    off_t at = ftello(s->f);
    int64_t len = task_data_line(s->f, &s->line, &s->cap);
    if (len < 0) break;
    lineno++;
    if (lineno == 1 && header) {
      if (strcmp(s->line, header) != 0) {
        st = smx_fail(SMX_ERR_PARSE, "%s: %s:1: the header is not \"%s\" (LRA's TSV form)", c->task->name, path, header);
        break;
      }
      continue;
    }
    if (len == 0) continue; /* a blank line holds no row */
    if ((int64_t)strlen(s->line) != len) {
      st = smx_fail(SMX_ERR_PARSE, "%s: %s:%lld: a NUL byte in a text file", c->task->name, path, (long long)lineno);
      break;
    }
    int got = split_tabs(s->line, fields, 8);
    if (got != nf) {
      st = smx_fail(SMX_ERR_PARSE, "%s: %s:%lld: %d tab-separated columns, expected %d", c->task->name, path,
                    (long long)lineno, got, nf);
      break;
    }
    if ((st = check(c, path, lineno, fields, nf, NULL)) != SMX_OK) break;
    if (s->n == cap) {
      cap = cap ? 2 * cap : 1024;
      int64_t *o = realloc(s->off, (size_t)cap * sizeof *o);
      if (o) s->off = o;
      int64_t *l = o ? realloc(s->line_no, (size_t)cap * sizeof *l) : NULL;
      if (l) s->line_no = l;
      if (!o || !l) {
        st = smx_fail(SMX_ERR_NOMEM, "%s: cannot index the rows of %s", c->task->name, path);
        break;
      }
    }
    s->off[s->n] = (int64_t)at, s->line_no[s->n++] = lineno;
  }
  if (st == SMX_OK && ferror(s->f)) st = smx_fail(SMX_ERR_PARSE, "%s: reading %s failed: %s", c->task->name, path, strerror(errno));
  if (st == SMX_OK && s->n == 0) st = smx_fail(SMX_ERR_PARSE, "%s: %s holds no rows", c->task->name, path);
  if (st != SMX_OK) tsv_close(s);
  return st;
}

/* Re-reads row i (validated by tsv_open) and splits it. */
static smx_status tsv_row(const smx_task_config *c, const char *path, tsv_split *s, int64_t i, char **fields, int nf) {
  if (fseeko(s->f, (off_t)s->off[i], SEEK_SET) != 0 || task_data_line(s->f, &s->line, &s->cap) < 0 ||
      split_tabs(s->line, fields, 8) != nf)
    return smx_fail(SMX_ERR_PARSE, "%s: %s:%lld changed while it was read", c->task->name, path, (long long)s->line_no[i]);
  return SMX_OK;
}

/* Splits of n picked rows; fill writes row k's example. */
typedef smx_status (*fill_fn)(const smx_task_config *c, const char *path, int64_t lineno, char **fields,
                              int32_t *in, int32_t *lb);

static smx_status tsv_dataset(const smx_task_config *c, const char *dir, const char *file, const char *header, int nf,
                              row_fn check, fill_fn fill, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  char path[SMX_TASK_DATA_MAX + 64];
  smx_status st = task_data_join(path, sizeof path, dir, file);
  if (st != SMX_OK) return st;
  tsv_split s;
  if ((st = tsv_open(c, path, header, nf, check, &s)) != SMX_OK) return st;
  int64_t *pick = NULL, T = smx_task_seq_len(c);
  st = task_data_pick(c, split, seed, n, s.n, path, &pick);
  char *fields[8];
  for (int64_t k = 0; st == SMX_OK && k < n; k++) {
    int64_t i = pick[k];
    if ((st = tsv_row(c, path, &s, i, fields, nf)) == SMX_OK)
      st = fill(c, path, s.line_no[i], fields, inputs + k * T, labels + k * T);
  }
  free(pick);
  tsv_close(&s);
  return st;
}

static smx_status need_files(const smx_task_config *c, const char *dir, const char *const *files, int n) {
  char path[SMX_TASK_DATA_MAX + 64];
  smx_status st = task_data_need(c, dir, 1);
  for (int i = 0; st == SMX_OK && i < n; i++)
    if ((st = task_data_join(path, sizeof path, dir, files[i])) == SMX_OK) st = task_data_need(c, path, 0);
  return st;
}

/* ---- ListOps ---- */

enum { LO_L, LO_VAL };
enum { LO_PAD = 0, LO_DIGIT = 1, LO_OP = 11, LO_CLOSE = 15, LO_CLS = 16, LO_VOCAB = 17 };
static const char *const lo_files[] = {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"};

static int64_t lo_seq_len(const smx_task_config *c) { return task_int(c, LO_L) + 1; }
static int64_t lo_vocab(const smx_task_config *c) {
  (void)c;
  return LO_VOCAB;
}

static smx_status lo_check_row(const smx_task_config *c, const char *file, int64_t lineno, char **fields, int nf,
                               void *ctx) {
  (void)nf, (void)ctx;
  const char *t = fields[1];
  if (!(t[0] >= '0' && t[0] <= '9' && t[1] == 0))
    return smx_fail(SMX_ERR_PARSE, "%s: %s:%lld: Target '%.20s' is not a digit 0..9", c->task->name, file,
                    (long long)lineno, t);
  return SMX_OK;
}

/* LRA's rename_close_brackets + whitespace split: '(' and ')' are deleted (not separators), ']'
 * becomes X. */
static int lo_token(const char *w, size_t n) {
  if (n == 1 && w[0] >= '0' && w[0] <= '9') return LO_DIGIT + (w[0] - '0');
  if (n == 1 && (w[0] == 'X' || w[0] == ']')) return LO_CLOSE;
  static const char *const ops[] = {"[MIN", "[MAX", "[MED", "[SM"};
  for (int k = 0; k < 4; k++)
    if (strlen(ops[k]) == n && memcmp(ops[k], w, n) == 0) return LO_OP + k;
  return -1;
}

static smx_status lo_fill(const smx_task_config *c, const char *path, int64_t lineno, char **fields, int32_t *in,
                          int32_t *lb) {
  const int64_t L = task_int(c, LO_L), T = L + 1;
  const char *src = fields[0];
  size_t sl = strlen(src);
  if (sl >= 2 && src[0] == '"' && src[sl - 1] == '"') src++, sl -= 2; /* a csv-quoted field */
  int64_t len = 0;
  char w[8];
  size_t wn = 0;
  int too_long = 0;
  for (size_t i = 0; i <= sl; i++) {
    char ch = i < sl ? src[i] : ' ';
    if (ch == '(' || ch == ')') continue;
    if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != '\v' && ch != '\f') {
      if (wn < sizeof w) w[wn] = ch;
      else too_long = 1;
      wn++;
      continue;
    }
    if (wn == 0) continue;
    int tok = too_long ? -1 : lo_token(w, wn);
    if (tok < 0)
      return smx_fail(SMX_ERR_PARSE, "%s: %s:%lld: token '%.*s' is none of 0-9 [MIN [MAX [MED [SM ] X", c->task->name,
                      path, (long long)lineno, (int)(wn < sizeof w ? wn : sizeof w), w);
    if (len < L) in[len++] = tok; /* LRA keeps the first max_length tokens */
    wn = 0, too_long = 0;
  }
  if (len == 0) return smx_fail(SMX_ERR_PARSE, "%s: %s:%lld: an empty expression", c->task->name, path, (long long)lineno);
  in[len] = LO_CLS;
  for (int64_t t = len + 1; t < T; t++) in[t] = LO_PAD;
  for (int64_t t = 0; t < T; t++) lb[t] = SMX_IGNORE_LABEL;
  lb[len] = LO_DIGIT + (fields[1][0] - '0');
  return SMX_OK;
}

static smx_status lo_check(const smx_task_config *c, const char *path) { return need_files(c, path, lo_files, 3); }

static smx_status lo_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  char dir[SMX_TASK_DATA_MAX + 64];
  smx_status st = smx_task_data_path(c, dir, sizeof dir);
  if (st != SMX_OK || (st = task_data_need(c, dir, 1)) != SMX_OK) return st;
  const char *file = split == SMX_SPLIT_TRAIN ? lo_files[0] : task_int(c, LO_VAL) ? lo_files[1] : lo_files[2];
  return tsv_dataset(c, dir, file, "Source\tTarget", 2, lo_check_row, lo_fill, split, seed, n, inputs, labels);
}

const smx_task smx_task_lra_listops = {
    .name = "lra_listops",
    .summary = "Long Range Arena ListOps from LRA's released TSV: the value (0-9) of an expression, read at a classify token",
    .source = "google-research/long-range-arena lra_benchmarks/listops/input_pipeline.py",
    .n_params = 2,
    .params = {{"L", 2000, 1, 1 << 20, 0, "tokens of the expression kept (LRA's max_length: 2000); T = L + 1"},
               {"val", 0, 0, 1, 0, "1: the test split reads basic_val.tsv instead of basic_test.tsv"}},
    .seq_len = lo_seq_len,
    .vocab = lo_vocab,
    .generate = lo_generate,
    .data_layout = "basic_train.tsv, basic_val.tsv, basic_test.tsv (lra_release/listops-1000)",
    .data_subdir = "lra/listops",
    .data_check = lo_check,
};

/* ---- Retrieval (AAN) ---- */

enum { RT_L, RT_VAL };
enum { RT_PAD = 0, RT_BYTE = 1, RT_SEP = 257, RT_CLS = 258, RT_CLASS = 259, RT_VOCAB = 261 };
enum { RT_MAX_BYTES = 10000 }; /* the pipeline encodes s[:10000] before truncating to max_length */
static const char *const rt_files[] = {"new_aan_pairs.train.tsv", "new_aan_pairs.eval.tsv", "new_aan_pairs.test.tsv"};

static int64_t rt_seq_len(const smx_task_config *c) { return 2 * task_int(c, RT_L) + 2; }
static int64_t rt_vocab(const smx_task_config *c) {
  (void)c;
  return RT_VOCAB;
}

/* make_csv_dataset parses the label as float32 and the model casts it to int32 */
static int rt_label(const char *s) {
  errno = 0;
  char *end = NULL;
  double x = strtod(s, &end);
  if (!*s || *end || errno == ERANGE || !(x == 0 || x == 1)) return -1;
  return (int)x;
}

static smx_status rt_check_row(const smx_task_config *c, const char *file, int64_t lineno, char **fields, int nf,
                               void *ctx) {
  (void)nf, (void)ctx;
  if (rt_label(fields[0]) < 0)
    return smx_fail(SMX_ERR_PARSE, "%s: %s:%lld: label '%.20s' is not 0 or 1", c->task->name, file, (long long)lineno,
                    fields[0]);
  return SMX_OK;
}

static int64_t rt_bytes(const char *text, int64_t L, int32_t *out) {
  int64_t n = (int64_t)strlen(text);
  if (n > RT_MAX_BYTES) n = RT_MAX_BYTES;
  if (n > L) n = L;
  for (int64_t i = 0; i < n; i++) out[i] = RT_BYTE + (unsigned char)text[i];
  return n;
}

static smx_status rt_fill(const smx_task_config *c, const char *path, int64_t lineno, char **fields, int32_t *in,
                          int32_t *lb) {
  (void)path, (void)lineno;
  const int64_t L = task_int(c, RT_L), T = 2 * L + 2;
  int64_t t = rt_bytes(fields[3], L, in);
  in[t++] = RT_SEP;
  t += rt_bytes(fields[4], L, in + t);
  int64_t cls = t;
  in[t++] = RT_CLS;
  for (; t < T; t++) in[t] = RT_PAD;
  for (t = 0; t < T; t++) lb[t] = SMX_IGNORE_LABEL;
  lb[cls] = RT_CLASS + rt_label(fields[0]);
  return SMX_OK;
}

static smx_status rt_check(const smx_task_config *c, const char *path) { return need_files(c, path, rt_files, 3); }

static smx_status rt_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  char dir[SMX_TASK_DATA_MAX + 64];
  smx_status st = smx_task_data_path(c, dir, sizeof dir);
  if (st != SMX_OK || (st = task_data_need(c, dir, 1)) != SMX_OK) return st;
  const char *file = split == SMX_SPLIT_TRAIN ? rt_files[0] : task_int(c, RT_VAL) ? rt_files[1] : rt_files[2];
  return tsv_dataset(c, dir, file, NULL, 5, rt_check_row, rt_fill, split, seed, n, inputs, labels);
}

const smx_task smx_task_lra_retrieval = {
    .name = "lra_retrieval",
    .summary = "Long Range Arena Retrieval (AAN): does paper 1 cite paper 2, from two byte-level documents",
    .source = "google-research/long-range-arena lra_benchmarks/matching/input_pipeline.py",
    .n_params = 2,
    .params = {{"L", 4000, 1, 1 << 20, 0, "bytes kept per document (LRA's max_length: 4000); T = 2L + 2"},
               {"val", 0, 0, 1, 0, "1: the test split reads new_aan_pairs.eval.tsv instead of .test.tsv"}},
    .seq_len = rt_seq_len,
    .vocab = rt_vocab,
    .generate = rt_generate,
    .data_layout = "new_aan_pairs.train.tsv, .eval.tsv, .test.tsv (lra_release/tsv_data, texts filled in from aan.how)",
    .data_subdir = "lra/aan",
    .data_check = rt_check,
};
