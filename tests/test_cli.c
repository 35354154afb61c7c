/* The seqmix command end to end: bad input gets one error line and exit 2; check, bench, plot,
 * report and suite produce their files. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "seqmix/json_io.h"
#include "test_helpers.h"

static cli_result r;

static void expect_usage_error(const char *const *args, const char *needle) {
  run_cli(&r, args);
  cr_assert_eq(r.status, 2, "'%s %s': exit %d, stderr: %s", args[0], args[1] ? args[1] : "", r.status, r.err);
  cr_assert_eq(r.err_lines, 1, "'%s ...': expected one error line, got: %s", args[0], r.err);
  cr_assert(strncmp(r.err, "seqmix: error: ", 15) == 0, "stderr: %s", r.err);
  cr_assert(strstr(r.err, needle) != NULL, "stderr '%s' lacks '%s'", r.err, needle);
}

Test(cli, unknown_names_and_flags) {
  expect_usage_error((const char *[]){"frobnicate", NULL}, "unknown command 'frobnicate'");
  expect_usage_error((const char *[]){"check", "--op", "nosuchop", NULL}, "unknown op 'nosuchop' (known: fftconv, rope, attention, attention_decode, dma, dma_bias, ssd");
  expect_usage_error((const char *[]){"check", "--op", "fftconv", "--variant", "cpu.magic", NULL}, "no variant 'cpu.magic'");
  expect_usage_error((const char *[]){"check", "--variant", "cpu.magic", NULL}, "no op has a variant");
  expect_usage_error((const char *[]){"check", "--op", "rope", "--device", "tpu", NULL}, "unknown device 'tpu'");
  expect_usage_error((const char *[]){"check", "--frob", NULL}, "unknown option '--frob'");
  expect_usage_error((const char *[]){"check", "--seed", NULL}, "needs a value");
  expect_usage_error((const char *[]){"check", "--seed", "-3", NULL}, "--seed -3");
  expect_usage_error((const char *[]){"bench", "--suite", "huge", NULL}, "unknown suite 'huge'");
  expect_usage_error((const char *[]){"bench", "--repetitions", "0", NULL}, "--repetitions 0");
  expect_usage_error((const char *[]){"bench", "--min-time", "abc", NULL}, "--min-time abc");
  expect_usage_error((const char *[]){"bench", "--device", "tpu", NULL}, "--device tpu");
  expect_usage_error((const char *[]){"suite", "--preset", "nope", NULL}, "unknown suite 'nope'");
  expect_usage_error((const char *[]){"list", "stray", NULL}, "unexpected argument 'stray'");
  expect_usage_error((const char *[]){"info", "--json=1", NULL}, "takes no value");
}

Test(cli, bad_shapes) {
  expect_usage_error((const char *[]){"check", "--op", "fftconv", "--shape", "L=0", NULL}, "L=0 is out of range");
  expect_usage_error((const char *[]){"check", "--op", "fftconv", "--shape", "B=-1", NULL}, "B=-1 is out of range");
  expect_usage_error((const char *[]){"check", "--op", "fftconv", "--shape", "L=999999999999", NULL}, "out of range");
  expect_usage_error((const char *[]){"check", "--op", "fftconv", "--shape", "B=100000,H=100000,L=100000", NULL},
                     "too large");
  expect_usage_error((const char *[]){"check", "--op", "fftconv", "--shape", "X=1", NULL}, "no parameter 'X'");
  expect_usage_error((const char *[]){"check", "--shape", "L=4", NULL}, "--shape needs --op");
  expect_usage_error((const char *[]){"bench", "--op", "fftconv", "--shape", "L=0", "--out", "/tmp/x", NULL},
                     "L=0 is out of range");
  /* --op as a list of ops timed in one run */
  expect_usage_error((const char *[]){"bench", "--op", "moe,nosuchop", "--out", "/tmp/x", NULL}, "unknown op 'nosuchop'");
  expect_usage_error((const char *[]){"bench", "--op", "moe,cdmoe", "--shape", "T=4", "--out", "/tmp/x", NULL},
                     "--shape needs a single --op");
  expect_usage_error((const char *[]){"bench", "--op", "moe,cdmoe", "--variant", "cpu.magic", "--out", "/tmp/x", NULL},
                     "no op in 'moe,cdmoe' has a variant 'cpu.magic'");
  expect_usage_error((const char *[]){"bench", "--op", "moe", "--variant", "cpu.loop,cpu.pk", "--out", "/tmp/x", NULL},
                     "no op in 'moe' has a variant 'cpu.pk'");
  expect_usage_error((const char *[]){"bench", "--variant", "cpu.loop,cpu.pk", "--shape", "T=4", "--out", "/tmp/x", NULL},
                     "--shape needs --op");
}

