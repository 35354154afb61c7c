/* Decoding for the sequence mixer `h3` (tasks/mixer_h3.c; the hooks of tasks/mixer.h).
 *
 * The forward convolves by FFT with two kernels; both are recurrences with a constant state, so a
 * step is O(d (S + N)) whatever the context. Per channel c of a sequence, at position t:
 *
 *   q, k, v = x W_q^T + b_q, x W_k^T + b_k, x W_v^T + b_v            (the new row)
 *   ks_t = sum_{m < S, m <= t} k_shift[c, m] k_{t-m} + D_k k_t          the shift filter, from a window
 *                                                                       of the last S-1 k (zeros before
 *                                                                       the first token: the conv's padding)
 *   u_t  = ks_t v_t
 *   s_n  = E_n s_n + C_n Bbar_n u_t    (n < M = N/2 complex modes)      the diagonal SSM
 *   z_t  = 2 Re sum_n s_n + D u_t;   y = (q_t z_t) W_o^T + b_o
 *
 * Why this is the forward: ssm_kernel's kernel is k_ssm[l] = 2 Re sum_n C_n Bbar_n E_n^l
 * (reference/ssm_diag.h: E = exp(dt A), Bbar = B (E - 1)/A, ZOH), and the recurrence unrolls to
 * s_n(t) = C_n Bbar_n sum_{j<=t} E_n^j u_{t-j}, so 2 Re sum_n s_n(t) = sum_{j<=t} k_ssm[j] u_{t-j}:
 * fftconv's causal convolution, exactly in exact arithmetic (the state is kept multiplied by C, the
 * x of x_t = E x_{t-1} + Bbar u_t times C). E, Bbar and C come from smx_ssm_mode_f64, the op's own
 * per-mode algebra, in fp64; the state is stored in fp32 and updated in fp64. The shift filter's
 * taps k_shift[c, m] = sum_i shift_B[c, i] shift_C[c, i + m] are the forward's (its shortconv with
 * D_k on the current tap, or its fftconv with the taps zero-padded and D = D_k: the same sum).
 * Neither kernel depends on the length L of the forward (ssm_kernel's k[l] is a function of l
 * alone; the shift taps beyond L never reach an output), so decoding to any max_ctx reproduces
 * the forward of any length at every position.
 *
 * The taps and the modes are derived from the parameters: they are recomputed when the parameters
 * differ from the copy they were made from (compared bit for bit at every step, cheap beside the
 * discretization's exponentials), so a step reads the model's current parameters. State per
 * sequence: the window (S-1) d and the SSM state (M complex = N real per channel) N d floats,
 * (S - 1 + N) d in all.
 *
 *   build/tests/seqmix_tests --filter model_decode/'*'
 */
#include <stdio.h>
#include <string.h>

#include "reference/ssm_diag.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "tasks/mixer.h"
#include "tasks/mixer_decode.h"

enum { O_N, O_SHIFT };                                                                 /* tasks/mixer_h3.c's options */
enum { WQ, BQ, WK, BK, WV, BV, SB, SC, DK, LOGDT, LOGARE, AIM, SSB, SSC, DD, WO, BO }; /* and its tensor order */

typedef struct h3_dec {
  mixer_shape s;
  int64_t M, S, max_ctx, pos;
  float *win;          /* (B, d, S-1): the last S-1 k of each channel, oldest first */
  float *st;           /* (B, d, M, 2): the SSM state times C, (re, im) */
  float *q, *k, *v, *z; /* (B, d) scratch */
  double *ksh;         /* (d, S): k_shift by lag */
  double *E, *W;       /* (d, M, 2): E = exp(dt A) and C Bbar of each mode */
  float *par;          /* the parameters ksh, E and W were made from: shift_B, shift_C, log_dt, log_A_re, A_im, B, C */
  size_t npar;
  int derived;         /* 0: ksh, E, W not made yet */
} h3_dec;

