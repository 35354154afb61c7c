/* conba and conba_decode specifics: with the delay, scaling and feedback switched off the layer is
 * a plain Mamba-1 selective scan (written here independently, in double); lambda = kappa = 0 with
 * scaling off gives the same layer as the switches off; decode steps replayed over a sequence
 * reproduce the forward (the fp64 oracles exactly, every CPU decode variant in fp32 within its
 * rounding); bad shapes are refused with a message. (Variants against their references:
 * seqmix check, tests/test_ops.c.)
 *
 *   build/tests/seqmix_tests --filter conba/\*
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference/conba.h"

static smx_config parse(const smx_op *op, const char *spec) {
  smx_config c;
  cr_assert_eq(smx_config_parse(op, spec, &c), SMX_OK, "%s: %s", spec, smx_last_error());
  return c;
}

static double **draw(const smx_config *c, uint64_t seed) {
  double **t = calloc(SMX_MAX_TENSORS, sizeof *t);
  for (int s = 0; s < c->op->n_tensors; s++) {
    size_t n = c->op->numel(c, s);
    float *f = calloc(n ? n : 1, sizeof *f);
    t[s] = calloc(n ? n : 1, sizeof(double));
    smx_role r = c->op->tensors[s].role;
    if (r == SMX_ROLE_INPUT || r == SMX_ROLE_GRAD_OUT) smx_input_values(c, seed, s, f, n);
    for (size_t i = 0; i < n; i++) t[s][i] = f[i];
    free(f);
  }
  return t;
}

static void drop(double **t) {
  for (int s = 0; s < SMX_MAX_TENSORS; s++) free(t[s]);
  free(t);
}

static double rel_diff(const double *a, const double *b, size_t n) {
  double m = 0, scale = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i])), scale = fmax(scale, fabs(b[i]));
  return scale > 0 ? m / scale : m;
}

static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }

/* Mamba-1's selective scan block (in_proj, conv, x_proj, softplus dt, scan, D skip, silu gate,
 * out_proj), with full-rank dt, written without the reference's code. */
static void plain_mamba(const conba_dims *d, double *const *t, double *o) {
  int64_t E = d->E, N = d->N, K = d->K, dm = d->d;
  const double *const *W = (const double *const *)(t + CONBA_W0);
  double *xin = calloc((size_t)(d->L * E), sizeof(double)), *h = calloc((size_t)(E * N), sizeof(double));
  double *u = calloc((size_t)E, sizeof(double)), *m = calloc((size_t)E, sizeof(double));
  for (int64_t b = 0; b < d->B; b++) {
    memset(h, 0, (size_t)(E * N) * sizeof(double));
    for (int64_t t0 = 0; t0 < d->L; t0++) {
      const double *x = t[CONBA_X] + (b * d->L + t0) * dm;
      for (int64_t e = 0; e < E; e++) {
        double a = 0;
        for (int64_t i = 0; i < dm; i++) a += W[CW_IN][e * dm + i] * x[i];
        xin[t0 * E + e] = a;
      }
      for (int64_t e = 0; e < E; e++) {
        double a = W[CW_CONVB][e];
        for (int64_t j = 0; j < K; j++)
          if (t0 - K + 1 + j >= 0) a += W[CW_CONV][e * K + j] * xin[(t0 - K + 1 + j) * E + e];
        u[e] = a * sig(a);
      }
      for (int64_t e = 0; e < E; e++) {
        double v = W[CW_BDT][e], z = 0, y = 0;
        for (int64_t f = 0; f < E; f++) v += W[CW_DT][e * E + f] * u[f];
        double dt = log1p(exp(v));
        for (int64_t i = 0; i < dm; i++) z += W[CW_Z][e * dm + i] * x[i];
        for (int64_t n = 0; n < N; n++) {
          double Bn = 0, Cn = 0;
          for (int64_t f = 0; f < E; f++) Bn += W[CW_B][n * E + f] * u[f], Cn += W[CW_C][n * E + f] * u[f];
          h[e * N + n] = exp(-dt * exp(W[CW_ALOG][e * N + n])) * h[e * N + n] + dt * u[e] * Bn;
          y += h[e * N + n] * Cn;
        }
        m[e] = (y + W[CW_D][e] * u[e]) * z * sig(z);
      }
      for (int64_t i = 0; i < dm; i++) {
        double a = 0;
        for (int64_t e = 0; e < E; e++) a += W[CW_OUT][i * E + e] * m[e];
        o[(b * d->L + t0) * dm + i] = a;
      }
    }
  }
  free(xin), free(h), free(u), free(m);
}

