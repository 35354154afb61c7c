/* seqmix gate on synthetic runs (every verdict, the refusals, bad input), and the claims rules. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "seqmix/json_io.h"
#include "test_helpers.h"

static cli_result r;

/* A ratio-mode bench.json with one entry per name; entry i's samples are scale[i] * (1 + small
 * deterministic jitter), n of them. */
static void write_run(const char *dir, const char *hw, const char *const *names, const double *scale, int n_entries,
                      int n_samples, const char *status_of_last) {
  json_t *doc = smx_json_new_doc("bench");
  json_object_set_new(doc, "mode", json_string("ratio"));
  json_object_set_new(doc, "suite", json_string("ci"));
  json_object_set_new(doc, "gate_min_change", json_real(0.30));
  json_object_set_new(doc, "hardware", json_pack("{s:s}", "hardware_id", hw));
  json_t *list = json_array();
  for (int i = 0; i < n_entries; i++) {
    json_t *ratios = json_array(), *times = json_array();
    for (int k = 0; k < n_samples; k++) {
      double v = scale[i] * (1 + 0.01 * ((k * 7) % 5 - 2));
      json_array_append_new(ratios, json_real(v));
      json_array_append_new(times, json_real(1e-3 * v));
    }
    const char *status = (i == n_entries - 1 && status_of_last) ? status_of_last : "ok";
    json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{}, s:o, s:o, s:f, s:f, s:f, s:f, s:f, s:s}",
        "name", names[i], "op", "fftconv", "variant", "cpu.fftw", "device", "cpu", "pass", "fwd", "shape", "L=1",
        "status", status, "params", "ratios", ratios, "times_s", times, "median_s", 1e-3 * scale[i], "flop_per_s", 1.0,
        "bytes_per_s", 1.0, "pct_peak_flops", 1.0, "pct_peak_bw", 1.0, "reason", "simulated"));
  }
  json_object_set_new(doc, "benchmarks", list);
  char path[700];
  snprintf(path, sizeof path, "%s/bench.json", dir);
  cr_assert_eq(smx_json_write_atomic(path, doc), SMX_OK);
  json_decref(doc);
}

static const char *names[] = {"a/fwd", "b/fwd", "c/fwd"};

static void gate(const char *base, const char *cur, const char *extra) {
  run_cli(&r, (const char *[]){"gate", "--baseline", base, "--current", cur, extra, NULL});
}

static void make_dirs(const char **base, const char **cur) {
  *base = test_dir("gate-base");
  *cur = test_dir("gate-cur");
}

Test(gate, unchanged_run_passes) {
  const char *base, *cur;
  make_dirs(&base, &cur);
  const double s[] = {1.5, 2.5, 3.5};
  write_run(base, "hw-a", names, s, 3, 9, NULL);
  write_run(cur, "hw-a", names, s, 3, 9, NULL);
  gate(base, cur, NULL);
  cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
  cr_assert(strstr(r.out, "3 pass, 0 regressed"), "%s", r.out);
  char path[700];
  snprintf(path, sizeof path, "%s/gate.json", cur);
  json_t *doc = NULL;
  cr_assert_eq(smx_json_read_doc(path, "gate", &doc), SMX_OK, "%s", smx_last_error());
  cr_assert_str_eq(json_string_value(json_object_get(doc, "verdict")), "pass");
  cr_assert_str_eq(json_string_value(json_object_get(doc, "mode")), "ratio");
  cr_assert(fabs(json_number_value(json_object_get(doc, "min_change")) - 0.30) < 1e-12, "the suite's threshold");
  json_decref(doc);
}

