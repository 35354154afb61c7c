/* Model-op specifics (linear, layernorm, rmsnorm, mlp, embedding, lm_head_ce, adamw): the plain C
 * entry points the trainer calls (include/seqmix/model_ops.h) against the fp64 oracles, the
 * gathered LM head against the logits at every position, deterministic scatter-adds at any thread
 * count, the tied-weight accumulation, AdamW against a hand-computed PyTorch step, and bad input
 * refused with one line naming it; every pass of every model op benchmarked at a tiny shape.
 * (Every variant against its reference: tests/test_ops.c.)
 *
 *   build/tests/seqmix_tests --filter modelops/\*
 */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference/adamw.h"
#include "reference/embedding.h"
#include "reference/linear.h"
#include "reference/lm_head_ce.h"
#include "reference/mlp.h"
#include "reference/norm.h"
#include "seqmix/model_ops.h"
#include "test_helpers.h"

typedef struct tensors {
  float *t[SMX_MAX_TENSORS];
  double *o[SMX_MAX_TENSORS]; /* the fp64 oracle's copy */
  const smx_op *op;
} tensors;

static void parse(const smx_op *op, const char *spec, smx_config *c) {
  cr_assert_eq(smx_config_parse(op, spec, c), SMX_OK, "%s: %s", spec, smx_last_error());
}

/* Every slot allocated, inputs drawn as the harness draws them, and the oracle run (both passes). */
static void tensors_new(tensors *ts, const smx_config *c) {
  ts->op = c->op;
  for (int s = 0; s < c->op->n_tensors; s++) {
    size_t n = c->op->numel(c, s);
    ts->t[s] = calloc(n ? n : 1, sizeof(float));
    ts->o[s] = calloc(n ? n : 1, sizeof(double));
    cr_assert(ts->t[s] && ts->o[s]);
    smx_role r = c->op->tensors[s].role;
    if (r == SMX_ROLE_INPUT || r == SMX_ROLE_GRAD_OUT) {
      smx_input_values(c, 3, s, ts->t[s], n);
      for (size_t i = 0; i < n; i++) ts->o[s][i] = ts->t[s][i];
    }
  }
  c->op->oracle_f64(c, SMX_FWD, ts->o);
  c->op->oracle_f64(c, SMX_BWD, ts->o);
}

static void tensors_free(tensors *ts) {
  for (int s = 0; s < ts->op->n_tensors; s++) {
    free(ts->t[s]);
    free(ts->o[s]);
  }
}

/* max |got - want| <= tol * max(1, max|want|) */
static void assert_close(const float *got, const double *want, size_t n, double tol, const char *what) {
  double mx = 1, err = 0;
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    if (fabs(want[i]) > mx) mx = fabs(want[i]);
    double e = fabs((double)got[i] - want[i]);
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  cr_assert(err <= tol * mx, "%s: error %g at %zu (got %g, want %g)", what, err, at, (double)got[at], want[at]);
}

static int32_t *int_copy(const float *f, size_t n) {
  int32_t *r = malloc(n * sizeof(int32_t));
  cr_assert_not_null(r);
  for (size_t i = 0; i < n; i++) r[i] = (int32_t)f[i];
  return r;
}

/* ---- linear, norms, mlp: the entry points the trainer calls ---- */

Test(modelops, linear_entry_points_match_the_oracle_and_skip_null_gradients) {
  smx_config c;
  parse(&smx_op_linear, "T=19,din=23,dout=17", &c);
  tensors ts;
  tensors_new(&ts, &c);
  float *const *t = ts.t;
  cr_assert_eq(smx_linear_fwd_cpu(19, 23, 17, t[LIN_X], t[LIN_W], t[LIN_B], t[LIN_Y]), SMX_OK, "%s", smx_last_error());
  assert_close(t[LIN_Y], ts.o[LIN_Y], 19 * 17, 1e-5, "y");
  memset(t[LIN_DW], 0x7f, 17 * 23 * sizeof(float)); /* NULL dx, db: dW alone is computed */
  cr_assert_eq(smx_linear_bwd_cpu(19, 23, 17, t[LIN_X], t[LIN_W], t[LIN_DY], NULL, t[LIN_DW], NULL), SMX_OK);
  assert_close(t[LIN_DW], ts.o[LIN_DW], 17 * 23, 1e-5, "dW");
  cr_assert_eq(smx_linear_fwd_cpu(0, 23, 17, t[LIN_X], t[LIN_W], NULL, t[LIN_Y]), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "T=0") != NULL, "%s", smx_last_error());
  cr_assert_eq(smx_linear_fwd_cpu(19, 23, 17, NULL, t[LIN_W], NULL, t[LIN_Y]), SMX_ERR_INVALID);
  tensors_free(&ts);
}

