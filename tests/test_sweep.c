/* Sweeps (tasks/sweep.c, cli/cmd_sweep_run.c): presets expand to the anchors' grids, bad specs get
 * one line, `seqmix sweep run` appends one line per run, resumes, and splits into shards.
 *   build/tests/seqmix_tests --filter sweep/'*' */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "seqmix/results_store.h"
#include "seqmix/sweep.h"
#include "test_helpers.h"

static json_t *expand_preset(const char *name) {
  json_t *spec = NULL, *runs = NULL;
  cr_assert_eq(smx_sweep_preset(name, &spec), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_sweep_expand(spec, &runs), SMX_OK, "%s", smx_last_error());
  json_decref(spec);
  return runs;
}

Test(sweep, presets_expand_to_the_anchors_grids) {
  /* Zoology Figure 2: 4 (L, N) points x 4 widths x 4 learning rates x 3 seeds */
  json_t *runs = expand_preset("paper-zoology");
  cr_assert_eq(json_array_size(runs), 4 * 4 * 4 * 3);
  json_t *last = json_array_get(runs, json_array_size(runs) - 1);
  cr_assert_str_eq(json_string_value(json_object_get(last, "params")), "V=8192,L=512,N=64");
  cr_assert_eq(json_integer_value(json_object_get(last, "batch")), 128, "the point's batch overrides the spec's");
  cr_assert_eq(json_integer_value(json_object_get(last, "epochs")), 64);
  smx_train_config c;
  cr_assert_eq(smx_sweep_train_config(last, &c), SMX_OK, "%s", smx_last_error());
  cr_assert(c.model.d == 512 && c.epochs == 64 && c.n_train == 100000 && c.n_test == 3000 && c.schedule == SMX_LR_COSINE_EPOCH);
  cr_assert_float_eq(c.lr, 0.01f, 1e-9);
  json_decref(runs);
  /* H3 Table 2: each task with its own epochs and schedule */
  runs = expand_preset("paper-h3");
  cr_assert_eq(json_array_size(runs), 2 * 3);
  json_t *ih = json_array_get(runs, 0), *ar = json_array_get(runs, 3);
  cr_assert_str_eq(json_string_value(json_object_get(ih, "task")), "induction_head");
  cr_assert_eq(json_integer_value(json_object_get(ih, "epochs")), 400);
  cr_assert_str_eq(json_string_value(json_object_get(ih, "schedule")), "warmup-cosine");
  cr_assert_str_eq(json_string_value(json_object_get(ar, "task")), "assoc_recall");
  cr_assert_eq(json_integer_value(json_object_get(ar, "epochs")), 200);
  json_decref(runs);
  /* the Wonderful Matrices MQAR grid: 4 (L, N = L/8) points x 3 mixers x 4 widths x 4 lrs x 3 seeds */
  runs = expand_preset("paper-wm");
  cr_assert_eq(json_array_size(runs), 4 * 3 * 4 * 4 * 3);
  last = json_array_get(runs, json_array_size(runs) - 1);
  cr_assert_str_eq(json_string_value(json_object_get(last, "params")), "V=8192,L=2048,N=256");
  cr_assert_eq(json_integer_value(json_object_get(last, "batch")), 32);
  cr_assert_str_eq(json_string_value(json_object_get(last, "mixer")), "dma");
  int ssd128 = 0;
  for (size_t i = 0; i < json_array_size(runs); i++) {
    json_t *run = json_array_get(runs, i);
    if (!strcmp(json_string_value(json_object_get(run, "mixer")), "ssd")) {
      cr_assert_str_eq(json_string_value(json_object_get(run, "options")), "ssd.N=128");
      ssd128++;
    }
  }
  cr_assert_eq(ssd128, 4 * 4 * 4 * 3);
  cr_assert_eq(smx_sweep_train_config(last, &c), SMX_OK, "%s", smx_last_error());
  json_decref(runs);
  /* quick: attention and the fixed-state ssd at two (L, N) points, two lrs, 3 seeds */
  runs = expand_preset("quick");
  cr_assert_eq(json_array_size(runs), 2 * 2 * 2 * 3);
  json_decref(runs);
  /* ruler-quick: each point its own task, every run a valid training config */
  runs = expand_preset("ruler-quick");
  cr_assert_eq(json_array_size(runs), 5 * 2 * 2);
  static const char *const ruler[5] = {"passkey", "niah", "vartrack", "cwe", "fwe"};
  for (size_t i = 0; i < json_array_size(runs); i++) {
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(runs, i), "task")), ruler[i / 4]);
    cr_assert_eq(smx_sweep_train_config(json_array_get(runs, i), &c), SMX_OK, "%s", smx_last_error());
  }
  json_decref(runs);
  json_t *spec;
  cr_assert_eq(smx_sweep_preset("huge", &spec), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "unknown sweep preset 'huge'"), "%s", smx_last_error());
}

