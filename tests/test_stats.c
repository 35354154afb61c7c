/* Mann–Whitney U against scipy.stats.mannwhitneyu(x, y, alternative='two-sided') (scipy 1.17.1,
 * asymptotic method, the one compare.py gets for samples of 9 or more), and medians. */
#include <criterion/criterion.h>
#include <math.h>

#include "seqmix/stats.h"

static void expect(const double *x, size_t nx, const double *y, size_t ny, double u, double p) {
  smx_mwu r;
  cr_assert_eq(smx_mann_whitney_u(x, nx, y, ny, &r), 0);
  cr_assert(fabs(r.u - u) < 1e-12, "U %g, want %g", r.u, u);
  cr_assert(fabs(r.p_value - p) < 1e-12 * p + 1e-15, "p %.17g, want %.17g", r.p_value, p);
}

Test(stats, mann_whitney_matches_scipy) {
  const double a[] = {1.0, 1.1, 0.9, 1.05, 0.95, 1.02, 0.98, 1.01, 0.99};
  const double b[] = {1.2, 1.15, 1.25, 1.18, 1.22, 1.3, 1.12, 1.19, 1.21};
  expect(a, 9, b, 9, 0.0, 0.00041229480206169127);
  const double c[] = {1, 2, 2, 3, 3, 3, 4, 5, 6}, d[] = {2, 3, 4, 4, 5, 5, 6, 7, 7}; /* ties */
  expect(c, 9, d, 9, 20.0, 0.07372302753347901);
  const double e[] = {0.5, 0.7, 0.2, 0.9, 1.3, 0.4, 0.8, 1.1, 0.6, 1.0};
  const double f[] = {0.45, 0.95, 1.2, 0.3, 0.85, 1.05, 0.55, 0.75, 1.15};
  expect(e, 10, f, 9, 40.0, 0.7133031738784577);
}

Test(stats, degenerate_samples) {
  const double same[] = {2, 2, 2, 2, 2, 2, 2, 2, 2};
  smx_mwu r;
  cr_assert_eq(smx_mann_whitney_u(same, 9, same, 9, &r), 0);
  cr_assert_eq(r.p_value, 1.0);
  cr_assert_eq(smx_mann_whitney_u(same, 0, same, 9, &r), -1);
}

Test(stats, median) {
  const double x[] = {5, 1, 3}, y[] = {4, 1, 3, 2};
  cr_assert_eq(smx_median(x, 3), 3.0);
  cr_assert_eq(smx_median(y, 4), 2.5);
  cr_assert(isnan(smx_median(x, 0)));
}
