/* Helpers shared by the Criterion tests: running the seqmix command and reading files. */
#ifndef SEQMIX_TEST_HELPERS_H
#define SEQMIX_TEST_HELPERS_H

#include <stddef.h>

typedef struct cli_result {
  int status;       /* exit status, or 128 + signal */
  char out[65536];  /* stdout (its end, when longer) */
  char err[8192];   /* stderr (its end, when longer) */
  int err_lines;    /* number of lines on stderr */
} cli_result;

/* Runs SMX_CLI_PATH with the NULL-terminated arguments. */
void run_cli(cli_result *r, const char *const *args);
/* A fresh empty directory under the build tree for this test; returns its path (static storage). */
const char *test_dir(const char *name);
void write_text(const char *path, const char *text);
long file_size(const char *path);
struct json_t;
/* The claims table (cli/claims.c) of a run's bench document as Markdown text (caller frees; NULL
 * when no memory stream could be opened). */
char *claims_table_text(struct json_t *bench);

#endif
