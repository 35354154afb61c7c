/* Philox4x32-10 counter-based RNG (Salmon et al., SC'11), shared by C and CUDA code so the CPU
 * and the GPU generate bit-identical inputs from a seed.
 *
 * Layout used everywhere in seqmix: element i of stream s under seed S is drawn from the block
 * ctr = {i/4 (low), i/4 (high), s, 0}, key = {S (low), S (high)}, word i%4. Streams separate the
 * tensors of one problem (the op's slot index) and the parts of a task generator.
 * Uniforms are exact (24 random bits scaled by 2^-24), hence identical on every device.
 */
#ifndef SEQMIX_PHILOX_H
#define SEQMIX_PHILOX_H

#include <stdint.h>

#if defined(__CUDACC__)
#define SMX_HD static __host__ __device__ __forceinline__
#else
#define SMX_HD static inline
#endif

SMX_HD void smx_philox4x32_10(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4]) {
  uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
  uint32_t k0 = key_in[0], k1 = key_in[1];
  for (int r = 0; r < 10; r++) {
    if (r) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    uint64_t p0 = (uint64_t)0xD2511F53u * c0;
    uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c0 = n0;
    c1 = (uint32_t)p1;
    c2 = n2;
    c3 = (uint32_t)p0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/* The 32-bit word for element i of stream `stream`. */
SMX_HD uint32_t smx_philox_word(uint64_t seed, uint32_t stream, uint64_t i) {
  uint64_t blk = i >> 2;
  uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), stream, 0u};
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  uint32_t out[4];
  smx_philox4x32_10(ctr, key, out);
  return out[i & 3];
}

/* Uniform in [lo, hi) on a 24-bit grid, identical on CPU and GPU: the product of two floats is
 * exact in double, so FMA contraction (which nvcc does by default) cannot change the result. */
SMX_HD float smx_philox_word_to_uniform(uint32_t word, float lo, float hi) {
  double u = (double)(word >> 8) * (1.0 / 16777216.0);
  return (float)((double)lo + (double)(hi - lo) * u);
}

SMX_HD float smx_philox_uniform(uint64_t seed, uint32_t stream, uint64_t i, float lo, float hi) {
  return smx_philox_word_to_uniform(smx_philox_word(seed, stream, i), lo, hi);
}

#endif
