/* The training loop of the task runner (include/seqmix/train.h): data, shuffling, AdamW with the
 * anchor's learning-rate schedule, evaluation with Zoology's accuracy rule, early stopping.
 *
 *   build/tests/seqmix_tests --filter train/'*'
 */
#include "seqmix/train.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

#include "kernels/cpu_blas_single.h"
#include "kernels/fftconv/fftw_plans.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "seqmix/philox.h"
#include "seqmix/timer.h"

#define SHUFFLE_STREAM 0x7fff0001u

void smx_train_defaults(smx_train_config *c) {
  memset(c, 0, sizeof *c);
  c->n_train = 20000, c->n_test = 1000, c->seed = 1;
  c->model = (smx_model_config){.d = 64, .layers = 2, .heads = 1, .d_ff = 256, .max_len = -1};
  snprintf(c->model.mixer, sizeof c->model.mixer, "attention");
  snprintf(c->model.channel, sizeof c->model.channel, "none");
  c->batch = 64, c->epochs = 16;
  c->lr = 1e-3f, c->weight_decay = 0.1f, c->beta1 = 0.9f, c->beta2 = 0.999f, c->eps = 1e-8f;
  c->schedule = SMX_LR_COSINE_EPOCH;
  c->target_acc = 0.99;
}

smx_status smx_lr_schedule_parse(const char *name, smx_lr_schedule *out) {
  static const char *const names[] = {"cosine", "warmup-linear", "warmup-cosine", "constant"};
  for (int i = 0; i < 4; i++)
    if (name && !strcmp(name, names[i])) {
      *out = (smx_lr_schedule)i;
      return SMX_OK;
    }
  return smx_fail(SMX_ERR_INVALID, "schedule '%s' is not a schedule (accepted: cosine, warmup-linear, warmup-cosine, constant)",
                  name ? name : "");
}

json_t *smx_train_metrics_json(const smx_train_result *r) {
  json_t *loss = json_array(), *acc = json_array(), *test_loss = json_array();
  for (int64_t e = 0; e < r->epochs_run; e++) {
    json_array_append_new(loss, json_real(r->loss_curve[e]));
    json_array_append_new(acc, json_real(r->acc_curve[e]));
    json_array_append_new(test_loss, json_real(r->test_loss_curve[e]));
  }
  json_t *j = json_pack("{s:f, s:f, s:f, s:I, s:I, s:o, s:o, s:f, s:f, s:f, s:o}", "test_acc", r->test_acc, "best_acc", r->best_acc,
                        "final_loss", r->final_loss, "epochs_run", (json_int_t)r->epochs_run, "steps", (json_int_t)r->steps,
                        "loss_curve", loss, "acc_curve", acc, "exact_match", r->test_exact, "span_match", r->test_span_match,
                        "test_loss", r->test_loss, "test_loss_curve", test_loss);
  if (!j || r->n_evals <= 0) return j; /* without evaluations: the result's form as before */
  json_t *evals = json_array();
  for (int i = 0; i < r->n_evals && evals; i++) {
    const smx_train_eval *e = &r->evals[i];
    json_t *o = json_pack("{s:s, s:I, s:f, s:f, s:f}", "params", e->params, "L", (json_int_t)e->L, "test_acc", e->test_acc,
                          "exact_match", e->exact_match, "span_match", e->span_match);
    if (o && e->has_depth && json_object_set_new(o, "depth", json_real(e->depth)) != 0) json_decref(o), o = NULL;
    if (!o || json_array_append_new(evals, o) != 0) json_decref(evals), evals = NULL;
  }
  if (!evals || json_object_set_new(j, "evals", evals) != 0) {
    json_decref(j);
    return NULL;
  }
  return j;
}

/* The names spec gives (up to a data= item), each into seen[] by parameter index. */
static void named_params(const smx_task *t, const char *spec, int *seen) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", spec);
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') tok++;
    char *eq = strchr(tok, '=');
    if (!eq) continue;
    *eq = 0;
    if (!strcmp(tok, "data")) break;
    for (int i = 0; i < t->n_params; i++)
      if (!strcmp(tok, t->params[i].name)) seen[i] = 1;
  }
}