Test(modelops, norm_entry_points_match_the_oracle) {
  smx_config c;
  parse(&smx_op_layernorm, "T=9,d=40", &c);
  tensors ts;
  tensors_new(&ts, &c);
  float *const *t = ts.t;
  cr_assert_eq(smx_layernorm_fwd_cpu(9, 40, 1e-5f, t[LN_X], t[LN_W], t[LN_B], t[LN_Y], t[LN_MEAN], t[LN_RSTD]), SMX_OK);
  assert_close(t[LN_Y], ts.o[LN_Y], 9 * 40, 1e-5, "layernorm y");
  assert_close(t[LN_RSTD], ts.o[LN_RSTD], 9, 1e-5, "layernorm rstd");
  cr_assert_eq(smx_layernorm_bwd_cpu(9, 40, t[LN_X], t[LN_W], t[LN_MEAN], t[LN_RSTD], t[LN_DY], t[LN_DX], t[LN_DW],
                                     t[LN_DB]),
               SMX_OK);
  assert_close(t[LN_DX], ts.o[LN_DX], 9 * 40, 1e-5, "layernorm dx");
  assert_close(t[LN_DW], ts.o[LN_DW], 40, 1e-5, "layernorm dw");
  assert_close(t[LN_DB], ts.o[LN_DB], 40, 1e-5, "layernorm db");
  cr_assert_eq(smx_layernorm_fwd_cpu(9, 40, 0.0f, t[LN_X], t[LN_W], t[LN_B], t[LN_Y], t[LN_MEAN], t[LN_RSTD]),
               SMX_ERR_INVALID, "eps = 0 is refused");
  tensors_free(&ts);

  /* rmsnorm of a constant row c: rstd = 1/sqrt(c^2 + eps), y = c rstd w */
  float x[4] = {2, 2, 2, 2}, w[4] = {1, 2, 3, 4}, y[4], r;
  cr_assert_eq(smx_rmsnorm_fwd_cpu(1, 4, 1e-5f, x, w, y, &r), SMX_OK);
  double want = 1 / sqrt(4 + 1e-5);
  cr_assert(fabs(r - want) < 1e-6, "rstd %g want %g", (double)r, want);
  for (int i = 0; i < 4; i++) cr_assert(fabs(y[i] - 2 * want * w[i]) < 1e-5);
  cr_assert_eq(smx_rmsnorm_fwd_cpu(1, 0, 1e-5f, x, w, y, &r), SMX_ERR_INVALID);
}

Test(modelops, mlp_backward_reuses_the_forwards_gate_and_up) {
  smx_config c;
  parse(&smx_op_mlp, "T=11,d=12,F=20,act=1", &c);
  tensors ts;
  tensors_new(&ts, &c);
  float *const *t = ts.t;
  float *a = malloc(11 * 20 * sizeof(float)), *u = malloc(11 * 20 * sizeof(float)), *w = malloc(2 * 11 * 20 * sizeof(float));
  cr_assert(a && u && w);
  cr_assert_eq(smx_mlp_fwd_cpu(11, 12, 20, SMX_ACT_GELU, t[MLP_X], t[MLP_WG], t[MLP_WU], t[MLP_WD], t[MLP_Y], a, u, w),
               SMX_OK, "%s", smx_last_error());
  assert_close(t[MLP_Y], ts.o[MLP_Y], 11 * 12, 1e-5, "y");
  cr_assert_eq(smx_mlp_bwd_cpu(11, 12, 20, SMX_ACT_GELU, t[MLP_X], t[MLP_WG], t[MLP_WU], t[MLP_WD], a, u, t[MLP_DY],
                               t[MLP_DX], t[MLP_DWG], t[MLP_DWU], t[MLP_DWD], w),
               SMX_OK);
  assert_close(t[MLP_DX], ts.o[MLP_DX], 11 * 12, 1e-5, "dx");
  assert_close(t[MLP_DWG], ts.o[MLP_DWG], 20 * 12, 1e-5, "dWg");
  assert_close(t[MLP_DWU], ts.o[MLP_DWU], 20 * 12, 1e-5, "dWu");
  assert_close(t[MLP_DWD], ts.o[MLP_DWD], 12 * 20, 1e-5, "dWd");
  cr_assert_eq(smx_mlp_fwd_cpu(11, 12, 20, (smx_act)2, t[MLP_X], t[MLP_WG], t[MLP_WU], t[MLP_WD], t[MLP_Y], a, u, w),
               SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "activation 2") != NULL, "%s", smx_last_error());
  free(a);
  free(u);
  free(w);
  tensors_free(&ts);
}

