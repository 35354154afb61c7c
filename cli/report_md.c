/* The Markdown report of a run: hardware, measured peaks, correctness table, benchmark table with
 * speedups (ratios of times from the same run), the task sweeps' scores and figures (--sweep), the
 * claims, and the plots. Written atomically to <run>/report.md by `seqmix report` and at the end of
 * `seqmix suite`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "cli.h"
#include "results.h"
#include "seqmix/json_io.h"
#include "seqmix/op.h"
#include "seqmix/sweep_score.h"
#include "seqmix/tasks.h"
#include "sweep_plot.h"

static void fmt_time(double s, char *b, size_t n) {
  if (s >= 1) snprintf(b, n, "%.3f s", s);
  else if (s >= 1e-3) snprintf(b, n, "%.3f ms", s * 1e3);
  else snprintf(b, n, "%.2f us", s * 1e6);
}

static void fmt_si(double v, const char *unit, char *b, size_t n) {
  const char *p[] = {"", "k", "M", "G", "T", "P"};
  int i = 0;
  while (fabs(v) >= 1000 && i < 5) {
    v /= 1000;
    i++;
  }
  snprintf(b, n, "%.3g %s%s", v, p[i], unit);
}

static void hardware_section(FILE *f, json_t *hw, json_t *bench) {
  fprintf(f, "## Hardware\n\n| | |\n|---|---|\n");
  fprintf(f, "| hardware id | `%s` |\n", S(hw, "hardware_id"));
  fprintf(f, "| CPU | %s, %d logical cores, %d threads used |\n", S(hw, "cpu_model"),
          (int)json_integer_value(json_object_get(hw, "cpu_cores")),
          (int)json_integer_value(json_object_get(hw, "threads_used")));
  fprintf(f, "| memory | %.1f GiB |\n", N(hw, "memory_bytes") / (1 << 30));
  json_t *gpus = json_object_get(hw, "gpus");
  if (json_array_size(gpus) == 0) fprintf(f, "| GPU | none usable: %s |\n", S(hw, "gpu_unavailable"));
  size_t i;
  json_t *g;
  json_array_foreach(gpus, i, g) {
    fprintf(f, "| GPU %zu | %s (sm_%s), %d SMs, %.1f GiB, %d MHz SM clock, driver %d, CUDA runtime %d, cuBLAS %d, cuFFT %d |\n",
            i, S(g, "name"), S(g, "compute_capability"), (int)json_integer_value(json_object_get(g, "sm_count")),
            N(g, "memory_bytes") / (1 << 30), (int)json_integer_value(json_object_get(g, "sm_clock_khz")) / 1000,
            (int)json_integer_value(json_object_get(g, "driver_version")),
            (int)json_integer_value(json_object_get(g, "runtime_version")),
            (int)json_integer_value(json_object_get(g, "cublas_version")),
            (int)json_integer_value(json_object_get(g, "cufft_version")));
  }
  json_t *libs = json_object_get(hw, "libraries");
  fprintf(f, "| libraries | FFTW %s; OpenBLAS %s; jansson %s; Google Benchmark %s |\n", S(libs, "fftw"),
          S(libs, "openblas"), S(libs, "jansson"), S(libs, "google_benchmark"));
  fprintf(f, "| seqmix | %s, git `%s`, %s build |\n", S(hw, "seqmix_version"), S(hw, "git_revision"), S(hw, "build_type"));
  if (bench) {
    json_t *pk = json_object_get(bench, "peaks");
    char a[32], b[32];
    fmt_si(N(pk, "cpu_flops"), "FLOP/s", a, sizeof a);
    fmt_si(N(pk, "cpu_bytes_per_s"), "B/s", b, sizeof b);
    fprintf(f, "| measured CPU peaks | %s (OpenBLAS sgemm n=2048), %s (parallel memcpy, read + write) |\n", a, b);
    if (N(pk, "gpu_flops") > 0) {
      fmt_si(N(pk, "gpu_flops"), "FLOP/s", a, sizeof a);
      fmt_si(N(pk, "gpu_bytes_per_s"), "B/s", b, sizeof b);
      fprintf(f, "| measured GPU peaks | %s (cuBLAS sgemm n=8192, no TF32), %s (device-to-device copy) |\n", a, b);
    }
    fprintf(f, "| benchmark settings | suite `%s`, %d repetitions, min time %.3g s per repetition; CPU timings hot-cache, "
               "GPU timings cold-L2 |\n",
            S(bench, "suite"), (int)json_integer_value(json_object_get(bench, "repetitions")), N(bench, "min_time_s"));
  }
  fprintf(f, "\n");
}

static void correctness_section(FILE *f, json_t *check) {
  fprintf(f, "## Correctness\n\n");
  if (!check) {
    fprintf(f, "No check results in this run (`seqmix check --out <run>/check.json`).\n\n");
    return;
  }
  json_t *sum = json_object_get(check, "summary");
  fprintf(f, "Every variant against the fp64 reference, forward and backward, seed %lld. Rule per output tensor: "
             "err ≤ k·err(naive fp32) + c·ε·max|ref| (k, c per tensor in the op's tolerance data), plus NaN/Inf, "
             "canaries, unchanged inputs and bitwise repeatability on the CPU. The cells give the worst err/bound "
             "over the shapes (≤ 1 passes).\n\n",
          (long long)json_integer_value(json_object_get(check, "seed")));
  fprintf(f, "**%d passed, %d failed, %d skipped**; reference backward vs finite differences: %d shapes, %d failed.\n\n",
          (int)json_integer_value(json_object_get(sum, "passed")), (int)json_integer_value(json_object_get(sum, "failed")),
          (int)json_integer_value(json_object_get(sum, "skipped")),
          (int)json_integer_value(json_object_get(sum, "fd_shapes")),
          (int)json_integer_value(json_object_get(sum, "fd_failed")));
  fprintf(f, "| op | variant | device | shapes passed | failed | skipped | worst err/bound fwd | worst err/bound bwd |\n");
  fprintf(f, "|---|---|---|---|---|---|---|---|\n");
  json_t *res = json_object_get(check, "results");
  /* aggregate per (op, variant) in order of first appearance */
  size_t i, j;
  json_t *e, *e2;
  json_array_foreach(res, i, e) {
    int first = 1;
    json_array_foreach(res, j, e2) {
      if (j >= i) break;
      if (!strcmp(S(e, "op"), S(e2, "op")) && !strcmp(S(e, "variant"), S(e2, "variant"))) first = 0;
    }
    if (!first) continue;
    int p = 0, fl = 0, sk = 0;
    double wf = 0, wb = 0;
    const char *skip_reason = NULL;
    json_array_foreach(res, j, e2) {
      if (strcmp(S(e, "op"), S(e2, "op")) || strcmp(S(e, "variant"), S(e2, "variant"))) continue;
      const char *v = S(e2, "verdict");
      p += !strcmp(v, "pass");
      fl += !strcmp(v, "FAIL");
      if (!strcmp(v, "skip")) {
        sk++;
        skip_reason = S(e2, "reason");
      }
      size_t k;
      json_t *row;
      json_array_foreach(json_object_get(e2, "rows"), k, row) {
        double bound = N(row, "bound"), err = N(row, "err");
        double r = bound > 0 ? err / bound : (err > 0 ? INFINITY : 0);
        if (json_integer_value(json_object_get(row, "nonfinite")) > 0) r = INFINITY;
        if (!strcmp(S(row, "pass"), "fwd")) wf = fmax(wf, r);
        else wb = fmax(wb, r);
      }
    }
    fprintf(f, "| %s | %s | %s | %d | %d | %d | %.3g | %.3g |\n", S(e, "op"), S(e, "variant"), S(e, "device"), p, fl, sk,
            wf, wb);
    if (skip_reason && !p && !fl) fprintf(f, "| | ↳ skipped: %s | | | | | | |\n", skip_reason);
  }
  fprintf(f, "\n");
  json_array_foreach(res, i, e) {
    if (strcmp(S(e, "verdict"), "FAIL") == 0)
      fprintf(f, "- **FAIL** %s %s at %s: %s\n", S(e, "op"), S(e, "variant"), S(e, "shape"), S(e, "reason"));
  }
  fprintf(f, "\n");
}