Test(gate, slowdown_regresses_speedup_improves_small_change_passes) {
  const char *base, *cur;
  make_dirs(&base, &cur);
  const double s0[] = {1.5, 2.5, 3.5}, s1[] = {3.0, 1.5, 3.7}; /* 2x slower, 40% faster, +6% */
  write_run(base, "hw-a", names, s0, 3, 9, NULL);
  write_run(cur, "hw-a", names, s1, 3, 9, NULL);
  gate(base, cur, NULL);
  cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
  cr_assert(strstr(r.out, "1 pass, 1 regressed, 1 improved"), "%s", r.out);
  gate(base, cur, "--min-change=0.01");
  cr_assert(strstr(r.out, "0 pass, 1 regressed, 1 improved, 1 ambiguous") || strstr(r.out, "0 pass, 2 regressed"),
            "a 6%% change counts at a 1%% threshold: %s", r.out);
}

Test(gate, too_few_repetitions_is_ambiguous) {
  const char *base, *cur;
  make_dirs(&base, &cur);
  const double s[] = {1.5, 2.5, 3.5}, s2[] = {3.0, 5.0, 7.0};
  write_run(base, "hw-a", names, s, 3, 5, NULL);
  write_run(cur, "hw-a", names, s2, 3, 5, NULL);
  gate(base, cur, NULL);
  cr_assert_eq(r.status, 0);
  cr_assert(strstr(r.out, "too few repetitions (need 9)"), "%s", r.out);
  cr_assert(strstr(r.out, "3 ambiguous"), "%s", r.out);
}

Test(gate, missing_new_and_errors) {
  const char *base, *cur;
  make_dirs(&base, &cur);
  const double s[] = {1.5, 2.5, 3.5};
  const char *cur_names[] = {"a/fwd", "b/fwd", "d/fwd"};
  write_run(base, "hw-a", names, s, 3, 9, NULL);
  write_run(cur, "hw-a", cur_names, s, 3, 9, NULL);
  gate(base, cur, NULL);
  cr_assert_eq(r.status, 0, "%s", r.out);
  cr_assert(strstr(r.out, "2 pass, 0 regressed, 0 improved, 0 ambiguous, 1 missing, 1 new"), "%s", r.out);
  write_run(cur, "hw-a", names, s, 3, 9, "error");
  gate(base, cur, NULL);
  cr_assert_eq(r.status, 1, "a benchmark that errored is a regression: %s", r.out);
}

Test(gate, failed_check_is_a_regression) {
  const char *base, *cur;
  make_dirs(&base, &cur);
  const double s[] = {1.5, 2.5, 3.5};
  write_run(base, "hw-a", names, s, 3, 9, NULL);
  write_run(cur, "hw-a", names, s, 3, 9, NULL);
  char path[700];
  snprintf(path, sizeof path, "%s/check.json", cur);
  write_text(path, "{\"schema_version\": 1, \"kind\": \"check\", \"summary\": {\"fd_failed\": 0}, \"results\": [{\"op\": "
                   "\"fftconv\", \"variant\": \"cpu.fftw\", \"shape\": \"L=7\", \"verdict\": \"FAIL\", \"reason\": "
                   "\"fwd y: max error too large\"}]}");
  gate(base, cur, NULL);
  cr_assert_eq(r.status, 1, "%s", r.out);
  cr_assert(strstr(r.out, "check failed: fwd y"), "%s", r.out);
}

/* --confirm: a timing regression stands only when the second run shows it too; a second run
 * without the benchmark leaves it standing; errors are never excused; other hardware is refused. */
