/* The sweep results store: run keys, append and reload, truncated and corrupt lines, shards that
 * partition a sweep, merge with duplicates and conflicts, and `seqmix sweep merge`.
 *   build/tests/seqmix_tests --filter results_store/\*
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seqmix/results_store.h"
#include "test_helpers.h"

static json_t *config_of(int i) {
  return json_pack("{s:s, s:i, s:{s:s, s:f}, s:i}", "task", "mqar", "d_model", 64 + i % 4, "opt", "name", "adamw", "lr",
                   1e-3 * (1 + i / 4), "seed", i);
}
static json_t *result_of(double acc) { return json_pack("{s:f, s:i}", "accuracy", acc, "steps", 100); }

static void append(const char *path, int i, double acc) {
  json_t *c = config_of(i), *r = result_of(acc);
  cr_assert_eq(smx_results_append(path, c, r, NULL, NULL), SMX_OK, "%s", smx_last_error());
  json_decref(c), json_decref(r);
}

static char *slurp(const char *path, long *len) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s", path);
  fseek(f, 0, SEEK_END);
  *len = ftell(f);
  rewind(f);
  char *b = malloc((size_t)*len + 1);
  cr_assert_eq(fread(b, 1, (size_t)*len, f), (size_t)*len);
  b[*len] = 0;
  fclose(f);
  return b;
}

static void put(const char *path, const char *data, long len) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(data, 1, (size_t)len, f), (size_t)len);
  fclose(f);
}

/* Loads path with warnings captured into warn_buf. */
static smx_results load(const char *path, char *warn_buf, size_t n) {
  smx_results r = {0};
  FILE *w = fmemopen(warn_buf, n, "w");
  cr_assert_eq(smx_results_load(&r, path, 0, w), SMX_OK, "%s", smx_last_error());
  fclose(w);
  return r;
}

Test(results_store, canonical_keys) {
  char a[17], b[17], c[17], d[17];
  json_t *x = json_loads("{\"b\": 1, \"a\": {\"y\": [1, 2], \"x\": \"s\"}}", 0, NULL);
  json_t *y = json_loads("{\"a\": {\"x\": \"s\", \"y\": [1, 2]}, \"b\": 1}", 0, NULL);
  json_t *z = json_loads("{\"a\": {\"x\": \"s\", \"y\": [2, 1]}, \"b\": 1}", 0, NULL);
  json_t *w = json_loads("{\"a\": {\"x\": \"s\", \"y\": [1, 2]}, \"b\": 1.0}", 0, NULL);
  cr_assert_eq(smx_run_key(x, a), SMX_OK);
  cr_assert_eq(smx_run_key(y, b), SMX_OK);
  cr_assert_eq(smx_run_key(z, c), SMX_OK);
  cr_assert_eq(smx_run_key(w, d), SMX_OK);
  cr_assert_str_eq(a, b, "key order changed the key");
  cr_assert_str_neq(a, c, "array order is content");
  cr_assert_str_neq(a, d, "1 and 1.0 are different configs");
  cr_assert_eq(strlen(a), 16);
  json_t *arr = json_array();
  cr_assert_eq(smx_run_key(arr, a), SMX_ERR_INVALID);
  json_decref(x), json_decref(y), json_decref(z), json_decref(w), json_decref(arr);
}

Test(results_store, append_and_reload) {
  char path[600], warn[2048];
  snprintf(path, sizeof path, "%s/runs.jsonl", test_dir("store-append"));
  unlink(path);
  for (int i = 0; i < 5; i++) append(path, i, 0.1 * i);
  long len;
  char *text = slurp(path, &len);
  int lines = 0;
  for (long i = 0; i < len; i++) lines += text[i] == '\n';
  cr_assert_eq(lines, 5);
  cr_assert_eq(text[len - 1], '\n');
  free(text);
  smx_results r = load(path, warn, sizeof warn);
  cr_assert_eq(r.n, 5);
  cr_assert_eq(r.skipped, 0);
  for (int i = 0; i < 5; i++) {
    json_t *c = config_of(i);
    const smx_run_record *rec = smx_results_find(&r, c);
    cr_assert_not_null(rec, "run %d not found", i);
    double acc = json_real_value(json_object_get(json_object_get(rec->line, "result"), "accuracy"));
    cr_assert_float_eq(acc, 0.1 * i, 1e-15);
    json_decref(c);
  }
  json_t *other = config_of(99);
  cr_assert_null(smx_results_find(&r, other), "an unfinished run is reported finished");
  json_decref(other);
  smx_results_free(&r);
  /* a missing file is an empty store only when asked */
  smx_results e = {0};
  cr_assert_eq(smx_results_load(&e, "/nonexistent/x.jsonl", 1, NULL), SMX_OK);
  cr_assert_eq(e.n, 0);
  cr_assert_eq(smx_results_load(&e, "/nonexistent/x.jsonl", 0, NULL), SMX_ERR_IO);
  smx_results_free(&e);
}

