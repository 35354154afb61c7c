/* Shapes: defaults, formatting, and every kind of bad value as one clear error. */
#include <criterion/criterion.h>
#include <string.h>

#include "reference/fftconv.h"
#include "seqmix/op.h"

static smx_status parse(const char *spec, smx_config *c) { return smx_config_parse(&smx_op_fftconv, spec, c); }

Test(config, defaults_and_round_trip) {
  smx_config c;
  cr_assert_eq(parse("L=1031,B=2", &c), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_config_get(&c, "L"), 1031);
  cr_assert_eq(smx_config_get(&c, "B"), 2);
  cr_assert_eq(smx_config_get(&c, "H"), 16);
  char buf[128];
  smx_config_format(&c, buf, sizeof buf);
  cr_assert_str_eq(buf, "B=2,H=16,L=1031,gelu=0");
  smx_config d;
  cr_assert_eq(parse(buf, &d), SMX_OK);
  cr_assert_arr_eq(c.v, d.v, sizeof c.v);
}

static void expect_bad(const char *spec, const char *needle) {
  smx_config c;
  smx_status s = parse(spec, &c);
  cr_assert_eq(s, SMX_ERR_INVALID, "'%s' was accepted", spec);
  cr_assert(strstr(smx_last_error(), needle) != NULL, "'%s': message '%s' lacks '%s'", spec, smx_last_error(), needle);
  cr_assert_null(strchr(smx_last_error(), '\n'), "one line only");
}

Test(config, bad_shapes) {
  expect_bad("L=0", "L=0 is out of range (accepted: 1..67108864)");
  expect_bad("L=-5", "L=-5 is out of range");
  expect_bad("L=1099511627776", "out of range");
  expect_bad("L=99999999999999999999999", "not an integer");
  expect_bad("L=12abc", "not an integer");
  expect_bad("L=", "not an integer");
  expect_bad("Q=3", "no parameter 'Q' (parameters: B, H, L, gelu, gates)");
  expect_bad("L=4,L=5", "given twice");
  expect_bad("L", "not NAME=VALUE");
  expect_bad("gelu=2", "gelu=2 is out of range (accepted: 0..1)");
  expect_bad("B=1048576,H=1048576,L=64", "too large");
}

Test(config, fft_size_is_smooth_and_long_enough) {
  for (int64_t L = 1; L < 5000; L += 7) {
    int64_t n = smx_fftconv_fft_size(L), m = n;
    cr_assert_geq(n, 2 * L - 1);
    for (int p = 2; p <= 7; p++)
      while (m % p == 0) m /= p;
    cr_assert_eq(m, 1, "N=%lld for L=%lld is not 7-smooth", (long long)n, (long long)L);
  }
  cr_assert_eq(smx_fftconv_fft_size(1024), 2048);
}
