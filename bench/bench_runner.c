/* The benchmark runner (include/seqmix/bench.h): registers one Google Benchmark per case, runs
 * them, and turns Google Benchmark's JSON into seqmix's bench.json.
 *
 *   seqmix bench --suite quick --out results/runs/<run-id>
 *
 * Rates are computed here from the manual times, not with Google Benchmark's rate counters:
 * those divide by the benchmark thread's CPU time, which is neither the GPU time nor the wall
 * time of multi-threaded CPU code. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "cbench.h"
#include "gpu.h"
#include "nvml.h"
#include "seqmix/bench.h"
#include "seqmix/buffer.h"
#include "seqmix/json_io.h"
#include "seqmix/stats.h"
#include "seqmix/timer.h"
#include "smx_config.h"

/* Reference runs over this many multiply-adds are left out of benchmarks (and say so): the direct
 * O(L^2) sums at such sizes take minutes on a 2-core machine and add nothing a smaller L does not.
 * The quick suite, which `seqmix suite` runs before its task sweep, stops at 2e9 (a second or two
 * per fp64 reference run here: 4e10 made the references half of a 25-minute bench step) unless
 * the user names the variants to time. */
#define REFERENCE_MAX_MACS 4e10
#define REFERENCE_MAX_MACS_QUICK 2e9
static double reference_max_macs = REFERENCE_MAX_MACS; /* this run's limit, set by smx_bench_run */
/* Reference runs over this many multiply-adds (seconds each) get at most 3 repetitions: their
 * speedup ratios do not need the repetitions a gate needs, and the quick suite must stay short. */
#define REFERENCE_FEW_REPS_MACS 2e9
#define BENCH_SEED 0x5e9a1c0ffee5eedULL

typedef struct bench_case {
  smx_config cfg;
  const smx_variant *v;
  smx_pass pass;
  const smx_variant *partner; /* ratio mode: timed alternately with v; runs its forward */
  char name[256];
  char shape[160];
  char note[200];
  char skip[320];
  const smx_hardware *hw;
  const smx_peaks *peaks;
  size_t workspace;
  unsigned sm_mhz;
  unsigned long long throttle;
} bench_case;

static smx_buffer pool[2][SMX_MAX_TENSORS];

/* Backward reads the forward's inputs, the output gradients and the saved outputs. */
static int used_by(const smx_tensor_desc *t, smx_pass p) {
  if (p == SMX_FWD) return t->role == SMX_ROLE_INPUT || t->role == SMX_ROLE_OUTPUT;
  return t->role != SMX_ROLE_OUTPUT || t->saved;
}
static int is_input(const smx_tensor_desc *t, smx_pass p) {
  return t->role == SMX_ROLE_INPUT || (p == SMX_BWD && t->role == SMX_ROLE_GRAD_OUT);
}
static size_t dtype_elem_size(smx_dtype d, const smx_tensor_desc *t) {
  return t->f32_always ? sizeof(float) : smx_dtype_size(d);
}
static size_t elem_size(const smx_variant *v, const smx_tensor_desc *t) { return dtype_elem_size(v->dtype, t); }

static size_t pass_tensor_bytes(const smx_config *c, smx_dtype d, smx_pass p) {
  size_t total = 0;
  for (int s = 0; s < c->op->n_tensors; s++)
    if (used_by(&c->op->tensors[s], p)) total += c->op->numel(c, s) * dtype_elem_size(d, &c->op->tensors[s]);
  return total;
}

/* The op's compulsory traffic (counted for fp32 tensors) scaled to the variant's storage type. */
static double case_bytes(const bench_case *bc) {
  double b = bc->cfg.op->bytes(&bc->cfg, bc->pass);
  if (bc->v->dtype == SMX_F32) return b;
  return b * (double)pass_tensor_bytes(&bc->cfg, bc->v->dtype, bc->pass) /
         (double)pass_tensor_bytes(&bc->cfg, SMX_F32, bc->pass);
}

/* Input values on the host (smx_input_values), in the variant's storage type, copied to the device
 * when the variant runs there. */
static smx_status host_inputs(const bench_case *bc, int s, size_t n, void *dst) {
  const smx_tensor_desc *t = &bc->cfg.op->tensors[s];
  int b16 = elem_size(bc->v, t) == 2, cpu = bc->v->device == SMX_DEV_CPU;
  float *x = cpu && !b16 ? dst : smx_host_alloc(n * sizeof(float));
  if (!x) return smx_fail(SMX_ERR_NOMEM, "cannot allocate %zu bytes of benchmark inputs", n * sizeof(float));
  smx_input_values(&bc->cfg, BENCH_SEED, s, x, n);
  smx_status st = SMX_OK;
  if (b16) {
    uint16_t *h = (uint16_t *)x; /* narrowed in place: element i's bytes lie below element i's float */
    for (size_t i = 0; i < n; i++) h[i] = smx_f32_to_bf16(x[i]);
    st = cpu ? (memcpy(dst, h, n * sizeof(uint16_t)), SMX_OK) : smx_gpu_memcpy_h2d(dst, h, n * sizeof(uint16_t));
  } else if (!cpu) {
    st = smx_gpu_memcpy_h2d(dst, x, n * sizeof(float));
  }
  if (x != dst) smx_host_free(x);
  return st;
}

