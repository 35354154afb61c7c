/* The figures and tables of a scored sweep (cli/sweep_plot.c), for `seqmix sweep plot` and the
 * report: accuracy vs d_model per mixer with one panel per task point (Zoology Fig. 2, Wonderful
 * Matrices' MQAR grid), accuracy vs sequence length per mixer (one panel per d), training-loss
 * curves per mixer at one d, H3's Table 2 and LRA's Table 1 in Markdown, and the evaluation grid: exact match by
 * (L, depth), one heat map per mixer and model config (needle_grid.*, with needle_grid.md). */
#ifndef SEQMIX_CLI_SWEEP_PLOT_H
#define SEQMIX_CLI_SWEEP_PLOT_H

#include <stdint.h>
#include <stdio.h>

#include "seqmix/sweep_score.h"

#define SWEEP_MAX_FIGURES 4

typedef struct sweep_figure {
  char name[32];   /* "acc_vs_d", "acc_vs_L", "loss_d64", "needle_grid" */
  char title[400];
  char script[700], png[740], svg[740]; /* png/svg empty when gnuplot is not installed */
} sweep_figure;

/* Writes into dir (created): per figure the TSV data of each panel, a gnuplot script and, through
 * gnuplot, its PNG and SVG; and h3_table2.md when the sweep has H3's tasks (*h3_md gets its path,
 * else ""), and lra_table.md when it has LRA tasks (*lra_md likewise). loss_d picks the loss curves' d_model (<= 0: the d with the most groups, the larger on
 * a tie). Accuracy vs d needs a point with two widths, accuracy vs L (one panel per task and d) two
 * lengths at one width, the needle grid runs with evaluations that have a depth; each is left out
 * otherwise. Without gnuplot
 * the data and scripts are still written, *no_gnuplot is set and png/svg stay empty. */
smx_status sweep_plots(const smx_sweep_scores *s, const char *dir, int64_t loss_d, sweep_figure figs[SWEEP_MAX_FIGURES], int *n_figs,
                       char *h3_md, size_t h3_n, char *lra_md, size_t lra_n, int *no_gnuplot);

/* H3 Table 2 (mixers x induction head, associative recall, test accuracy in %) beside the paper's
 * numbers; returns the number of seqmix rows (0: the sweep has neither task, nothing written). */
int sweep_h3_table(FILE *f, const smx_sweep_scores *s);

/* LRA's Table 1: models x the LRA tasks the sweep holds (listops or lra_listops, lra_text,
 * lra_retrieval, lra_image, pathfinder; pathx or pathfinder at size 128 as Path-X), test accuracy
 * in %, with the published rows below; returns the number of seqmix rows (0: no LRA task, nothing
 * written). sweep_plots writes it to lra_table.md. */
int sweep_lra_table(FILE *f, const smx_sweep_scores *s);

#endif
