/* Scoring L-Eval sets in C (include/seqmix/leval.h; docs/tasks.md "L-Eval scoring"): lists of
 * predictions and references through a task's rule (tasks/leval_rules.c) and metric
 * (tasks/leval_text.c), and L-Eval's JSONL data files with a predictions file.
 *
 *   seqmix task leval-score --data tpo.jsonl --pred tpo.pred.jsonl [--metric em|f1|rouge] [--out r.json]
 *   build/tests/seqmix_tests --filter 'leval/@(score_lists|score_files|score_files_errors|cli)'   (this file's)
 *   build/tests/seqmix_tests --filter 'leval/\*'   (all of L-Eval's)
 *
 * The authority for every rule is L-Eval's code (OpenLMLab/LEval at cd34b05):
 *   Evaluation/auto_eval.py  which metric (the records' evaluation field), the prediction key
 *                            ("<model>_pred"), the topic/sci_fi group averages, the ROUGE
 *                            per-example x100 and geometric mean, rounding to 4 digits. */
#define _GNU_SOURCE
#include "seqmix/leval.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/leval_impl.h"

/* ------------------------------------------------------------------ scoring a set */

/* Python's round(x, 4): printf rounds the exact binary value half-to-even, as Python does. */
static double round4(double x) {
  if (!isfinite(x)) return x;
  char t[64];
  snprintf(t, sizeof t, "%.4f", x);
  return strtod(t, NULL);
}

/* One (prediction, reference) pair after the rule's extraction. */
typedef struct pair {
  char *pred, *ref;
  int group;
} pair;

static smx_status prepare(smx_leval_rule rule, const char *pred, const char *ref, int64_t index, pair *out,
                          int *n_out) {
  *n_out = 1;
  out[0] = (pair){NULL, NULL, 0};
  switch (rule) {
  case SMX_LEVAL_RULE_MC:
  case SMX_LEVAL_RULE_MC_MULTI:
    out[0].ref = smx_leval_mc_gt(ref);
    out[0].pred = smx_leval_mc_output(pred, rule == SMX_LEVAL_RULE_MC_MULTI);
    break;
  case SMX_LEVAL_RULE_GSM:
    out[0].ref = smx_leval_math(ref);
    out[0].pred = smx_leval_math(pred);
    break;
  case SMX_LEVAL_RULE_CODE:
    out[0].ref = smx_leval_code_gt(ref);
    out[0].pred = smx_leval_code_output(pred, ref);
    break;
  case SMX_LEVAL_RULE_JUDGE: {
    char *gl, *gf;
    const char *pl, *pf;
    smx_status s = smx_leval_judge_gt(ref, &gl, &gf);
    if (s != SMX_OK) return s;
    if ((s = smx_leval_judge_output(pred, &pl, &pf)) != SMX_OK) {
      free(gl), free(gf);
      return s;
    }
    out[0] = (pair){strdup(pl), gl, 0};
    out[1] = (pair){strdup(pf), gf, 1};
    *n_out = 2;
    if (!out[0].pred || !out[1].pred) return smx_fail(SMX_ERR_NOMEM, "out of memory");
    return SMX_OK;
  }
  case SMX_LEVAL_RULE_TOPIC:
  case SMX_LEVAL_RULE_PLAIN:
    out[0].ref = strdup(ref);
    out[0].pred = strdup(pred);
    out[0].group = rule == SMX_LEVAL_RULE_TOPIC ? (int)(index % 3) : 0;
    break;
  }
  if (!out[0].ref || !out[0].pred) return smx_fail(SMX_ERR_NOMEM, "out of memory");
  return SMX_OK;
}

