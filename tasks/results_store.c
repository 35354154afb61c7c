/* The sweep results store: append-only JSON lines, run keys, shards, merge
 * (include/seqmix/results_store.h). Tested by tests/test_results_store.c. */
#include "seqmix/results_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seqmix/json_io.h"

#define RUN_KIND "sweep_run"

char *smx_config_canonical(const json_t *config) {
  return json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* FNV-1a over the canonical text, then the splitmix64 finaliser so that every bit of the key
 * (and so "key mod n" for shards) depends on the whole text. */
static uint64_t text_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

smx_status smx_run_key(const json_t *config, char key[SMX_RUN_KEY_LEN + 1]) {
  if (!json_is_object(config)) return smx_fail(SMX_ERR_INVALID, "a run's config must be a JSON object");
  char *text = smx_config_canonical(config);
  if (!text) return smx_fail(SMX_ERR_NOMEM, "cannot serialise a run config");
  snprintf(key, SMX_RUN_KEY_LEN + 1, "%016" PRIx64, text_hash(text));
  free(text);
  return SMX_OK;
}

static int key_value(const char *key, uint64_t *v) {
  if (strlen(key) != SMX_RUN_KEY_LEN) return 0;
  uint64_t x = 0;
  for (int i = 0; i < SMX_RUN_KEY_LEN; i++) {
    char c = key[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return 0;
    x = x << 4 | (uint64_t)d;
  }
  *v = x;
  return 1;
}

/* ---- append ---- */

smx_status smx_results_append(const char *path, const json_t *config, const json_t *result, const json_t *meta,
                              char key_out[SMX_RUN_KEY_LEN + 1]) {
  char key[SMX_RUN_KEY_LEN + 1];
  smx_status s = smx_run_key(config, key);
  if (s != SMX_OK) return s;
  if (!result) return smx_fail(SMX_ERR_INVALID, "run %s has no result", key);
  json_t *obj = json_pack("{s:i, s:s, s:s, s:O, s:O}", "schema_version", SMX_SCHEMA_VERSION, "kind", RUN_KIND, "key", key,
                          "config", (json_t *)config, "result", (json_t *)result);
  if (obj && meta) json_object_set(obj, "meta", (json_t *)meta);
  char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(obj);
  if (!text) return smx_fail(SMX_ERR_NOMEM, "cannot serialise run %s", key);
  size_t len = strlen(text);
  /* room for a leading newline (after a truncated line) and the trailing one */
  char *line = malloc(len + 3);
  if (!line) {
    free(text);
    return smx_fail(SMX_ERR_NOMEM, "cannot serialise run %s", key);
  }
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    free(text), free(line);
    return smx_fail(SMX_ERR_IO, "cannot append to %s: %s", path, strerror(e));
  }
  /* A crash mid-append can leave a last line without its newline: start on a fresh line so the
   * fragment stays one (skipped) line and this record stays whole. */
  size_t o = 0;
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    char last = '\n';
    if (rfd >= 0) {
      if (pread(rfd, &last, 1, st.st_size - 1) != 1) last = '\n';
      close(rfd);
    }
    if (last != '\n') line[o++] = '\n';
  }
  memcpy(line + o, text, len);
  o += len;
  line[o++] = '\n';
  free(text);
  /* One write() of the whole line: with O_APPEND it lands at the end in one piece. A short
   * write (disk full) is completed if possible; otherwise the line is truncated and the
   * loader skips it. */
  size_t off = 0;
  while (off < o) {
    ssize_t w = write(fd, line + off, o - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd), free(line);
      return smx_fail(SMX_ERR_IO, "cannot append run %s to %s: %s", key, path, strerror(e));
    }
    off += (size_t)w;
  }
  free(line);
  if (fsync(fd) != 0 || close(fd) != 0)
    return smx_fail(SMX_ERR_IO, "cannot append run %s to %s: %s", key, path, strerror(errno));
  if (key_out) memcpy(key_out, key, SMX_RUN_KEY_LEN + 1);
  return SMX_OK;
}

/* ---- the in-memory store ---- */

