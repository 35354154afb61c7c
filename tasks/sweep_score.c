/* Scoring a sweep: finished runs grouped by their config less lr and seed, per learning rate the
 * mean over seeds, the best learning rate's spread (include/seqmix/sweep_score.h).
 *
 *   seqmix sweep score --in results.jsonl
 *   build/tests/seqmix_tests --filter sweep_score/'*'
 */
#include "seqmix/sweep_score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/json_io.h"
#include "seqmix/tasks.h"

/* One run while grouping: its learning rate, seed, score and record. */
typedef struct run_ref {
  double lr, score;
  json_int_t seed;
  const smx_run_record *rec;
} run_ref;

typedef struct pending {
  char *canon; /* canonical text of the group's config */
  json_t *config;
  run_ref *runs;
  size_t n, cap;
} pending;

static const char *str_or(const json_t *obj, const char *key, const char *dflt) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? s : dflt;
}

/* Mean, sample deviation, min and max of the runs of `p` at learning rate lr. */
static smx_lr_score lr_stats(const pending *p, double lr) {
  smx_lr_score sc = {.lr = lr, .min = INFINITY, .max = -INFINITY};
  double sum = 0;
  for (size_t i = 0; i < p->n; i++)
    if (p->runs[i].lr == lr) {
      double v = p->runs[i].score;
      sum += v, sc.n++;
      sc.min = fmin(sc.min, v), sc.max = fmax(sc.max, v);
    }
  sc.mean = sum / sc.n;
  double ss = 0;
  for (size_t i = 0; i < p->n; i++)
    if (p->runs[i].lr == lr) ss += (p->runs[i].score - sc.mean) * (p->runs[i].score - sc.mean);
  sc.sd = sc.n > 1 ? sqrt(ss / (sc.n - 1)) : 0;
  return sc;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int cmp_run_seed(const void *a, const void *b) {
  const run_ref *x = a, *y = b;
  return (x->seed > y->seed) - (x->seed < y->seed);
}

/* The group's views, label, d, L and V from its config. */
static void describe(smx_group_score *g) {
  json_t *c = g->config;
  g->task = str_or(c, "task", "");
  g->params = str_or(c, "params", "");
  g->mixer = str_or(c, "mixer", "");
  json_t *mlp = json_object_get(c, "mlp");
  g->channel = str_or(c, "channel", json_is_integer(mlp) && json_integer_value(mlp) > 0 ? "mlp" : "none");
  g->options = str_or(c, "options", "");
  json_t *d = json_object_get(c, "d");
  g->d = json_is_integer(d) ? json_integer_value(d) : -1;
  size_t o = (size_t)snprintf(g->label, sizeof g->label, "%s", g->mixer);
  if (strcmp(g->channel, "none") && o < sizeof g->label)
    o += (size_t)snprintf(g->label + o, sizeof g->label - o, " + %s", g->channel);
  if (g->options[0] && o < sizeof g->label) o += (size_t)snprintf(g->label + o, sizeof g->label - o, " (%s)", g->options);
  const char *pool = str_or(c, "pool", "none");
  if (strcmp(pool, "none") && o < sizeof g->label) snprintf(g->label + o, sizeof g->label - o, " [%s pool]", pool);
  g->L = g->V = -1;
  const smx_task *t;
  smx_task_config tc;
  if (smx_task_lookup(g->task, &t) == SMX_OK && smx_task_config_parse(t, g->params, &tc) == SMX_OK) {
    for (int i = 0; i < t->n_params; i++) {
      if (!strcmp(t->params[i].name, "L")) g->L = (int64_t)tc.v[i];
      if (!strcmp(t->params[i].name, "V")) g->V = (int64_t)tc.v[i];
    }
  }
  smx_clear_error(); /* a task this build does not know is still scored, without L and V */
}

static int cmp_group(const void *a, const void *b) {
  const smx_group_score *x = a, *y = b;
  int c;
  if ((c = strcmp(x->task, y->task))) return c;
  if (x->L != y->L) return x->L < y->L ? -1 : 1;
  if ((c = strcmp(x->params, y->params))) return c;
  if ((c = strcmp(x->label, y->label))) return c;
  if (x->d != y->d) return x->d < y->d ? -1 : 1;
  char *p = smx_config_canonical(x->config), *q = smx_config_canonical(y->config);
  c = p && q ? strcmp(p, q) : 0;
  free(p), free(q);
  return c;
}

static smx_status add_run(pending **ps, size_t *np, size_t *capp, const smx_run_record *rec) {
  json_t *config = json_object_get(rec->line, "config"), *result = json_object_get(rec->line, "result");
  json_t *lr = json_object_get(config, "lr"), *seed = json_object_get(config, "seed");
  json_t *acc = json_object_get(result, "test_acc");
  const char *missing = !json_is_number(lr) ? "numeric config.lr" : !json_is_integer(seed) ? "integer config.seed"
                        : !json_is_number(acc) ? "numeric result.test_acc" : NULL;
  if (missing) return smx_fail(SMX_ERR_PARSE, "%s:%ld: run %s has no %s", rec->file, rec->lineno, rec->key, missing);
  json_t *gc = json_deep_copy(config);
  if (!gc) return smx_fail(SMX_ERR_NOMEM, "out of memory scoring the sweep");
  json_object_del(gc, "lr");
  json_object_del(gc, "seed");
  char *canon = smx_config_canonical(gc);
  if (!canon) {
    json_decref(gc);
    return smx_fail(SMX_ERR_NOMEM, "out of memory scoring the sweep");
  }
  pending *p = NULL;
  for (size_t i = 0; i < *np && !p; i++)
    if (!strcmp((*ps)[i].canon, canon)) p = &(*ps)[i];
  if (p) {
    free(canon);
    json_decref(gc);
  } else {
    if (*np == *capp) {
      size_t cap = *capp ? 2 * *capp : 32;
      pending *q = realloc(*ps, cap * sizeof *q);
      if (!q) {
        free(canon), json_decref(gc);
        return smx_fail(SMX_ERR_NOMEM, "out of memory scoring the sweep");
      }
      *ps = q, *capp = cap;
    }
    p = &(*ps)[(*np)++];
    *p = (pending){.canon = canon, .config = gc};
  }
  if (p->n == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 8;
    run_ref *q = realloc(p->runs, cap * sizeof *q);
    if (!q) return smx_fail(SMX_ERR_NOMEM, "out of memory scoring the sweep");
    p->runs = q, p->cap = cap;
  }
  p->runs[p->n++] = (run_ref){json_number_value(lr), json_number_value(acc), json_integer_value(seed), rec};
  return SMX_OK;
}

/* Fills g from the pending group p (takes its config). */
static smx_status finish_group(pending *p, smx_group_score *g) {
  memset(g, 0, sizeof *g);
  g->config = p->config;
  p->config = NULL;
  describe(g);
  double *lrs = malloc(p->n * sizeof *lrs);
  g->lrs = calloc(p->n, sizeof *g->lrs);
  if (!lrs || !g->lrs) {
    free(lrs);
    return smx_fail(SMX_ERR_NOMEM, "out of memory scoring the sweep");
  }
  for (size_t i = 0; i < p->n; i++) lrs[i] = p->runs[i].lr;
  qsort(lrs, p->n, sizeof *lrs, cmp_double);
  for (size_t i = 0; i < p->n; i++)
    if (i == 0 || lrs[i] != lrs[i - 1]) g->lrs[g->n_lrs++] = lr_stats(p, lrs[i]);
  free(lrs);
  int best = 0;
  for (int i = 1; i < g->n_lrs; i++) /* ascending lr, so a tie keeps the smaller lr */
    if (g->lrs[i].mean > g->lrs[best].mean || (g->lrs[i].mean == g->lrs[best].mean && g->lrs[i].n > g->lrs[best].n))
      best = i;
  g->best = g->lrs[best];
  qsort(p->runs, p->n, sizeof *p->runs, cmp_run_seed);
  g->runs = json_array();
  for (size_t i = 0; i < p->n; i++)
    if (p->runs[i].lr == g->best.lr)
      json_array_append_new(g->runs, json_pack("{s:I, s:s, s:O}", "seed", p->runs[i].seed, "key", p->runs[i].rec->key,
                                               "result", json_object_get(p->runs[i].rec->line, "result")));
  return SMX_OK;
}

static void note_hardware(smx_sweep_scores *s, const smx_run_record *rec) {
  const char *hw = json_string_value(json_object_get(json_object_get(rec->line, "meta"), "hardware_id"));
  if (!hw || !hw[0]) return;
  size_t len = strlen(hw), o = strlen(s->hardware);
  for (const char *p = s->hardware; (p = strstr(p, hw)); p += len)
    if ((p == s->hardware || p[-1] == ' ') && (p[len] == ',' || !p[len])) return;
  snprintf(s->hardware + o, sizeof s->hardware - o, "%s%s", o ? ", " : "", hw);
}

smx_status smx_sweep_score(const smx_results *r, smx_sweep_scores *out) {
  memset(out, 0, sizeof *out);
  if (!r->n) return smx_fail(SMX_ERR_INVALID, "no finished runs to score%s%s", r->n_files ? " in " : "",
                              r->n_files ? r->files[0] : "");
  pending *ps = NULL;
  size_t np = 0, cap = 0;
  smx_status st = SMX_OK;
  for (size_t i = 0; i < r->n && st == SMX_OK; i++) {
    st = add_run(&ps, &np, &cap, &r->recs[i]);
    note_hardware(out, &r->recs[i]);
  }
  if (st == SMX_OK && !(out->g = calloc(np, sizeof *out->g)))
    st = smx_fail(SMX_ERR_NOMEM, "out of memory scoring the sweep");
  for (size_t i = 0; i < np && st == SMX_OK; i++) {
    st = finish_group(&ps[i], &out->g[i]);
    out->n++;
  }
  for (size_t i = 0; i < np; i++) {
    free(ps[i].canon), free(ps[i].runs);
    json_decref(ps[i].config);
  }
  free(ps);
  if (st != SMX_OK) {
    smx_sweep_scores_free(out);
    return st;
  }
  out->runs = r->n;
  qsort(out->g, out->n, sizeof *out->g, cmp_group);
  return SMX_OK;
}

/* The store's first warning, without its "seqmix: warning: " and its "; line ignored" ending (the
 * line is not ignored here: it fails the scoring). */
static void first_warning(const char *text, char *out, size_t n) {
  const char *p = text ? text : "";
  if (!strncmp(p, "seqmix: warning: ", 17)) p += 17;
  size_t len = strcspn(p, "\n");
  static const char *const endings[] = {"; line ignored", "; ignored", "; kept the first"};
  for (size_t i = 0; i < sizeof endings / sizeof endings[0]; i++) {
    size_t e = strlen(endings[i]);
    if (len >= e && !strncmp(p + len - e, endings[i], e)) {
      len -= e;
      break;
    }
  }
  snprintf(out, n, "%.*s", (int)len, p);
}

smx_status smx_sweep_score_files(const char *const *paths, int n_paths, smx_sweep_scores *out) {
  memset(out, 0, sizeof *out);
  smx_results r = {0};
  smx_status st = SMX_OK;
  for (int i = 0; i < n_paths && st == SMX_OK; i++) {
    /* the store's warnings, to name the first bad line in one error line */
    char *warn = NULL;
    size_t wlen = 0;
    FILE *wf = open_memstream(&warn, &wlen);
    size_t skipped = r.skipped, conflicts = r.conflicts, runs = r.n;
    st = smx_results_load(&r, paths[i], 0, wf);
    if (wf) fclose(wf);
    size_t bad = r.skipped - skipped + r.conflicts - conflicts;
    if (st == SMX_OK && bad) {
      char first[700], more[64] = "";
      first_warning(warn, first, sizeof first);
      if (bad > 1) snprintf(more, sizeof more, " (and %zu more bad line%s)", bad - 1, bad == 2 ? "" : "s");
      st = smx_fail(SMX_ERR_PARSE, "%s%s; `seqmix sweep merge CLEAN.jsonl %s` writes the readable runs to a new file",
                    first, more, paths[i]);
    } else if (st == SMX_OK && r.n == runs) {
      st = smx_fail(SMX_ERR_INVALID, "%s holds no finished runs", paths[i]);
    }
    free(warn);
  }
  if (st == SMX_OK) st = smx_sweep_score(&r, out);
  smx_results_free(&r);
  return st;
}

void smx_sweep_scores_free(smx_sweep_scores *s) {
  for (size_t i = 0; i < s->n; i++) {
    json_decref(s->g[i].config);
    json_decref(s->g[i].runs);
    free(s->g[i].lrs);
  }
  free(s->g);
  memset(s, 0, sizeof *s);
}

void smx_score_format(const smx_lr_score *sc, char *buf, size_t n) {
  snprintf(buf, n, "%.3f ± %.3f [%.3f, %.3f]", sc->mean, sc->sd, sc->min, sc->max);
}

static json_t *lr_json(const smx_lr_score *sc) {
  return json_pack("{s:f, s:f, s:f, s:f, s:f, s:i}", "lr", sc->lr, "mean", sc->mean, "sd", sc->sd, "min", sc->min, "max",
                   sc->max, "n", sc->n);
}

json_t *smx_sweep_scores_json(const smx_sweep_scores *s) {
  json_t *doc = smx_json_new_doc("sweep_scores"), *groups = json_array();
  json_object_set_new(doc, "rule",
                      json_string("score = test accuracy at the last epoch run; runs grouped by config less lr and seed; "
                                  "per group the learning rate with the best mean over seeds, with that lr's sd "
                                  "(n - 1), min, max and seed count"));
  json_object_set_new(doc, "runs", json_integer((json_int_t)s->runs));
  json_object_set_new(doc, "hardware", json_string(s->hardware));
  for (size_t i = 0; i < s->n; i++) {
    const smx_group_score *g = &s->g[i];
    json_t *lrs = json_array(), *seeds = json_array();
    for (int k = 0; k < g->n_lrs; k++) json_array_append_new(lrs, lr_json(&g->lrs[k]));
    size_t j;
    json_t *r;
    json_array_foreach(g->runs, j, r) json_array_append(seeds, json_object_get(r, "seed"));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:O, s:f, s:f, s:f, s:f, s:f, s:i, s:b, s:o, s:o}",
                          "task", g->task, "params", g->params, "mixer", g->mixer, "channel", g->channel, "options",
                          g->options, "label", g->label, "d", (json_int_t)g->d, "config", g->config, "lr", g->best.lr,
                          "mean", g->best.mean, "sd", g->best.sd, "min", g->best.min, "max", g->best.max, "n",
                          g->best.n, "few_seeds", g->best.n < SMX_SCORE_MIN_SEEDS, "seeds", seeds, "lrs", lrs);
    json_array_append_new(groups, o);
  }
  json_object_set_new(doc, "groups", groups);
  return doc;
}

