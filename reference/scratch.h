/* Scratch memory for the reference kernels, whose void signatures (op.h's oracle_f64 and
 * naive_f32) have no error path. Their scratch is a few rows (O(L) elements) beside tensors the
 * caller already holds, so failing to get it means the process is out of memory: say so on one
 * line and stop rather than compute from an unwritten buffer. */
#ifndef SEQMIX_REFERENCE_SCRATCH_H
#define SEQMIX_REFERENCE_SCRATCH_H

#include <stdio.h>
#include <stdlib.h>

static inline void *smx_ref_scratch(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "seqmix: error: a reference kernel cannot allocate %zu bytes of scratch memory\n", bytes);
    exit(2);
  }
  return p;
}

#endif