/* The LRA presets: every run a valid training config with the mean-pooling head; the paper ones
 * with S4's recipe per task (reference/tasks.md §3.8): 6 layers, AdamW with 10% warm-up then
 * cosine, weight decay 0.05, and the per-task width, lr, batch and epochs. */
Test(sweep, lra_presets_carry_s4_recipes) {
  static const struct {
    const char *name, *task;
    int64_t d, batch, epochs, n_train, n_test;
    double lr;
  } paper[] = {{"lra-listops-paper", "listops", 256, 32, 40, 96000, 2000, 0.01},
               {"lra-text-paper", "lra_text", 256, 16, 32, 25000, 25000, 0.01},
               {"lra-retrieval-paper", "lra_retrieval", 256, 64, 20, 147086, 17437, 0.01},
               {"lra-image-paper", "lra_image", 512, 50, 200, 45000, 10000, 0.01},
               {"lra-pathfinder-paper", "pathfinder", 256, 64, 200, 160000, 20000, 0.004},
               {"lra-pathx-paper", "pathx", 256, 16, 50, 160000, 20000, 0.001}};
  for (size_t i = 0; i < sizeof paper / sizeof paper[0]; i++) {
    json_t *runs = expand_preset(paper[i].name);
    cr_assert_eq(json_array_size(runs), 5 * 3, "%s", paper[i].name);
    smx_train_config c;
    cr_assert_eq(smx_sweep_train_config(json_array_get(runs, 0), &c), SMX_OK, "%s", smx_last_error());
    cr_assert_str_eq(c.task.task->name, paper[i].task);
    cr_assert(c.model.layers == 6 && c.model.d == paper[i].d && c.batch == paper[i].batch && c.epochs == paper[i].epochs &&
                  c.n_train == paper[i].n_train && c.n_test == paper[i].n_test,
              "%s", paper[i].name);
    cr_assert(c.schedule == SMX_LR_WARMUP_COSINE && fabs(c.warmup - 0.1) < 1e-12 && fabsf(c.weight_decay - 0.05f) < 1e-7f);
    cr_assert_float_eq(c.lr, (float)paper[i].lr, 1e-9, "%s", paper[i].name);
    cr_assert_eq(c.model.pool, SMX_POOL_MEAN, "%s", paper[i].name);
    json_decref(runs);
  }
  static const char *const quick[] = {"lra-listops-quick", "lra-pathfinder-quick", "lra-text-quick", "lra-retrieval-quick",
                                      "lra-image-quick"};
  for (size_t i = 0; i < sizeof quick / sizeof quick[0]; i++) {
    json_t *runs = expand_preset(quick[i]);
    cr_assert_eq(json_array_size(runs), 4 * 2, "%s", quick[i]);
    smx_train_config c;
    cr_assert_eq(smx_sweep_train_config(json_array_get(runs, 7), &c), SMX_OK, "%s", smx_last_error());
    cr_assert(c.model.pool == SMX_POOL_MEAN && c.model.layers == 2 && c.model.d == 64, "%s", quick[i]);
    json_decref(runs);
  }
}