/* ---- embedding ---- */

Test(modelops, embedding_scatter_add_is_bitwise_the_same_at_any_thread_count) {
  enum { T = 300, V = 7, D = 33 };
  float *dy = malloc(T * D * sizeof(float)), *g1 = malloc(V * D * sizeof(float)), *g2 = malloc(V * D * sizeof(float));
  int32_t ids[T];
  cr_assert(dy && g1 && g2);
  for (int i = 0; i < T * D; i++) dy[i] = sinf((float)i * 0.37f) * (1.0f + (float)(i % 11) * 1e3f);
  for (int i = 0; i < T; i++) ids[i] = (i * 5 + i / 7) % V;
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  cr_assert_eq(smx_embedding_bwd_cpu(T, V, D, ids, dy, g1, 0), SMX_OK);
  omp_set_num_threads(2);
  cr_assert_eq(smx_embedding_bwd_cpu(T, V, D, ids, dy, g2, 0), SMX_OK);
  omp_set_num_threads(saved);
  cr_assert(memcmp(g1, g2, V * D * sizeof(float)) == 0, "the scatter-add depends on the thread count");
  /* accumulate = 1 adds onto what is there, in position order */
  for (int i = 0; i < V * D; i++) g2[i] = 0.5f;
  cr_assert_eq(smx_embedding_bwd_cpu(T, V, D, ids, dy, g2, 1), SMX_OK);
  for (int v = 0; v < V; v++)
    for (int k = 0; k < D; k++) {
      float want = 0.5f;
      for (int t = 0; t < T; t++)
        if (ids[t] == v) want += dy[t * D + k];
      cr_assert_eq(g2[v * D + k], want, "accumulate at row %d column %d", v, k);
    }
  free(dy);
  free(g1);
  free(g2);
}

Test(modelops, embedding_refuses_ids_outside_the_vocabulary) {
  float table[6] = {0}, y[4], dy[4] = {0}, dt[6];
  int32_t ids[2] = {1, 3};
  cr_assert_eq(smx_embedding_fwd_cpu(2, 3, 2, ids, table, y), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "ids[1] = 3") != NULL, "%s", smx_last_error());
  ids[1] = -1;
  cr_assert_eq(smx_embedding_bwd_cpu(2, 3, 2, ids, dy, dt, 0), SMX_ERR_INVALID);
  /* through the registered variant: a float id that is not an integer */
  smx_config c;
  parse(&smx_op_embedding, "B=1,L=2,V=3,d=2", &c);
  float fids[2] = {0.0f, 1.5f};
  void *tv[EMB_NSLOTS] = {[EMB_IDS] = fids, [EMB_TABLE] = table, [EMB_Y] = y};
  void *state = NULL;
  cr_assert_eq(smx_embedding_cpu_gather.create(&c, &state), SMX_OK);
  cr_assert_eq(smx_embedding_cpu_gather.run(state, SMX_FWD, tv), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "1.5") != NULL, "%s", smx_last_error());
  smx_embedding_cpu_gather.destroy(state);
  cr_assert_eq(smx_config_parse(&smx_op_embedding, "V=0", &c), SMX_ERR_INVALID);
  cr_assert_eq(smx_config_parse(&smx_op_embedding, "B=65536,L=65536,d=1", &c), SMX_ERR_INVALID);
}

/* ---- lm_head_ce ---- */

/* The gathered head (more than one chunk of 256 labelled rows, some ignored) against the logits
 * at every position (the oracle computes them everywhere and masks), loss and both gradients in
 * one fused call, the argmax against a direct scan, and the tied-weight accumulation. */
