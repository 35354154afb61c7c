/* monarch specifics: the permutation convention against hand-computed examples (square and
 * rectangular factorizations) for the reference and cpu.blockdiag, the block size chosen for
 * p = 0, the FLOP ratio to a dense product, bad input. (Every variant against the reference at
 * all check shapes, and the finite differences: tests/test_ops.c.)
 *
 *   build/tests/seqmix_tests --filter 'monarch/[a-z]*' -j1 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "reference/monarch.h"
#include "test_helpers.h"

static void parse(const char *spec, smx_config *c) {
  cr_assert_eq(smx_config_parse(&smx_op_monarch, spec, c), SMX_OK, "%s: %s", spec, smx_last_error());
}

/* Runs the oracle (fp64) and cpu.blockdiag (fp32) forward on x, R, L and compares both with want,
 * exactly: every value below is a small integer. */
static void expect_forward(const char *spec, const float *x, const float *R, const float *L, const double *want) {
  smx_config c;
  parse(spec, &c);
  size_t n = (size_t)c.v[MONARCH_N], nr = smx_op_monarch.numel(&c, MONARCH_R), nl = smx_op_monarch.numel(&c, MONARCH_L);
  cr_assert_eq(c.v[MONARCH_B], 1);
  double xd[16], Rd[64], Ld[64], yd[16];
  float yf[16];
  cr_assert(n <= 16 && nr <= 64 && nl <= 64);
  for (size_t i = 0; i < n; i++) xd[i] = x[i];
  for (size_t i = 0; i < nr; i++) Rd[i] = R[i];
  for (size_t i = 0; i < nl; i++) Ld[i] = L[i];
  double *t[MONARCH_NSLOTS] = {[MONARCH_X] = xd, [MONARCH_R] = Rd, [MONARCH_L] = Ld, [MONARCH_Y] = yd};
  smx_op_monarch.oracle_f64(&c, SMX_FWD, t);
  void *state = NULL;
  cr_assert_eq(smx_monarch_cpu_blockdiag.create(&c, &state), SMX_OK, "%s", smx_last_error());
  void *tf[MONARCH_NSLOTS] = {[MONARCH_X] = (void *)x, [MONARCH_R] = (void *)R, [MONARCH_L] = (void *)L,
                              [MONARCH_Y] = yf};
  cr_assert_eq(smx_monarch_cpu_blockdiag.run(state, SMX_FWD, tf), SMX_OK, "%s", smx_last_error());
  smx_monarch_cpu_blockdiag.destroy(state);
  for (size_t i = 0; i < n; i++) {
    cr_expect_eq(yd[i], want[i], "%s reference y[%zu] = %g, want %g", spec, i, yd[i], want[i]);
    cr_expect_eq((double)yf[i], want[i], "%s cpu.blockdiag y[%zu] = %g, want %g", spec, i, (double)yf[i], want[i]);
  }
}

/* n = 4, two blocks of 2, x = 1, traced through the peer's steps by hand:
 *   R x:  block 0 [[1,2],[3,4]] (1,1) = (3, 7); block 1 [[5,6],[7,8]] (1,1) = (11, 15); h = [3, 7, 11, 15]
 *   P^T:  view (r, l) = [[3, 7], [11, 15]], transpose: block l = 0 gets (3, 11), block l = 1 gets (7, 15)
 *   L:    [[1,10],[100,1000]] (3, 11) = (113, 11300);  [[2,20],[200,2000]] (7, 15) = (314, 31400)
 *   P:    out (l, s) written at s p + l: y = [113, 314, 11300, 31400] */