/* The time of `variant` at the same op/pass/shape, or NAN. */
static double time_of(json_t *list, json_t *e, const char *variant) {
  size_t i;
  json_t *o;
  json_array_foreach(list, i, o) {
    if (!strcmp(S(o, "op"), S(e, "op")) && !strcmp(S(o, "pass"), S(e, "pass")) && !strcmp(S(o, "shape"), S(e, "shape")) &&
        !strcmp(S(o, "variant"), variant) && !strcmp(S(o, "status"), "ok"))
      return N(o, "median_s");
  }
  return NAN;
}

/* The library baseline (flag "baseline") or the peer (flag "peer") measured on the same device at
 * the same op/pass/shape, or NULL; one of the same dtype first (a bf16 variant against the bf16
 * peer, when the run has one). */
static json_t *same_case(json_t *list, json_t *e, const char *flag) {
  json_t *any = NULL;
  size_t i;
  json_t *o;
  json_array_foreach(list, i, o) {
    if (json_is_true(json_object_get(o, flag)) && !strcmp(S(o, "op"), S(e, "op")) &&
        !strcmp(S(o, "pass"), S(e, "pass")) && !strcmp(S(o, "shape"), S(e, "shape")) &&
        !strcmp(S(o, "device"), S(e, "device")) && !strcmp(S(o, "status"), "ok")) {
      if (!strcmp(S(o, "dtype"), S(e, "dtype"))) return o;
      if (!any) any = o;
    }
  }
  return any;
}

