/* Sequence mixer `m2`: the M2 sequence mixer (HazyResearch/m2 bert/src/mm/
 * monarch_mixer_sequence_mixer.py, causal form; docs/models/h3_m2.md "M2 sequence mixer"):
 *
 *   u  = x W_in^T + b_in                       (T, 3d), then (B, 3d, L) time-contiguous
 *   uc = shortconv(u), K = 3, bias             the depthwise Conv1d(3d, 3d, 3, groups=3d, padding=2)[:L]
 *   x1, x2, v = uc[0, d), uc[d, 2d), uc[2d, 3d)
 *   y  = (causal_conv(v * x1, k) + D * (v * x1)) * x2      one gated fftconv: u = v, pre = x1, post = x2
 *   out = y W_out^T + b_out                     (T, d)
 *
 * The kernel k (d, L): filter=0 the implicit `hyena_filter` (M2's HyenaFilter: sine MLP of
 * positional features times an exponential decay window; gradients to its weights and the shared
 * sine frequency), filter=1 the explicit `longconv_kernel` (the kernel itself, soft-thresholded).
 * D is the filter's `bias`. Ops and variants: shortconv cpu.direct, fftconv cpu.fftw (gates=1,
 * gelu=0), hyena_filter cpu.blas, longconv_kernel cpu.omp, all through tasks/op_layer.h; the two
 * linears are model_ops' smx_linear_*_cpu. Transposes between token-major (T, d) and the ops'
 * (B, H, L) layout are glue.
 *
 * Initialization follows M2-BERT (HF BertPreTrainedModel._init_weights applied to every nn.Linear,
 * including the filter MLP's; PyTorch defaults elsewhere): in_linear, out_linear and the filter MLP
 * weights N(0, init_std) with zero biases (out_linear at the model's residual scaling MI_OUT);
 * the short conv's weight and bias U(-1/sqrt(3), 1/sqrt(3)) (Conv1d's default, fan_in = 3); D ~
 * N(0, 1) (torch.randn); freq = w (M2's hyena_w = 10); the explicit kernel by longconv_kernel's
 * "double_exp" rule, N(0, 1) times smx_longconv_init_scale. Left out: the optional residual long
 * convolution, the bidirectional filter, dropout, M2's per-parameter filter learning rate and
 * weight decay (docs/task_runner.md).
 *
 *   build/tests/seqmix_tests --filter mixers/'*'
 *   build/tests/seqmix_tests --filter model_m2moe/'*'
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reference/fftconv.h"
#include "reference/hyena_filter.h"
#include "reference/longconv_kernel.h"
#include "reference/shortconv.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "tasks/mixer.h"
#include "tasks/mixer_decode.h"
#include "tasks/op_layer.h"

/* tensors; the filter's follow at F0 (filter=0: W1 .. freq; filter=1: the kernel) */
enum { W_IN, B_IN, CONV_W, CONV_B, W_OUT, B_OUT, DSKIP, F0 };
enum { HW1 = F0, HB1, HW2, HB2, HW3, HB3, HW4, HFREQ, HEND };
enum { KERNEL = F0, KEND };
enum { O_FILTER, O_EMB, O_ORDER, O_W, O_LAM, NOPT };

static const mixer_opt opts[NOPT] = {
    {"filter", 0, 1, 0, 1, "0 = implicit hyena_filter (M2), 1 = explicit longconv_kernel"},
    {"emb", 3, 63, 3, 1, "hyena_filter's positional feature width (odd; M2's hyena_emb_dim)"},
    {"order", 1, 1024, 16, 1, "hyena_filter's MLP width (M2's hyena_filter_order)"},
    {"w", 0, 1000, 10, 0, "initial sine frequency of the filter MLP (M2's hyena_w)"},
    {"lam", 0, 1000, 1, 1, "filter=1: longconv_kernel's soft threshold in thousandths (lam_milli)"},
};

typedef struct m2 {
  mixer_shape s;
  int filter;
  op_layer conv, fft, filt;
  float *u, *ub, *uc, *x1, *x2, *v, *k, *yc, *yt;  /* forward activations */
  float *dyt, *dyc, *dv, *dx1, *dx2, *dk, *duc, *dub; /* backward */
} m2;