Test(gate, confirm_run_decides_timing_regressions) {
  const char *base, *cur, *conf = test_dir("gate-confirm");
  make_dirs(&base, &cur);
  const double s0[] = {1.5, 2.5, 3.5}, s1[] = {3.0, 5.0, 3.5}; /* a and b 2x slower */
  write_run(base, "hw-a", names, s0, 3, 9, NULL);
  write_run(cur, "hw-a", names, s1, 3, 9, NULL);
  const double again[] = {3.1, 2.6, 3.5}; /* a slow again, b back to normal */
  write_run(conf, "hw-a", names, again, 3, 9, NULL);
  char opt[760];
  snprintf(opt, sizeof opt, "--confirm=%s", conf);
  gate(base, cur, opt);
  cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
  cr_assert(strstr(r.out, "1 pass, 1 regressed, 0 improved, 0 ambiguous, 0 missing, 0 new, 1 unconfirmed -> REGRESSION"),
            "%s", r.out);
  cr_assert(strstr(r.out, "confirmed: +106.7%"), "%s", r.out);
  cr_assert(strstr(r.out, "not confirmed: +4.0%"), "%s", r.out);
  char path[700];
  snprintf(path, sizeof path, "%s/gate.json", cur);
  json_t *doc = NULL;
  cr_assert_eq(smx_json_read_doc(path, "gate", &doc), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(doc, "summary"), "unconfirmed")), 1);
  cr_assert(json_object_get(doc, "confirm"), "the confirming run is recorded");
  json_decref(doc);

  const double calm[] = {1.5, 2.5, 3.5};
  write_run(conf, "hw-a", names, calm, 3, 9, NULL);
  gate(base, cur, opt);
  cr_assert_eq(r.status, 0, "neither slowdown repeated: %s", r.out);
  cr_assert(strstr(r.out, "0 regressed") && strstr(r.out, "2 unconfirmed -> pass"), "%s", r.out);

  const char *only_c[] = {"c/fwd"}; /* the second run lacks a and b: both stand */
  write_run(conf, "hw-a", only_c, calm + 2, 1, 9, NULL);
  gate(base, cur, opt);
  cr_assert_eq(r.status, 1);
  cr_assert(strstr(r.out, "2 regressed") && strstr(r.out, "not in the second run"), "%s", r.out);

  write_run(cur, "hw-a", names, s0, 3, 9, "error"); /* an error is not a timing: never retried */
  write_run(conf, "hw-a", names, calm, 3, 9, NULL);
  gate(base, cur, opt);
  cr_assert_eq(r.status, 1, "%s", r.out);

  write_run(conf, "hw-b", names, calm, 3, 9, NULL);
  gate(base, cur, opt);
  cr_assert_eq(r.status, 2);
  cr_assert_eq(r.err_lines, 1, "%s", r.err);
  cr_assert(strstr(r.err, "the --confirm run is from hardware 'hw-b'"), "%s", r.err);
  snprintf(opt, sizeof opt, "--confirm=%s/none", conf);
  gate(base, cur, opt);
  cr_assert_eq(r.status, 2);
  cr_assert_eq(r.err_lines, 1, "%s", r.err);
}

Test(gate, refusals_and_bad_input) {
  const char *base, *cur;
  make_dirs(&base, &cur);
  const double s[] = {1.5, 2.5, 3.5};
  write_run(base, "hw-a", names, s, 3, 9, NULL);
  write_run(cur, "hw-b", names, s, 3, 9, NULL);
  gate(base, cur, NULL);
  cr_assert_eq(r.status, 2);
  cr_assert_eq(r.err_lines, 1, "%s", r.err);
  cr_assert(strstr(r.err, "baseline is from hardware 'hw-a', the current run from 'hw-b'"), "%s", r.err);
  gate(base, cur, "--cross-hardware");
  cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);

  const char *other[] = {"x/fwd", "y/fwd", "z/fwd"};
  write_run(cur, "hw-a", other, s, 3, 9, NULL);
  gate(base, cur, NULL);
  cr_assert_eq(r.status, 2);
  cr_assert(strstr(r.err, "no benchmark name is in both runs"), "%s", r.err);

  char path[700];
  snprintf(path, sizeof path, "%s/bench.json", base);
  write_text(path, "{\"schema_version\": 1, \"kind\": \"bench\", \"benchm");
  gate(base, cur, NULL);
  cr_assert_eq(r.status, 2);
  cr_assert(strstr(r.err, "is not valid JSON"), "%s", r.err);
  write_text(path, "{\"schema_version\": 2, \"kind\": \"bench\", \"benchmarks\": []}");
  gate(base, cur, NULL);
  cr_assert_eq(r.status, 2);
  cr_assert(strstr(r.err, "schema_version 2"), "%s", r.err);
  gate("/nonexistent/baseline", cur, NULL);
  cr_assert_eq(r.status, 2);
  cr_assert(strstr(r.err, "cannot read /nonexistent/baseline"), "%s", r.err);
  run_cli(&r, (const char *[]){"gate", "--current", cur, NULL});
  cr_assert_eq(r.status, 2);
  cr_assert_eq(r.err_lines, 1);
}