static void bench_section(FILE *f, json_t *bench) {
  fprintf(f, "## Benchmarks\n\n");
  if (!bench) {
    fprintf(f, "No benchmark results in this run.\n\n");
    return;
  }
  json_t *list = json_object_get(bench, "benchmarks");
  fprintf(f, "Median of the repetitions; cv = their standard deviation / mean (a shared 2-core VM can show 10-50%%). FLOP/s and bytes/s count the op's useful work (the same for every variant; "
             "see the op's definition), so rates compare across variants. *vs reference* = t(reference)/t(variant); "
             "*vs baseline* = t(library round trip)/t(variant) on the same device (below 1: slower than the bare "
             "library floor, which does less work); *vs peer* = t(PyTorch)/t(variant) on the same device, where "
             "the run has PyTorch peers (peers.json: bench/peers/torch_peers.py, docs/peers.md).\n\n");
  fprintf(f, "| op | pass | shape | variant | median | cv | FLOP/s | bytes/s | %% peak BW | %% peak FLOP | vs reference | "
             "vs baseline | vs peer | workspace |\n");
  fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (strcmp(S(e, "status"), "ok") != 0) continue;
    char t[32], fl[32], by[32], ws[32] = "—", vr[32] = "—", vb[32] = "—", vp[48] = "—", pbw[16] = "—", pfl[16] = "—";
    fmt_time(N(e, "median_s"), t, sizeof t);
    int base = json_is_true(json_object_get(e, "baseline"));
    if (base) {
      snprintf(fl, sizeof fl, "—");
      snprintf(by, sizeof by, "—");
    } else {
      fmt_si(N(e, "flop_per_s"), "FLOP/s", fl, sizeof fl);
      fmt_si(N(e, "bytes_per_s"), "B/s", by, sizeof by);
      snprintf(pbw, sizeof pbw, "%.1f", N(e, "pct_peak_bw"));
      snprintf(pfl, sizeof pfl, "%.1f", N(e, "pct_peak_flops"));
    }
    /* a CPU peer's workspace is not measured: absent, not zero */
    if (json_is_number(json_object_get(e, "workspace_bytes"))) fmt_si(N(e, "workspace_bytes"), "B", ws, sizeof ws);
    double me = N(e, "median_s");
    int peer = json_is_true(json_object_get(e, "peer"));
    if (!base && !peer && strcmp(S(e, "variant"), "reference") != 0) {
      double tr = time_of(list, e, "reference");
      if (isfinite(tr)) snprintf(vr, sizeof vr, "%.2f×", tr / me);
      json_t *bl = same_case(list, e, "baseline");
      if (bl) snprintf(vb, sizeof vb, "%.2f× (%s)", N(bl, "median_s") / me, S(bl, "variant"));
      json_t *pe = same_case(list, e, "peer");
      if (pe) snprintf(vp, sizeof vp, "%.2f× (%s)", N(pe, "median_s") / me, S(pe, "variant"));
    }
    fprintf(f, "| %s | %s | %s | %s%s | %s | %.0f%% | %s | %s | %s | %s | %s | %s | %s | %s |\n", S(e, "op"), S(e, "pass"),
            S(e, "shape"), S(e, "variant"), base ? " (baseline)" : peer ? " (peer)" : "", t, 100 * N(e, "cv"), fl, by, pbw,
            pfl, vr, vb, vp, ws);
  }
  fprintf(f, "\n");
  int skipped = 0;
  json_array_foreach(list, i, e) {
    if (!strcmp(S(e, "status"), "ok")) continue;
    if (!skipped++) fprintf(f, "Not measured:\n\n");
    fprintf(f, "- %s %s %s %s — %s: %s\n", S(e, "op"), S(e, "variant"), S(e, "pass"), S(e, "shape"), S(e, "status"),
            S(e, "reason"));
  }
  json_array_foreach(list, i, e) {
    if (S(e, "note")[0]) fprintf(f, "- note: %s %s %s: %s\n", S(e, "op"), S(e, "variant"), S(e, "shape"), S(e, "note"));
  }
  json_t *peer = json_object_get(bench, "peer");
  if (peer) {
    fprintf(f, "- peers: %s %s on %s (%s, %lld threads)", S(peer, "name"), S(peer, "version"), S(peer, "device"),
            S(peer, "device_name"), (long long)json_integer_value(json_object_get(peer, "threads")));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(peer, "what"), k, v) fprintf(f, "; `%s` = %s", k, json_string_value(v) ?: "");
    fprintf(f, "\n");
  }
  if (!strcmp(S(bench, "suite"), "paper"))
    for (int k = 0; k < smx_op_count(); k++)
      if (smx_op_at(k)->paper_note) fprintf(f, "- %s paper suite: %s\n", smx_op_at(k)->name, smx_op_at(k)->paper_note);
  fprintf(f, "\n");
}