smx_status smx_leval_score_lists(smx_leval_rule rule, smx_leval_metric metric, const char *const *preds,
                                 const char *const *refs, const int64_t *pred_index, int64_t n, smx_leval_result *out) {
  memset(out, 0, sizeof *out);
  out->exact_match = out->f1 = out->rouge1 = out->rouge2 = out->rougeL = out->rouge_gmean = out->score = NAN;
  out->rule = rule, out->metric = metric;
  if (metric == SMX_LEVAL_AUTO) return smx_fail(SMX_ERR_INVALID, "score_lists needs a metric (em, f1 or rouge)");
  if (n < 1) return smx_fail(SMX_ERR_INVALID, "nothing to score: no predictions");
  int grouped = rule == SMX_LEVAL_RULE_TOPIC || rule == SMX_LEVAL_RULE_JUDGE;
  if (grouped && metric != SMX_LEVAL_EM)
    return smx_fail(SMX_ERR_INVALID,
                    "%s is scored by exact match only (auto_eval.py averages its groups' exact_match); drop --metric %s",
                    rule == SMX_LEVAL_RULE_TOPIC ? "topic_retrieval_longchat" : "sci_fi", smx_leval_metric_name(metric));
  double sum[3] = {0, 0, 0}, gsum[3] = {0, 0, 0};
  int64_t gcount[3] = {0, 0, 0};
  smx_status st = SMX_OK;
  for (int64_t i = 0; i < n && st == SMX_OK; i++) {
    if (!preds[i] || !refs[i]) {
      st = smx_fail(SMX_ERR_INVALID, "query %lld has no prediction or no reference", (long long)i);
      break;
    }
    pair p[2] = {{0}};
    int np_ = 0;
    st = prepare(rule, preds[i], refs[i], pred_index ? pred_index[i] : i, p, &np_);
    for (int k = 0; k < np_ && st == SMX_OK; k++) {
      if (metric == SMX_LEVAL_EM) {
        double v = smx_leval_em(p[k].pred, p[k].ref);
        sum[0] += v;
        gsum[p[k].group] += v;
        gcount[p[k].group]++;
      } else if (metric == SMX_LEVAL_F1) {
        sum[0] += smx_leval_f1(p[k].pred, p[k].ref);
      } else {
        smx_leval_rouge_f r;
        if ((st = smx_leval_rouge(p[k].pred, p[k].ref, &r)) != SMX_OK) break;
        /* transform_result_fn: fmeasure * 100 per example, then the mean */
        sum[0] += r.rouge1 * 100, sum[1] += r.rouge2 * 100, sum[2] += r.rougeL * 100;
      }
    }
    for (int k = 0; k < 2; k++) free(p[k].pred), free(p[k].ref);
  }
  if (st != SMX_OK) return st;
  out->n_scored = n;
  double dn = (double)n;
  if (metric == SMX_LEVAL_EM) {
    if (grouped) {
      int ng = rule == SMX_LEVAL_RULE_TOPIC ? 3 : 2, used = 0;
      double bal = 0;
      out->n_groups = ng;
      for (int g = 0; g < ng; g++) {
        out->group[g] = gcount[g] ? round4(100.0 * gsum[g] / (double)gcount[g]) : NAN;
        if (gcount[g]) bal += out->group[g], used++;
      }
      /* auto_eval.py: balance_score / 3 (or / 2); a group with no queries (fewer than 3 lines),
       * where Python divides by zero, is left out */
      out->score = out->exact_match = bal / used;
    } else {
      out->exact_match = round4(100.0 * sum[0] / dn);
      out->score = out->exact_match;
    }
  } else if (metric == SMX_LEVAL_F1) {
    out->f1 = round4(100.0 * sum[0] / dn);
    out->score = out->f1;
  } else {
    double r1 = sum[0] / dn, r2 = sum[1] / dn, rl = sum[2] / dn;
    double gm = pow(r1 * r2 * rl, 1.0 / 3.0);
    out->rouge1 = round4(r1), out->rouge2 = round4(r2), out->rougeL = round4(rl), out->rouge_gmean = round4(gm);
    out->score = out->rouge_gmean;
  }
  return SMX_OK;
}

/* ------------------------------------------------------------------ the files */