static int has_saved(const smx_op *op);

static smx_status prepare_tensors(const bench_case *bc, void **ptr) {
  const smx_op *op = bc->cfg.op;
  smx_device d = bc->v->device;
  for (int s = 0; s < op->n_tensors; s++) {
    const smx_tensor_desc *t = &op->tensors[s];
    /* a backward that reads saved outputs runs the forward first (setup_run), which writes every
     * output, saved or not (layernorm's y beside its saved mean and rstd) */
    int fwd_first = bc->pass == SMX_BWD && t->role == SMX_ROLE_OUTPUT && has_saved(op);
    if (!used_by(t, bc->pass) && !fwd_first) continue;
    size_t n = op->numel(&bc->cfg, s), es = elem_size(bc->v, t);
    smx_status st = smx_buffer_reserve(&pool[d][s], d, n * es);
    if (st != SMX_OK) return st;
    ptr[s] = pool[d][s].ptr;
    if (!is_input(t, bc->pass)) continue;
    /* the device fills fp32 and bf16 itself with the same Philox values; ops that reshape their
     * inputs draw them on the host */
    if (d == SMX_DEV_CUDA && !op->shape_input)
      st = es == 2 ? smx_gpu_fill_uniform_bf16(ptr[s], n, BENCH_SEED, (uint32_t)s, -1.0f, 1.0f)
                   : smx_gpu_fill_uniform(ptr[s], n, BENCH_SEED, (uint32_t)s, -1.0f, 1.0f);
    else
      st = host_inputs(bc, s, n, ptr[s]);
    if (st != SMX_OK) return st;
  }
  return SMX_OK;
}

/* A test-only build (meson -Dtest_slowdown=NAME) runs that variant twice per timed call, so the
 * gate's detection of a 2x slowdown can be measured. Never set in a real build; bench.json says. */
static smx_status run_once(const smx_variant *v, smx_pass pass, void *state, void **ptr) {
  smx_status s = v->run(state, pass, ptr);
#ifdef SMX_TEST_SLOWDOWN
  if (s == SMX_OK && !strcmp(v->name, SMX_TEST_SLOWDOWN)) s = v->run(state, pass, ptr);
#endif
  return s;
}

static smx_status timed_run(const smx_variant *v, smx_pass pass, void *state, void **ptr, smx_gpu_timer *timer,
                            double *t) {
  if (v->device == SMX_DEV_CPU) {
    double t0 = smx_now();
    smx_status s = run_once(v, pass, state, ptr);
    *t = smx_now() - t0;
    return s;
  }
  smx_status s = smx_gpu_timer_start(timer);
  if (s != SMX_OK) return s;
  smx_status rs = run_once(v, pass, state, ptr);
  s = smx_gpu_timer_stop(timer, t); /* always: it releases the held stream */
  return rs != SMX_OK ? rs : s;
}

static int has_saved(const smx_op *op) {
  for (int s = 0; s < op->n_tensors; s++)
    if (op->tensors[s].saved) return 1;
  return 0;
}

/* Prepares the tensors a pass of `v` uses (shared pool, so a ratio partner reuses them) and the
 * variant's state. */
static smx_status setup_run(const bench_case *bc, const smx_variant *v, smx_pass pass, void **ptr, void **state) {
  bench_case view = *bc;
  view.v = v;
  view.pass = pass;
  smx_status s = prepare_tensors(&view, ptr);
  if (s == SMX_OK) s = v->create(&bc->cfg, state);
  /* a backward that reads saved outputs gets them from the variant's own forward */
  if (s == SMX_OK && pass == SMX_BWD && has_saved(bc->cfg.op)) s = v->run(*state, SMX_FWD, ptr);
  if (s == SMX_OK) s = v->run(*state, pass, ptr); /* warm-up: first-touch, lazy inits */
  if (s == SMX_OK && v->device == SMX_DEV_CUDA) s = smx_gpu_sync();
  return s;
}

typedef struct sample_list {
  double *x;
  size_t n, cap;
} sample_list;

static int sample_push(sample_list *l, double v) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 256;
    double *p = realloc(l->x, cap * sizeof *p);
    if (!p) return -1;
    l->x = p;
    l->cap = cap;
  }
  l->x[l->n++] = v;
  return 0;
}

/* One benchmark. In ratio mode every iteration times the partner's forward and the variant's pass
 * back to back (alternating which goes first), and the repetition reports the ratio of their
 * median times: drifts of a shared machine's speed hit both and cancel. The manual time is the
 * variant's. */