Test(gate, update_baseline_writes_the_run) {
  const char *base, *cur;
  make_dirs(&base, &cur);
  const double s[] = {1.5, 2.5, 3.5};
  write_run(cur, "hw-a", names, s, 3, 9, NULL);
  char newbase[700];
  snprintf(newbase, sizeof newbase, "%s/hw-a/ci", base);
  run_cli(&r, (const char *[]){"gate", "--baseline", newbase, "--current", cur, "--update-baseline", NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  gate(newbase, cur, NULL);
  cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
  cr_assert(strstr(r.out, "3 pass"), "%s", r.out);
}

Test(claims, verdict_rules) {
  cr_assert_eq(claim_judge(CLAIM_SPEED, 7.93, 6.5), CLAIM_REPRODUCED); /* >= 0.8x the paper's ratio */
  cr_assert_eq(claim_judge(CLAIM_SPEED, 7.93, 3.0), CLAIM_PARTLY);
  cr_assert_eq(claim_judge(CLAIM_SPEED, 7.93, 0.9), CLAIM_NOT_REPRODUCED);
  cr_assert_eq(claim_judge(CLAIM_ACCURACY, 0.81, 0.77), CLAIM_REPRODUCED);
  cr_assert_eq(claim_judge(CLAIM_ACCURACY, 0.81, 0.40), CLAIM_PARTLY);
  cr_assert_eq(claim_judge(CLAIM_ACCURACY, 0.81, -0.1), CLAIM_NOT_REPRODUCED);
  cr_assert_eq(claim_judge(CLAIM_MEMORY, 32, 28), CLAIM_REPRODUCED);
  cr_assert_eq(claim_judge(CLAIM_MEMORY, 32, 8), CLAIM_PARTLY);
  cr_assert_eq(claim_judge(CLAIM_MEMORY, 32, NAN), CLAIM_NOT_MEASURED);
}

Test(claims, table_lists_every_claim_with_a_reason) {
  char *text = claims_table_text(NULL);
  for (int id = 1; id <= 12; id++) {
    char row[16];
    snprintf(row, sizeof row, "\n| %d | ", id);
    cr_assert(strstr(text, row), "claim %d missing", id);
  }
  cr_assert(strstr(text, "not measured: needs an efficiency document"), "%s", text);
  cr_assert(strstr(text, "not measured: a GPU measurement: this run has no GPU results"), "%s", text);
  free(text);
}

/* Claim 12 from GPU rows of a run: the bf16 pair at the longest L, forward and backward. */
Test(claims, dma_speedup_is_judged_from_the_runs_gpu_rows) {
  json_t *list = json_array();
  const char *vars[] = {"cuda.flash_sparse.bf16", "cuda.dense_bias.bf16"};
  const double t[2][2][2] = {{{0.5e-3, 2.0e-3}, {4.0e-3, 20e-3}}, {{20e-3, 100e-3}, {100e-3, 125e-3}}}; /* [var][L][pass] */
  const int64_t Ls[2] = {4096, 32768};
  for (int v = 0; v < 2; v++)
    for (int l = 0; l < 2; l++)
      for (int p = 0; p < 2; p++) {
        char shape[96];
        snprintf(shape, sizeof shape, "B=1,L=%lld,H=2,Hkv=1,P=64,w=1024,select=0,ties=0", (long long)Ls[l]);
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:I}, s:f}", "op", "dma", "variant",
                                              vars[v], "device", "cuda", "status", "ok", "pass", p ? "bwd" : "fwd",
                                              "shape", shape, "params", "L", (json_int_t)Ls[l], "median_s",
                                              t[v][l][p]));
      }
  json_t *bench = json_pack("{s:o}", "benchmarks", list);
  char *text = claims_table_text(bench);
  /* 100/4 = 25x forward (partly: below 0.8 x 49.8), 125/20 = 6.25x backward (reproduced) */
  cr_assert(strstr(text, "| 25.0x fwd at L = 32768, 6.2x bwd at L = 32768 (bf16) | partly |"), "%s", text);
  free(text);
  json_decref(bench);
}