static smx_status tensors(const mixer_shape *s, mixer_tensor *t, int *n) {
  int64_t d = s->d, L = s->L, emb = (int64_t)s->opt[O_EMB], F = (int64_t)s->opt[O_ORDER];
  if (emb % 2 == 0) return smx_fail(SMX_ERR_INVALID, "m2: emb %lld must be odd (time, then cos and sin bands)", (long long)emb);
  size_t D = (size_t)d;
  t[W_IN] = (mixer_tensor){"w_in", 3 * D * D, MI_NORMAL, 1};
  t[B_IN] = (mixer_tensor){"b_in", 3 * D, MI_ZEROS, 0};
  t[CONV_W] = (mixer_tensor){"conv_w", 3 * D * 3, MI_CUSTOM, 1};
  t[CONV_B] = (mixer_tensor){"conv_b", 3 * D, MI_CUSTOM, 0};
  t[W_OUT] = (mixer_tensor){"w_out", D * D, MI_OUT, 1};
  t[B_OUT] = (mixer_tensor){"b_out", D, MI_ZEROS, 0};
  t[DSKIP] = (mixer_tensor){"D", D, MI_CUSTOM, 0};
  if ((int)s->opt[O_FILTER] == 1) {
    t[KERNEL] = (mixer_tensor){"kernel", D * (size_t)L, MI_CUSTOM, 0};
    *n = KEND;
    return SMX_OK;
  }
  size_t f = (size_t)F;
  t[HW1] = (mixer_tensor){"filter_w1", f * (size_t)emb, MI_NORMAL, 1};
  t[HB1] = (mixer_tensor){"filter_b1", f, MI_ZEROS, 0};
  t[HW2] = (mixer_tensor){"filter_w2", f * f, MI_NORMAL, 1};
  t[HB2] = (mixer_tensor){"filter_b2", f, MI_ZEROS, 0};
  t[HW3] = (mixer_tensor){"filter_w3", f * f, MI_NORMAL, 1};
  t[HB3] = (mixer_tensor){"filter_b3", f, MI_ZEROS, 0};
  t[HW4] = (mixer_tensor){"filter_w4", D * f, MI_NORMAL, 1};
  t[HFREQ] = (mixer_tensor){"filter_freq", f, MI_CUSTOM, 0};
  *n = HEND;
  return SMX_OK;
}

static void init(const mixer_shape *s, int i, float *t, size_t n, uint64_t seed, uint32_t stream) {
  const float conv_bound = 0.57735026919f; /* 1 / sqrt(fan_in = 3): Conv1d's default bound */
  switch (i) {
  case CONV_W:
  case CONV_B: mixer_fill_uniform(t, n, seed, stream, -conv_bound, conv_bound); break;
  case DSKIP: mixer_fill_normal(t, n, seed, stream, 1.0f); break;
  default:
    if ((int)s->opt[O_FILTER] == 1) { /* KERNEL: longconv_kernel's "double_exp" initialization */
      mixer_fill_normal(t, n, seed, stream, 1.0f);
      for (int64_t h = 0; h < s->d; h++)
        for (int64_t j = 0; j < s->L; j++) t[h * s->L + j] *= (float)smx_longconv_init_scale(s->d, s->L, h, j);
    } else { /* HFREQ */
      for (size_t j = 0; j < n; j++) t[j] = (float)s->opt[O_W];
    }
  }
}

void mixer_m2_op_specs(const mixer_shape *s, mixer_spec conv, mixer_spec fft, mixer_spec filt, int *explicit_kernel) {
  long long B = s->B, L = s->L, d = s->d;
  *explicit_kernel = (int)s->opt[O_FILTER] == 1;
  snprintf(conv, MIXER_SPEC_LEN, "B=%lld,H=%lld,L=%lld,K=3,bias=1", B, 3 * d, L);
  snprintf(fft, MIXER_SPEC_LEN, "B=%lld,H=%lld,L=%lld,gelu=0,gates=1", B, d, L);
  if (*explicit_kernel) snprintf(filt, MIXER_SPEC_LEN, "H=%lld,L=%lld,lam_milli=%d", d, L, (int)s->opt[O_LAM]);
  else snprintf(filt, MIXER_SPEC_LEN, "H=%lld,L=%lld,emb=%d,order=%d", d, L, (int)s->opt[O_EMB], (int)s->opt[O_ORDER]);
}

static void destroy(void *p) {
  m2 *m = p;
  if (!m) return;
  op_layer_destroy(&m->conv), op_layer_destroy(&m->fft), op_layer_destroy(&m->filt);
  float *b[] = {m->u, m->ub, m->uc, m->x1, m->x2, m->v, m->k, m->yc, m->yt,
                m->dyt, m->dyc, m->dv, m->dx1, m->dx2, m->dk, m->duc, m->dub};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  smx_host_free(m);
}

/* Owned buffers for the slots a pass leaves to the layer, allocated now so a step allocates nothing. */
static smx_status own_slots(op_layer *l, const int *slots, int n) {
  for (int i = 0; i < n; i++)
    if (!op_layer_own(l, slots[i])) return smx_fail(SMX_ERR_NOMEM, "m2: cannot allocate %s's buffers", l->op->name);
  return SMX_OK;
}

