/* What the generator files of tasks/ share: the task tables they define and the safari-style
 * "unique examples, then shuffle" dataset builder. Private to tasks/. */
#ifndef SEQMIX_TASK_IMPL_H
#define SEQMIX_TASK_IMPL_H

#include "seqmix/tasks.h"
#include "task_rng.h"

extern const smx_task smx_task_mqar;
extern const smx_task smx_task_induction_head;
extern const smx_task smx_task_assoc_recall;
extern const smx_task smx_task_selective_copy;
extern const smx_task smx_task_selective_copy_mamba;
extern const smx_task smx_task_listops;
extern const smx_task smx_task_passkey;
extern const smx_task smx_task_niah;
extern const smx_task smx_task_vartrack;
extern const smx_task smx_task_cwe;
extern const smx_task smx_task_fwe;

/* Parameter i of c as an integer (ranges are checked at parse time). */
static inline int64_t task_int(const smx_task_config *c, int i) { return (int64_t)c->v[i]; }

/* FNV-1a (64-bit) over a token sequence: the de-duplicating generators' hash-table key. */
uint64_t task_seq_hash(const int32_t *s, int64_t len);

/* Appends a teacher-forced answer of n tokens after a question whose last token is at t - 1: that
 * position's label is answer[0], then answer[i] is the input whose label is answer[i + 1] (the last
 * answer token is only a label). Returns the position after the answer's inputs. */
static inline int64_t task_answer(int32_t *in, int32_t *lb, int64_t t, const int32_t *answer, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    lb[t - 1] = answer[i];
    if (i + 1 < n) in[t++] = answer[i];
  }
  return t;
}

/* Writes one full sequence of T + 1 tokens (inputs = seq[0..T), shifted LM targets = seq[1..T]).
 * scratch holds scratch_len int32 that are all -1 on entry and must be all -1 on return. */
typedef void (*task_full_seq_fn)(const smx_task_config *c, task_rng *r, int32_t *seq, int32_t *scratch);

/* safari's ICL dataset: draws full sequences until n distinct ones are found (a bounded number
 * of draws, else SMX_ERR_INVALID naming how many exist), shuffles them, and writes inputs and
 * labels: train = the full shifted sequence, test = SMX_IGNORE_LABEL except the last position. */
smx_status task_unique_dataset(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n,
                               task_full_seq_fn gen, int64_t scratch_len, int32_t *inputs, int32_t *labels);

#endif