static void bm_case(bench_state *st, void *ctx) {
  bench_case *bc = ctx;
  void *ptr[SMX_MAX_TENSORS] = {0}, *pptr[SMX_MAX_TENSORS] = {0};
  void *state = NULL, *pstate = NULL;
  smx_gpu_timer *timer = NULL;
  int gpu = bc->v->device == SMX_DEV_CUDA || (bc->partner && bc->partner->device == SMX_DEV_CUDA);
  smx_status s = SMX_OK;
  if (gpu) s = smx_gpu_timer_create(&timer);
  if (s == SMX_OK && bc->partner) s = setup_run(bc, bc->partner, SMX_FWD, pptr, &pstate);
  if (s == SMX_OK) s = setup_run(bc, bc->v, bc->pass, ptr, &state);
  if (s != SMX_OK) {
    bench_skip_with_error(st, smx_last_error());
  } else {
    double total = 0;
    int64_t iters = 0;
    sample_list tv = {0}, tpv = {0};
    /* ratio mode: the variant runs k times per partner run, k balancing their costs, so a cheap
     * variant beside a costly yardstick still gets many samples per repetition */
    int k = 1;
    if (bc->partner) {
      double t1 = 0, tp1 = 0;
      s = timed_run(bc->partner, SMX_FWD, pstate, pptr, timer, &tp1);
      if (s == SMX_OK) s = timed_run(bc->v, bc->pass, state, ptr, timer, &t1);
      if (s == SMX_OK && t1 > 0) k = tp1 / t1 > 1000 ? 1000 : tp1 / t1 < 1 ? 1 : (int)(tp1 / t1 + 0.5);
      if (s != SMX_OK) bench_skip_with_error(st, smx_last_error());
    }
    while (s == SMX_OK && bench_keep_running(st)) {
      double t = 0, tp = 0, tk = 0;
      if (bc->partner && (iters & 1) == 0) s = timed_run(bc->partner, SMX_FWD, pstate, pptr, timer, &tp);
      for (int j = 0; j < k && s == SMX_OK; j++) {
        s = timed_run(bc->v, bc->pass, state, ptr, timer, &tk);
        t += tk;
        if (s == SMX_OK && bc->partner && sample_push(&tv, tk)) s = smx_fail(SMX_ERR_NOMEM, "cannot store ratio samples");
      }
      if (s == SMX_OK && bc->partner && (iters & 1) == 1) s = timed_run(bc->partner, SMX_FWD, pstate, pptr, timer, &tp);
      if (s == SMX_OK && bc->partner && sample_push(&tpv, tp)) s = smx_fail(SMX_ERR_NOMEM, "cannot store ratio samples");
      if (s != SMX_OK) {
        bench_skip_with_error(st, smx_last_error());
        break;
      }
      /* In ratio mode the iteration is the pair, so Google Benchmark sizes its loop by the cost of
       * both (a costly reference yardstick must not multiply the run time); the variant's own
       * time per repetition is the `variant_s` counter. */
      bench_set_iteration_time(st, t + tp);
      total += t;
      iters++;
    }
    if (s == SMX_OK && iters > 0 && total > 0) {
      double per = total / (double)(iters * k);
      double flops = bc->cfg.op->flops(&bc->cfg, bc->pass), bytes = case_bytes(bc);
      int vgpu = bc->v->device == SMX_DEV_CUDA;
      double pf = vgpu ? bc->peaks->gpu_flops : bc->peaks->cpu_flops;
      double pb = vgpu ? bc->peaks->gpu_bytes_per_s : bc->peaks->cpu_bytes_per_s;
      bc->workspace = bc->v->workspace_bytes ? bc->v->workspace_bytes(state) : 0;
      if (!bc->v->baseline) { /* a baseline does not do the op's work: its rates would mislead */
        bench_counter(st, "FLOP/s", flops / per, BENCH_CTR_DEFAULT);
        bench_counter(st, "bytes/s", bytes / per, BENCH_CTR_DEFAULT);
        bench_counter(st, "pct_peak_flops", pf > 0 ? 100.0 * flops / per / pf : 0, BENCH_CTR_DEFAULT);
        bench_counter(st, "pct_peak_bw", pb > 0 ? 100.0 * bytes / per / pb : 0, BENCH_CTR_DEFAULT);
      }
      /* the ratio of medians: one preempted iteration on a shared machine does not move it */
      if (bc->partner && tpv.n > 0) {
        bench_counter(st, "ratio", smx_median(tv.x, tv.n) / smx_median(tpv.x, tpv.n), BENCH_CTR_DEFAULT);
        bench_counter(st, "variant_s", smx_median(tv.x, tv.n), BENCH_CTR_DEFAULT);
        bench_counter(st, "partner_s", smx_median(tpv.x, tpv.n), BENCH_CTR_DEFAULT);
      }
      bench_counter(st, "workspace_bytes", (double)bc->workspace, BENCH_CTR_DEFAULT);
      if (bc->cfg.op->param_bytes) bench_counter(st, "param_bytes", bc->cfg.op->param_bytes(&bc->cfg), BENCH_CTR_DEFAULT);
      if (vgpu && bc->hw->gpu_count > 0 &&
          smx_nvml_clocks(bc->hw->gpus[0].pci_bus_id, &bc->sm_mhz, &bc->throttle) == 0) {
        bench_counter(st, "sm_clock_mhz", bc->sm_mhz, BENCH_CTR_DEFAULT);
        bench_counter(st, "throttle_reasons", (double)bc->throttle, BENCH_CTR_DEFAULT);
      }
    }
    free(tv.x);
    free(tpv.x);
  }
  smx_gpu_timer_destroy(timer);
  if (state) bc->v->destroy(state);
  if (pstate) bc->partner->destroy(pstate);
}