/* The task sweeps' section: the score table, H3 Table 2, and the sweep figures (drawn into
 * <run>/plots/sweep). */
static smx_status sweep_section(FILE *f, const char *run_dir, const char *list, const smx_sweep_scores *sc) {
  fprintf(f, "## Task sweeps\n\n%zu finished runs from `%s` (hardware: %s), in %zu groups. A run's score is its test "
             "accuracy at the last epoch it ran; per group (config less lr and seed) the learning rate with the best "
             "mean over seeds, as mean ± sd [min, max] over its seeds and their count (docs/sweeps.md).\n\n",
          sc->runs, list, sc->hardware[0] ? sc->hardware : "unknown", sc->n);
  smx_sweep_scores_md(f, sc);
  fprintf(f, "\n");
  char dir[4200], h3[800];
  snprintf(dir, sizeof dir, "%s/plots/sweep", run_dir);
  sweep_figure figs[SWEEP_MAX_FIGURES];
  int nf = 0, no_gnuplot = 0;
  char lra_md[800];
  smx_status st = sweep_plots(sc, dir, 0, figs, &nf, h3, sizeof h3, lra_md, sizeof lra_md, &no_gnuplot);
  if (st != SMX_OK) return st;
  if (h3[0]) {
    fprintf(f, "### H3 Table 2\n\n");
    sweep_h3_table(f, sc);
    fprintf(f, "\n");
  }
  char *lra = NULL; /* LRA's Table 1 when the sweep holds an LRA task */
  size_t lra_len = 0;
  FILE *lf = open_memstream(&lra, &lra_len);
  if (!lf) return smx_fail(SMX_ERR_NOMEM, "cannot write the LRA table");
  int lra_rows = sweep_lra_table(lf, sc);
  fclose(lf);
  if (lra_rows) fprintf(f, "### Long Range Arena\n\n%s\n", lra);
  free(lra);
  for (int i = 0; i < nf; i++) {
    const char *script = figs[i].script + strlen(run_dir) + 1;
    if (figs[i].png[0])
      fprintf(f, "### %s\n\n![%s](%s)\n\n[SVG](%s) · data and gnuplot script: `%s`\n\n", figs[i].title, figs[i].name,
              figs[i].png + strlen(run_dir) + 1, figs[i].svg + strlen(run_dir) + 1, script);
    else fprintf(f, "### %s\n\ngnuplot is not installed: data and script in `%s`\n\n", figs[i].title, script);
  }
  return SMX_OK;
}

