/* Benchmarks over the registry, timed by Google Benchmark (through bench/cbench.h).
 *
 * For every op, shape of the chosen suite, variant (baselines included) and pass, one benchmark
 * named "<op>/<variant>/<pass>/<shape>" runs with manual time: CPU work is timed with the
 * monotonic clock (hot caches), GPU work with CUDA events after an L2 flush and with the stream
 * held by a spin kernel so launch latency is not timed. Each benchmark allocates nothing in its
 * timed loop: tensors come from buffers reserved once and reused, the variant's state (plans,
 * workspace) is created before the loop and one untimed warm-up run precedes it.
 *
 * Counters: FLOP/s and bytes/s (the op's useful work), pct_peak_flops and pct_peak_bw against the
 * peaks measured at start (smx_calibrate), workspace_bytes, and on GPUs the SM clock and the
 * throttle-reason mask after the run (NVML, when present).
 *
 * Results: <out>/gbench.json (Google Benchmark's own JSON, hardware in its context) and
 * <out>/bench.json (seqmix schema: one entry per case with every repetition's time, the medians,
 * the counters, and the skipped cases with their reasons).
 */
#ifndef SEQMIX_BENCH_H
#define SEQMIX_BENCH_H

#include "seqmix/hardware.h"
#include "seqmix/op.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smx_peaks {
  double cpu_flops, cpu_bytes_per_s; /* OpenBLAS sgemm; parallel memcpy (read + write) */
  double gpu_flops, gpu_bytes_per_s; /* cuBLAS sgemm (no TF32); device-to-device copy */
} smx_peaks;

smx_status smx_calibrate(int with_gpu, smx_peaks *out);

typedef struct smx_bench_options {
  smx_suite suite;
  const char *op;      /* NULL = all */
  const char *variant; /* NULL = all */
  const char *shape;   /* NULL = the suite's shapes; else one "B=..,L=.." spec (needs op) */
  unsigned devices;    /* bit per smx_device; 0 = every device present */
  int repetitions;     /* >= 1 */
  double min_time;     /* seconds per repetition, Google Benchmark's --benchmark_min_time */
  const char *out_dir; /* where gbench.json and bench.json go */
  const char *run_id;  /* stored in bench.json */
  int ratio;           /* ratio mode: each variant is timed alternately with a yardstick (its
                          device's library baseline, else the reference), one ratio per repetition */
} smx_bench_options;

/* The suite's default repetitions and minimum seconds per repetition: ci is seconds on 2 cores,
 * quick is minutes, paper is for GPUs. */
void smx_bench_defaults(smx_suite suite, int *repetitions, double *min_time);
/* The smallest relative change `seqmix gate` counts for this suite (written into bench.json). */
double smx_gate_min_change(smx_suite suite);

/* Runs the benchmarks. *n_failed counts benchmarks that reported an error. */
smx_status smx_bench_run(const smx_bench_options *o, int *n_ran, int *n_failed);

#ifdef __cplusplus
}
#endif
#endif