Test(modelops, lm_head_ce_gathered_equals_the_all_positions_computation, .timeout = 60) {
  smx_config c;
  parse(&smx_op_lm_head_ce, "T=700,d=16,V=50,ignore=30", &c);
  tensors ts;
  tensors_new(&ts, &c);
  enum { T = 700, D = 16, V = 50 };
  int32_t *lab = int_copy(ts.t[CE_LABELS], T), pred[T];
  int n = 0;
  for (int t = 0; t < T; t++) n += lab[t] != SMX_IGNORE_LABEL;
  cr_assert(n > 256 && n < T, "%d labelled rows: more than one chunk, fewer than all", n);
  void *work = malloc(smx_lm_head_ce_workspace_bytes(T, D, V));
  float loss, *dx = malloc(T * D * sizeof(float)), *dw = malloc(V * D * sizeof(float));
  cr_assert(work && dx && dw);
  /* the oracle's backward ran with a random dloss; the fused call's dloss is 1 */
  double dl = ts.o[CE_DLOSS][0];
  ts.o[CE_DLOSS][0] = 1;
  smx_op_lm_head_ce.oracle_f64(&c, SMX_BWD, ts.o);
  cr_assert_eq(smx_lm_head_ce_fwd_bwd_cpu(T, D, V, ts.t[CE_X], ts.t[CE_W], lab, &loss, pred, dx, dw, 0, work), SMX_OK,
               "%s", smx_last_error());
  assert_close(&loss, ts.o[CE_LOSS], 1, 1e-6, "loss");
  assert_close(dx, ts.o[CE_DX], T * D, 1e-6, "dx");
  assert_close(dw, ts.o[CE_DW], V * D, 1e-6, "dW");
  for (int t = 0; t < T; t++) {
    if (lab[t] == SMX_IGNORE_LABEL) {
      cr_assert_eq(pred[t], -1);
      for (int k = 0; k < D; k++) cr_assert_eq(dx[t * D + k], 0.0f, "ignored row %d has a gradient", t);
      continue;
    }
    double best = -INFINITY;
    int arg = -1;
    for (int v = 0; v < V; v++) {
      float z = 0;
      for (int k = 0; k < D; k++) z += ts.t[CE_X][t * D + k] * ts.t[CE_W][v * D + k];
      if (z > best) best = z, arg = v;
    }
    double zp = 0; /* the chosen class's logit may differ from the scan's by rounding only */
    for (int k = 0; k < D; k++) zp += (double)ts.t[CE_X][t * D + k] * ts.t[CE_W][pred[t] * D + k];
    cr_assert(pred[t] == arg || fabs(zp - best) < 1e-5, "row %d: pred %d, argmax %d", t, pred[t], arg);
  }
  /* separate passes give the same numbers; accumulate adds dW onto what is there */
  float loss2, *dw2 = malloc(V * D * sizeof(float));
  cr_assert_not_null(dw2);
  cr_assert_eq(smx_lm_head_ce_fwd_cpu(T, D, V, ts.t[CE_X], ts.t[CE_W], lab, &loss2, NULL, work), SMX_OK);
  cr_assert_eq(loss2, loss);
  for (int i = 0; i < V * D; i++) dw2[i] = 1.0f;
  cr_assert_eq(smx_lm_head_ce_bwd_cpu(T, D, V, ts.t[CE_X], ts.t[CE_W], lab, (float)dl, NULL, dw2, 1, work), SMX_OK);
  for (int i = 0; i < V * D; i++) cr_assert(fabs((dw2[i] - 1.0) - dl * ts.o[CE_DW][i]) < 1e-5, "accumulated dW %d", i);
  free(work);
  free(dx);
  free(dw);
  free(dw2);
  free(lab);
  tensors_free(&ts);
}

Test(modelops, lm_head_ce_without_labelled_positions_is_zero_and_bad_labels_are_refused) {
  enum { T = 5, D = 3, V = 4 };
  float x[T * D], w[V * D], loss = NAN, dx[T * D], dw[V * D];
  int32_t lab[T] = {-100, -100, -100, -100, -100};
  for (int i = 0; i < T * D; i++) x[i] = (float)i;
  for (int i = 0; i < V * D; i++) w[i] = 1.0f / (float)(i + 1), dw[i] = NAN;
  void *work = malloc(smx_lm_head_ce_workspace_bytes(T, D, V));
  cr_assert_not_null(work);
  cr_assert_eq(smx_lm_head_ce_fwd_bwd_cpu(T, D, V, x, w, lab, &loss, NULL, dx, dw, 0, work), SMX_OK);
  cr_assert_eq(loss, 0.0f);
  for (int i = 0; i < T * D; i++) cr_assert_eq(dx[i], 0.0f);
  for (int i = 0; i < V * D; i++) cr_assert_eq(dw[i], 0.0f);
  lab[2] = 4;
  cr_assert_eq(smx_lm_head_ce_fwd_cpu(T, D, V, x, w, lab, &loss, NULL, work), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "labels[2] = 4") != NULL, "%s", smx_last_error());
  lab[2] = -1; /* only -100 means ignored */
  cr_assert_eq(smx_lm_head_ce_bwd_cpu(T, D, V, x, w, lab, 1.0f, dx, dw, 0, work), SMX_ERR_INVALID);
  free(work);
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_lm_head_ce, "ignore=101", &c), SMX_ERR_INVALID);
  cr_assert_eq(smx_config_parse(&smx_op_lm_head_ce, "T=1048576,V=1048576,d=1", &c), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "T x V logits") != NULL, "%s", smx_last_error());
}