smx_status smx_train_eval_parse(const smx_task_config *base, const char *spec, smx_task_config *out) {
  const smx_task *t = base->task;
  if (!spec) spec = "";
  while (*spec == ' ') spec++;
  if (!*spec) return smx_fail(SMX_ERR_INVALID, "%s evaluation: empty parameter string (give e.g. L=512,depth=50)", t->name);
  if (strlen(spec) >= 512) return smx_fail(SMX_ERR_INVALID, "%s evaluation '%.40s...' is too long", t->name, spec);
  int seen[SMX_TASK_MAX_PARAMS] = {0};
  named_params(t, spec, seen);
  /* the base's other parameters first, then the spec's, then the base's data= unless the spec has one */
  char merged[2048];
  size_t o = 0;
  for (int i = 0; i < t->n_params; i++)
    if (!seen[i]) o += (size_t)snprintf(merged + o, sizeof merged - o, "%s=%.17g,", t->params[i].name, base->v[i]);
  o += (size_t)snprintf(merged + o, sizeof merged - o, "%s", spec);
  if (base->data[0] && !strstr(spec, "data=") && o < sizeof merged)
    o += (size_t)snprintf(merged + o, sizeof merged - o, ",data=%s", base->data);
  if (o >= sizeof merged) return smx_fail(SMX_ERR_INVALID, "%s evaluation '%.40s...' is too long", t->name, spec);
  return smx_task_config_parse(t, merged, out);
}

smx_status smx_train_evals_parse(const smx_task_config *base, const char *list, smx_task_config *out, int max, int *n) {
  *n = 0;
  const char *p = list ? list : "";
  while (*p) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char one[512];
    if (len >= sizeof one) return smx_fail(SMX_ERR_INVALID, "%s evaluation '%.40s...' is too long", base->task->name, p);
    memcpy(one, p, len);
    one[len] = 0;
    size_t k = 0;
    while (one[k] == ' ') k++;
    if (one[k]) {
      if (*n >= max) return smx_fail(SMX_ERR_INVALID, "more than %d evaluation configurations", max);
      smx_status st = smx_train_eval_parse(base, one + k, &out[*n]);
      if (st != SMX_OK) return st;
      (*n)++;
    }
    p += len + (end != NULL);
  }
  if (!*n) return smx_fail(SMX_ERR_INVALID, "%s evaluation list '%s' names no configuration", base->task->name, list ? list : "");
  return SMX_OK;
}

double smx_task_accuracy(int64_t n, int64_t T, const int32_t *pred, const int32_t *labels) {
  double sum = 0;
  int64_t counted = 0;
  for (int64_t e = 0; e < n; e++) {
    int64_t right = 0, lab = 0;
    for (int64_t t = 0; t < T; t++) {
      int32_t y = labels[e * T + t];
      if (y == SMX_IGNORE_LABEL) continue;
      lab++;
      right += pred[e * T + t] == y;
    }
    if (lab) sum += (double)right / (double)lab, counted++;
  }
  return counted ? sum / (double)counted : 0;
}

void smx_task_value_scores(int64_t n, int64_t T, int64_t span, const int32_t *pred, const int32_t *labels, double *exact,
                           double *span_match) {
  double sum = 0, all = 0;
  int64_t counted = 0;
  if (span < 1) span = 1;
  for (int64_t e = 0; e < n; e++) {
    int64_t in_value = 0, values = 0, right = 0;
    int ok = 1;
    for (int64_t t = 0; t < T; t++) {
      int32_t y = labels[e * T + t];
      if (y == SMX_IGNORE_LABEL) continue;
      ok &= pred[e * T + t] == y;
      if (++in_value == span) values++, right += ok, in_value = 0, ok = 1;
    }
    if (in_value) values++, right += ok; /* a last partial value */
    if (!values) continue;
    sum += (double)right / (double)values, all += right == values, counted++;
  }
  *exact = counted ? all / (double)counted : 0;
  *span_match = counted ? sum / (double)counted : 0;
}

