/* fftconv: every registered variant against the reference on every check shape (forward and
 * backward), the reference against hand-computed values and finite differences. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "reference/fftconv.h"
#include "seqmix/check.h"

static void check_all(smx_device device) {
  int checked = 0;
  for (const char *const *sp = smx_op_fftconv.check_shapes; *sp; sp++) {
    smx_config c;
    cr_assert_eq(smx_config_parse(&smx_op_fftconv, *sp, &c), SMX_OK, "%s", smx_last_error());
    smx_check_case *cc = NULL;
    cr_assert_eq(smx_check_case_new(&c, 7, &cc), SMX_OK, "%s", smx_last_error());
    for (int i = 0; i < smx_variant_count(&smx_op_fftconv); i++) {
      const smx_variant *v = smx_variant_at(&smx_op_fftconv, i);
      if (v->device != device || v->baseline) continue;
      smx_check_outcome o;
      cr_assert_eq(smx_check_variant(cc, v, &o), SMX_OK, "%s", smx_last_error());
      cr_assert_neq(o.verdict, SMX_FAIL, "%s at %s: %s", v->name, *sp, o.reason);
      if (o.verdict == SMX_PASS) {
        checked++;
        cr_assert_eq(o.n_rows, 4, "%s at %s: forward and backward rows", v->name, *sp);
      }
    }
    smx_check_case_free(cc);
  }
  cr_assert_gt(checked, 0, "no variant was checked");
}

Test(fftconv, cpu_variants_match_the_reference, .timeout = 300) { check_all(SMX_DEV_CPU); }

Test(fftconv, cuda_variants_match_the_reference, .timeout = 300) {
  if (smx_gpu_count() == 0) cr_skip_test("no GPU: %s", smx_gpu_unavailable_reason());
  check_all(SMX_DEV_CUDA);
}

Test(fftconv, reference_backward_matches_finite_differences) {
  for (const char *const *sp = smx_op_fftconv.check_shapes; *sp; sp++) {
    smx_config c;
    cr_assert_eq(smx_config_parse(&smx_op_fftconv, *sp, &c), SMX_OK);
    if (smx_op_fftconv.reference_cost(&c, SMX_BWD) > 2e7) continue;
    double rel;
    char detail[256];
    cr_assert_eq(smx_check_fd(&c, 11, &rel, detail, sizeof detail), SMX_OK);
    cr_assert(rel < 1e-6, "%s: %g (%s)", *sp, rel, detail);
  }
}

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
