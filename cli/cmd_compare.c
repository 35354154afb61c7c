/* seqmix compare: two or more runs (machines, GPUs, CPU vs GPU) side by side.
 *
 *   seqmix compare results/runs/<run-a> results/runs/<run-b> [--out DIR] [--labels a,b]
 *
 * Writes DIR/compare.md (default DIR: results/compare/<run-id>): the runs' hardware and measured
 * peaks, then per op a table of every (pass, shape, variant) with each run's median time,
 * FLOP/s, bytes/s and % of that machine's peak bandwidth, and the time ratio of every run to the
 * first (> 1: the first run is slower); plots: time vs L per variant and run, and grouped bars
 * per op at the largest L all runs measured. Different hardware is the point here, so nothing is
 * refused; runs of different suites simply share fewer rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "results.h"
#include "seqmix/hardware.h"
#include "seqmix/json_io.h"
#include "seqmix/op.h"

#define MAX_RUNS 8


static json_t *entry(json_t *bench, const char *name) {
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(bench, "benchmarks"), i, e) {
    if (!strcmp(S(e, "name"), name) && !strcmp(S(e, "status"), "ok")) return e;
  }
  return NULL;
}

static void fmt_time(double s, char *b, size_t n) {
  if (!isfinite(s)) snprintf(b, n, "—");
  else if (s >= 1) snprintf(b, n, "%.3f s", s);
  else if (s >= 1e-3) snprintf(b, n, "%.3f ms", s * 1e3);
  else snprintf(b, n, "%.2f us", s * 1e6);
}

static void write_report(FILE *f, json_t **runs, const char **labels, const char *const *paths, int n,
                         const plot_file *plots, int np, const char *out_dir) {
  fprintf(f, "# seqmix compare\n\n## Runs\n\n| run | path | hardware id | CPU | GPU | suite | mode | git | CPU peaks "
             "(sgemm, copy) | GPU peaks (sgemm, copy) |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (int r = 0; r < n; r++) {
    json_t *hw = json_object_get(runs[r], "hardware"), *pk = json_object_get(runs[r], "peaks");
    json_t *g0 = json_array_get(json_object_get(hw, "gpus"), 0);
    char gpu_peaks[64] = "—";
    if (N(pk, "gpu_flops") > 0)
      snprintf(gpu_peaks, sizeof gpu_peaks, "%.1f TFLOP/s, %.0f GB/s", N(pk, "gpu_flops") * 1e-12,
               N(pk, "gpu_bytes_per_s") * 1e-9);
    fprintf(f, "| %s | `%s` | `%s` | %s, %d threads | %s | %s | %s | `%s` | %.1f GFLOP/s, %.1f GB/s | %s |\n",
            labels[r], paths[r], S(hw, "hardware_id"), S(hw, "cpu_model"),
            (int)json_integer_value(json_object_get(hw, "threads_used")), g0 ? S(g0, "name") : "none", S(runs[r], "suite"),
            S(runs[r], "mode")[0] ? S(runs[r], "mode") : "time", S(hw, "git_revision"), N(pk, "cpu_flops") * 1e-9,
            N(pk, "cpu_bytes_per_s") * 1e-9, gpu_peaks);
  }
  fprintf(f, "\nMedian times; FLOP/s and bytes/s count the op's useful work; %% peak BW is against each machine's own "
             "measured copy bandwidth; *t(%s)/t(run)* > 1 means the run is faster than %s.\n\n", labels[0], labels[0]);
  for (int k = 0; k < smx_op_count(); k++) {
    const smx_op *op = smx_op_at(k);
    int any = 0;
    /* rows: every measured name of this op, in the order of the first run that has it */
    for (int r = 0; r < n; r++) {
      size_t i;
      json_t *e;
      json_array_foreach(json_object_get(runs[r], "benchmarks"), i, e) {
        if (strcmp(S(e, "op"), op->name) || strcmp(S(e, "status"), "ok")) continue;
        int seen = 0;
        for (int q = 0; q < r && !seen; q++) seen = entry(runs[q], S(e, "name")) != NULL;
        if (seen) continue;
        if (!any++) {
          fprintf(f, "## %s\n\n| pass | shape | variant |", op->name);
          for (int c = 0; c < n; c++) fprintf(f, " %s time | %s FLOP/s | %s GB/s | %s %% peak BW |", labels[c], labels[c], labels[c], labels[c]);
          for (int c = 1; c < n; c++) fprintf(f, " t(%s)/t(%s) |", labels[0], labels[c]);
          fprintf(f, "\n|---|---|---|");
          for (int c = 0; c < n; c++) fprintf(f, "---|---|---|---|");
          for (int c = 1; c < n; c++) fprintf(f, "---|");
          fprintf(f, "\n");
        }
        fprintf(f, "| %s | %s | %s |", S(e, "pass"), S(e, "shape"), S(e, "variant"));
        double t0 = NAN;
        for (int c = 0; c < n; c++) {
          json_t *x = entry(runs[c], S(e, "name"));
          char t[32];
          fmt_time(x ? N(x, "median_s") : NAN, t, sizeof t);
          if (c == 0 && x) t0 = N(x, "median_s");
          int base = x && json_is_true(json_object_get(x, "baseline"));
          if (x && !base)
            fprintf(f, " %s | %.3g G | %.3g | %.1f |", t, N(x, "flop_per_s") * 1e-9, N(x, "bytes_per_s") * 1e-9,
                    N(x, "pct_peak_bw"));
          else
            fprintf(f, " %s | — | — | — |", t);
        }
        for (int c = 1; c < n; c++) {
          json_t *x = entry(runs[c], S(e, "name"));
          if (x && isfinite(t0)) fprintf(f, " %.2f× |", t0 / N(x, "median_s"));
          else fprintf(f, " — |");
        }
        fprintf(f, "\n");
      }
    }
    if (any) fprintf(f, "\n");
  }
  fprintf(f, "## Plots\n\n");
  if (np == 0) fprintf(f, "No plots: no shape group was measured at two or more L, or by more than one run.\n\n");
  for (int i = 0; i < np; i++)
    fprintf(f, "### %s %s, %s — %s\n\n![%s](%s)\n\n[SVG](%s)\n\n", plots[i].op, plots[i].pass, plots[i].group,
            plots[i].kind, plots[i].kind, plots[i].png + strlen(out_dir) + 1, plots[i].svg + strlen(out_dir) + 1);
}