static smx_status validate(const smx_train_config *c) {
  if (!c->task.task) return smx_fail(SMX_ERR_INVALID, "train: no task");
  if (c->n_train < 1 || c->n_test < 1 || c->n_train > (1 << 24) || c->n_test > (1 << 24))
    return smx_fail(SMX_ERR_INVALID, "train: n_train %lld and n_test %lld must be in 1..16777216", (long long)c->n_train,
                    (long long)c->n_test);
  if (c->threads < 0 || c->threads > 1024) return smx_fail(SMX_ERR_INVALID, "train: threads %d is out of range (0..1024)", c->threads);
  if (c->batch < 1 || c->batch > 65536) return smx_fail(SMX_ERR_INVALID, "train: batch %lld is out of range (1..65536)", (long long)c->batch);
  if (c->epochs < 1 || c->epochs > SMX_TRAIN_MAX_EPOCHS)
    return smx_fail(SMX_ERR_INVALID, "train: epochs %lld is out of range (1..%d)", (long long)c->epochs, SMX_TRAIN_MAX_EPOCHS);
  if (!(c->lr > 0 && c->lr < 10)) return smx_fail(SMX_ERR_INVALID, "train: lr %g is out of range (0..10)", (double)c->lr);
  if (!(c->weight_decay >= 0 && c->weight_decay < 10))
    return smx_fail(SMX_ERR_INVALID, "train: weight decay %g is out of range [0..10)", (double)c->weight_decay);
  if (!(c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 && c->beta2 < 1 && c->eps > 0))
    return smx_fail(SMX_ERR_INVALID, "train: AdamW betas must be in [0, 1) and eps > 0");
  if (c->schedule < SMX_LR_COSINE_EPOCH || c->schedule > SMX_LR_CONSTANT)
    return smx_fail(SMX_ERR_INVALID, "train: unknown learning-rate schedule %d", (int)c->schedule);
  if (!(c->warmup >= 0 && c->warmup < 1)) return smx_fail(SMX_ERR_INVALID, "train: warm-up share %g is out of range [0, 1)", c->warmup);
  if (c->n_evals < 0 || c->n_evals > SMX_TRAIN_MAX_EVALS || (c->n_evals && !c->evals))
    return smx_fail(SMX_ERR_INVALID, "train: %d evaluation configurations (accepted: 0..%d)", c->n_evals, SMX_TRAIN_MAX_EVALS);
  if (c->n_evals && c->model.device != SMX_DEV_CPU)
    return smx_fail(SMX_ERR_INVALID, "train: evaluations at other task parameters run on the CPU only (train with --device cpu)");
  for (int i = 0; i < c->n_evals; i++)
    if (c->evals[i].task != c->task.task)
      return smx_fail(SMX_ERR_INVALID, "train: evaluation %d is of task %s, the run trains %s", i + 1,
                      c->evals[i].task ? c->evals[i].task->name : "(none)", c->task.task->name);
  return SMX_OK;
}

/* The learning rate of step `step` (0-based) of `total`, in epoch `epoch`. */
static double lr_at(const smx_train_config *c, int64_t epoch, int64_t step, int64_t total) {
  double warm = c->warmup * (double)total;
  switch (c->schedule) {
  case SMX_LR_COSINE_EPOCH: return 0.5 * c->lr * (1.0 + cos(3.141592653589793 * (double)epoch / (double)c->epochs));
  case SMX_LR_WARMUP_LINEAR:
    if ((double)step < warm) return c->lr * ((double)step + 1) / warm;
    return c->lr * fmax(0.0, ((double)total - (double)step) / fmax(1.0, (double)total - warm));
  case SMX_LR_WARMUP_COSINE: {
    if ((double)step < warm) return 1e-6 + (c->lr - 1e-6) * ((double)step + 1) / warm;
    double t = ((double)step - warm) / fmax(1.0, (double)total - warm), lo = 0.1 * c->lr;
    return lo + 0.5 * (c->lr - lo) * (1.0 + cos(3.141592653589793 * t));
  }
  default: return c->lr;
  }
}

/* Rows [first, first + count) of the permuted set into a full batch; missing rows: labels -100. */
static void fill_batch(int64_t B, int64_t T, const int32_t *in, const int32_t *lab, const int64_t *perm, int64_t first,
                       int64_t count, int32_t *bi, int32_t *bl) {
  for (int64_t r = 0; r < B; r++) {
    if (r < count) {
      int64_t e = perm ? perm[first + r] : first + r;
      memcpy(bi + r * T, in + e * T, (size_t)T * sizeof *bi);
      memcpy(bl + r * T, lab + e * T, (size_t)T * sizeof *bl);
    } else {
      memset(bi + r * T, 0, (size_t)T * sizeof *bi);
      for (int64_t t = 0; t < T; t++) bl[r * T + t] = SMX_IGNORE_LABEL;
    }
  }
}

static int64_t labelled(int64_t n, const int32_t *lab) {
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++) k += lab[i] != SMX_IGNORE_LABEL;
  return k;
}