static void expect_bad(const char *text, const char *needle) {
  json_error_t err;
  json_t *spec = json_loads(text, 0, &err), *runs = NULL;
  cr_assert(spec, "%s", err.text);
  cr_assert_eq(smx_sweep_expand(spec, &runs), SMX_ERR_INVALID, "%s", text);
  cr_assert(strstr(smx_last_error(), needle), "'%s' lacks '%s'", smx_last_error(), needle);
  cr_assert_null(runs);
  json_decref(spec);
}

#define GOOD_REST                                                                                                      \
  "\"layers\": 1, \"heads\": 1, \"mlp\": 0, \"epochs\": 1, \"batch\": 8, \"n_train\": 16, \"n_test\": 8, "             \
  "\"schedule\": \"cosine\", \"warmup\": 0, \"weight_decay\": 0.1, \"target\": 0.99"

Test(sweep, bad_specs_get_one_line) {
  expect_bad("{\"task\": \"mqar\", \"points\": [], \"mixers\": [\"attention\"], \"d\": [8], \"lr\": [0.001], "
             "\"seeds\": [1], " GOOD_REST "}",
             "'points' must be a non-empty list");
  expect_bad("{\"task\": \"mqar\", \"points\": [\"V=64,L=16,N=2\"], \"mixers\": [\"attention\"], \"d\": [8], \"lr\": [0.001], "
             "\"seeds\": [1], \"colour\": 3, " GOOD_REST "}",
             "unknown key 'colour'");
  expect_bad("{\"task\": \"mqar\", \"points\": [\"V=64,L=16,N=2\"], \"mixers\": [\"telepathy\"], \"d\": [8], \"lr\": [0.001], "
             "\"seeds\": [1], " GOOD_REST "}",
             "mixer 'telepathy'");
  expect_bad("{\"task\": \"mqar\", \"points\": [\"V=64,L=15,N=2\"], \"mixers\": [\"attention\"], \"d\": [8], \"lr\": [0.001], "
             "\"seeds\": [1], " GOOD_REST "}",
             "L");
  expect_bad("{\"task\": \"mqar\", \"points\": [\"V=64,L=16,N=2\"], \"mixers\": [\"attention\"], \"d\": [8], \"lr\": [-1], "
             "\"seeds\": [1], " GOOD_REST "}",
             "'lr' must be a number");
  expect_bad("{\"task\": \"mqar\", \"points\": [\"V=64,L=16,N=2\"], \"mixers\": [\"attention\"], \"d\": [8], \"lr\": [0.001], "
             "\"seeds\": [1], \"layers\": 1}",
             "is missing");
  expect_bad("{\"task\": \"mqar\", \"points\": [\"V=64,L=16,N=2\"], \"mixers\": [{\"mixer\": \"attention\", \"channel\": \"ssd\"}], "
             "\"d\": [8], \"lr\": [0.001], \"seeds\": [1], " GOOD_REST "}",
             "channel mixer 'ssd' is not known");
  expect_bad("{\"task\": \"mqar\", \"points\": [\"V=64,L=16,N=2\"], \"mixers\": [\"attention\"], \"options\": \"attention.x=1\", "
             "\"d\": [8], \"lr\": [0.001], \"seeds\": [1], " GOOD_REST "}",
             "not an option of attention");
}

