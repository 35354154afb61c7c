/* The check harness must catch what it claims to catch: each mutant below breaks one rule and
 * must fail (or be skipped) with the right reason, while the unmodified reference passes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference/fftconv.h"
#include "seqmix/check.h"

static const smx_variant *ref(void) { return &smx_fftconv_reference; }

static smx_check_outcome check_with(const smx_variant *v, const char *shape) {
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_fftconv, shape, &c), SMX_OK, "%s", smx_last_error());
  smx_check_case *cc = NULL;
  cr_assert_eq(smx_check_case_new(&c, 1, &cc), SMX_OK, "%s", smx_last_error());
  smx_check_outcome o;
  cr_assert_eq(smx_check_variant(cc, v, &o), SMX_OK, "%s", smx_last_error());
  smx_check_case_free(cc);
  return o;
}

static size_t n_y(void *state) {
  const smx_config *c = state;
  return (size_t)(c->v[FFTCONV_B] * c->v[FFTCONV_H] * c->v[FFTCONV_L]);
}

/* Each mutant runs the reference, then breaks one thing in the forward pass. */
enum mutation { WRONG_VALUE, OUT_OF_BOUNDS, UNWRITTEN, INPUT_CHANGED, NOT_REPEATABLE, BACKEND_ERROR };
static enum mutation mutation;

static smx_status mutant_run(void *state, smx_pass p, void *const *t) {
  static int calls;
  float *y = t[FFTCONV_Y];
  if (p == SMX_FWD && mutation == UNWRITTEN) {
    /* compute into a private copy and leave the last element unwritten */
    size_t n = n_y(state);
    float *tmp = malloc(n * sizeof(float));
    void *tt[FFTCONV_NSLOTS];
    memcpy(tt, t, sizeof tt);
    tt[FFTCONV_Y] = tmp;
    smx_status s = ref()->run(state, p, tt);
    memcpy(y, tmp, (n - 1) * sizeof(float));
    free(tmp);
    return s;
  }
  smx_status s = ref()->run(state, p, t);
  if (p != SMX_FWD) return s;
  switch (mutation) {
  case WRONG_VALUE: y[n_y(state) / 2] *= 1.001f; break;
  case OUT_OF_BOUNDS: y[n_y(state)] = 0.0f; break;
  case INPUT_CHANGED: ((float *)t[FFTCONV_U])[0] += 1.0f; break;
  case NOT_REPEATABLE: y[0] += 1e-6f * (float)(++calls); break;
  case BACKEND_ERROR: return smx_fail(SMX_ERR_BACKEND, "simulated backend failure");
  default: break;
  }
  return s;
}

static smx_variant mutant(void) {
  smx_variant v = *ref();
  v.name = "cpu.mutant";
  v.run = mutant_run;
  return v;
}

Test(harness, reference_passes) {
  smx_check_outcome o = check_with(ref(), "B=2,H=3,L=97,gelu=1");
  cr_assert_eq(o.verdict, SMX_PASS, "%s", o.reason);
  cr_assert_eq(o.n_rows, 4, "y, du, dk, dD");
}

static void expect_fail(enum mutation m, const char *needle) {
  mutation = m;
  smx_variant v = mutant();
  smx_check_outcome o = check_with(&v, "B=2,H=3,L=97");
  cr_assert_eq(o.verdict, SMX_FAIL, "mutation %d was not caught", m);
  cr_assert(strstr(o.reason, needle) != NULL, "mutation %d: reason '%s' lacks '%s'", m, o.reason, needle);
}

Test(harness, catches_a_wrong_value) { expect_fail(WRONG_VALUE, "max error"); }
Test(harness, catches_an_out_of_bounds_write) { expect_fail(OUT_OF_BOUNDS, "canary"); }
Test(harness, catches_an_unwritten_element) { expect_fail(UNWRITTEN, "non-finite"); }
Test(harness, catches_a_modified_input) { expect_fail(INPUT_CHANGED, "input tensor was modified"); }
Test(harness, catches_non_repeatable_results) { expect_fail(NOT_REPEATABLE, "not repeatable"); }
Test(harness, reports_a_backend_error_as_a_failure) { expect_fail(BACKEND_ERROR, "simulated backend failure"); }

static const char *never(const smx_config *c) {
  (void)c;
  return "only even L";
}

Test(harness, unsupported_is_skipped_with_the_reason) {
  smx_variant v = *ref();
  v.name = "cpu.picky";
  v.unsupported = never;
  smx_check_outcome o = check_with(&v, "B=1,H=1,L=5");
  cr_assert_eq(o.verdict, SMX_SKIP);
  cr_assert_str_eq(o.reason, "only even L");
}

static smx_status refuse(const smx_config *c, void **s) {
  (void)c;
  *s = NULL;
  return smx_fail(SMX_ERR_UNSUPPORTED, "cpu.refuser: no plan for this size");
}

Test(harness, create_unsupported_is_skipped) {
  smx_variant v = *ref();
  v.create = refuse;
  smx_check_outcome o = check_with(&v, "B=1,H=1,L=5");
  cr_assert_eq(o.verdict, SMX_SKIP);
  cr_assert(strstr(o.reason, "no plan") != NULL);
}

Test(harness, cuda_variant_without_gpu_is_skipped) {
  if (smx_gpu_count() > 0) cr_skip_test("a GPU is present");
  smx_variant v = *ref();
  v.name = "cuda.pretend";
  v.device = SMX_DEV_CUDA;
  smx_check_outcome o = check_with(&v, "B=1,H=1,L=5");
  cr_assert_eq(o.verdict, SMX_SKIP);
  cr_assert_str_eq(o.reason, smx_gpu_unavailable_reason());
}

static void broken_oracle(const smx_config *c, smx_pass p, double *const *t) {
  smx_config real = *c;
  real.op = &smx_op_fftconv;
  smx_op_fftconv.oracle_f64(&real, p, t);
  if (p == SMX_BWD) t[FFTCONV_DD][0] *= 0.9; /* a backward that gets dD slightly wrong */
}

Test(harness, finite_differences_accept_the_reference_and_catch_a_wrong_backward) {
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_fftconv, "B=2,H=2,L=9,gelu=1", &c), SMX_OK);
  double rel = 1;
  char detail[256];
  cr_assert_eq(smx_check_fd(&c, 3, &rel, detail, sizeof detail), SMX_OK);
  cr_assert(rel < 1e-6, "reference backward disagrees with finite differences: %g (%s)", rel, detail);
  smx_op broken = smx_op_fftconv;
  broken.oracle_f64 = broken_oracle;
  c.op = &broken;
  cr_assert_eq(smx_check_fd(&c, 3, &rel, detail, sizeof detail), SMX_OK);
  cr_assert(rel > 1e-3, "a wrong dD was not caught: %g", rel);
  cr_assert(strstr(detail, "dD") != NULL, "%s", detail);
}
