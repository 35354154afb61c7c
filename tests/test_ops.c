/* Every registered op: every variant against the reference on every check shape, forward and
 * backward (CPU variants here; CUDA variants where a GPU is usable, skipped with the reason
 * elsewhere), and each reference backward against finite differences. A variant added to
 * kernels/registry.c is checked here without touching this file. */
#include <criterion/criterion.h>

#include "seqmix/check.h"

static void check_all(smx_device device) {
  int checked = 0;
  for (int k = 0; k < smx_op_count(); k++) {
    const smx_op *op = smx_op_at(k);
    for (const char *const *sp = op->check_shapes; *sp; sp++) {
      smx_config c;
      cr_assert_eq(smx_config_parse(op, *sp, &c), SMX_OK, "%s %s: %s", op->name, *sp, smx_last_error());
      smx_check_case *cc = NULL;
      cr_assert_eq(smx_check_case_new(&c, 7, &cc), SMX_OK, "%s", smx_last_error());
      for (int i = 0; i < smx_variant_count(op); i++) {
        const smx_variant *v = smx_variant_at(op, i);
        if (v->device != device || v->baseline) continue;
        smx_check_outcome o;
        cr_assert_eq(smx_check_variant(cc, v, &o), SMX_OK, "%s", smx_last_error());
        cr_assert_neq(o.verdict, SMX_FAIL, "%s %s at %s: %s", op->name, v->name, *sp, o.reason);
        if (o.verdict == SMX_PASS) {
          checked++;
          int fwd = 0, bwd = 0;
          for (int r = 0; r < o.n_rows; r++) {
            fwd += o.rows[r].pass == SMX_FWD;
            bwd += o.rows[r].pass == SMX_BWD;
          }
          cr_assert((fwd > 0) == !!(v->passes & SMX_PASS_BIT(SMX_FWD)) &&
                        (bwd > 0) == !!(v->passes & SMX_PASS_BIT(SMX_BWD)),
                    "%s %s at %s: every pass the variant has is checked", op->name, v->name, *sp);
        }
      }
      smx_check_case_free(cc);
    }
  }
  cr_assert_gt(checked, 0, "no variant was checked");
}

Test(ops, cpu_variants_match_their_references, .timeout = 600) { check_all(SMX_DEV_CPU); }

Test(ops, cuda_variants_match_their_references, .timeout = 600) {
  if (smx_gpu_count() == 0) cr_skip_test("no GPU: %s", smx_gpu_unavailable_reason());
  check_all(SMX_DEV_CUDA);
}

Test(ops, reference_backwards_match_finite_differences) {
  for (int k = 0; k < smx_op_count(); k++) {
    const smx_op *op = smx_op_at(k);
    for (const char *const *sp = op->check_shapes; *sp; sp++) {
      smx_config c;
      cr_assert_eq(smx_config_parse(op, *sp, &c), SMX_OK);
      if (op->reference_cost && op->reference_cost(&c, SMX_BWD) > 2e7) continue;
      double rel;
      char detail[256];
      smx_status st = smx_check_fd(&c, 11, &rel, detail, sizeof detail);
      if (st == SMX_ERR_UNSUPPORTED) continue; /* the op says why (a selection FD would move) */
      cr_assert_eq(st, SMX_OK, "%s", smx_last_error());
      cr_assert(rel < 1e-6, "%s %s: %g (%s)", op->name, *sp, rel, detail);
    }
  }
}

Test(ops, registry_is_consistent) {
  for (int k = 0; k < smx_op_count(); k++) {
    const smx_op *op = smx_op_at(k);
    cr_assert(smx_variant_find(op, "reference") != NULL, "%s has no reference variant", op->name);
    smx_config c;
    cr_assert_eq(smx_config_parse(op, "", &c), SMX_OK, "%s defaults are invalid: %s", op->name, smx_last_error());
    for (int s = 0; s < SMX_SUITE_COUNT; s++)
      for (const char *const *sp = op->suite_shapes[s]; sp && *sp; sp++)
        cr_assert_eq(smx_config_parse(op, *sp, &c), SMX_OK, "%s suite shape %s: %s", op->name, *sp, smx_last_error());
    for (int t = 0; t < op->n_tensors; t++) {
      smx_role r = op->tensors[t].role;
      if (r == SMX_ROLE_OUTPUT || r == SMX_ROLE_GRAD_IN)
        cr_assert((op->tolerance[t].k > 0 || op->tolerance[t].c > 0) && op->tolerance[t].why,
                  "%s tensor %s has no tolerance", op->name, op->tensors[t].name);
    }
  }
}