/* Claim 8 comes from the ops' tensor sizes, so any run judges it: MixCon's 4 attention layers
 * against 32 MHA layers is 32x (reproduced), against Mixtral's 32 GQA layers 8x (the paper says
 * 16x): partly. */
Test(claims, cache_size_is_computed_from_the_op_definitions) {
  json_t *bench = json_pack("{s:[]}", "benchmarks");
  char *text = claims_table_text(bench);
  const char *row = strstr(text, "\n| 8 | ");
  cr_assert(row, "%s", text);
  cr_expect(strstr(row, "= 31.9x") && strstr(row, "= 8.0x") && strstr(row, "| partly |"), "%.600s", row);
  free(text);
  json_decref(bench);
}

/* Claim 7 from CPU rows: cdmoe (H = 1) against the loop and grouped MoE and the routers alone, at
 * the smallest E >= 1024 (judged) and the largest E. */
static void add_case(json_t *list, const char *op, const char *variant, const char *pass, int64_t E, int64_t H,
                     double t) {
  json_t *params = json_pack("{s:I, s:I, s:I}", "T", (json_int_t)1024, "d", (json_int_t)512, "E", (json_int_t)E);
  if (!strcmp(op, "moe") || !strcmp(op, "cdmoe")) json_object_set_new(params, "S", json_integer(1024));
  if (H > 0) json_object_set_new(params, "H", json_integer(H));
  json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:f}", "op", op, "variant", variant, "device",
                                        "cpu", "status", "ok", "pass", pass, "params", params, "median_s", t));
}

Test(claims, expert_retrieval_is_judged_at_1024_experts) {
  json_t *list = json_array();
  const int64_t Es[3] = {256, 1024, 16384};
  for (int i = 0; i < 3; i++) {
    double s = (double)Es[i] / 1024; /* the MoE grows with E, cdmoe barely */
    add_case(list, "cdmoe", "cpu.pk", "fwd", Es[i], 1, 10e-3);
    add_case(list, "cdmoe", "cpu.pk", "bwd", Es[i], 1, 30e-3);
    add_case(list, "cdmoe", "cpu.pk", "fwd", Es[i], 4, 1.0); /* another head count: not the claim's */
    add_case(list, "moe", "cpu.loop", "fwd", Es[i], 0, 100e-3 * s);
    add_case(list, "moe", "cpu.loop", "bwd", Es[i], 0, 300e-3 * s);
    add_case(list, "moe", "cpu.grouped", "fwd", Es[i], 0, 40e-3 * s);
    add_case(list, "moe", "cpu.grouped", "bwd", Es[i], 0, 80e-3 * s);
    add_case(list, "cdmoe_router", "cpu.pk", "fwd", Es[i], 1, 2e-3);
    add_case(list, "moe_router", "cpu.dense", "fwd", Es[i], 0, 3e-3 * s);
  }
  json_t *bench = json_pack("{s:o}", "benchmarks", list);
  char *text = claims_table_text(bench);
  const char *row = strstr(text, "\n| 7 | ");
  cr_assert(row, "%s", text);
  /* E = 1024: loop 100/10 = 10x fwd, 400/40 = 10x fwd+bwd; grouped 4x, 120/40 = 3x; routers 1.5x.
   * 10x >= 0.8 x 8: reproduced. E = 16384: 160x, 160x, 64x, 48x, 24x. */
  cr_expect(strstr(row, "E = 1024: 10.0x over the loop MoE (fwd; 10.0x fwd+bwd), 4.0x over the grouped MoE (fwd; "
                        "3.0x fwd+bwd), retrieval alone 1.5x over moe_router"),
            "%.900s", row);
  cr_expect(strstr(row, "E = 16384: 160.0x over the loop MoE (fwd; 160.0x fwd+bwd), 64.0x over the grouped MoE (fwd; "
                        "48.0x fwd+bwd), retrieval alone 24.0x over moe_router"),
            "%.900s", row);
  cr_expect(strstr(row, "| reproduced |"), "%.900s", row);
  free(text);
  json_decref(bench);
}

