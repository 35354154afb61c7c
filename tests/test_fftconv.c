/* fftconv specifics: the reference against hand-computed values (ungated and gated), GELU's form,
 * the work counted, the gates' slots and names.
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

/* gated: u = [1, 2, 3], pre = [1, 0, 2] -> v = [1, 0, 6]; k = [1, 0.5, 0.25], D = 2:
 * z = [3, 0.5, 18.25]; post = [2, 1, -1] -> y = [6, 0.5, -18.25].
 * dy = e_2: dpost = dy z = e_2 18.25; g = dy post = -e_2; dv = [-k_2, -k_1, -k_0 - D] = [-0.25, -0.5, -3];
 * du = pre dv = [-0.25, 0, -6]; dpre = u dv = [-0.25, -1, -9]; dk_j = g_2 v_{2-j} = [-6, 0, -1]; dD = g.v = -6. */
Test(fftconv, gated_hand_computed_example) {
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_fftconv, "B=1,H=1,L=3,gates=1", &c), SMX_OK);
  double u[3] = {1, 2, 3}, k[3] = {1, 0.5, 0.25}, D[1] = {2}, pre[3] = {1, 0, 2}, post[3] = {2, 1, -1}, y[3];
  double dy[3] = {0, 0, 1}, du[3], dk[3], dD[1], dpre[3], dpost[3];
  double *t[FFTCONV_NSLOTS] = {[FFTCONV_U] = u,       [FFTCONV_K] = k,       [FFTCONV_D] = D,
                               [FFTCONV_Y] = y,       [FFTCONV_DY] = dy,     [FFTCONV_DU] = du,
                               [FFTCONV_DK] = dk,     [FFTCONV_DD] = dD,     [FFTCONV_PRE] = pre,
                               [FFTCONV_POST] = post, [FFTCONV_DPRE] = dpre, [FFTCONV_DPOST] = dpost};
  smx_op_fftconv.oracle_f64(&c, SMX_FWD, t);
  double want_y[3] = {6, 0.5, -18.25};
  for (int i = 0; i < 3; i++) cr_assert_eq(y[i], want_y[i], "y[%d] = %g", i, y[i]);
  smx_op_fftconv.oracle_f64(&c, SMX_BWD, t);
  double want_du[3] = {-0.25, 0, -6}, want_dpre[3] = {-0.25, -1, -9}, want_dk[3] = {-6, 0, -1}, want_dpost[3] = {0, 0, 18.25};
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(du[i], want_du[i], "du[%d] = %g", i, du[i]);
    cr_assert_eq(dpre[i], want_dpre[i], "dpre[%d] = %g", i, dpre[i]);
    cr_assert_eq(dk[i], want_dk[i], "dk[%d] = %g", i, dk[i]);
    cr_assert_eq(dpost[i], want_dpost[i], "dpost[%d] = %g", i, dpost[i]);
  }
  cr_assert_eq(dD[0], -6.0);
}

/* Without gates the gate slots are empty and the names stay as they were before the parameter
 * existed (committed baselines keep matching); with gates they hold B*H*L values. */
Test(fftconv, gate_slots_and_names) {
  smx_config c;
  char name[128];
  cr_assert_eq(smx_config_parse(&smx_op_fftconv, "B=2,H=3,L=5", &c), SMX_OK);
  cr_assert_eq(smx_op_fftconv.numel(&c, FFTCONV_PRE), 0);
  cr_assert_eq(smx_op_fftconv.numel(&c, FFTCONV_DPOST), 0);
  smx_config_format(&c, name, sizeof name);
  cr_assert_str_eq(name, "B=2,H=3,L=5,gelu=0");
  cr_assert_eq(smx_config_parse(&smx_op_fftconv, "B=2,H=3,L=5,gates=1", &c), SMX_OK);
  cr_assert_eq(smx_op_fftconv.numel(&c, FFTCONV_POST), 30);
  cr_assert_eq(smx_op_fftconv.numel(&c, FFTCONV_DPRE), 30);
  smx_config_format(&c, name, sizeof name);
  cr_assert_str_eq(name, "B=2,H=3,L=5,gelu=0,gates=1");
  cr_assert_neq(smx_config_parse(&smx_op_fftconv, "B=2,H=3,L=5,gates=2", &c), SMX_OK);
  /* gated work: two more multiplies per element forward, pre and post read */
  smx_config off, on;
  cr_assert_eq(smx_config_parse(&smx_op_fftconv, "B=2,H=3,L=1024", &off), SMX_OK);
  cr_assert_eq(smx_config_parse(&smx_op_fftconv, "B=2,H=3,L=1024,gates=1", &on), SMX_OK);
  cr_assert_eq(smx_op_fftconv.bytes(&on, SMX_FWD) - smx_op_fftconv.bytes(&off, SMX_FWD), 4.0 * 2 * 6 * 1024);
  cr_assert_eq(smx_op_fftconv.flops(&on, SMX_FWD) - smx_op_fftconv.flops(&off, SMX_FWD), 2.0 * 6 * 1024);
}