Test(monarch, permutation_convention_square) {
  const float x[4] = {1, 1, 1, 1};
  const float R[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  const float L[8] = {1, 10, 100, 1000, 2, 20, 200, 2000};
  const double want[4] = {113, 314, 11300, 31400};
  expect_forward("B=1,n=4,p=2", x, R, L, want);
}

/* n = 6 = k p with p = 3 (R: 2 blocks of 3 x 3) and k = 2 (L: 3 blocks of 2 x 2), x = 1:
 *   R = diag(1,2,3), diag(4,5,6): h = [1, 2, 3 | 4, 5, 6]
 *   P^T: view (2, 3), transpose to (3, 2): block l gets (1, 4), (2, 5), (3, 6)
 *   L[l] = (l + 1) [[1,10],[100,1000]]: (41, 4100), (104, 10400), (189, 18900)
 *   P: y[s 3 + l] = [41, 104, 189, 4100, 10400, 18900] */
Test(monarch, permutation_convention_rectangular) {
  const float x[6] = {1, 1, 1, 1, 1, 1};
  const float R[18] = {1, 0, 0, 0, 2, 0, 0, 0, 3, 4, 0, 0, 0, 5, 0, 0, 0, 6};
  float L[12];
  for (int l = 0; l < 3; l++) {
    L[l * 4 + 0] = (float)(l + 1);
    L[l * 4 + 1] = (float)(10 * (l + 1));
    L[l * 4 + 2] = (float)(100 * (l + 1));
    L[l * 4 + 3] = (float)(1000 * (l + 1));
  }
  const double want[6] = {41, 104, 189, 4100, 10400, 18900};
  expect_forward("B=1,n=6,p=3", x, R, L, want);
}

/* The same n = 6 with the factors' roles swapped (p = 2, k = 3): R = 3 blocks of 2 x 2 all
 * [[1,0],[0,2]], L = 2 blocks of 3 x 3, L[0] = I, L[1] = the cyclic shift s <- s + 1. x = 0..5:
 *   h[r, l] = (l + 1) x[2 r + l]: block l = 0 gets (0, 2, 4), block l = 1 gets (2, 6, 10)
 *   L: (0, 2, 4) and (6, 10, 2);  y[2 s + l] = [0, 6, 2, 10, 4, 2] */
Test(monarch, rectangular_other_way) {
  const float x[6] = {0, 1, 2, 3, 4, 5};
  const float R[12] = {1, 0, 0, 2, 1, 0, 0, 2, 1, 0, 0, 2};
  const float L[18] = {1, 0, 0, 0, 1, 0, 0, 0, 1, /* L[1][s][r] = 1 where r = s + 1 mod 3 */ 0, 1, 0, 0, 0, 1, 1, 0, 0};
  const double want[6] = {0, 6, 2, 10, 4, 2};
  expect_forward("B=1,n=6,p=2", x, R, L, want);
}

Test(monarch, default_block_size) {
  static const struct {
    const char *spec;
    int64_t p;
  } cases[] = {{"n=1024", 32}, {"n=2048", 32}, {"n=4096", 64}, {"n=12", 3}, {"n=13", 1}, {"n=1", 1}, {"n=60,p=10", 10}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    smx_config c;
    parse(cases[i].spec, &c);
    cr_expect_eq(smx_monarch_p(&c), cases[i].p, "%s: p = %lld", cases[i].spec, (long long)smx_monarch_p(&c));
    cr_expect_eq(smx_monarch_k(&c) * smx_monarch_p(&c), c.v[MONARCH_N]);
  }
}

/* dense / Monarch = n / (2 sqrt n) for p = k = sqrt n */
Test(monarch, flops_against_dense) {
  smx_config c;
  parse("B=8,n=1024", &c);
  double dense = 2.0 * 8 * 1024 * 1024;
  cr_assert_float_eq(dense / smx_op_monarch.flops(&c, SMX_FWD), 1024 / (2 * sqrt(1024.0)), 1e-12);
  cr_assert_float_eq(smx_op_monarch.flops(&c, SMX_BWD), 2 * smx_op_monarch.flops(&c, SMX_FWD), 1e-3);
  cr_assert_eq(smx_op_monarch.numel(&c, MONARCH_R), (size_t)(32 * 32 * 32));
}

Test(monarch, bad_shapes_are_refused_with_a_reason) {
  static const struct {
    const char *spec, *says;
  } bad[] = {
      {"n=12,p=5", "p = 5 must divide n = 12"},
      {"n=12,p=24", "p = 24 must divide n = 12"},
      {"B=16777216,n=65536", "too large"},
      {"n=0", "n"},
      {"B=0", "B"},
      {"n=131072", "n"},
      {"q=3", "q"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    smx_config c;
    cr_expect_eq(smx_config_parse(&smx_op_monarch, bad[i].spec, &c), SMX_ERR_INVALID, "%s accepted", bad[i].spec);
    cr_expect(strstr(smx_last_error(), bad[i].says) != NULL && !strchr(smx_last_error(), '\n'), "%s: '%s'", bad[i].spec,
              smx_last_error());
  }
  /* the reference's dense matrices have a size limit; the factored variants do not */
  smx_config c;
  parse("B=1,n=65536", &c);
  const char *why = smx_variant_skip_reason(&smx_monarch_reference, &c);
  cr_assert(why && strstr(why, "n <= 16384"), "reference should skip n = 65536: %s", why ? why : "(runs)");
  cr_assert_null(smx_variant_skip_reason(&smx_monarch_cpu_blockdiag, &c));
}

Test(monarch, cli_bad_shape_is_one_line) {
  cli_result r;
  run_cli(&r, (const char *[]){"check", "--op", "monarch", "--shape", "n=12,p=5", NULL});
  cr_assert_eq(r.status, 2, "exit %d, stderr: %s", r.status, r.err);
  cr_assert_eq(r.err_lines, 1, "stderr: %s", r.err);
  cr_assert(strstr(r.err, "must divide n") != NULL, "stderr: %s", r.err);
}