int cmd_compare(int argc, char **argv) {
  const char *out = NULL, *labels_s = NULL;
  const char *paths[MAX_RUNS];
  int n = 0, help = 0;
  /* positional run paths, then the options */
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) != 0 && strcmp(argv[i], "-h") != 0; i++) {
    if (n == MAX_RUNS) return cli_error("seqmix compare: at most %d runs", MAX_RUNS);
    paths[n++] = argv[i];
  }
  const cli_opt opts[] = {{"out", "DIR", "where compare.md and plots/ go (default results/compare/<run-id>)", &out, NULL},
                          {"labels", "A,B,...", "names of the runs in tables and plots (default: hardware ids)", &labels_s, NULL},
                          {0}};
  char *sub_argv[64];
  int sub_argc = 0;
  sub_argv[sub_argc++] = argv[0];
  for (; i < argc && sub_argc < 63; i++) sub_argv[sub_argc++] = argv[i];
  if (cli_parse("compare", sub_argc, sub_argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("compare", "RUN RUN [RUN...] [--out DIR] [--labels A,B,...]",
              "Puts two or more runs (run directories or bench.json files) side by side: per op a table of\n"
              "time, FLOP/s, bytes/s and %% of each machine's peak with the time ratio to the first run, and\n"
              "plots (time vs L per variant and run; grouped bars per op). Writes DIR/compare.md.", opts);
    return 0;
  }
  if (n < 2) return cli_error("seqmix compare: give two or more runs (run directories or bench.json files)");

  json_t *runs[MAX_RUNS] = {0};
  smx_status s = SMX_OK;
  int rc = 0;
  for (int r = 0; r < n && s == SMX_OK; r++) s = load_bench_peers(paths[r], &runs[r]);
  if (s != SMX_OK) rc = cli_fail(s);

  char label_buf[MAX_RUNS][64];
  const char *labels[MAX_RUNS];
  if (!rc && labels_s) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", labels_s);
    int k = 0;
    char *save = NULL;
    for (char *t = strtok_r(tmp, ",", &save); t && k < MAX_RUNS; t = strtok_r(NULL, ",", &save), k++)
      snprintf(label_buf[k], sizeof label_buf[k], "%s", t);
    if (k != n) rc = cli_error("--labels %s: %d names for %d runs", labels_s, k, n);
  } else if (!rc) {
    for (int r = 0; r < n; r++) {
      snprintf(label_buf[r], sizeof label_buf[r], "%s", S(json_object_get(runs[r], "hardware"), "hardware_id"));
      for (int q = 0; q < r; q++)
        if (!strcmp(label_buf[q], label_buf[r])) { /* same machine twice: number them */
          size_t len = strlen(label_buf[r]);
          snprintf(label_buf[r] + len, sizeof label_buf[r] - len, "#%d", r + 1);
          break;
        }
    }
  }
  for (int r = 0; r < n; r++) {
    labels[r] = label_buf[r];
    if (!rc && (strchr(labels[r], '\'') || strchr(labels[r], ',')))
      rc = cli_error("run label '%s' may not contain quotes or commas", labels[r]);
  }
  char dir[4096];
  if (!rc) {
    if (!out) {
      char id[96];
      smx_run_id(id, sizeof id);
      snprintf(dir, sizeof dir, "results/compare/%s", id);
      out = dir;
    }
    if (strchr(out, '\'')) rc = cli_error("output directory '%s' contains a quote, which gnuplot cannot take", out);
  }
  plot_file *plots = NULL;
  int np = 0;
  if (!rc && ((s = smx_mkdir_p(out)) != SMX_OK || (s = make_compare_plots(out, runs, labels, n, &plots, &np)) != SMX_OK))
    rc = cli_fail(s);
  if (!rc) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    write_report(f, runs, labels, paths, n, plots, np, out);
    fclose(f);
    char path[4200];
    snprintf(path, sizeof path, "%s/compare.md", out);
    s = smx_write_file_atomic(path, text, len);
    free(text);
    if (s != SMX_OK) rc = cli_fail(s);
    else printf("compare: %s (%d runs, %d figures)\n", path, n, np);
  }
  free(plots);
  for (int r = 0; r < n; r++) json_decref(runs[r]);
  return rc;
}
