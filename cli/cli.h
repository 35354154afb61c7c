/* Shared pieces of the seqmix command: option parsing, error lines, the subcommands, and the
 * result-file readers used by plot and report. */
#ifndef SEQMIX_CLI_H
#define SEQMIX_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "seqmix/status.h"

typedef struct cli_opt {
  const char *name;  /* without the leading "--" */
  const char *arg;   /* NULL for a flag, else the placeholder shown in --help ("NAME") */
  const char *help;
  const char **value; /* set for options with an argument */
  int *flag;          /* set to 1 for flags */
} cli_opt;

/* Parses argv[1..] (argv[0] is the subcommand). Returns 0, or 2 after printing one error line.
 * *help is set when --help or -h is given. */
int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, int *help);
void cli_usage(const char *cmd, const char *synopsis, const char *description, const cli_opt *opts);
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* prints, returns 2 */
int cli_fail(smx_status s); /* prints smx_last_error(), returns the exit code for s */
/* Integer or number option values with their accepted range; 0 on success, else 2 (printed). */
int cli_int(const char *opt, const char *text, long lo, long hi, long *out);
int cli_double(const char *opt, const char *text, double lo, double hi, double *out);

/* 0 when the folder that would hold `path` exists and is writable, else 2 after one line: run
 * before minutes of measurement or training, not after them, so no result is computed unwritable. */
int cli_check_writable(const char *cmd, const char *path, const char *what);

int parse_devices(const char *text, unsigned *mask); /* "cpu", "cuda", "all" -> bit mask */

int cmd_info(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_suite(int argc, char **argv);
int cmd_gate(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_task(int argc, char **argv);
int task_train(int argc, char **argv); /* cli/cmd_task_train.c */
int task_leval(int argc, char **argv); /* cli/cmd_task_leval.c */
int task_efficiency(int argc, char **argv); /* cli/cmd_task_efficiency.c */
/* The suite's PyTorch-peer step on a run directory (cli/suite_peers.c); device "cpu" or "cuda". */
void suite_peers(const char *dir, const char *device);
int sweep_run(int argc, char **argv);  /* cli/cmd_sweep_run.c */
int sweep_presets(int argc, char **argv);
int sweep_score(int argc, char **argv); /* cli/cmd_sweep_score.c */
int sweep_plot(int argc, char **argv);
struct smx_sweep_scores;
/* Loads and scores a comma-separated list of sweep results files (sweep_score.h's rules). */
smx_status sweep_scores_load(const char *list, struct smx_sweep_scores *out);
int cmd_sweep(int argc, char **argv);

/* The steps `suite` chains; each is also what its subcommand runs. */
typedef struct check_args {
  const char *op, *variant, *shape, *out, *run_id;
  const char *device; /* "cpu" or "cuda": only that device's variants (and no finite differences) */
  unsigned long long seed;
  int no_fd, verbose;
} check_args;
int run_check(const check_args *a);                 /* exit code */
int run_plot(const char *run_dir, int quiet);       /* exit code */
int run_report(const char *run_dir, char *path_out, size_t n); /* exit code */
/* The report with the task sweeps of a comma-separated list of results files (NULL: none). */
int run_report_sweep(const char *run_dir, const char *sweeps, char *path_out, size_t n);

/* plot_data.c: bench.json -> CSV tables + gnuplot PNG/SVG under <run>/plots; lists what it made. */
typedef struct plot_file {
  char op[32], pass[8], group[160], kind[16]; /* kind: time, speedup, bandwidth */
  char png[640], svg[640];
} plot_file;
smx_status make_plots(const char *run_dir, json_t *bench, plot_file **files, int *n_files);
smx_status make_compare_plots(const char *out_dir, json_t **benches, const char **labels, int n, plot_file **files,
                              int *n_files);
const char *plots_script_dir(void);
/* Runs gnuplot on plots/<script> with `vars` ("dir='..'; in='..'; out='..'; ..."): one error line if it fails. */
smx_status cli_gnuplot(const char *script, const char *vars);

#endif