/* Cut the file at every byte of its last line (a crash mid-append): the earlier runs always load,
 * the cut line is skipped with a warning, and the next append lands on a line of its own. */
Test(results_store, truncated_last_line) {
  char path[600], warn[2048];
  snprintf(path, sizeof path, "%s/runs.jsonl", test_dir("store-trunc"));
  unlink(path);
  for (int i = 0; i < 3; i++) append(path, i, 0.5);
  long len;
  char *full = slurp(path, &len);
  long start = len - 1;
  while (start > 0 && full[start - 1] != '\n') start--; /* first byte of the last line */
  for (long cut = start + 1; cut < len; cut++) {
    put(path, full, cut);
    smx_results r = load(path, warn, sizeof warn);
    int whole = cut == len - 1; /* everything but the newline: the record is complete */
    cr_assert_eq(r.n, whole ? 3u : 2u, "cut at %ld: %zu runs", cut, r.n);
    if (!whole) {
      cr_assert_eq(r.skipped, 1);
      cr_assert(strstr(warn, "the last line is incomplete") != NULL, "warning: %s", warn);
      cr_assert(strstr(warn, ":3:") != NULL, "warning does not name line 3: %s", warn);
    }
    smx_results_free(&r);
  }
  /* resume after the crash at a mid-line cut: the fragment becomes its own (skipped) line */
  put(path, full, start + 20);
  append(path, 7, 0.9);
  smx_results r = load(path, warn, sizeof warn);
  cr_assert_eq(r.n, 3, "runs 0, 1 and 7");
  cr_assert_eq(r.skipped, 1);
  cr_assert(strstr(warn, ":3: not valid JSON") != NULL, "warning: %s", warn);
  json_t *c7 = config_of(7), *c2 = config_of(2);
  cr_assert_not_null(smx_results_find(&r, c7));
  cr_assert_null(smx_results_find(&r, c2), "the interrupted run must be redone");
  json_decref(c7), json_decref(c2);
  smx_results_free(&r);
  free(full);
}

Test(results_store, foreign_and_tampered_lines) {
  char path[600], warn[4096];
  snprintf(path, sizeof path, "%s/runs.jsonl", test_dir("store-foreign"));
  unlink(path);
  append(path, 1, 0.5);
  FILE *f = fopen(path, "a");
  fputs("{\"schema_version\":1,\"kind\":\"bench\",\"key\":\"0123456789abcdef\",\"config\":{},\"result\":1}\n", f);
  fputs("{\"schema_version\":1,\"kind\":\"sweep_run\",\"key\":\"0123456789abcdef\",\"config\":{\"a\":1},\"result\":1}\n", f);
  fputs("{\"schema_version\":2,\"kind\":\"sweep_run\"}\n", f);
  fputs("[1,2]\n\n", f);
  fclose(f);
  append(path, 2, 0.5);
  smx_results r = load(path, warn, sizeof warn);
  cr_assert_eq(r.n, 2);
  cr_assert_eq(r.skipped, 4);
  cr_assert(strstr(warn, ":2: not a \"sweep_run\" line") != NULL, "%s", warn);
  cr_assert(strstr(warn, ":3: its \"key\" is not the hash of its \"config\"") != NULL, "%s", warn);
  cr_assert(strstr(warn, ":4: not schema_version 1") != NULL, "%s", warn);
  cr_assert(strstr(warn, ":5: not a JSON object") != NULL, "%s", warn);
  smx_results_free(&r);
}

Test(results_store, shards_partition_the_sweep) {
  enum { RUNS = 1000 };
  char keys[RUNS][17];
  for (int i = 0; i < RUNS; i++) {
    json_t *c = config_of(i);
    cr_assert_eq(smx_run_key(c, keys[i]), SMX_OK);
    json_decref(c);
  }
  const int ns[] = {1, 2, 3, 7, 64};
  for (int k = 0; k < 5; k++) {
    int n = ns[k], count[64] = {0};
    for (int r = 0; r < RUNS; r++) {
      int owners = 0;
      for (int i = 0; i < n; i++)
        if (smx_shard_owns(keys[r], i, n)) owners++, count[i]++;
      cr_assert_eq(owners, 1, "run %d has %d owners among %d shards", r, owners, n);
    }
    /* balance: binomial(1000, 1/n); 6 standard deviations */
    double mean = (double)RUNS / n, sd = sqrt(RUNS * (1.0 / n) * (1 - 1.0 / n));
    for (int i = 0; i < n; i++)
      cr_assert(fabs(count[i] - mean) <= 6 * sd + 1e-9, "shard %d/%d holds %d runs (mean %.1f)", i, n, count[i], mean);
  }
  int i, n;
  cr_assert_eq(smx_shard_parse("2/7", &i, &n), SMX_OK);
  cr_assert(i == 2 && n == 7);
  cr_assert_eq(smx_shard_parse("0/1", &i, &n), SMX_OK);
  const char *bad[] = {"7/7", "-1/4", "a/b", "1/0", "1", "1/2x", "", "/4", "1/ 2", " 1/2"};
  for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
    cr_assert_eq(smx_shard_parse(bad[b], &i, &n), SMX_ERR_INVALID, "'%s' accepted", bad[b]);
    cr_assert(strchr(smx_last_error(), '\n') == NULL);
  }
  smx_shard_parse("7/7", &i, &n);
  cr_assert(strstr(smx_last_error(), "I must be in 0..6") != NULL, "%s", smx_last_error());
}

