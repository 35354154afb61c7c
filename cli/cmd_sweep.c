/* seqmix sweep: the results of a sweep (include/seqmix/results_store.h).
 *
 *   seqmix sweep run --preset quick --out FILE [--shard I/N]   # cli/cmd_sweep_run.c
 *   seqmix sweep merge OUT IN [IN...]     # join shard files into OUT (kept, added to)
 *   seqmix sweep score --in FILE          # cli/cmd_sweep_score.c: the anchors' scoring
 *   seqmix sweep plot --in FILE --out DIR # accuracy vs d, loss curves, H3 Table 2
 *
 * Exit status: 0 merged; 1 merged, but some run appears with two different results (each
 * reported on stderr, the first kept); 2 bad arguments or an unreadable input. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "seqmix/results_store.h"

#define MERGE_MAX_INPUTS 4096

static void sweep_help(void) {
  printf("usage: seqmix sweep <subcommand> [options]\n\n"
         "A sweep appends one JSON line per finished run to its results file, keyed by a hash of the\n"
         "run's config, so an interrupted sweep resumes and loses nothing; with --shard I/N a machine\n"
         "runs only the runs whose key is I modulo N (I counts from 0), each shard into its own file.\n\n"
         "subcommands:\n"
         "  run (--preset NAME | --spec FILE) --out FILE [--shard I/N] [--threads N] [--dry-run]\n"
         "                         train the runs of a sweep that FILE does not hold yet (resumes)\n"
         "  presets                the built-in sweeps and their sizes\n"
         "  score --in FILE [--json FILE] [--md FILE]\n"
         "                         score the runs: per (config less lr and seed) the learning rate with\n"
         "                         the best mean test accuracy over seeds, with its spread and seed count\n"
         "  plot --in FILE --out DIR [--d N]\n"
         "                         accuracy vs d_model per mixer, loss curves, H3 Table 2 (gnuplot)\n"
         "  merge OUT IN [IN...]   join the runs of OUT (if it exists) and of every IN into OUT, written\n"
         "                         atomically; each run once. A run with two different results is\n"
         "                         reported and the first kept (exit 1). Truncated or corrupt lines are\n"
         "                         skipped with a warning.\n");
}

static int sweep_merge(int argc, char **argv) {
  const char *paths[MERGE_MAX_INPUTS + 1];
  int n = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      sweep_help();
      return 0;
    }
    if (strncmp(argv[i], "--", 2) == 0)
      return cli_error("seqmix sweep merge: unknown option '%s' (usage: seqmix sweep merge OUT IN [IN...])", argv[i]);
    if (n == MERGE_MAX_INPUTS + 1) return cli_error("seqmix sweep merge: at most %d input files", MERGE_MAX_INPUTS);
    paths[n++] = argv[i];
  }
  if (n < 2) return cli_error("seqmix sweep merge: give OUT and at least one IN (usage: seqmix sweep merge OUT IN [IN...])");
  size_t runs = 0, dups = 0, conflicts = 0;
  smx_status s = smx_results_merge(paths[0], paths + 1, n - 1, stderr, &runs, &dups, &conflicts);
  if (s != SMX_OK) return cli_fail(s);
  printf("%s: %zu runs (%zu repeated lines dropped, %zu conflicts)\n", paths[0], runs, dups, conflicts);
  if (conflicts) {
    fprintf(stderr, "seqmix: error: %zu runs have conflicting results (the first of each was kept in %s)\n", conflicts,
            paths[0]);
    return SMX_EXIT_FAIL;
  }
  return 0;
}

int cmd_sweep(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "merge") == 0) return sweep_merge(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "run") == 0) return sweep_run(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "presets") == 0) return sweep_presets(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "score") == 0) return sweep_score(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "plot") == 0) return sweep_plot(argc - 1, argv + 1);
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    sweep_help();
    return 0;
  }
  if (argc < 2) return cli_error("seqmix sweep: give a subcommand (run, presets, merge, score, plot; see seqmix sweep --help)");
  return cli_error("seqmix sweep: unknown subcommand '%s' (subcommands: run, presets, merge, score, plot)", argv[1]);
}
