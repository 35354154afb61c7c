/* The sweep results store (tasks/results_store.c): one JSON line per finished run, appended, so
 * an interrupted sweep resumes without redoing or losing finished runs.
 *
 * A line is {"config": {...}, "key": "<16 hex>", "kind": "sweep_run", "result": {...},
 * "schema_version": 1} (keys sorted, no spaces), optionally with "meta" (host, times: anything
 * that may differ between two executions of the same run). The key is a hash of the config in
 * canonical form (sorted keys, compact), so a config written with its keys in any order has one
 * key; numbers keep their JSON type (1 and 1.0 are different configs).
 *
 * Appends write the whole line with one write() on an O_APPEND descriptor, then fsync: a crash
 * leaves at most a truncated last line, which loading reports as a warning and skips; every
 * earlier line stays readable, and the next append starts on a fresh line.
 *
 * Shards: run `--shard i/n` owns the runs whose key hash is i modulo n (0 <= i < n). Ownership
 * depends only on the run's own config, so adding runs to a sweep never moves an existing run to
 * another shard (changing n does). Each shard appends to its own file; `seqmix sweep merge OUT
 * IN...` joins them.
 *
 *   seqmix sweep merge results/sweep.jsonl results/shard-0.jsonl results/shard-1.jsonl */
#ifndef SEQMIX_RESULTS_STORE_H
#define SEQMIX_RESULTS_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMX_RUN_KEY_LEN 16

typedef struct smx_run_record {
  char key[SMX_RUN_KEY_LEN + 1];
  json_t *line;     /* the whole parsed line (owned) */
  const char *file; /* where it was read (owned by the store) */
  long lineno;
} smx_run_record;

typedef struct smx_results {
  smx_run_record *recs;
  size_t n, cap;
  size_t skipped;    /* lines ignored: truncated, corrupt, foreign */
  size_t duplicates; /* repeated keys with the same config and result */
  size_t conflicts;  /* repeated keys with a different config or result (the first is kept) */
  char **files;
  size_t n_files;
} smx_results;

/* The canonical text of a config (sorted keys, compact; caller frees) and its key. */
char *smx_config_canonical(const json_t *config);
smx_status smx_run_key(const json_t *config, char key[SMX_RUN_KEY_LEN + 1]);

/* Appends one finished run. meta may be NULL. key_out (may be NULL) receives the run's key. */
smx_status smx_results_append(const char *path, const json_t *config, const json_t *result, const json_t *meta,
                              char key_out[SMX_RUN_KEY_LEN + 1]);

/* Adds the runs of path to r (which starts zeroed). Unreadable lines are skipped with one
 * "seqmix: warning:" line each on warn (NULL: silent) and counted in r->skipped. A missing file is
 * an empty store when missing_ok, else SMX_ERR_IO. */
smx_status smx_results_load(smx_results *r, const char *path, int missing_ok, FILE *warn);
void smx_results_free(smx_results *r);

/* The finished run with this config, or NULL (a key match with another config is not a match). */
const smx_run_record *smx_results_find(const smx_results *r, const json_t *config);

/* "i/n" with 0 <= i < n <= 1000000; one error line otherwise. */
smx_status smx_shard_parse(const char *text, int *i, int *n);
int smx_shard_owns(const char key[SMX_RUN_KEY_LEN + 1], int i, int n);

/* Joins the runs of out_path (when it exists) and of every input into out_path, written
 * atomically: each key once, in order of first appearance. Same key with a different config or
 * result is a conflict: reported on warn, the first kept, counted in *conflicts. */
smx_status smx_results_merge(const char *out_path, const char *const *inputs, int n_inputs, FILE *warn,
                             size_t *runs, size_t *duplicates, size_t *conflicts);

#ifdef __cplusplus
}
#endif
#endif