void smx_group_extra(const smx_sweep_scores *s, size_t gi, int across_d, char *buf, size_t n) {
  static const char *const shown[] = {"task", "params", "mixer", "channel", "options", "d"};
  const smx_group_score *g = &s->g[gi];
  size_t o = 0;
  buf[0] = 0;
  const char *k;
  json_t *v;
  json_object_foreach(g->config, k, v) {
    int skip = 0;
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) skip |= !strcmp(k, shown[i]);
    if (skip) continue;
    int differs = 0;
    for (size_t j = 0; j < s->n && !differs; j++) {
      const smx_group_score *h = &s->g[j];
      if (j == gi || strcmp(g->task, h->task) || strcmp(g->params, h->params) || strcmp(g->label, h->label) ||
          (!across_d && g->d != h->d))
        continue;
      json_t *w = json_object_get(h->config, k);
      differs = !w || !json_equal(v, w);
    }
    if (!differs) continue;
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
    if (text && o < n) o += (size_t)snprintf(buf + o, n - o, "%s%s=%s", o ? ", " : "", k, text);
    free(text);
  }
}

typedef struct row {
  char task[64], params[160], mixer[400], channel[96], d[24], lr[32], score[96], n[24], match[48];
} row;

/* The mean over the best learning rate's runs of result.<key> (exact_match, span_match); -1 when
 * a run lacks it (runs recorded before whole-value scores existed). */