typedef struct run_state {
  int32_t *tr_in, *tr_lab, *te_in, *te_lab, *bi, *bl, *bp, *pred;
  int64_t *perm;
  smx_model *model;
  double exact, span_match; /* the last evaluation's whole-value scores */
} run_state;

static void release(run_state *s) {
  void *bufs[] = {s->tr_in, s->tr_lab, s->te_in, s->te_lab, s->bi, s->bl, s->bp, s->pred, s->perm};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) smx_host_free(bufs[i]);
  smx_model_destroy(s->model);
}

/* *acc, the whole-value scores into s, and *loss = the mean cross-entropy over every labelled
 * test position (each batch's mean weighted by its labelled count) */
static smx_status evaluate(const smx_train_config *c, run_state *s, int64_t T, double *acc, double *loss_mean) {
  double loss_sum = 0;
  int64_t loss_n = 0;
  for (int64_t first = 0; first < c->n_test; first += c->batch) {
    int64_t count = c->n_test - first < c->batch ? c->n_test - first : c->batch;
    fill_batch(c->batch, T, s->te_in, s->te_lab, NULL, first, count, s->bi, s->bl);
    float loss;
    smx_status st = smx_model_step(s->model, s->bi, s->bl, 0, &loss, s->bp);
    if (st != SMX_OK) return st;
    int64_t nl = labelled(c->batch * T, s->bl);
    loss_sum += (double)loss * (double)nl, loss_n += nl;
    memcpy(s->pred + first * T, s->bp, (size_t)(count * T) * sizeof *s->pred);
  }
  *loss_mean = loss_n ? loss_sum / (double)loss_n : 0;
  *acc = smx_task_accuracy(c->n_test, T, s->pred, s->te_lab);
  smx_task_value_scores(c->n_test, T, smx_task_answer_span(&c->task), s->pred, s->te_lab, &s->exact, &s->span_match);
  return SMX_OK;
}

/* Each evaluation can be run by the model config mc (resolved max_len and vocab): its length within
 * the learned positions, its vocabulary within the model's, and the parameter count of a model at
 * its length the trained one's (checked before training, so a bad grid costs no training). */
static smx_status evals_check(const smx_train_config *c, const smx_model_config *mc, size_t np) {
  for (int i = 0; i < c->n_evals; i++) {
    const smx_task_config *ec = &c->evals[i];
    char params[256];
    smx_task_config_format(ec, params, sizeof params);
    int64_t T = smx_task_seq_len(ec);
    if (mc->max_len > 0 && T > mc->max_len)
      return smx_fail(SMX_ERR_INVALID, "train: evaluation %s needs %lld positions but the model learns positions for %lld "
                      "(max_len; evaluate other lengths with a position-free model: max_len 0, attention.rope=1)",
                      params, (long long)T, (long long)mc->max_len);
    if (smx_task_vocab(ec) > mc->vocab)
      return smx_fail(SMX_ERR_INVALID, "train: evaluation %s has a vocabulary of %lld tokens, the model %lld", params,
                      (long long)smx_task_vocab(ec), (long long)mc->vocab);
    smx_model *m;
    smx_status st = smx_model_create(mc, 1, T, &m);
    if (st != SMX_OK) return st;
    size_t n = smx_model_param_count(m);
    smx_model_destroy(m);
    if (n != np)
      return smx_fail(SMX_ERR_INVALID, "train: evaluation %s: the model has %zu parameters at L=%lld, %zu at the trained "
                      "length (a mixer with length-dependent parameters)", params, n, (long long)T, np);
  }
  return SMX_OK;
}

/* The trained model (s->model) on evaluation ec: n_test test examples from the run's seed, a model
 * for (batch, T) with the trained parameters, the run's evaluation rules. */
