/* The H3 building blocks' specifics: shortconv against hand-computed values; ssm_kernel against
 * an independent fp64 recurrence (the SSM's impulse response), its dt gradient at S4D-Lin's high
 * modes by extrapolated finite differences, and a 64K-long kernel; ssmconv's state passing at
 * L = 64K and beyond (L a multiple of the chunk and not), its results independent of the chunk,
 * its long-sequence backward by extrapolated differences; bad inputs of each op.
 * (Every variant against the reference on the op's check shapes, and the finite differences:
 * tests/test_ops.c.)
 *   build/tests/seqmix_tests --filter 'h3ops/...' (every h3ops test) */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference/shortconv.h"
#include "reference/ssm_kernel.h"
#include "reference/ssmconv.h"
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

/* <dy, y> of an op's forward (every OUTPUT slot with its GRAD_OUT). */
static double loss_of(const smx_config *c, tensors64 *r) {
  const smx_op *op = c->op;
  op->oracle_f64(c, SMX_FWD, r->t);
  double s = 0;
  for (int g = 0; g < op->n_tensors; g++) {
    if (op->tensors[g].role != SMX_ROLE_GRAD_OUT) continue;
    int o = op->tensors[g].of;
    for (size_t i = 0; i < op->numel(c, o); i++) s += r->t[g][i] * r->t[o][i];
  }
  return s;
}

/* The derivative of <dy, y> along the direction d of input slot `in` (d[i] = 1 - 2 (i % 3 == 1)),
 * by central differences at steps h and h/2 combined by Richardson extrapolation (error O(h^4)),
 * against the backward's gradient slot `grad` projected on d. Returns the relative disagreement. */
