/* ssd: Mamba-2's state space duality layer core, with optional RoPE on C and B (the Wonderful
 * Matrices change), and its single-token decode step. docs/ops/ssd.md has the derivations.
 *
 * Shapes (row-major in the order written):
 *   x (B, L, H, P), dt (B, L, H), A (H) negative, Bm and Cm (B, L, G, N) with G dividing H (head h
 *   reads group h / (H / G)), D (H), z (B, L, H, P) when gate = 1, dt_bias (H) when softplus = 1,
 *   h0 (B, H, P, N) when init = 1; outputs y (B, L, H, P) and the final state hT (B, H, P, N).
 * Per head, with t, s = 0 .. L-1:
 *   delta_t = softplus(dt_t + dt_bias) (softplus = 1) or dt_t (softplus = 0, dt must be > 0)
 *   a_t     = delta_t * A
 *   C'_t = R_t C_t, B'_t = R_t B_t: rope = 1 rotates N-vectors by rotate-half RoPE at position t
 *           (theta = 10000, reference/rope.h's convention); rope = 0: R_t = I
 *   recurrence: S_t = exp(a_t) S_{t-1} + (delta_t x_t) B'_t^T  (P x N),  S_{-1} = h0 (or 0)
 *   y0_t = S_t C'_t + D x_t,   y_t = y0_t * silu(z_t) (gate = 1) or y0_t,   hT = S_{L-1}
 *   quadratic form (the reference): seg(t, s) = sum_{r = s+1 .. t} a_r, w(t, s) = exp(seg(t, s)),
 *     y0_t = sum_{s <= t} w(t, s) <C'_t, B'_s> delta_s x_s + exp(seg(t, -1)) h0 C'_t + D x_t.
 * Numerics every variant follows: a segment sum is accumulated directly over its own terms, or
 * taken as a difference of prefix sums kept in fp64 — never as a difference of fp32 prefix sums,
 * whose rounding grows with the chunk's total decay (|a| up to 16 per step over 256 steps) and
 * would make exp() wrong by thousands of ulps; and exp() only ever sees sums <= 0, so nothing
 * overflows whatever A and dt are.
 * Backward: dx, ddt, dA, dB, dC, dD, dz, ddt_bias, dh0 from dy and dhT.
 *
 * ssd_decode: one token per sequence from a state: x (B, H, P), dt (B, H), Bm, Cm (B, G, N), the
 * same A, D, z, dt_bias, state_in (B, H, P, N) -> y (B, H, P), state_out (B, H, P, N) =
 * exp(a) state_in + delta x B'^T, RoPE at position `pos`. Forward only. Replaying it over a
 * sequence reproduces ssd's y and hT (tests/test_ssd.c). */
#ifndef SEQMIX_REFERENCE_SSD_H
#define SEQMIX_REFERENCE_SSD_H

#include <math.h>
#include <stdint.h>

#include "seqmix/op.h"

enum {
  SSD_X, SSD_DT, SSD_A, SSD_BM, SSD_CM, SSD_D, SSD_Z, SSD_DTBIAS, SSD_H0, /* inputs */
  SSD_Y, SSD_HT,                                                         /* outputs */
  SSD_DY, SSD_DHT,                                                       /* output gradients */
  SSD_DX, SSD_DDT, SSD_DA, SSD_DBM, SSD_DCM, SSD_DD, SSD_DZ, SSD_DDTBIAS, SSD_DH0,
  SSD_NSLOTS
};
enum { SSD_B, SSD_L, SSD_H, SSD_P, SSD_G, SSD_N, SSD_CHUNK, SSD_ROPE, SSD_GATE, SSD_INIT, SSD_SOFTPLUS };

enum {
  SSDD_X, SSDD_DT, SSDD_A, SSDD_BM, SSDD_CM, SSDD_D, SSDD_Z, SSDD_DTBIAS, SSDD_SIN, /* inputs */
  SSDD_Y, SSDD_SOUT,                                                               /* outputs */
  SSDD_NSLOTS
};
enum { SSDD_B, SSDD_H, SSDD_P, SSDD_G, SSDD_N, SSDD_POS, SSDD_ROPE, SSDD_GATE, SSDD_SOFTPLUS };

#define SSD_ROPE_THETA 10000.0

extern const smx_op smx_op_ssd, smx_op_ssd_decode;
extern const smx_variant smx_ssd_reference, smx_ssd_decode_reference;

/* The dimensions every ssd kernel reads from a configuration. */
typedef struct ssd_dims {
  int64_t B, L, H, P, G, N, chunk;
  int rope, gate, init, softplus;
} ssd_dims;
ssd_dims smx_ssd_dims(const smx_config *c);
/* The same for a decode configuration (L = 1, chunk = 1, init = 1); *pos gets the position. */
ssd_dims smx_ssd_decode_dims(const smx_config *c, int64_t *pos);

/* cos and sin of the RoPE angles pos * theta^(-2i/N), i < N/2, for positions pos0 .. pos0+L-1,
 * computed in fp64 (L x N/2 each). */
void smx_ssd_rope_tables_f64(int64_t pos0, int64_t L, int64_t N, double *cos_t, double *sin_t);
void smx_ssd_rope_tables_f32(int64_t pos0, int64_t L, int64_t N, float *cos_t, float *sin_t);

/* delta from the raw dt (softplus with bias, or as given) and its derivative d delta / d dt. */
static inline double smx_ssd_softplus(double v) { return v > 20.0 ? v : log1p(exp(v)); }

#endif