Test(cli, bad_result_files) {
  const char *dir = test_dir("bad-results");
  char path[700];
  expect_usage_error((const char *[]){"plot", NULL}, "--run DIR is required");
  expect_usage_error((const char *[]){"plot", "--run", "/nonexistent/run", NULL}, "cannot read /nonexistent/run");
  expect_usage_error((const char *[]){"report", "--run", dir, NULL}, "neither check.json nor bench.json");
  snprintf(path, sizeof path, "%s/bench.json", dir);
  write_text(path, "{\"schema_version\": 1, \"kind\": \"bench\", \"benchmarks\": [{\"op\": \"fftc");
  expect_usage_error((const char *[]){"plot", "--run", dir, NULL}, "is not valid JSON");
  write_text(path, "{\"schema_version\": 7, \"kind\": \"bench\", \"benchmarks\": []}");
  expect_usage_error((const char *[]){"report", "--run", dir, NULL}, "schema_version 7");
  write_text(path, "{\"schema_version\": 1, \"kind\": \"bench\", \"hardware\": {}, \"benchmarks\": [{\"op\": 3}]}");
  expect_usage_error((const char *[]){"plot", "--run", dir, NULL}, "entry 0 has no string \"op\"");
  write_text(path, "{\"schema_version\": 1, \"kind\": \"bench\", \"hardware\": {}, \"benchmarks\": [{\"op\": \"fftconv\", "
                   "\"variant\": \"cpu.fftw\", \"device\": \"cpu\", \"pass\": \"fwd\", \"shape\": \"L=4\", \"status\": "
                   "\"ok\", \"params\": {}, \"median_s\": -1, \"flop_per_s\": 1, \"bytes_per_s\": 1, \"pct_peak_flops\": "
                   "1, \"pct_peak_bw\": 1}]}");
  expect_usage_error((const char *[]){"plot", "--run", dir, NULL}, "non-positive median");
  write_text(path, "{\"schema_version\": 1, \"kind\": \"check\", \"results\": [], \"summary\": {}}");
  expect_usage_error((const char *[]){"plot", "--run", dir, NULL}, "is a \"check\" file, expected \"bench\"");
}

Test(cli, help_list_info) {
  run_cli(&r, (const char *[]){"--help", NULL});
  cr_assert_eq(r.status, 0);
  static char top[sizeof r.out];
  memcpy(top, r.out, sizeof top);
  const char *cmds[] = {"info", "list", "check", "bench", "plot", "report", "suite"};
  for (int i = 0; i < 7; i++) {
    cr_assert(strstr(top, cmds[i]) != NULL, "--help lacks %s", cmds[i]);
    run_cli(&r, (const char *[]){cmds[i], "--help", NULL});
    cr_assert_eq(r.status, 0, "%s --help", cmds[i]);
    cr_assert(strstr(r.out, "usage: seqmix") != NULL);
  }
  run_cli(&r, (const char *[]){"list", NULL});
  cr_assert_eq(r.status, 0);
  cr_assert(strstr(r.out, "cpu.fftw") && strstr(r.out, "reference") && strstr(r.out, "fftw.roundtrip"));
  run_cli(&r, (const char *[]){"info", "--json", NULL});
  cr_assert_eq(r.status, 0);
  json_error_t e;
  json_t *j = json_loads(r.out, 0, &e);
  cr_assert_not_null(j, "info --json is not JSON: %s", e.text);
  cr_assert(json_is_string(json_object_get(j, "hardware_id")));
  json_decref(j);
}

Test(cli, check_one_shape_and_json) {
  const char *dir = test_dir("check");
  char out[700];
  snprintf(out, sizeof out, "%s/check.json", dir);
  run_cli(&r, (const char *[]){"check", "--op", "fftconv", "--shape", "B=2,H=3,L=101,gelu=1", "--out", out, NULL});
  cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
  cr_assert(strstr(r.out, "cpu.fftw") && strstr(r.out, "pass"));
  json_t *doc = NULL;
  cr_assert_eq(smx_json_read_doc(out, "check", &doc), SMX_OK, "%s", smx_last_error());
  json_t *sum = json_object_get(doc, "summary");
  cr_assert_geq(json_integer_value(json_object_get(sum, "passed")), 2);
  cr_assert_eq(json_integer_value(json_object_get(sum, "failed")), 0);
  cr_assert_eq(json_integer_value(json_object_get(sum, "fd_failed")), 0);
  json_decref(doc);
}