/* Without a point at >= 1024 experts the ratios are shown but not judged. */
Test(claims, expert_retrieval_below_1024_experts_is_not_judged) {
  json_t *list = json_array();
  add_case(list, "cdmoe", "cpu.pk", "fwd", 256, 1, 10e-3);
  add_case(list, "moe", "cpu.loop", "fwd", 256, 0, 50e-3);
  json_t *bench = json_pack("{s:o}", "benchmarks", list);
  char *text = claims_table_text(bench);
  const char *row = strstr(text, "\n| 7 | ");
  cr_assert(row, "%s", text);
  cr_expect(strstr(row, "E = 256: 5.0x over the loop MoE (fwd; not timed fwd+bwd)"), "%.900s", row);
  cr_expect(strstr(row, "| — | not measured: CPU, T = 1024, d = 512, shared width 1024"), "%.900s", row);
  free(text);
  json_decref(bench);
}

/* Claim 4's kernel half from a CPU run: Monarch against the dense GEMM at the largest n, beside the
 * FLOP ratio; shown next to the reason (the claim is a GPU one, and its 9.1x is model-level). */
Test(claims, monarch_against_dense_is_shown_not_judged) {
  json_t *list = json_array();
  const int64_t ns[2] = {1024, 4096};
  for (int i = 0; i < 2; i++)
    for (int v = 0; v < 2; v++)
      json_array_append_new(
          list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:I, s:I, s:I}, s:f, s:f}", "op", "monarch", "variant",
                          v ? "openblas.dense" : "cpu.blockdiag", "device", "cpu", "status", "ok", "pass", "fwd",
                          "params", "B", (json_int_t)1024, "n", (json_int_t)ns[i], "p", (json_int_t)0, "median_s",
                          v ? 20e-3 * (i + 1) : 2e-3 * (i + 1), "pct_peak_flops", 12.0));
  json_t *bench = json_pack("{s:o}", "benchmarks", list);
  char *text = claims_table_text(bench);
  const char *row = strstr(text, "\n| 4 | ");
  cr_assert(row, "%s", text);
  /* n = 4096: p = k = 64, dense does 4096 / 128 = 32x the FLOPs */
  cr_expect(strstr(row, "no GPU results (CPU, B = 1024, n = 4096: cpu.blockdiag 10.0x faster than the dense GEMM "
                        "openblas.dense (which does 32.0x the FLOPs), 12% of peak FLOP/s"),
            "%.900s", row);
  free(text);
  json_decref(bench);
}

/* An efficiency document with MixCon 1:7, Mixtral-like and Jamba-like points: prefill seconds and
 * decode seconds per token at 8K and 128K (a negative time: the point is absent). */
