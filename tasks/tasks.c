/* The task registry, task parameters ("L=64,N=4") and the dataset entry point
 * (include/seqmix/tasks.h), plus the de-duplicating dataset builder the H3 tasks use. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_data.h"
#include "task_impl.h"
#include "pathfinder.h"

static const smx_task *const all_tasks[] = {
    &smx_task_mqar, &smx_task_induction_head, &smx_task_assoc_recall, &smx_task_selective_copy,
    &smx_task_selective_copy_mamba, &smx_task_listops, &smx_task_passkey, &smx_task_niah, &smx_task_vartrack,
    &smx_task_cwe, &smx_task_fwe,
    &smx_task_lra_listops, &smx_task_lra_text, &smx_task_lra_retrieval, &smx_task_lra_image, &smx_task_bytes,
    &smx_task_pathfinder, &smx_task_pathx,
};
#define N_TASKS ((int)(sizeof all_tasks / sizeof all_tasks[0]))

int smx_task_count(void) { return N_TASKS; }
const smx_task *smx_task_at(int i) { return i >= 0 && i < N_TASKS ? all_tasks[i] : NULL; }

const char *smx_split_name(smx_split s) { return s == SMX_SPLIT_TEST ? "test" : "train"; }

static void names_of(char *buf, size_t n, int (*count)(void), const char *(*name)(int)) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < count() && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", name(i));
}
static const char *task_name_at(int i) { return all_tasks[i]->name; }

smx_status smx_task_lookup(const char *name, const smx_task **out) {
  *out = NULL;
  for (int i = 0; i < N_TASKS; i++)
    if (name && strcmp(all_tasks[i]->name, name) == 0) {
      *out = all_tasks[i];
      return SMX_OK;
    }
  char known[512];
  names_of(known, sizeof known, smx_task_count, task_name_at);
  return smx_fail(SMX_ERR_INVALID, "unknown task '%s' (known: %s)", name ? name : "(none)", known);
}

static int param_index(const smx_task *t, const char *name) {
  for (int i = 0; i < t->n_params; i++)
    if (strcmp(t->params[i].name, name) == 0) return i;
  return -1;
}

double smx_task_get(const smx_task_config *c, const char *name) {
  int i = param_index(c->task, name);
  return i < 0 ? 0 : c->v[i];
}

static void param_names(const smx_task *t, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < t->n_params && o < n; i++)
    o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", t->params[i].name);
}

smx_status smx_task_config_parse(const smx_task *t, const char *spec, smx_task_config *out) {
  memset(out, 0, sizeof *out);
  out->task = t;
  for (int i = 0; i < t->n_params; i++) out->v[i] = t->params[i].def;
  if (!spec) spec = "";
  /* data=PATH is the last item and takes the rest of the spec, commas included */
  const char *data = NULL;
  for (const char *q = spec; (q = strstr(q, "data=")) != NULL; q++) {
    const char *b = q;
    while (b > spec && b[-1] == ' ') b--;
    if (b == spec || b[-1] == ',') {
      data = q;
      break;
    }
  }
  char head[512];
  if (data) {
    if (!t->data_layout) return smx_fail(SMX_ERR_INVALID, "task %s reads no data files (data= is for the file-backed tasks)", t->name);
    const char *path = data + 5;
    if (!*path) return smx_fail(SMX_ERR_INVALID, "%s: data= needs a path", t->name);
    if (strlen(path) >= sizeof out->data)
      return smx_fail(SMX_ERR_INVALID, "%s: data=%.40s... is too long (at most %zu bytes)", t->name, path, sizeof out->data - 1);
    snprintf(out->data, sizeof out->data, "%s", path);
    size_t hn = (size_t)(data - spec);
    if (hn >= sizeof head) return smx_fail(SMX_ERR_INVALID, "%s parameters '%.40s...' are too long", t->name, spec);
    memcpy(head, spec, hn);
    while (hn > 0 && (head[hn - 1] == ' ' || head[hn - 1] == ',')) hn--;
    head[hn] = 0;
    spec = head;
  }
  char buf[512], names[160];
  if (strlen(spec) >= sizeof buf) return smx_fail(SMX_ERR_INVALID, "%s parameters '%.40s...' are too long", t->name, spec);
  snprintf(buf, sizeof buf, "%s", spec);
  param_names(t, names, sizeof names);
  int seen[SMX_TASK_MAX_PARAMS] = {0};
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') tok++;
    char *eq = strchr(tok, '=');
    if (!eq)
      return smx_fail(SMX_ERR_INVALID, "%s parameter '%s' is not NAME=VALUE (parameters: %s)", t->name, tok, names);
    *eq = 0;
    const char *val = eq + 1;
    int idx = param_index(t, tok);
    if (idx < 0) return smx_fail(SMX_ERR_INVALID, "task %s has no parameter '%s' (parameters: %s)", t->name, tok, names);
    if (seen[idx]) return smx_fail(SMX_ERR_INVALID, "%s parameter %s is given twice", t->name, tok);
    seen[idx] = 1;
    const smx_task_param *p = &t->params[idx];
    errno = 0;
    char *end = NULL;
    double x = strtod(val, &end);
    int bad_int = !p->is_real && isfinite(x) && x != floor(x);
    if (!*val || *end || errno == ERANGE || !isfinite(x) || bad_int)
      return smx_fail(SMX_ERR_INVALID, "%s=%s is not %s (accepted: %g..%g)", tok, val, p->is_real ? "a number" : "an integer",
                      p->min, p->max);
    if (x < p->min || x > p->max)
      return smx_fail(SMX_ERR_INVALID, "%s=%s is out of range (accepted: %g..%g)", tok, val, p->min, p->max);
    out->v[idx] = x;
  }
  return t->validate ? t->validate(out) : SMX_OK;
}

