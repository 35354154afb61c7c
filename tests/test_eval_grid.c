/* The evaluation grid (include/seqmix/train.h): a trained model evaluated at other task parameters
 * (length, needle depth), `seqmix task train --eval`, the sweep key "evals" and the needle-grid
 * preset (tasks/sweep.c), and the heat map of `seqmix sweep plot` (cli/sweep_plot.c).
 *   build/tests/seqmix_tests --filter eval_grid/'*'
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/results_store.h"
#include "seqmix/sweep.h"
#include "seqmix/train.h"
#include "test_helpers.h"

/* A tiny passkey run: L = 32, a 2-digit key, one layer, 1 epoch of 64 examples. */
static void tiny(smx_train_config *c, const char *mixer, const char *options, int64_t max_len) {
  smx_train_defaults(c);
  const smx_task *t;
  cr_assert_eq(smx_task_lookup("passkey", &t), SMX_OK);
  cr_assert_eq(smx_task_config_parse(t, "L=32,depth=-1,D=2", &c->task), SMX_OK, "%s", smx_last_error());
  c->n_train = 64, c->n_test = 24, c->batch = 8, c->epochs = 1;
  c->model.d = 16, c->model.layers = 1, c->model.heads = 1, c->model.d_ff = 64, c->model.max_len = max_len;
  snprintf(c->model.mixer, sizeof c->model.mixer, "%s", mixer);
  snprintf(c->model.options, sizeof c->model.options, "%s", options);
  c->lr = 3e-3f, c->target_acc = 2;
  c->threads = 1;
}

static void one_line_error(const char *must_hold) {
  const char *e = smx_last_error();
  cr_assert(strstr(e, must_hold), "error '%s' lacks '%s'", e, must_hold);
  cr_assert_null(strchr(e, '\n'), "one line: '%s'", e);
}

