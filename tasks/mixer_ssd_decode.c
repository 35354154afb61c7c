/* Decoding for the sequence mixer `ssd` (tasks/mixer_ssd.c; the hooks of tasks/mixer.h).
 *
 * What a sequence keeps between tokens: the causal conv's window, the last K-1 rows of xBC
 * ((K-1) x C, C = E + 2 G N, oldest first; zeros before the first token, as the conv's zero
 * padding), and the SSD state (H, P, N). A step for B sequences:
 *   [z, xBC, dt] = x Win^T;  xBC = silu(conv_b + sum_j conv_w[:, j] window_j)  (window + the new row)
 *   y = ssd_decode(xs, dt, A = -exp(A_log), B, C, D, z, dt_bias, state) at pos = the position
 *       (`ssd_decode cpu.step`: RoPE of C and B at that position when ssd.rope=1; gate, softplus)
 *   out = (rmsnorm_groups(y) * w) Wout^T
 * which is the forward's row at that position (the forward's chunked SSD computes the same
 * recurrence in another order). The state is updated out of place into a second buffer and the
 * two swap; the count below is one copy. State per sequence: (K-1) C + H P N = (K-1)(E + 2GN) + E N
 * floats.
 *
 *   build/tests/seqmix_tests --filter model_decode/'*'
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reference/ssd.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "tasks/mixer.h"
#include "tasks/mixer_decode.h"
#include "tasks/mixer_ssd.h"
#include "tasks/op_layer.h"

enum { W_IN, CONV_W, CONV_B, DT_BIAS, A_LOG, D_SKIP, NORM_W, W_OUT }; /* the kind's tensor order (tasks/mixer_ssd.c) */

#define NORM_EPS 1e-5f /* tasks/mixer_ssd.c's */

typedef struct ssd_dec {
  mixer_shape s;
  ssd_layer_dims k;
  int64_t max_ctx, pos;
  op_layer step;     /* ssd_decode cpu.step, B sequences, pos set per token */
  float *win;        /* (B, C, K-1): the conv window, oldest first */
  float *st, *st2;   /* (B, H, P, N): the state, and the buffer the step writes */
  float *z, *xbc, *dt, *xs, *bm, *cm, *A, *y, *yn, *rstd, *ones; /* scratch of one step */
} ssd_dec;

void mixer_ssd_decode_destroy(void *p) {
  ssd_dec *l = p;
  if (!l) return;
  op_layer_destroy(&l->step);
  float *b[] = {l->win, l->st, l->st2, l->z, l->xbc, l->dt, l->xs, l->bm, l->cm, l->A, l->y, l->yn, l->rstd, l->ones};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  smx_host_free(l);
}

smx_status mixer_ssd_decode_create(const mixer_shape *s, int64_t max_ctx, void **out) {
  *out = NULL;
  if (max_ctx < 1) return smx_fail(SMX_ERR_INVALID, "ssd: decode context %lld must be >= 1", (long long)max_ctx);
  ssd_layer_dims k;
  smx_status st = mixer_ssd_dims(s, &k);
  if (st != SMX_OK) return st;
  ssd_dec *l = smx_host_alloc(sizeof *l);
  if (!l) return smx_fail(SMX_ERR_NOMEM, "ssd: cannot allocate the decoder");
  l->s = *s, l->k = k, l->max_ctx = max_ctx;
  size_t B = (size_t)s->B, E = (size_t)k.E, C = (size_t)k.C, H = (size_t)k.H, GN = (size_t)(k.G * k.N);
  size_t S = H * (size_t)(k.P * k.N);
  st = mixer_alloc("ssd decode", &l->win, B * C * (size_t)(k.K - 1), &l->st, B * S, &l->st2, B * S, &l->z, B * E, &l->xbc,
                   B * C, &l->dt, B * H, &l->xs, B * E, &l->bm, B * GN, &l->cm, B * GN, &l->A, H, &l->y, B * E, &l->yn,
                   B * E, &l->rstd, B * (size_t)k.G, &l->ones, E / (size_t)k.G, (float **)NULL);
  char spec[MIXER_SPEC_LEN];
  snprintf(spec, sizeof spec, "B=%lld,H=%lld,P=%lld,G=%lld,N=%lld,pos=0,rope=%d,gate=1,softplus=1", (long long)s->B,
           (long long)k.H, (long long)k.P, (long long)k.G, (long long)k.N, k.rope);
  if (st == SMX_OK) st = op_layer_create(&l->step, "ssd_decode", "cpu.step", spec);
  if (st != SMX_OK) {
    mixer_ssd_decode_destroy(l);
    return st;
  }
  for (size_t i = 0; i < E / (size_t)k.G; i++) l->ones[i] = 1.0f;
  *out = l;
  return SMX_OK;
}