/* ---------------------------------------------------------------------------------------------
 * Case selection */

typedef struct case_list {
  bench_case *items;
  int n, cap;
} case_list;

static bench_case *push_case(case_list *l) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    bench_case *p = realloc(l->items, (size_t)cap * sizeof *p);
    if (!p) return NULL;
    l->items = p;
    l->cap = cap;
  }
  bench_case *c = &l->items[l->n++];
  memset(c, 0, sizeof *c);
  return c;
}


static size_t device_free_bytes(smx_device d) {
  if (d == SMX_DEV_CUDA) {
    size_t f = 0, t = 0;
    return smx_gpu_mem_info(&f, &t) == SMX_OK ? f : 0;
  }
  struct sysinfo si;
  if (sysinfo(&si) != 0) return 0;
  return (size_t)si.freeram * si.mem_unit;
}

/* Halves the op's shrink parameter until tensors + workspace fit in 85% of free device memory. */
static smx_status fit_in_memory(bench_case *bc) {
  const smx_op *op = bc->cfg.op;
  int si = op->shrink_param ? smx_config_param_index(op, op->shrink_param) : -1;
  int64_t original = si >= 0 ? bc->cfg.v[si] : 0;
  for (;;) {
    size_t avail = device_free_bytes(bc->v->device);
    size_t need = pass_tensor_bytes(&bc->cfg, bc->v->dtype, bc->pass);
    void *state = NULL;
    smx_status s = need < avail ? bc->v->create(&bc->cfg, &state) : SMX_ERR_NOMEM;
    if (s == SMX_OK) {
      need += bc->v->workspace_bytes ? bc->v->workspace_bytes(state) : 0;
      bc->v->destroy(state);
      if (avail == 0 || need <= avail / 100 * 85) break;
      s = SMX_ERR_NOMEM;
    }
    if (s != SMX_ERR_NOMEM) return s;
    if (si < 0 || bc->cfg.v[si] <= 1) {
      if (op->param_bytes)
        return smx_fail(SMX_ERR_NOMEM, "does not fit in %s memory (%zu MiB free; %zu MiB needed, %.0f MiB of it parameters)",
                        smx_device_name(bc->v->device), avail >> 20, need >> 20, op->param_bytes(&bc->cfg) / (1 << 20));
      return smx_fail(SMX_ERR_NOMEM, "does not fit in %s memory (%zu MiB free)", smx_device_name(bc->v->device),
                      avail >> 20);
    }
    bc->cfg.v[si] /= 2;
  }
  if (si >= 0 && bc->cfg.v[si] != original)
    snprintf(bc->note, sizeof bc->note, "%s reduced from %" PRId64 " to %" PRId64 " to fit device memory",
             op->shrink_param, original, bc->cfg.v[si]);
  return SMX_OK;
}

/* The yardstick a variant is timed against in ratio mode: the op's library baseline on the same
 * device (its forward), else the reference when it is affordable; never the variant itself. */
static const smx_variant *ratio_partner(const smx_op *op, const smx_variant *v, const smx_config *c) {
  const smx_variant *ref = NULL;
  for (int i = 0; i < smx_variant_count(op); i++) {
    const smx_variant *p = smx_variant_at(op, i);
    if (p == v || smx_variant_skip_reason(p, c)) continue;
    if (p->baseline && p->device == v->device) return p;
    if (!strcmp(p->name, "reference")) ref = p;
  }
  if (ref && op->reference_cost && op->reference_cost(c, SMX_FWD) > reference_max_macs) ref = NULL;
  return ref;
}

static int op_listed(const char *list, const char *name);