Test(conba, switched_off_extras_give_a_plain_selective_scan) {
  smx_config c = parse(&smx_op_conba, "B=2,L=23,d=6,expand=2,N=5,K=4,delay=0,scaling=0,feedback=0");
  conba_dims d = smx_conba_dims(&c);
  double **t = draw(&c, 3);
  size_t n = smx_op_conba.numel(&c, CONBA_O);
  double *o = calloc(n, sizeof *o);
  smx_op_conba.oracle_f64(&c, SMX_FWD, t);
  plain_mamba(&d, t, o);
  cr_expect_lt(rel_diff(t[CONBA_O], o, n), 1e-12);
  /* lambda = kappa = 0 with the delay and feedback on is the same layer; so is feedback with kappa = 0 */
  smx_config on = c;
  on.v[CONBA_DELAY] = on.v[CONBA_FEEDBACK] = 1;
  memset(t[CONBA_W0 + CW_LAMBDA], 0, (size_t)d.E * sizeof(double));
  memset(t[CONBA_W0 + CW_KAPPA], 0, (size_t)d.E * sizeof(double));
  smx_op_conba.oracle_f64(&on, SMX_FWD, t);
  cr_expect_lt(rel_diff(t[CONBA_O], o, n), 1e-12);
  /* and a nonzero lambda changes it, so the comparisons above can fail */
  t[CONBA_W0 + CW_LAMBDA][0] = 0.5;
  smx_op_conba.oracle_f64(&on, SMX_FWD, t);
  cr_expect_gt(rel_diff(t[CONBA_O], o, n), 1e-6);
  free(o);
  drop(t);
}

Test(conba, decode_steps_replayed_equal_the_forward) {
  static const char *const specs[] = {"B=2,L=19,d=6,expand=2,N=5,K=4", "B=1,L=9,d=4,expand=3,N=3,K=2,scaling=0",
                                      NULL};
  for (const char *const *sp = specs; *sp; sp++) {
    smx_config c = parse(&smx_op_conba, *sp);
    conba_dims d = smx_conba_dims(&c);
    double **t = draw(&c, 5);
    smx_op_conba.oracle_f64(&c, SMX_FWD, t);
    char spec[160];
    snprintf(spec, sizeof spec, "B=%lld,d=%lld,expand=%lld,N=%lld,K=%lld,delay=%d,scaling=%d,feedback=%d",
             (long long)d.B, (long long)d.d, (long long)(d.E / d.d), (long long)d.N, (long long)d.K, d.delay,
             d.scaling, d.feedback);
    smx_config dc = parse(&smx_op_conba_decode, spec);
    double *s[CONBAD_NSLOTS];
    for (int i = 0; i < CONBAD_NSLOTS; i++) {
      size_t n = smx_op_conba_decode.numel(&dc, i);
      s[i] = calloc(n ? n : 1, sizeof(double));
    }
    for (int w = 0; w < CW_COUNT; w++)
      memcpy(s[CONBAD_W0 + w], t[CONBA_W0 + w], smx_conba_weight_numel(&d, w) * sizeof(double));
    double worst = 0, scale = 0;
    for (int64_t step = 0; step < d.L; step++) {
      for (int64_t b = 0; b < d.B; b++)
        memcpy(s[CONBAD_X] + b * d.d, t[CONBA_X] + (b * d.L + step) * d.d, (size_t)d.d * sizeof(double));
      smx_op_conba_decode.oracle_f64(&dc, SMX_FWD, s);
      for (int64_t b = 0; b < d.B; b++)
        for (int64_t i = 0; i < d.d; i++) {
          double want = t[CONBA_O][(b * d.L + step) * d.d + i];
          worst = fmax(worst, fabs(s[CONBAD_O][b * d.d + i] - want));
          scale = fmax(scale, fabs(want));
        }
      memcpy(s[CONBAD_CONV_IN], s[CONBAD_CONV_OUT], smx_op_conba_decode.numel(&dc, CONBAD_CONV_IN) * sizeof(double));
      memcpy(s[CONBAD_H_IN], s[CONBAD_H_OUT], smx_op_conba_decode.numel(&dc, CONBAD_H_IN) * sizeof(double));
    }
    cr_expect_lt(worst, 1e-6 * scale, "%s: %g of %g", *sp, worst, scale);
    for (int i = 0; i < CONBAD_NSLOTS; i++) free(s[i]);
    drop(t);
  }
}

static void run_variant(const smx_variant *v, const smx_config *c, smx_pass p, void *const *t) {
  void *state = NULL;
  cr_assert_eq(v->create(c, &state), SMX_OK, "%s: %s", v->name, smx_last_error());
  cr_assert_eq(v->run(state, p, t), SMX_OK, "%s: %s", v->name, smx_last_error());
  v->destroy(state);
}

/* Every CPU variant of conba_decode, its fp32 window and state chained from step to step, against
 * conba's `reference` forward on the same fp32 inputs. Both keep fp32 tensors, so the steps differ
 * from the forward by the rounding of the carried state and, for cpu.step, its fp32 arithmetic
 * (measured over these 37 steps: 2.5e-7 of max|o| for cpu.step, 6e-8 for the reference). */
