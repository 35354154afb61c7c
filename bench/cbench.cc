// The C shim over Google Benchmark (bench/cbench.h). Each wrapper is one call into the C++ API.
#include "cbench.h"

#include <benchmark/benchmark.h>

static benchmark::State &S(bench_state *s) { return *reinterpret_cast<benchmark::State *>(s); }
static benchmark::internal::Benchmark *B(bench_bm *b) { return reinterpret_cast<benchmark::internal::Benchmark *>(b); }
static bench_bm *W(benchmark::internal::Benchmark *b) { return reinterpret_cast<bench_bm *>(b); }

extern "C" bench_bm *bench_register(const char *name, bench_fn fn, void *ctx) {
  return W(benchmark::RegisterBenchmark(name, [fn, ctx](benchmark::State &st) {
    fn(reinterpret_cast<bench_state *>(&st), ctx);
  }));
}
extern "C" bench_bm *bench_use_manual_time(bench_bm *b) { return W(B(b)->UseManualTime()); }
extern "C" bench_bm *bench_unit(bench_bm *b, enum bench_unit u) {
  return W(B(b)->Unit(static_cast<benchmark::TimeUnit>(u)));
}
extern "C" bench_bm *bench_min_time(bench_bm *b, double s) { return W(B(b)->MinTime(s)); }
extern "C" bench_bm *bench_min_warmup_time(bench_bm *b, double s) { return W(B(b)->MinWarmUpTime(s)); }
extern "C" bench_bm *bench_repetitions(bench_bm *b, int n) { return W(B(b)->Repetitions(n)); }

extern "C" int bench_keep_running(bench_state *st) { return S(st).KeepRunning() ? 1 : 0; }
extern "C" int64_t bench_iterations_done(bench_state *st) { return static_cast<int64_t>(S(st).iterations()); }
extern "C" void bench_set_iteration_time(bench_state *st, double s) { S(st).SetIterationTime(s); }
extern "C" void bench_counter(bench_state *st, const char *name, double v, int flags) {
  S(st).counters[name] = benchmark::Counter(v, static_cast<benchmark::Counter::Flags>(flags));
}
extern "C" void bench_set_label(bench_state *st, const char *l) { S(st).SetLabel(l); }
extern "C" void bench_skip_with_error(bench_state *st, const char *msg) { S(st).SkipWithError(msg); }
extern "C" void bench_add_context(const char *k, const char *v) { benchmark::AddCustomContext(k, v); }

extern "C" int bench_main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

extern "C" void bench_clear(void) { benchmark::ClearRegisteredBenchmarks(); }
