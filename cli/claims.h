/* The papers' claims (CLAIMS.md of the design notes) and the verdict rules, for the report's
 * verdict table. Each claim names what it needs (ops, tasks, a GPU, a scored sweep); until all of
 * it is present it is "not measured" with the reason, so later work only has to supply the
 * measurement. The task claims' rules are in cli/claims_sweep.c. */
#ifndef SEQMIX_CLI_CLAIMS_H
#define SEQMIX_CLI_CLAIMS_H

#include <jansson.h>
#include <stdio.h>

typedef enum claim_kind { CLAIM_SPEED, CLAIM_ACCURACY, CLAIM_MEMORY } claim_kind;
typedef enum claim_verdict { CLAIM_REPRODUCED, CLAIM_PARTLY, CLAIM_NOT_REPRODUCED, CLAIM_NOT_MEASURED } claim_verdict;

const char *claim_verdict_name(claim_verdict v);
/* CLAIMS.md's rules. Speed and memory: ratios (> 1 = the claimed advantage). Accuracy: an
 * accuracy, or for a comparative claim the advantage (e.g. DMA's accuracy minus attention's).
 *   reproduced      speed >= 0.8x the paper's ratio; accuracy within 0.05; memory ratio within 20%
 *   partly          same direction (ratio > 1, or advantage of the same sign), smaller effect
 *   not reproduced  otherwise */
claim_verdict claim_judge(claim_kind kind, double paper, double measured);

/* The verdict table in Markdown, judged against what this run holds (bench may be NULL). */
void claims_table(FILE *f, json_t *bench);
/* The same, with the task claims (3, 5, 6, 11) judged from a scored sweep (NULL: not measured). */
struct smx_sweep_scores;
void claims_table_sweep(FILE *f, json_t *bench, const struct smx_sweep_scores *sweep);
/* The same, with claim 9 judged from an efficiency document (`seqmix task efficiency --out`; NULL:
 * not measured). */
void claims_table_all(FILE *f, json_t *bench, const struct smx_sweep_scores *sweep, json_t *eff);
/* Claim 9 from an efficiency document (cli/claims.c): MixCon 1:7's generation throughput against
 * the Mixtral-like and Jamba-like architectures at 8K and 128K; judged on a GPU document only. */
claim_verdict claim_efficiency_throughput(json_t *eff, char *figure, size_t n);

/* The task claims from a scored sweep (cli/claims_sweep.c): fill `figure` and return the verdict,
 * or CLAIM_NOT_MEASURED with the reason (and what the sweep does hold) in `figure`.
 *   3   H3 vs attention on induction head and associative recall (a paper-h3 sweep)
 *   5   RoPE on q/k and SSD's C/B vs on q/k only: the attention+ssd hybrid's test perplexity per
 *       byte (a rope-ssd sweep); reproduced at <= -4% at every length, partly when only lower
 *   6   DMA vs attention and SSD on MQAR at L = 2048, d >= 128 (a paper-wm sweep)
 *   6   DMA vs attention and SSD on MQAR at L = 2048, d >= 128 (a paper-wm sweep)
 *   11  attention >= 0.99 at every MQAR point and width; a non-attention mixer rising with d and
 *       falling with L (paper-zoology, or quick for the trend) */
claim_verdict claim_sweep_h3(const struct smx_sweep_scores *s, char *figure, size_t n);
claim_verdict claim_sweep_rope_ssd(const struct smx_sweep_scores *s, char *figure, size_t n);
claim_verdict claim_sweep_wm_mqar(const struct smx_sweep_scores *s, char *figure, size_t n);
claim_verdict claim_sweep_zoology(const struct smx_sweep_scores *s, char *figure, size_t n);

#endif
