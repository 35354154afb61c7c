/* Selective copying in its two published forms. docs/tasks.md#selective-copying.
 *
 *   seqmix task gen --task selective_copy --n 2                  # MAD's form (the quick default)
 *   seqmix task gen --task selective_copy_mamba --param L=64 --n 2
 *
 * selective_copy (MAD-lab, athms/mad-lab mad/data/instances.py generate_copying_instance with
 * selective=True; Poli et al. 2024): data tokens [0, V-2), blank V-2, copy V-1. N data tokens
 * (uniform, with replacement) with L - 2N - 1 blanks inserted before them (each blank picks the
 * data token it precedes uniformly: numpy.insert at indices randint(0, N)), one copy token, N
 * blanks; labels are the N data tokens in order at the last N positions.
 *
 * selective_copy_mamba (the Mamba paper's task, Gu & Dao 2023, built on the selective Copying
 * dataset of state-spaces/s4 src/dataloaders/datasets/copying.py with variable=True): noise 0,
 * data tokens [1, V-1), marker V-1. N data tokens (uniform, with replacement) at a uniformly
 * random set of N positions among the first L - N, noise elsewhere, then N markers; labels are
 * the data tokens in order at the N marker positions. L is the whole input length (s4's
 * L_noise + 2N). Neither source changes labels between train and test. */
#include <stdlib.h>

#include "task_impl.h"

enum { P_V, P_L, P_N };

static int64_t sc_seq_len(const smx_task_config *c) { return task_int(c, P_L); }
static int64_t sc_vocab(const smx_task_config *c) { return task_int(c, P_V); }

/* ---- MAD ---- */

static smx_status mad_validate(const smx_task_config *c) {
  int64_t L = task_int(c, P_L), N = task_int(c, P_N);
  if (L <= 2 * N + 1)
    return smx_fail(SMX_ERR_INVALID, "selective_copy: L=%lld must exceed 2N+1 = %lld (MAD's condition)", (long long)L,
                    (long long)(2 * N + 1));
  return SMX_OK;
}

static smx_status mad_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                               int32_t *labels) {
  const int64_t V = task_int(c, P_V), L = task_int(c, P_L), N = task_int(c, P_N);
  const int32_t blank = (int32_t)(V - 2), copy = (int32_t)(V - 1);
  const int64_t n_blank = L - 2 * N - 1;
  int64_t *before = malloc((size_t)N * sizeof *before); /* blanks inserted before data token i */
  int32_t *data = malloc((size_t)N * sizeof *data);
  if (!before || !data) {
    free(before), free(data);
    return smx_fail(SMX_ERR_NOMEM, "selective_copy: cannot allocate N=%lld", (long long)N);
  }
  for (int64_t e = 0; e < n; e++) {
    task_rng r;
    task_rng_init(&r, seed, split, TASK_PART_EXAMPLE, (uint64_t)e);
    int32_t *in = inputs + e * L, *lb = labels + e * L;
    for (int64_t i = 0; i < N; i++) data[i] = (int32_t)task_rng_below(&r, (uint32_t)(V - 2));
    for (int64_t i = 0; i < N; i++) before[i] = 0;
    /* randint(0, N): a blank never lands between the last data token and the copy token. */
    for (int64_t b = 0; b < n_blank; b++) before[task_rng_below(&r, (uint32_t)N)]++;
    int64_t t = 0;
    for (int64_t i = 0; i < N; i++) {
      for (int64_t b = 0; b < before[i]; b++) in[t++] = blank;
      in[t++] = data[i];
    }
    in[t++] = copy;
    for (int64_t i = 0; i < N; i++) in[t++] = blank;
    for (int64_t q = 0; q < L - N; q++) lb[q] = SMX_IGNORE_LABEL;
    for (int64_t i = 0; i < N; i++) lb[L - N + i] = data[i];
  }
  free(before), free(data);
  return SMX_OK;
}

const smx_task smx_task_selective_copy = {
    .name = "selective_copy",
    .summary = "MAD's selective copying: N tokens among blanks, a copy token, then reproduce them in order",
    .source = "athms/mad-lab mad/data/instances.py generate_selective_copying_instance (Poli et al. 2024)",
    .n_params = 3,
    .params =
        {
            {"V", 16, 3, 16777216, 0, "vocab_size: data [0, V-2), blank V-2, copy V-1"},
            {"L", 256, 4, 1048576, 0, "seq_len (L > 2N + 1)"},
            {"N", 16, 1, 65536, 0, "num_tokens_to_copy"},
        },
    .validate = mad_validate,
    .seq_len = sc_seq_len,
    .vocab = sc_vocab,
    .generate = mad_generate,
};

/* ---- Mamba / s4 ---- */

static smx_status mamba_validate(const smx_task_config *c) {
  int64_t L = task_int(c, P_L), N = task_int(c, P_N);
  if (L < 2 * N)
    return smx_fail(SMX_ERR_INVALID, "selective_copy_mamba: L=%lld must be at least 2N = %lld", (long long)L,
                    (long long)(2 * N));
  return SMX_OK;
}

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

static smx_status mamba_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                                 int32_t *labels) {
  const int64_t V = task_int(c, P_V), L = task_int(c, P_L), N = task_int(c, P_N);
  const int32_t marker = (int32_t)(V - 1);
  int32_t *pos = malloc((size_t)N * sizeof *pos);
  if (!pos) return smx_fail(SMX_ERR_NOMEM, "selective_copy_mamba: cannot allocate N=%lld", (long long)N);
  for (int64_t e = 0; e < n; e++) {
    task_rng r;
    task_rng_init(&r, seed, split, TASK_PART_EXAMPLE, (uint64_t)e);
    int32_t *in = inputs + e * L, *lb = labels + e * L;
    for (int64_t q = 0; q < L; q++) {
      in[q] = q < L - N ? 0 : marker;
      lb[q] = SMX_IGNORE_LABEL;
    }
    /* s4: randperm(L_noise + M)[:M], sorted — a uniform N-subset of the data region. */
    task_rng_distinct(&r, 0, (uint32_t)(L - N), (int)N, pos);
    qsort(pos, (size_t)N, sizeof *pos, cmp_i32);
    for (int64_t i = 0; i < N; i++) {
      int32_t tok = (int32_t)(1 + task_rng_below(&r, (uint32_t)(V - 2)));
      in[pos[i]] = tok;
      lb[L - N + i] = tok;
    }
  }
  free(pos);
  return SMX_OK;
}

const smx_task smx_task_selective_copy_mamba = {
    .name = "selective_copy_mamba",
    .summary = "Mamba's selective copying: N tokens at random positions among noise, then N markers to emit them",
    .source = "Mamba (Gu & Dao 2023) Sec. 4.1 / state-spaces/s4 src/dataloaders/datasets/copying.py (variable=True)",
    .n_params = 3,
    .params =
        {
            {"V", 16, 3, 16777216, 0, "vocab size: noise 0, data [1, V-1), marker V-1"},
            {"L", 4096, 2, 1048576, 0, "whole input length: L - N data region, then N markers (L >= 2N)"},
            {"N", 16, 1, 4096, 0, "tokens to memorize"},
        },
    .validate = mamba_validate,
    .seq_len = sc_seq_len,
    .vocab = sc_vocab,
    .generate = mamba_generate,
};