static json_t *efficiency_doc(const char *device, const double t[3][2][2]) {
  static const char *const arch_names[3] = {"mixcon-1:7", "mixtral", "jamba-1:7"};
  static const long long ctx[2] = {8192, 131072};
  json_t *doc = json_pack("{s:s, s:s, s:{s:i, s:i}, s:[]}", "device", device, "hardware_id", "test-hw", "shape", "d", 128,
                          "layers", 8, "architectures");
  for (int a = 0; a < 3; a++) {
    json_t *pts = json_array();
    for (int k = 0; k < 2; k++)
      if (t[a][k][0] >= 0)
        json_array_append_new(pts, json_pack("{s:I, s:f, s:f}", "ctx", ctx[k], "prefill_s", t[a][k][0], "decode_s_per_token",
                                             t[a][k][1]));
    json_array_append_new(json_object_get(doc, "architectures"), json_pack("{s:s, s:o}", "name", arch_names[a], "points", pts));
  }
  return doc;
}

/* Claim 9: throughput of 512 generated tokens = 512 / (prefill + 512 decode), MixCon against each. */
Test(claims, claim_9_from_an_efficiency_document) {
  char fig[1024];
  /* MixCon: 1 s prefill + 512 x 1 ms = 1.512 s at 8K; Mixtral 3x that, Jamba 2x: reproduced on a GPU */
  const double ok[3][2][2] = {{{1.0, 1e-3}, {10.0, 2e-3}}, {{3.0, 3e-3}, {45.0, 9e-3}}, {{2.0, 2e-3}, {15.0, 3e-3}}};
  json_t *doc = efficiency_doc("cuda", ok);
  cr_assert_eq(claim_efficiency_throughput(doc, fig, sizeof fig), CLAIM_REPRODUCED, "%s", fig);
  cr_assert(strstr(fig, "8K: MixCon 1:7 339 tok/s = 3.00x Mixtral (paper 3.0x), 2.00x Jamba 1:7 (paper 2.0x)"), "%s", fig);
  cr_assert(strstr(fig, "128K: MixCon 1:7 46.4 tok/s = 4.50x Mixtral (paper 4.5x), 1.50x Jamba 1:7 (paper 1.5x)"), "%s", fig);
  json_decref(doc);
  /* the same numbers from the CPU: shown, not judged */
  doc = efficiency_doc("cpu", ok);
  cr_assert_eq(claim_efficiency_throughput(doc, fig, sizeof fig), CLAIM_NOT_MEASURED);
  cr_assert(strstr(fig, "CPU `test-hw`") && strstr(fig, "3.00x Mixtral"), "%s", fig);
  json_decref(doc);
  /* Jamba as fast as MixCon at 128K: not reproduced (the worst of the four ratios stands) */
  const double slow[3][2][2] = {{{1.0, 1e-3}, {10.0, 2e-3}}, {{3.0, 3e-3}, {45.0, 9e-3}}, {{2.0, 2e-3}, {10.0, 2e-3}}};
  doc = efficiency_doc("cuda", slow);
  cr_assert_eq(claim_efficiency_throughput(doc, fig, sizeof fig), CLAIM_NOT_REPRODUCED, "%s", fig);
  json_decref(doc);
  /* no 128K point (a prefill too long to time): judged at 8K, at most partly */
  const double no128[3][2][2] = {{{1.0, 1e-3}, {-1, 0}}, {{3.0, 3e-3}, {-1, 0}}, {{2.0, 2e-3}, {-1, 0}}};
  doc = efficiency_doc("cuda", no128);
  cr_assert_eq(claim_efficiency_throughput(doc, fig, sizeof fig), CLAIM_PARTLY, "%s", fig);
  cr_assert(strstr(fig, "128K: not measured"), "%s", fig);
  json_decref(doc);
  /* and the table says what the claim needs without a document */
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  claims_table_all(f, NULL, NULL, NULL);
  fclose(f);
  cr_assert(strstr(text, "| 9 |") && strstr(text, "needs an efficiency document"), "%s", text);
  free(text);
}