Test(eval_grid, evals_override_the_trained_parameters) {
  smx_train_config c;
  tiny(&c, "attention", "attention.rope=1", 0);
  smx_task_config ev[4];
  int n = 0;
  cr_assert_eq(smx_train_evals_parse(&c.task, "L=64,depth=0; ;L=16,depth=100;", ev, 4, &n), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(n, 2, "empty entries are skipped");
  cr_assert_eq(smx_task_seq_len(&ev[0]), 64);
  cr_assert_float_eq(smx_task_get(&ev[0], "depth"), 0, 1e-12);
  cr_assert_float_eq(smx_task_get(&ev[0], "D"), 2, 1e-12, "the trained D is kept");
  cr_assert_eq(smx_task_seq_len(&ev[1]), 16);
  cr_assert_neq(smx_train_evals_parse(&c.task, "L=64,foo=1", ev, 4, &n), SMX_OK);
  one_line_error("no parameter 'foo'");
  cr_assert_neq(smx_train_evals_parse(&c.task, "L=64;L=32;L=16", ev, 2, &n), SMX_OK);
  one_line_error("more than 2");
  cr_assert_neq(smx_train_evals_parse(&c.task, ";", ev, 4, &n), SMX_OK);
  one_line_error("names no configuration");
  cr_assert_neq(smx_train_eval_parse(&c.task, "L=4", ev), SMX_OK, "passkey's own validation: L >= 2D + 2");
  one_line_error("L=4");
}

Test(eval_grid, evals_recorded_with_length_and_depth, .timeout = 300) {
  smx_train_config c;
  tiny(&c, "attention", "attention.rope=1", 0);
  smx_task_config ev[3];
  int n = 0;
  cr_assert_eq(smx_train_evals_parse(&c.task, "L=32,depth=0;L=64,depth=50;L=16,depth=100", ev, 3, &n), SMX_OK);
  c.evals = ev, c.n_evals = n;
  static smx_train_result r;
  cr_assert_eq(smx_train(&c, &r), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(r.n_evals, 3);
  const int64_t Ls[3] = {32, 64, 16};
  const double depths[3] = {0, 50, 100};
  for (int i = 0; i < 3; i++) {
    cr_expect_eq(r.evals[i].L, Ls[i]);
    cr_expect(r.evals[i].has_depth);
    cr_expect_float_eq(r.evals[i].depth, depths[i], 1e-12);
    cr_expect(r.evals[i].test_acc >= 0 && r.evals[i].test_acc <= 1);
    cr_expect(r.evals[i].exact_match >= 0 && r.evals[i].exact_match <= r.evals[i].span_match + 1e-12);
  }
  cr_expect_str_eq(r.evals[1].params, "L=64,depth=50,D=2");
  json_t *j = smx_train_metrics_json(&r);
  json_t *a = json_object_get(j, "evals");
  cr_assert_eq(json_array_size(a), 3);
  cr_expect_eq(json_integer_value(json_object_get(json_array_get(a, 1), "L")), 64);
  cr_expect_float_eq(json_real_value(json_object_get(json_array_get(a, 2), "depth")), 100, 1e-12);
  cr_expect_str_eq(json_string_value(json_object_get(json_array_get(a, 1), "params")), "L=64,depth=50,D=2");
  cr_expect(json_is_real(json_object_get(json_array_get(a, 0), "exact_match")));
  json_decref(j);
  /* without evaluations the result keeps its form: no "evals" key */
  r.n_evals = 0;
  j = smx_train_metrics_json(&r);
  cr_expect_null(json_object_get(j, "evals"));
  json_decref(j);
}

/* An evaluation at the training configuration sees the same test set through the same parameters
 * in the same batches: the run's own test scores, exactly. */
static void same_as_test(const char *mixer, const char *options) {
  smx_train_config c;
  tiny(&c, mixer, options, 0);
  c.model.layers = 2;
  c.epochs = 2;
  smx_task_config ev[1];
  cr_assert_eq(smx_train_eval_parse(&c.task, "L=32", ev), SMX_OK);
  c.evals = ev, c.n_evals = 1;
  static smx_train_result r;
  cr_assert_eq(smx_train(&c, &r), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(r.n_evals, 1);
  cr_expect_eq(r.evals[0].test_acc, r.test_acc, "%s: eval %.17g, test %.17g", mixer, r.evals[0].test_acc, r.test_acc);
  cr_expect_eq(r.evals[0].exact_match, r.test_exact);
  cr_expect_eq(r.evals[0].span_match, r.test_span_match);
  cr_expect_float_eq(r.evals[0].depth, -1, 1e-12);
}

Test(eval_grid, eval_at_training_config_is_the_test_score, .timeout = 300) {
  same_as_test("attention", "attention.rope=1");
  same_as_test("ssd", "");
  same_as_test("attention,ssd", "attention.rope=1");
}

Test(eval_grid, refusals_are_one_line_before_training) {
  smx_train_config c;
  static smx_train_result r;
  smx_task_config ev[1];
  /* attention-only with the default max_len: learned positions for the trained 32 tokens */
  tiny(&c, "attention", "", -1);
  c.n_train = 4096; /* the refusal comes before training */
  cr_assert_eq(smx_train_eval_parse(&c.task, "L=64", ev), SMX_OK);
  c.evals = ev, c.n_evals = 1;
  cr_assert_neq(smx_train(&c, &r), SMX_OK);
  one_line_error("learns positions for 32");
  /* within the learned positions: accepted */
  c.n_train = 16;
  cr_assert_eq(smx_train_eval_parse(&c.task, "L=16,depth=50", ev), SMX_OK);
  cr_assert_eq(smx_train(&c, &r), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(r.n_evals, 1);
  /* CUDA models */
  c.model.device = SMX_DEV_CUDA;
  cr_assert_neq(smx_train(&c, &r), SMX_OK);
  one_line_error("CPU only");
  c.model.device = SMX_DEV_CPU;
  /* another task */
  const smx_task *t;
  cr_assert_eq(smx_task_lookup("niah", &t), SMX_OK);
  cr_assert_eq(smx_task_config_parse(t, "L=64", ev), SMX_OK);
  cr_assert_neq(smx_train(&c, &r), SMX_OK);
  one_line_error("of task niah");
  c.n_evals = SMX_TRAIN_MAX_EVALS + 1;
  cr_assert_neq(smx_train(&c, &r), SMX_OK);
  one_line_error("evaluation configurations");
}

Test(eval_grid, cli_eval_and_its_errors, .timeout = 300) {
  cli_result r;
  run_cli(&r, (const char *[]){"task", "train", "--task", "passkey", "--param", "L=32,D=2", "--d", "16", "--layers", "1",
                               "--epochs", "1", "--n-train", "32", "--n-test", "8", "--batch", "8", "--threads", "1",
                               "--max-len", "0", "--options", "attention.rope=1", "--quiet", "--eval",
                               "L=48,depth=25;L=32,depth=75", NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  json_error_t err;
  json_t *j = json_loads(r.out, 0, &err);
  cr_assert(j, "%s", r.out);
  json_t *a = json_object_get(json_object_get(j, "metrics"), "evals");
  cr_assert_eq(json_array_size(a), 2);
  cr_expect_eq(json_integer_value(json_object_get(json_array_get(a, 0), "L")), 48);
  cr_expect_float_eq(json_real_value(json_object_get(json_array_get(a, 1), "depth")), 75, 1e-12);
  cr_expect_str_eq(json_string_value(json_object_get(j, "eval")), "L=48,depth=25;L=32,depth=75");
  cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "model"), "max_len")), 0);
  json_decref(j);
  run_cli(&r, (const char *[]){"task", "train", "--task", "passkey", "--param", "L=32,D=2", "--quiet", "--eval", "L=64,bogus=1", NULL});
  cr_expect_eq(r.status, 2, "%s", r.err);
  cr_expect_eq(r.err_lines, 1, "%s", r.err);
  cr_expect(strstr(r.err, "bogus"), "%s", r.err);
  run_cli(&r, (const char *[]){"task", "train", "--task", "passkey", "--param", "L=32,D=2", "--quiet", "--d", "16", "--layers",
                               "1", "--n-train", "8", "--n-test", "8", "--eval", "L=64", NULL});
  cr_expect_neq(r.status, 0);
  cr_expect_eq(r.err_lines, 1, "%s", r.err);
  cr_expect(strstr(r.err, "learns positions"), "%s", r.err);
}

Test(eval_grid, sweep_evals_key_round_trip) {
  json_error_t err;
  json_t *spec = json_loads("{\"name\": \"t\", \"task\": \"passkey\", \"points\": [\"L=32,D=2\", {\"params\": \"L=64,D=2\", "
                            "\"evals\": [\"L=128,depth=0\"], \"max_len\": 0}], \"mixers\": [\"ssd\"], \"d\": [16], "
                            "\"lr\": [0.003], \"seeds\": [1], \"layers\": 1, \"heads\": 1, \"mlp\": 0, \"epochs\": 1, "
                            "\"batch\": 8, \"n_train\": 16, \"n_test\": 8, \"schedule\": \"cosine\", \"warmup\": 0, "
                            "\"weight_decay\": 0.1, \"target\": 1, \"evals\": [\"L=32,depth=0\", \"L=64,depth=100\"]}",
                            0, &err);
  cr_assert(spec, "%s", err.text);
  json_t *runs;
  cr_assert_eq(smx_sweep_expand(spec, &runs), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(json_array_size(runs), 2);
  json_t *r0 = json_array_get(runs, 0), *r1 = json_array_get(runs, 1);
  cr_assert_eq(json_array_size(json_object_get(r0, "evals")), 2, "the spec's list");
  cr_assert_null(json_object_get(r0, "max_len"));
  cr_assert_eq(json_array_size(json_object_get(r1, "evals")), 1, "the point's list wins");
  cr_assert_eq(json_integer_value(json_object_get(r1, "max_len")), 0);
  smx_train_config c;
  cr_assert_eq(smx_sweep_train_config(r0, &c), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(c.n_evals, 2);
  cr_assert_eq(smx_task_seq_len(&c.evals[1]), 64);
  cr_assert_float_eq(smx_task_get(&c.evals[1], "depth"), 100, 1e-12);
  cr_assert_float_eq(smx_task_get(&c.evals[1], "D"), 2, 1e-12);
  cr_assert_eq(c.model.max_len, -1, "max_len unset: the trainer's default");
  cr_assert_eq(smx_sweep_train_config(r1, &c), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(c.n_evals, 1);
  cr_assert_eq(smx_task_seq_len(&c.evals[0]), 128);
  cr_assert_eq(c.model.max_len, 0);
  /* the config round-trips through JSON text */
  char *text = json_dumps(r1, JSON_COMPACT);
  json_t *back = json_loads(text, 0, &err);
  cr_assert(json_equal(back, r1));
  free(text), json_decref(back), json_decref(runs);
  /* without the key: no evals in the config (old results keep their identity) */
  json_object_del(spec, "evals");
  json_object_del(json_array_get(json_object_get(spec, "points"), 1), "evals");
  cr_assert_eq(smx_sweep_expand(spec, &runs), SMX_OK, "%s", smx_last_error());
  cr_assert_null(json_object_get(json_array_get(runs, 0), "evals"));
  cr_assert_eq(smx_sweep_train_config(json_array_get(runs, 0), &c), SMX_OK);
  cr_assert_eq(c.n_evals, 0);
  cr_assert_null(c.evals);
  json_decref(runs);
  /* bad values: one line naming them */
  json_object_set_new(spec, "evals", json_string("L=64"));
  cr_assert_neq(smx_sweep_expand(spec, &runs), SMX_OK);
  one_line_error("'evals' must be a list");
  json_object_set_new(spec, "evals", json_pack("[s]", "L=64,foo=2"));
  cr_assert_neq(smx_sweep_expand(spec, &runs), SMX_OK);
  one_line_error("no parameter 'foo'");
  json_object_set_new(spec, "evals", json_pack("[i]", 3));
  cr_assert_neq(smx_sweep_expand(spec, &runs), SMX_OK);
  one_line_error("not a parameter string");
  json_object_del(spec, "evals");
  json_object_set_new(spec, "max_len", json_integer(-2));
  cr_assert_neq(smx_sweep_expand(spec, &runs), SMX_OK);
  one_line_error("max_len");
  json_decref(spec);
}

Test(eval_grid, needle_grid_preset_expands) {
  json_t *spec, *runs;
  cr_assert_eq(smx_sweep_preset("needle-grid", &spec), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_sweep_expand(spec, &runs), SMX_OK, "%s", smx_last_error());
  cr_assert_gt(json_array_size(runs), 0);
  size_t i;
  json_t *run;
  json_array_foreach(runs, i, run) {
    smx_train_config c;
    cr_assert_eq(smx_sweep_train_config(run, &c), SMX_OK, "%s", smx_last_error());
    cr_assert_eq(c.n_evals, 20, "4 lengths x 5 depths");
    cr_assert_float_eq(smx_task_get(&c.task, "depth"), -1, 1e-12, "trained at uniform depth");
    cr_assert(c.model.max_len == 0, "no learned positions: every length can be evaluated");
  }
  json_decref(runs), json_decref(spec);
}

/* A finished run with evaluations, as `seqmix sweep run` stores it. */
static void put(const char *path, const char *mixer, int seed, double x0, double x1) {
  json_t *config = json_pack("{s:s, s:s, s:s, s:s, s:i, s:f, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:f, s:f, s:f, s:[s, s, s, s]}",
                             "task", "passkey", "params", "L=32,depth=-1,D=2", "mixer", mixer, "options", "", "d", 16,
                             "lr", 0.003, "seed", seed, "layers", 1, "heads", 1, "mlp", 0, "epochs", 1, "batch", 8,
                             "n_train", 16, "n_test", 8, "schedule", "cosine", "warmup", 0.0, "weight_decay", 0.1, "target",
                             1.0, "evals", "L=32,depth=0", "L=32,depth=100", "L=64,depth=0", "L=64,depth=100");
  json_t *evals = json_pack("[{s:s, s:i, s:f, s:f, s:f, s:f}, {s:s, s:i, s:f, s:f, s:f, s:f}, {s:s, s:i, s:f, s:f, s:f, s:f}, "
                            "{s:s, s:i, s:f, s:f, s:f, s:f}]",
                            "params", "L=32,depth=0,D=2", "L", 32, "depth", 0.0, "test_acc", x0, "exact_match", x0, "span_match", x0,
                            "params", "L=32,depth=100,D=2", "L", 32, "depth", 100.0, "test_acc", x1, "exact_match", x1, "span_match", x1,
                            "params", "L=64,depth=0,D=2", "L", 64, "depth", 0.0, "test_acc", x0 / 2, "exact_match", x0 / 2,
                            "span_match", x0 / 2, "params", "L=64,depth=100,D=2", "L", 64, "depth", 100.0, "test_acc", x1 / 2,
                            "exact_match", x1 / 2, "span_match", x1 / 2);
  json_t *result = json_pack("{s:f, s:f, s:f, s:i, s:i, s:[f], s:[f], s:o}", "test_acc", 0.5, "best_acc", 0.5, "final_loss",
                             1.0, "epochs_run", 1, "steps", 2, "loss_curve", 1.0, "acc_curve", 0.5, "evals", evals);
  json_t *meta = json_pack("{s:s}", "hardware_id", "test-hw");
  cr_assert(config && result && meta);
  cr_assert_eq(smx_results_append(path, config, result, meta, NULL), SMX_OK, "%s", smx_last_error());
  json_decref(config), json_decref(result), json_decref(meta);
}

static long size_of(const char *dir, const char *name) {
  char p[800];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return file_size(p);
}

static char *slurp(const char *dir, const char *name) {
  char p[800];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "r");
  cr_assert(f, "%s", p);
  static char buf[16384];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

Test(eval_grid, heat_map_files_written, .timeout = 120) {
  const char *dir = test_dir("eval-grid-plot");
  char path[700], out[700];
  snprintf(path, sizeof path, "%s/runs.jsonl", dir);
  snprintf(out, sizeof out, "%s/plots", dir);
  put(path, "attention", 1, 1.0, 0.5);
  put(path, "attention", 2, 0.5, 0.0);
  put(path, "ssd", 1, 0.25, 0.25);
  cli_result r;
  run_cli(&r, (const char *[]){"sweep", "plot", "--in", path, "--out", out, NULL});
  cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
  cr_expect_gt(size_of(out, "needle_grid.gp"), 0);
  cr_expect_gt(size_of(out, "needle_grid_1.tsv"), 0, "a panel per mixer");
  cr_expect_gt(size_of(out, "needle_grid_2.tsv"), 0);
  cr_expect_lt(size_of(out, "needle_grid_3.tsv"), 0);
  char listed[760];
  snprintf(listed, sizeof listed, "%s/needle_grid.md\n", out);
  cr_expect(strstr(r.out, listed), "sweep plot does not list the grid tables: %s", r.out);
  const char *md = slurp(out, "needle_grid.md");
  cr_expect(strstr(md, "| depth \\ L | 32 | 64 |"), "%s", md);
  cr_expect(strstr(md, "| 0% | 0.750 | 0.375 |"), "attention: the mean over its 2 seeds\n%s", md);
  cr_expect(strstr(md, "| 100% | 0.250 | 0.125 |"), "%s", md);
  const char *tsv = slurp(out, "needle_grid_1.tsv");
  cr_expect(strstr(tsv, "0\t1\t0.25\t32\t100\t2\n"), "%s", tsv);
  if (strstr(r.err, "gnuplot is not installed")) {
    cr_log_warn("gnuplot is not installed: the heat map's PNG and SVG were not drawn");
    return;
  }
  cr_expect_gt(size_of(out, "needle_grid.png"), 0);
  cr_expect_gt(size_of(out, "needle_grid.svg"), 0);
  cr_expect(strstr(r.out, "needle_grid.png"), "%s", r.out);
}
