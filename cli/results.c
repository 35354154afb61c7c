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

smx_status load_bench(const char *run, json_t **out) {
  char path[4200];
  resolve(run, "bench.json", path, sizeof path);
  json_t *doc = NULL;
  smx_status s = smx_json_read_doc(path, "bench", &doc);
  if (s != SMX_OK) return s;
  json_t *list = json_object_get(doc, "benchmarks");
  if (!json_is_array(list)) s = smx_fail(SMX_ERR_PARSE, "%s: \"benchmarks\" is not an array", path);
  if (s == SMX_OK && !json_is_object(json_object_get(doc, "hardware")))
    s = smx_fail(SMX_ERR_PARSE, "%s: no \"hardware\" object", path);
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (s != SMX_OK) break;
    if (!json_is_object(e)) { s = smx_fail(SMX_ERR_PARSE, "%s: entry %zu is not an object", path, i); break; }
    const char *keys[] = {"op", "variant", "device", "pass", "shape", "status"};
    for (int k = 0; k < 6 && s == SMX_OK; k++) s = need_string(path, i, e, keys[k]);
    if (s != SMX_OK) break;
    if (!json_is_object(json_object_get(e, "params"))) {
      s = smx_fail(SMX_ERR_PARSE, "%s: entry %zu has no \"params\" object", path, i);
      break;
    }
    if (strcmp(json_string_value(json_object_get(e, "status")), "ok") == 0) {
      const char *nums[] = {"median_s", "flop_per_s", "bytes_per_s", "pct_peak_flops", "pct_peak_bw"};
      for (int k = 0; k < 5; k++)
        if (!json_is_number(json_object_get(e, nums[k]))) {
          s = smx_fail(SMX_ERR_PARSE, "%s: entry %zu has no number \"%s\"", path, i, nums[k]);
          break;
        }
      if (s == SMX_OK && !(json_number_value(json_object_get(e, "median_s")) > 0))
        s = smx_fail(SMX_ERR_PARSE, "%s: entry %zu has a non-positive median time", path, i);
    }
  }
  if (s != SMX_OK) {
    json_decref(doc);
    return s;
  }
  *out = doc;
  return SMX_OK;
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
