/* Philox4x32-10 against the Random123 known-answer vectors, the uniform mapping, and the
 * harness's input filler. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "seqmix/op.h"
#include "seqmix/philox.h"

Test(philox, random123_known_answers) {
  static const uint32_t ctr[3][4] = {{0, 0, 0, 0},
                                     {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                                     {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}};
  static const uint32_t key[3][2] = {{0, 0}, {0xffffffffu, 0xffffffffu}, {0xa4093822u, 0x299f31d0u}};
  static const uint32_t want[3][4] = {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
                                      {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
                                      {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}};
  for (int v = 0; v < 3; v++) {
    uint32_t out[4];
    smx_philox4x32_10(ctr[v], key[v], out);
    for (int i = 0; i < 4; i++) cr_assert_eq(out[i], want[v][i], "vector %d word %d: %08x != %08x", v, i, out[i], want[v][i]);
  }
}

Test(philox, element_layout_matches_blocks) {
  uint32_t ctr[4] = {1, 0, 7, 0}, key[2] = {42, 0}, out[4];
  smx_philox4x32_10(ctr, key, out);
  for (int i = 0; i < 4; i++) cr_assert_eq(smx_philox_word(42, 7, 4 + (uint64_t)i), out[i]);
}

Test(philox, uniform_range_grid_and_streams) {
  double sum = 0;
  int differ = 0;
  for (uint64_t i = 0; i < 100000; i++) {
    float u = smx_philox_uniform(9, 3, i, -1.0f, 1.0f);
    cr_assert(u >= -1.0f && u < 1.0f, "u=%g out of [-1,1)", u);
    /* on the 24-bit grid: (u + 1) * 2^23 is an integer */
    double g = ((double)u + 1.0) * 8388608.0;
    cr_assert_eq(g, floor(g), "u=%.9g is not on the 2^-23 grid", u);
    sum += u;
    differ += smx_philox_uniform(9, 4, i, -1.0f, 1.0f) != u;
  }
  cr_assert(fabs(sum / 100000) < 0.01, "mean %g is not near 0", sum / 100000);
  cr_assert(differ > 99000, "streams 3 and 4 agree too often (%d differ)", differ);
}

/* The harness's input filler (blocks of four words, OpenMP threads) gives every element the value
 * smx_philox_uniform gives it, at a length that is not a multiple of four and is long enough to be
 * spread over the threads. */
Test(philox, input_values_are_the_elementwise_uniforms) {
  const smx_op *op = smx_op_find("linear");
  cr_assert_not_null(op);
  smx_config c;
  cr_assert_eq(smx_config_parse(op, "T=4,din=4,dout=4", &c), SMX_OK);
  const size_t n = 1000003;
  const uint64_t seed = 0x123456789abcdefull;
  float *x = malloc(n * sizeof *x);
  cr_assert_not_null(x);
  smx_input_values(&c, seed, 3, x, n);
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) bad += x[i] != smx_philox_uniform(seed, 3, i, -1.0f, 1.0f);
  cr_assert_eq(bad, 0, "%zu of %zu values differ", bad, n);
  free(x);
}