Test(sweep, mixer_entries_carry_channel_and_options) {
  json_error_t e;
  json_t *spec = json_loads("{\"task\": \"mqar\", \"points\": [\"V=64,L=16,N=2\"], \"mixers\": [\"attention\", "
                            "{\"mixer\": \"attention\", \"channel\": \"none,mlp\"}], \"d\": [8], \"lr\": [0.001], "
                            "\"seeds\": [1], \"layers\": 2, \"heads\": 1, \"mlp\": 0, \"epochs\": 1, \"batch\": 8, "
                            "\"n_train\": 16, \"n_test\": 8, \"schedule\": \"cosine\", \"warmup\": 0, \"weight_decay\": 0.1, "
                            "\"target\": 0.99}", 0, &e);
  cr_assert(spec, "%s", e.text);
  json_t *runs = NULL;
  cr_assert_eq(smx_sweep_expand(spec, &runs), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(json_array_size(runs), 2);
  cr_assert_null(json_object_get(json_array_get(runs, 0), "channel")); /* unset: the config keeps its old identity */
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(runs, 1), "channel")), "none,mlp");
  smx_train_config c;
  cr_assert_eq(smx_sweep_train_config(json_array_get(runs, 1), &c), SMX_OK);
  cr_assert_str_eq(c.model.channel, "none,mlp");
  cr_assert_eq(c.model.d_ff, 32);
  cr_assert_eq(c.model.pool, SMX_POOL_NONE);
  json_decref(runs);
  /* "pool": spec-wide or per point, in the run's config only when set */
  json_object_set_new(spec, "points", json_pack("[s, {s:s, s:s}]", "V=64,L=16,N=2", "params", "V=64,L=16,N=2", "pool", "mean"));
  cr_assert_eq(smx_sweep_expand(spec, &runs), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(json_array_size(runs), 4);
  cr_assert_null(json_object_get(json_array_get(runs, 0), "pool"));
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(runs, 2), "pool")), "mean");
  cr_assert_eq(smx_sweep_train_config(json_array_get(runs, 2), &c), SMX_OK);
  cr_assert_eq(c.model.pool, SMX_POOL_MEAN);
  json_decref(runs);
  json_object_set_new(spec, "pool", json_string("cls"));
  cr_assert_eq(smx_sweep_expand(spec, &runs), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "unknown pool 'cls'"), "%s", smx_last_error());
  json_decref(spec);
}

static cli_result r;

static long count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long n = 0;
  int ch;
  while ((ch = fgetc(f)) != EOF) n += ch == '\n';
  fclose(f);
  return n;
}

