/* Every mixer kind of the task runner's model (tasks/mixer.h) on its own: gradients of
 * L = sum(y * r) + aux against central finite differences for the input and every tensor, at an
 * awkward small shape (B = 2, L = 7, d = 8), and bitwise-repeatable forward and backward.
 *   build/tests/seqmix_tests --filter mixers/'*' */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/philox.h"
#include "tasks/mixer.h"

typedef struct layer {
  const mixer_kind *k;
  mixer_shape s;
  mixer_tensor t[MIXER_MAX_TENSORS];
  int nt;
  float *p[MIXER_MAX_TENSORS], *g[MIXER_MAX_TENSORS];
  void *state;
  float *x, *y, *r, *dx;
} layer;

static void setup(layer *l, const mixer_kind *k, int64_t B, int64_t L, int64_t d) {
  memset(l, 0, sizeof *l);
  l->k = k;
  l->s = (mixer_shape){.B = B, .L = L, .T = B * L, .d = d, .heads = 2, .d_ff = 12, .layer = 0, .layers = 2, .init_std = 0.35f};
  cr_assert_eq(mixer_options_parse(k, k->check_options, &l->s), SMX_OK, "%s: %s", k->name, smx_last_error());
  cr_assert_eq(k->tensors(&l->s, l->t, &l->nt), SMX_OK, "%s: %s", k->name, smx_last_error());
  cr_assert_eq(k->create(&l->s, &l->state), SMX_OK, "%s: %s", k->name, smx_last_error());
  float out_std = 0.35f / 2.0f;
  for (int i = 0; i < l->nt; i++) {
    size_t n = l->t[i].size;
    l->p[i] = calloc(n ? n : 1, sizeof(float)), l->g[i] = calloc(n ? n : 1, sizeof(float));
    switch (l->t[i].init) {
    case MI_NORMAL: mixer_fill_normal(l->p[i], n, 21, (uint32_t)i, 0.35f); break;
    case MI_OUT: mixer_fill_normal(l->p[i], n, 21, (uint32_t)i, out_std); break;
    case MI_ONES: for (size_t j = 0; j < n; j++) l->p[i][j] = 1.0f; break;
    /* zero-initialized biases and gains get values, so their gradients are exercised off zero */
    case MI_ZEROS: mixer_fill_uniform(l->p[i], n, 21, (uint32_t)i, -0.3f, 0.3f); break;
    case MI_CUSTOM: k->init(&l->s, i, l->p[i], n, 21, (uint32_t)i); break;
    }
  }
  size_t Td = (size_t)(l->s.T * d);
  l->x = malloc(Td * 4), l->y = malloc(Td * 4), l->r = malloc(Td * 4), l->dx = malloc(Td * 4);
  mixer_fill_uniform(l->x, Td, 5, 0, -1, 1);
  mixer_fill_uniform(l->r, Td, 5, 1, -1, 1);
}

static void teardown(layer *l) {
  l->k->destroy(l->state);
  for (int i = 0; i < l->nt; i++) free(l->p[i]), free(l->g[i]);
  free(l->x), free(l->y), free(l->r), free(l->dx);
}

static double objective(layer *l) {
  double aux = 0;
  cr_assert_eq(l->k->forward(l->state, l->p, l->x, l->y, &aux), SMX_OK, "%s: %s", l->k->name, smx_last_error());
  double s = aux;
  for (int64_t i = 0; i < l->s.T * l->s.d; i++) s += (double)l->y[i] * l->r[i];
  return s;
}

static void backward(layer *l) {
  for (int i = 0; i < l->nt; i++) memset(l->g[i], 0, l->t[i].size * sizeof(float));
  objective(l);
  cr_assert_eq(l->k->backward(l->state, l->p, l->x, l->r, l->dx, l->g), SMX_OK, "%s: %s", l->k->name, smx_last_error());
}

