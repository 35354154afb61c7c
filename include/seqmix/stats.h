/* Statistics for gating: the two-sided Mann–Whitney U test over repetitions, as Google
 * Benchmark's compare.py computes it (scipy's asymptotic form: normal approximation with tie and
 * continuity corrections, which scipy uses whenever both samples have 8 or more values), and
 * medians. */
#ifndef SEQMIX_STATS_H
#define SEQMIX_STATS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smx_mwu {
  double u;       /* U of the first sample (scipy's `statistic`) */
  double p_value; /* two-sided */
} smx_mwu;

/* Returns 0, or -1 when a sample is empty. */
int smx_mann_whitney_u(const double *x, size_t nx, const double *y, size_t ny, smx_mwu *out);
double smx_median(const double *x, size_t n); /* NaN when n == 0 */

#ifdef __cplusplus
}
#endif
#endif
