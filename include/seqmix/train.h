/* Training a task runner model on a synthetic task (tasks/train.c), fp32, on the model's device (model.device: CPU or CUDA).
 *
 * One run: generate the train and test sets from the seed (include/seqmix/tasks.h), build the model
 * (include/seqmix/model.h) for batches of `batch` sequences, then per epoch: shuffle (Philox), step
 * through the training set with AdamW (weight decay on matrices and embeddings only), evaluate on
 * the test set, stop early once test accuracy exceeds `target_acc`. The learning-rate schedule is
 * the anchor's: Zoology's cosine annealing stepped once per epoch (CosineAnnealingLR, T_max =
 * epochs, eta_min = 0), safari's warm-up then linear or cosine decay per step, or constant.
 *
 * Accuracy is Zoology's rule: per test example the share of labelled positions (label != -100)
 * whose argmax prediction is right, averaged over examples that have a label. On the H3 tasks the
 * test labels mark only the last token, so the same rule is last-token accuracy. Beside it, whole
 * answer values (smx_task_value_scores): exact match and RULER's string_match_all.
 *
 * The last, partial batch of an epoch is padded with rows whose labels are all -100: they add
 * nothing to the loss or the gradients, so every example is used once per epoch.
 *
 * Evaluation grid (L-Eval/RULER style): after training, the trained model is evaluated on each of
 * `evals` (the same task with other parameters, typically other L and depth): n_test examples of
 * the test split from the run's seed, a model built for (batch, T_eval) with the same model config
 * and the trained parameters copied in, the same accuracy and whole-value rules. CPU models only;
 * learned positions (max_len > 0) must cover every T_eval, and the mixers' parameter count must not
 * depend on the length (checked before training: one error line each).
 *
 *   seqmix task train --task mqar --param L=64,N=4,V=8192 --d 64 --lr 1e-3 --epochs 8
 */
#ifndef SEQMIX_TRAIN_H
#define SEQMIX_TRAIN_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "seqmix/model.h"
#include "seqmix/status.h"
#include "seqmix/tasks.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum smx_lr_schedule {
  SMX_LR_COSINE_EPOCH = 0,  /* Zoology: CosineAnnealingLR(T_max = epochs, eta_min = 0), stepped per epoch */
  SMX_LR_WARMUP_LINEAR = 1, /* safari's AR: linear warm-up over the first warmup share of steps, then linear to 0 */
  SMX_LR_WARMUP_COSINE = 2, /* safari's induction head: warm-up from 1e-6, then cosine per step down to 0.1 lr */
  SMX_LR_CONSTANT = 3,
} smx_lr_schedule;

#define SMX_TRAIN_MAX_EPOCHS 1024
#define SMX_TRAIN_MAX_EVALS 64

typedef struct smx_train_config {
  smx_task_config task;
  int64_t n_train, n_test;
  uint64_t seed;            /* data, initialization and shuffling */
  smx_model_config model;   /* vocab is taken from the task when 0 */
  int64_t batch;
  int64_t epochs;
  float lr, weight_decay, beta1, beta2, eps;
  smx_lr_schedule schedule;
  double warmup;            /* share of all steps spent warming up (the warm-up schedules), in [0, 1) */
  double target_acc;        /* stop once test accuracy > target_acc; >= 1: never */
  int threads;              /* OpenMP threads while training (0: the default); results repeat bit for bit at a fixed count */
  FILE *progress;           /* one line per epoch (NULL: silent) */
  const smx_task_config *evals; /* evaluated after training (the grid above); NULL: none */
  int n_evals;                  /* 0..SMX_TRAIN_MAX_EVALS */
} smx_train_config;

/* One evaluation of the trained model on another configuration of its task. */
typedef struct smx_train_eval {
  char params[256];         /* the configuration, as smx_task_config_format writes it */
  int64_t L;                /* its sequence length */
  int has_depth;            /* 1 when the task has a "depth" parameter */
  double depth;             /* that parameter (percent; -1: uniform) */
  double test_acc, exact_match, span_match;
} smx_train_eval;

typedef struct smx_train_result {
  int64_t epochs_run, steps, train_tokens;
  double test_acc;          /* at the last epoch run */
  double test_exact;        /* at the last epoch: the share of test examples with every answer value right */
  double test_span_match;   /* at the last epoch: RULER's string_match_all, the mean share of values right */
  double best_acc;
  double final_loss;        /* mean training loss of the last epoch */
  double test_loss;         /* at the last epoch: mean cross-entropy (nats) over the labelled test positions;
                               exp(test_loss) is the test perplexity per labelled token */
  double wall_s, train_s;   /* all, and training steps only */
  double tokens_per_s;      /* training tokens (padding excluded) per second of training */
  double time_to_target_s;  /* training seconds until test accuracy first exceeded target_acc; < 0: never */
  double loss_curve[SMX_TRAIN_MAX_EPOCHS], acc_curve[SMX_TRAIN_MAX_EPOCHS], test_loss_curve[SMX_TRAIN_MAX_EPOCHS];
  smx_train_eval evals[SMX_TRAIN_MAX_EVALS]; /* one per config->evals, in order */
  int n_evals;
} smx_train_result;

/* "cosine", "warmup-linear", "warmup-cosine", "constant"; one error line naming them otherwise. */
smx_status smx_lr_schedule_parse(const char *name, smx_lr_schedule *out);
/* The run's deterministic metrics: test_acc, best_acc, final_loss, epochs_run, steps, loss_curve,
 * acc_curve, exact_match, span_match, test_loss, test_loss_curve, and with evaluations "evals":
 * [{"params", "L", "depth" (tasks with one), "test_acc", "exact_match", "span_match"}, ...]
 * (caller decrefs; NULL when out of memory). */
json_t *smx_train_metrics_json(const smx_train_result *r);
/* Fills defaults (AdamW betas 0.9/0.999, eps 1e-8, weight decay 0.1, batch 64, ...) for a task. */
void smx_train_defaults(smx_train_config *c);
/* An evaluation configuration: base with the parameters spec names replaced ("L=512,depth=25" keeps
 * base's other parameters); each value checked as --param checks it (one error line). */
smx_status smx_train_eval_parse(const smx_task_config *base, const char *spec, smx_task_config *out);
/* A ';'-separated list of such specs ("L=128,depth=0;L=512,depth=50") into out[0..*n), at most max. */
smx_status smx_train_evals_parse(const smx_task_config *base, const char *list, smx_task_config *out, int max, int *n);
/* Validates and runs; one error line on bad configurations. */
smx_status smx_train(const smx_train_config *c, smx_train_result *r);
/* Zoology's accuracy of predictions (n, T) against labels: see the top of this file. */
double smx_task_accuracy(int64_t n, int64_t T, const int32_t *pred, const int32_t *labels);
/* Whole answer values instead of tokens: each example's labelled positions, in order, cut into
 * values of `span` tokens (smx_task_answer_span; a last partial value counts as one); a value is
 * right when all its tokens are. *exact = the share of examples (with a label) whose values are all
 * right (passkey's exact match); *span_match = the mean over those examples of the share of values
 * right (RULER's string_match_all, as a fraction). */
void smx_task_value_scores(int64_t n, int64_t T, int64_t span, const int32_t *pred, const int32_t *labels, double *exact,
                           double *span_match);

#ifdef __cplusplus
}
#endif
#endif
