/* The CUDA emulator's matrix-fragment operations (emu/cuda_emu.h): WMMA m16n16k8 TF32, and the
 * two PTX instructions cuda.flash's wrappers use, ldmatrix.x4 and mma.m16n8k16 bf16, with the
 * register layouts the PTX ISA documents (section "Matrix Fragments for mma.m16n8k16"), written
 * from the ISA rather than from the kernels so a kernel that assumes the wrong layout fails. */
#include <string.h>

#include "emu/cuda_emu.h"

namespace smx_emu {
namespace {

float tf32_truncate(float v) { /* the tensor cores read only the top 19 bits of a TF32 operand */
  uint32_t u;
  memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u &= ~0x1fffu;
  memcpy(&v, &u, 4);
  return v;
}

float bf16_bits_to_float(uint32_t h) {
  uint32_t u = (h & 0xffffu) << 16;
  float v;
  memcpy(&v, &u, 4);
  return v;
}

} // namespace
} // namespace smx_emu

namespace nvcuda {
namespace wmma {
/* D = A B + C for one warp: the fragments' elements are row-major, lane-major (cuda_emu.h). */
void combine_mma_tf32(smx_emu::lane_slot *const slots[32], unsigned mask) {
  if (mask != 0xffffffffu) smx_emu::fail("wmma::mma_sync needs the whole warp");
  for (int l = 0; l < 32; l++)
    if (!slots[l]) smx_emu::fail("wmma::mma_sync in a warp with fewer than 32 threads");
  int M = (int)(slots[0]->in >> 32), N = (int)(slots[0]->in >> 16 & 0xffff), K = (int)(slots[0]->in & 0xffff);
  int na = M * K / 32, nb = K * N / 32, nc = M * N / 32;
  float A[16 * 8], B[8 * 16], C[16 * 16];
  if (M * K > 128 || K * N > 128 || M * N > 256) smx_emu::fail("wmma shape %dx%dx%d is not emulated", M, N, K);
  for (int l = 0; l < 32; l++) {
    const float *a = (const float *)slots[l]->p[1], *b = (const float *)slots[l]->p[2], *c = (const float *)slots[l]->p[3];
    for (int e = 0; e < na; e++) A[l * na + e] = smx_emu::tf32_truncate(a[e]);
    for (int e = 0; e < nb; e++) B[l * nb + e] = smx_emu::tf32_truncate(b[e]);
    for (int e = 0; e < nc; e++) C[l * nc + e] = c[e];
  }
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      float acc = C[i * N + j];
      for (int k = 0; k < K; k++) acc += A[i * K + k] * B[k * N + j]; /* TF32 products are exact in fp32 */
      C[i * N + j] = acc;
    }
  for (int l = 0; l < 32; l++) {
    float *d = (float *)slots[l]->p[0];
    for (int e = 0; e < nc; e++) d[e] = C[l * nc + e];
  }
}
} // namespace wmma
} // namespace nvcuda

namespace smx_emu {
namespace {

/* ldmatrix .x4: lane l gives the address of row l % 8 of matrix l / 8 (8 b16 values, 16 bytes);
 * register m of lane l receives the pair (l / 4, 2 (l % 4) + {0, 1}) of matrix m, the lower column in
 * the lower half, or with .trans the pair (2 (l % 4) + {0, 1}, l / 4). */
void combine_ldmatrix(lane_slot *const slots[32], unsigned mask) {
  if (mask != 0xffffffffu) fail("ldmatrix needs the whole warp");
  uint16_t M[4][8][8];
  for (int l = 0; l < 32; l++) {
    if (!slots[l]) fail("ldmatrix in a warp with fewer than 32 threads");
    const void *row = slots[l]->p[1];
    if ((uintptr_t)row % 16) fail("ldmatrix: lane %d's row address %p is not 16-byte aligned", l, row);
    memcpy(M[l / 8][l % 8], row, 16);
  }
  bool trans = slots[0]->in != 0;
  for (int l = 0; l < 32; l++) {
    uint32_t *r = (uint32_t *)slots[l]->p[0];
    int g = l / 4, t = l % 4;
    for (int m = 0; m < 4; m++) {
      uint32_t lo = trans ? M[m][2 * t][g] : M[m][g][2 * t], hi = trans ? M[m][2 * t + 1][g] : M[m][g][2 * t + 1];
      r[m] = lo | hi << 16;
    }
  }
}

/* mma.m16n8k16 .row.col bf16 -> f32, g = lane / 4, t = lane % 4:
 *   A (16 x 16): a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..), a3 = (g+8, 2t+8..)
 *   B (16 x 8):  b0 = (2t..2t+1, g), b1 = (2t+8..2t+9, g)
 *   C (16 x 8):  c0, c1 = (g, 2t + {0,1}), c2, c3 = (g+8, 2t + {0,1}) */
void combine_mma_bf16(lane_slot *const slots[32], unsigned mask) {
  if (mask != 0xffffffffu) fail("mma.sync needs the whole warp");
  float A[16][16], B[16][8], C[16][8];
  for (int l = 0; l < 32; l++) {
    if (!slots[l]) fail("mma.sync in a warp with fewer than 32 threads");
    const uint32_t *a = (const uint32_t *)slots[l]->p[1];
    const uint32_t *b = (const uint32_t *)slots[l]->p[2];
    const float *c = (const float *)slots[l]->p[0];
    int g = l / 4, t = l % 4;
    for (int j = 0; j < 2; j++) {
      A[g][2 * t + j] = bf16_bits_to_float(a[0] >> (16 * j));
      A[g + 8][2 * t + j] = bf16_bits_to_float(a[1] >> (16 * j));
      A[g][2 * t + 8 + j] = bf16_bits_to_float(a[2] >> (16 * j));
      A[g + 8][2 * t + 8 + j] = bf16_bits_to_float(a[3] >> (16 * j));
      B[2 * t + j][g] = bf16_bits_to_float(b[0] >> (16 * j));
      B[2 * t + 8 + j][g] = bf16_bits_to_float(b[1] >> (16 * j));
      C[g][2 * t + j] = c[j];
      C[g + 8][2 * t + j] = c[2 + j];
    }
  }
  for (int i = 0; i < 16; i++)
    for (int j = 0; j < 8; j++) {
      float acc = C[i][j];
      for (int k = 0; k < 16; k++) acc += A[i][k] * B[k][j]; /* bf16 products are exact in fp32 */
      C[i][j] = acc;
    }
  for (int l = 0; l < 32; l++) {
    float *c = (float *)slots[l]->p[0];
    int g = l / 4, t = l % 4;
    for (int j = 0; j < 2; j++) {
      c[j] = C[g][2 * t + j];
      c[2 + j] = C[g + 8][2 * t + j];
    }
  }
}

} // namespace

void ldmatrix_x4(uint32_t r[4], const void *row_address, bool trans) {
  lane_slot s{};
  s.p[0] = r;
  s.p[1] = const_cast<void *>(row_address);
  s.in = trans;
  warp_collective(0xffffffffu, combine_ldmatrix, &s);
}

void mma_m16n8k16_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  uint32_t b[2] = {b0, b1};
  lane_slot s{};
  s.p[0] = c;
  s.p[1] = const_cast<uint32_t *>(a);
  s.p[2] = b;
  warp_collective(0xffffffffu, combine_mma_bf16, &s);
}

} // namespace smx_emu
