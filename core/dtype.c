/* Storage types (op.h): names, sizes and the fp32 <-> bf16 conversions the harness applies when
 * it hands a bf16 variant its tensors; and the input values every harness draws. */
#include <string.h>

#include "seqmix/op.h"
#include "seqmix/philox.h"

const char *smx_dtype_name(smx_dtype d) { return d == SMX_BF16 ? "bf16" : "fp32"; }
size_t smx_dtype_size(smx_dtype d) { return d == SMX_BF16 ? 2 : 4; }

/* Round to nearest, ties to even, on the upper 16 bits; a NaN keeps a set mantissa bit so it
 * cannot round into an infinity. */
uint16_t smx_f32_to_bf16(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu)) return (uint16_t)((u >> 16) | 0x0040u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

float smx_bf16_to_f32(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* smx_philox_uniform(seed, slot, i, -1, 1) for every i, with each Philox block's four words used
 * for four elements and the blocks spread over the OpenMP threads: the same values in a fraction of
 * the time (the benchmarks' largest inputs, MoE experts at E = 16384, are 1.6 G floats; drawn one
 * element at a time they took minutes). tests/test_philox.c checks the values against
 * smx_philox_uniform. */
void smx_input_values(const smx_config *c, uint64_t seed, int slot, float *out, size_t n) {
  const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  const int64_t blocks = (int64_t)((n + 3) / 4);
#pragma omp parallel for schedule(static) if (n > (1u << 16))
  for (int64_t b = 0; b < blocks; b++) {
    uint32_t ctr[4] = {(uint32_t)b, (uint32_t)((uint64_t)b >> 32), (uint32_t)slot, 0u}, w[4];
    smx_philox4x32_10(ctr, key, w);
    for (size_t j = 0, i = 4 * (size_t)b; j < 4 && i < n; j++, i++) out[i] = smx_philox_word_to_uniform(w[j], -1.0f, 1.0f);
  }
  if (c->op->shape_input) c->op->shape_input(c, slot, out, n);
}
