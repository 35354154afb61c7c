/* Sweep scoring (tasks/sweep_score.c), `seqmix sweep score` / `sweep plot` (cli/cmd_sweep_score.c,
 * cli/sweep_plot.c), `seqmix report --sweep`, and the task claims' verdicts (cli/claims_sweep.c),
 * on results files the tests write with the store's own append.
 *   build/tests/seqmix_tests --filter sweep_score/'*'
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "seqmix/results_store.h"
#include "seqmix/sweep_score.h"
#include "test_helpers.h"

/* One finished run as `seqmix sweep run` writes it: the full config, its metrics (the loss curve
 * falls from loss0 over 3 epochs) and the hardware in meta. */
static void put(const char *path, const char *task, const char *params, const char *mixer, int d, double lr, int seed,
                double acc, double loss0) {
  json_t *config = json_pack("{s:s, s:s, s:s, s:i, s:f, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:f, s:f, s:f}",
                             "task", task, "params", params, "mixer", mixer, "d", d, "lr", lr, "seed", seed, "layers", 2,
                             "heads", 1, "mlp", 0, "epochs", 3, "batch", 8, "n_train", 16, "n_test", 8, "schedule",
                             "cosine", "warmup", 0.0, "weight_decay", 0.1, "target", 0.99);
  json_t *result = json_pack("{s:f, s:f, s:f, s:i, s:i, s:[f, f, f], s:[f, f, f]}", "test_acc", acc, "best_acc", acc,
                             "final_loss", loss0 / 4, "epochs_run", 3, "steps", 6, "loss_curve", loss0, loss0 / 2,
                             loss0 / 4, "acc_curve", acc / 3, acc / 2, acc);
  json_t *meta = json_pack("{s:s}", "hardware_id", "test-hw");
  cr_assert(config && result && meta);
  cr_assert_eq(smx_results_append(path, config, result, meta, NULL), SMX_OK, "%s", smx_last_error());
  json_decref(config), json_decref(result), json_decref(meta);
}

static void score_file(const char *path, smx_sweep_scores *s) {
  const char *paths[1] = {path};
  cr_assert_eq(smx_sweep_score_files(paths, 1, s), SMX_OK, "%s", smx_last_error());
}

/* Group d = 16: lr 0.003 has the best single run (0.9) but lr 0.001 the best seed-mean (0.6).
 * Group d = 32: lr 0.003 has one seed (0.95), beating lr 0.001's two: scored with n = 1. */
static const char *two_groups(const char *dir) {
  static char path[600];
  snprintf(path, sizeof path, "%s/runs.jsonl", dir);
  const double a1[3] = {0.5, 0.6, 0.7}, a3[3] = {0.9, 0.1, 0.65};
  for (int s = 0; s < 3; s++) {
    put(path, "mqar", "V=64,L=16,N=2", "attention", 16, 0.001, s + 1, a1[s], 4);
    put(path, "mqar", "V=64,L=16,N=2", "attention", 16, 0.003, s + 1, a3[s], 4);
  }
  put(path, "mqar", "V=64,L=16,N=2", "attention", 32, 0.001, 1, 0.8, 3);
  put(path, "mqar", "V=64,L=16,N=2", "attention", 32, 0.001, 2, 0.7, 3);
  put(path, "mqar", "V=64,L=16,N=2", "attention", 32, 0.003, 1, 0.95, 2);
  return path;
}

Test(sweep_score, best_lr_by_seed_mean_with_spread) {
  smx_sweep_scores s;
  score_file(two_groups(test_dir("score-best")), &s);
  cr_assert_eq(s.runs, 9);
  cr_assert_eq(s.n, 2, "grouping ignores lr and seed: one group per d");
  const smx_group_score *g = &s.g[0];
  cr_assert_eq(g->d, 16);
  cr_assert_str_eq(g->task, "mqar");
  cr_assert_str_eq(g->channel, "none");
  cr_assert_eq(g->L, 16);
  cr_assert_eq(g->V, 64);
  cr_assert_null(json_object_get(g->config, "lr"));
  cr_assert_null(json_object_get(g->config, "seed"));
  cr_assert_float_eq(g->best.lr, 0.001, 1e-12, "the best seed-mean, not the best single run");
  cr_assert_eq(g->best.n, 3);
  cr_assert_float_eq(g->best.mean, 0.6, 1e-12);
  cr_assert_float_eq(g->best.sd, 0.1, 1e-12);
  cr_assert_float_eq(g->best.min, 0.5, 1e-12);
  cr_assert_float_eq(g->best.max, 0.7, 1e-12);
  cr_assert_eq(g->n_lrs, 2);
  cr_assert_float_eq(g->lrs[1].mean, 0.55, 1e-12);
  cr_assert_eq(json_array_size(g->runs), 3, "the best lr's runs, for the loss curves");
  g = &s.g[1];
  cr_assert_eq(g->d, 32);
  cr_assert_float_eq(g->best.lr, 0.003, 1e-12);
  cr_assert_eq(g->best.n, 1, "a missing seed is scored with its count");
  cr_assert_float_eq(g->best.sd, 0, 1e-12);
  cr_assert_eq(g->lrs[0].n, 2);
  cr_assert_str_eq(s.hardware, "test-hw");
  json_t *doc = smx_sweep_scores_json(&s);
  cr_assert(json_is_true(json_object_get(json_array_get(json_object_get(doc, "groups"), 1), "few_seeds")));
  cr_assert(json_is_false(json_object_get(json_array_get(json_object_get(doc, "groups"), 0), "few_seeds")));
  json_decref(doc);
  smx_sweep_scores_free(&s);
}

