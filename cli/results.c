/* Checked readers of bench.json and check.json (results.h). */
#include "results.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "seqmix/json_io.h"

static smx_status need_string(const char *path, size_t i, json_t *e, const char *key) {
  if (!json_is_string(json_object_get(e, key)))
    return smx_fail(SMX_ERR_PARSE, "%s: entry %zu has no string \"%s\"", path, i, key);
  return SMX_OK;
}

/* A run directory names its <file> inside; anything else is the file itself. */
static void resolve(const char *path_or_dir, const char *file, char *out, size_t n) {
  struct stat st;
  if (stat(path_or_dir, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(out, n, "%s/%s", path_or_dir, file);
  else snprintf(out, n, "%s", path_or_dir);
}

/* The rows of a bench.json or peers.json: the fields plot, report and gate read, checked. */
static smx_status check_rows(const char *path, json_t *doc) {
  json_t *list = json_object_get(doc, "benchmarks");
  if (!json_is_array(list)) return smx_fail(SMX_ERR_PARSE, "%s: \"benchmarks\" is not an array", path);
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (!json_is_object(e)) return smx_fail(SMX_ERR_PARSE, "%s: entry %zu is not an object", path, i);
    const char *keys[] = {"op", "variant", "device", "pass", "shape", "status"};
    for (int k = 0; k < 6; k++) {
      smx_status s = need_string(path, i, e, keys[k]);
      if (s != SMX_OK) return s;
    }
    if (!json_is_object(json_object_get(e, "params")))
      return smx_fail(SMX_ERR_PARSE, "%s: entry %zu has no \"params\" object", path, i);
    if (strcmp(json_string_value(json_object_get(e, "status")), "ok") == 0) {
      const char *nums[] = {"median_s", "flop_per_s", "bytes_per_s", "pct_peak_flops", "pct_peak_bw"};
      for (int k = 0; k < 5; k++)
        if (!json_is_number(json_object_get(e, nums[k])))
          return smx_fail(SMX_ERR_PARSE, "%s: entry %zu has no number \"%s\"", path, i, nums[k]);
      if (!(json_number_value(json_object_get(e, "median_s")) > 0))
        return smx_fail(SMX_ERR_PARSE, "%s: entry %zu has a non-positive median time", path, i);
    }
  }
  return SMX_OK;
}

smx_status load_bench(const char *run, json_t **out) {
  char path[4200];
  resolve(run, "bench.json", path, sizeof path);
  json_t *doc = NULL;
  smx_status s = smx_json_read_doc(path, "bench", &doc);
  if (s != SMX_OK) return s;
  s = check_rows(path, doc);
  if (s == SMX_OK && !json_is_object(json_object_get(doc, "hardware")))
    s = smx_fail(SMX_ERR_PARSE, "%s: no \"hardware\" object", path);
  if (s != SMX_OK) {
    json_decref(doc);
    return s;
  }
  *out = doc;
  return SMX_OK;
}

/* peers.json beside the bench.json at `bench_path`: its rows, checked, appended to the run's. */
static smx_status merge_peers(const char *bench_path, json_t *bench) {
  char path[4200];
  snprintf(path, sizeof path, "%s", bench_path);
  char *slash = strrchr(path, '/');
  size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
  snprintf(path + dir, sizeof path - dir, "peers.json");
  if (!smx_file_exists(path)) return SMX_OK;
  json_t *doc = NULL;
  smx_status s = smx_json_read_doc(path, "peers", &doc);
  if (s != SMX_OK) return s;
  if ((s = check_rows(path, doc)) == SMX_OK) {
    const char *run = json_string_value(json_object_get(bench, "run_id")), *pr = json_string_value(json_object_get(doc, "run_id"));
    if (!run || !pr || strcmp(run, pr))
      s = smx_fail(SMX_ERR_PARSE, "%s belongs to run %s, not to this run (%s): measure the peers again for this run", path,
                   pr ? pr : "(none)", run ? run : "(none)");
  }
  size_t i;
  json_t *e, *list = json_object_get(bench, "benchmarks");
  json_array_foreach(json_object_get(doc, "benchmarks"), i, e) {
    if (s != SMX_OK) break;
    if (!json_is_true(json_object_get(e, "peer")) || json_is_true(json_object_get(e, "baseline")))
      s = smx_fail(SMX_ERR_PARSE, "%s: entry %zu is not marked \"peer\": true (a peers file holds peers only)", path, i);
    else
      json_array_append(list, e);
  }
  /* who the peer was (name, version, device, what each peer variant computes), for the report */
  if (s == SMX_OK && json_is_object(json_object_get(doc, "peer"))) json_object_set(bench, "peer", json_object_get(doc, "peer"));
  json_decref(doc);
  return s;
}

smx_status load_bench_peers(const char *run, json_t **out) {
  smx_status s = load_bench(run, out);
  if (s != SMX_OK) return s;
  char path[4200];
  resolve(run, "bench.json", path, sizeof path);
  if ((s = merge_peers(path, *out)) != SMX_OK) {
    json_decref(*out);
    *out = NULL;
  }
  return s;
}

smx_status load_check(const char *run, json_t **out) {
  char path[4200];
  resolve(run, "check.json", path, sizeof path);
  json_t *doc = NULL;
  smx_status s = smx_json_read_doc(path, "check", &doc);
  if (s != SMX_OK) return s;
  json_t *list = json_object_get(doc, "results");
  if (!json_is_array(list) || !json_is_object(json_object_get(doc, "summary")))
    s = smx_fail(SMX_ERR_PARSE, "%s: no \"results\" array or \"summary\" object", path);
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (s != SMX_OK) break;
    const char *keys[] = {"op", "variant", "shape", "verdict"};
    for (int k = 0; k < 4 && s == SMX_OK; k++) s = need_string(path, i, e, keys[k]);
  }
  if (s != SMX_OK) {
    json_decref(doc);
    return s;
  }
  *out = doc;
  return SMX_OK;
}