static smx_status add_cases(case_list *l, const smx_bench_options *o, const smx_op *op, const char *spec,
                            const smx_hardware *hw, const smx_peaks *peaks) {
  smx_config cfg;
  smx_status s = smx_config_parse(op, spec, &cfg);
  if (s != SMX_OK) return s;
  for (int vi = 0; vi < smx_variant_count(op); vi++) {
    const smx_variant *v = smx_variant_at(op, vi);
    if (o->variant && !op_listed(o->variant, v->name)) continue;
    if (o->devices && !(o->devices & (1u << v->device))) continue;
    for (int pi = 0; pi < 2; pi++) {
      smx_pass p = (smx_pass)pi;
      if (!(v->passes & SMX_PASS_BIT(p))) continue;
      bench_case *bc = push_case(l);
      if (!bc) return smx_fail(SMX_ERR_NOMEM, "cannot allocate benchmark cases");
      bc->cfg = cfg;
      bc->v = v;
      bc->pass = p;
      bc->hw = hw;
      bc->peaks = peaks;
      if (o->ratio) bc->partner = ratio_partner(op, v, &cfg);
      const char *why = smx_variant_skip_reason(v, &cfg);
      if (why) snprintf(bc->skip, sizeof bc->skip, "%s", why);
      else if (strcmp(v->name, "reference") == 0 && op->reference_cost && op->reference_cost(&cfg, p) > reference_max_macs)
        snprintf(bc->skip, sizeof bc->skip, "reference left out: %.3g multiply-adds (limit %.3g%s)",
                 op->reference_cost(&cfg, p), reference_max_macs,
                 reference_max_macs < REFERENCE_MAX_MACS ? " in the quick suite; --variant reference times it" : "");
      else if (o->ratio && !bc->partner && !v->baseline && strcmp(v->name, "reference"))
        snprintf(bc->skip, sizeof bc->skip, "ratio mode: no library baseline or affordable reference to pair with");
      else if (o->ratio && (v->baseline || !strcmp(v->name, "reference")))
        snprintf(bc->skip, sizeof bc->skip, "ratio mode: %s is a yardstick, not a subject",
                 v->baseline ? "a library baseline" : "the reference");
      else if (fit_in_memory(bc) != SMX_OK)
        snprintf(bc->skip, sizeof bc->skip, "%s", smx_last_error());
      smx_config_format(&bc->cfg, bc->shape, sizeof bc->shape);
      snprintf(bc->name, sizeof bc->name, "%s/%s/%s/%s", op->name, v->name, smx_pass_name(p), bc->shape);
    }
  }
  return SMX_OK;
}

/* ---------------------------------------------------------------------------------------------
 * bench.json */

static double unit_seconds(const char *u) {
  if (!u) return 1e-9;
  if (strcmp(u, "ns") == 0) return 1e-9;
  if (strcmp(u, "us") == 0) return 1e-6;
  if (strcmp(u, "ms") == 0) return 1e-3;
  return 1.0;
}

static json_t *case_json(const bench_case *bc) {
  json_t *params = json_object();
  for (int i = 0; i < bc->cfg.op->n_params; i++)
    if (smx_config_param_shown(&bc->cfg, i))
      json_object_set_new(params, bc->cfg.op->params[i].name, json_integer(bc->cfg.v[i]));
  json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:o, s:f, s:f, s:s}", "name", bc->name, "op",
                   bc->cfg.op->name, "variant", bc->v->name, "device", smx_device_name(bc->v->device), "dtype",
                   smx_dtype_name(bc->v->dtype), "baseline", bc->v->baseline, "pass", smx_pass_name(bc->pass), "shape", bc->shape, "params", params, "flops",
                   bc->cfg.op->flops(&bc->cfg, bc->pass), "bytes", case_bytes(bc), "note",
                   bc->note);
  if (j && bc->cfg.op->param_bytes) json_object_set_new(j, "param_bytes", json_real(bc->cfg.op->param_bytes(&bc->cfg)));
  return j;
}

/* Google Benchmark writes non-finite numbers as bare NaN / inf tokens (e.g. the cv aggregate of a
 * counter that is 0 in every repetition), which is not JSON. Outside strings they become null. */
static char *nonfinite_to_null(const char *text) {
  static const char *const tokens[] = {"-Infinity", "Infinity", "-nan", "-NaN", "NaN", "nan", "-inf", "inf", NULL};
  char *out = malloc(2 * strlen(text) + 1), *o = out; /* "inf" -> "null" grows by at most 1/3 */
  if (!out) return NULL;
  int in_string = 0;
  for (const char *p = text; *p; p++) {
    if (in_string) {
      if (*p == '\\' && p[1]) *o++ = *p++;
      else if (*p == '"') in_string = 0;
      *o++ = *p;
      continue;
    }
    if (*p == '"') in_string = 1;
    int replaced = 0;
    for (int k = 0; tokens[k] && !in_string; k++) {
      size_t n = strlen(tokens[k]);
      if (strncmp(p, tokens[k], n) == 0) {
        memcpy(o, "null", 4);
        o += 4;
        p += n - 1;
        replaced = 1;
        break;
      }
    }
    if (!replaced) *o++ = *p;
  }
  *o = 0;
  return out;
}

static json_t *load_gbench(const char *path, json_error_t *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err->text, sizeof err->text, "%s", strerror(errno));
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
  size_t got = text ? fread(text, 1, (size_t)n, f) : 0;
  fclose(f);
  if (!text) {
    snprintf(err->text, sizeof err->text, "out of memory");
    return NULL;
  }
  text[got] = 0;
  char *clean = nonfinite_to_null(text);
  free(text);
  if (!clean) {
    snprintf(err->text, sizeof err->text, "out of memory");
    return NULL;
  }
  json_t *j = json_loads(clean, 0, err);
  free(clean);
  return j;
}

