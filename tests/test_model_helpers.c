/* Shared whole-model test helpers (tests/test_model_helpers.h). */
#include "test_model_helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/philox.h"

void model_test_batch(int64_t T, int64_t V, int32_t *ids, int32_t *labels) {
  for (int64_t t = 0; t < T; t++) {
    ids[t] = (int32_t)(smx_philox_word(3, 0, (uint64_t)t) % (uint64_t)V);
    labels[t] = t % 3 == 1 ? -100 : (int32_t)(smx_philox_word(3, 1, (uint64_t)t) % (uint64_t)V);
  }
}

/* (L(v + h) - L(v - h)) / 2h at the parameter v */
static double central(smx_model *m, const int32_t *ids, const int32_t *labels, float *v, float h) {
  const float keep = *v;
  float lp, lm;
  *v = keep + h;
  cr_assert_eq(smx_model_step(m, ids, labels, 0, &lp, NULL), SMX_OK);
  *v = keep - h;
  cr_assert_eq(smx_model_step(m, ids, labels, 0, &lm, NULL), SMX_OK);
  *v = keep;
  return ((double)lp - (double)lm) / (2.0 * (double)h);
}

int model_gradient_check(smx_model *m, const int32_t *ids, const int32_t *labels, int richardson, const char *what) {
  float loss;
  cr_assert_eq(smx_model_step(m, ids, labels, 1, &loss, NULL), SMX_OK, "%s: %s", what, smx_last_error());
  cr_assert(isfinite(loss) && loss > 0, "%s: loss %g", what, (double)loss);
  float *p = smx_model_params(m);
  size_t n = smx_model_param_count(m);
  float *an = malloc(n * sizeof *an);
  cr_assert_not_null(an);
  memcpy(an, smx_model_grads(m), n * sizeof *an);
  size_t off, size;
  const char *name;
  int checked = 0;
  for (int i = 0; (name = smx_model_param_name(m, i, &off, &size)); i++) {
    if (!size) continue;
    double worst = 0, scale = 0;
    for (size_t j = 0; j < size; j++) scale = fmax(scale, fabs(an[off + j]));
    for (int s = 0; s < 6; s++) {
      size_t j = off + smx_philox_word(5, (uint32_t)i, (uint64_t)s) % size;
      double fd = richardson ? (4.0 * central(m, ids, labels, p + j, 5e-3f) - central(m, ids, labels, p + j, 1e-2f)) / 3.0
                             : central(m, ids, labels, p + j, 1e-2f);
      worst = fmax(worst, fabs(fd - an[j]));
      checked++;
    }
    /* fp32 loss differences over 2h: ~1e-5 of rounding (1e-4 after the extrapolation); the rest is truncation */
    cr_expect(worst <= 2e-2 * scale + 2e-4, "%s: %s: finite differences differ by %.3g (max |grad| %.3g)", what, name, worst,
              scale);
  }
  free(an);
  return checked;
}
