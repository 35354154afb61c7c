/* A C interface to Google Benchmark (implemented in bench/cbench.cc, the project's one C++ file).
 * Benchmarks register at run time with a callback and a context pointer; GPU and CPU benchmarks
 * use manual time (bench_set_iteration_time once per iteration). */
#ifndef SEQMIX_CBENCH_H
#define SEQMIX_CBENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bench_state bench_state; /* = benchmark::State */
typedef struct bench_bm bench_bm;       /* = benchmark::internal::Benchmark */
typedef void (*bench_fn)(bench_state *st, void *ctx);

enum bench_unit { BENCH_NS, BENCH_US, BENCH_MS, BENCH_S }; /* == benchmark::TimeUnit */
enum { BENCH_CTR_DEFAULT = 0, BENCH_CTR_RATE = 1, BENCH_CTR_ITER_INVARIANT = 4, BENCH_CTR_AVG_ITERATIONS = 8 };

bench_bm *bench_register(const char *name, bench_fn fn, void *ctx);
bench_bm *bench_use_manual_time(bench_bm *b);
bench_bm *bench_unit(bench_bm *b, enum bench_unit u);
bench_bm *bench_min_time(bench_bm *b, double seconds);
bench_bm *bench_min_warmup_time(bench_bm *b, double seconds);
bench_bm *bench_repetitions(bench_bm *b, int n);

int bench_keep_running(bench_state *st);
int64_t bench_iterations_done(bench_state *st);
void bench_set_iteration_time(bench_state *st, double seconds);
void bench_counter(bench_state *st, const char *name, double value, int flags);
void bench_set_label(bench_state *st, const char *label);
void bench_skip_with_error(bench_state *st, const char *msg);
void bench_add_context(const char *key, const char *value);
/* Initialize + RunSpecifiedBenchmarks + Shutdown; returns 1 on unrecognised arguments. */
int bench_main(int argc, char **argv);
/* Forgets all registered benchmarks (so one process can run several suites). */
void bench_clear(void);

#ifdef __cplusplus
}
#endif
#endif