/* The file-backed tasks (real LRA data, the byte corpus): whether this machine has their data
 * (data= is not given here, so $SEQMIX_DATA decides). */
static void data_tasks_section(FILE *f) {
  fprintf(f, "## Real-data tasks\n\nRead from the user's copy of the data in `$SEQMIX_DATA` (docs/tasks.md, \"Real LRA data "
             "and the byte corpus\"); train one with `seqmix task train --task NAME` or a sweep spec.\n\n"
             "| task | expects | status |\n|---|---|---|\n");
  for (int i = 0; i < smx_task_count(); i++) {
    const smx_task *t = smx_task_at(i);
    smx_task_config c;
    if (!t->data_layout || smx_task_config_parse(t, NULL, &c) != SMX_OK) continue;
    fprintf(f, "| %s | `$SEQMIX_DATA/%s`: %s | %s |\n", t->name, t->data_subdir, t->data_layout,
            smx_task_data_present(&c) ? "present" : "data not present");
  }
  fprintf(f, "\n");
}

/* The run's long-context efficiency (efficiency.json and the tables of efficiency.md, which
 * `seqmix task efficiency --out --md --plots` writes; the suite runs it): the tables, then the
 * figures in plots/efficiency when drawn. */
/* The whole of a small text file, NUL-terminated (caller frees); NULL when it cannot be read. */
static char *read_text(const char *path) {
  FILE *in = fopen(path, "rb");
  if (!in) return NULL;
  char *text = NULL;
  size_t len = 0, cap = 0, got;
  char buf[8192];
  while ((got = fread(buf, 1, sizeof buf, in)) > 0) {
    if (len + got + 1 > cap) {
      char *t = realloc(text, cap = 2 * (len + got + 1));
      if (!t) break;
      text = t;
    }
    memcpy(text + len, buf, got);
    len += got;
  }
  int bad = ferror(in);
  fclose(in);
  if (bad || !text) {
    free(text);
    return NULL;
  }
  text[len] = 0;
  return text;
}

static void efficiency_section(FILE *f, const char *run_dir, json_t *eff) {
  char path[4200];
  fprintf(f, "## Long-context efficiency\n\n");
  snprintf(path, sizeof path, "%s/efficiency.md", run_dir);
  char *text = read_text(path);
  if (text) {
    const char *body = strchr(text, '\n'); /* below the document's own title */
    fprintf(f, "From `efficiency.json` (`seqmix task efficiency`, docs/task_runner.md#long-context-efficiency).%s\n\n",
            body ? body : "");
    free(text);
  } else {
    fprintf(f, "`efficiency.json` is here but not its tables (`efficiency.md`): %zu architectures measured.\n\n",
            json_array_size(json_object_get(eff, "architectures")));
  }
  static const char *const fig[3][2] = {{"prefill", "Prefill tokens/s"}, {"decode", "Decode tokens/s"},
                                        {"state", "KV cache and state per sequence"}};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/plots/efficiency/efficiency_%s.png", run_dir, fig[i][0]);
    if (smx_file_exists(path))
      fprintf(f, "### %s\n\n![%s](plots/efficiency/efficiency_%s.png)\n\n[SVG](plots/efficiency/efficiency_%s.svg)\n\n",
              fig[i][1], fig[i][0], fig[i][0], fig[i][0]);
  }
}

int run_report(const char *run_dir, char *path_out, size_t n) { return run_report_sweep(run_dir, NULL, path_out, n); }

