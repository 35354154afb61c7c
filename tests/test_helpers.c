/* Helpers for the tests (test_helpers.h). */
#include "test_helpers.h"

#include "claims.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Reads a captured stream; when it is longer than the buffer the end is kept, where the closing
 * lines the tests look for are. */
static void slurp(const char *path, char *buf, size_t n) {
  buf[0] = 0;
  FILE *f = fopen(path, "r");
  if (!f) return;
  if (fseek(f, 0, SEEK_END) == 0) {
    long size = ftell(f);
    if (size > (long)(n - 1)) fseek(f, size - (long)(n - 1), SEEK_SET);
    else rewind(f);
  }
  size_t got = fread(buf, 1, n - 1, f);
  buf[got] = 0;
  fclose(f);
}

static void make_dir(const char *path) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
  if (system(cmd) != 0) abort();
}

void run_cli(cli_result *r, const char *const *args) {
  char out_path[600], err_path[600], dir[512];
  snprintf(dir, sizeof dir, "%s/cli-io-%ld", SMX_TEST_TMP, (long)getpid());
  make_dir(dir);
  snprintf(out_path, sizeof out_path, "%s/stdout.txt", dir);
  snprintf(err_path, sizeof err_path, "%s/stderr.txt", dir);
  const char *argv[64];
  int n = 0;
  argv[n++] = SMX_CLI_PATH;
  for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
  argv[n] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, SMX_CLI_PATH, &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  r->status = -1;
  if (rc == 0) {
    int st = 0;
    waitpid(pid, &st, 0);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  slurp(out_path, r->out, sizeof r->out);
  slurp(err_path, r->err, sizeof r->err);
  r->err_lines = 0;
  for (const char *p = r->err; *p; p++) r->err_lines += *p == '\n';
}

const char *test_dir(const char *name) {
  static char paths[8][512]; /* rotating, so a test can hold several directories */
  static int next;
  char *path = paths[next++ % 8];
  snprintf(path, 512, "%s/%s-%ld", SMX_TEST_TMP, name, (long)getpid());
  make_dir(path);
  return path;
}

void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) abort();
  fputs(text, f);
  fclose(f);
}

long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

char *claims_table_text(json_t *bench) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return NULL;
  claims_table(f, bench);
  fclose(f);
  return text;
}
