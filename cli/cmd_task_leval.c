/* seqmix task leval-score: scores model outputs against an L-Eval JSONL file with L-Eval's own
 * automatic metrics (include/seqmix/leval.h; docs/tasks.md "L-Eval scoring").
 *
 *   seqmix task leval-score --data LEval-data/Closed-ended-tasks/tpo.jsonl --pred tpo.pred.jsonl
 *   seqmix task leval-score --data news_summ.jsonl --pred out.jsonl --metric rouge --out score.json
 *
 * Prints one summary line (each score with the number of queries it averages); --out also writes
 * the result as JSON (kind "leval_score", written atomically). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "seqmix/json_io.h"
#include "seqmix/leval.h"

static void put_num(json_t *o, const char *key, double v) {
  if (isfinite(v)) json_object_set_new(o, key, json_real(v));
}

static json_t *result_json(const smx_leval_result *r, const char *data, const char *pred) {
  json_t *doc = smx_json_new_doc("leval_score");
  if (!doc) return NULL;
  json_t *scores = json_object();
  put_num(scores, "exact_match", r->exact_match);
  put_num(scores, "f1", r->f1);
  put_num(scores, "rouge1", r->rouge1);
  put_num(scores, "rouge2", r->rouge2);
  put_num(scores, "rougeL", r->rougeL);
  put_num(scores, "rouge_geometric_mean", r->rouge_gmean);
  if (r->n_groups) {
    json_t *g = json_array();
    for (int i = 0; i < r->n_groups; i++) json_array_append_new(g, isfinite(r->group[i]) ? json_real(r->group[i]) : json_null());
    json_object_set_new(scores, r->n_groups == 3 ? "exact_match_per_topic" : "exact_match_loyalty_fact", g);
  }
  json_object_set_new(doc, "data_file", json_string(data));
  json_object_set_new(doc, "predictions_file", json_string(pred));
  json_object_set_new(doc, "task", json_string(r->task));
  json_object_set_new(doc, "rule", json_string(smx_leval_rule_name(r->rule)));
  json_object_set_new(doc, "metric", json_string(smx_leval_metric_name(r->metric)));
  json_object_set_new(doc, "records", json_integer(r->n_records));
  json_object_set_new(doc, "queries", json_integer(r->n_queries));
  json_object_set_new(doc, "scored", json_integer(r->n_scored));
  json_object_set_new(doc, "scores", scores);
  json_object_set_new(doc, "leval_score", json_real(r->score));
  return doc;
}

int task_leval(int argc, char **argv) {
  const char *data = NULL, *pred = NULL, *metric_s = NULL, *task = NULL, *out = NULL;
  int help = 0;
  const cli_opt opts[] = {
      {"data", "FILE", "an L-Eval data file (LEval-data/*/NAME.jsonl: input, instructions, outputs, evaluation)", &data, NULL},
      {"pred", "FILE", "the predictions, one JSON line per query in the data's order: a string, or an object with\n"
                       "\"prediction\" or L-Eval's \"<model>_pred\" key (Predictions/*/NAME.pred.jsonl)", &pred, NULL},
      {"metric", "M", "em, f1 or rouge (default: the records' evaluation field: exam, f1, rouge)", &metric_s, NULL},
      {"task", "NAME", "the L-Eval file name that picks the per-file rule (default: the data file's name)", &task, NULL},
      {"out", "FILE", "also write the result as JSON (written atomically)", &out, NULL},
      {0}};
  if (cli_parse("task leval-score", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("task leval-score", "--data FILE --pred FILE [--metric em|f1|rouge] [--task NAME] [--out FILE]",
              "Scores model outputs against an L-Eval JSONL file with L-Eval's metrics (Evaluation/auto_eval.py,\n"
              "em.py, f1.py, rouge.py): exact match with the per-file rules of tpo, quality, coursera, sci_fi,\n"
              "gsm100, codeU and topic_retrieval_longchat; SQuAD F1; ROUGE-1/2/L F-measure x100 without stemmer\n"
              "and their geometric mean. Records whose evaluation is LLM or human are not scored; the\n"
              "predictions cover either the scored queries or all queries. docs/tasks.md \"L-Eval scoring\".", opts);
    return 0;
  }
  if (!data) return cli_error("seqmix task leval-score: --data FILE is required (an L-Eval .jsonl file)");
  if (!pred) return cli_error("seqmix task leval-score: --pred FILE is required (the model's predictions)");
  smx_leval_metric metric = SMX_LEVAL_AUTO;
  smx_status s;
  if (metric_s && (s = smx_leval_metric_parse(metric_s, &metric)) != SMX_OK) return cli_fail(s);
  smx_leval_result r;
  if ((s = smx_leval_score_files(data, pred, task, metric, &r)) != SMX_OK) return cli_fail(s);

  printf("leval %s (rule %s, metric %s): ", r.task, smx_leval_rule_name(r.rule), smx_leval_metric_name(r.metric));
  if (r.metric == SMX_LEVAL_ROUGE)
    printf("rouge1 %.4f rouge2 %.4f rougeL %.4f geometric_mean %.4f", r.rouge1, r.rouge2, r.rougeL, r.rouge_gmean);
  else if (r.metric == SMX_LEVAL_F1) printf("f1 %.4f", r.f1);
  else {
    printf("exact_match %.4f", r.exact_match);
    if (r.n_groups == 3) printf(" (topics 1/2/3: %.4f %.4f %.4f)", r.group[0], r.group[1], r.group[2]);
    if (r.n_groups == 2) printf(" (loyalty %.4f, fact %.4f)", r.group[0], r.group[1]);
  }
  printf(" over %lld queries (%lld records, %lld queries in the file)\n", (long long)r.n_scored, (long long)r.n_records,
         (long long)r.n_queries);
  if (out) {
    json_t *doc = result_json(&r, data, pred);
    if (!doc) return cli_error("seqmix task leval-score: out of memory building %s", out);
    s = smx_json_write_atomic(out, doc);
    json_decref(doc);
    if (s != SMX_OK) return cli_fail(s);
  }
  return 0;
}