/* --device keeps that device's variants: cpu includes the reference (and its finite-difference
 * check), cuda only the CUDA variants (skipped without a GPU, run under the CUDA emulator) */
Test(cli, check_one_device) {
  run_cli(&r, (const char *[]){"check", "--op", "fftconv", "--device", "cpu", "--shape", "B=1,H=2,L=33", NULL});
  cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
  cr_assert(strstr(r.out, "cpu.fftw") && strstr(r.out, "cpu.monarch_fft") && strstr(r.out, "fftconv  reference "),
            "%s", r.out);
  cr_assert(!strstr(r.out, "cuda.") && strstr(r.out, "finite differences: 1 shapes, 0 failed"), "%s", r.out);
  run_cli(&r, (const char *[]){"check", "--op", "fftconv", "--device", "cuda", "--shape", "B=1,H=2,L=33", NULL});
  cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
  cr_assert(!strstr(r.out, "cpu.") && !strstr(r.out, "fftconv  reference ") && strstr(r.out, "finite differences: 0 shapes"),
            "%s", r.out);
}

Test(cli, bench_plot_report, .timeout = 600) {
  const char *dir = test_dir("bench");
  run_cli(&r, (const char *[]){"bench", "--suite", "ci", "--variant", "cpu.fftw", "--repetitions", "2", "--min-time",
                               "0.001", "--out", dir, NULL});
  cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
  char path[700];
  json_t *doc = NULL;
  snprintf(path, sizeof path, "%s/bench.json", dir);
  cr_assert_eq(smx_json_read_doc(path, "bench", &doc), SMX_OK, "%s", smx_last_error());
  json_t *list = json_object_get(doc, "benchmarks");
  cr_assert_eq(json_array_size(list), 6, "3 shapes x fwd/bwd");
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    cr_assert_str_eq(json_string_value(json_object_get(e, "status")), "ok");
    cr_assert_eq(json_array_size(json_object_get(e, "times_s")), 2);
    cr_assert_gt(json_number_value(json_object_get(e, "median_s")), 0);
    cr_assert_gt(json_number_value(json_object_get(e, "flop_per_s")), 0);
    cr_assert_gt(json_number_value(json_object_get(e, "pct_peak_bw")), 0);
  }
  cr_assert_gt(json_number_value(json_object_get(json_object_get(doc, "peaks"), "cpu_flops")), 0);
  json_decref(doc);
  run_cli(&r, (const char *[]){"report", "--run", dir, NULL});
  cr_assert_eq(r.status, 0, "stderr: %s", r.err);
  snprintf(path, sizeof path, "%s/report.md", dir);
  cr_assert_gt(file_size(path), 1000);
  const char *figs[] = {"time", "speedup", "bandwidth"};
  for (int k = 0; k < 3; k++) {
    /* speedup needs the reference or a baseline, which this run left out */
    if (k == 1) continue;
    snprintf(path, sizeof path, "%s/plots/fftconv_fwd_b-2-h-8-gelu-0_%s.png", dir, figs[k]);
    cr_assert_gt(file_size(path), 2000, "%s", path);
    snprintf(path, sizeof path, "%s/plots/fftconv_fwd_b-2-h-8-gelu-0_%s.svg", dir, figs[k]);
    cr_assert_gt(file_size(path), 2000, "%s", path);
  }
}