/* Four tiny runs: run, rerun (nothing to do), shards, an interrupted file resumed. */
Test(sweep, run_appends_resumes_and_shards, .timeout = 600) {
  char dir[600], spec[700], out[700], s0[700], s1[700], merged[700];
  snprintf(dir, sizeof dir, "%s", test_dir("sweep-run"));
  snprintf(spec, sizeof spec, "%s/spec.json", dir);
  snprintf(out, sizeof out, "%s/all.jsonl", dir);
  write_text(spec, "{\"name\": \"tiny\", \"task\": \"mqar\", \"points\": [\"V=32,L=8,N=1\", \"V=32,L=16,N=2\"], "
                   "\"mixers\": [\"attention\"], \"d\": [8], \"lr\": [0.001, 0.01], \"seeds\": [1], " GOOD_REST "}");
  run_cli(&r, (const char *[]){"sweep", "run", "--spec", spec, "--out", out, "--threads", "1", NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert(strstr(r.err, "4 runs: 0 finished") && strstr(r.err, "run 4 of 4"), "%s", r.err);
  cr_assert_eq(count_lines(out), 4);
  smx_results res = {0};
  cr_assert_eq(smx_results_load(&res, out, 0, NULL), SMX_OK);
  cr_assert_eq(res.n, 4);
  json_t *line = res.recs[0].line;
  json_t *meta = json_object_get(line, "meta"), *result = json_object_get(line, "result");
  cr_assert(json_is_number(json_object_get(result, "test_acc")) && json_is_array(json_object_get(result, "loss_curve")));
  cr_assert(json_is_number(json_object_get(meta, "tokens_per_s")) && json_integer_value(json_object_get(meta, "threads")) == 1 &&
            json_is_string(json_object_get(meta, "hardware_id")) && json_is_string(json_object_get(meta, "revision")));
  smx_results_free(&res);

  run_cli(&r, (const char *[]){"sweep", "run", "--spec", spec, "--out", out, NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert(strstr(r.err, "4 finished") && strstr(r.err, "0 to do"), "%s", r.err);
  cr_assert_eq(count_lines(out), 4, "a rerun trains nothing");

  /* two shards cover the four runs once; merged, they equal the whole sweep's runs */
  snprintf(s0, sizeof s0, "%s/s0.jsonl", dir);
  snprintf(s1, sizeof s1, "%s/s1.jsonl", dir);
  snprintf(merged, sizeof merged, "%s/merged.jsonl", dir);
  run_cli(&r, (const char *[]){"sweep", "run", "--spec", spec, "--out", s0, "--shard", "0/2", "--threads", "1", NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  run_cli(&r, (const char *[]){"sweep", "run", "--spec", spec, "--out", s1, "--shard", "1/2", "--threads", "1", NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_eq(count_lines(s0) + count_lines(s1), 4);
  run_cli(&r, (const char *[]){"sweep", "merge", merged, s0, s1, out, NULL});
  cr_assert_eq(r.status, 0, "runs at a fixed thread count repeat exactly, so no conflicts: %s", r.err);
  cr_assert_eq(count_lines(merged), 4);

  /* an interrupted sweep: the last line cut mid-way is skipped with a warning and run again */
  FILE *f = fopen(out, "r+");
  cr_assert(f);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  cr_assert_eq(truncate(out, size - 40), 0);
  run_cli(&r, (const char *[]){"sweep", "run", "--spec", spec, "--out", out, "--threads", "1", NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert(strstr(r.err, "warning") && strstr(r.err, "3 finished") && strstr(r.err, "1 to do"), "%s", r.err);
  smx_results res2 = {0};
  cr_assert_eq(smx_results_load(&res2, out, 0, NULL), SMX_OK);
  cr_assert_eq(res2.n, 4);
  smx_results_free(&res2);

  run_cli(&r, (const char *[]){"sweep", "run", "--preset", "quick", "--out", out, "--dry-run", NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert(strstr(r.err, "24 runs"), "%s", r.err);

  /* two worker processes: the same four runs with the same results, no job files left behind */
  char jobs[700], left[720];
  snprintf(jobs, sizeof jobs, "%s/jobs.jsonl", dir);
  run_cli(&r, (const char *[]){"sweep", "run", "--spec", spec, "--out", jobs, "--jobs", "2", NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert(strstr(r.err, "[job 0/2]") && strstr(r.err, "[job 1/2]") && strstr(r.err, "4 runs done by 2 workers"), "%s", r.err);
  /* each worker's epoch lines, whole and tagged */
  cr_assert(strstr(r.err, "\n[job 0/2]   epoch 1/") && strstr(r.err, "\n[job 1/2]   epoch 1/"), "%s", r.err);
  cr_assert_eq(count_lines(jobs), 4);
  snprintf(left, sizeof left, "%s.job0", jobs);
  cr_assert_neq(access(left, F_OK), 0, "the job files are merged and deleted");
  run_cli(&r, (const char *[]){"sweep", "merge", merged, jobs, NULL});
  cr_assert_eq(r.status, 0, "workers run at 1 thread: their results equal the single-process ones: %s", r.err);
  cr_assert_eq(count_lines(merged), 4);

  /* an interrupted worker's file is taken in at the next start: its runs are not trained again */
  snprintf(jobs, sizeof jobs, "%s/resumed.jsonl", dir);
  snprintf(left, sizeof left, "%s.job1", jobs);
  char cmd[2000];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", s0, left);
  cr_assert_eq(system(cmd), 0);
  int had = count_lines(s0);
  run_cli(&r, (const char *[]){"sweep", "run", "--spec", spec, "--out", jobs, "--jobs", "2", NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  char want[64];
  snprintf(want, sizeof want, "%d finished", had);
  cr_assert(strstr(r.err, want), "'%s' lacks '%s'", r.err, want);
  cr_assert_eq(count_lines(jobs), 4);
  cr_assert_neq(access(left, F_OK), 0);
}

Test(sweep, bad_arguments_get_one_line) {
  const char *cases[][11] = {
      {"sweep", "run", "--out", "/tmp/x.jsonl", NULL},
      {"sweep", "run", "--preset", "quick", NULL},
      {"sweep", "run", "--preset", "nope", "--out", "/tmp/x.jsonl", NULL},
      {"sweep", "run", "--preset", "quick", "--out", "/tmp/x.jsonl", "--shard", "2/2"},
      {"sweep", "run", "--spec", "/nonexistent/spec.json", "--out", "/tmp/x.jsonl", NULL},
      {"sweep", "run", "--preset", "quick", "--out", "/tmp/x.jsonl", "--jobs", "0", NULL},
      {"sweep", "run", "--preset", "quick", "--out", "/tmp/x.jsonl", "--jobs", "2", "--job", "0/2"},
      {"sweep", "run", "--preset", "quick", "--out", "/nonexistent/x.jsonl", NULL}, /* before training, not after */
  };
  const char *needles[] = {"give one of --preset NAME or --spec FILE", "--out FILE is required", "unknown sweep preset 'nope'",
                           "2/2", "/nonexistent/spec.json", "--jobs", "exclude each other",
                           "its folder /nonexistent does not exist"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    run_cli(&r, cases[i]);
    cr_assert_eq(r.status, 2, "case %zu: exit %d, %s", i, r.status, r.err);
    cr_assert_eq(r.err_lines, 1, "case %zu: %s", i, r.err);
    cr_assert(strstr(r.err, needles[i]), "case %zu: '%s' lacks '%s'", i, r.err, needles[i]);
  }
}

/* Workers end with their parent: killed alone, it must not leave them training (and a later
 * `sweep run` starting second writers on their job files). */
Test(sweep, workers_end_with_their_parent, .timeout = 120) {
  char dir[600], spec[700], out[700], cmd[5000];
  snprintf(dir, sizeof dir, "%s", test_dir("sweep-orphans"));
  snprintf(spec, sizeof spec, "%s/spec.json", dir);
  snprintf(out, sizeof out, "%s/orphans.jsonl", dir);
  write_text(spec, "{\"name\": \"long\", \"task\": \"mqar\", \"points\": [\"V=64,L=16,N=2\"], \"mixers\": [\"attention\"], "
                   "\"d\": [16], \"lr\": [0.01], \"seeds\": [1, 2], \"layers\": 1, \"heads\": 1, \"mlp\": 0, \"epochs\": 1024, "
                   "\"batch\": 8, \"n_train\": 4096, \"n_test\": 16, \"schedule\": \"cosine\", \"warmup\": 0, "
                   "\"weight_decay\": 0.1, \"target\": 1}");
  /* start, wait for both workers, kill the parent alone, then count what is left ("[-]-job": the
   * pattern must not match this shell's own command line) */
  snprintf(cmd, sizeof cmd,
           "'%s' sweep run --spec '%s' --out '%s' --jobs 2 2>/dev/null & p=$!; "
           "for i in $(seq 100); do [ $(pgrep -f -- '%s [-]-job' | wc -l) -ge 2 ] && break; sleep 0.1; done; "
           "kill $p; for i in $(seq 50); do pgrep -f -- '%s [-]-job' >/dev/null || exit 0; sleep 0.1; done; "
           "pkill -f -- '%s [-]-job'; exit 1",
           SMX_CLI_PATH, spec, out, out, out, out);
  cr_assert_eq(system(cmd), 0, "workers kept running after their parent was killed");
}