static void warnf(FILE *warn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(FILE *warn, const char *fmt, ...) {
  if (!warn) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("seqmix: warning: ", warn);
  vfprintf(warn, fmt, ap);
  fputc('\n', warn);
  va_end(ap);
}

void smx_results_free(smx_results *r) {
  for (size_t i = 0; i < r->n; i++) json_decref(r->recs[i].line);
  for (size_t i = 0; i < r->n_files; i++) free(r->files[i]);
  free(r->recs), free(r->files);
  memset(r, 0, sizeof *r);
}

static smx_run_record *find_key(const smx_results *r, const char *key) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->recs[i].key, key) == 0) return &r->recs[i];
  return NULL;
}

static int same_json(const json_t *a, const json_t *b) {
  char *x = smx_config_canonical(a), *y = smx_config_canonical(b);
  int eq = x && y && strcmp(x, y) == 0;
  free(x), free(y);
  return eq;
}

const smx_run_record *smx_results_find(const smx_results *r, const json_t *config) {
  char key[SMX_RUN_KEY_LEN + 1];
  if (smx_run_key(config, key) != SMX_OK) return NULL;
  const smx_run_record *rec = find_key(r, key);
  return rec && same_json(json_object_get(rec->line, "config"), config) ? rec : NULL;
}

/* Why a parsed line is not a run record, or NULL. */
static const char *not_a_record(json_t *obj, char key[SMX_RUN_KEY_LEN + 1]) {
  if (!json_is_object(obj)) return "not a JSON object";
  json_t *v = json_object_get(obj, "schema_version");
  if (!json_is_integer(v) || json_integer_value(v) != SMX_SCHEMA_VERSION) return "not schema_version 1";
  const char *kind = json_string_value(json_object_get(obj, "kind"));
  if (!kind || strcmp(kind, RUN_KIND) != 0) return "not a \"" RUN_KIND "\" line";
  const char *k = json_string_value(json_object_get(obj, "key"));
  uint64_t kv;
  if (!k || !key_value(k, &kv)) return "no 16-hex-digit \"key\"";
  if (!json_is_object(json_object_get(obj, "config"))) return "no \"config\" object";
  if (!json_object_get(obj, "result")) return "no \"result\"";
  if (smx_run_key(json_object_get(obj, "config"), key) != SMX_OK || strcmp(key, k) != 0)
    return "its \"key\" is not the hash of its \"config\"";
  return NULL;
}

/* Takes ownership of obj. */
static smx_status add_record(smx_results *r, json_t *obj, const char *key, const char *file, long lineno, FILE *warn) {
  smx_run_record *old = find_key(r, key);
  if (old) {
    int same_cfg = same_json(json_object_get(old->line, "config"), json_object_get(obj, "config"));
    int same_res = same_json(json_object_get(old->line, "result"), json_object_get(obj, "result"));
    if (same_cfg && same_res) {
      r->duplicates++;
    } else {
      r->conflicts++;
      warnf(warn, "run %s: %s:%ld has a different %s than %s:%ld; kept the first", key, file, lineno,
            same_cfg ? "result" : "config (hash collision)", old->file, old->lineno);
    }
    json_decref(obj);
    return SMX_OK;
  }
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 64;
    smx_run_record *p = realloc(r->recs, cap * sizeof *p);
    if (!p) {
      json_decref(obj);
      return smx_fail(SMX_ERR_NOMEM, "out of memory reading %s", file);
    }
    r->recs = p, r->cap = cap;
  }
  smx_run_record *rec = &r->recs[r->n++];
  memcpy(rec->key, key, SMX_RUN_KEY_LEN + 1);
  rec->line = obj;
  rec->file = file;
  rec->lineno = lineno;
  return SMX_OK;
}

