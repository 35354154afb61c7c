/* The task runner's training loop (tasks/train.c): Zoology's accuracy rule, learning on a small
 * task, repeatability, bad configurations.
 *   build/tests/seqmix_tests --filter train/'*' */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/train.h"

Test(train, accuracy_is_the_mean_over_examples_of_labelled_accuracy) {
  /* example 0: 1 of 2 labelled right; example 1: 1 of 1; example 2: no label (not counted) */
  const int32_t labels[9] = {-100, 3, 4, 5, -100, -100, -100, -100, -100};
  const int32_t pred[9] = {-1, 3, 2, 5, -1, -1, -1, -1, -1};
  cr_assert_float_eq(smx_task_accuracy(3, 3, pred, labels), 0.75, 1e-12);
}

/* Whole answer values: labelled positions in order, cut into values of `span` tokens. */
Test(train, value_scores_count_whole_answer_values) {
  /* example 0: values (5 6) right, (7 8) wrong; example 1: (1 2) right and a last partial value (3)
   * right; example 2: no label (not counted) */
  const int32_t labels[18] = {-100, 5, 6, 7, 8, -100, 1, 2, -100, -100, 3, -100, -100, -100, -100, -100, -100, -100};
  const int32_t pred[18] = {-1, 5, 6, 7, 0, -1, 1, 2, -1, -1, 3, -1, -1, -1, -1, -1, -1, -1};
  double exact, span;
  smx_task_value_scores(3, 6, 2, pred, labels, &exact, &span);
  cr_assert_float_eq(exact, 0.5, 1e-12);
  cr_assert_float_eq(span, 0.75, 1e-12);
  /* span 1: string_match_all is Zoology's accuracy */
  smx_task_value_scores(3, 6, 1, pred, labels, &exact, &span);
  cr_assert_float_eq(span, smx_task_accuracy(3, 6, pred, labels), 1e-12);
  cr_assert_float_eq(exact, 0.5, 1e-12);
  /* one value spanning every label: exact match and span match agree */
  smx_task_value_scores(3, 6, 4, pred, labels, &exact, &span);
  cr_assert_float_eq(exact, 0.5, 1e-12);
  cr_assert_float_eq(span, 0.5, 1e-12);
}

static void small_run(smx_train_config *c, smx_train_result *r, int64_t n_train, int64_t epochs) {
  smx_train_defaults(c);
  const smx_task *t;
  cr_assert_eq(smx_task_lookup("mqar", &t), SMX_OK);
  cr_assert_eq(smx_task_config_parse(t, "V=64,L=16,N=2", &c->task), SMX_OK, "%s", smx_last_error());
  c->n_train = n_train, c->n_test = 200, c->batch = 32, c->epochs = epochs;
  c->model.d = 32, c->model.layers = 2, c->model.heads = 1;
  c->lr = 3e-3f, c->target_acc = 0.98;
  c->threads = 1; /* the runner runs two tests at once on two cores */
  cr_assert_eq(smx_train(c, r), SMX_OK, "%s", smx_last_error());
}

/* Attention learns a small MQAR: the loss falls below half its first epoch's and the test accuracy
 * passes 0.4, where a model blind to the context's key-value pairs scores about 1/32 (values are
 * drawn from V/2 = 32 tokens). */
Test(train, attention_learns_small_mqar, .timeout = 600) {
  smx_train_config c;
  static smx_train_result r;
  small_run(&c, &r, 2000, 12);
  cr_assert_gt(r.epochs_run, 0);
  cr_expect_lt(r.loss_curve[r.epochs_run - 1], 0.5 * r.loss_curve[0], "loss %g -> %g", r.loss_curve[0],
               r.loss_curve[r.epochs_run - 1]);
  cr_expect_gt(r.best_acc, 0.4, "best test accuracy %g after %lld epochs", r.best_acc, (long long)r.epochs_run);
  cr_expect_gt(r.tokens_per_s, 0);
  cr_expect_eq(r.steps, r.epochs_run * ((2000 + 31) / 32));
}

/* The same seed at the same thread count: the same numbers, bit for bit. */
Test(train, runs_are_bitwise_repeatable, .timeout = 300) {
  smx_train_config c;
  static smx_train_result r1, r2;
  small_run(&c, &r1, 300, 2);
  small_run(&c, &r2, 300, 2);
  cr_assert_eq(r1.epochs_run, r2.epochs_run);
  cr_assert(!memcmp(r1.loss_curve, r2.loss_curve, sizeof r1.loss_curve) &&
            !memcmp(r1.acc_curve, r2.acc_curve, sizeof r1.acc_curve));
}

Test(train, bad_configurations_are_refused) {
  smx_train_config c;
  smx_train_result r;
  smx_train_defaults(&c);
  cr_assert_eq(smx_train(&c, &r), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "no task"));
  const smx_task *t;
  cr_assert_eq(smx_task_lookup("mqar", &t), SMX_OK);
  cr_assert_eq(smx_task_config_parse(t, "V=64,L=16,N=2", &c.task), SMX_OK);
  c.epochs = 0;
  cr_assert_eq(smx_train(&c, &r), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "epochs 0 is out of range"), "%s", smx_last_error());
  c.epochs = 2, c.lr = -1;
  cr_assert_eq(smx_train(&c, &r), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "lr -1 is out of range"), "%s", smx_last_error());
}

/* test_loss is the mean cross-entropy over every labelled test position: with lr = 1e-30 the model
 * stays at its initialization (every AdamW change rounds away in fp32), so one forward over the whole test set
 * in a single batch, with a model initialized from the same seed, gives the same mean. The batch
 * of 32 in training leaves a partial last batch (200 = 6 x 32 + 8), which must not bias it. */
Test(train, test_loss_is_the_mean_over_labelled_test_positions, .timeout = 120) {
  smx_train_config c;
  smx_train_defaults(&c);
  const smx_task *t;
  cr_assert_eq(smx_task_lookup("mqar", &t), SMX_OK);
  cr_assert_eq(smx_task_config_parse(t, "V=64,L=16,N=2", &c.task), SMX_OK, "%s", smx_last_error());
  c.n_train = 64, c.n_test = 200, c.batch = 32, c.epochs = 1, c.lr = 1e-30f, c.threads = 1;
  c.model.d = 32, c.model.layers = 1, c.model.heads = 1;
  static smx_train_result r;
  cr_assert_eq(smx_train(&c, &r), SMX_OK, "%s", smx_last_error());

  int64_t T = smx_task_seq_len(&c.task);
  int32_t *in = malloc((size_t)(200 * T) * 4), *lab = malloc((size_t)(200 * T) * 4);
  cr_assert_eq(smx_task_generate(&c.task, SMX_SPLIT_TEST, c.seed, 200, in, lab), SMX_OK);
  smx_model_config mc = c.model;
  mc.vocab = smx_task_vocab(&c.task);
  mc.max_len = T; /* the trainer gives attention-only models learned positions */
  smx_model *m;
  cr_assert_eq(smx_model_create(&mc, 200, T, &m), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_model_init(m, c.seed), SMX_OK);
  float loss;
  cr_assert_eq(smx_model_step(m, in, lab, 0, &loss, NULL), SMX_OK, "%s", smx_last_error());
  cr_expect_float_eq(r.test_loss, (double)loss, 1e-5 * loss, "test_loss %.7g, one forward over the test set %.7g", r.test_loss,
                     (double)loss);
  cr_expect_eq(r.test_loss_curve[0], r.test_loss);
  smx_model_destroy(m);
  free(in), free(lab);
}
