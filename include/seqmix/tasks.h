/* Synthetic task generators (tasks/): MQAR (Zoology), induction head and associative recall
 * (H3 / safari), selective copying in MAD's and in Mamba's form, and Long Range Arena's ListOps.
 * docs/tasks.md gives each spec.
 *
 * A generator fills a dataset of n examples: inputs int32 [n, T] and labels int32 [n, T], where
 * T = smx_task_seq_len(config) and labels are SMX_IGNORE_LABEL (-100) wherever no loss is taken.
 * Everything is a pure function of (task, parameters, split, seed, n): the randomness is the
 * Philox stream of include/seqmix/philox.h.
 *
 * Train and test are disjoint by construction, not by seed ranges: every Philox draw of a split
 * uses a counter whose stream word carries the split, so the train and test sets of the same
 * seed (and of any two seeds) read different Philox blocks. Zoology gets the same effect with
 * seed ranges [0, 2^31) and [2^31, 2^32).
 *
 * File-backed tasks (lra_listops, lra_text, lra_retrieval, lra_image, bytes) read a user's copy of a
 * real dataset instead (data=PATH or $SEQMIX_DATA); theirs are a function of the files as well.
 *
 *   seqmix task list                                       # the tasks and their parameters
 *   seqmix task gen --task mqar --n 4 --seed 1 --param L=64,N=4
 */
#ifndef SEQMIX_TASKS_H
#define SEQMIX_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMX_IGNORE_LABEL (-100)
#define SMX_TASK_MAX_PARAMS 12

typedef enum smx_split { SMX_SPLIT_TRAIN = 0, SMX_SPLIT_TEST = 1 } smx_split;

typedef struct smx_task_param {
  const char *name;
  double def, min, max;
  int is_real; /* 0: the value must be an integer */
  const char *help;
} smx_task_param;

typedef struct smx_task smx_task;

#define SMX_TASK_DATA_MAX 1024

typedef struct smx_task_config {
  const smx_task *task;
  double v[SMX_TASK_MAX_PARAMS]; /* in the order of task->params */
  /* File-backed tasks: the dataset's path from "data=PATH"; "" = $SEQMIX_DATA/<task->data_subdir>. */
  char data[SMX_TASK_DATA_MAX];
} smx_task_config;

struct smx_task {
  const char *name;
  const char *summary;
  const char *source; /* the published code or paper the generator follows */
  int n_params;
  smx_task_param params[SMX_TASK_MAX_PARAMS];
  /* Relations between parameters (ranges are checked before); one error line on failure. */
  smx_status (*validate)(const smx_task_config *c);
  int64_t (*seq_len)(const smx_task_config *c); /* T: length of inputs and labels */
  int64_t (*vocab)(const smx_task_config *c);   /* every token is in [0, vocab) */
  /* Tokens per answer value (a passkey, a needle's value, a variable's name), the unit of exact
   * match and of RULER's string_match_all: the labelled positions of an example, in order, cut into
   * spans of this many. NULL: 1 (every labelled token its own value). */
  int64_t (*answer_span)(const smx_task_config *c);
  /* Fills n examples. Deduplicating tasks need the whole set, so this is per dataset. */
  smx_status (*generate)(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                         int32_t *labels);
  /* File-backed tasks (real datasets, docs/tasks.md "Real LRA data and the byte corpus"); NULL for
   * generated ones. data_layout: one line naming the files expected; data_subdir: where they are
   * looked for under $SEQMIX_DATA when no data= is given; data_check: SMX_OK when the files are
   * there (SMX_ERR_IO with one line naming what is missing otherwise). */
  const char *data_layout;
  const char *data_subdir;
  smx_status (*data_check)(const smx_task_config *c, const char *path);
  /* Image tasks (pathfinder, pathx): the first width * height input tokens of an example are 8-bit
   * pixels in raster order, which `seqmix task gen --images DIR` writes as PGM files. NULL: not an
   * image task. */
  void (*image_dims)(const smx_task_config *c, int64_t *width, int64_t *height);
};

int smx_task_count(void);
const smx_task *smx_task_at(int i);
/* Unknown names fail with the list of known tasks. */
smx_status smx_task_lookup(const char *name, const smx_task **out);

/* "L=64,N=4,V=8192": unnamed parameters keep their defaults; unknown names, non-numbers, values
 * out of range and violated relations fail with one line. NULL or "" gives the defaults.
 * A file-backed task also takes "data=PATH" as the last item: everything after "data=" is the path
 * (so it may hold commas); format writes it back last. */
smx_status smx_task_config_parse(const smx_task *t, const char *spec, smx_task_config *out);
void smx_task_config_format(const smx_task_config *c, char *buf, size_t n); /* "V=8192,L=64,..." */
double smx_task_get(const smx_task_config *c, const char *name);            /* 0 when absent */

int64_t smx_task_seq_len(const smx_task_config *c);
int64_t smx_task_vocab(const smx_task_config *c);
int64_t smx_task_answer_span(const smx_task_config *c); /* >= 1 */
/* Validates n (1 .. 2^31, and n*T within 2^31 elements) and runs the generator. */
smx_status smx_task_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                             int32_t *labels);
const char *smx_split_name(smx_split s);

/* Where a file-backed task reads its data: config->data, else $SEQMIX_DATA/<data_subdir>.
 * SMX_ERR_IO (one line naming what was looked for) when neither is set. */
smx_status smx_task_data_path(const smx_task_config *c, char *buf, size_t n);
/* 1 when the task needs no data or its files are found; 0 otherwise, with the error line naming what
 * was looked for. The tasks' generate returns SMX_ERR_IO for data that is not there (nothing to read
 * at the path) and SMX_ERR_PARSE for data that is there but unusable (unreadable, truncated, bad
 * columns or labels), so callers can tell "data not present" from a broken dataset. */
int smx_task_data_present(const smx_task_config *c);

#ifdef __cplusplus
}
#endif
#endif