/* Folds the per-repetition entries of gbench.json into each case's entry. */
static smx_status write_bench_json(const smx_bench_options *o, const case_list *l, const int *family_of,
                                   const smx_hardware *hw, const smx_peaks *peaks, const char *gbench_path,
                                   const char *out_path, int *n_failed) {
  json_t *gb = NULL;
  if (gbench_path) {
    json_error_t err;
    gb = load_gbench(gbench_path, &err);
    if (!gb) return smx_fail(SMX_ERR_PARSE, "cannot read Google Benchmark output %s: %s", gbench_path, err.text);
  }
  json_t *entries = json_array();
  *n_failed = 0;
  for (int i = 0; i < l->n; i++) {
    const bench_case *bc = &l->items[i];
    json_t *e = case_json(bc);
    if (bc->skip[0]) {
      json_object_set_new(e, "status", json_string("skipped"));
      json_object_set_new(e, "reason", json_string(bc->skip));
      json_array_append_new(entries, e);
      continue;
    }
    double times[1024], ratios[1024];
    int nt = 0, nr = 0;
    json_t *iters = json_array(), *reps = json_array(), *rats = json_array();
    const char *error = NULL;
    json_t *last = NULL;
    size_t k;
    json_t *b;
    json_array_foreach(json_object_get(gb, "benchmarks"), k, b) {
      if (json_integer_value(json_object_get(b, "family_index")) != family_of[i]) continue;
      const char *rt = json_string_value(json_object_get(b, "run_type"));
      if (rt && strcmp(rt, "iteration") != 0) continue;
      if (json_is_true(json_object_get(b, "error_occurred"))) {
        error = json_string_value(json_object_get(b, "error_message"));
        continue;
      }
      /* ratio mode: the variant's own median iteration time (the manual time covers the pair) */
      json_t *vs = json_object_get(b, "variant_s");
      double t = json_is_number(vs) ? json_number_value(vs)
                                    : json_number_value(json_object_get(b, "real_time")) *
                                          unit_seconds(json_string_value(json_object_get(b, "time_unit")));
      if (nt < 1024) times[nt++] = t;
      json_array_append_new(reps, json_real(t));
      json_t *ratio = json_object_get(b, "ratio");
      if (json_is_number(ratio) && nr < 1024) {
        ratios[nr++] = json_number_value(ratio);
        json_array_append_new(rats, json_real(json_number_value(ratio)));
      }
      json_array_append_new(iters, json_integer(json_integer_value(json_object_get(b, "iterations"))));
      last = b;
    }
    if (error || nt == 0) {
      json_object_set_new(e, "status", json_string("error"));
      json_object_set_new(e, "reason", json_string(error ? error : "no result from Google Benchmark"));
      json_decref(iters);
      json_decref(reps);
      json_decref(rats);
      json_array_append_new(entries, e);
      (*n_failed)++;
      continue;
    }
    double median = smx_median(times, (size_t)nt), min = times[0];
    for (int j = 1; j < nt; j++) min = fmin(min, times[j]);
    double mean = 0, var = 0;
    for (int j = 0; j < nt; j++) mean += times[j];
    mean /= nt;
    for (int j = 0; j < nt; j++) var += (times[j] - mean) * (times[j] - mean);
    double stddev = nt > 1 ? sqrt(var / (nt - 1)) : 0;
    int gpu = bc->v->device == SMX_DEV_CUDA;
    double flops = bc->cfg.op->flops(&bc->cfg, bc->pass), bytes = case_bytes(bc);
    double pf = gpu ? peaks->gpu_flops : peaks->cpu_flops, pb = gpu ? peaks->gpu_bytes_per_s : peaks->cpu_bytes_per_s;
    json_object_set_new(e, "status", json_string("ok"));
    json_object_set_new(e, "times_s", reps);
    json_object_set_new(e, "iterations", iters);
    json_object_set_new(e, "median_s", json_real(median));
    json_object_set_new(e, "mean_s", json_real(mean));
    json_object_set_new(e, "min_s", json_real(min));
    if (bc->partner && nr > 0) {
      json_object_set_new(e, "ratio_partner", json_string(bc->partner->name));
      json_object_set_new(e, "ratios", rats);
      json_object_set_new(e, "ratio_median", json_real(smx_median(ratios, (size_t)nr)));
    } else {
      json_decref(rats);
    }
    json_object_set_new(e, "stddev_s", json_real(stddev));
    json_object_set_new(e, "cv", json_real(mean > 0 ? stddev / mean : 0));
    json_object_set_new(e, "flop_per_s", json_real(flops / median));
    json_object_set_new(e, "bytes_per_s", json_real(bytes / median));
    json_object_set_new(e, "pct_peak_flops", json_real(pf > 0 ? 100 * flops / median / pf : 0));
    json_object_set_new(e, "pct_peak_bw", json_real(pb > 0 ? 100 * bytes / median / pb : 0));
    json_object_set_new(e, "workspace_bytes", json_integer((json_int_t)json_number_value(json_object_get(last, "workspace_bytes"))));
    json_t *clk = json_object_get(last, "sm_clock_mhz");
    if (clk) {
      json_object_set_new(e, "sm_clock_mhz", json_real(json_number_value(clk)));
      json_object_set_new(e, "throttle_reasons", json_real(json_number_value(json_object_get(last, "throttle_reasons"))));
    }
    json_array_append_new(entries, e);
  }
  json_t *doc = smx_json_new_doc("bench");
  json_object_set_new(doc, "run_id", json_string(o->run_id ? o->run_id : ""));
  json_object_set_new(doc, "suite", json_string(smx_suite_name(o->suite)));
  json_object_set_new(doc, "mode", json_string(o->ratio ? "ratio" : "time"));
  json_object_set_new(doc, "gate_min_change", json_real(smx_gate_min_change(o->suite)));
#ifdef SMX_TEST_SLOWDOWN
  json_object_set_new(doc, "test_slowdown", json_string(SMX_TEST_SLOWDOWN));
#endif
  json_object_set_new(doc, "repetitions", json_integer(o->repetitions));
  json_object_set_new(doc, "min_time_s", json_real(o->min_time));
  json_object_set_new(doc, "hardware", smx_hardware_to_json(hw));
  json_object_set_new(doc, "peaks", json_pack("{s:f, s:f, s:f, s:f}", "cpu_flops", peaks->cpu_flops, "cpu_bytes_per_s",
                                              peaks->cpu_bytes_per_s, "gpu_flops", peaks->gpu_flops, "gpu_bytes_per_s",
                                              peaks->gpu_bytes_per_s));
  json_object_set_new(doc, "reference_max_macs", json_real(reference_max_macs));
  json_object_set(doc, "gbench_context", gb ? json_object_get(gb, "context") : json_null());
  json_object_set_new(doc, "benchmarks", entries);
  smx_status s = smx_json_write_atomic(out_path, doc);
  json_decref(doc);
  json_decref(gb);
  return s;
}

