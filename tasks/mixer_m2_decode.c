/* Decoding for the sequence mixer `m2` (tasks/mixer_m2.c; the hooks of tasks/mixer.h).
 *
 * The long convolution's kernel is as long as the context, and neither filter is a recurrence with
 * a small state, so the decoder keeps the long conv's input of every past token and convolves at
 * each step (what Hyena and M2 do without distilling the filter into an SSM): O(ctx d) per token.
 * Per sequence, at position t:
 *
 *   u = x W_in^T + b_in                                         (3d)
 *   uc = conv_b + conv_w[:, 0] u_{t-2} + conv_w[:, 1] u_{t-1} + conv_w[:, 2] u_t
 *                                                               the short conv (K = 3) from a window of
 *                                                               the last 2 u (zeros before the first token)
 *   x1, x2, v = uc[0, d), uc[d, 2d), uc[2d, 3d);  w_t = v x1   (cached: row t of the long conv's input)
 *   y = x2 (sum_{j <= t} k[h, j] w_{t-j} + D w_t);  out = y W_out^T + b_out
 *
 * The filter k (d, max_ctx) is the op the forward runs (`hyena_filter cpu.blas` or
 * `longconv_kernel cpu.omp`) for a length of max_ctx, made from the weights decode_step is given
 * and made again whenever they differ from the copy it was made from (compared bit for bit at every
 * step).
 *
 * Length dependence (a decoder of max_ctx tokens is the forward of L = max_ctx):
 *  - hyena_filter's k[h, j] depends on the forward's length L: its positional features are
 *    tn = j / (L - 1) and the phases 2 pi j / L, and the decay window is exp(-tn |delta_h|)
 *    (reference/hyena_filter.h). So the forward over L tokens is not a prefix of the forward over
 *    more: row t of the forward depends on L, not only on tokens <= t. The decoder generates the
 *    filter for L = max_ctx, so its step at position t gives row t of the full forward over
 *    max_ctx tokens (a model created with L = max_ctx), not of a forward over t + 1 tokens.
 *  - longconv_kernel's k[h, j] = soft(kernel[h, j]) does not depend on L, but its parameter is a
 *    (d, L) tensor of the model's training length: the decoder reads it as (d, max_ctx), so
 *    max_ctx must be the L the model was created with (shape.L_model), and another max_ctx is
 *    refused in one line (a larger one would read past the tensor, a smaller one at the wrong stride).
 *  Decoding with m2.filter=1 therefore needs max_ctx = the model's L; with the default hyena filter
 *  any max_ctx works, and means "the forward over max_ctx tokens".
 *
 * State per sequence: the cached w, ctx d floats, and the short conv's window, 2 (3d) floats:
 * (ctx + 6) d. Not counted (scratch, made from the parameters): the filter (d, max_ctx) and the
 * filter op's workspace.
 *
 *   build/tests/seqmix_tests --filter model_decode/'*'
 */
#include <stdio.h>
#include <string.h>

#include "reference/hyena_filter.h"
#include "reference/longconv_kernel.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "tasks/mixer.h"
#include "tasks/mixer_decode.h"
#include "tasks/op_layer.h"

enum { O_FILTER, O_EMB, O_ORDER, O_W, O_LAM };                        /* tasks/mixer_m2.c's options */
enum { W_IN, B_IN, CONV_W, CONV_B, W_OUT, B_OUT, DSKIP, F0 };          /* and its tensor order */
enum { NPAR_MAX = 8 };                                                  /* filter tensors: W1 .. freq, or the kernel */

typedef struct m2_dec {
  mixer_shape s;
  int filter;           /* 1: longconv_kernel */
  int64_t max_ctx, pos;
  op_layer filt;        /* the filter op for H = d, L = max_ctx */
  float *win;           /* (B, 3d, 2): the last two u of each channel, oldest first */
  float *cache;         /* (B, d, max_ctx): w = v x1 of every past token, reversed in time (w_t at max_ctx - 1 - t) */
  const float *k;       /* (d, max_ctx): the filter, the op's output buffer */
  float *u, *y;         /* (B, 3d), (B, d) scratch */
  float *par;           /* the filter tensors k was made from */
  int npar;
  size_t par_size[NPAR_MAX], par_total;
  int derived;          /* 0: k not made yet */
} m2_dec;

void mixer_m2_decode_destroy(void *p) {
  m2_dec *m = p;
  if (!m) return;
  op_layer_destroy(&m->filt);
  float *b[] = {m->win, m->cache, m->u, m->y, m->par};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  smx_host_free(m);
}