void smx_task_config_format(const smx_task_config *c, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < c->task->n_params && o < n; i++)
    o += (size_t)snprintf(buf + o, n - o, "%s%s=%.10g", i ? "," : "", c->task->params[i].name, c->v[i]);
  if (c->data[0] && o < n) snprintf(buf + o, n - o, "%sdata=%s", o ? "," : "", c->data);
}

int64_t smx_task_seq_len(const smx_task_config *c) { return c->task->seq_len(c); }
int64_t smx_task_vocab(const smx_task_config *c) { return c->task->vocab(c); }

int64_t smx_task_answer_span(const smx_task_config *c) {
  int64_t s = c->task->answer_span ? c->task->answer_span(c) : 1;
  return s > 0 ? s : 1;
}

smx_status smx_task_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                             int32_t *labels) {
  if (split != SMX_SPLIT_TRAIN && split != SMX_SPLIT_TEST)
    return smx_fail(SMX_ERR_INVALID, "split %d is neither train (0) nor test (1)", (int)split);
  int64_t T = smx_task_seq_len(c);
  if (n < 1 || n > ((int64_t)1 << 31) || n > (((int64_t)1 << 31) / T))
    return smx_fail(SMX_ERR_INVALID, "n=%lld examples of %lld tokens is out of range (accepted: 1..%lld)", (long long)n,
                    (long long)T, (long long)(((int64_t)1 << 31) / T));
  if (!inputs || !labels) return smx_fail(SMX_ERR_INVALID, "%s: inputs and labels must not be NULL", c->task->name);
  return c->task->generate(c, split, seed, n, inputs, labels);
}

/* ---- safari's unique-examples dataset ---- */

uint64_t task_seq_hash(const int32_t *s, int64_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a, 64-bit */
  for (int64_t i = 0; i < len; i++) {
    uint32_t x = (uint32_t)s[i];
    for (int b = 0; b < 4; b++) {
      h ^= (x >> (8 * b)) & 0xffu;
      h *= 1099511628211ull;
    }
  }
  return h;
}

