/* seqmix suite: the main job. check -> bench -> plots -> report into results/runs/<run-id>/,
 * then prints where the report is. Without a GPU it runs the CPU `quick` preset; with one, the
 * `paper` preset on the GPU. Each step writes its file atomically; --resume DIR reruns only the
 * steps whose output is missing, so an interrupted suite loses nothing.
 *
 *   seqmix suite                       # CPU quick preset (about 2.5 minutes on 2 cores)
 *   seqmix suite --preset ci
 *   seqmix suite --resume results/runs/20261123T171500Z-1a2b3c4d5e6f
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "seqmix/bench.h"
#include "seqmix/device.h"
#include "seqmix/hardware.h"
#include "seqmix/json_io.h"

int cmd_suite(int argc, char **argv) {
  const char *preset = NULL, *out = "results/runs", *resume = NULL, *device = NULL;
  int help = 0;
  const cli_opt opts[] = {
      {"preset", "NAME", "ci, quick or paper (default: paper with a GPU, quick without)", &preset, NULL},
      {"device", "DEV", "cpu, cuda or all (default: cuda with a GPU, cpu without)", &device, NULL},
      {"out", "DIR", "parent of the run directory (default results/runs)", &out, NULL},
      {"resume", "RUNDIR", "finish an interrupted run: redo only the missing steps", &resume, NULL},
      {0}};
  if (cli_parse("suite", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("suite", "[--preset ci|quick|paper] [--device DEV] [--out DIR] [--resume RUNDIR]",
              "The main job: checks every variant (check.json), benchmarks the preset's suite (bench.json),\n"
              "draws the plots and writes report.md in one run directory, then prints the report's path.\n"
              "Exit 1 when a check fails (the benchmarks and report are still written).", opts);
    return 0;
  }
  int gpu = smx_gpu_count() > 0;
  smx_bench_options o = {0};
  smx_status s = smx_suite_parse(preset ? preset : (gpu ? "paper" : "quick"), &o.suite);
  if (s != SMX_OK) return cli_fail(s);
  if (parse_devices(device ? device : (gpu ? "cuda" : "cpu"), &o.devices)) return SMX_EXIT_USAGE;
  if ((o.devices & (1u << SMX_DEV_CUDA)) && !gpu && device && strcmp(device, "all") != 0)
    return cli_error("seqmix suite: --device cuda but no usable GPU: %s", smx_gpu_unavailable_reason());

  char run_id[96], dir[4096];
  if (resume) {
    if (!smx_file_exists(resume)) return cli_error("seqmix suite: --resume %s: no such run directory", resume);
    snprintf(dir, sizeof dir, "%s", resume);
    const char *slash = strrchr(resume, '/');
    snprintf(run_id, sizeof run_id, "%s", slash ? slash + 1 : resume);
  } else {
    smx_run_id(run_id, sizeof run_id);
    snprintf(dir, sizeof dir, "%s/%s", out, run_id);
  }
  if ((s = smx_mkdir_p(dir)) != SMX_OK) return cli_fail(s);
  fprintf(stderr, "seqmix suite: run %s, preset %s, device %s -> %s\n", run_id, smx_suite_name(o.suite),
          device ? device : (gpu ? "cuda" : "cpu"), dir);

  char path[4200];
  int check_rc = 0;
  snprintf(path, sizeof path, "%s/check.json", dir);
  if (!smx_file_exists(path)) {
    fprintf(stderr, "seqmix suite: [1/4] check\n");
    check_args a = {.out = path, .run_id = run_id, .seed = 1};
    check_rc = run_check(&a);
    if (check_rc == SMX_EXIT_USAGE) return check_rc;
  } else {
    fprintf(stderr, "seqmix suite: [1/4] check: %s exists, kept\n", path);
    json_t *doc = NULL;
    if ((s = smx_json_read_doc(path, "check", &doc)) != SMX_OK) return cli_fail(s);
    json_t *sum = json_object_get(doc, "summary");
    if (json_integer_value(json_object_get(sum, "failed")) || json_integer_value(json_object_get(sum, "fd_failed")))
      check_rc = SMX_EXIT_FAIL;
    json_decref(doc);
  }

  snprintf(path, sizeof path, "%s/bench.json", dir);
  if (!smx_file_exists(path)) {
    fprintf(stderr, "seqmix suite: [2/4] bench (suite %s)\n", smx_suite_name(o.suite));
    smx_bench_defaults(o.suite, &o.repetitions, &o.min_time);
    o.out_dir = dir;
    o.run_id = run_id;
    int ran = 0, failed = 0;
    if ((s = smx_bench_run(&o, &ran, &failed)) != SMX_OK) return cli_fail(s);
    fprintf(stderr, "seqmix suite: %d benchmarks, %d errors\n", ran, failed);
  } else {
    fprintf(stderr, "seqmix suite: [2/4] bench: %s exists, kept\n", path);
  }

  fprintf(stderr, "seqmix suite: [3/4] plots\n[4/4] report\n");
  char report[4200];
  int rc = run_report(dir, report, sizeof report);
  if (rc != 0) return rc;
  printf("suite: report written to %s\n", report);
  if (check_rc) printf("suite: some checks FAILED (see the Correctness section of the report)\n");
  return check_rc;
}
