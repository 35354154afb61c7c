/* seqmix: the command-line tool.
 *
 *   seqmix info | list | check | bench | plot | report | compare | gate | task | sweep | suite   [--help]
 *
 * Exit status: 0 success, 1 a check failed (or a run-time failure), 2 usage error or bad input. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "smx_config.h"

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
} command;

static const command commands[] = {
    {"info", cmd_info, "this machine: hardware fingerprint, devices, libraries"},
    {"list", cmd_list, "ops, their parameters and variants, and which can run here"},
    {"check", cmd_check, "every variant against the reference, forward and backward"},
    {"bench", cmd_bench, "Google Benchmark over the registry (suites ci, quick, paper)"},
    {"plot", cmd_plot, "PNG + SVG plots of a run's benchmarks (gnuplot)"},
    {"report", cmd_report, "the Markdown report of a run"},
    {"compare", cmd_compare, "two or more runs side by side (machines, GPUs, CPU vs GPU): tables and plots"},
    {"gate", cmd_gate, "a run against a baseline: Mann-Whitney U + minimum change; exit 1 on regression"},
    {"task", cmd_task, "synthetic tasks: list them, print generated examples (task gen)"},
    {"sweep", cmd_sweep, "sweeps of training runs: run, merge shards, score, plot"},
    {"suite", cmd_suite, "the main job: check -> bench -> plots -> report into results/runs/<run-id>/"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
  fprintf(f, "usage: seqmix <command> [options]\n\nseqmix %s: a benchmark and evaluation suite for the operators of "
             "efficient sequence models.\n\ncommands:\n", SMX_VERSION);
  for (const command *c = commands; c->name; c++) fprintf(f, "  %-8s %s\n", c->name, c->help);
  fprintf(f, "\n'seqmix <command> --help' describes each command's options.\n"
             "Exit status: 0 success, 1 a check failed, 2 usage error or bad input.\n");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    usage(stderr);
    return SMX_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("seqmix %s\n", SMX_VERSION);
    return 0;
  }
  for (const command *c = commands; c->name; c++)
    if (strcmp(argv[1], c->name) == 0) return c->run(argc - 1, argv + 1);
  return cli_error("unknown command '%s' (commands: info, list, check, bench, plot, report, compare, gate, task, sweep, suite)", argv[1]);
}
