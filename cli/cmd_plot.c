/* seqmix plot: PNG + SVG plots of a run's benchmarks into <run>/plots (see plot_data.c).
 *
 *   seqmix plot --run results/runs/<run-id>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "results.h"

int run_plot(const char *run_dir, int quiet) {
  if (strchr(run_dir, '\'')) return cli_error("run directory '%s' contains a quote, which gnuplot cannot take", run_dir);
  json_t *bench = NULL;
  smx_status s = load_bench_peers(run_dir, &bench);
  if (s != SMX_OK) return cli_fail(s);
  plot_file *files = NULL;
  int n = 0;
  s = make_plots(run_dir, bench, &files, &n);
  json_decref(bench);
  if (s != SMX_OK) return cli_fail(s);
  if (!quiet) {
    for (int i = 0; i < n; i++) printf("%s\n%s\n", files[i].png, files[i].svg);
    printf("plot: %d figures (PNG + SVG) in %s/plots\n", n, run_dir);
  }
  free(files);
  return 0;
}

int cmd_plot(int argc, char **argv) {
  const char *run = NULL;
  int help = 0;
  const cli_opt opts[] = {{"run", "DIR", "the run directory holding bench.json", &run, NULL}, {0}};
  if (cli_parse("plot", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("plot", "--run DIR", "Draws, per op, pass and shape group: time vs L per variant (log-log), speedup over the\n"
                                   "reference and over the library baseline, and achieved bandwidth against the measured\n"
                                   "copy peak. PNG and SVG through gnuplot, with the CSV tables beside them.", opts);
    return 0;
  }
  if (!run) return cli_error("seqmix plot: --run DIR is required");
  return run_plot(run, 0);
}