int run_report_sweep(const char *run_dir, const char *sweeps, char *path_out, size_t n) {
  json_t *check = NULL, *bench = NULL;
  char path[4200];
  smx_status s;
  smx_sweep_scores sc = {0};
  if (sweeps && (s = sweep_scores_load(sweeps, &sc)) != SMX_OK) return cli_fail(s);
  snprintf(path, sizeof path, "%s/check.json", run_dir);
  if (smx_file_exists(path) && (s = load_check(run_dir, &check)) != SMX_OK) {
    smx_sweep_scores_free(&sc);
    return cli_fail(s);
  }
  snprintf(path, sizeof path, "%s/bench.json", run_dir);
  if (smx_file_exists(path) && (s = load_bench_peers(run_dir, &bench)) != SMX_OK) {
    json_decref(check);
    smx_sweep_scores_free(&sc);
    return cli_fail(s);
  }
  json_t *eff = NULL;
  snprintf(path, sizeof path, "%s/efficiency.json", run_dir);
  if (smx_file_exists(path) && (s = smx_json_read_doc(path, "efficiency", &eff)) != SMX_OK) {
    json_decref(check);
    json_decref(bench);
    smx_sweep_scores_free(&sc);
    return cli_fail(s);
  }
  if (!check && !bench && !sweeps && !eff)
    return cli_error("%s has neither check.json nor bench.json (is it a seqmix run directory?)", run_dir);
  if (!check && !bench && (s = smx_mkdir_p(run_dir)) != SMX_OK) {
    smx_sweep_scores_free(&sc);
    return cli_fail(s);
  }
  plot_file *plots = NULL;
  int np = 0;
  if (bench && (s = make_plots(run_dir, bench, &plots, &np)) != SMX_OK) {
    json_decref(check);
    json_decref(bench);
    smx_sweep_scores_free(&sc);
    return cli_fail(s);
  }
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  json_t *any = bench ? bench : check;
  json_t *hw = json_object_get(any, "hardware");
  fprintf(f, "# seqmix report — run %s\n\n", S(any, "run_id")[0] ? S(any, "run_id") : run_dir);
  if (any) {
    fprintf(f, "Hardware id `%s`. Files: `check.json`, `bench.json` (and Google Benchmark's `gbench.json`), plots in "
               "`plots/` (PNG, SVG and the CSV tables).\n\n",
            S(hw, "hardware_id"));
    hardware_section(f, hw, bench);
    correctness_section(f, check);
    bench_section(f, bench);
  } else {
    fprintf(f, "No check or benchmark results in this directory.\n\n");
  }
  if (sweeps) s = sweep_section(f, run_dir, sweeps, &sc);
  if (eff) efficiency_section(f, run_dir, eff);
  claims_table_all(f, bench, sweeps ? &sc : NULL, eff);
  data_tasks_section(f);
  if (any) {
    fprintf(f, "## Plots\n\n");
    if (np == 0) fprintf(f, "No plots: a plot needs at least two sequence lengths of the same shape group.\n\n");
  }
  for (int i = 0; i < np; i++) {
    const char *png = plots[i].png + strlen(run_dir) + 1, *svg = plots[i].svg + strlen(run_dir) + 1;
    fprintf(f, "### %s %s, %s — %s\n\n![%s](%s)\n\n[SVG](%s)\n\n", plots[i].op, plots[i].pass, plots[i].group,
            plots[i].kind, plots[i].kind, png, svg);
  }
  fclose(f);
  smx_sweep_scores_free(&sc);
  if (s == SMX_OK) {
    snprintf(path, sizeof path, "%s/report.md", run_dir);
    s = smx_write_file_atomic(path, text, len);
  }
  free(text);
  free(plots);
  json_decref(check);
  json_decref(bench);
  json_decref(eff);
  if (s != SMX_OK) return cli_fail(s);
  if (path_out) snprintf(path_out, n, "%s", path);
  return 0;
}

int cmd_report(int argc, char **argv) {
  const char *run = NULL, *sweeps = NULL;
  int help = 0;
  const cli_opt opts[] = {{"run", "DIR", "the run directory (check.json and/or bench.json)", &run, NULL},
                          {"sweep", "FILE[,FILE...]",
                           "task sweep results to score, draw and judge the task claims (3, 6, 11) on", &sweeps, NULL},
                          {0}};
  if (cli_parse("report", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("report", "--run DIR [--sweep FILE[,FILE...]]",
              "Writes DIR/report.md: hardware, measured peaks, the correctness table, the benchmark table with\n"
              "speedups, the plots (redrawn), and the claims. With --sweep, the sweeps' runs are scored\n"
              "(seqmix sweep score), drawn into DIR/plots/sweep and judged against the task claims; DIR may\n"
              "then hold no check or bench results (it is created).", opts);
    return 0;
  }
  if (!run) return cli_error("seqmix report: --run DIR is required");
  char path[4200];
  int rc = run_report_sweep(run, sweeps, path, sizeof path);
  if (rc == 0) printf("report: %s\n", path);
  return rc;
}