smx_status task_unique_dataset(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n,
                               task_full_seq_fn gen, int64_t scratch_len, int32_t *inputs, int32_t *labels) {
  const int64_t T = smx_task_seq_len(c);
  /* Draw budget: safari loops until it has n distinct examples; here a parameter setting with
   * fewer than n distinct sequences fails instead of spinning. 64 n draws find n distinct ones
   * unless the space holds barely more than n sequences. */
  const int64_t max_draws = 64 * n + 1024;
  int64_t cap = 2;
  while (cap < 2 * n) cap <<= 1;
  /* Accepted sequences live in the rows of inputs (their first T tokens) and in last[] (their
   * final token), so the dataset is held once; labels are filled at the end. */
  int32_t *last = malloc((size_t)n * sizeof *last), *seq = malloc((size_t)(T + 1) * sizeof *seq);
  int64_t *table = malloc((size_t)cap * sizeof *table);
  int32_t *scratch = malloc((size_t)(scratch_len + 1) * sizeof *scratch);
  if (!last || !seq || !table || !scratch) {
    free(last), free(seq), free(table), free(scratch);
    return smx_fail(SMX_ERR_NOMEM, "%s: cannot allocate %lld examples of %lld tokens", c->task->name, (long long)n,
                    (long long)T);
  }
  for (int64_t i = 0; i < cap; i++) table[i] = -1;
  for (int64_t i = 0; i < scratch_len; i++) scratch[i] = -1;
  int64_t have = 0, draws = 0;
  while (have < n && draws < max_draws) {
    task_rng r;
    task_rng_init(&r, seed, split, TASK_PART_EXAMPLE, (uint64_t)draws++);
    gen(c, &r, seq, scratch);
    uint64_t h = task_seq_hash(seq, T + 1);
    int64_t slot = (int64_t)(h & (uint64_t)(cap - 1)), dup = 0;
    for (; table[slot] >= 0; slot = (slot + 1) & (cap - 1)) {
      int64_t q = table[slot];
      if (last[q] == seq[T] && memcmp(inputs + q * T, seq, (size_t)T * sizeof *seq) == 0) {
        dup = 1;
        break;
      }
    }
    if (dup) continue;
    memcpy(inputs + have * T, seq, (size_t)T * sizeof *seq);
    last[have] = seq[T];
    table[slot] = have++;
  }
  free(table), free(scratch);
  if (have < n) {
    free(last), free(seq);
    return smx_fail(SMX_ERR_INVALID,
                    "%s: only %lld distinct examples in %lld draws; these parameters cannot give n=%lld unique "
                    "examples (use a larger V or L, or a smaller n)",
                    c->task->name, (long long)have, (long long)draws, (long long)n);
  }
  /* safari shuffles after de-duplication; first-occurrence order would put likelier
   * sequences first. Fisher-Yates over rows, seq as the swap buffer. */
  task_rng r;
  task_rng_init(&r, seed, split, TASK_PART_SHUFFLE, 0);
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)task_rng_below(&r, (uint32_t)(i + 1));
    if (j == i) continue;
    memcpy(seq, inputs + i * T, (size_t)T * sizeof *seq);
    memcpy(inputs + i * T, inputs + j * T, (size_t)T * sizeof *seq);
    memcpy(inputs + j * T, seq, (size_t)T * sizeof *seq);
    int32_t t = last[i];
    last[i] = last[j];
    last[j] = t;
  }
  for (int64_t e = 0; e < n; e++) {
    const int32_t *in = inputs + e * T;
    int32_t *lb = labels + e * T;
    for (int64_t t = 0; t + 1 < T; t++) lb[t] = split == SMX_SPLIT_TRAIN ? in[t + 1] : SMX_IGNORE_LABEL;
    lb[T - 1] = last[e];
  }
  free(last), free(seq);
  return SMX_OK;
}
