/* The two long-convolution filter ops. hyena_filter: the positional features and decay rates
 * against values worked out from the peer's definitions (torch.linspace grids, exp(-i f w)), a
 * one-channel filter evaluated by hand, bad input. longconv_kernel: the soft threshold and the
 * initialization's scale by hand, the check inputs kept off the threshold. (Every variant against
 * the reference, and the finite differences of the reference backward: tests/test_ops.c.)
 *
 *   build/tests/seqmix_tests --filter '*_filter/[a-z]*' -j1     (hyena_filter, longconv_kernel) */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference/hyena_filter.h"
#include "reference/longconv_kernel.h"

/* L = 4, emb = 5: bands 2, f = linspace(1e-4, 1, 2) = (1e-4, 1), w_t = 2 pi t / 4,
 * tn = linspace(0, 1, 4) = (0, 1/3, 2/3, 1); z[t] = (tn, cos f0 w, cos f1 w, -sin f0 w, -sin f1 w). */
Test(hyena_filter, positional_features) {
  double z[4 * 5], tn[4];
  smx_hyena_features(4, 5, z, tn);
  const double pi = 3.14159265358979323846;
  cr_assert_float_eq(tn[1], 1.0 / 3, 1e-15);
  cr_assert_float_eq(tn[3], 1.0, 1e-15);
  /* t = 1: w = pi / 2 */
  cr_assert_float_eq(z[5 + 0], 1.0 / 3, 1e-15);
  cr_assert_float_eq(z[5 + 1], cos(1e-4 * pi / 2), 1e-15);
  cr_assert_float_eq(z[5 + 2], 0.0, 1e-15);          /* cos(pi / 2) */
  cr_assert_float_eq(z[5 + 3], -sin(1e-4 * pi / 2), 1e-15);
  cr_assert_float_eq(z[5 + 4], -1.0, 1e-15);         /* -sin(pi / 2) */
  /* t = 2: w = pi, the second band at cos(pi) = -1, sin(pi) = 0 */
  cr_assert_float_eq(z[10 + 2], -1.0, 1e-15);
  cr_assert_float_eq(z[10 + 4], 0.0, 1e-15);
  /* L = 1: torch.linspace(0, 1, 1) = (0) */
  double z1[3], tn1[1];
  smx_hyena_features(1, 3, z1, tn1);
  cr_assert_eq(tn1[0], 0.0);
  cr_assert_eq(z1[1], 1.0);
}

/* ExponentialModulation: deltas = linspace(ln(1e-2)/1.5, ln(1e-2)/0.3, H), used as |delta| */
Test(hyena_filter, decay_rates) {
  cr_assert_float_eq(smx_hyena_decay_rate(3, 0), log(100.0) / 1.5, 1e-12);
  cr_assert_float_eq(smx_hyena_decay_rate(3, 1), (log(100.0) / 1.5 + log(100.0) / 0.3) / 2, 1e-12);
  cr_assert_float_eq(smx_hyena_decay_rate(3, 2), log(100.0) / 0.3, 1e-12);
  cr_assert_float_eq(smx_hyena_decay_rate(1, 0), log(100.0) / 1.5, 1e-12);
  /* the slowest channel is at 1e-2 of its start at t = 1.5 (beyond the grid), the fastest at t = 0.3 */
  cr_assert_float_eq(exp(-0.3 * smx_hyena_decay_rate(5, 4)), 1e-2, 1e-12);
}

/* H = 1, L = 2, emb = 3, order = 1: W1 = (1, 0, 0) picks tn, freq = 1, W2 = W3 = 1, biases 0,
 * W4 = 2: k[0, t] = 2 sin(sin(sin(tn))) exp(-tn ln(100)/1.5); t = 0 gives 0, t = 1 (tn = 1) below. */
Test(hyena_filter, one_channel_by_hand) {
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_hyena_filter, "H=1,L=2,emb=3,order=1", &c), SMX_OK);
  double W1[3] = {1, 0, 0}, b1[1] = {0}, W2[1] = {1}, b2[1] = {0}, W3[1] = {1}, b3[1] = {0}, W4[1] = {2},
         freq[1] = {1}, k[2];
  double *t[HYF_NSLOTS] = {[HYF_W1] = W1, [HYF_B1] = b1, [HYF_W2] = W2, [HYF_B2] = b2, [HYF_W3] = W3,
                           [HYF_B3] = b3, [HYF_W4] = W4, [HYF_FREQ] = freq, [HYF_K] = k};
  smx_op_hyena_filter.oracle_f64(&c, SMX_FWD, t);
  cr_assert_eq(k[0], 0.0);
  cr_assert_float_eq(k[1], 2 * sin(sin(sin(1.0))) * exp(-log(100.0) / 1.5), 1e-15);
  /* and the fp32 GEMM variant on the same inputs */
  float W1f[3] = {1, 0, 0}, zf[1] = {0}, onef[1] = {1}, W4f[1] = {2}, kf[2];
  void *tf[HYF_NSLOTS] = {[HYF_W1] = W1f, [HYF_B1] = zf, [HYF_W2] = onef, [HYF_B2] = zf, [HYF_W3] = onef,
                          [HYF_B3] = zf, [HYF_W4] = W4f, [HYF_FREQ] = onef, [HYF_K] = kf};
  void *state = NULL;
  cr_assert_eq(smx_hyena_filter_cpu_blas.create(&c, &state), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_hyena_filter_cpu_blas.run(state, SMX_FWD, tf), SMX_OK);
  smx_hyena_filter_cpu_blas.destroy(state);
  cr_assert_eq(kf[0], 0.0f);
  cr_assert_float_eq(kf[1], (float)k[1], 1e-6);
}