Test(sweep_score, command_prints_and_writes_the_table) {
  const char *dir = test_dir("score-cli");
  const char *in = two_groups(dir);
  char json[600], md[600];
  snprintf(json, sizeof json, "%s/scores.json", dir);
  snprintf(md, sizeof md, "%s/scores.md", dir);
  cli_result r;
  run_cli(&r, (const char *[]){"sweep", "score", "--in", in, "--json", json, "--md", md, NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert(strstr(r.out, "0.600 ± 0.100 [0.500, 0.700]  3\n"), "%s", r.out);
  cr_assert(strstr(r.out, "0.950 ± 0.000 [0.950, 0.950]  1 (n < 3)"), "%s", r.out);
  cr_assert(strstr(r.out, "9 runs in 2 groups; hardware: test-hw"), "%s", r.out);
  json_error_t err;
  json_t *doc = json_load_file(json, 0, &err);
  cr_assert(doc, "%s", err.text);
  cr_assert_str_eq(json_string_value(json_object_get(doc, "kind")), "sweep_scores");
  cr_assert_eq(json_array_size(json_object_get(doc, "groups")), 2);
  json_decref(doc);
  FILE *f = fopen(md, "r");
  cr_assert(f);
  char text[4096] = "";
  cr_assert(fread(text, 1, sizeof text - 1, f) > 0);
  fclose(f);
  cr_assert(strstr(text, "| mqar | `V=64,L=16,N=2` | `attention` | `none` | 16 | 0.001 | 0.600 ± 0.100 [0.500, 0.700] | 3 |"),
            "%s", text);
}

/* Runs with whole-value scores (exact match, RULER's string_match_all): the tables gain a column
 * with their means over the best learning rate's seeds; the runs above have none, so no column. */
Test(sweep_score, tables_show_whole_value_scores_when_runs_have_them) {
  const char *dir = test_dir("score-match");
  char path[600];
  snprintf(path, sizeof path, "%s/runs.jsonl", dir);
  const double em[2] = {0.5, 0.75}, sm[2] = {0.625, 1.0};
  for (int seed = 1; seed <= 2; seed++) {
    json_t *config = json_pack("{s:s, s:s, s:s, s:i, s:f, s:i}", "task", "niah", "params", "L=128", "mixer", "ssd", "d", 16,
                               "lr", 0.01, "seed", seed);
    json_t *result = json_pack("{s:f, s:f, s:f}", "test_acc", 0.9, "exact_match", em[seed - 1], "span_match", sm[seed - 1]);
    json_t *meta = json_pack("{s:s}", "hardware_id", "test-hw");
    cr_assert_eq(smx_results_append(path, config, result, meta, NULL), SMX_OK, "%s", smx_last_error());
    json_decref(config), json_decref(result), json_decref(meta);
  }
  smx_sweep_scores s;
  score_file(path, &s);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  smx_sweep_scores_md(f, &s);
  smx_sweep_scores_text(f, &s);
  fclose(f);
  cr_assert(strstr(text, "| n | exact / string match |") && strstr(text, "| 2 (n < 3) | 0.625 / 0.812 |"), "%s", text);
  cr_assert(strstr(text, "exact / string match\n") && strstr(text, "2 (n < 3)  0.625 / 0.812\n"), "%s", text);
  free(text);
  smx_sweep_scores_free(&s);
  score_file(two_groups(test_dir("score-match-none")), &s);
  f = open_memstream(&text, &len);
  smx_sweep_scores_md(f, &s);
  fclose(f);
  cr_assert(!strstr(text, "exact / string match"), "%s", text);
  free(text);
  smx_sweep_scores_free(&s);
}

/* Groups that differ only in a key outside the table's columns are told apart in the mixer cell. */
Test(sweep_score, rows_that_would_look_alike_name_their_difference) {
  const char *dir = test_dir("score-extra");
  char path[600];
  snprintf(path, sizeof path, "%s/runs.jsonl", dir);
  put(path, "mqar", "V=64,L=16,N=2", "attention", 16, 0.001, 1, 0.5, 4);
  json_t *config = json_pack("{s:s, s:s, s:s, s:i, s:f, s:i, s:i}", "task", "mqar", "params", "V=64,L=16,N=2", "mixer",
                             "attention", "d", 16, "lr", 0.001, "seed", 1, "layers", 4);
  json_t *result = json_pack("{s:f}", "test_acc", 0.25);
  cr_assert_eq(smx_results_append(path, config, result, NULL, NULL), SMX_OK);
  json_decref(config), json_decref(result);
  cli_result r;
  run_cli(&r, (const char *[]){"sweep", "score", "--in", path, NULL});
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert(strstr(r.out, "attention [layers=4]"), "%s", r.out);
  cr_assert(strstr(r.out, "attention [batch=8, epochs=3, heads=1, layers=2, mlp=0, n_test=8, n_train=16, schedule=\"cosine\", "
                          "target=0.99, warmup=0.0, weight_decay=0.1]"), "%s", r.out);
}

Test(sweep_score, bad_input_is_one_error_line) {
  const char *dir = test_dir("score-bad");
  char path[600], empty[600], noacc[600], missing[600];
  snprintf(missing, sizeof missing, "%s/none.jsonl", dir);
  cli_result r;
  run_cli(&r, (const char *[]){"sweep", "score", "--in", missing, NULL});
  cr_assert_eq(r.status, 2);
  cr_assert_eq(r.err_lines, 1, "%s", r.err);
  cr_assert(strstr(r.err, "cannot read"), "%s", r.err);

  snprintf(path, sizeof path, "%s/corrupt.jsonl", dir);
  put(path, "mqar", "V=64,L=16,N=2", "attention", 16, 0.001, 1, 0.5, 4);
  FILE *f = fopen(path, "a");
  cr_assert(f);
  fputs("{\"config\": not json\n", f);
  fclose(f);
  run_cli(&r, (const char *[]){"sweep", "score", "--in", path, NULL});
  cr_assert_eq(r.status, 2);
  cr_assert_eq(r.err_lines, 1, "%s", r.err);
  cr_assert(strstr(r.err, "seqmix: error: ") && strstr(r.err, "corrupt.jsonl:2"), "%s", r.err);
  cr_assert(strstr(r.err, "seqmix sweep merge"), "the line says how to keep the readable runs: %s", r.err);

  /* the same run twice with different results */
  char twice[600];
  snprintf(twice, sizeof twice, "%s/twice.jsonl", dir);
  put(twice, "mqar", "V=64,L=16,N=2", "attention", 16, 0.001, 1, 0.5, 4);
  put(twice, "mqar", "V=64,L=16,N=2", "attention", 16, 0.001, 1, 0.7, 4);
  run_cli(&r, (const char *[]){"sweep", "score", "--in", twice, NULL});
  cr_assert_eq(r.status, 2);
  cr_assert_eq(r.err_lines, 1, "%s", r.err);
  cr_assert(strstr(r.err, "twice.jsonl:2 has a different result than"), "%s", r.err);

  snprintf(empty, sizeof empty, "%s/empty.jsonl", dir);
  write_text(empty, "");
  run_cli(&r, (const char *[]){"sweep", "score", "--in", empty, NULL});
  cr_assert_eq(r.status, 2);
  cr_assert_eq(r.err_lines, 1, "%s", r.err);
  cr_assert(strstr(r.err, "holds no finished runs"), "%s", r.err);

  snprintf(noacc, sizeof noacc, "%s/noacc.jsonl", dir);
  json_t *config = json_pack("{s:s, s:f, s:i}", "task", "mqar", "lr", 0.001, "seed", 1), *result = json_object();
  cr_assert_eq(smx_results_append(noacc, config, result, NULL, NULL), SMX_OK);
  json_decref(config), json_decref(result);
  run_cli(&r, (const char *[]){"sweep", "score", "--in", noacc, NULL});
  cr_assert_eq(r.status, 2);
  cr_assert_eq(r.err_lines, 1, "%s", r.err);
  cr_assert(strstr(r.err, "noacc.jsonl:1: run ") && strstr(r.err, "has no numeric result.test_acc"), "%s", r.err);

  run_cli(&r, (const char *[]){"sweep", "score", NULL});
  cr_assert_eq(r.status, 2);
  cr_assert(strstr(r.err, "--in FILE is required"), "%s", r.err);
}

/* ---- the claims' verdicts on synthetic scores ---- */

static void zoology_grid(const char *path, int V, const int *Ls, int nL, const int *ds, int nd, double att_low,
                         int with_h3, int h3_trend) {
  for (int a = 0; a < nL; a++)
    for (int b = 0; b < nd; b++) {
      char params[64];
      snprintf(params, sizeof params, "V=%d,L=%d,N=%d", V, Ls[a], Ls[a] / 16 > 0 ? Ls[a] / 16 : 1);
      double att = a == nL - 1 && b == 0 ? att_low : 1.0;
      for (int s = 1; s <= 3; s++) put(path, "mqar", params, "attention", ds[b], 0.001, s, att, 4);
      /* rises with d, falls with L; or flat at 0.5 */
      double h3 = h3_trend ? 0.9 - 0.3 * a + 0.05 * b : 0.5;
      if (with_h3)
        for (int s = 1; s <= 3; s++) put(path, "mqar", params, "h3", ds[b], 0.001, s, h3 + 0.001 * s, 4);
    }
}

static claim_verdict zoology_verdict(const char *name, int V, const int *Ls, int nL, const int *ds, int nd, double att_low,
                                     int with_h3, int h3_trend, char *fig, size_t n) {
  char path[600];
  snprintf(path, sizeof path, "%s/runs.jsonl", test_dir(name));
  zoology_grid(path, V, Ls, nL, ds, nd, att_low, with_h3, h3_trend);
  smx_sweep_scores s;
  score_file(path, &s);
  claim_verdict v = claim_sweep_zoology(&s, fig, n);
  smx_sweep_scores_free(&s);
  return v;
}

Test(sweep_score, claim_11_zoology) {
  char fig[1024];
  const int small_L[3] = {32, 64, 128}, small_d[2] = {32, 64}, paper_L[4] = {64, 128, 256, 512}, paper_d[4] = {64, 128, 256, 512};
  /* the trend and attention >= 0.99, on the paper's grid */
  cr_assert_eq(zoology_verdict("z-paper", 8192, paper_L, 4, paper_d, 4, 0.995, 1, 1, fig, sizeof fig), CLAIM_REPRODUCED, "%s", fig);
  cr_assert(strstr(fig, "attention >= 0.99 at all 16 MQAR"), "%s", fig);
  cr_assert(strstr(fig, "h3 rises with d") && strstr(fig, "and falls with L"), "%s", fig);
  /* the same on a smaller grid: at most partly, and said */
  cr_assert_eq(zoology_verdict("z-small", 256, small_L, 3, small_d, 2, 1.0, 1, 1, fig, sizeof fig), CLAIM_PARTLY, "%s", fig);
  cr_assert(strstr(fig, "smaller than the paper's (V = 8192"), "%s", fig);
  /* one width: the fall with L is told, the rise with d cannot be seen (the quick preset) */
  const int one_d[1] = {64};
  cr_assert_eq(zoology_verdict("z-oned", 8192, small_L, 3, one_d, 1, 1.0, 1, 1, fig, sizeof fig), CLAIM_PARTLY, "%s", fig);
  cr_assert(strstr(fig, "h3 falls with L (d = 64: 0.90 -> 0.30 from L = 32 to 128); one width per length"), "%s", fig);
  /* attention only: the trend half is not measured */
  cr_assert_eq(zoology_verdict("z-att", 256, small_L, 3, small_d, 2, 1.0, 0, 0, fig, sizeof fig), CLAIM_PARTLY, "%s", fig);
  cr_assert(strstr(fig, "no non-attention mixer"), "%s", fig);
  /* attention failing a point */
  cr_assert_eq(zoology_verdict("z-attfail", 8192, paper_L, 4, paper_d, 4, 0.6, 1, 1, fig, sizeof fig), CLAIM_NOT_REPRODUCED,
               "%s", fig);
  cr_assert(strstr(fig, "attention below 0.99 in 1 of 16 MQAR (point, d) groups, lowest 0.600 at L = 512, d = 64"), "%s", fig);
  /* a non-attention mixer that does not need wider models at longer L */
  cr_assert_eq(zoology_verdict("z-flat", 8192, paper_L, 4, paper_d, 4, 1.0, 1, 0, fig, sizeof fig), CLAIM_NOT_REPRODUCED,
               "%s", fig);
  cr_assert(strstr(fig, "h3 does not rise with d"), "%s", fig);
  /* no MQAR at all */
  char path[600];
  snprintf(path, sizeof path, "%s/runs.jsonl", test_dir("z-none"));
  put(path, "induction_head", "V=20,L=30", "attention", 32, 0.0005, 1, 1.0, 3);
  smx_sweep_scores s;
  score_file(path, &s);
  cr_assert_eq(claim_sweep_zoology(&s, fig, sizeof fig), CLAIM_NOT_MEASURED);
  cr_assert(strstr(fig, "no MQAR runs"), "%s", fig);
  smx_sweep_scores_free(&s);
}

static claim_verdict h3_verdict(const char *name, double h3_ih, double h3_ar, int with_h3, char *fig, size_t n) {
  char path[600];
  snprintf(path, sizeof path, "%s/runs.jsonl", test_dir(name));
  for (int s = 1; s <= 3; s++) {
    put(path, "induction_head", "V=20,L=30", "attention", 32, 0.0005, s, 1.0, 3);
    put(path, "assoc_recall", "V=10,L=20", "attention", 32, 0.0005, s, 1.0, 2);
    if (with_h3) {
      put(path, "induction_head", "V=20,L=30", "h3", 32, 0.0005, s, h3_ih, 3);
      put(path, "assoc_recall", "V=10,L=20", "h3", 32, 0.0005, s, h3_ar, 2);
    }
  }
  smx_sweep_scores s;
  score_file(path, &s);
  claim_verdict v = claim_sweep_h3(&s, fig, n);
  smx_sweep_scores_free(&s);
  return v;
}

Test(sweep_score, claim_3_h3_table) {
  char fig[1024];
  cr_assert_eq(h3_verdict("h3-ok", 1.0, 0.99, 1, fig, sizeof fig), CLAIM_REPRODUCED, "%s", fig);
  cr_assert(strstr(fig, "induction head: H3 100.0% (d = 32, [100.0, 100.0], n = 3) vs attention 100.0% (paper 100.0 vs 100.0)"),
            "%s", fig);
  cr_assert(strstr(fig, "associative recall: H3 99.0%"), "%s", fig);
  cr_assert_eq(h3_verdict("h3-half", 0.5, 0.99, 1, fig, sizeof fig), CLAIM_PARTLY, "%s", fig);
  cr_assert_eq(h3_verdict("h3-none", 0, 0, 0, fig, sizeof fig), CLAIM_NOT_MEASURED, "%s", fig);
  cr_assert(strstr(fig, "no h3 runs") && strstr(fig, "attention 100.0% on induction head"), "%s", fig);
}

static claim_verdict wm_verdict(const char *name, int L, double att, int with_ssd, char *fig, size_t n) {
  char path[600], params[64];
  snprintf(path, sizeof path, "%s/runs.jsonl", test_dir(name));
  snprintf(params, sizeof params, "V=8192,L=%d,N=64", L);
  const int ds[2] = {128, 256};
  for (int k = 0; k < 2; k++)
    for (int s = 1; s <= 3; s++) {
      put(path, "mqar", params, "dma", ds[k], 0.001, s, 1.0, 4);
      put(path, "mqar", params, "attention", ds[k], 0.001, s, att + 0.15 * k, 4);
      if (with_ssd) put(path, "mqar", params, "ssd", ds[k], 0.001, s, 0.1 + 0.2 * k, 4);
    }
  smx_sweep_scores s;
  score_file(path, &s);
  claim_verdict v = claim_sweep_wm_mqar(&s, fig, n);
  smx_sweep_scores_free(&s);
  return v;
}

Test(sweep_score, claim_6_wonderful_matrices_mqar) {
  char fig[1024];
  /* DMA 1.0; attention .2/.35 and SSD .1/.3 as in the paper (.19/.36, .12/.32) */
  cr_assert_eq(wm_verdict("wm-ok", 2048, 0.2, 1, fig, sizeof fig), CLAIM_REPRODUCED, "%s", fig);
  cr_assert(strstr(fig, "L = 2048, d = 128: DMA 1.00, attention 0.20, SSD 0.10 (paper 1.0, 0.19, 0.12)"), "%s", fig);
  /* attention nearly as good: DMA's lead is far smaller than the paper's */
  cr_assert_eq(wm_verdict("wm-att", 2048, 0.8, 1, fig, sizeof fig), CLAIM_PARTLY, "%s", fig);
  /* no SSD runs: only part of the claim */
  cr_assert_eq(wm_verdict("wm-nossd", 2048, 0.2, 0, fig, sizeof fig), CLAIM_PARTLY, "%s", fig);
  cr_assert(strstr(fig, "no ssd runs"), "%s", fig);
  /* a grid that stops short of L = 2048 */
  cr_assert_eq(wm_verdict("wm-short", 512, 0.2, 1, fig, sizeof fig), CLAIM_NOT_MEASURED, "%s", fig);
  cr_assert(strstr(fig, "longest MQAR length is L = 512") && strstr(fig, "dma: 1.00 at L = 512, d = 256"), "%s", fig);
}

/* A rope-ssd run: the hybrid on the byte corpus with the arm's options and a test loss whose
 * exponential is the perplexity ppl. */
static void put_rope(const char *path, int L, const char *options, int seed, double ppl) {
  char params[32];
  snprintf(params, sizeof params, "L=%d", L);
  json_t *config = json_pack("{s:s, s:s, s:s, s:s, s:i, s:f, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:f, s:f, s:f}",
                             "task", "bytes", "params", params, "mixer", "attention,ssd", "options", options, "d", 64, "lr",
                             0.003, "seed", seed, "layers", 4, "heads", 2, "mlp", 128, "epochs", 4, "batch", 8, "n_train", 16,
                             "n_test", 8, "schedule", "cosine", "warmup", 0.0, "weight_decay", 0.1, "target", 1.0);
  json_t *result = json_pack("{s:f, s:f, s:f, s:i, s:i, s:f}", "test_acc", 0.5, "best_acc", 0.5, "final_loss", 1.0,
                             "epochs_run", 4, "steps", 8, "test_loss", log(ppl));
  json_t *meta = json_pack("{s:s}", "hardware_id", "test-hw");
  cr_assert(config && result && meta);
  cr_assert_eq(smx_results_append(path, config, result, meta, NULL), SMX_OK, "%s", smx_last_error());
  json_decref(config), json_decref(result), json_decref(meta);
}

/* Perplexities per arm at L = 128 and 512 (seeds 1..3 at ppl - 0.1, ppl, ppl + 0.1): none, q/k,
 * q/k + C/B; arms = 2 leaves out the no-position arm. */
static claim_verdict rope_verdict(const char *name, const double *ppl128, const double *ppl512, int seeds, char *fig,
                                  size_t n) {
  char path[600];
  snprintf(path, sizeof path, "%s/runs.jsonl", test_dir(name));
  static const char *const opts[3] = {"ssd.rope=0", "attention.rope=1,ssd.rope=0", "attention.rope=1,ssd.rope=1"};
  for (int a = 0; a < 3; a++)
    for (int s = 1; s <= seeds; s++) {
      double dev = 0.1 * (s - 2);
      if (ppl128[a] > 0) put_rope(path, 128, opts[a], s, ppl128[a] + dev);
      if (ppl512[a] > 0) put_rope(path, 512, opts[a], s, ppl512[a] + dev);
    }
  smx_sweep_scores s;
  score_file(path, &s);
  claim_verdict v = claim_sweep_rope_ssd(&s, fig, n);
  smx_sweep_scores_free(&s);
  return v;
}

Test(sweep_score, claim_5_rope_in_ssd_perplexity) {
  char fig[2048];
  const double none[3] = {4.0, 3.5, 3.3}, small[3] = {4.0, 3.5, 3.45}, worse[3] = {4.0, 3.5, 3.6};
  /* per seed 3.2/3.4, 3.3/3.5, 3.4/3.6: -5.72% on average (sd 0.16%); at L = 512 3.25/3.4 ...:
   * -4.29%: reproduced */
  const double l512[3] = {3.8, 3.5, 3.35};
  cr_assert_eq(rope_verdict("rope-ok", none, l512, 3, fig, sizeof fig), CLAIM_REPRODUCED, "%s", fig);
  cr_assert(strstr(fig, "L = 128: perplexity per byte no positions 4.000 ± 0.100 (n = 3), RoPE q/k 3.500 ± 0.100 (n = 3), "
                        "RoPE q/k + C/B 3.300 ± 0.100 (n = 3); RoPE in SSD -5.72% ± 0.16% against RoPE on q/k only, "
                        "paired over 3 seeds"),
            "%s", fig);
  cr_assert(strstr(fig, "L = 512:") && strstr(fig, "-4.29% ± 0.12%"), "%s", fig);
  /* lower, but by 1.4% at L = 128: partly */
  cr_assert_eq(rope_verdict("rope-small", small, l512, 3, fig, sizeof fig), CLAIM_PARTLY, "%s", fig);
  /* higher at L = 128: not reproduced */
  cr_assert_eq(rope_verdict("rope-worse", worse, l512, 3, fig, sizeof fig), CLAIM_NOT_REPRODUCED, "%s", fig);
  cr_assert(strstr(fig, "+2.86% ± 0.08%"), "%s", fig);
  /* two seeds: at most partly, and said */
  cr_assert_eq(rope_verdict("rope-few", none, l512, 2, fig, sizeof fig), CLAIM_PARTLY, "%s", fig);
  cr_assert(strstr(fig, "fewer than 3 seeds"), "%s", fig);
  /* one seed per arm: the arms' means decide, unpaired */
  cr_assert_eq(rope_verdict("rope-one", none, l512, 1, fig, sizeof fig), CLAIM_PARTLY, "%s", fig);
  cr_assert(strstr(fig, "-5.88% against RoPE on q/k only (paper"), "%s", fig);
  /* seeds that disagree on the sign: inconclusive at that length */
  {
    char path[600];
    snprintf(path, sizeof path, "%s/runs.jsonl", test_dir("rope-noisy"));
    const double qk[3] = {3.5, 3.5, 3.5}, cb[3] = {3.0, 4.2, 3.4}; /* -14.3%, +20.0%, -2.9%: mean +0.95%, sd 17.46% */
    for (int seed = 1; seed <= 3; seed++) {
      put_rope(path, 128, "attention.rope=1,ssd.rope=0", seed, qk[seed - 1]);
      put_rope(path, 128, "attention.rope=1,ssd.rope=1", seed, cb[seed - 1]);
    }
    smx_sweep_scores sc;
    score_file(path, &sc);
    cr_assert_eq(claim_sweep_rope_ssd(&sc, fig, sizeof fig), CLAIM_NOT_MEASURED, "%s", fig);
    cr_assert(strstr(fig, "+0.95% ± 17.46%") && strstr(fig, "inconclusive: 0 and -4% both lie within two standard errors") &&
                  strstr(fig, "the seeds' spread is larger than the effect"),
              "%s", fig);
    /* with a decisive second length: judged there, at most partly */
    for (int seed = 1; seed <= 3; seed++) {
      put_rope(path, 512, "attention.rope=1,ssd.rope=0", seed, 3.5 + 0.1 * seed);
      put_rope(path, 512, "attention.rope=1,ssd.rope=1", seed, 3.2 + 0.1 * seed);
    }
    smx_sweep_scores_free(&sc);
    score_file(path, &sc);
    cr_assert_eq(claim_sweep_rope_ssd(&sc, fig, sizeof fig), CLAIM_PARTLY, "%s", fig);
    smx_sweep_scores_free(&sc);
  }
  /* seeds that agree on no change: a 4% reduction is ruled out, so not reproduced */
  {
    char path[600];
    snprintf(path, sizeof path, "%s/runs.jsonl", test_dir("rope-none"));
    const double cb[3] = {3.49, 3.52, 3.50}; /* against 3.5: -0.29%, +0.57%, 0: mean +0.10%, sd 0.44% */
    for (int seed = 1; seed <= 3; seed++) {
      put_rope(path, 128, "attention.rope=1,ssd.rope=0", seed, 3.5);
      put_rope(path, 128, "attention.rope=1,ssd.rope=1", seed, cb[seed - 1]);
    }
    smx_sweep_scores sc;
    score_file(path, &sc);
    cr_assert_eq(claim_sweep_rope_ssd(&sc, fig, sizeof fig), CLAIM_NOT_REPRODUCED, "%s", fig);
    cr_assert(strstr(fig, "+0.10% ± 0.44%") && strstr(fig, "a 4% reduction lies outside two standard errors ([-0.4%, +0.6%])"),
              "%s", fig);
    smx_sweep_scores_free(&sc);
  }
  /* without the q/k-only arm there is nothing to compare */
  const double only_cb[3] = {4.0, 0, 3.3}, none512[3] = {0, 0, 0};
  cr_assert_eq(rope_verdict("rope-noarm", only_cb, none512, 3, fig, sizeof fig), CLAIM_NOT_MEASURED, "%s", fig);
  cr_assert(strstr(fig, "RoPE q/k not run") && strstr(fig, "both RoPE arms are needed"), "%s", fig);
}

static char *claims_text(const smx_sweep_scores *s) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  cr_assert(f);
  claims_table_sweep(f, NULL, s);
  fclose(f);
  return text;
}

Test(sweep_score, claims_table_takes_the_sweep) {
  char *text = claims_text(NULL);
  cr_assert(strstr(text, "| 11 | ") && strstr(text, "not measured: needs a scored sweep (seqmix report --sweep FILE)"), "%s",
            text);
  free(text);
  char path[600];
  snprintf(path, sizeof path, "%s/runs.jsonl", test_dir("claims-table"));
  const int Ls[3] = {32, 64, 128}, ds[2] = {32, 64};
  zoology_grid(path, 256, Ls, 3, ds, 2, 1.0, 1, 1);
  smx_sweep_scores s;
  score_file(path, &s);
  text = claims_text(&s);
  cr_assert(strstr(text, "from 36 sweep runs on `test-hw`"), "%s", text);
  cr_assert(strstr(text, "smaller than the paper's (V = 8192, L 64-512, d 64-512); runs on test-hw | partly |"), "%s", text);
  cr_assert(strstr(text, "not measured: the sweep has no induction_head or assoc_recall runs (preset paper-h3)"), "%s", text);
  cr_assert(strstr(text, "not measured: the sweep's longest MQAR length is L = 128"), "%s", text);
  free(text);
  smx_sweep_scores_free(&s);
}

/* ---- figures and the report ---- */

static int have_gnuplot(void) { return system("command -v gnuplot >/dev/null 2>&1") == 0; }

static void expect_file(const char *dir, const char *name, int nonempty) {
  char path[800];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  long size = file_size(path);
  cr_assert(nonempty ? size > 0 : size >= 0, "%s: size %ld", path, size);
}

/* LRA's Table 1: one row per model, a column per LRA task the sweep holds (pathfinder at size
 * 128 is Path-X), the published rows below; a sweep without an LRA task writes no table. */
Test(sweep_score, lra_table_by_task) {
  const char *dir = test_dir("score-lra");
  char path[600], out[600];
  snprintf(path, sizeof path, "%s/runs.jsonl", dir);
  snprintf(out, sizeof out, "%s/figs", dir);
  for (int s = 1; s <= 2; s++) {
    put(path, "listops", "min_len=30,max_len=120", "attention", 64, 0.003, s, s == 1 ? 0.30 : 0.34, 2);
    put(path, "listops", "min_len=30,max_len=120", "ssd", 64, 0.003, s, 0.28, 2);
    put(path, "pathfinder", "size=32,contour=6", "ssd", 64, 0.003, s, 0.5, 1);
    put(path, "pathfinder", "size=128,contour=14", "ssd", 64, 0.003, s, 0.5, 1);
  }
  cli_result r;
  run_cli(&r, (const char *[]){"sweep", "plot", "--in", path, "--out", out, NULL});
  cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
  cr_assert(strstr(r.out, "lra_table.md\n") && strstr(r.out, "and the LRA table"), "%s", r.out);
  char md[800];
  snprintf(md, sizeof md, "%s/lra_table.md", out);
  FILE *f = fopen(md, "r");
  cr_assert(f, "%s", md);
  char text[8192] = "";
  cr_assert(fread(text, 1, sizeof text - 1, f) > 0);
  fclose(f);
  cr_assert(strstr(text, "| model | d | ListOps | Pathfinder | Path-X |"), "%s", text);
  cr_assert(strstr(text, "| `attention` | 64 | 32.0 ± 2.8 (2) | — | — |"), "%s", text);
  cr_assert(strstr(text, "| `ssd` | 64 | 28.0 ± 0.0 (2) | 50.0 ± 0.0 (2) | 50.0 ± 0.0 (2) |"), "%s", text);
  cr_assert(strstr(text, "| Transformer (paper: LRA paper Table 1) | | 36.37 | 71.40 | FAIL |"), "%s", text);
  cr_assert(strstr(text, "| S4 (paper: S4 paper Table 4) | | 59.60 | 94.20 | 96.35 |"), "%s", text);
  /* no LRA task: no table */
  snprintf(path, sizeof path, "%s/mqar.jsonl", dir);
  snprintf(out, sizeof out, "%s/figs-mqar", dir);
  put(path, "mqar", "V=64,L=16,N=2", "attention", 16, 0.001, 1, 0.5, 4);
  run_cli(&r, (const char *[]){"sweep", "plot", "--in", path, "--out", out, NULL});
  cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
  cr_assert(!strstr(r.out, "lra_table.md"), "%s", r.out);
}

Test(sweep_score, plot_writes_data_scripts_and_figures) {
  const char *dir = test_dir("score-plot");
  char path[600], out[600];
  snprintf(path, sizeof path, "%s/runs.jsonl", dir);
  snprintf(out, sizeof out, "%s/figs", dir);
  const int Ls[2] = {32, 64}, ds[2] = {32, 64};
  zoology_grid(path, 256, Ls, 2, ds, 2, 1.0, 1, 1);
  for (int s = 1; s <= 2; s++) {
    put(path, "induction_head", "V=20,L=30", "attention", 32, 0.0005, s, 1.0, 3);
    put(path, "assoc_recall", "V=10,L=20", "h3", 32, 0.0005, s, 0.97, 2);
  }
  cli_result r;
  run_cli(&r, (const char *[]){"sweep", "plot", "--in", path, "--out", out, NULL});
  cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
  expect_file(out, "acc_vs_d.gp", 1);
  expect_file(out, "acc_vs_d_1.tsv", 1); /* panels in task order: assoc_recall, induction_head, mqar L=32, L=64 */
  expect_file(out, "acc_vs_d_4.tsv", 1);
  expect_file(out, "loss_d32.gp", 1); /* d = 32 has the most groups */
  expect_file(out, "loss_d32_1.tsv", 1);
  expect_file(out, "h3_table2.md", 1);
  char tsv[800];
  snprintf(tsv, sizeof tsv, "%s/acc_vs_d_3.tsv", out);
  FILE *f = fopen(tsv, "r");
  cr_assert(f);
  char head[256] = "", row[256] = "";
  cr_assert(fgets(head, sizeof head, f) && fgets(row, sizeof row, f));
  fclose(f);
  /* every panel has every line's columns (h3 first seen on assoc_recall), so colours match across panels */
  cr_assert_str_eq(head, "d\th3\th3 min\th3 max\tattention\tattention min\tattention max\n");
  cr_assert_str_eq(row, "32\t0.902\t0.901\t0.903\t1\t1\t1\n");
  /* accuracy vs L: one panel per (task, d); the MQAR d = 32 panel has both lengths, labelled with N */
  expect_file(out, "acc_vs_L.gp", 1);
  int found = 0;
  for (int p = 1; p <= 4; p++) {
    snprintf(tsv, sizeof tsv, "%s/acc_vs_L_%d.tsv", out, p);
    f = fopen(tsv, "r");
    cr_assert(f, "%s", tsv);
    char all[1024] = "";
    cr_assert(fread(all, 1, sizeof all - 1, f) > 0);
    fclose(f);
    const char *head_L = "L\tlabel\th3\th3 min\th3 max\tattention\tattention min\tattention max\n";
    cr_assert(!strncmp(all, head_L, strlen(head_L)), "%s", all);
    found += strstr(all, "\n32\t32 (N=2)\t0.902\t0.901\t0.903\t1\t1\t1\n64\t64 (N=4)\t0.602\t0.601\t0.603\t1\t1\t1\n") != NULL;
  }
  cr_assert_eq(found, 1, "the mqar d = 32 panel holds h3's fall from L = 32 to 64");
  char md[800];
  snprintf(md, sizeof md, "%s/h3_table2.md", out);
  f = fopen(md, "r");
  cr_assert(f);
  char text[4096] = "";
  cr_assert(fread(text, 1, sizeof text - 1, f) > 0);
  fclose(f);
  cr_assert(strstr(text, "| `attention` | 32 | 100.0 ± 0.0 [100.0, 100.0], n = 2 (n < 3) | — | 100.0 | 100.0 |"), "%s", text);
  cr_assert(strstr(text, "| `h3` | 32 | — | 97.0 ± 0.0 [97.0, 97.0], n = 2 (n < 3) | 100.0 | 99.8 |"), "%s", text);
  cr_assert(strstr(text, "| S4D (paper only) | | — | — | 35.6 | 86.0 |"), "%s", text);
  if (have_gnuplot()) {
    expect_file(out, "acc_vs_d.png", 1);
    expect_file(out, "acc_vs_d.svg", 1);
    expect_file(out, "loss_d32.png", 1);
    expect_file(out, "loss_d32.svg", 1);
    expect_file(out, "acc_vs_L.png", 1);
    expect_file(out, "acc_vs_L.svg", 1);
    cr_assert(strstr(r.out, "3 figures (PNG + SVG) and the H3 table"), "%s", r.out);
  }
  run_cli(&r, (const char *[]){"sweep", "plot", "--in", path, "--out", out, "--d", "48", NULL});
  cr_assert_eq(r.status, 2);
  cr_assert(strstr(r.err, "no scored group has d = 48"), "%s", r.err);
}

Test(sweep_score, report_judges_the_claims_from_the_sweep) {
  const char *dir = test_dir("score-report");
  char path[600], run[600];
  snprintf(path, sizeof path, "%s/runs.jsonl", dir);
  snprintf(run, sizeof run, "%s/run", dir);
  const int Ls[3] = {32, 64, 128}, ds[2] = {32, 64};
  zoology_grid(path, 256, Ls, 3, ds, 2, 1.0, 1, 1);
  cli_result r;
  run_cli(&r, (const char *[]){"report", "--run", run, "--sweep", path, NULL});
  cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
  char md[800];
  snprintf(md, sizeof md, "%s/report.md", run);
  FILE *f = fopen(md, "r");
  cr_assert(f);
  static char text[65536];
  size_t got = fread(text, 1, sizeof text - 1, f);
  text[got] = 0;
  fclose(f);
  cr_assert(strstr(text, "## Task sweeps"), "%s", text);
  cr_assert(strstr(text, "| mqar | `V=256,L=128,N=8` | `h3` | `none` | 64 |"), "%s", text);
  cr_assert(strstr(text, "| 11 | Attention solves MQAR"), "%s", text);
  cr_assert(strstr(text, "runs on test-hw | partly |"), "%s", text);
}