Test(cli, compare_two_runs, .timeout = 600) {
  const char *run = test_dir("compare-run"), *out = test_dir("compare-out");
  run_cli(&r, (const char *[]){"bench", "--suite", "ci", "--variant", "cpu.fftw", "--repetitions", "1", "--min-time",
                               "0.001", "--out", run, NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  run_cli(&r, (const char *[]){"compare", run, run, "--out", out, NULL});
  cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
  char path[800];
  snprintf(path, sizeof path, "%s/compare.md", out);
  cr_assert_gt(file_size(path), 500);
  FILE *f = fopen(path, "r");
  static char text[65536];
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = 0;
  fclose(f);
  cr_assert(strstr(text, "#2") != NULL, "the same machine twice gets numbered labels");
  cr_assert(strstr(text, "1.00×") != NULL, "a run against itself has a time ratio of 1");
  snprintf(path, sizeof path, "%s/plots/fftconv_fwd_b-2-h-8-gelu-0-l-4096_bars.png", out);
  cr_assert_gt(file_size(path), 2000, "%s", path);
  expect_usage_error((const char *[]){"compare", run, NULL}, "give two or more runs");
  expect_usage_error((const char *[]){"compare", run, "/nonexistent/run", NULL}, "cannot read /nonexistent/run");
  expect_usage_error((const char *[]){"compare", run, run, "--labels", "a", NULL}, "1 names for 2 runs");
}

Test(cli, bench_without_gpu_records_skips) {
  run_cli(&r, (const char *[]){"info", "--json", NULL});
  if (strstr(r.out, "\"gpu_count\": 0") == NULL) cr_skip_test("a GPU is present");
  const char *dir = test_dir("bench-gpu");
  run_cli(&r, (const char *[]){"bench", "--suite", "ci", "--device", "cuda", "--out", dir, NULL});
  cr_assert_eq(r.status, 0, "stderr: %s", r.err);
  char path[700];
  snprintf(path, sizeof path, "%s/bench.json", dir);
  json_t *doc = NULL;
  cr_assert_eq(smx_json_read_doc(path, "bench", &doc), SMX_OK, "%s", smx_last_error());
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(doc, "benchmarks"), i, e) {
    cr_assert_str_eq(json_string_value(json_object_get(e, "status")), "skipped");
    cr_assert_gt(strlen(json_string_value(json_object_get(e, "reason"))), 5);
  }
  json_decref(doc);
}

Test(cli, suite_end_to_end_and_resume, .timeout = 900) {
  const char *dir = test_dir("suite");
  run_cli(&r, (const char *[]){"suite", "--preset", "ci", "--out", dir, NULL});
  cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
  const char *line = strstr(r.out, "suite: report written to ");
  cr_assert_not_null(line, "%s", r.out);
  char report[700];
  sscanf(line, "suite: report written to %699s", report);
  cr_assert_gt(file_size(report), 2000);
  char run_dir[700];
  snprintf(run_dir, sizeof run_dir, "%s", report);
  *strrchr(run_dir, '/') = 0;
  char path[800];
  snprintf(path, sizeof path, "%s/plots/fftconv_fwd_b-2-h-8-gelu-0_speedup.png", run_dir);
  cr_assert_gt(file_size(path), 2000, "%s", path);
  /* resume: both result files exist, so nothing is re-measured and the report is rewritten */
  snprintf(path, sizeof path, "%s/bench.json", run_dir);
  long before = file_size(path);
  run_cli(&r, (const char *[]){"suite", "--resume", run_dir, NULL});
  cr_assert_eq(r.status, 0, "stderr: %s", r.err);
  cr_assert(strstr(r.err, "exists, kept") != NULL, "%s", r.err);
  cr_assert_eq(file_size(path), before);
}

/* The suite's task step: a sweep spec trained into <run>/tasks.jsonl, scored in the report, and
 * resumed (not retrained) by --resume, which remembers the choice. */
Test(cli, suite_task_sweep_and_resume, .timeout = 900) {
  char dir[600], spec[700], path[800];
  snprintf(dir, sizeof dir, "%s", test_dir("suite-tasks"));
  snprintf(spec, sizeof spec, "%s/tiny.json", dir);
  write_text(spec, "{\"name\": \"tiny\", \"task\": \"mqar\", \"points\": [\"V=32,L=8,N=1\"], \"mixers\": "
                   "[\"attention\", \"ssd\"], \"d\": [8], \"lr\": [0.01], \"seeds\": [1], \"layers\": 1, \"heads\": 1, "
                   "\"mlp\": 0, \"epochs\": 1, \"batch\": 8, \"n_train\": 16, \"n_test\": 8, \"schedule\": \"cosine\", "
                   "\"warmup\": 0, \"weight_decay\": 0.1, \"target\": 0.99}");
  run_cli(&r, (const char *[]){"suite", "--preset", "ci", "--tasks", spec, "--out", dir, NULL});
  cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
  cr_assert(strstr(r.err, "[3/6] task sweep") && strstr(r.err, "2 runs done by"), "%s", r.err);
  cr_assert(strstr(r.err, "[4/6] efficiency: none"), "--preset ci skips the efficiency step: %s", r.err);
  const char *line = strstr(r.out, "suite: report written to ");
  cr_assert_not_null(line, "%s", r.out);
  char report[700], run_dir[700];
  sscanf(line, "suite: report written to %699s", report);
  snprintf(run_dir, sizeof run_dir, "%s", report);
  *strrchr(run_dir, '/') = 0;
  snprintf(path, sizeof path, "%s/tasks.jsonl", run_dir);
  FILE *f = fopen(path, "r");
  cr_assert(f, "%s", path);
  int lines = 0, c;
  while ((c = fgetc(f)) != EOF) lines += c == '\n';
  fclose(f);
  cr_assert_eq(lines, 2, "one line per run");
  char text[65536] = "";
  f = fopen(report, "r");
  cr_assert(f);
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = 0;
  fclose(f);
  cr_assert(strstr(text, "## Task sweeps") && strstr(text, "ssd"), "the report scores the sweep");
  run_cli(&r, (const char *[]){"suite", "--resume", run_dir, NULL});
  cr_assert_eq(r.status, 0, "stderr: %s", r.err);
  cr_assert(strstr(r.err, "2 finished") && strstr(r.err, "0 to do"), "the resumed suite trains nothing again: %s", r.err);
  expect_usage_error((const char *[]){"suite", "--preset", "ci", "--tasks", "no-such-sweep", "--out", dir, NULL},
                     "neither a sweep preset");
}

/* A run directory's efficiency.json (and the tables of efficiency.md): the report's efficiency
 * section and claim 9's CPU figure; a corrupt document is one error line. */
Test(cli, report_reads_the_efficiency_document) {
  char dir[600], path[800];
  snprintf(dir, sizeof dir, "%s", test_dir("report-efficiency"));
  snprintf(path, sizeof path, "%s/efficiency.json", dir);
  write_text(path, "{\"schema_version\": 1, \"kind\": \"efficiency\", \"hardware_id\": \"hw-x\", \"device\": \"cpu\", "
                   "\"shape\": {\"d\": 128, \"layers\": 8}, \"architectures\": ["
                   "{\"name\": \"mixcon-1:7\", \"points\": [{\"ctx\": 8192, \"prefill_s\": 1.0, \"decode_s_per_token\": 0.001}]},"
                   "{\"name\": \"mixtral\", \"points\": [{\"ctx\": 8192, \"prefill_s\": 3.0, \"decode_s_per_token\": 0.003}]},"
                   "{\"name\": \"jamba-1:7\", \"points\": [{\"ctx\": 8192, \"prefill_s\": 2.0, \"decode_s_per_token\": 0.002}]}]}");
  snprintf(path, sizeof path, "%s/efficiency.md", dir);
  write_text(path, "# Long-context efficiency on hw-x\n\nPrefill tokens/s\n\n| architecture | 8192 |\n|---|---:|\n| mixtral | 2731 |\n");
  run_cli(&r, (const char *[]){"report", "--run", dir, NULL});
  cr_assert_eq(r.status, 0, "stderr: %s", r.err);
  snprintf(path, sizeof path, "%s/report.md", dir);
  FILE *f = fopen(path, "r");
  cr_assert(f, "%s", path);
  char text[65536];
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = 0;
  fclose(f);
  cr_assert(strstr(text, "## Long-context efficiency") && strstr(text, "| mixtral | 2731 |"), "%s", text);
  cr_assert(!strstr(text, "# Long-context efficiency on hw-x"), "the document's own title is left out: %s", text);
  cr_assert(strstr(text, "the efficiency sweep ran on the CPU (CPU `hw-x`") && strstr(text, "= 3.00x Mixtral (paper 3.0x)"), "%s",
            text);
  snprintf(path, sizeof path, "%s/efficiency.json", dir);
  write_text(path, "{\"schema_version\": 1, \"kind\": \"efficiency\", \"archi");
  run_cli(&r, (const char *[]){"report", "--run", dir, NULL});
  cr_assert_neq(r.status, 0);
  cr_assert(strstr(r.err, "efficiency.json"), "%s", r.err);
  expect_usage_error((const char *[]){"suite", "--efficiency", "full", NULL}, "--efficiency full: expected quick or none");
}

/* --op a,b times several ops in one run; ops with param_bytes record it per case. */
Test(cli, bench_op_list_and_param_bytes, .timeout = 600) {
  char dir[600];
  snprintf(dir, sizeof dir, "%s", test_dir("bench-op-list"));
  run_cli(&r, (const char *[]){"bench", "--suite", "ci", "--op", "moe_router,cdmoe_router", "--variant",
                               "cpu.dense,cpu.pk", "--repetitions", "1", "--min-time", "0.001", "--out", dir, NULL});
  cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
  char path[700];
  json_t *doc = NULL;
  snprintf(path, sizeof path, "%s/bench.json", dir);
  cr_assert_eq(smx_json_read_doc(path, "bench", &doc), SMX_OK, "%s", smx_last_error());
  int seen[2] = {0, 0};
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(doc, "benchmarks"), i, e) {
    const char *op = json_string_value(json_object_get(e, "op"));
    cr_assert(op && (!strcmp(op, "moe_router") || !strcmp(op, "cdmoe_router")), "op %s", op ? op : "(none)");
    int k = !strcmp(op, "cdmoe_router");
    seen[k]++;
    const char *var = json_string_value(json_object_get(e, "variant"));
    cr_assert(var && !strcmp(var, k ? "cpu.pk" : "cpu.dense"), "%s %s: only the listed variants", op, var);
    /* cdmoe_router: H x 2 sqrt(E) sub-keys of d floats; moe_router: E rows of d */
    json_t *pb = json_object_get(e, "param_bytes");
    cr_assert(json_is_number(pb), "%s has param_bytes", op);
    json_t *p = json_object_get(e, "params");
    double d = (double)json_integer_value(json_object_get(p, "d")), E = (double)json_integer_value(json_object_get(p, "E"));
    if (k) {
      double H = (double)json_integer_value(json_object_get(p, "H"));
      cr_assert_float_eq(json_number_value(pb), 4.0 * H * 2 * sqrt(E) * d, 0.5, "cdmoe_router param_bytes");
    } else {
      cr_assert_float_eq(json_number_value(pb), 4.0 * E * d, 0.5, "moe_router param_bytes (the router)");
    }
  }
  cr_assert(seen[0] > 0 && seen[1] > 0, "both ops timed (%d, %d)", seen[0], seen[1]);
  json_decref(doc);
}

