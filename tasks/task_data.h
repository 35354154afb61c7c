/* What the file-backed tasks share (tasks/task_data.c): their task tables, where their data is
 * looked for, the seed-determined choice of n examples out of a split, and a line reader for the
 * TSV files. Private to tasks/. docs/tasks.md "Real LRA data and the byte corpus".
 *
 * Status convention (include/seqmix/tasks.h): SMX_ERR_IO = the data is not there (nothing at the
 * path looked for), SMX_ERR_PARSE = it is there but unusable (unreadable, truncated, bad columns or
 * labels). Every failure is one line naming the file. */
#ifndef SEQMIX_TASK_DATA_H
#define SEQMIX_TASK_DATA_H

#include <stdint.h>
#include <stdio.h>

#include "seqmix/tasks.h"

extern const smx_task smx_task_lra_listops;
extern const smx_task smx_task_lra_text;
extern const smx_task smx_task_lra_retrieval;
extern const smx_task smx_task_lra_image;
extern const smx_task smx_task_bytes;

/* path/name into buf; SMX_ERR_INVALID when it does not fit. */
smx_status task_data_join(char *buf, size_t n, const char *path, const char *name);

/* SMX_OK when path is a regular file (want_dir 0) or a directory (1); SMX_ERR_IO naming it and
 * what was expected otherwise. */
smx_status task_data_need(const smx_task_config *c, const char *path, int want_dir);

/* Opens a data file for reading: SMX_ERR_IO when it does not exist, SMX_ERR_PARSE when it exists
 * but cannot be read (permissions, a directory). */
smx_status task_data_open(const smx_task_config *c, const char *path, FILE **out);

/* The n examples of a split of N: the first n of a permutation of [0, N) drawn from the task's
 * Philox stream (seed, split, TASK_PART_SHUFFLE), so any n is a uniform sample and n = N is the
 * whole split in a seed-determined order. Fails with one line when N < n. *out is malloc'ed. */
smx_status task_data_pick(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int64_t N,
                          const char *what, int64_t **out);

/* Reads one line (without its "\n" or "\r\n", as Python's csv writer ends rows) into *line,
 * growing it as getline does; returns its length, or -1 at the end of the file. */
int64_t task_data_line(FILE *f, char **line, size_t *cap);

#endif