static double runs_mean(const smx_group_score *g, const char *key) {
  size_t i;
  json_t *r;
  double sum = 0;
  json_array_foreach(g->runs, i, r) {
    json_t *v = json_object_get(json_object_get(r, "result"), key);
    if (!json_is_number(v)) return -1;
    sum += json_number_value(v);
  }
  return json_array_size(g->runs) ? sum / (double)json_array_size(g->runs) : -1;
}

/* 1 when some group's runs carry whole-value scores: the tables then show them. */
static int any_match(const smx_sweep_scores *s) {
  for (size_t i = 0; i < s->n; i++)
    if (runs_mean(&s->g[i], "exact_match") >= 0) return 1;
  return 0;
}

static void fill_row(const smx_sweep_scores *s, size_t i, row *r) {
  const smx_group_score *g = &s->g[i];
  char extra[300];
  smx_group_extra(s, i, 0, extra, sizeof extra);
  snprintf(r->task, sizeof r->task, "%s", g->task);
  snprintf(r->params, sizeof r->params, "%s", g->params);
  snprintf(r->mixer, sizeof r->mixer, "%s%s%s%s%s%s%s", g->mixer, g->options[0] ? " (" : "", g->options,
           g->options[0] ? ")" : "", extra[0] ? " [" : "", extra, extra[0] ? "]" : "");
  snprintf(r->channel, sizeof r->channel, "%s", g->channel);
  snprintf(r->d, sizeof r->d, "%lld", (long long)g->d);
  snprintf(r->lr, sizeof r->lr, "%g", g->best.lr);
  smx_score_format(&g->best, r->score, sizeof r->score);
  snprintf(r->n, sizeof r->n, "%d%s", g->best.n, g->best.n < SMX_SCORE_MIN_SEEDS ? " (n < 3)" : "");
  double em = runs_mean(g, "exact_match"), sm = runs_mean(g, "span_match");
  if (em >= 0 && sm >= 0) snprintf(r->match, sizeof r->match, "%.3f / %.3f", em, sm);
  else snprintf(r->match, sizeof r->match, "–");
}