void mixer_ssd_decode_reset(void *p) {
  ssd_dec *l = p;
  size_t B = (size_t)l->s.B;
  memset(l->win, 0, B * (size_t)(l->k.C * (l->k.K - 1)) * sizeof(float));
  memset(l->st, 0, B * (size_t)(l->k.H * l->k.P * l->k.N) * sizeof(float));
  l->pos = 0;
}

/* the cache rows below pos keep what they hold; recurrent state zeroed (mixer.h, decode_seek) */
void mixer_ssd_decode_seek(void *p, int64_t pos) {
  mixer_ssd_decode_reset(p);
  ((ssd_dec *)p)->pos = pos;
}

static float sigmoidf(float a) { return 1.0f / (1.0f + expf(-a)); }

smx_status mixer_ssd_decode_step(void *p, float *const *w, const float *x, float *out) {
  ssd_dec *l = p;
  const ssd_layer_dims *k = &l->k;
  int64_t B = l->s.B, d = l->s.d, E = k->E, C = k->C, H = k->H, K = k->K, GN = k->G * k->N;
  if (l->pos >= l->max_ctx)
    return smx_fail(SMX_ERR_INVALID, "ssd: the decoder is full (%lld tokens per sequence)", (long long)l->max_ctx);
  smx_status s;
  if ((s = smx_linear_fwd_cpu(B, d, E, x, w[W_IN], NULL, l->z)) ||
      (s = smx_linear_fwd_cpu(B, d, C, x, w[W_IN] + E * d, NULL, l->xbc)) ||
      (s = smx_linear_fwd_cpu(B, d, H, x, w[W_IN] + (E + C) * d, NULL, l->dt)))
    return s;
  /* the conv at the new token (w[c, K-1] multiplies it), the window shifted, silu, split */
  for (int64_t b = 0; b < B; b++)
    for (int64_t c = 0; c < C; c++) {
      float *win = l->win + (b * C + c) * (K - 1), xn = l->xbc[b * C + c];
      const float *cw = w[CONV_W] + c * K;
      float a = w[CONV_B][c];
      for (int64_t j = 0; j < K - 1; j++) a += cw[j] * win[j];
      a += cw[K - 1] * xn;
      for (int64_t j = 0; j + 1 < K - 1; j++) win[j] = win[j + 1];
      win[K - 2] = xn;
      float v = a * sigmoidf(a);
      if (c < E) l->xs[b * E + c] = v;
      else if (c < E + GN) l->bm[b * GN + c - E] = v;
      else l->cm[b * GN + c - E - GN] = v;
    }
  for (int64_t h = 0; h < H; h++) l->A[h] = -expf(w[A_LOG][h]);
  if ((s = op_layer_set(&l->step, SSDD_POS, l->pos))) return s;
  op_layer *o = &l->step;
  o->t[SSDD_X] = l->xs, o->t[SSDD_DT] = l->dt, o->t[SSDD_A] = l->A, o->t[SSDD_BM] = l->bm, o->t[SSDD_CM] = l->cm;
  o->t[SSDD_D] = w[D_SKIP], o->t[SSDD_Z] = l->z, o->t[SSDD_DTBIAS] = w[DT_BIAS], o->t[SSDD_SIN] = l->st;
  o->t[SSDD_Y] = l->y, o->t[SSDD_SOUT] = l->st2;
  if ((s = op_layer_run(o, SMX_FWD))) return s;
  float *t = l->st;
  l->st = l->st2, l->st2 = t;
  if ((s = smx_rmsnorm_fwd_cpu(B * k->G, E / k->G, NORM_EPS, l->y, l->ones, l->yn, l->rstd))) return s;
  for (int64_t i = 0; i < B; i++)
    for (int64_t e = 0; e < E; e++) l->yn[i * E + e] *= w[NORM_W][e];
  l->pos++;
  return smx_linear_fwd_cpu(B, E, d, l->yn, w[W_OUT], NULL, out);
}

size_t mixer_ssd_decode_state_bytes(const mixer_shape *s, int64_t ctx) {
  (void)ctx;
  ssd_layer_dims k;
  if (mixer_ssd_dims(s, &k) != SMX_OK) return 0;
  return (size_t)((k.K - 1) * k.C + k.H * k.P * k.N) * sizeof(float);
}