/* the tensors the derived constants depend on, with their sizes (floats) */
static int par_list(const h3_dec *h, int *idx, size_t *size) {
  size_t d = (size_t)h->s.d, dS = d * (size_t)h->S, dM = d * (size_t)h->M;
  static const int which[] = {SB, SC, LOGDT, LOGARE, AIM, SSB, SSC};
  const size_t sz[] = {dS, dS, d, dM, dM, 2 * dM, 2 * dM};
  for (int i = 0; i < 7; i++) idx[i] = which[i], size[i] = sz[i];
  return 7;
}

void mixer_h3_decode_destroy(void *p) {
  h3_dec *h = p;
  if (!h) return;
  float *b[] = {h->win, h->st, h->q, h->k, h->v, h->z, h->par};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  double *c[] = {h->ksh, h->E, h->W};
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) smx_host_free(c[i]);
  smx_host_free(h);
}

smx_status mixer_h3_decode_create(const mixer_shape *s, int64_t max_ctx, void **out) {
  *out = NULL;
  if (max_ctx < 1) return smx_fail(SMX_ERR_INVALID, "h3: decode context %lld must be >= 1", (long long)max_ctx);
  int64_t N = (int64_t)s->opt[O_N], S = (int64_t)s->opt[O_SHIFT];
  if (N < 2 || N % 2 || S < 1)
    return smx_fail(SMX_ERR_INVALID, "h3: N = %lld must be even and shift = %lld >= 1", (long long)N, (long long)S);
  h3_dec *h = smx_host_alloc(sizeof *h);
  if (!h) return smx_fail(SMX_ERR_NOMEM, "h3: cannot allocate the decoder");
  h->s = *s, h->max_ctx = max_ctx, h->M = N / 2, h->S = S;
  size_t B = (size_t)s->B, d = (size_t)s->d, M = (size_t)h->M, Bd = B * d;
  int idx[8];
  size_t size[8];
  int np = par_list(h, idx, size);
  for (int i = 0; i < np; i++) h->npar += size[i];
  smx_status st = mixer_alloc("h3 decode", &h->win, Bd * (size_t)(S - 1), &h->st, Bd * 2 * M, &h->q, Bd, &h->k, Bd, &h->v, Bd,
                              &h->z, Bd, &h->par, h->npar, (float **)NULL);
  size_t modes = d * 2 * M * sizeof(double);
  if (st == SMX_OK && (!(h->ksh = smx_host_alloc(d * (size_t)S * sizeof(double))) || !(h->E = smx_host_alloc(modes)) ||
                       !(h->W = smx_host_alloc(modes))))
    st = smx_fail(SMX_ERR_NOMEM, "h3 decode: cannot allocate the derived kernels (%zu modes)", d * M);
  if (st != SMX_OK) {
    mixer_h3_decode_destroy(h);
    return st;
  }
  *out = h;
  return SMX_OK;
}

void mixer_h3_decode_reset(void *p) {
  h3_dec *h = p;
  size_t Bd = (size_t)(h->s.B * h->s.d);
  memset(h->win, 0, Bd * (size_t)(h->S - 1) * sizeof(float));
  memset(h->st, 0, Bd * 2 * (size_t)h->M * sizeof(float));
  h->pos = 0;
}

/* no cache rows: the window and the state are zeroed (mixer.h, decode_seek) */
void mixer_h3_decode_seek(void *p, int64_t pos) {
  mixer_h3_decode_reset(p);
  ((h3_dec *)p)->pos = pos;
}

/* k_shift (as tasks/mixer_h3.c's shift_kernel, in fp64) and each mode's E and C Bbar, when the
 * parameters differ from the copy they were last made from */
