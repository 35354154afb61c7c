/* fftconv specifics: the reference against hand-computed values, GELU's form, the work counted.
 * (Every variant against the reference, and the finite differences: tests/test_ops.c.) */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "reference/fftconv.h"
#include "seqmix/check.h"

/* u = [1, 2, 3], k = [1, 0.5, 0.25], D = 2: y_t = sum_j k_j u_{t-j} + 2 u_t = [3, 6.5, 10.25]. */
Test(fftconv, hand_computed_example) {
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_fftconv, "B=1,H=1,L=3", &c), SMX_OK);
  double u[3] = {1, 2, 3}, k[3] = {1, 0.5, 0.25}, D[1] = {2}, y[3], dy[3] = {1, 0, 0}, du[3], dk[3], dD[1];
  double *t[FFTCONV_NSLOTS] = {[FFTCONV_U] = u, [FFTCONV_K] = k, [FFTCONV_D] = D, [FFTCONV_Y] = y,
                               [FFTCONV_DY] = dy, [FFTCONV_DU] = du, [FFTCONV_DK] = dk, [FFTCONV_DD] = dD};
  smx_op_fftconv.oracle_f64(&c, SMX_FWD, t);
  cr_assert_eq(y[0], 3.0);
  cr_assert_eq(y[1], 6.5);
  cr_assert_eq(y[2], 10.25);
  /* dy = e_0: du = (k_0 + D) e_0, dk = u_0 e_0, dD = u_0 */
  smx_op_fftconv.oracle_f64(&c, SMX_BWD, t);
  cr_assert_eq(du[0], 3.0);
  cr_assert_eq(du[1], 0.0);
  cr_assert_eq(dk[0], 1.0);
  cr_assert_eq(dk[2], 0.0);
  cr_assert_eq(dD[0], 1.0);
}

Test(fftconv, gelu_is_the_erf_form) {
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_fftconv, "B=1,H=1,L=1,gelu=1", &c), SMX_OK);
  double u[1] = {1}, k[1] = {0.5}, D[1] = {0}, y[1];
  double *t[FFTCONV_NSLOTS] = {[FFTCONV_U] = u, [FFTCONV_K] = k, [FFTCONV_D] = D, [FFTCONV_Y] = y};
  smx_op_fftconv.oracle_f64(&c, SMX_FWD, t);
  cr_assert(fabs(y[0] - 0.5 * 0.5 * (1 + erf(0.5 / sqrt(2)))) < 1e-15);
}

Test(fftconv, flop_and_byte_counts) {
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_fftconv, "B=2,H=3,L=1024", &c), SMX_OK);
  /* forward bytes: u and y (B*H*L each), k (H*L), D (H), fp32 */
  cr_assert_eq(smx_op_fftconv.bytes(&c, SMX_FWD), 4.0 * (2 * 6 * 1024 + 3 * 1024 + 3));
  cr_assert_gt(smx_op_fftconv.flops(&c, SMX_BWD), smx_op_fftconv.flops(&c, SMX_FWD));
}
