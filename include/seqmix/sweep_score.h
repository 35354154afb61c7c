/* Scoring a sweep's finished runs (tasks/sweep_score.c), the way the anchors report them.
 *
 * A run's score is its test accuracy at the last epoch it ran (result.test_acc: Zoology's metric,
 * mean over examples of the share of query positions right; for the H3 tasks only the last
 * position carries a test label, so the same number is last-token accuracy). Runs are grouped by
 * everything in their config except lr and seed. Within a group, per learning rate, the mean over
 * seeds; the group's score is the learning rate with the best seed-mean (ties: more seeds, then the
 * smaller lr), given as mean, sample standard deviation, min, max and seed count. Groups with fewer
 * than 3 seeds at that learning rate are scored and flagged (n < 3).
 *
 *   seqmix sweep score --in results.jsonl [--json scores.json] [--md scores.md]
 *   build/tests/seqmix_tests --filter sweep_score/'*'
 */
#ifndef SEQMIX_SWEEP_SCORE_H
#define SEQMIX_SWEEP_SCORE_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "seqmix/results_store.h"
#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMX_SCORE_MIN_SEEDS 3 /* below this, a score is flagged "n < 3" */

typedef struct smx_lr_score {
  double lr;
  int n;                     /* runs (seeds) finished at this learning rate */
  double mean, sd, min, max; /* of their scores; sd is the sample deviation (n - 1), 0 for one run */
} smx_lr_score;

typedef struct smx_group_score {
  json_t *config; /* the group: its runs' config without lr and seed (owned) */
  /* views into config (channel: the config's, else "mlp" or "none" from its mlp width, as the
   * task runner resolves it; options: "" when absent) */
  const char *task, *params, *mixer, *channel, *options;
  char label[256];  /* mixer pattern, " + channel" unless none, " (options)" when set */
  int64_t d, L, V;  /* d_model; the task's length and vocabulary (-1 where the task has none) */
  smx_lr_score best;  /* the learning rate with the best seed-mean */
  smx_lr_score *lrs;  /* every learning rate tried, ascending */
  int n_lrs;
  json_t *runs; /* the best learning rate's runs: [{"seed": s, "key": k, "result": {...}}], by seed */
} smx_group_score;

typedef struct smx_sweep_scores {
  smx_group_score *g; /* sorted: task, L, params, label, d, then the rest of the config */
  size_t n;
  size_t runs;         /* runs scored */
  char hardware[160];  /* the hardware ids of the runs (meta.hardware_id), comma-separated */
} smx_sweep_scores;

/* Scores the runs of r. Fails with one line for a run without a numeric result.test_acc, lr or
 * seed (naming its file and line), and for a store with no runs. */
smx_status smx_sweep_score(const smx_results *r, smx_sweep_scores *out);
/* Loads the files and scores their runs together. A missing file, a truncated or corrupt line, a
 * run recorded twice with different results, or a file without runs is one error line (the
 * store's warning for the first bad line, and the count of the others). */
smx_status smx_sweep_score_files(const char *const *paths, int n_paths, smx_sweep_scores *out);
void smx_sweep_scores_free(smx_sweep_scores *s);

/* {"kind": "sweep_scores", "schema_version": 1, "rule": ..., "runs": n, "groups": [...]}; each
 * group: task, params, mixer, channel, options, label, d, config, lr, mean, sd, min, max, n,
 * few_seeds, seeds, lrs. Caller decrefs. */
json_t *smx_sweep_scores_json(const smx_sweep_scores *s);
/* The score table as aligned text (stdout) or Markdown. */
void smx_sweep_scores_text(FILE *f, const smx_sweep_scores *s);
void smx_sweep_scores_md(FILE *f, const smx_sweep_scores *s);
/* The config keys beyond task, params, mixer, channel, options and d that tell group i apart from
 * the groups sharing those (with across_d, from those sharing all but d), as "layers=4, mlp=64";
 * "" when none, so two rows or two plotted lines never look the same. */
void smx_group_extra(const smx_sweep_scores *s, size_t i, int across_d, char *buf, size_t n);
/* "0.912 ± 0.031 [0.874, 0.950]" (accuracies as fractions) */
void smx_score_format(const smx_lr_score *sc, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