Test(conba, decode_variants_chained_over_a_sequence_equal_the_forward) {
  const char *spec = "B=2,L=37,d=10,expand=2,N=16,K=4";
  smx_config c = parse(&smx_op_conba, spec);
  conba_dims d = smx_conba_dims(&c);
  float *t[CONBA_NSLOTS] = {0};
  for (int s = 0; s < CONBA_NSLOTS; s++) {
    size_t n = smx_op_conba.numel(&c, s);
    t[s] = calloc(n ? n : 1, sizeof(float));
    if (smx_op_conba.tensors[s].role == SMX_ROLE_INPUT) smx_input_values(&c, 7, s, t[s], n);
  }
  run_variant(&smx_conba_reference, &c, SMX_FWD, (void *const *)t);
  double scale = 0;
  for (size_t i = 0; i < smx_op_conba.numel(&c, CONBA_O); i++) scale = fmax(scale, fabs(t[CONBA_O][i]));
  smx_config dc = parse(&smx_op_conba_decode, "B=2,d=10,expand=2,N=16,K=4");
  int ran = 0;
  for (int vi = 0; vi < smx_variant_count(&smx_op_conba_decode); vi++) {
    const smx_variant *v = smx_variant_at(&smx_op_conba_decode, vi);
    if (v->device != SMX_DEV_CPU || v->baseline) continue;
    float *s[CONBAD_NSLOTS] = {0};
    for (int i = 0; i < CONBAD_NSLOTS; i++) {
      size_t n = smx_op_conba_decode.numel(&dc, i);
      s[i] = calloc(n ? n : 1, sizeof(float)); /* the window and the state start at zero */
    }
    for (int w = 0; w < CW_COUNT; w++)
      memcpy(s[CONBAD_W0 + w], t[CONBA_W0 + w], smx_conba_weight_numel(&d, w) * sizeof(float));
    double worst = 0;
    for (int64_t step = 0; step < d.L; step++) {
      for (int64_t b = 0; b < d.B; b++)
        memcpy(s[CONBAD_X] + b * d.d, t[CONBA_X] + (b * d.L + step) * d.d, (size_t)d.d * sizeof(float));
      run_variant(v, &dc, SMX_FWD, (void *const *)s);
      for (int64_t b = 0; b < d.B; b++)
        for (int64_t i = 0; i < d.d; i++)
          worst = fmax(worst, fabs((double)s[CONBAD_O][b * d.d + i] - t[CONBA_O][(b * d.L + step) * d.d + i]));
      memcpy(s[CONBAD_CONV_IN], s[CONBAD_CONV_OUT], smx_op_conba_decode.numel(&dc, CONBAD_CONV_IN) * sizeof(float));
      memcpy(s[CONBAD_H_IN], s[CONBAD_H_OUT], smx_op_conba_decode.numel(&dc, CONBAD_H_IN) * sizeof(float));
    }
    cr_expect_lt(worst, 1e-6 * scale, "%s: %g of max|o| %g", v->name, worst, scale);
    for (int i = 0; i < CONBAD_NSLOTS; i++) free(s[i]);
    ran++;
  }
  cr_assert_geq(ran, 2);
  for (int s = 0; s < CONBA_NSLOTS; s++) free(t[s]);
}

Test(conba, bad_shapes_are_refused_with_a_reason) {
  static const char *const bad[][2] = {{"expand=9", "expand"},         {"delay=2", "delay"},
                                       {"L=0", "L"},                   {"K=5", "K"},
                                       {"K=1", "K"},                   {"d=16384,expand=4", "E x E weights"},
                                       {"B=64,L=65536,d=1024", "B*L*E"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    smx_config c;
    cr_expect_eq(smx_config_parse(&smx_op_conba, bad[i][0], &c), SMX_ERR_INVALID, "%s accepted", bad[i][0]);
    cr_expect(strstr(smx_last_error(), bad[i][1]) != NULL, "%s: '%s'", bad[i][0], smx_last_error());
  }
  static const char *const bad_decode[][2] = {{"K=1", "K"}, {"B=1048576,d=4096,N=256", "B*E*N"}};
  for (size_t i = 0; i < sizeof bad_decode / sizeof bad_decode[0]; i++) {
    smx_config c;
    cr_expect_eq(smx_config_parse(&smx_op_conba_decode, bad_decode[i][0], &c), SMX_ERR_INVALID, "%s accepted",
                 bad_decode[i][0]);
    cr_expect(strstr(smx_last_error(), bad_decode[i][1]) != NULL, "%s: '%s'", bad_decode[i][0], smx_last_error());
  }
}