static void derive(h3_dec *h, float *const *w) {
  int idx[8];
  size_t size[8], o = 0;
  int np = par_list(h, idx, size), same = h->derived;
  for (int i = 0; i < np && same; o += size[i], i++) same = !memcmp(h->par + o, w[idx[i]], size[i] * sizeof(float));
  if (same) return;
  o = 0;
  for (int i = 0; i < np; o += size[i], i++) memcpy(h->par + o, w[idx[i]], size[i] * sizeof(float));
  int64_t d = h->s.d, S = h->S, M = h->M;
  for (int64_t c = 0; c < d; c++) {
    const float *Bc = w[SB] + c * S, *Cc = w[SC] + c * S;
    for (int64_t m = 0; m < S; m++) {
      double acc = 0;
      for (int64_t i = 0; i + m < S; i++) acc += (double)Bc[i] * Cc[i + m];
      h->ksh[c * S + m] = (double)(float)acc; /* the forward's taps are fp32 */
    }
    for (int64_t n = 0; n < M; n++) {
      int64_t i = c * M + n;
      double b[2] = {w[SSB][2 * i], w[SSB][2 * i + 1]}, cc[2] = {w[SSC][2 * i], w[SSC][2 * i + 1]};
      smx_ssm_mode64 md = smx_ssm_mode_f64(w[LOGDT][c], w[LOGARE][i], w[AIM][i], b, cc);
      smx_c64 cb = cmul_f64(md.C, md.Bbar);
      h->E[2 * i] = md.E.re, h->E[2 * i + 1] = md.E.im;
      h->W[2 * i] = cb.re, h->W[2 * i + 1] = cb.im;
    }
  }
  h->derived = 1;
}

smx_status mixer_h3_decode_step(void *p, float *const *w, const float *x, float *y) {
  h3_dec *h = p;
  int64_t B = h->s.B, d = h->s.d, S = h->S, M = h->M;
  if (h->pos >= h->max_ctx)
    return smx_fail(SMX_ERR_INVALID, "h3: the decoder is full (%lld tokens per sequence)", (long long)h->max_ctx);
  smx_status s;
  if ((s = smx_linear_fwd_cpu(B, d, d, x, w[WQ], w[BQ], h->q)) || (s = smx_linear_fwd_cpu(B, d, d, x, w[WK], w[BK], h->k)) ||
      (s = smx_linear_fwd_cpu(B, d, d, x, w[WV], w[BV], h->v)))
    return s;
  derive(h, w);
#pragma omp parallel for schedule(static) if (B * d * (M + S) > (1 << 14))
  for (int64_t bc = 0; bc < B * d; bc++) {
    int64_t c = bc % d;
    float *win = h->win + bc * (S - 1), kn = h->k[bc];
    const double *ksh = h->ksh + c * S;
    double ks = ksh[0] * kn + (double)w[DK][c] * kn; /* win[S-1-m] = k_{t-m} */
    for (int64_t m = 1; m < S; m++) ks += ksh[m] * win[S - 1 - m];
    for (int64_t j = 0; j + 1 < S - 1; j++) win[j] = win[j + 1];
    if (S > 1) win[S - 2] = kn;
    float u = (float)ks * h->v[bc]; /* fftconv's v = pre * u, in fp32 */
    float *st = h->st + bc * 2 * M;
    const double *E = h->E + c * 2 * M, *W = h->W + c * 2 * M;
    double acc = 0;
    for (int64_t n = 0; n < M; n++) {
      double re = E[2 * n] * st[2 * n] - E[2 * n + 1] * st[2 * n + 1] + W[2 * n] * u;
      double im = E[2 * n] * st[2 * n + 1] + E[2 * n + 1] * st[2 * n] + W[2 * n + 1] * u;
      st[2 * n] = (float)re, st[2 * n + 1] = (float)im;
      acc += re;
    }
    h->z[bc] = h->q[bc] * (float)(2 * acc + (double)w[DD][c] * u);
  }
  h->pos++;
  return smx_linear_fwd_cpu(B, d, d, h->z, w[WO], w[BO], y);
}

size_t mixer_h3_decode_state_bytes(const mixer_shape *s, int64_t ctx) {
  (void)ctx;
  return (size_t)(((int64_t)s->opt[O_SHIFT] - 1 + (int64_t)s->opt[O_N]) * s->d) * sizeof(float);
}