/* max |fd - analytic| over 8 sampled entries of v (n values) against its analytic gradient an */
static double fd_worst(layer *l, float *v, const float *an, size_t n, uint32_t stream, double *scale) {
  double worst = 0;
  *scale = 0;
  for (size_t j = 0; j < n; j++) *scale = fmax(*scale, fabs(an[j]));
  for (int s = 0; s < 8; s++) {
    size_t j = smx_philox_word(9, stream, (uint64_t)s) % n;
    const float h = 1e-2f, keep = v[j];
    v[j] = keep + h;
    double lp = objective(l);
    v[j] = keep - h;
    double lm = objective(l);
    v[j] = keep;
    worst = fmax(worst, fabs((lp - lm) / (2.0 * h) - an[j]));
  }
  return worst;
}

static void check_kind(const mixer_kind *k) {
  layer l;
  setup(&l, k, 2, 7, 8);
  backward(&l);
  size_t Td = (size_t)(l.s.T * l.s.d);
  float *dx = malloc(Td * 4);
  memcpy(dx, l.dx, Td * 4);
  float *g[MIXER_MAX_TENSORS];
  for (int i = 0; i < l.nt; i++) g[i] = malloc((l.t[i].size ? l.t[i].size : 1) * 4), memcpy(g[i], l.g[i], l.t[i].size * 4);
  /* the second run gives the same bits */
  backward(&l);
  cr_expect(!memcmp(dx, l.dx, Td * 4), "%s: dx differs between two identical steps", k->name);
  for (int i = 0; i < l.nt; i++)
    cr_expect(!memcmp(g[i], l.g[i], l.t[i].size * 4), "%s: %s's gradient differs between two identical steps", k->name, l.t[i].name);
  /* fp32 objective differences over 2h: ~1e-4 of rounding; the rest is O(h^2) truncation */
  double scale, worst = fd_worst(&l, l.x, dx, Td, 100, &scale);
  cr_expect(worst <= 3e-2 * scale + 2e-3, "%s: dx differs from finite differences by %.3g (max |dx| %.3g)", k->name, worst, scale);
  for (int i = 0; i < l.nt; i++) {
    if (!l.t[i].size) continue;
    worst = fd_worst(&l, l.p[i], g[i], l.t[i].size, (uint32_t)i, &scale);
    cr_expect(worst <= 3e-2 * scale + 2e-3, "%s: %s's gradient differs from finite differences by %.3g (max |g| %.3g)", k->name,
              l.t[i].name, worst, scale);
  }
  for (int i = 0; i < l.nt; i++) free(g[i]);
  free(dx);
  teardown(&l);
}

Test(mixers, every_kind_matches_finite_differences) {
  cr_assert_geq(mixer_kind_count(), 2);
  for (int i = 0; i < mixer_kind_count(); i++) check_kind(mixer_kind_at(i));
}

Test(mixers, patterns_and_options) {
  const mixer_kind *k[8];
  cr_assert_eq(mixer_pattern_expand("attention", 0, 4, k), SMX_OK);
  cr_assert(k[0] == mixer_kind_find("attention") && k[3] == k[0]);
  cr_assert_eq(mixer_pattern_expand("none,mlp", 1, 4, k), SMX_OK);
  cr_assert(k[0] == NULL && k[1] == mixer_kind_find("mlp") && k[2] == NULL && k[3] == k[1]);
  cr_assert_eq(mixer_pattern_expand("attention,attention*3", 0, 8, k), SMX_OK);
  cr_assert_eq(mixer_pattern_expand("attention*0", 0, 4, k), SMX_ERR_INVALID);
  cr_assert_eq(mixer_pattern_expand("attention,", 0, 4, k), SMX_ERR_INVALID);
  cr_assert_eq(mixer_pattern_expand("mlp", 0, 4, k), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "sequence mixer 'mlp' is not known"), "%s", smx_last_error());
  cr_assert_eq(mixer_pattern_expand("attention*3", 0, 4, k), SMX_ERR_INVALID);
  cr_assert_eq(mixer_options_validate("nokind.N=1"), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "no mixer is called 'nokind'"), "%s", smx_last_error());
  cr_assert_eq(mixer_options_validate("attention"), SMX_ERR_INVALID);
  cr_assert_eq(mixer_options_validate(""), SMX_OK);
}
