/* seqmix suite: the main job. check -> bench -> task sweep -> efficiency -> plots -> report into
 * results/runs/<run-id>/, then prints where the report is. Without a GPU it runs the CPU `quick`
 * preset; with one, the `paper` preset on the GPU. The task step trains the `quick` sweep preset
 * (MQAR, attention vs ssd; docs/sweeps.md) on the CPU with one worker process per core into
 * tasks.jsonl, and the report scores it and judges the task claims on it. The efficiency step
 * (seqmix task efficiency; skipped with --preset ci or --efficiency none) times prefill and
 * decode of attention, MixCon 1:7 and the Jamba-like and Mixtral-like models at 1K and 8K tokens
 * into efficiency.json, from which the report draws its tables and claim 9's figure. Beside the
 * bench step, the PyTorch peers of fftconv, attention and monarch are timed at the same shapes into
 * peers.json when a Python with torch is at hand (cli/suite_peers.c). Each step writes its file
 * atomically or append-only; --resume DIR reruns only what is missing (the sweep resumes run by
 * run), so an interrupted suite loses nothing.
 *
 *   seqmix suite                       # CPU quick preset (about 25 minutes on 2 cores)
 *   seqmix suite --preset ci           # no task sweep unless --tasks names one
 *   seqmix suite --tasks none          # skip the task sweep
 *   seqmix suite --resume results/runs/20261123T171500Z-1a2b3c4d5e6f
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "seqmix/bench.h"
#include "seqmix/device.h"
#include "seqmix/hardware.h"
#include "seqmix/json_io.h"
#include "seqmix/sweep.h"

int cmd_suite(int argc, char **argv) {
  const char *preset = NULL, *out = "results/runs", *resume = NULL, *device = NULL, *tasks = NULL, *eff = NULL,
             *peers = NULL;
  int help = 0;
  const cli_opt opts[] = {
      {"preset", "NAME", "ci, quick or paper (default: paper with a GPU, quick without)", &preset, NULL},
      {"device", "DEV", "cpu, cuda or all (default: cuda with a GPU, cpu without)", &device, NULL},
      {"out", "DIR", "parent of the run directory (default results/runs)", &out, NULL},
      {"resume", "RUNDIR", "finish an interrupted run: redo only the missing steps", &resume, NULL},
      {"tasks", "PRESET", "the task sweep: a sweep preset, a spec file or none (default: quick; none with --preset ci)",
       &tasks, NULL},
      {"efficiency", "WHICH", "the long-context efficiency step: quick (attention, MixCon 1:7, Jamba-like, Mixtral-like at 1K "
       "and 8K) or none (default: quick; none with --preset ci)", &eff, NULL},
      {"peers", "WHICH", "torch: time the PyTorch peers of fftconv, attention and monarch beside the bench step (bench/peers/"
       "torch_peers.py, when $SEQMIX_PYTHON or python3 imports torch) or none (default: torch; none with --preset ci)",
       &peers, NULL},
      {0}};
  if (cli_parse("suite", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("suite", "[--preset ci|quick|paper] [--device DEV] [--tasks PRESET|none] [--efficiency quick|none] [--peers torch|none] [--out DIR] [--resume RUNDIR]",
              "The main job: checks every variant (check.json), benchmarks the preset's suite (bench.json),\n"
              "trains the task sweep on the CPU (tasks.jsonl: MQAR, attention vs ssd, 3 seeds), times prefill\n"
              "and decode at 1K and 8K tokens (efficiency.json), draws the plots and writes report.md in one\n"
              "run directory, then prints the report's path.\n"
              "Exit 1 when a check fails (the benchmarks and report are still written).", opts);
    return 0;
  }
  if (eff && strcmp(eff, "quick") && strcmp(eff, "none"))
    return cli_error("seqmix suite: --efficiency %s: expected quick or none", eff);
  if (peers && strcmp(peers, "torch") && strcmp(peers, "none"))
    return cli_error("seqmix suite: --peers %s: expected torch or none", peers);
  int gpu = smx_gpu_count() > 0;
  smx_bench_options o = {0};
  smx_status s = smx_suite_parse(preset ? preset : (gpu ? "paper" : "quick"), &o.suite);
  if (s != SMX_OK) return cli_fail(s);
  if (parse_devices(device ? device : (gpu ? "cuda" : "cpu"), &o.devices)) return SMX_EXIT_USAGE;
  if ((o.devices & (1u << SMX_DEV_CUDA)) && !gpu && device && strcmp(device, "all") != 0)
    return cli_error("seqmix suite: --device cuda but no usable GPU: %s", smx_gpu_unavailable_reason());

  /* an unknown --tasks fails before anything is made */
  char tasks_abs[4096];
  if (tasks && strcmp(tasks, "none") != 0) {
    json_t *spec = NULL;
    if (smx_sweep_preset(tasks, &spec) != SMX_OK) {
      if (!smx_file_exists(tasks))
        return cli_error("seqmix suite: --tasks %s: neither a sweep preset (seqmix sweep presets) nor a spec file", tasks);
      if (realpath(tasks, tasks_abs)) tasks = tasks_abs; /* kept for --resume from any directory */
    }
    json_decref(spec);
  }

  char run_id[96], dir[4096];
  if (resume) {
    if (!smx_file_exists(resume)) return cli_error("seqmix suite: --resume %s: no such run directory", resume);
    snprintf(dir, sizeof dir, "%s", resume);
    const char *slash = strrchr(resume, '/');
    snprintf(run_id, sizeof run_id, "%s", slash ? slash + 1 : resume);
    char bp[4200];
    snprintf(bp, sizeof bp, "%s/bench.json", resume);
    json_t *bdoc = NULL;
    if (!preset && smx_file_exists(bp) && smx_json_read_doc(bp, "bench", &bdoc) == SMX_OK) {
      const char *name = json_string_value(json_object_get(bdoc, "suite")); /* the interrupted run's preset */
      if (name && smx_suite_parse(name, &o.suite) != SMX_OK) smx_suite_parse("quick", &o.suite);
    }
    json_decref(bdoc);
  } else {
    smx_run_id(run_id, sizeof run_id);
    snprintf(dir, sizeof dir, "%s/%s", out, run_id);
  }
  if ((s = smx_mkdir_p(dir)) != SMX_OK) return cli_fail(s);
  fprintf(stderr, "seqmix suite: run %s, preset %s, device %s -> %s\n", run_id, smx_suite_name(o.suite),
          device ? device : (gpu ? "cuda" : "cpu"), dir);

  /* The task sweep, resumable run by run. Its choice is kept in <run>/tasks.preset so --resume
   * picks up the same sweep without being told again. */
  char sweep[4200] = "", chosen[4200] = "", marker[4200];
  snprintf(marker, sizeof marker, "%s/tasks.preset", dir);
  if (!tasks && resume && smx_file_exists(marker)) {
    FILE *mf = fopen(marker, "r");
    if (mf && fgets(chosen, sizeof chosen, mf)) chosen[strcspn(chosen, "\n")] = 0;
    if (mf) fclose(mf);
    if (chosen[0]) tasks = chosen;
  }
  if (!tasks) tasks = !strcmp(smx_suite_name(o.suite), "ci") ? "none" : "quick";
  int is_preset = 0;
  if (strcmp(tasks, "none") != 0) { /* a built-in preset, or else a sweep spec file */
    json_t *spec = NULL;
    is_preset = smx_sweep_preset(tasks, &spec) == SMX_OK;
    json_decref(spec);
    if (!is_preset && !smx_file_exists(tasks))
      return cli_error("seqmix suite: --tasks %s: neither a sweep preset (seqmix sweep presets) nor a spec file", tasks);
  }
  if (strcmp(tasks, chosen) != 0) {
    char line[4300];
    int len = snprintf(line, sizeof line, "%s\n", tasks);
    if ((s = smx_write_file_atomic(marker, line, (size_t)len)) != SMX_OK) return cli_fail(s);
  }
  char path[4200];
  int check_rc = 0;
  snprintf(path, sizeof path, "%s/check.json", dir);
  if (!smx_file_exists(path)) {
    fprintf(stderr, "seqmix suite: [1/6] check\n");
    check_args a = {.out = path, .run_id = run_id, .seed = 1};
    check_rc = run_check(&a);
    if (check_rc == SMX_EXIT_USAGE) return check_rc;
  } else {
    fprintf(stderr, "seqmix suite: [1/6] check: %s exists, kept\n", path);
    json_t *doc = NULL;
    if ((s = smx_json_read_doc(path, "check", &doc)) != SMX_OK) return cli_fail(s);
    json_t *sum = json_object_get(doc, "summary");
    if (json_integer_value(json_object_get(sum, "failed")) || json_integer_value(json_object_get(sum, "fd_failed")))
      check_rc = SMX_EXIT_FAIL;
    json_decref(doc);
  }

  snprintf(path, sizeof path, "%s/bench.json", dir);
  if (!smx_file_exists(path)) {
    fprintf(stderr, "seqmix suite: [2/6] bench (suite %s)\n", smx_suite_name(o.suite));
    smx_bench_defaults(o.suite, &o.repetitions, &o.min_time);
    o.out_dir = dir;
    o.run_id = run_id;
    int ran = 0, failed = 0;
    if ((s = smx_bench_run(&o, &ran, &failed)) != SMX_OK) return cli_fail(s);
    fprintf(stderr, "seqmix suite: %d benchmarks, %d errors\n", ran, failed);
  } else {
    fprintf(stderr, "seqmix suite: [2/6] bench: %s exists, kept\n", path);
  }
  if (!peers) peers = !strcmp(smx_suite_name(o.suite), "ci") ? "none" : "torch";
  if (!strcmp(peers, "torch")) suite_peers(dir, (o.devices & (1u << SMX_DEV_CUDA)) && gpu ? "cuda" : "cpu");

  if (strcmp(tasks, "none") != 0) {
    snprintf(sweep, sizeof sweep, "%s/tasks.jsonl", dir);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char jobs[32];
    snprintf(jobs, sizeof jobs, "%ld", cores < 1 ? 1 : cores > 64 ? 64 : cores);
    fprintf(stderr, "seqmix suite: [3/6] task sweep %s (%s worker processes) -> %s\n", tasks, jobs, sweep);
    char *av[] = {"sweep run", is_preset ? "--preset" : "--spec", (char *)tasks, "--out", sweep, "--jobs", jobs, NULL};
    int src = sweep_run(7, av);
    if (src != 0) return src;
  } else {
    fprintf(stderr, "seqmix suite: [3/6] task sweep: none\n");
  }

  if (!eff) eff = !strcmp(smx_suite_name(o.suite), "ci") ? "none" : "quick";
  snprintf(path, sizeof path, "%s/efficiency.json", dir);
  if (!strcmp(eff, "none")) {
    fprintf(stderr, "seqmix suite: [4/6] efficiency: none\n");
  } else if (smx_file_exists(path)) {
    fprintf(stderr, "seqmix suite: [4/6] efficiency: %s exists, kept\n", path);
  } else {
    char md[4200], plot_dir[4200];
    snprintf(md, sizeof md, "%s/efficiency.md", dir);
    snprintf(plot_dir, sizeof plot_dir, "%s/plots", dir);
    if ((s = smx_mkdir_p(plot_dir)) != SMX_OK) return cli_fail(s);
    snprintf(plot_dir, sizeof plot_dir, "%s/plots/efficiency", dir);
    fprintf(stderr, "seqmix suite: [4/6] efficiency -> %s\n", path);
    char *av[] = {"task efficiency", "--arch", "attention,mixcon-1:7,jamba-1:7,mixtral", "--ctx", "1024,8192", "--out", path,
                  "--md", md, "--plots", plot_dir, NULL};
    int erc = task_efficiency(11, av);
    if (erc != 0) return erc;
  }

  fprintf(stderr, "seqmix suite: [5/6] plots\n[6/6] report\n");
  char report[4200];
  int rc = run_report_sweep(dir, sweep[0] ? sweep : NULL, report, sizeof report);
  if (rc != 0) return rc;
  printf("suite: report written to %s\n", report);
  if (check_rc) printf("suite: some checks FAILED (see the Correctness section of the report)\n");
  return check_rc;
}