/* A run holding cdmoe and moe at the same T, d, E and S gets the versus figure: cdmoe's variants
 * beside moe's loop and grouped layers. */
Test(cli, versus_figure_from_two_ops, .timeout = 600) {
  char dirs[4][600], path[2600];
  /* two E per op: a figure needs two points on its x axis */
  const char *sh[4] = {"T=64,d=32,E=16,H=1,kh=4,kp=4,S=32", "T=64,d=32,E=64,H=1,kh=4,kp=4,S=32",
                       "T=64,d=32,E=16,k=2,F=8,S=32", "T=64,d=32,E=64,k=2,F=8,S=32"};
  const char *ops[4] = {"cdmoe", "cdmoe", "moe", "moe"};
  json_t *a = NULL;
  for (int k = 0; k < 4; k++) {
    char name[32];
    snprintf(name, sizeof name, "versus-%d", k);
    snprintf(dirs[k], sizeof dirs[k], "%s", test_dir(name));
    run_cli(&r, (const char *[]){"bench", "--op", ops[k], "--shape", sh[k], "--repetitions", "1", "--min-time",
                                 "0.001", "--out", dirs[k], NULL});
    cr_assert_eq(r.status, 0, "%s: %s", ops[k], r.err);
    json_t *b = NULL;
    snprintf(path, sizeof path, "%s/bench.json", dirs[k]);
    cr_assert_eq(smx_json_read_doc(path, "bench", &b), SMX_OK, "%s", smx_last_error());
    if (!a) a = b;
    else {
      json_array_extend(json_object_get(a, "benchmarks"), json_object_get(b, "benchmarks"));
      json_decref(b);
    }
  }
  const char *dir = dirs[0];
  snprintf(path, sizeof path, "%s/bench.json", dir);
  cr_assert_eq(smx_json_write_atomic(path, a), SMX_OK, "%s", smx_last_error());
  json_decref(a);
  run_cli(&r, (const char *[]){"plot", "--run", dir, NULL});
  cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
  const char *key = "t-64-d-32-h-1-kh-4-kp-4-s-32-ties-0";
  for (int p = 0; p < 2; p++) {
    snprintf(path, sizeof path, "%s/plots/cdmoe_%s_%s_versus.png", dir, p ? "bwd" : "fwd", key);
    cr_assert_gt(file_size(path), 2000, "%s", path);
    snprintf(path, sizeof path, "%s/plots/cdmoe_%s_%s_versus.csv", dir, p ? "bwd" : "fwd", key);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    char head[512] = "";
    cr_assert(fgets(head, sizeof head, f));
    fclose(f);
    cr_assert(strstr(head, "cdmoe/cpu.pk") && strstr(head, "moe/cpu.loop") && strstr(head, "moe/cpu.grouped"), "%s",
              head);
  }
}
