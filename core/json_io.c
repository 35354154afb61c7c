/* Atomic writes and checked reads of seqmix's JSON files (include/seqmix/json_io.h). */
#include "seqmix/json_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

json_t *smx_json_new_doc(const char *kind) {
  return json_pack("{s:i, s:s}", "schema_version", SMX_SCHEMA_VERSION, "kind", kind);
}

int smx_file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

smx_status smx_mkdir_p(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return smx_fail(SMX_ERR_INVALID, "path is too long: %.80s...", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return smx_fail(SMX_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST)
    return smx_fail(SMX_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
  struct stat st;
  if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
    return smx_fail(SMX_ERR_IO, "%s exists and is not a directory", buf);
  return SMX_OK;
}

smx_status smx_write_file_atomic(const char *path, const char *data, size_t len) {
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return smx_fail(SMX_ERR_INVALID, "path is too long: %.80s...", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return smx_fail(SMX_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      unlink(tmp);
      return smx_fail(SMX_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    off += (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    int e = errno;
    unlink(tmp);
    return smx_fail(SMX_ERR_IO, "cannot write %s: %s", path, strerror(e));
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return smx_fail(SMX_ERR_IO, "cannot rename %s into place: %s", path, strerror(e));
  }
  return SMX_OK;
}

smx_status smx_json_write_atomic(const char *path, json_t *root) {
  char *text = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
  if (!text) return smx_fail(SMX_ERR_NOMEM, "cannot serialise JSON for %s", path);
  size_t len = strlen(text);
  char *with_nl = realloc(text, len + 2);
  if (!with_nl) {
    free(text);
    return smx_fail(SMX_ERR_NOMEM, "cannot serialise JSON for %s", path);
  }
  with_nl[len] = '\n';
  with_nl[len + 1] = 0;
  smx_status s = smx_write_file_atomic(path, with_nl, len + 1);
  free(with_nl);
  return s;
}

smx_status smx_json_read_doc(const char *path, const char *kind, json_t **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return smx_fail(SMX_ERR_IO, "cannot read %s: %s", path, strerror(errno));
  json_error_t err;
  json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
  fclose(f);
  if (!root)
    return smx_fail(SMX_ERR_PARSE, "%s is not valid JSON (line %d, column %d: %s)", path, err.line, err.column,
                    err.text);
  if (!json_is_object(root)) {
    json_decref(root);
    return smx_fail(SMX_ERR_PARSE, "%s: expected a JSON object at the top level", path);
  }
  json_t *ver = json_object_get(root, "schema_version");
  if (!json_is_integer(ver)) {
    json_decref(root);
    return smx_fail(SMX_ERR_PARSE, "%s has no integer \"schema_version\" (not a seqmix file?)", path);
  }
  if (json_integer_value(ver) != SMX_SCHEMA_VERSION) {
    long long v = (long long)json_integer_value(ver);
    json_decref(root);
    return smx_fail(SMX_ERR_PARSE, "%s has schema_version %lld; this seqmix reads version %d", path, v,
                    SMX_SCHEMA_VERSION);
  }
  if (kind) {
    const char *k = json_string_value(json_object_get(root, "kind"));
    if (!k || strcmp(k, kind) != 0) {
      smx_status s = smx_fail(SMX_ERR_PARSE, "%s is a \"%s\" file, expected \"%s\"", path, k ? k : "(no kind)", kind);
      json_decref(root);
      return s;
    }
  }
  *out = root;
  return SMX_OK;
}