/* The file's non-blank lines parsed as JSON values; *lines_no holds each one's 1-based line number. */
static smx_status read_jsonl(const char *path, const char *what, json_t ***vals, int64_t **lines_no, int64_t *count) {
  *vals = NULL, *lines_no = NULL, *count = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return smx_fail(SMX_ERR_IO, "cannot read the %s file %s: %s", what, path, strerror(errno));
  sbuf b = {0};
  char chunk[65536];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) leval_sb_putn(&b, chunk, got);
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(b.p);
    return smx_fail(SMX_ERR_IO, "cannot read the %s file %s", what, path);
  }
  if (b.oom) {
    free(b.p);
    return smx_fail(SMX_ERR_NOMEM, "out of memory reading %s", path);
  }
  int64_t cap = 64, k = 0, line = 0;
  json_t **v = malloc((size_t)cap * sizeof *v);
  int64_t *ln = malloc((size_t)cap * sizeof *ln);
  smx_status st = v && ln ? SMX_OK : smx_fail(SMX_ERR_NOMEM, "out of memory reading %s", path);
  for (size_t i = 0; st == SMX_OK && i < b.n;) {
    size_t e = i;
    while (e < b.n && b.p[e] != '\n') e++;
    line++;
    size_t a = i, z = e;
    while (a < z && strchr(" \t\r\f\v", b.p[a])) a++;
    while (z > a && strchr(" \t\r\f\v", b.p[z - 1])) z--;
    i = e + 1;
    if (a == z) continue; /* blank line */
    json_error_t je;
    json_t *j = json_loadb(b.p + a, z - a, JSON_DECODE_ANY, &je);
    if (!j) {
      st = smx_fail(SMX_ERR_PARSE, "%s line %lld is not JSON (%s at column %d)", path, (long long)line, je.text,
                    je.column);
      break;
    }
    if (k == cap) {
      json_t **v2 = realloc(v, (size_t)(cap * 2) * sizeof *v);
      if (v2) v = v2;
      int64_t *l2 = v2 ? realloc(ln, (size_t)(cap * 2) * sizeof *ln) : NULL;
      if (l2) ln = l2;
      if (!v2 || !l2) {
        json_decref(j);
        st = smx_fail(SMX_ERR_NOMEM, "out of memory reading %s", path);
        break;
      }
      cap *= 2;
    }
    v[k] = j, ln[k] = line, k++;
  }
  free(b.p);
  if (st == SMX_OK && k == 0) st = smx_fail(SMX_ERR_PARSE, "the %s file %s is empty (no JSON lines)", what, path);
  if (st != SMX_OK) {
    for (int64_t i = 0; v && i < k; i++) json_decref(v[i]);
    free(v), free(ln);
    return st;
  }
  *vals = v, *lines_no = ln, *count = k;
  return SMX_OK;
}

static void free_jsonl(json_t **v, int64_t *ln, int64_t k) {
  for (int64_t i = 0; v && i < k; i++) json_decref(v[i]);
  free(v), free(ln);
}

static int scored_evaluation(const char *e, smx_leval_metric *m) {
  if (!strcmp(e, "exam")) *m = SMX_LEVAL_EM;
  else if (!strcmp(e, "f1")) *m = SMX_LEVAL_F1;
  else if (!strcmp(e, "rouge")) *m = SMX_LEVAL_ROUGE;
  else return 0;
  return 1;
}

/* The base name without a trailing .jsonl and .pred (L-Eval's prediction files end .pred.jsonl). */
static void task_from_path(const char *path, char *out, size_t n) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(out, n, "%s", base);
  size_t len = strlen(out);
  if (len > 6 && !strcmp(out + len - 6, ".jsonl")) out[len -= 6] = 0;
  if (len > 5 && !strcmp(out + len - 5, ".pred")) out[len - 5] = 0;
}