static smx_status eval_one(const smx_train_config *c, const smx_model_config *mc, run_state *s, const smx_task_config *ec,
                           smx_train_eval *out) {
  smx_train_config ce = *c;
  ce.task = *ec;
  int64_t T = smx_task_seq_len(ec), B = c->batch;
  size_t n = (size_t)(c->n_test * T);
  run_state e = {0};
  smx_status st = SMX_OK;
  if (!(e.te_in = smx_host_alloc(n * 4)) || !(e.te_lab = smx_host_alloc(n * 4)) || !(e.pred = smx_host_alloc(n * 4)) ||
      !(e.bi = smx_host_alloc((size_t)(B * T) * 4)) || !(e.bl = smx_host_alloc((size_t)(B * T) * 4)) ||
      !(e.bp = smx_host_alloc((size_t)(B * T) * 4)))
    st = smx_fail(SMX_ERR_NOMEM, "train: cannot allocate %lld evaluation examples of %lld tokens", (long long)c->n_test, (long long)T);
  if (st == SMX_OK) st = smx_task_generate(ec, SMX_SPLIT_TEST, c->seed, c->n_test, e.te_in, e.te_lab);
  if (st == SMX_OK) st = smx_model_create(mc, B, T, &e.model);
  double acc = 0, loss = 0;
  if (st == SMX_OK) {
    memcpy(smx_model_params(e.model), smx_model_params(s->model), smx_model_param_count(s->model) * sizeof(float));
    st = evaluate(&ce, &e, T, &acc, &loss);
  }
  if (st == SMX_OK) {
    memset(out, 0, sizeof *out);
    smx_task_config_format(ec, out->params, sizeof out->params);
    out->L = T;
    for (int i = 0; i < ec->task->n_params; i++)
      if (!strcmp(ec->task->params[i].name, "depth")) out->has_depth = 1, out->depth = ec->v[i];
    out->test_acc = acc, out->exact_match = e.exact, out->span_match = e.span_match;
    if (c->progress)
      fprintf(c->progress, "  eval %s  test accuracy %.4f  exact %.4f  span %.4f\n", out->params, acc, e.exact, e.span_match);
  }
  release(&e);
  return st;
}

