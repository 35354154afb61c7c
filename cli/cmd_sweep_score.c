/* seqmix sweep score / plot: a sweep's results scored the anchors' way (include/seqmix/sweep_score.h)
 * as a table, JSON and Markdown; and its figures (cli/sweep_plot.h).
 *
 *   seqmix sweep score --in results/sweeps/quick.jsonl [--json scores.json] [--md scores.md]
 *   seqmix sweep plot --in results/sweeps/quick.jsonl --out results/sweeps/quick-plots [--d 64]
 *   build/tests/seqmix_tests --filter sweep_score/'*'
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "seqmix/json_io.h"
#include "sweep_plot.h"

#define MAX_SWEEP_FILES 64

smx_status sweep_scores_load(const char *list, smx_sweep_scores *out) {
  memset(out, 0, sizeof *out);
  char *buf = strdup(list);
  if (!buf) return smx_fail(SMX_ERR_NOMEM, "out of memory");
  const char *paths[MAX_SWEEP_FILES];
  int n = 0;
  smx_status st = SMX_OK;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && st == SMX_OK; tok = strtok_r(NULL, ",", &save)) {
    if (n == MAX_SWEEP_FILES) st = smx_fail(SMX_ERR_INVALID, "at most %d sweep results files", MAX_SWEEP_FILES);
    else paths[n++] = tok;
  }
  if (st == SMX_OK && !n) st = smx_fail(SMX_ERR_INVALID, "no sweep results file named");
  if (st == SMX_OK) st = smx_sweep_score_files(paths, n, out);
  free(buf);
  return st;
}

int sweep_score(int argc, char **argv) {
  const char *in = NULL, *json_out = NULL, *md_out = NULL;
  int help = 0;
  const cli_opt opts[] = {
      {"in", "FILE[,FILE...]", "the sweep's results (one JSON line per run; several files are scored together)", &in, NULL},
      {"json", "FILE", "also write the scores as JSON (kind sweep_scores)", &json_out, NULL},
      {"md", "FILE", "also write the score table as Markdown", &md_out, NULL},
      {0}};
  if (cli_parse("sweep score", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("sweep score", "--in FILE [--json FILE] [--md FILE]",
              "Scores a sweep the anchors' way: a run's score is its test accuracy at the last epoch it ran;\n"
              "runs are grouped by their config less lr and seed; per group and learning rate the mean over\n"
              "seeds, and the group's score is the learning rate with the best mean, given as mean ± sd\n"
              "[min, max] over its seeds and their count (flagged n < 3 below three seeds). Prints the table\n"
              "(task, params, mixer, channel, d, best lr, score, n). A missing file, an unreadable line or\n"
              "no runs is one error line and exit 2.", opts);
    return 0;
  }
  if (!in) return cli_error("seqmix sweep score: --in FILE is required");
  smx_sweep_scores sc;
  smx_status st = sweep_scores_load(in, &sc);
  if (st != SMX_OK) return cli_fail(st);
  smx_sweep_scores_text(stdout, &sc);
  printf("%zu runs in %zu groups%s%s\n", sc.runs, sc.n, sc.hardware[0] ? "; hardware: " : "", sc.hardware);
  if (json_out) {
    json_t *doc = smx_sweep_scores_json(&sc);
    st = doc ? smx_json_write_atomic(json_out, doc) : smx_fail(SMX_ERR_NOMEM, "cannot format the scores");
    json_decref(doc);
  }
  if (st == SMX_OK && md_out) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) st = smx_fail(SMX_ERR_NOMEM, "cannot format the scores");
    else {
      fprintf(f, "# Sweep scores — %s\n\n%zu runs in %zu groups; hardware: %s. Score: test accuracy at the last epoch "
                 "run; per group the learning rate with the best mean over seeds (docs/sweeps.md).\n\n",
              in, sc.runs, sc.n, sc.hardware[0] ? sc.hardware : "unknown");
      smx_sweep_scores_md(f, &sc);
      fclose(f);
      st = smx_write_file_atomic(md_out, text, len);
      free(text);
    }
  }
  smx_sweep_scores_free(&sc);
  return st == SMX_OK ? 0 : cli_fail(st);
}

int sweep_plot(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *d_s = NULL;
  int help = 0;
  const cli_opt opts[] = {
      {"in", "FILE[,FILE...]", "the sweep's results (one JSON line per run)", &in, NULL},
      {"out", "DIR", "where the data (.tsv), gnuplot scripts (.gp), PNG, SVG and Markdown go (required)", &out, NULL},
      {"d", "N", "the d_model of the loss curves (default: the d with the most groups)", &d_s, NULL},
      {0}};
  if (cli_parse("sweep plot", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("sweep plot", "--in FILE --out DIR [--d N]",
              "Draws a scored sweep: acc_vs_d (test accuracy vs d_model, one line per mixer, one panel per\n"
              "task point, error bars min..max over the seeds of the best learning rate: Zoology Fig. 2 and\n"
              "the Wonderful Matrices MQAR grid); loss_d<N> (training loss per epoch per mixer at one\n"
              "d_model, one panel per point, from the best-lr runs); and, for the H3 tasks, h3_table2.md\n"
              "(H3 Table 2: mixers x induction head, associative recall, beside the paper); for the LRA\n"
              "tasks, lra_table.md (LRA Table 1: models x tasks, beside the published numbers). Each figure's\n"
              "data and gnuplot script are written beside its PNG and SVG.", opts);
    return 0;
  }
  if (!in || !out) return cli_error("seqmix sweep plot: --in FILE and --out DIR are required");
  long d = 0;
  if (d_s && cli_int("d", d_s, 1, 1 << 20, &d)) return SMX_EXIT_USAGE;
  smx_sweep_scores sc;
  smx_status st = sweep_scores_load(in, &sc);
  if (st != SMX_OK) return cli_fail(st);
  sweep_figure figs[SWEEP_MAX_FIGURES];
  int n = 0, no_gnuplot = 0;
  char h3[800], lra[800];
  st = sweep_plots(&sc, out, d, figs, &n, h3, sizeof h3, lra, sizeof lra, &no_gnuplot);
  smx_sweep_scores_free(&sc);
  if (st != SMX_OK) return cli_fail(st);
  for (int i = 0; i < n; i++) {
    printf("%s\n", figs[i].script);
    if (figs[i].png[0]) printf("%s\n%s\n", figs[i].png, figs[i].svg);
    if (!strcmp(figs[i].name, "needle_grid")) printf("%s/needle_grid.md\n", out); /* the grids as tables */
  }
  if (h3[0]) printf("%s\n", h3);
  if (lra[0]) printf("%s\n", lra);
  if (no_gnuplot)
    fprintf(stderr, "seqmix: warning: gnuplot is not installed: wrote the data and scripts only (install gnuplot-nox, "
                    "then run gnuplot on each .gp)\n");
  printf("sweep plot: %d figure%s%s%s%s in %s\n", n, n == 1 ? "" : "s", no_gnuplot ? " (scripts only)" : " (PNG + SVG)",
         h3[0] ? " and the H3 table" : "", lra[0] ? " and the LRA table" : "", out);
  return 0;
}
