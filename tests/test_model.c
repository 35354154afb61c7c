/* The task runner's model (tasks/model.c): every parameter's gradient against central finite
 * differences of the loss on a tiny configuration, bitwise-repeatable steps, bad input.
 *   build/tests/seqmix_tests --filter model/'*' */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "seqmix/model.h"
#include "seqmix/philox.h"
#include "test_model_helpers.h"

static smx_model *tiny(int64_t B, int64_t L, const char *ch, int64_t max_len) {
  smx_model_config c = {.vocab = 13, .d = 8, .layers = 2, .heads = 2, .d_ff = 12, .max_len = max_len, .init_std = 0.35f};
  snprintf(c.mixer, sizeof c.mixer, "attention");
  snprintf(c.channel, sizeof c.channel, "%s", ch);
  smx_model *m = NULL;
  cr_assert_eq(smx_model_create(&c, B, L, &m), SMX_OK, "%s", smx_last_error());
  smx_model_init(m, 11);
  return m;
}

static void batch(int64_t T, int32_t *ids, int32_t *labels) { model_test_batch(T, 13, ids, labels); }

static void gradient_check(const char *ch, int64_t max_len) {
  smx_model *m = tiny(2, 7, ch, max_len);
  int32_t ids[14], labels[14];
  batch(14, ids, labels);
  cr_assert_gt(model_gradient_check(m, ids, labels, 0, ch), 40);
  smx_model_destroy(m);
}

Test(model, gradients_match_finite_differences_attention_mlp) { gradient_check("mlp", 0); }
Test(model, gradients_match_finite_differences_attention_only_with_positions) { gradient_check("none", 9); }

Test(model, steps_are_bitwise_repeatable) {
  smx_model *m = tiny(3, 5, "mlp", 0);
  int32_t ids[15], labels[15];
  batch(15, ids, labels);
  float l1, l2;
  size_t n = smx_model_param_count(m);
  float *g1 = malloc(n * sizeof *g1);
  cr_assert_eq(smx_model_step(m, ids, labels, 1, &l1, NULL), SMX_OK);
  memcpy(g1, smx_model_grads(m), n * sizeof *g1);
  cr_assert_eq(smx_model_step(m, ids, labels, 1, &l2, NULL), SMX_OK);
  cr_assert(l1 == l2 && !memcmp(g1, smx_model_grads(m), n * sizeof *g1));
  free(g1);
  smx_model_destroy(m);
}

Test(model, bad_configurations_and_tokens_are_refused) {
  smx_model *m = NULL;
  smx_model_config c = {.vocab = 13, .d = 8, .layers = 2, .heads = 3, .d_ff = 12, .channel = "mlp"};
  cr_assert_eq(smx_model_create(&c, 2, 4, &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "heads 3 must divide d = 8"), "%s", smx_last_error());
  c.heads = 2, c.max_len = 3;
  cr_assert_eq(smx_model_create(&c, 2, 4, &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "max_len 3 is below the sequence length 4"), "%s", smx_last_error());
  c.max_len = 0;
  snprintf(c.mixer, sizeof c.mixer, "attention,telepathy");
  cr_assert_eq(smx_model_create(&c, 2, 4, &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "sequence mixer 'telepathy' is not known"), "%s", smx_last_error());
  snprintf(c.mixer, sizeof c.mixer, "attention*3");
  cr_assert_eq(smx_model_create(&c, 2, 4, &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "do not divide the 2 layers"), "%s", smx_last_error());
  snprintf(c.mixer, sizeof c.mixer, "attention");
  snprintf(c.options, sizeof c.options, "attention.nope=1");
  cr_assert_eq(smx_model_create(&c, 2, 4, &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "not an option of attention"), "%s", smx_last_error());
  snprintf(c.options, sizeof c.options, "%s", "");
  snprintf(c.channel, sizeof c.channel, "attention");
  cr_assert_eq(smx_model_create(&c, 2, 4, &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "channel mixer 'attention' is not known"), "%s", smx_last_error());
  m = tiny(1, 4, "mlp", 0);
  int32_t ids[4] = {1, 2, 13, 0}, labels[4] = {-100, 1, 2, 3};
  float loss;
  cr_assert_eq(smx_model_step(m, ids, labels, 1, &loss, NULL), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "token 13 at position 2 is outside the vocabulary [0, 13)"), "%s", smx_last_error());
  ids[2] = 3, labels[0] = -7;
  cr_assert_eq(smx_model_step(m, ids, labels, 1, &loss, NULL), SMX_ERR_INVALID);
  smx_model_destroy(m);
}
