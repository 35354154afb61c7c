/* Where the file-backed tasks find their data and the helpers they share (tasks/task_data.h):
 * data=PATH or $SEQMIX_DATA/<subdir>, the presence check behind `seqmix task list` and the suite's
 * report, and the seed-determined choice of n examples out of a split.
 *
 *   SEQMIX_DATA=~/data seqmix task list            # says which data is present
 *   build/tests/seqmix_tests --filter lra_data/\*
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "task_data.h"
#include "task_rng.h"

smx_status task_data_join(char *buf, size_t n, const char *path, const char *name) {
  size_t pl = strlen(path);
  int slash = pl > 0 && path[pl - 1] == '/';
  int len = snprintf(buf, n, "%s%s%s", path, slash || !*name ? "" : "/", name);
  if (len < 0 || (size_t)len >= n) return smx_fail(SMX_ERR_INVALID, "data path %.60s.../%s is too long", path, name);
  return SMX_OK;
}

smx_status smx_task_data_path(const smx_task_config *c, char *buf, size_t n) {
  const smx_task *t = c->task;
  if (!t->data_layout) return smx_fail(SMX_ERR_INVALID, "task %s reads no data files", t->name);
  if (c->data[0]) {
    if (strlen(c->data) >= n) return smx_fail(SMX_ERR_INVALID, "%s: data=%.40s... is too long", t->name, c->data);
    snprintf(buf, n, "%s", c->data);
    return SMX_OK;
  }
  const char *root = getenv("SEQMIX_DATA");
  if (!root || !*root)
    return smx_fail(SMX_ERR_IO, "%s: data not present: no data= given and SEQMIX_DATA is not set (looked for "
                                "$SEQMIX_DATA/%s: %s)",
                    t->name, t->data_subdir, t->data_layout);
  return task_data_join(buf, n, root, t->data_subdir);
}

int smx_task_data_present(const smx_task_config *c) {
  if (!c->task->data_layout) return 1;
  char path[SMX_TASK_DATA_MAX + 64];
  if (smx_task_data_path(c, path, sizeof path) != SMX_OK) return 0;
  return c->task->data_check ? c->task->data_check(c, path) == SMX_OK : task_data_need(c, path, 0) == SMX_OK;
}

smx_status task_data_need(const smx_task_config *c, const char *path, int want_dir) {
  struct stat st;
  const char *what = want_dir ? "a directory" : "a file";
  if (stat(path, &st) != 0 && errno != ENOENT && errno != ENOTDIR) /* there, but not for us */
    return smx_fail(SMX_ERR_PARSE, "%s: cannot read %s: %s", c->task->name, path, strerror(errno));
  if (stat(path, &st) != 0)
    return smx_fail(SMX_ERR_IO, "%s: data not present: %s: %s (expected %s; %s)", c->task->name, path, strerror(errno),
                    what, c->task->data_layout);
  if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
    return smx_fail(SMX_ERR_IO, "%s: data not present: %s is not %s (%s)", c->task->name, path, what, c->task->data_layout);
  return SMX_OK;
}

smx_status task_data_open(const smx_task_config *c, const char *path, FILE **out) {
  *out = NULL;
  smx_status s = task_data_need(c, path, 0);
  if (s != SMX_OK) return s;
  FILE *f = fopen(path, "rb");
  if (!f) return smx_fail(SMX_ERR_PARSE, "%s: cannot read %s: %s", c->task->name, path, strerror(errno));
  *out = f;
  return SMX_OK;
}

smx_status task_data_pick(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int64_t N,
                          const char *what, int64_t **out) {
  *out = NULL;
  if (N < n)
    return smx_fail(SMX_ERR_INVALID, "%s: the %s split has %lld examples (%s), fewer than n=%lld", c->task->name,
                    smx_split_name(split), (long long)N, what, (long long)n);
  if (N > (int64_t)UINT32_MAX)
    return smx_fail(SMX_ERR_PARSE, "%s: %lld examples in %s are more than this loader indexes", c->task->name,
                    (long long)N, what);
  int64_t *p = malloc((size_t)N * sizeof *p);
  if (!p) return smx_fail(SMX_ERR_NOMEM, "%s: cannot index %lld examples", c->task->name, (long long)N);
  for (int64_t i = 0; i < N; i++) p[i] = i;
  /* partial Fisher-Yates: position i takes a uniform pick of the N - i not yet taken */
  task_rng r;
  task_rng_init(&r, seed, split, TASK_PART_SHUFFLE, 0);
  for (int64_t i = 0; i < n; i++) {
    int64_t j = i + (int64_t)task_rng_below(&r, (uint32_t)(N - i));
    int64_t t = p[i];
    p[i] = p[j], p[j] = t;
  }
  *out = p;
  return SMX_OK;
}

int64_t task_data_line(FILE *f, char **line, size_t *cap) {
  ssize_t len = getline(line, cap, f);
  if (len < 0) return -1;
  if (len > 0 && (*line)[len - 1] == '\n') (*line)[--len] = 0;
  if (len > 0 && (*line)[len - 1] == '\r') (*line)[--len] = 0;
  return (int64_t)len;
}
