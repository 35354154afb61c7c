/* The H3 building blocks' specifics: shortconv against hand-computed values; ssm_kernel against
 * an independent fp64 recurrence (the SSM's impulse response), its dt gradient at S4D-Lin's high
 * modes by extrapolated finite differences, and a 64K-long kernel; bad inputs of each op.
 * (Every variant against the reference on the op's check shapes, and the finite differences:
 * tests/test_ops.c.)
 *   build/tests/seqmix_tests --filter 'h3ops/...' (every h3ops test) */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference/shortconv.h"
#include "reference/ssm_kernel.h"
#include "seqmix/check.h"

static smx_config parse(const smx_op *op, const char *spec) {
  smx_config c;
  cr_assert_eq(smx_config_parse(op, spec, &c), SMX_OK, "%s: %s", spec, smx_last_error());
  return c;
}

/* x = [1, 2, 3], w = [0.25, 0.5, 1] (w[2] on the current token), bias 2:
 * y = [2 + 1, 2 + 2 + 0.5, 2 + 3 + 1 + 0.25] = [3, 4.5, 6.25]. dy = e_2: dx = [w0, w1, w2],
 * dw = [x0, x1, x2], dbias = 1. */
Test(h3ops, shortconv_hand_computed_example) {
  smx_config c = parse(&smx_op_shortconv, "B=1,H=1,L=3,K=3,bias=1");
  double x[3] = {1, 2, 3}, w[3] = {0.25, 0.5, 1}, bias[1] = {2}, y[3], dy[3] = {0, 0, 1}, dx[3], dw[3], db[1];
  double *t[SHORTCONV_NSLOTS] = {[SHORTCONV_X] = x,   [SHORTCONV_W] = w,   [SHORTCONV_BIAS] = bias,
                                 [SHORTCONV_Y] = y,   [SHORTCONV_DY] = dy, [SHORTCONV_DX] = dx,
                                 [SHORTCONV_DW] = dw, [SHORTCONV_DBIAS] = db};
  smx_op_shortconv.oracle_f64(&c, SMX_FWD, t);
  cr_assert_eq(y[0], 3.0);
  cr_assert_eq(y[1], 4.5);
  cr_assert_eq(y[2], 6.25);
  smx_op_shortconv.oracle_f64(&c, SMX_BWD, t);
  cr_assert_eq(dx[0], 0.25);
  cr_assert_eq(dx[1], 0.5);
  cr_assert_eq(dx[2], 1.0);
  cr_assert_eq(dw[0], 1.0);
  cr_assert_eq(dw[1], 2.0);
  cr_assert_eq(dw[2], 3.0);
  cr_assert_eq(db[0], 1.0);
}

/* Without bias the slot is empty and the output has no offset. */
Test(h3ops, shortconv_without_bias_has_no_bias_tensor) {
  smx_config c = parse(&smx_op_shortconv, "B=2,H=3,L=5,K=2,bias=0");
  cr_assert_eq(smx_op_shortconv.numel(&c, SHORTCONV_BIAS), 0);
  cr_assert_eq(smx_op_shortconv.numel(&c, SHORTCONV_DBIAS), 0);
  cr_assert_eq(smx_op_shortconv.numel(&c, SHORTCONV_W), 6);
}

Test(h3ops, shortconv_bad_shapes_are_refused) {
  static const char *const bad[] = {"K=1", "K=5", "L=0", "B=0", "H=-1", "B=1048576,H=1048576,L=4", "bias=2", "Q=3", NULL};
  for (const char *const *s = bad; *s; s++) {
    smx_config c;
    cr_assert_eq(smx_config_parse(&smx_op_shortconv, *s, &c), SMX_ERR_INVALID, "%s was accepted", *s);
    cr_assert(strlen(smx_last_error()) > 0);
  }
}

/* L = 1 with K = 4: every output sits in the warm-up (only the last tap reads the row). */
Test(h3ops, shortconv_cpu_direct_when_L_is_shorter_than_K) {
  smx_config c = parse(&smx_op_shortconv, "B=3,H=2,L=2,K=4");
  smx_check_case *cc = NULL;
  cr_assert_eq(smx_check_case_new(&c, 3, &cc), SMX_OK);
  smx_check_outcome o;
  cr_assert_eq(smx_check_variant(cc, &smx_shortconv_cpu_direct, &o), SMX_OK);
  cr_assert_eq(o.verdict, SMX_PASS, "%s", o.reason);
  smx_check_case_free(cc);
}

/* ---- ssm_kernel ---- */

/* Every slot of a configuration in fp64, inputs drawn as the harness draws them. */
typedef struct tensors64 {
  double *t[SMX_MAX_TENSORS];
} tensors64;

static tensors64 draw64(const smx_config *c, uint64_t seed) {
  tensors64 r;
  memset(&r, 0, sizeof r);
  for (int s = 0; s < c->op->n_tensors; s++) {
    size_t n = c->op->numel(c, s);
    float *f = calloc(n ? n : 1, sizeof *f);
    r.t[s] = calloc(n ? n : 1, sizeof(double));
    cr_assert(f && r.t[s]);
    smx_role role = c->op->tensors[s].role;
    if (role == SMX_ROLE_INPUT || role == SMX_ROLE_GRAD_OUT) smx_input_values(c, seed, s, f, n);
    for (size_t i = 0; i < n; i++) r.t[s][i] = f[i];
    free(f);
  }
  return r;
}