static smx_status create(const mixer_shape *s, void **out) {
  m2 *m = smx_host_alloc(sizeof *m);
  if (!m) return smx_fail(SMX_ERR_NOMEM, "m2: cannot allocate the layer");
  m->s = *s;
  size_t Td = (size_t)(s->T * s->d), dL = (size_t)(s->d * s->L);
  smx_status st = mixer_alloc("m2", &m->u, 3 * Td, &m->ub, 3 * Td, &m->uc, 3 * Td, &m->x1, Td, &m->x2, Td, &m->v, Td, &m->k, dL,
                              &m->yc, Td, &m->yt, Td, &m->dyt, Td, &m->dyc, Td, &m->dv, Td, &m->dx1, Td, &m->dx2, Td, &m->dk,
                              dL, &m->duc, 3 * Td, &m->dub, 3 * Td, (float **)NULL);
  mixer_spec conv_spec, fft_spec, filt_spec;
  mixer_m2_op_specs(s, conv_spec, fft_spec, filt_spec, &m->filter);
  if (st == SMX_OK) st = op_layer_create(&m->conv, "shortconv", "cpu.direct", conv_spec);
  if (st == SMX_OK) st = op_layer_create(&m->fft, "fftconv", "cpu.fftw", fft_spec);
  if (st == SMX_OK)
    st = m->filter == 1 ? op_layer_create(&m->filt, "longconv_kernel", "cpu.omp", filt_spec)
                        : op_layer_create(&m->filt, "hyena_filter", "cpu.blas", filt_spec);
  if (st == SMX_OK) {
    static const int conv_own[] = {SHORTCONV_Y, SHORTCONV_DY, SHORTCONV_DX, SHORTCONV_DW, SHORTCONV_DBIAS};
    static const int fft_own[] = {FFTCONV_Y, FFTCONV_DY, FFTCONV_DU, FFTCONV_DK, FFTCONV_DD, FFTCONV_DPRE, FFTCONV_DPOST};
    static const int hyf_own[] = {HYF_K, HYF_DK, HYF_DW1, HYF_DB1, HYF_DW2, HYF_DB2, HYF_DW3, HYF_DB3, HYF_DW4, HYF_DFREQ};
    static const int lck_own[] = {LCK_K, LCK_DK, LCK_DKERNEL};
    st = own_slots(&m->conv, conv_own, 5);
    if (st == SMX_OK) st = own_slots(&m->fft, fft_own, 7);
    if (st == SMX_OK) st = m->filter == 1 ? own_slots(&m->filt, lck_own, 3) : own_slots(&m->filt, hyf_own, 10);
  }
  if (st != SMX_OK) {
    destroy(m);
    return st;
  }
  *out = m;
  return SMX_OK;
}

/* (B, L, C) token-major -> (B, C, L) time-contiguous, and back */
static void to_channels(int64_t B, int64_t L, int64_t C, const float *x, float *y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; b++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t t = 0; t < L; t++) y[(b * C + c) * L + t] = x[(b * L + t) * C + c];
}
static void to_tokens(int64_t B, int64_t L, int64_t C, const float *x, float *y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < L; t++)
      for (int64_t c = 0; c < C; c++) y[(b * L + t) * C + c] = x[(b * C + c) * L + t];
}

/* (B, 3d, L) <-> three (B, d, L): the split of x1, x2, v and its gradient's merge */
static void split3(int64_t B, int64_t n, const float *x, float *a, float *b, float *c) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; i++) {
    memcpy(a + i * n, x + (3 * i) * n, (size_t)n * sizeof *x);
    memcpy(b + i * n, x + (3 * i + 1) * n, (size_t)n * sizeof *x);
    memcpy(c + i * n, x + (3 * i + 2) * n, (size_t)n * sizeof *x);
  }
}
static void merge3(int64_t B, int64_t n, const float *a, const float *b, const float *c, float *x) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; i++) {
    memcpy(x + (3 * i) * n, a + i * n, (size_t)n * sizeof *x);
    memcpy(x + (3 * i + 1) * n, b + i * n, (size_t)n * sizeof *x);
    memcpy(x + (3 * i + 2) * n, c + i * n, (size_t)n * sizeof *x);
  }
}