static smx_status run(const smx_train_config *c, run_state *s, smx_train_result *r) {
  double t0 = smx_now();
  int64_t T = smx_task_seq_len(&c->task), B = c->batch;
  smx_status st;
  size_t ntr = (size_t)(c->n_train * T), nte = (size_t)(c->n_test * T);
  if (!(s->tr_in = smx_host_alloc(ntr * 4)) || !(s->tr_lab = smx_host_alloc(ntr * 4)) ||
      !(s->te_in = smx_host_alloc(nte * 4)) || !(s->te_lab = smx_host_alloc(nte * 4)) ||
      !(s->bi = smx_host_alloc((size_t)(B * T) * 4)) || !(s->bl = smx_host_alloc((size_t)(B * T) * 4)) ||
      !(s->bp = smx_host_alloc((size_t)(B * T) * 4)) || !(s->pred = smx_host_alloc(nte * 4)) ||
      !(s->perm = smx_host_alloc((size_t)c->n_train * sizeof *s->perm)))
    return smx_fail(SMX_ERR_NOMEM, "train: cannot allocate %lld + %lld examples of %lld tokens", (long long)c->n_train,
                    (long long)c->n_test, (long long)T);
  if ((st = smx_task_generate(&c->task, SMX_SPLIT_TRAIN, c->seed, c->n_train, s->tr_in, s->tr_lab)) != SMX_OK) return st;
  if ((st = smx_task_generate(&c->task, SMX_SPLIT_TEST, c->seed, c->n_test, s->te_in, s->te_lab)) != SMX_OK) return st;

  smx_model_config mc = c->model;
  if (!mc.vocab) mc.vocab = smx_task_vocab(&c->task);
  if (mc.max_len < 0) mc.max_len = smx_model_attention_only(&mc) ? T : 0; /* Zoology: positions for attention only */
  if ((st = smx_model_create(&mc, B, T, &s->model)) != SMX_OK) return st;
  if ((st = smx_model_init(s->model, c->seed)) != SMX_OK) return st;
  size_t np = smx_model_param_count(s->model);
  if ((st = evals_check(c, &mc, np)) != SMX_OK) return st;
  if (c->progress) {
    char params[256];
    smx_task_config_format(&c->task, params, sizeof params);
    fprintf(c->progress, "training on %s %s: %zu parameters, %lld/%lld examples, batch %lld, lr %g\n", c->task.task->name,
            params, np, (long long)c->n_train, (long long)c->n_test, (long long)B, (double)c->lr);
  }

  memset(r, 0, sizeof *r);
  r->time_to_target_s = -1;
  int64_t steps_per_epoch = (c->n_train + B - 1) / B;
  for (int64_t epoch = 0; epoch < c->epochs; epoch++) {
    /* Fisher-Yates from Philox: epoch e's order is a function of (seed, e) only */
    for (int64_t i = 0; i < c->n_train; i++) s->perm[i] = i;
    for (int64_t i = c->n_train - 1; i > 0; i--) {
      uint64_t w = ((uint64_t)smx_philox_word(c->seed, SHUFFLE_STREAM, (uint64_t)(epoch << 32 | (uint64_t)(2 * i))) << 32) |
                   smx_philox_word(c->seed, SHUFFLE_STREAM, (uint64_t)(epoch << 32 | (uint64_t)(2 * i + 1)));
      int64_t j = (int64_t)(w % (uint64_t)(i + 1)), t = s->perm[i];
      s->perm[i] = s->perm[j], s->perm[j] = t;
    }
    double ts = smx_now(), loss_sum = 0;
    int64_t loss_n = 0;
    for (int64_t k = 0; k < steps_per_epoch; k++) {
      int64_t first = k * B, count = c->n_train - first < B ? c->n_train - first : B;
      fill_batch(B, T, s->tr_in, s->tr_lab, s->perm, first, count, s->bi, s->bl);
      float loss;
      if ((st = smx_model_step(s->model, s->bi, s->bl, 1, &loss, NULL)) != SMX_OK) return st;
      if (!isfinite(loss))
        return smx_fail(SMX_ERR_INVALID, "train: the loss became %g at epoch %lld, step %lld (lr %g too high?)",
                        (double)loss, (long long)epoch + 1, (long long)k + 1, (double)c->lr);
      int64_t nl = labelled(B * T, s->bl);
      loss_sum += (double)loss * (double)nl, loss_n += nl;
      r->steps++;
      smx_adamw_hparams h = {(float)lr_at(c, epoch, r->steps - 1, steps_per_epoch * c->epochs), c->beta1, c->beta2,
                             c->eps, c->weight_decay};
      if ((st = smx_model_adamw_step(s->model, r->steps, &h)) != SMX_OK) return st;
      r->train_tokens += count * T;
    }
    r->train_s += smx_now() - ts;
    double acc, test_loss;
    if ((st = evaluate(c, s, T, &acc, &test_loss)) != SMX_OK) return st;
    r->test_loss_curve[epoch] = test_loss;
    r->test_loss = test_loss;
    r->loss_curve[epoch] = loss_n ? loss_sum / (double)loss_n : 0;
    r->acc_curve[epoch] = acc;
    r->epochs_run = epoch + 1;
    r->final_loss = r->loss_curve[epoch];
    r->test_acc = acc;
    r->test_exact = s->exact, r->test_span_match = s->span_match;
    if (acc > r->best_acc) r->best_acc = acc;
    double elapsed = smx_now() - t0;
    if (c->progress)
      fprintf(c->progress, "  epoch %lld/%lld  loss %.4f  test loss %.4f  test accuracy %.4f  lr %.3g  %.1f s  ETA %.0f s\n",
              (long long)epoch + 1, (long long)c->epochs, r->loss_curve[epoch], test_loss, acc, lr_at(c, epoch, r->steps - 1, steps_per_epoch * c->epochs),
              elapsed, elapsed / (double)(epoch + 1) * (double)(c->epochs - epoch - 1));
    if (acc > c->target_acc) {
      r->time_to_target_s = r->train_s;
      break;
    }
  }
  for (int i = 0; i < c->n_evals; i++) {
    if ((st = eval_one(c, &mc, s, &c->evals[i], &r->evals[i])) != SMX_OK) return st;
    r->n_evals = i + 1;
  }
  r->wall_s = smx_now() - t0;
  r->tokens_per_s = r->train_s > 0 ? (double)r->train_tokens / r->train_s : 0;
  return SMX_OK;
}

smx_status smx_train(const smx_train_config *c, smx_train_result *r) {
  smx_status st = validate(c);
  if (st != SMX_OK) return st;
  run_state s = {0};
  /* The model's GEMMs are small: OpenBLAS's own threads contending with the OpenMP loops cost
   * 2.5x in training throughput on 2 cores, so BLAS runs on the calling thread while training. */
  int blas_threads = smx_blas_single_begin(), omp_threads = omp_get_max_threads();
  if (c->threads > 0) omp_set_num_threads(c->threads);
  /* FFT plans chosen by the size alone, so a run repeats bit for bit in any process (a resumed
   * sweep, a merged shard) as well as within one */
  smx_fftw_deterministic(1);
  st = run(c, &s, r);
  smx_fftw_deterministic(0);
  smx_blas_single_end(blas_threads);
  omp_set_num_threads(omp_threads);
  release(&s);
  return st;
}