smx_status mixer_m2_decode_create(const mixer_shape *s, int64_t max_ctx, void **out) {
  *out = NULL;
  if (max_ctx < 1) return smx_fail(SMX_ERR_INVALID, "m2: decode context %lld must be >= 1", (long long)max_ctx);
  if ((int)s->opt[O_FILTER] == 1 && s->L_model != max_ctx)
    return smx_fail(SMX_ERR_UNSUPPORTED, "m2: the explicit kernel (m2.filter=1) holds the model's L = %lld taps: decode with "
                    "max_ctx = %lld, not %lld", (long long)s->L_model, (long long)s->L_model, (long long)max_ctx);
  m2_dec *m = smx_host_alloc(sizeof *m);
  if (!m) return smx_fail(SMX_ERR_NOMEM, "m2: cannot allocate the decoder");
  m->s = *s, m->max_ctx = max_ctx, m->filter = (int)s->opt[O_FILTER] == 1;
  long long d = (long long)s->d;
  char spec[MIXER_SPEC_LEN];
  smx_status st;
  if (m->filter) {
    snprintf(spec, sizeof spec, "H=%lld,L=%lld,lam_milli=%d", d, (long long)max_ctx, (int)s->opt[O_LAM]);
    st = op_layer_create(&m->filt, "longconv_kernel", "cpu.omp", spec);
  } else {
    snprintf(spec, sizeof spec, "H=%lld,L=%lld,emb=%d,order=%d", d, (long long)max_ctx, (int)s->opt[O_EMB], (int)s->opt[O_ORDER]);
    st = op_layer_create(&m->filt, "hyena_filter", "cpu.blas", spec);
  }
  if (st == SMX_OK) {
    /* the slots decode_step does not hand the op (its output and the unused gradients): owned now,
     * so a step allocates nothing */
    int first = m->filter ? LCK_KERNEL : HYF_W1;
    m->npar = m->filter ? 1 : 8;
    for (int i = 0; i < m->npar; i++) m->par_total += m->par_size[i] = op_layer_numel(&m->filt, first + i);
    for (int i = 0; i < m->filt.op->n_tensors && st == SMX_OK; i++)
      if ((i < first || i >= first + m->npar) && !op_layer_own(&m->filt, i))
        st = smx_fail(SMX_ERR_NOMEM, "m2: cannot allocate the filter's buffers");
  }
  size_t B = (size_t)s->B, D = (size_t)d, C = (size_t)max_ctx;
  if (st == SMX_OK)
    st = mixer_alloc("m2 decode", &m->win, B * 3 * D * 2, &m->cache, B * D * C, &m->u, B * 3 * D, &m->y, B * D, &m->par,
                     m->par_total, (float **)NULL);
  if (st == SMX_OK && !(m->k = op_layer_own(&m->filt, m->filter ? LCK_K : HYF_K)))
    st = smx_fail(SMX_ERR_NOMEM, "m2: cannot allocate the filter's buffers");
  if (st != SMX_OK) {
    mixer_m2_decode_destroy(m);
    return st;
  }
  *out = m;
  return SMX_OK;
}

void mixer_m2_decode_reset(void *p) {
  m2_dec *m = p;
  memset(m->win, 0, (size_t)(m->s.B * 3 * m->s.d * 2) * sizeof(float));
  m->pos = 0;
}

/* the cached rows below pos keep what they hold; the short conv's window is zeroed (mixer.h) */
void mixer_m2_decode_seek(void *p, int64_t pos) {
  mixer_m2_decode_reset(p);
  ((m2_dec *)p)->pos = pos;
}

/* k from the filter tensors, when they differ from the copy it was last made from */
static smx_status derive(m2_dec *m, float *const *w) {
  int same = m->derived;
  size_t o = 0;
  for (int i = 0; i < m->npar && same; o += m->par_size[i], i++)
    same = !memcmp(m->par + o, w[F0 + i], m->par_size[i] * sizeof(float));
  if (same) return SMX_OK;
  o = 0;
  for (int i = 0; i < m->npar; o += m->par_size[i], i++) memcpy(m->par + o, w[F0 + i], m->par_size[i] * sizeof(float));
  int first = m->filter ? LCK_KERNEL : HYF_W1;
  for (int i = 0; i < m->npar; i++) m->filt.t[first + i] = w[F0 + i];
  smx_status s = op_layer_run(&m->filt, SMX_FWD); /* into m->k, the op's owned output */
  m->derived = s == SMX_OK;
  return s;
}

/* sum_{i<n} a[i] b[i] in fp64, four partial sums */
static double dot(int64_t n, const float *a, const float *b) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += (double)a[i] * b[i];
    s1 += (double)a[i + 1] * b[i + 1];
    s2 += (double)a[i + 2] * b[i + 2];
    s3 += (double)a[i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += (double)a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

smx_status mixer_m2_decode_step(void *p, float *const *w, const float *x, float *out) {
  m2_dec *m = p;
  int64_t B = m->s.B, d = m->s.d, C = m->max_ctx, pos = m->pos;
  if (pos >= C) return smx_fail(SMX_ERR_INVALID, "m2: the decoder is full (%lld tokens per sequence)", (long long)C);
  smx_status s;
  if ((s = derive(m, w)) || (s = smx_linear_fwd_cpu(B, d, 3 * d, x, w[W_IN], w[B_IN], m->u))) return s;
  /* the short conv at the new token, the window shifted (u becomes uc in place) */
  for (int64_t i = 0; i < B * 3 * d; i++) {
    int64_t c = i % (3 * d);
    float *win = m->win + i * 2, un = m->u[i];
    const float *cw = w[CONV_W] + c * 3;
    double a = (double)w[CONV_B][c] + (double)cw[0] * win[0] + (double)cw[1] * win[1] + (double)cw[2] * un;
    win[0] = win[1], win[1] = un;
    m->u[i] = (float)a;
  }
#pragma omp parallel for schedule(static) if (B * d * (pos + 1) > (1 << 16))
  for (int64_t bh = 0; bh < B * d; bh++) {
    int64_t b = bh / d, h = bh % d;
    const float *uc = m->u + b * 3 * d;
    float wt = uc[2 * d + h] * uc[h], *row = m->cache + bh * C + C - 1 - pos; /* fftconv's v = pre * u: x1 v */
    row[0] = wt;                                                           /* row[j] = w_{t-j} */
    double z = dot(pos + 1, m->k + h * C, row) + (double)w[DSKIP][h] * wt;
    m->y[bh] = uc[d + h] * (float)z;
  }
  m->pos++;
  return smx_linear_fwd_cpu(B, d, d, m->y, w[W_OUT], w[B_OUT], out);
}

size_t mixer_m2_decode_state_bytes(const mixer_shape *s, int64_t ctx) {
  return (size_t)((ctx + 6) * s->d) * sizeof(float);
}