Test(hyena_filter, bad_shapes_are_refused_with_a_reason) {
  static const struct {
    const char *spec, *says;
  } bad[] = {
      {"emb=4", "emb = 4 must be odd"},
      {"emb=1", "emb"},
      {"H=65536,L=1048576", "too large"},
      {"order=1024,L=1048576", "too large"},
      {"L=0", "L"},
      {"order=0", "order"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    smx_config c;
    cr_expect_eq(smx_config_parse(&smx_op_hyena_filter, bad[i].spec, &c), SMX_ERR_INVALID, "%s accepted", bad[i].spec);
    cr_expect(strstr(smx_last_error(), bad[i].says) != NULL && !strchr(smx_last_error(), '\n'), "%s: '%s'", bad[i].spec,
              smx_last_error());
  }
}

/* lam = 0.25 (lam_milli = 250): k = sign(x) max(|x| - lam, 0); the gradient passes where |x| > lam */
Test(longconv_kernel, soft_threshold_by_hand) {
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_longconv_kernel, "H=1,L=5,lam_milli=250", &c), SMX_OK);
  double x[5] = {1, -1, 0.125, -0.5, 0.25}, k[5], dk[5] = {1, 2, 3, 4, 5}, dx[5];
  double *t[LCK_NSLOTS] = {[LCK_KERNEL] = x, [LCK_K] = k, [LCK_DK] = dk, [LCK_DKERNEL] = dx};
  smx_op_longconv_kernel.oracle_f64(&c, SMX_FWD, t);
  smx_op_longconv_kernel.oracle_f64(&c, SMX_BWD, t);
  const double want_k[5] = {0.75, -0.75, 0, -0.25, 0}, want_dx[5] = {1, 2, 0, 4, 0};
  float xf[5] = {1, -1, 0.125f, -0.5f, 0.25f}, kf[5], dkf[5] = {1, 2, 3, 4, 5}, dxf[5];
  void *tf[LCK_NSLOTS] = {[LCK_KERNEL] = xf, [LCK_K] = kf, [LCK_DK] = dkf, [LCK_DKERNEL] = dxf};
  cr_assert_eq(smx_longconv_kernel_cpu_omp.run(&c, SMX_FWD, tf), SMX_OK);
  cr_assert_eq(smx_longconv_kernel_cpu_omp.run(&c, SMX_BWD, tf), SMX_OK);
  for (int i = 0; i < 5; i++) {
    cr_expect_eq(k[i], want_k[i], "k[%d] = %g", i, k[i]);
    cr_expect_eq(dx[i], want_dx[i], "dkernel[%d] = %g", i, dx[i]);
    cr_expect_eq((double)kf[i], want_k[i], "cpu.omp k[%d] = %g", i, (double)kf[i]);
    cr_expect_eq((double)dxf[i], want_dx[i], "cpu.omp dkernel[%d] = %g", i, (double)dxf[i]);
  }
}

/* double_exp: 0.02 exp(-(j/L) (H/2)^(h/H)); H = 4, h = 2, j = L/2: 0.02 exp(-sqrt 2 / 2) */
Test(longconv_kernel, initialization_scale) {
  cr_assert_float_eq(smx_longconv_init_scale(4, 100, 2, 50), 0.02 * exp(-sqrt(2.0) / 2), 1e-15);
  cr_assert_float_eq(smx_longconv_init_scale(4, 100, 0, 99), 0.02 * exp(-0.99), 1e-15);
  cr_assert_float_eq(smx_longconv_init_scale(768, 10, 5, 0), 0.02, 1e-15);
  /* H = 1: int(1 / 2) = 0, 0^0 = 1 at h = 0 (torch.pow(0, 0) = 1) */
  cr_assert_float_eq(smx_longconv_init_scale(1, 4, 0, 2), 0.02 * exp(-0.5), 1e-15);
}

/* the inputs every harness draws follow the initialization and keep 1e-4 away from +-lam */
Test(longconv_kernel, check_inputs_avoid_the_kink) {
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_longconv_kernel, "H=32,L=4096,lam_milli=1", &c), SMX_OK);
  size_t n = 32 * 4096;
  float *x = malloc(n * sizeof(float));
  cr_assert_not_null(x);
  smx_input_values(&c, 7, LCK_KERNEL, x, n);
  int above = 0, below = 0;
  for (size_t i = 0; i < n; i++) {
    double a = fabs((double)x[i]);
    cr_assert(fabs(a - 0.001) >= 0.99e-4, "x[%zu] = %g is within 1e-4 of lam", i, (double)x[i]);
    cr_assert(a <= 0.02 * 1.0000001, "x[%zu] = %g exceeds the init scale", i, (double)x[i]);
    above += a > 0.001;
    below += a < 0.001;
  }
  free(x);
  cr_assert(above > 1000 && below > 1000, "both sides of the threshold are exercised (%d above, %d below)", above, below);
}
