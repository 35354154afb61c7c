/* The Wonderful Matrices sequence mixers ssd and dma (tasks/mixer_ssd.c, tasks/mixer_dma.c) inside
 * the task runner's model: whole-model gradients against central finite differences on hybrids
 * with attention (ssd with and without RoPE on C and B, with one and two groups; dma keeping every
 * key), training steps with a real key selection that are finite and bitwise repeatable, and
 * refused options.
 *   build/tests/seqmix_tests --filter model_wm/'*' */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/model.h"
#include "seqmix/philox.h"
#include "test_model_helpers.h"

/* E = 16 channels in 4 heads of P = 4 at d = 8; chunk 4, so L = 7 crosses a chunk boundary */
#define SMALL_SSD "ssd.P=4,ssd.N=4,ssd.chunk=4"

static smx_status make(int64_t B, int64_t L, const char *mixer, const char *options, smx_model **m) {
  smx_model_config c = {.vocab = 13, .d = 8, .layers = 2, .heads = 2, .d_ff = 12, .max_len = 0, .init_std = 0.35f};
  snprintf(c.mixer, sizeof c.mixer, "%s", mixer);
  snprintf(c.channel, sizeof c.channel, "mlp");
  snprintf(c.options, sizeof c.options, "%s", options);
  *m = NULL;
  smx_status s = smx_model_create(&c, B, L, m);
  if (s == SMX_OK) smx_model_init(*m, 11);
  return s;
}

static void batch(int64_t T, int32_t *ids, int32_t *labels) { model_test_batch(T, 13, ids, labels); }

/* tests/test_model_helpers.h's check with Richardson extrapolation: a residual projection of a
 * Mamba-2 block, whose normalized input reaches |y| ~ 3, curves the loss enough that plain
 * differences at h = 1e-2 miss by 2% of the largest gradient, and by 11x less at h = 3e-3
 * (truncation, not a wrong gradient) */
static void gradient_check(const char *mixer, const char *options) {
  smx_model *m;
  cr_assert_eq(make(2, 7, mixer, options, &m), SMX_OK, "%s", smx_last_error());
  int32_t ids[14], labels[14];
  batch(14, ids, labels);
  char what[256];
  snprintf(what, sizeof what, "%s, %s", mixer, options);
  cr_assert_gt(model_gradient_check(m, ids, labels, 1, what), 100);
  smx_model_destroy(m);
}

Test(model_wm, ssd_hybrid_gradients_match_finite_differences) { gradient_check("attention,ssd", SMALL_SSD); }

Test(model_wm, ssd_rope_gradients_match_finite_differences) {
  gradient_check("ssd,attention", SMALL_SSD ",ssd.rope=1");
  gradient_check("ssd", SMALL_SSD ",ssd.rope=1,ssd.G=2,ssd.conv=3");
}

Test(model_wm, dma_hybrid_gradients_match_finite_differences) {
  gradient_check("attention,dma", "");          /* w = 0: every key */
  gradient_check("dma,ssd", "dma.w=7,dma.select=0," SMALL_SSD); /* w = L: every key, row rule */
}

/* Two identical steps (with backward) give the same loss and gradient bits, all finite. */
static void repeat_check(int64_t B, int64_t L, const char *mixer, const char *options) {
  smx_model *m;
  cr_assert_eq(make(B, L, mixer, options, &m), SMX_OK, "%s", smx_last_error());
  int64_t T = B * L;
  int32_t *ids = malloc((size_t)T * sizeof *ids), *labels = malloc((size_t)T * sizeof *labels);
  batch(T, ids, labels);
  float l1, l2;
  size_t n = smx_model_param_count(m);
  float *g1 = malloc(n * sizeof *g1);
  cr_assert_eq(smx_model_step(m, ids, labels, 1, &l1, NULL), SMX_OK, "%s", smx_last_error());
  cr_assert(isfinite(l1) && l1 > 0, "%s (%s): loss %g", mixer, options, l1);
  memcpy(g1, smx_model_grads(m), n * sizeof *g1);
  int finite = 1;
  for (size_t i = 0; i < n; i++) finite &= isfinite(g1[i]);
  cr_expect(finite, "%s (%s): a gradient is not finite", mixer, options);
  cr_assert_eq(smx_model_step(m, ids, labels, 1, &l2, NULL), SMX_OK);
  cr_expect(l1 == l2 && !memcmp(g1, smx_model_grads(m), n * sizeof *g1), "%s (%s): two identical steps differ", mixer, options);
  free(g1), free(ids), free(labels);
  smx_model_destroy(m);
}

Test(model_wm, dma_with_a_real_selection_is_finite_and_bitwise_repeatable) {
  repeat_check(3, 16, "attention,dma", "dma.w=3");              /* one set of 3 keys per sequence and head */
  repeat_check(3, 16, "dma", "dma.w=3,dma.select=0");           /* 3 keys per query row */
}

Test(model_wm, ssd_defaults_and_long_sequences_are_finite_and_bitwise_repeatable) {
  repeat_check(2, 16, "ssd,attention", "");                           /* E = 16, one head of P = 16, N = 16, one chunk */
  repeat_check(2, 150, "ssd", "ssd.P=4,ssd.N=8,ssd.rope=1,ssd.G=2"); /* 3 chunks of 64 */
}

Test(model_wm, bad_options_are_refused) {
  smx_model *m;
  cr_assert_eq(make(2, 7, "ssd", "ssd.P=3", &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "ssd.P=3 must divide the inner width E = expand * d = 16"), "%s", smx_last_error());
  cr_assert_eq(make(2, 7, "ssd", "ssd.P=4,ssd.G=3", &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "ssd.G=3 must divide the heads"), "%s", smx_last_error());
  cr_assert_eq(make(2, 7, "ssd", "ssd.N=5,ssd.rope=1", &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "must be even"), "%s", smx_last_error());
  cr_assert_eq(make(2, 7, "ssd", "ssd.conv=5", &m), SMX_ERR_INVALID);
  cr_assert_eq(make(2, 7, "dma", "dma.select=2", &m), SMX_ERR_INVALID);
  cr_assert_eq(make(2, 7, "dma", "dma.w=-1", &m), SMX_ERR_INVALID);
}
