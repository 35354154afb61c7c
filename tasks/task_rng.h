/* The random draws of the task generators: Philox words (include/seqmix/philox.h) read in
 * order from one stream per (split, part, example), and the integer, real and subset draws
 * built on them. Private to tasks/.
 *
 * Counter layout: stream word = 0x40000000 | split << 16 | part (bit 30 keeps task streams apart
 * from the op-input streams, which are small slot numbers); word index = example << 24 | draw.
 * So the train and test splits of any seed read disjoint Philox blocks, every example has its
 * own 2^24 draws (parameter ranges keep generators far below that), and example e of a dataset
 * does not depend on how many examples are generated after it. */
#ifndef SEQMIX_TASK_RNG_H
#define SEQMIX_TASK_RNG_H

#include <stdint.h>

#include "seqmix/philox.h"
#include "seqmix/tasks.h"

/* Parts of a generator's randomness that must not share draws. */
enum { TASK_PART_EXAMPLE = 0, TASK_PART_SHUFFLE = 1 };

typedef struct task_rng {
  uint32_t key[2], stream;
  uint64_t next;    /* index of the next word */
  uint64_t blk;     /* block held in out[], or UINT64_MAX */
  uint32_t out[4];
} task_rng;

static inline void task_rng_init(task_rng *r, uint64_t seed, smx_split split, uint32_t part, uint64_t example) {
  r->key[0] = (uint32_t)seed;
  r->key[1] = (uint32_t)(seed >> 32);
  r->stream = 0x40000000u | ((uint32_t)split << 16) | part;
  r->next = example << 24;
  r->blk = UINT64_MAX;
}

/* Same words as smx_philox_word(seed, stream, i), one Philox call per four words. */
static inline uint32_t task_rng_u32(task_rng *r) {
  uint64_t i = r->next++, b = i >> 2;
  if (b != r->blk) {
    uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), r->stream, 0u};
    smx_philox4x32_10(ctr, r->key, r->out);
    r->blk = b;
  }
  return r->out[i & 3];
}

/* Uniform integer in [0, n), n >= 1, without modulo bias (Lemire's multiply-and-reject). */
static inline uint32_t task_rng_below(task_rng *r, uint32_t n) {
  uint64_t m = (uint64_t)task_rng_u32(r) * n;
  uint32_t low = (uint32_t)m;
  if (low < n) {
    uint32_t t = (uint32_t)(-n) % n;
    while (low < t) {
      m = (uint64_t)task_rng_u32(r) * n;
      low = (uint32_t)m;
    }
  }
  return (uint32_t)(m >> 32);
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double task_rng_unit(task_rng *r) {
  uint32_t a = task_rng_u32(r) >> 5, b = task_rng_u32(r) >> 6;
  return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

/* k distinct integers from [lo, lo + range), k <= range, in uniformly random order, as numpy's
 * choice(replace=False) gives them: Floyd's subset draw (k draws, no O(range) table) followed by
 * a Fisher-Yates shuffle of the subset. The membership test is a scan: k is at most a few
 * hundred here. */
static inline void task_rng_distinct(task_rng *r, int32_t lo, uint32_t range, int k, int32_t *out) {
  for (int j = 0; j < k; j++) {
    uint32_t top = range - (uint32_t)k + (uint32_t)j; /* draw from [0, top] */
    int32_t t = lo + (int32_t)task_rng_below(r, top + 1), pick = t;
    for (int q = 0; q < j; q++)
      if (out[q] == t) {
        pick = lo + (int32_t)top;
        break;
      }
    out[j] = pick;
  }
  for (int j = k - 1; j > 0; j--) {
    int q = (int)task_rng_below(r, (uint32_t)j + 1);
    int32_t tmp = out[j];
    out[j] = out[q];
    out[q] = tmp;
  }
}

#endif