/* ---------------------------------------------------------------------------------------------
 * The run */

void smx_bench_defaults(smx_suite suite, int *repetitions, double *min_time) {
  static const int reps[SMX_SUITE_COUNT] = {5, 5, 5};
  static const double min_s[SMX_SUITE_COUNT] = {0.02, 0.1, 0.2};
  int i = (unsigned)suite < SMX_SUITE_COUNT ? (int)suite : 1;
  *repetitions = reps[i];
  *min_time = min_s[i];
}

double smx_gate_min_change(smx_suite suite) {
  /* ci runs on shared 2-core VMs, where the ratio of a variant to its yardstick shifts by up to
   * ~30% between processes (measured: docs/gating.md) while staying tight within one run; quick
   * is the CPU preset a person runs on a quieter machine; paper is for dedicated GPUs. */
  static const double m[SMX_SUITE_COUNT] = {0.40, 0.10, 0.05};
  return (unsigned)suite < SMX_SUITE_COUNT ? m[suite] : 0.05;
}

/* --op and --variant take one name or a comma-separated list: ops whose speedups are ratios of
 * one run ("moe,cdmoe,moe_router,cdmoe_router"), variants without the slow reference
 * ("cpu.loop,cpu.grouped,cpu.pk,cpu.dense"). */
static int op_listed(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    size_t len = strcspn(p, ",");
    if (len == n && !strncmp(p, name, n)) return 1;
    p += len + (p[len] == ',');
  }
  return 0;
}

/* The --op / --variant filters when either is a list: every op named exists, --shape goes with a
 * single op, and every variant named exists in some op in scope (all ops without --op). */
static smx_status check_lists(const smx_bench_options *o) {
  if (o->op && strchr(o->op, ',') && o->shape)
    return smx_fail(SMX_ERR_INVALID, "--shape needs a single --op (shapes are per op), not the list '%s'", o->op);
  for (const char *p = o->op ? o->op : ""; *p;) {
    size_t len = strcspn(p, ",");
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
    const smx_op *op;
    smx_status s = smx_op_lookup(name, &op);
    if (s != SMX_OK) return s;
    p += len + (p[len] == ',');
  }
  for (const char *p = o->variant ? o->variant : ""; *p;) {
    size_t len = strcspn(p, ",");
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
    int found = 0;
    for (int i = 0; i < smx_op_count() && !found; i++)
      found = (!o->op || op_listed(o->op, smx_op_at(i)->name)) && smx_variant_find(smx_op_at(i), name);
    if (!found)
      return smx_fail(SMX_ERR_INVALID, "no op in '%s' has a variant '%s' (see seqmix list)", o->op ? o->op : "the registry",
                      name);
    p += len + (p[len] == ',');
  }
  return SMX_OK;
}

