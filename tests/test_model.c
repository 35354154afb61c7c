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

static smx_model *tiny_pooled(int64_t B, int64_t L, const char *ch, int64_t max_len, smx_model_pool pool) {
  smx_model_config c = {.vocab = 13, .d = 8, .layers = 2, .heads = 2, .d_ff = 12, .max_len = max_len, .init_std = 0.35f,
                        .pool = pool};
  snprintf(c.mixer, sizeof c.mixer, "attention");
  snprintf(c.channel, sizeof c.channel, "%s", ch);
  smx_model *m = NULL;
  cr_assert_eq(smx_model_create(&c, B, L, &m), SMX_OK, "%s", smx_last_error());
  smx_model_init(m, 11);
  return m;
}

static smx_model *tiny(int64_t B, int64_t L, const char *ch, int64_t max_len) { return tiny_pooled(B, L, ch, max_len, SMX_POOL_NONE); }

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

/* pool "mean": the running mean enters every labelled position's loss, so each gradient flows
 * through the sums over the sequence so far */
Test(model, gradients_match_finite_differences_mean_pool) {
  smx_model *m = tiny_pooled(2, 7, "mlp", 0, SMX_POOL_MEAN);
  int32_t ids[14], labels[14];
  batch(14, ids, labels);
  cr_assert_gt(model_gradient_check(m, ids, labels, 0, "mean pool"), 40);
  smx_model_destroy(m);
}

/* The head is linear, so the pooled model's logits at position t are the mean of the unpooled
 * model's logits over positions 0..t of the same sequence (same parameters): an independent check
 * of what the pooled head reads, sequence boundaries included. */
Test(model, mean_pool_logits_are_running_means_of_the_token_logits) {
  const int64_t B = 3, L = 6, V = 13;
  smx_model *plain = tiny(B, L, "mlp", 0), *pooled = tiny_pooled(B, L, "mlp", 0, SMX_POOL_MEAN);
  cr_assert_eq(smx_model_param_count(plain), smx_model_param_count(pooled));
  int32_t ids[18], labels[18];
  batch(B * L, ids, labels);
  float a[18 * 13], p[18 * 13];
  cr_assert_eq(smx_model_logits(plain, ids, a), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_model_logits(pooled, ids, p), SMX_OK, "%s", smx_last_error());
  double worst = 0, scale = 0;
  for (int64_t b = 0; b < B; b++)
    for (int64_t v = 0; v < V; v++) {
      double sum = 0;
      for (int64_t t = 0; t < L; t++) {
        sum += a[(b * L + t) * V + v];
        worst = fmax(worst, fabs(sum / (double)(t + 1) - p[(b * L + t) * V + v]));
        scale = fmax(scale, fabs(a[(b * L + t) * V + v]));
      }
    }
  cr_assert(worst <= 1e-5 * scale + 1e-6, "pooled logits miss the running mean by %g (scale %g)", worst, scale);
  /* and the unpooled logits are not already such means (the check can fail) */
  cr_assert(fabs(a[(1 * L + 4) * V + 2] - p[(1 * L + 4) * V + 2]) > 1e-3 * scale);
  smx_model_destroy(plain);
  smx_model_destroy(pooled);
}

Test(model, pool_names) {
  smx_model_pool p = SMX_POOL_NONE;
  cr_assert_eq(smx_model_pool_parse("mean", &p), SMX_OK);
  cr_assert_eq(p, SMX_POOL_MEAN);
  cr_assert_str_eq(smx_model_pool_name(p), "mean");
  cr_assert_eq(smx_model_pool_parse("cls", &p), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "unknown pool 'cls' (pools: none, mean)"), "%s", smx_last_error());
  smx_model_config c = {.vocab = 13, .d = 8, .layers = 1, .heads = 2, .d_ff = 12, .pool = (smx_model_pool)7};
  smx_model *m = NULL;
  cr_assert_eq(smx_model_create(&c, 2, 4, &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "model pool 7 is unknown"), "%s", smx_last_error());
}

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