Test(results_store, merge_dedups_and_reports_conflicts) {
  const char *dir = test_dir("store-merge");
  char out[600], a[600], b[600], warn[4096];
  snprintf(out, sizeof out, "%s/all.jsonl", dir);
  snprintf(a, sizeof a, "%s/shard-0.jsonl", dir);
  snprintf(b, sizeof b, "%s/shard-1.jsonl", dir);
  unlink(out), unlink(a), unlink(b);
  append(out, 100, 0.7); /* OUT's own run is kept */
  for (int i = 0; i < 6; i++) append(a, i, 0.1 * i);
  for (int i = 4; i < 10; i++) append(b, i, 0.1 * i); /* runs 4, 5 repeated, same results */
  append(b, 2, 0.99);                                  /* run 2 with another result: a conflict */
  const char *ins[] = {a, b};
  size_t runs, dups, conflicts;
  FILE *w = fmemopen(warn, sizeof warn, "w");
  cr_assert_eq(smx_results_merge(out, ins, 2, w, &runs, &dups, &conflicts), SMX_OK, "%s", smx_last_error());
  fclose(w);
  cr_assert_eq(runs, 11, "runs 0..9 and 100");
  cr_assert_eq(dups, 2);
  cr_assert_eq(conflicts, 1);
  cr_assert(strstr(warn, "shard-1.jsonl:7 has a different result than") != NULL, "%s", warn);
  smx_results r = load(out, warn, sizeof warn);
  cr_assert_eq(r.n, 11);
  cr_assert_eq(r.skipped, 0);
  json_t *c2 = config_of(2);
  const smx_run_record *rec = smx_results_find(&r, c2);
  cr_assert_float_eq(json_real_value(json_object_get(json_object_get(rec->line, "result"), "accuracy")), 0.2, 1e-15,
                     "the first result of run 2 must be kept");
  json_decref(c2);
  smx_results_free(&r);
  /* merging again changes nothing */
  cr_assert_eq(smx_results_merge(out, ins, 2, NULL, &runs, &dups, &conflicts), SMX_OK);
  cr_assert_eq(runs, 11);
  const char *missing[] = {"/nonexistent/shard.jsonl"};
  cr_assert_eq(smx_results_merge(out, missing, 1, NULL, NULL, NULL, NULL), SMX_ERR_IO);
}

static cli_result cr;

Test(results_store, cli_merge) {
  const char *dir = test_dir("store-cli");
  char out[600], a[600], b[600];
  snprintf(out, sizeof out, "%s/all.jsonl", dir);
  snprintf(a, sizeof a, "%s/s0.jsonl", dir);
  snprintf(b, sizeof b, "%s/s1.jsonl", dir);
  unlink(out), unlink(a), unlink(b);
  for (int i = 0; i < 3; i++) append(a, i, 0.5);
  for (int i = 2; i < 5; i++) append(b, i, 0.5);
  run_cli(&cr, (const char *[]){"sweep", "merge", out, a, b, NULL});
  cr_assert_eq(cr.status, 0, "stderr: %s", cr.err);
  cr_assert(strstr(cr.out, "5 runs (1 repeated lines dropped, 0 conflicts)") != NULL, "%s", cr.out);
  append(b, 0, 0.25);
  run_cli(&cr, (const char *[]){"sweep", "merge", out, a, b, NULL});
  cr_assert_eq(cr.status, 1, "a conflict must exit 1; stderr: %s", cr.err);
  cr_assert(strstr(cr.err, "1 runs have conflicting results") != NULL, "%s", cr.err);
  run_cli(&cr, (const char *[]){"sweep", NULL});
  cr_assert_eq(cr.status, 2);
  cr_assert_eq(cr.err_lines, 1, "%s", cr.err);
  run_cli(&cr, (const char *[]){"sweep", "merge", out, NULL});
  cr_assert_eq(cr.status, 2);
  cr_assert(strstr(cr.err, "give OUT and at least one IN") != NULL, "%s", cr.err);
  run_cli(&cr, (const char *[]){"sweep", "merge", out, "/nonexistent/s.jsonl", NULL});
  cr_assert_eq(cr.status, 2);
  cr_assert_eq(cr.err_lines, 1, "%s", cr.err);
  cr_assert(strstr(cr.err, "cannot read /nonexistent/s.jsonl") != NULL, "%s", cr.err);
  run_cli(&cr, (const char *[]){"sweep", "--help", NULL});
  cr_assert_eq(cr.status, 0);
  cr_assert(strstr(cr.out, "merge OUT IN") != NULL);
}