smx_status smx_bench_run(const smx_bench_options *o, int *n_ran, int *n_failed) {
  *n_ran = *n_failed = 0;
  reference_max_macs = o->suite == SMX_SUITE_QUICK && !o->variant ? REFERENCE_MAX_MACS_QUICK : REFERENCE_MAX_MACS;
  if (o->repetitions < 1 || o->repetitions > 1000)
    return smx_fail(SMX_ERR_INVALID, "--repetitions %d is out of range (accepted: 1..1000)", o->repetitions);
  if (!(o->min_time > 0 && o->min_time <= 60))
    return smx_fail(SMX_ERR_INVALID, "--min-time %g is out of range (accepted: >0 .. 60 seconds)", o->min_time);
  const smx_op *only = NULL;
  int op_list = o->op && strchr(o->op, ',');
  smx_status s = op_list || (o->variant && strchr(o->variant, ','))
                     ? check_lists(o)
                     : smx_resolve_filters(o->op, o->variant, o->shape, &only);
  if (s == SMX_OK && !op_list && !only) s = smx_resolve_filters(o->op, NULL, o->shape, &only);
  if (s != SMX_OK) return s;
  if ((s = smx_mkdir_p(o->out_dir)) != SMX_OK) return s;

  smx_hardware hw;
  if ((s = smx_hardware_probe(&hw)) != SMX_OK) return s;
  int want_gpu = hw.gpu_count > 0 && (o->devices == 0 || (o->devices & (1u << SMX_DEV_CUDA)));
  smx_peaks peaks;
  fprintf(stderr, "seqmix bench: measuring peaks (sgemm, copy)%s...\n", want_gpu ? " on CPU and GPU" : " on the CPU");
  if ((s = smx_calibrate(want_gpu, &peaks)) != SMX_OK) return s;
  fprintf(stderr, "seqmix bench: CPU %.1f GFLOP/s sgemm, %.1f GB/s copy", peaks.cpu_flops * 1e-9,
          peaks.cpu_bytes_per_s * 1e-9);
  if (want_gpu)
    fprintf(stderr, "; GPU %.1f TFLOP/s sgemm, %.0f GB/s copy", peaks.gpu_flops * 1e-12, peaks.gpu_bytes_per_s * 1e-9);
  fprintf(stderr, "\n");

  case_list l = {0};
  for (int i = 0; i < smx_op_count() && s == SMX_OK; i++) {
    const smx_op *op = smx_op_at(i);
    if ((only && op != only) || (op_list && !op_listed(o->op, op->name))) continue;
    if (o->shape) {
      s = add_cases(&l, o, op, o->shape, &hw, &peaks);
    } else {
      for (const char *const *sp = op->suite_shapes[o->suite]; sp && *sp && s == SMX_OK; sp++)
        s = add_cases(&l, o, op, *sp, &hw, &peaks);
    }
  }
  int *family_of = calloc((size_t)(l.n ? l.n : 1), sizeof(int));
  if (s == SMX_OK && !family_of) s = smx_fail(SMX_ERR_NOMEM, "cannot allocate benchmark cases");
  if (s != SMX_OK) {
    free(l.items);
    free(family_of);
    return s;
  }

  bench_clear();
  int families = 0;
  for (int i = 0; i < l.n; i++) {
    bench_case *bc = &l.items[i];
    family_of[i] = -1;
    if (bc->skip[0]) {
      fprintf(stderr, "seqmix bench: skip %s: %s\n", bc->name, bc->skip);
      continue;
    }
    bench_bm *b = bench_register(bc->name, bm_case, bc);
    bench_unit(bench_use_manual_time(b), BENCH_US);
    const smx_op *op = bc->cfg.op;
    if (!strcmp(bc->v->name, "reference") && op->reference_cost && o->repetitions > 3 &&
        op->reference_cost(&bc->cfg, bc->pass) > REFERENCE_FEW_REPS_MACS)
      bench_repetitions(b, 3);
    family_of[i] = families++;
  }

  char gbench_path[4200], bench_path[4200];
  snprintf(gbench_path, sizeof gbench_path, "%s/gbench.json", o->out_dir);
  snprintf(bench_path, sizeof bench_path, "%s/bench.json", o->out_dir);
  if (families > 0) {
    char json_ctx[512];
    snprintf(json_ctx, sizeof json_ctx, "%d", SMX_SCHEMA_VERSION);
    bench_add_context("seqmix_schema_version", json_ctx);
    bench_add_context("hardware_id", hw.hardware_id);
    bench_add_context("git_revision", hw.git_revision);
    bench_add_context("cpu_model", hw.cpu_model);
    if (hw.gpu_count > 0) bench_add_context("gpu", hw.gpus[0].name);
    snprintf(json_ctx, sizeof json_ctx, "%d", hw.threads_used);
    bench_add_context("threads_used", json_ctx);
    char a_out[4300], a_reps[64], a_min[64];
    snprintf(a_out, sizeof a_out, "--benchmark_out=%s", gbench_path);
    snprintf(a_reps, sizeof a_reps, "--benchmark_repetitions=%d", o->repetitions);
    snprintf(a_min, sizeof a_min, "--benchmark_min_time=%g", o->min_time);
    char *argv[] = {"seqmix-bench", a_out, "--benchmark_out_format=json", a_reps, a_min,
                    "--benchmark_counters_tabular=true", NULL};
    int argc = 6;
    fflush(stdout);
    if (bench_main(argc, argv) != 0) s = smx_fail(SMX_ERR_INVALID, "Google Benchmark rejected its arguments");
    fflush(stdout);
  }
  if (s == SMX_OK)
    s = write_bench_json(o, &l, family_of, &hw, &peaks, families > 0 ? gbench_path : NULL, bench_path, n_failed);
  *n_ran = families;
  free(l.items);
  free(family_of);
  return s;
}
