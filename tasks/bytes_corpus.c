/* Byte-level language modelling over any text file (the `bytes` task): windows of L + 1 consecutive
 * bytes, inputs the first L, labels the next byte at every position, vocab 256. The trainer's mean
 * loss over the labelled positions is then the per-byte cross-entropy (nats), and exp(loss) the
 * per-byte perplexity. docs/tasks.md "Real LRA data and the byte corpus".
 *
 *   seqmix task gen --task bytes --param L=64,data=$HOME/enwik8 --n 2
 *   SEQMIX_DATA=~/data seqmix task train --task bytes --param L=256   # reads $SEQMIX_DATA/corpus.txt
 *   build/tests/seqmix_tests --filter lra_data/\*
 *
 * Split: the train windows lie in the file's first 90% (bytes [0, S), S = floor(0.9 size)) and the
 * test windows in the last 10% ([S, size)); no window crosses S. Example e's start is uniform over
 * the region's size - L starts, drawn from the task's Philox stream (seed, split, example e), so
 * windows may overlap and repeat, and a dataset is a function of (file, L, split, seed, n). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "task_data.h"
#include "task_impl.h"

enum { BY_L };

static int64_t by_seq_len(const smx_task_config *c) { return task_int(c, BY_L); }
static int64_t by_vocab(const smx_task_config *c) {
  (void)c;
  return 256;
}

static smx_status by_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  const int64_t L = task_int(c, BY_L);
  char path[SMX_TASK_DATA_MAX + 64];
  FILE *f = NULL;
  smx_status st = smx_task_data_path(c, path, sizeof path);
  if (st != SMX_OK || (st = task_data_open(c, path, &f)) != SMX_OK) return st;
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0) {
    fclose(f);
    return smx_fail(SMX_ERR_PARSE, "bytes: cannot read %s: %s", path, strerror(errno));
  }
  const int64_t size = (int64_t)sb.st_size, cut = size / 10 * 9 + size % 10 * 9 / 10;
  const int64_t lo = split == SMX_SPLIT_TRAIN ? 0 : cut, hi = split == SMX_SPLIT_TRAIN ? cut : size;
  if (hi - lo < L + 1) {
    fclose(f);
    return smx_fail(size ? SMX_ERR_INVALID : SMX_ERR_PARSE,
                    "bytes: the %s part of %s is %lld bytes (of %lld), shorter than one window of L+1 = %lld bytes",
                    smx_split_name(split), path, (long long)(hi - lo), (long long)size, (long long)(L + 1));
  }
  const uint64_t starts = (uint64_t)(hi - lo - L); /* window starts lo .. hi - L - 1 */
  unsigned char *buf = malloc((size_t)L + 1);
  if (!buf) {
    fclose(f);
    return smx_fail(SMX_ERR_NOMEM, "bytes: cannot allocate a window of %lld bytes", (long long)(L + 1));
  }
  for (int64_t e = 0; e < n && st == SMX_OK; e++) {
    task_rng r;
    task_rng_init(&r, seed, split, TASK_PART_EXAMPLE, (uint64_t)e);
    uint64_t at;
    if (starts <= UINT32_MAX) at = task_rng_below(&r, (uint32_t)starts);
    else { /* corpora over 4 GiB: a 64-bit draw, modulo bias below 2^-32 */
      uint64_t w = (uint64_t)task_rng_u32(&r) << 32;
      at = (w | task_rng_u32(&r)) % starts;
    }
    if (fseeko(f, (off_t)(lo + (int64_t)at), SEEK_SET) != 0 || fread(buf, 1, (size_t)L + 1, f) != (size_t)L + 1) {
      st = smx_fail(SMX_ERR_PARSE, "bytes: %s: cannot read %lld bytes at offset %lld", path, (long long)(L + 1),
                    (long long)(lo + (int64_t)at));
      break;
    }
    int32_t *in = inputs + e * L, *lb = labels + e * L;
    for (int64_t t = 0; t < L; t++) in[t] = buf[t], lb[t] = buf[t + 1];
  }
  free(buf);
  fclose(f);
  return st;
}

static smx_status by_check(const smx_task_config *c, const char *path) { return task_data_need(c, path, 0); }

const smx_task smx_task_bytes = {
    .name = "bytes",
    .summary = "byte-level language modelling on a text file: next byte at every position (loss = per-byte CE)",
    .source = "seqmix (windows of a user's corpus; 90/10 train/test by file position)",
    .n_params = 1,
    .params = {{"L", 1024, 1, 1 << 20, 0, "bytes per example (the sequence length T)"}},
    .seq_len = by_seq_len,
    .vocab = by_vocab,
    .generate = by_generate,
    .data_layout = "a text file, any bytes (e.g. enwik8)",
    .data_subdir = "corpus.txt",
    .data_check = by_check,
};