smx_status smx_results_load(smx_results *r, const char *path, int missing_ok, FILE *warn) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT && missing_ok) return SMX_OK;
    return smx_fail(SMX_ERR_IO, "cannot read %s: %s", path, strerror(errno));
  }
  char **files = realloc(r->files, (r->n_files + 1) * sizeof *files);
  char *name = strdup(path);
  if (!files || !name) {
    fclose(f);
    free(name);
    if (files) r->files = files;
    return smx_fail(SMX_ERR_NOMEM, "out of memory reading %s", path);
  }
  r->files = files;
  r->files[r->n_files++] = name;

  smx_status s = SMX_OK;
  char *buf = NULL;
  size_t cap = 0;
  long lineno = 0;
  ssize_t len;
  while (s == SMX_OK && (len = getline(&buf, &cap, f)) > 0) {
    lineno++;
    int complete = buf[len - 1] == '\n';
    size_t n = (size_t)len - (complete ? 1 : 0);
    if (n == 0) continue;
    json_error_t err;
    json_t *obj = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &err);
    char key[SMX_RUN_KEY_LEN + 1];
    const char *why = obj ? not_a_record(obj, key) : NULL;
    if (!obj || why) {
      r->skipped++;
      if (!complete)
        warnf(warn, "%s:%ld: the last line is incomplete (an interrupted append?); ignored", name, lineno);
      else if (!obj)
        warnf(warn, "%s:%ld: not valid JSON (column %d: %s); line ignored", name, lineno, err.column, err.text);
      else
        warnf(warn, "%s:%ld: %s; line ignored", name, lineno, why);
      json_decref(obj);
      continue;
    }
    s = add_record(r, obj, key, name, lineno, warn);
  }
  if (s == SMX_OK && ferror(f)) s = smx_fail(SMX_ERR_IO, "cannot read %s: %s", path, strerror(errno));
  free(buf);
  fclose(f);
  return s;
}

/* ---- shards ---- */

smx_status smx_shard_parse(const char *text, int *i, int *n) {
  char *end = NULL;
  errno = 0;
  long a = strtol(text, &end, 10), b = -1;
  if (end != text && *end == '/' && end[1] >= '0' && end[1] <= '9') {
    const char *q = end + 1;
    b = strtol(q, &end, 10);
  }
  if (errno || *end || b < 1 || b > 1000000 || a < 0 || text[0] < '0' || text[0] > '9')
    return smx_fail(SMX_ERR_INVALID, "--shard %s is not I/N with 0 <= I < N <= 1000000 (shards count from 0)", text);
  if (a >= b)
    return smx_fail(SMX_ERR_INVALID, "--shard %s: I must be in 0..%ld (shards count from 0)", text, b - 1);
  *i = (int)a;
  *n = (int)b;
  return SMX_OK;
}

int smx_shard_owns(const char key[SMX_RUN_KEY_LEN + 1], int i, int n) {
  uint64_t v;
  if (n < 1 || !key_value(key, &v)) return 0;
  return (int)(v % (uint64_t)n) == i;
}

/* ---- merge ---- */

smx_status smx_results_merge(const char *out_path, const char *const *inputs, int n_inputs, FILE *warn,
                             size_t *runs, size_t *duplicates, size_t *conflicts) {
  smx_results r = {0};
  /* OUT's own runs first: merging into an existing file adds to it, never drops what it held. */
  smx_status s = smx_results_load(&r, out_path, 1, warn);
  for (int k = 0; k < n_inputs && s == SMX_OK; k++) s = smx_results_load(&r, inputs[k], 0, warn);
  char *text = NULL;
  size_t len = 0, cap = 0;
  for (size_t i = 0; i < r.n && s == SMX_OK; i++) {
    char *line = json_dumps(r.recs[i].line, JSON_COMPACT | JSON_SORT_KEYS);
    size_t l = line ? strlen(line) : 0;
    if (line && len + l + 2 > cap) {
      cap = 2 * (len + l + 2);
      char *p = realloc(text, cap);
      if (!p) free(line), line = NULL;
      else text = p;
    }
    if (!line) {
      s = smx_fail(SMX_ERR_NOMEM, "out of memory merging into %s", out_path);
      break;
    }
    memcpy(text + len, line, l);
    len += l;
    text[len++] = '\n';
    free(line);
  }
  if (s == SMX_OK) s = smx_write_file_atomic(out_path, text ? text : "", len);
  if (runs) *runs = r.n;
  if (duplicates) *duplicates = r.duplicates;
  if (conflicts) *conflicts = r.conflicts;
  free(text);
  smx_results_free(&r);
  return s;
}