static double extrapolated_disagreement(const smx_config *c, uint64_t seed, int in, int grad, double h) {
  tensors64 r = draw64(c, seed);
  const smx_op *op = c->op;
  op->oracle_f64(c, SMX_FWD, r.t);
  op->oracle_f64(c, SMX_BWD, r.t);
  size_t n = op->numel(c, in);
  double analytic = 0;
  for (size_t i = 0; i < n; i++) analytic += r.t[grad][i] * (i % 3 == 1 ? -1.0 : 1.0);
  double *x0 = malloc(n * sizeof *x0);
  cr_assert(x0);
  memcpy(x0, r.t[in], n * sizeof *x0);
  double f[4], steps[4] = {h, -h, h / 2, -h / 2};
  for (int k = 0; k < 4; k++) {
    for (size_t i = 0; i < n; i++) r.t[in][i] = x0[i] + steps[k] * (i % 3 == 1 ? -1.0 : 1.0);
    f[k] = loss_of(c, &r);
  }
  double d1 = (f[0] - f[1]) / (2 * h), d2 = (f[2] - f[3]) / h, want = (4 * d2 - d1) / 3;
  free(x0);
  free64(&r);
  return fabs(analytic - want) / fmax(fabs(want), 1e-300);
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

/* At N = 32 the top modes' phase moves by |Im z| l per unit of log_dt, so the generic check's
 * central differences (h = 1e-5) carry truncation error near 1e-6; Richardson extrapolation of
 * two steps removes the h^2 term. */
Test(h3ops, ssm_kernel_dt_gradient_at_high_modes) {
  smx_config c = parse(&smx_op_ssm_kernel, "H=1,N=32,L=2049");
  for (uint64_t seed = 7; seed <= 11; seed += 4) {
    double rel = extrapolated_disagreement(&c, seed, SSMK_LOGDT, SSMK_DLOGDT, 1e-4);
    cr_assert(rel < 1e-7, "seed %llu: dlog_dt disagrees with extrapolated differences by %g", (unsigned long long)seed, rel);
  }
}

/* ssmconv's backward at the long check shapes, which the generic finite-difference check leaves
 * out (its h = 1e-5 differences carry 4e-6..5e-5 truncation error there: dt's effect is summed over
 * thousands of steps that cancel): every gradient, by extrapolated differences. */
Test(h3ops, ssmconv_long_backward_by_extrapolated_differences) {
  static const char *const shapes[] = {"B=1,H=1,N=16,L=3000", "B=2,H=2,N=8,L=4099", NULL};
  for (const char *const *sp = shapes; *sp; sp++) {
    smx_config c = parse(&smx_op_ssmconv, *sp);
    cr_assert_not_null(smx_op_ssmconv.fd_unusable(&c), "%s: the generic check covers it", *sp);
    for (uint64_t seed = 2; seed <= 7; seed += 5)
      for (int g = 0; g < smx_op_ssmconv.n_tensors; g++) {
        if (smx_op_ssmconv.tensors[g].role != SMX_ROLE_GRAD_IN) continue;
        double rel = extrapolated_disagreement(&c, seed, smx_op_ssmconv.tensors[g].of, g, 1e-4);
        cr_assert(rel < 1e-7, "%s seed %llu: %s disagrees with extrapolated differences by %g", *sp,
                  (unsigned long long)seed, smx_op_ssmconv.tensors[g].name, rel);
      }
  }
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

/* ---- ssmconv ---- */

static void check_passes(const smx_op *op, const smx_variant *v, const char *spec, uint64_t seed) {
  smx_config c = parse(op, spec);
  smx_check_case *cc = NULL;
  cr_assert_eq(smx_check_case_new(&c, seed, &cc), SMX_OK, "%s", smx_last_error());
  smx_check_outcome o;
  cr_assert_eq(smx_check_variant(cc, v, &o), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(o.verdict, SMX_PASS, "%s %s: %s", v->name, spec, o.reason);
  smx_check_case_free(cc);
}

/* State passing against the step-by-step recurrence at L = 64K and beyond, forward and backward:
 * 64 full chunks, then 69 chunks with a 369-step tail (L not a multiple of the chunk), and 16
 * chunks of FlashConv's largest fused FFT (8K) at L = 128K + 1. */
Test(h3ops, ssmconv_cpu_statepass_at_L_64K_and_beyond, .timeout = 300) {
  check_passes(&smx_op_ssmconv, &smx_ssmconv_cpu_statepass, "B=1,H=2,N=8,L=65536,chunk=1024", 3);
  check_passes(&smx_op_ssmconv, &smx_ssmconv_cpu_statepass, "B=2,H=1,N=4,L=70001,chunk=1024", 4);
  check_passes(&smx_op_ssmconv, &smx_ssmconv_cpu_statepass, "B=1,H=1,N=4,L=131073,chunk=8192", 5);
}

/* The chunk is an implementation choice: every chunk length gives the same outputs up to rounding,
 * including chunk 1 (a state carried across every step) and one chunk for the whole row. */
Test(h3ops, ssmconv_statepass_does_not_depend_on_the_chunk) {
  static const int64_t chunks[] = {1, 7, 64, 999, 1000};
  const int64_t L = 1000;
  float *first[SSMC_NSLOTS] = {0};
  for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
    char spec[96];
    snprintf(spec, sizeof spec, "B=2,H=2,N=6,L=%lld,chunk=%lld", (long long)L, (long long)chunks[k]);
    smx_config c = parse(&smx_op_ssmconv, spec);
    float *t[SSMC_NSLOTS];
    for (int s = 0; s < SSMC_NSLOTS; s++) {
      size_t n = smx_op_ssmconv.numel(&c, s);
      t[s] = calloc(n ? n : 1, sizeof(float));
      cr_assert(t[s]);
      smx_role role = smx_op_ssmconv.tensors[s].role;
      if (role == SMX_ROLE_INPUT || role == SMX_ROLE_GRAD_OUT) smx_input_values(&c, 21, s, t[s], n);
    }
    void *state = NULL;
    cr_assert_eq(smx_ssmconv_cpu_statepass.create(&c, &state), SMX_OK, "%s", smx_last_error());
    cr_assert_eq(smx_ssmconv_cpu_statepass.run(state, SMX_FWD, (void *const *)t), SMX_OK);
    cr_assert_eq(smx_ssmconv_cpu_statepass.run(state, SMX_BWD, (void *const *)t), SMX_OK);
    smx_ssmconv_cpu_statepass.destroy(state);
    for (int s = 0; s < SSMC_NSLOTS; s++) {
      smx_role role = smx_op_ssmconv.tensors[s].role;
      if (role != SMX_ROLE_OUTPUT && role != SMX_ROLE_GRAD_IN) continue;
      size_t n = smx_op_ssmconv.numel(&c, s);
      if (k == 0) {
        first[s] = t[s];
        t[s] = NULL;
        continue;
      }
      double diff = 0, scale = 0;
      for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)t[s][i] - first[s][i]));
        scale = fmax(scale, fabs((double)first[s][i]));
      }
      cr_assert(diff <= 2e-5 * scale, "%s: chunk %lld vs chunk 1 differ by %g (scale %g)", smx_op_ssmconv.tensors[s].name,
                (long long)chunks[k], diff, scale);
    }
    for (int s = 0; s < SSMC_NSLOTS; s++) free(t[s]);
  }
  for (int s = 0; s < SSMC_NSLOTS; s++) free(first[s]);
}

Test(h3ops, ssmconv_bad_shapes_are_refused) {
  static const char *const bad[] = {"N=0", "N=257", "chunk=0", "chunk=65537", "L=0", "B=0",
                                    "B=1024,H=1024,L=4096", "chunk=x", NULL};
  for (const char *const *s = bad; *s; s++) {
    smx_config c;
    cr_assert_eq(smx_config_parse(&smx_op_ssmconv, *s, &c), SMX_ERR_INVALID, "%s was accepted", *s);
    cr_assert(strlen(smx_last_error()) > 0);
  }
}
