/* The check harness: every variant against the reference, forward and backward.
 *
 * For one configuration, inputs are drawn from Philox (uniform in [-1, 1), stream = slot index)
 * and the op's fp64 oracle and naive fp32 reference run once. Then each variant runs each pass on
 * its own device, and every output tensor must satisfy
 *
 *     err(variant) <= k * err(naive) + c * FLT_EPSILON * max|oracle|
 *
 * (for a reduction that cancels, the op may replace max|oracle| by the magnitude of the summed
 * terms: smx_op.floor_scale)
 * where err is the max absolute error against the fp64 oracle and (k, c) are the op's tolerance
 * data for that tensor (k = 2 by default; the floor term keeps trivial shapes such as L = 1 from
 * failing on a zero err(naive)). Besides the error bound a pass fails when:
 *   - an output holds NaN/Inf where the oracle is finite (outputs are pre-filled with NaN, so an
 *     element the variant never writes is caught too);
 *   - a canary block around any tensor changed (out-of-bounds write);
 *   - an input tensor changed;
 *   - a CPU variant is not bitwise repeatable (each pass runs twice).
 * A variant that cannot run a configuration (device absent, shape unsupported) is skipped with
 * the reason, never failed.
 *
 * smx_check_fd() checks the fp64 reference backward itself by central finite differences of
 * <dy, y(x)> along a random direction per input.
 */
#ifndef SEQMIX_CHECK_H
#define SEQMIX_CHECK_H

#include <stdint.h>

#include "seqmix/op.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum smx_verdict { SMX_PASS = 0, SMX_FAIL = 1, SMX_SKIP = 2 } smx_verdict;
const char *smx_verdict_name(smx_verdict v);

typedef struct smx_check_row { /* one output tensor of one pass */
  smx_pass pass;
  int slot;
  const char *tensor;
  double err, err_naive, ref_max, scale, bound; /* scale: what the floor term multiplies */
  size_t worst_index;
  double worst_got, worst_want;
  size_t nonfinite;
  int canary_ok, inputs_intact, repeatable;
  int passed;
} smx_check_row;

typedef struct smx_check_outcome {
  smx_verdict verdict;
  char reason[320]; /* the skip reason, or the first failure */
  int n_rows;
  smx_check_row rows[SMX_MAX_TENSORS];
} smx_check_outcome;

typedef struct smx_check_case smx_check_case;

smx_status smx_check_case_new(const smx_config *c, uint64_t seed, smx_check_case **out);
void smx_check_case_free(smx_check_case *cc);
/* Runs the variant; a failed check is not an error: it is reported in out->verdict. Returns an
 * error status only when the harness itself could not run (allocation, a backend error). */
smx_status smx_check_variant(smx_check_case *cc, const smx_variant *v, smx_check_outcome *out);

/* Worst relative disagreement between the reference backward and finite differences, over all
 * differentiable inputs; detail names the worst input. Returns SMX_ERR_UNSUPPORTED with the reason
 * in detail when the op says finite differences cannot check this configuration. */
smx_status smx_check_fd(const smx_config *c, uint64_t seed, double *worst_rel, char *detail, size_t n);

#ifdef __cplusplus
}
#endif
#endif