/* ---- adamw ---- */

/* One element by hand, PyTorch's AdamW at step 2 (lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 0.1):
 * p = 0.5, g = 0.2, m = 0.1, v = 0.04 ->
 *   p1 = 0.5 (1 - 1e-4) = 0.49995;  m' = 0.09 + 0.02 = 0.11;  v' = 0.03996 + 0.00004 = 0.04
 *   bc1 = 1 - 0.81 = 0.19, bc2 = 1 - 0.998001 = 0.001999
 *   p' = 0.49995 - (1e-3 / 0.19) 0.11 / (sqrt(0.04) / sqrt(0.001999) + 1e-8) */
Test(modelops, adamw_matches_a_hand_computed_pytorch_step_in_place) {
  smx_adamw_hparams h = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f};
  float p = 0.5f, g = 0.2f, m = 0.1f, v = 0.04f;
  cr_assert_eq(smx_adamw_step_cpu(1, 2, &h, &p, &g, &m, &v, &p, &m, &v), SMX_OK, "%s", smx_last_error());
  double want = 0.49995 - (1e-3 / 0.19) * 0.11 / (0.2 / sqrt(0.001999) + 1e-8);
  cr_assert(fabs(p - want) < 1e-6, "p' = %.9g, want %.9g", (double)p, want);
  cr_assert(fabs(m - 0.11) < 1e-7 && fabs(v - 0.04) < 1e-7, "m' = %g, v' = %g", (double)m, (double)v);
  /* the op's fixed-unit parameters stand for the same hyperparameters */
  smx_config c;
  parse(&smx_op_adamw, "n=1,step=2", &c);
  smx_adamw_config_values cv = smx_adamw_values(&c);
  cr_assert(cv.lr == 1e-3 && cv.wd == 0.1 && cv.beta1 == 0.9 && cv.beta2 == 0.999 && fabs(cv.eps - 1e-8) < 1e-22);
  /* forward only: every adamw variant declares one pass */
  for (int i = 0; i < smx_variant_count(&smx_op_adamw); i++)
    cr_assert_eq(smx_variant_at(&smx_op_adamw, i)->passes, SMX_PASS_BIT(SMX_FWD));
}

Test(modelops, adamw_refuses_bad_hyperparameters) {
  float x = 0;
  smx_adamw_hparams h = {1e-3f, 1.0f, 0.999f, 1e-8f, 0.1f};
  cr_assert_eq(smx_adamw_step_cpu(1, 1, &h, &x, &x, &x, &x, &x, &x, &x), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "beta1=1") != NULL, "%s", smx_last_error());
  h.beta1 = 0.9f;
  cr_assert_eq(smx_adamw_step_cpu(1, 0, &h, &x, &x, &x, &x, &x, &x, &x), SMX_ERR_INVALID);
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_adamw, "step=0", &c), SMX_ERR_INVALID);
  cr_assert_eq(smx_config_parse(&smx_op_adamw, "beta2_m=1000", &c), SMX_ERR_INVALID);
}

/* ---- benchmarks: every pass of every model op runs (a backward that reads saved outputs reruns
 * the forward first, which must get buffers for all outputs, layernorm's y included) ---- */

Test(modelops, every_model_op_benchmarks_at_a_tiny_shape, .timeout = 300) {
  static const char *const cases[][2] = {
      {"linear", "T=8,din=4,dout=3"},   {"layernorm", "T=8,d=5"},          {"rmsnorm", "T=8,d=5"},
      {"mlp", "T=8,d=4,F=6"},           {"embedding", "B=2,L=4,V=5,d=3"}, {"lm_head_ce", "T=16,d=4,V=9,ignore=50"},
      {"adamw", "n=100"}};
  static cli_result r;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "modelops_bench_%s", cases[i][0]);
    const char *dir = test_dir(name);
    run_cli(&r, (const char *[]){"bench", "--op", cases[i][0], "--shape", cases[i][1], "--device", "cpu",
                                 "--repetitions", "1", "--min-time", "0.001", "--out", dir, NULL});
    cr_assert_eq(r.status, 0, "%s: %s", cases[i][0], r.err);
    cr_assert(strstr(r.err, " 0 reported errors") != NULL || strstr(r.out, " 0 reported errors") != NULL, "%s: %s",
              cases[i][0], r.err);
  }
}
