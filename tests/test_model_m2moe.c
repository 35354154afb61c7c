/* The m2 sequence mixer and the moe and cdmoe channel mixers (tasks/mixer_m2.c, mixer_moe.c,
 * mixer_cdmoe.c) inside the task runner's model: whole-model gradients against central finite
 * differences on a hybrid (attention and m2 layers, moe and cdmoe channel mixers, every expert
 * selected), m2 with its explicit kernel, training steps with a real top-k selection that are
 * finite and bitwise repeatable, the auxiliary loss, and refused options.
 *   build/tests/seqmix_tests --filter model_m2moe/'*' */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/model.h"
#include "seqmix/philox.h"
#include "test_model_helpers.h"

/* every candidate selected (k = E, kh = E, kp = K): finite differences cannot move a selection */
#define FULL_SELECTION "moe.E=3,moe.k=3,moe.F=4,moe.S=5,cdmoe.E=9,cdmoe.H=2,cdmoe.kh=9,cdmoe.kp=3,cdmoe.S=5"

static smx_status make(int64_t B, int64_t L, const char *mixer, const char *channel, const char *options, smx_model **m) {
  smx_model_config c = {.vocab = 13, .d = 8, .layers = 2, .heads = 2, .d_ff = 12, .max_len = 0, .init_std = 0.35f};
  snprintf(c.mixer, sizeof c.mixer, "%s", mixer);
  snprintf(c.channel, sizeof c.channel, "%s", channel);
  snprintf(c.options, sizeof c.options, "%s", options);
  *m = NULL;
  smx_status s = smx_model_create(&c, B, L, m);
  if (s == SMX_OK) smx_model_init(*m, 11);
  return s;
}

static void batch(int64_t T, int32_t *ids, int32_t *labels) { model_test_batch(T, 13, ids, labels); }

/* tests/test_model_helpers.h's check: 6 sampled entries of every tensor against central differences */
static void gradient_check(const char *mixer, const char *channel, const char *options) {
  smx_model *m;
  cr_assert_eq(make(2, 7, mixer, channel, options, &m), SMX_OK, "%s", smx_last_error());
  int32_t ids[14], labels[14];
  batch(14, ids, labels);
  char what[256];
  snprintf(what, sizeof what, "%s / %s", mixer, channel);
  cr_assert_gt(model_gradient_check(m, ids, labels, 0, what), 100);
  smx_model_destroy(m);
}

Test(model_m2moe, hybrid_gradients_match_finite_differences) {
  gradient_check("attention,m2", "moe,cdmoe", "m2.w=1,m2.order=4," FULL_SELECTION);
}

Test(model_m2moe, m2_explicit_kernel_gradients_match_finite_differences) {
  /* lam = 0: the soft threshold is the identity, so no kernel entry sits near its kink */
  gradient_check("m2,attention", "cdmoe,moe", "m2.filter=1,m2.lam=0," FULL_SELECTION);
}

/* Two identical steps (with backward) give the same loss and gradient bits. */
static void repeat_check(const char *mixer, const char *channel, const char *options) {
  smx_model *m;
  cr_assert_eq(make(3, 16, mixer, channel, options, &m), SMX_OK, "%s", smx_last_error());
  int32_t ids[48], labels[48];
  batch(48, ids, labels);
  float l1, l2;
  size_t n = smx_model_param_count(m);
  float *g1 = malloc(n * sizeof *g1);
  cr_assert_eq(smx_model_step(m, ids, labels, 1, &l1, NULL), SMX_OK, "%s", smx_last_error());
  cr_assert(isfinite(l1) && l1 > 0, "%s/%s: loss %g", mixer, channel, l1);
  memcpy(g1, smx_model_grads(m), n * sizeof *g1);
  int finite = 1;
  for (size_t i = 0; i < n; i++) finite &= isfinite(g1[i]);
  cr_expect(finite, "%s/%s: a gradient is not finite", mixer, channel);
  cr_assert_eq(smx_model_step(m, ids, labels, 1, &l2, NULL), SMX_OK);
  cr_expect(l1 == l2 && !memcmp(g1, smx_model_grads(m), n * sizeof *g1), "%s/%s: two identical steps differ", mixer, channel);
  free(g1);
  smx_model_destroy(m);
}

Test(model_m2moe, real_selections_are_finite_and_bitwise_repeatable) {
  /* a real top-2 of 4 experts; 2 of 16 product-key experts per head with kp = kh < K */
  repeat_check("attention,m2", "moe,cdmoe", "moe.E=4,moe.k=2,moe.S=6,moe.renorm=1,cdmoe.E=16,cdmoe.H=2,cdmoe.kh=2");
  repeat_check("m2", "moe", "moe.E=4,moe.k=1,m2.filter=1");
  repeat_check("attention,m2", "cdmoe", "cdmoe.E=16,cdmoe.kh=3,cdmoe.kp=4,cdmoe.S=0");
}

Test(model_m2moe, aux_loss_adds_its_weight_times_the_balance_loss) {
  int32_t ids[48], labels[48];
  batch(48, ids, labels);
  float loss[3];
  const char *opts[3] = {"moe.E=4,moe.k=2,moe.aux=0", "moe.E=4,moe.k=2,moe.aux=1", "moe.E=4,moe.k=2,moe.aux=2"};
  for (int i = 0; i < 3; i++) {
    smx_model *m;
    cr_assert_eq(make(3, 16, "attention", "moe", opts[i], &m), SMX_OK, "%s", smx_last_error());
    cr_assert_eq(smx_model_step(m, ids, labels, 1, &loss[i], NULL), SMX_OK, "%s", smx_last_error());
    smx_model_destroy(m);
  }
  /* aux = E sum_e f_e P_e per layer: k = 2 for perfectly balanced routing, at most E = 4 */
  double a1 = loss[1] - loss[0], a2 = loss[2] - loss[0];
  cr_expect(a1 > 2 * 1.0 && a1 <= 2 * 4.0 + 1e-5, "two layers' aux %g", a1);
  cr_expect(fabs(a2 - 2 * a1) < 1e-4 * a2, "aux weight 2 adds %g, weight 1 %g", a2, a1);
}

Test(model_m2moe, bad_options_are_refused) {
  smx_model *m;
  cr_assert_eq(make(2, 4, "attention", "moe", "moe.E=2,moe.k=3", &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "more than E = 2"), "%s", smx_last_error());
  cr_assert_eq(make(2, 4, "attention", "cdmoe", "cdmoe.E=10", &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "perfect square"), "%s", smx_last_error());
  cr_assert_eq(make(2, 4, "attention", "cdmoe", "cdmoe.E=64,cdmoe.kh=6,cdmoe.kp=4", &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "kp < kh and kp < K"), "%s", smx_last_error());
  cr_assert_eq(make(2, 4, "attention", "cdmoe", "cdmoe.E=16,cdmoe.kp=5", &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "more than the K = 4"), "%s", smx_last_error());
  cr_assert_eq(make(2, 4, "m2", "none", "m2.emb=4", &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "must be odd"), "%s", smx_last_error());
}
