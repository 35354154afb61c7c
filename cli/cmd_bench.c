/* seqmix bench: Google Benchmark over the registry (include/seqmix/bench.h).
 *
 *   seqmix bench --suite quick                       # -> results/runs/<run-id>/bench.json
 *   seqmix bench --op fftconv --variant cpu.fftw --shape B=4,H=16,L=4096 --repetitions 9
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "seqmix/bench.h"
#include "seqmix/hardware.h"

int parse_devices(const char *text, unsigned *mask) {
  *mask = 0;
  if (!text || strcmp(text, "all") == 0) return 0;
  smx_device d;
  smx_status s = smx_device_parse(text, &d);
  if (s != SMX_OK) return cli_error("--device %s: accepted: cpu, cuda, all", text);
  *mask = 1u << d;
  return 0;
}

int cmd_bench(int argc, char **argv) {
  const char *suite = "quick", *reps = NULL, *min_time = NULL, *device = NULL, *out = NULL;
  smx_bench_options o = {0};
  int help = 0;
  const cli_opt opts[] = {
      {"suite", "NAME", "ci (seconds), quick (minutes, the CPU default), paper (the papers' shapes, GPUs)", &suite, NULL},
      {"op", "NAME", "only this op, or a comma-separated list of ops timed in one run (moe,cdmoe)", &o.op, NULL},
      {"variant", "NAME", "only this variant (or baseline), or a comma-separated list (cpu.loop,cpu.pk)", &o.variant, NULL},
      {"shape", "SPEC", "one shape instead of the suite's, e.g. B=4,H=16,L=4096 (needs --op)", &o.shape, NULL},
      {"device", "DEV", "cpu, cuda or all (default: all present)", &device, NULL},
      {"repetitions", "N", "repetitions per benchmark (default 5)", &reps, NULL},
      {"min-time", "S", "minimum seconds per repetition (default: ci 0.02, quick 0.1, paper 0.2)", &min_time, NULL},
      {"out", "DIR", "output directory (default results/runs/<run-id>)", &out, NULL},
      {"ratio", NULL, "ratio mode: time each variant alternately with its device's library baseline (else the "
                      "reference); one ratio per repetition, for `seqmix gate` on noisy machines", NULL, &o.ratio},
      {0}};
  if (cli_parse("bench", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("bench", "[--suite ci|quick|paper] [--op NAME] [--variant NAME] [--shape SPEC] [--out DIR]",
              "Times every variant and library baseline of each op on the suite's shapes, forward and backward,\n"
              "with Google Benchmark (manual time: monotonic clock on the CPU, CUDA events after an L2 flush on\n"
              "the GPU). Writes DIR/gbench.json and DIR/bench.json (times of every repetition, medians, FLOP/s,\n"
              "bytes/s, % of the measured peaks, workspace bytes, skipped cases with reasons).", opts);
    return 0;
  }
  smx_status s = smx_suite_parse(suite, &o.suite);
  if (s != SMX_OK) return cli_fail(s);
  if (parse_devices(device, &o.devices)) return SMX_EXIT_USAGE;
  smx_bench_defaults(o.suite, &o.repetitions, &o.min_time);
  long r = o.repetitions;
  if (reps && cli_int("repetitions", reps, 1, 1000, &r)) return SMX_EXIT_USAGE;
  o.repetitions = (int)r;
  if (min_time && cli_double("min-time", min_time, 1e-4, 60, &o.min_time)) return SMX_EXIT_USAGE;
  char run_id[96], dir[4096];
  smx_run_id(run_id, sizeof run_id);
  if (!out) {
    snprintf(dir, sizeof dir, "results/runs/%s", run_id);
    out = dir;
  }
  o.out_dir = out;
  o.run_id = run_id;
  int ran = 0, failed = 0;
  s = smx_bench_run(&o, &ran, &failed);
  if (s != SMX_OK) return cli_fail(s);
  printf("bench: %d benchmarks ran, %d reported errors; results in %s/bench.json\n", ran, failed, out);
  return failed ? SMX_EXIT_FAIL : SMX_EXIT_OK;
}