/* Display width: "±" is one column but two bytes. */
static int width(const char *s) {
  int w = 0;
  for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
  return w;
}

void smx_sweep_scores_text(FILE *f, const smx_sweep_scores *s) {
  static const char *const head[9] = {"task", "params", "mixer", "channel", "d", "best lr", "mean ± sd [min, max]", "n",
                                      "exact / string match"};
  const int nc = any_match(s) ? 9 : 8;
  int w[9];
  for (int c = 0; c < nc; c++) w[c] = width(head[c]);
  for (size_t i = 0; i < s->n; i++) {
    row r;
    fill_row(s, i, &r);
    const char *cells[9] = {r.task, r.params, r.mixer, r.channel, r.d, r.lr, r.score, r.n, r.match};
    for (int c = 0; c < nc; c++)
      if (width(cells[c]) > w[c]) w[c] = width(cells[c]);
  }
  for (int c = 0; c < nc; c++) fprintf(f, "%s%s%*s", c ? "  " : "", head[c], c < nc - 1 ? w[c] - width(head[c]) : 0, "");
  fputc('\n', f);
  for (size_t i = 0; i < s->n; i++) {
    row r;
    fill_row(s, i, &r);
    const char *cells[9] = {r.task, r.params, r.mixer, r.channel, r.d, r.lr, r.score, r.n, r.match};
    for (int c = 0; c < nc; c++) fprintf(f, "%s%s%*s", c ? "  " : "", cells[c], c < nc - 1 ? w[c] - width(cells[c]) : 0, "");
    fputc('\n', f);
  }
}

void smx_sweep_scores_md(FILE *f, const smx_sweep_scores *s) {
  const int match = any_match(s);
  fprintf(f, "| task | params | mixer | channel | d | best lr | mean ± sd [min, max] | n |%s\n",
          match ? " exact / string match |" : "");
  fprintf(f, "|---|---|---|---|---|---|---|---|%s\n", match ? "---|" : "");
  for (size_t i = 0; i < s->n; i++) {
    row r;
    fill_row(s, i, &r);
    fprintf(f, "| %s | `%s` | `%s` | `%s` | %s | %s | %s | %s |", r.task, r.params, r.mixer, r.channel, r.d, r.lr, r.score, r.n);
    if (match) fprintf(f, " %s |", r.match);
    fputc('\n', f);
  }
}