static void free64(tensors64 *r) {
  for (int s = 0; s < SMX_MAX_TENSORS; s++) free(r->t[s]);
}

/* The impulse response of x[t] = E x[t-1] + Bbar u[t], y = 2 Re(C x): with u = e_0, y[l] =
 * 2 Re(C E^l Bbar) = k[l]. Written from the discretization's definition with C99 complex numbers
 * (E by cexp, Bbar = B (E - 1) / A by plain subtraction, fine in fp64), independent of the
 * Vandermonde code. */
Test(h3ops, ssm_kernel_equals_the_recurrences_impulse_response) {
  smx_config c = parse(&smx_op_ssm_kernel, "H=3,N=8,L=3000");
  tensors64 r = draw64(&c, 5);
  smx_op_ssm_kernel.oracle_f64(&c, SMX_FWD, r.t);
  int64_t H = 3, N = 8, L = 3000;
  double worst = 0, scale = 0;
  for (int64_t h = 0; h < H; h++) {
    double complex x[8], E[8], Bb[8], C[8];
    double dt = exp(r.t[SSMK_LOGDT][h]);
    for (int64_t n = 0; n < N; n++) {
      int64_t i = h * N + n;
      double complex A = -exp(r.t[SSMK_LOGARE][i]) + I * r.t[SSMK_AIM][i];
      E[n] = cexp(dt * A);
      Bb[n] = (r.t[SSMK_B][2 * i] + I * r.t[SSMK_B][2 * i + 1]) * (E[n] - 1) / A;
      C[n] = r.t[SSMK_C][2 * i] + I * r.t[SSMK_C][2 * i + 1];
      x[n] = 0;
    }
    for (int64_t l = 0; l < L; l++) {
      double y = 0;
      for (int64_t n = 0; n < N; n++) {
        x[n] = E[n] * x[n] + (l == 0 ? Bb[n] : 0);
        y += 2 * creal(C[n] * x[n]);
      }
      worst = fmax(worst, fabs(y - r.t[SSMK_K][h * L + l]));
      scale = fmax(scale, fabs(y));
    }
  }
  cr_assert(scale > 0);
  cr_assert(worst <= 1e-12 * scale, "recurrence vs Vandermonde: %g (scale %g)", worst, scale);
  free64(&r);
}

/* <dk, k> as a function of log_dt[0] */
static double loss_of_log_dt(const smx_config *c, tensors64 *r, double v) {
  double keep = r->t[SSMK_LOGDT][0];
  r->t[SSMK_LOGDT][0] = v;
  smx_op_ssm_kernel.oracle_f64(c, SMX_FWD, r->t);
  r->t[SSMK_LOGDT][0] = keep;
  double s = 0;
  for (size_t i = 0; i < smx_op_ssm_kernel.numel(c, SSMK_K); i++) s += r->t[SSMK_DK][i] * r->t[SSMK_K][i];
  return s;
}

/* At N = 32 the top modes' phase moves by |Im z| l per unit of log_dt, so the generic check's
 * central differences (h = 1e-5) carry truncation error near 1e-6; Richardson extrapolation of
 * two steps removes the h^2 term. */
Test(h3ops, ssm_kernel_dt_gradient_at_high_modes) {
  smx_config c = parse(&smx_op_ssm_kernel, "H=1,N=32,L=2049");
  tensors64 r = draw64(&c, 11);
  smx_op_ssm_kernel.oracle_f64(&c, SMX_BWD, r.t);
  double got = r.t[SSMK_DLOGDT][0], v = r.t[SSMK_LOGDT][0], h = 1e-4;
  double d1 = (loss_of_log_dt(&c, &r, v + h) - loss_of_log_dt(&c, &r, v - h)) / (2 * h);
  double d2 = (loss_of_log_dt(&c, &r, v + h / 2) - loss_of_log_dt(&c, &r, v - h / 2)) / h;
  double want = (4 * d2 - d1) / 3;
  cr_assert(fabs(got - want) <= 1e-7 * fabs(want), "dlog_dt %.12g vs extrapolated differences %.12g", got, want);
  free64(&r);
}

/* A 64K-long kernel: the blocked powers keep their accuracy however far l goes. */
Test(h3ops, ssm_kernel_cpu_vandermonde_at_L_64K) {
  smx_config c = parse(&smx_op_ssm_kernel, "H=1,N=4,L=65537");
  smx_check_case *cc = NULL;
  cr_assert_eq(smx_check_case_new(&c, 9, &cc), SMX_OK);
  smx_check_outcome o;
  cr_assert_eq(smx_check_variant(cc, &smx_ssm_kernel_cpu_vandermonde, &o), SMX_OK);
  cr_assert_eq(o.verdict, SMX_PASS, "%s", o.reason);
  smx_check_case_free(cc);
}

Test(h3ops, ssm_kernel_bad_shapes_are_refused) {
  static const char *const bad[] = {"N=0", "N=1025", "L=0", "H=0", "H=1048576,L=4096", "M=2", NULL};
  for (const char *const *s = bad; *s; s++) {
    smx_config c;
    cr_assert_eq(smx_config_parse(&smx_op_ssm_kernel, *s, &c), SMX_ERR_INVALID, "%s was accepted", *s);
    cr_assert(strlen(smx_last_error()) > 0);
  }
}
