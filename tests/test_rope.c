/* rope specifics: the rotate-half convention on a hand-computed example, the inverse rotation,
 * the P-must-be-even rule. (Variants against the reference: tests/test_ops.c.) */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "reference/rope.h"

Test(rope, rotate_half_convention) {
  /* P = 4, position 1, theta 10000: pairs (x0, x2) by angle 1 and (x1, x3) by angle 1e-2 */
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_rope, "B=1,L=1,H=1,P=4,offset=1", &c), SMX_OK, "%s", smx_last_error());
  double x[4] = {1, 2, 3, 4}, y[4], dx[4];
  double *t[ROPE_NSLOTS] = {[ROPE_X] = x, [ROPE_Y] = y, [ROPE_DY] = y, [ROPE_DX] = dx};
  smx_op_rope.oracle_f64(&c, SMX_FWD, t);
  cr_assert(fabs(y[0] - (1 * cos(1.0) - 3 * sin(1.0))) < 1e-15);
  cr_assert(fabs(y[2] - (3 * cos(1.0) + 1 * sin(1.0))) < 1e-15);
  cr_assert(fabs(y[1] - (2 * cos(0.01) - 4 * sin(0.01))) < 1e-15);
  cr_assert(fabs(y[3] - (4 * cos(0.01) + 2 * sin(0.01))) < 1e-15);
  /* backward with dy = y undoes the rotation */
  smx_op_rope.oracle_f64(&c, SMX_BWD, t);
  for (int i = 0; i < 4; i++) cr_assert(fabs(dx[i] - x[i]) < 1e-14, "dx[%d] = %g", i, dx[i]);
}

Test(rope, odd_head_dimension_is_refused) {
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_rope, "P=5", &c), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "P=5 must be even") != NULL, "%s", smx_last_error());
}