smx_status smx_leval_score_files(const char *data_path, const char *pred_path, const char *task_name,
                                 smx_leval_metric metric, smx_leval_result *out) {
  memset(out, 0, sizeof *out);
  if (task_name) snprintf(out->task, sizeof out->task, "%s", task_name);
  else task_from_path(data_path, out->task, sizeof out->task);
  smx_leval_rule rule = smx_leval_rule_for_name(out->task);

  json_t **recs = NULL, **pv = NULL;
  int64_t *rl = NULL, *pl = NULL, nrec = 0, npv = 0;
  const char **refs = NULL, **preds = NULL;
  int64_t *pidx = NULL;
  smx_status st = read_jsonl(data_path, "data", &recs, &rl, &nrec);
  if (st != SMX_OK) return st;

  /* the data: every record needs L-Eval's fields; queries are (record, instruction) pairs */
  int64_t nq = 0, nscored = 0;
  smx_leval_metric file_metric = SMX_LEVAL_AUTO;
  const char *first_eval = NULL;
  int64_t first_eval_line = 0;
  for (int64_t r = 0; r < nrec && st == SMX_OK; r++) {
    json_t *o = recs[r], *ins = json_object_get(o, "instructions"), *outs = json_object_get(o, "outputs"),
           *ev = json_object_get(o, "evaluation");
    const char *miss = !json_is_object(o)                  ? "is not a JSON object"
                       : !json_is_string(json_object_get(o, "input")) ? "lacks \"input\" (a string)"
                       : !json_is_array(ins)               ? "lacks \"instructions\" (a list)"
                       : !json_is_array(outs)              ? "lacks \"outputs\" (a list of reference strings)"
                       : !json_is_string(ev)               ? "lacks \"evaluation\" (exam, f1, rouge, LLM or human)"
                                                           : NULL;
    if (!miss && json_array_size(ins) != json_array_size(outs)) miss = "has a different number of instructions and outputs";
    for (size_t j = 0; !miss && j < json_array_size(outs); j++)
      if (!json_is_string(json_array_get(outs, j))) miss = "has an output that is not a string";
    if (miss) {
      st = smx_fail(SMX_ERR_PARSE, "%s line %lld: the record %s", data_path, (long long)rl[r], miss);
      break;
    }
    smx_leval_metric m;
    int64_t nj = (int64_t)json_array_size(outs);
    nq += nj;
    if (scored_evaluation(json_string_value(ev), &m)) {
      nscored += nj;
      if (!first_eval) first_eval = json_string_value(ev), first_eval_line = rl[r], file_metric = m;
      else if (m != file_metric && metric == SMX_LEVAL_AUTO)
        st = smx_fail(SMX_ERR_PARSE, "%s mixes evaluations ('%s' on line %lld, '%s' on line %lld); pass --metric", data_path,
                      first_eval, (long long)first_eval_line, json_string_value(ev), (long long)rl[r]);
    }
  }
  if (st == SMX_OK && nscored == 0)
    st = smx_fail(SMX_ERR_PARSE, "%s has no query to score (no record has evaluation exam, f1 or rouge)", data_path);
  if (st == SMX_OK) st = read_jsonl(pred_path, "predictions", &pv, &pl, &npv);
  if (st == SMX_OK && npv != nscored && npv != nq)
    st = smx_fail(SMX_ERR_PARSE,
                  "%s has %lld predictions but %s has %lld scored queries (%lld in all); give one per query, in order",
                  pred_path, (long long)npv, data_path, (long long)nscored, (long long)nq);
  if (st == SMX_OK) {
    refs = malloc((size_t)nscored * sizeof *refs), preds = malloc((size_t)nscored * sizeof *preds);
    pidx = malloc((size_t)nscored * sizeof *pidx);
    if (!refs || !preds || !pidx) st = smx_fail(SMX_ERR_NOMEM, "out of memory");
  }
  /* the prediction key: "prediction", else the first key holding "_pred" in the first line
   * (auto_eval.py's search for L-Eval's "<model>_pred") */
  const char *key = NULL;
  if (st == SMX_OK && json_is_object(pv[0])) {
    if (json_object_get(pv[0], "prediction")) key = "prediction";
    else {
      const char *k;
      json_t *val;
      json_object_foreach(pv[0], k, val) {
        if (strstr(k, "_pred")) {
          key = k;
          break;
        }
      }
    }
    if (!key) st = smx_fail(SMX_ERR_PARSE, "%s line %lld: no \"prediction\" or \"<model>_pred\" key", pred_path, (long long)pl[0]);
  }
  int64_t s = 0, gq = 0;
  for (int64_t r = 0; r < nrec && st == SMX_OK; r++) {
    json_t *outs = json_object_get(recs[r], "outputs");
    smx_leval_metric m;
    int scored = scored_evaluation(json_string_value(json_object_get(recs[r], "evaluation")), &m);
    for (size_t j = 0; j < json_array_size(outs) && st == SMX_OK; j++, gq++) {
      if (!scored) continue;
      int64_t p = npv == nscored ? s : gq;
      json_t *line = pv[p], *txt = json_is_object(line) ? json_object_get(line, key) : line;
      if (!json_is_string(txt)) {
        st = smx_fail(SMX_ERR_PARSE, "%s line %lld: the prediction is not a string (a JSON string, or an object with \"%s\")",
                      pred_path, (long long)pl[p], key ? key : "prediction");
        break;
      }
      const char *ref = json_string_value(json_array_get(outs, j));
      json_t *gt = json_is_object(line) ? json_object_get(line, "gt") : NULL;
      if (gt && (!json_is_string(gt) || strcmp(json_string_value(gt), ref) != 0)) {
        st = smx_fail(SMX_ERR_PARSE,
                      "%s line %lld: its \"gt\" differs from record %lld's reference %zu in %s (predictions must follow the data's order)",
                      pred_path, (long long)pl[p], (long long)r + 1, j + 1, data_path);
        break;
      }
      refs[s] = ref, preds[s] = json_string_value(txt), pidx[s] = p, s++;
    }
  }
  if (st == SMX_OK) {
    char task[sizeof out->task];
    memcpy(task, out->task, sizeof task);
    if (metric == SMX_LEVAL_AUTO) metric = file_metric;
    st = smx_leval_score_lists(rule, metric, preds, refs, pidx, nscored, out);
    memcpy(out->task, task, sizeof task); /* score_lists fills the rest */
    out->n_records = nrec, out->n_queries = nq;
  }
  free(refs), free(preds), free(pidx);
  free_jsonl(recs, rl, nrec);
  free_jsonl(pv, pl, npv);
  return st;
}
