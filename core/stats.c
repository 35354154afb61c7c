/* Mann–Whitney U and medians (include/seqmix/stats.h). */
#include "seqmix/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ranked {
  double v;
  int first; /* 1 = from x */
} ranked;

static int cmp_ranked(const void *a, const void *b) {
  double x = ((const ranked *)a)->v, y = ((const ranked *)b)->v;
  return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double smx_median(const double *x, size_t n) {
  if (n == 0) return NAN;
  double *s = malloc(n * sizeof *s);
  if (!s) return NAN;
  memcpy(s, x, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_double);
  double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  free(s);
  return m;
}

int smx_mann_whitney_u(const double *x, size_t nx, const double *y, size_t ny, smx_mwu *out) {
  out->u = 0;
  out->p_value = 1;
  if (nx == 0 || ny == 0) return -1;
  size_t n = nx + ny;
  ranked *r = malloc(n * sizeof *r);
  if (!r) return -1;
  for (size_t i = 0; i < nx; i++) r[i] = (ranked){x[i], 1};
  for (size_t i = 0; i < ny; i++) r[nx + i] = (ranked){y[i], 0};
  qsort(r, n, sizeof *r, cmp_ranked);
  /* midranks for ties; the tie term sum(t^3 - t) for the variance */
  double rank_sum_x = 0, ties = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && r[j + 1].v == r[i].v) j++;
    double t = (double)(j - i + 1), mid = 0.5 * (double)(i + j) + 1.0;
    for (size_t k = i; k <= j; k++)
      if (r[k].first) rank_sum_x += mid;
    ties += t * t * t - t;
    i = j + 1;
  }
  free(r);
  double n1 = (double)nx, n2 = (double)ny, nn = (double)n;
  double u1 = rank_sum_x - n1 * (n1 + 1) / 2, u2 = n1 * n2 - u1;
  double mu = n1 * n2 / 2;
  double var = n1 * n2 / 12 * ((nn + 1) - ties / (nn * (nn - 1)));
  out->u = u1;
  if (var <= 0) { /* every value equal: no evidence of a difference */
    out->p_value = 1;
    return 0;
  }
  double u = u1 > u2 ? u1 : u2;
  double z = (u - mu - 0.5) / sqrt(var);
  double p = erfc(z / sqrt(2.0)); /* 2 * P(Z > z) */
  out->p_value = p > 1 ? 1 : p;
  return 0;
}
