/* What the whole-model tests share (tests/test_model*.c): the tiny batch they train on and the
 * check of every parameter tensor's gradient against central finite differences of the loss. */
#ifndef SEQMIX_TEST_MODEL_HELPERS_H
#define SEQMIX_TEST_MODEL_HELPERS_H

#include <stdint.h>

#include "seqmix/model.h"

/* T tokens in [0, V), every third position unlabelled (-100), the rest labelled in [0, V): Philox, seed 3. */
void model_test_batch(int64_t T, int64_t V, int32_t *ids, int32_t *labels);

/* One backward step (finite loss > 0 asserted), then 6 sampled entries of every tensor against
 * central differences at h = 1e-2 of the fp32 loss, or with richardson = 1 the differences at h
 * and h / 2 combined to cancel their O(h^2) truncation (for layers whose loss curves enough that
 * plain differences at 1e-2 miss by a few percent: the Mamba-2 block). A tensor fails (cr_expect,
 * naming it and `what`) when the worst entry misses by more than 2e-2 of the tensor's largest
 * gradient + 2e-4. Returns the number of entries checked. */
int model_gradient_check(smx_model *m, const int32_t *ids, const int32_t *labels, int richardson, const char *what);

#endif
