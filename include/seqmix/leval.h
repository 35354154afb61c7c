/* L-Eval scoring: L-Eval's own automatic metrics (OpenLMLab/LEval, Evaluation/auto_eval.py, em.py,
 * f1.py, rouge.py, commit cd34b05) re-implemented in C, to score model outputs against L-Eval's
 * JSONL files. docs/tasks.md "L-Eval scoring" has the rules and the predictions format.
 *
 *   seqmix task leval-score --data LEval-data/Closed-ended-tasks/tpo.jsonl --pred tpo.pred.jsonl
 *
 * Strings are UTF-8. Where a rule follows Python's str methods (lower, split, isspace, \b), the text
 * is decoded to code points: whitespace is Python's str.isspace set, lowercasing and word characters
 * use the C library's Unicode tables (the C.UTF-8 locale, ASCII-only when it is missing) plus
 * Python's one special lowercase (U+0130 -> "i" U+0307). Punctuation is Python's string.punctuation
 * (ASCII only), as SQuAD's normalisation uses. Functions returning char * return a malloc'd string
 * the caller frees, or NULL when out of memory. */
#ifndef SEQMIX_LEVAL_H
#define SEQMIX_LEVAL_H

#include <stdint.h>

#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The metric: L-Eval's `evaluation` field values exam, f1, rouge (records marked LLM or human are
 * not scored by auto_eval.py). AUTO takes it from the records. */
typedef enum smx_leval_metric { SMX_LEVAL_AUTO = 0, SMX_LEVAL_EM, SMX_LEVAL_F1, SMX_LEVAL_ROUGE } smx_leval_metric;

/* auto_eval.py's per-file branches, chosen by a substring of the file name, in its order. */
typedef enum smx_leval_rule {
  SMX_LEVAL_RULE_PLAIN = 0, /* prediction and reference as they are */
  SMX_LEVAL_RULE_MC,        /* quality, tpo: process_output_mc / process_gt_mc */
  SMX_LEVAL_RULE_MC_MULTI,  /* coursera: the same, several letters may be right */
  SMX_LEVAL_RULE_GSM,       /* gsm100: process_math on both */
  SMX_LEVAL_RULE_CODE,      /* codeU: process_output_code / process_gt_code */
  SMX_LEVAL_RULE_TOPIC,     /* topic_retrieval_longchat: EM per 1st/2nd/3rd topic (line i % 3), averaged */
  SMX_LEVAL_RULE_JUDGE,     /* sci_fi: loyalty and fact True/False judged apart, averaged */
} smx_leval_rule;

smx_leval_rule smx_leval_rule_for_name(const char *file_name); /* substring match on the name */
const char *smx_leval_rule_name(smx_leval_rule r);             /* "plain", "mc", ... */
const char *smx_leval_metric_name(smx_leval_metric m);         /* "auto", "em", "f1", "rouge" */
/* "em" (or "exam"), "f1", "rouge" -> metric; anything else is SMX_ERR_INVALID with one error line. */
smx_status smx_leval_metric_parse(const char *name, smx_leval_metric *out);

/* --- text normalisation --- */
char *smx_leval_lower(const char *s);          /* Python str.lower() */
char *smx_leval_normalize_squad(const char *s); /* f1.py normalize_answer: lower, punctuation, a/an/the, spaces */
char *smx_leval_normalize_em(const char *s);    /* em.py normalize_answer: the same without lowercasing */

/* --- metrics on one prediction and one reference --- */
/* em.py exact_match_score: 1, 0.25 (the prediction's letters a strict part of an A-D answer's) or 0. */
double smx_leval_em(const char *pred, const char *gt);
/* f1.py f1_score: token F1 in [0, 1] after normalize_squad. */
double smx_leval_f1(const char *pred, const char *gt);
/* rouge_score's RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False).score(ref, pred):
 * F-measures in [0, 1]. */
typedef struct smx_leval_rouge_f {
  double rouge1, rouge2, rougeL;
} smx_leval_rouge_f;
smx_status smx_leval_rouge(const char *pred, const char *ref, smx_leval_rouge_f *out);

/* --- auto_eval.py's answer extraction --- */
char *smx_leval_mc_output(const char *response, int coursera); /* process_output_mc */
char *smx_leval_mc_gt(const char *gt);                         /* process_gt_mc */
char *smx_leval_math(const char *response);                    /* process_math */
char *smx_leval_code_gt(const char *gt);                       /* process_gt_code */
char *smx_leval_code_output(const char *response, const char *gt); /* process_output_code */
/* process_gt_judge: "True [fact: False]" -> "true", "false". A text without "[fact:" is
 * SMX_ERR_PARSE (L-Eval raises IndexError). */
smx_status smx_leval_judge_gt(const char *gt, char **loyalty, char **fact);
/* process_output_judge: each part "true", "false" or "<error>". A prediction without "[fact:" has
 * an empty fact part ("<error>") where L-Eval would raise IndexError. */
smx_status smx_leval_judge_output(const char *pred, const char **loyalty, const char **fact);

/* --- scoring a whole set --- */
typedef struct smx_leval_result {
  char task[128];         /* the name the rule came from (file base name without .jsonl / .pred.jsonl) */
  smx_leval_rule rule;
  smx_leval_metric metric; /* never AUTO */
  int64_t n_records, n_queries; /* in the data file */
  int64_t n_scored;       /* queries scored (records whose evaluation is exam, f1 or rouge) */
  int n_groups;           /* 3 (topic), 2 (sci_fi) or 0 */
  double group[3];        /* each group's exact_match (rounded to 4 digits, as auto_eval.py) */
  double exact_match, f1; /* 100 x mean, rounded to 4 digits as auto_eval.py; NaN when not computed */
  double rouge1, rouge2, rougeL, rouge_gmean;
  double score;           /* L-Eval's LEval_score: exact_match (groups: their mean), f1, rouge_gmean */
} smx_leval_result;

/* Scores n predictions against n references (one reference each) with the rule and metric
 * (not AUTO). For the topic rule, pred_index[i] % 3 is query i's group (auto_eval.py's line index;
 * NULL: i). */
smx_status smx_leval_score_lists(smx_leval_rule rule, smx_leval_metric metric, const char *const *preds,
                                 const char *const *refs, const int64_t *pred_index, int64_t n, smx_leval_result *out);

/* Reads an L-Eval data file and a predictions file (docs/tasks.md "L-Eval scoring": JSON strings or
 * objects with "prediction" or L-Eval's "<model>_pred" key, one per query in file order, covering
 * either the scored queries or all of them) and scores them. task_name (NULL: the data file's name)
 * picks the rule; metric AUTO takes it from the records' evaluation field. */
smx_status smx_leval_score_files(const char *data_path, const char *pred_path, const char *task_name,
                                 smx_leval_metric metric, smx_leval_result *out);

#ifdef __cplusplus
}
#endif
#endif
