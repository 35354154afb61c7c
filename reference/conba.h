/* conba: MixCon's Conba layer as seqmix defines it (the published code cannot run; docs/ops/conba.md
 * says where this departs from it and why), and its single-token decode step.
 *
 * Per sequence, model width d, E = expand * d channels, state N, conv width K:
 *   xin_t = W_in x_t,  z_t = W_z x_t                                            (E)
 *   u_t   = silu(conv_b + sum_{j<K} conv_w[:, j] * xin_{t-K+1+j})              (causal depthwise, zeros before t = 0)
 *   delta_t = softplus(W_dt u_t + b_dt) (E),  B_t = W_B u_t,  C_t = W_C u_t (N),  A = -exp(A_log) (E x N)
 *   h_t   = exp(delta_t A) * h_{t-1} + (delta_t u_t) B_t^T                      (E x N, h_{-1} = 0)
 *   g_t   = h_t + diag(lambda) h_{t-1}                                          (delay = 1; else g_t = h_t)
 *   s_t   = sigmoid(W_s u_t)                                                    (scaling = 1; else s_t = 1)
 *   y_t   = s_t * (g_t C_t) + D * u_t
 *   y'_t  = y_t - kappa * (y_t - W_r u_t)                                       (feedback = 1; else y'_t = y_t)
 *   o_t   = W_out (y'_t * silu(z_t))                                            (d)
 * Weights are row-major (out, in): W_in (E, d), W_dt (E, E), W_B (N, E), W_out (d, E) ...
 * Switched-off mechanisms leave their weights unread and give them zero gradient.
 *
 * conba_decode: one token per sequence: x (B, d), the same weights, conv_in (B, E, K-1) (the last
 * K-1 values of W_in x, oldest first), h_in (B, E, N) -> o (B, d), conv_out, h_out. Replaying it
 * over a sequence reproduces conba's o (tests/test_conba.c).
 *
 *   seqmix check --op conba
 *   seqmix check --op conba_decode */
#ifndef SEQMIX_REFERENCE_CONBA_H
#define SEQMIX_REFERENCE_CONBA_H

#include <stdint.h>

#include "seqmix/op.h"

/* the weights, in this order in both ops, starting at slot CONBA_W0 */
enum {
  CW_IN, CW_CONV, CW_CONVB, CW_Z, CW_DT, CW_BDT, CW_B, CW_C, CW_ALOG, CW_LAMBDA, CW_S, CW_D, CW_R, CW_KAPPA, CW_OUT,
  CW_COUNT
};

enum { CONBA_X = 0, CONBA_W0 = 1, CONBA_O = CONBA_W0 + CW_COUNT, CONBA_DO, CONBA_DX, CONBA_DW0, CONBA_NSLOTS = CONBA_DW0 + CW_COUNT };
enum { CONBA_B, CONBA_L, CONBA_DM, CONBA_EXPAND, CONBA_N, CONBA_K, CONBA_DELAY, CONBA_SCALING, CONBA_FEEDBACK };

enum {
  CONBAD_X = 0, CONBAD_W0 = 1, CONBAD_CONV_IN = CONBAD_W0 + CW_COUNT, CONBAD_H_IN, CONBAD_O, CONBAD_CONV_OUT, CONBAD_H_OUT,
  CONBAD_NSLOTS
};
enum { CONBAD_B, CONBAD_DM, CONBAD_EXPAND, CONBAD_N, CONBAD_K, CONBAD_DELAY, CONBAD_SCALING, CONBAD_FEEDBACK };

extern const smx_op smx_op_conba, smx_op_conba_decode;
extern const smx_variant smx_conba_reference, smx_conba_decode_reference;

typedef struct conba_dims {
  int64_t B, L, d, E, N, K;
  int delay, scaling, feedback;
} conba_dims;
conba_dims smx_conba_dims(const smx_config *c);
conba_dims smx_conba_decode_dims(const smx_config *c);
/* elements of weight w (CW_*) */
size_t smx_conba_weight_numel(const conba_dims *d, int w);

#endif