static void filter_inputs(m2 *m, float *const *w) {
  if (m->filter == 1) {
    m->filt.t[LCK_KERNEL] = w[KERNEL];
    m->filt.t[LCK_K] = m->k;
    return;
  }
  for (int i = 0; i < 8; i++) m->filt.t[HYF_W1 + i] = w[HW1 + i]; /* W1 b1 W2 b2 W3 b3 W4 freq: the same order */
  m->filt.t[HYF_K] = m->k;
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, double *aux) {
  (void)aux;
  m2 *m = p;
  int64_t B = m->s.B, L = m->s.L, T = m->s.T, d = m->s.d;
  smx_status s;
  if ((s = smx_linear_fwd_cpu(T, d, 3 * d, x, w[W_IN], w[B_IN], m->u))) return s;
  to_channels(B, L, 3 * d, m->u, m->ub);
  op_layer *c = &m->conv;
  c->t[SHORTCONV_X] = m->ub, c->t[SHORTCONV_W] = w[CONV_W], c->t[SHORTCONV_BIAS] = w[CONV_B], c->t[SHORTCONV_Y] = m->uc;
  if ((s = op_layer_run(c, SMX_FWD))) return s;
  split3(B, d * L, m->uc, m->x1, m->x2, m->v);
  filter_inputs(m, w);
  if ((s = op_layer_run(&m->filt, SMX_FWD))) return s;
  op_layer *f = &m->fft;
  f->t[FFTCONV_U] = m->v, f->t[FFTCONV_PRE] = m->x1, f->t[FFTCONV_POST] = m->x2, f->t[FFTCONV_K] = m->k;
  f->t[FFTCONV_D] = w[DSKIP], f->t[FFTCONV_Y] = m->yc;
  if ((s = op_layer_run(f, SMX_FWD))) return s;
  to_tokens(B, L, d, m->yc, m->yt);
  return smx_linear_fwd_cpu(T, d, d, m->yt, w[W_OUT], w[B_OUT], y);
}

static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  m2 *m = p;
  int64_t B = m->s.B, L = m->s.L, T = m->s.T, d = m->s.d;
  smx_status s;
  if ((s = smx_linear_bwd_cpu(T, d, d, m->yt, w[W_OUT], dy, m->dyt, g[W_OUT], g[B_OUT]))) return s;
  to_channels(B, L, d, m->dyt, m->dyc);
  op_layer *f = &m->fft;
  f->t[FFTCONV_U] = m->v, f->t[FFTCONV_PRE] = m->x1, f->t[FFTCONV_POST] = m->x2, f->t[FFTCONV_K] = m->k;
  f->t[FFTCONV_D] = w[DSKIP], f->t[FFTCONV_DY] = m->dyc;
  f->t[FFTCONV_DU] = m->dv, f->t[FFTCONV_DPRE] = m->dx1, f->t[FFTCONV_DPOST] = m->dx2, f->t[FFTCONV_DK] = m->dk;
  f->t[FFTCONV_DD] = g[DSKIP];
  if ((s = op_layer_run(f, SMX_BWD))) return s;
  filter_inputs(m, w);
  if (m->filter == 1) {
    m->filt.t[LCK_DK] = m->dk, m->filt.t[LCK_DKERNEL] = g[KERNEL];
  } else {
    m->filt.t[HYF_DK] = m->dk;
    for (int i = 0; i < 8; i++) m->filt.t[HYF_DW1 + i] = g[HW1 + i];
  }
  if ((s = op_layer_run(&m->filt, SMX_BWD))) return s;
  merge3(B, d * L, m->dx1, m->dx2, m->dv, m->duc);
  op_layer *c = &m->conv;
  c->t[SHORTCONV_X] = m->ub, c->t[SHORTCONV_W] = w[CONV_W], c->t[SHORTCONV_BIAS] = w[CONV_B], c->t[SHORTCONV_DY] = m->duc;
  c->t[SHORTCONV_DX] = m->dub, c->t[SHORTCONV_DW] = g[CONV_W], c->t[SHORTCONV_DBIAS] = g[CONV_B];
  if ((s = op_layer_run(c, SMX_BWD))) return s;
  to_tokens(B, L, 3 * d, m->dub, m->u); /* u is free now: it holds the in-projection's output gradient */
  return smx_linear_bwd_cpu(T, d, 3 * d, x, w[W_IN], m->u, dx, g[W_IN], g[B_IN]);
}

const mixer_kind mixer_m2 = {
    .name = "m2",
    .summary = "M2 sequence mixer: in-projection to 3d, short conv (K=3), gated long conv by an implicit hyena filter "
               "(or an explicit kernel), out-projection",
    .channel = 0, .n_opts = NOPT, .opts = opts,
    .tensors = tensors, .create = create, .destroy = destroy, .init = init, .forward = forward, .backward = backward,
    /* a slow sine keeps the filter MLP smooth enough for finite differences at h = 1e-2 */
    .check_options = "m2.w=1,m2.order=4",
    MIXER_DECODE_INIT(m2), /* tasks/mixer_m2_decode.c */
};
