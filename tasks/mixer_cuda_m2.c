/* Sequence mixer `m2` on CUDA: the M2 sequence mixer of tasks/mixer_m2.c (same tensors, options
 * and math; see there) with the projections by linear `cuda.cublas` (with bias), the short conv
 * by shortconv `cuda.direct`, the kernel by hyena_filter `cuda.blas` (filter=0) or longconv_kernel
 * `cuda.elementwise` (filter=1), the gated long convolution by fftconv `cuda.cufft`, and the layout
 * glue of tasks/mixer_cuda_glue.cu.
 *
 *   build/tests/seqmix_tests --filter model_cuda/'*'      (needs a GPU; skipped otherwise)
 */
#include <stdio.h>

#include "reference/fftconv.h"
#include "reference/hyena_filter.h"
#include "reference/linear.h"
#include "reference/longconv_kernel.h"
#include "reference/shortconv.h"
#include "seqmix/buffer.h"
#include "tasks/mixer_cuda.h"
#include "tasks/op_layer.h"

/* tasks/mixer_m2.c's tensor order */
enum { W_IN, B_IN, CONV_W, CONV_B, W_OUT, B_OUT, DSKIP, F0 };
enum { HW1 = F0 };
enum { KERNEL = F0 };

typedef struct m2_cuda {
  mixer_shape s;
  int filter;
  op_layer lin_in, lin_out, conv, fft, filt;
  float *u, *ub, *uc, *x1, *x2, *v, *k, *yc, *yt;
  float *dyt, *dyc, *dv, *dx1, *dx2, *dk, *duc, *dub;
} m2_cuda;

static void destroy(void *p) {
  m2_cuda *m = p;
  if (!m) return;
  op_layer *ops[] = {&m->lin_in, &m->lin_out, &m->conv, &m->fft, &m->filt};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) op_layer_destroy(ops[i]);
  float *b[] = {m->u, m->ub, m->uc, m->x1, m->x2, m->v, m->k, m->yc, m->yt,
                m->dyt, m->dyc, m->dv, m->dx1, m->dx2, m->dk, m->duc, m->dub};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) mixer_cuda_free(b[i]);
  smx_host_free(m);
}

static smx_status create(const mixer_shape *s, void **out) {
  *out = NULL;
  m2_cuda *m = smx_host_alloc(sizeof *m);
  if (!m) return smx_fail(SMX_ERR_NOMEM, "m2: cannot allocate the layer");
  m->s = *s;
  long long d = s->d, T = s->T;
  char spec[160];
  snprintf(spec, sizeof spec, "T=%lld,din=%lld,dout=%lld,bias=1", T, d, 3 * d);
  smx_status st = op_layer_create(&m->lin_in, "linear", "cuda.cublas", spec);
  if (st == SMX_OK) {
    snprintf(spec, sizeof spec, "T=%lld,din=%lld,dout=%lld,bias=1", T, d, d);
    st = op_layer_create(&m->lin_out, "linear", "cuda.cublas", spec);
  }
  mixer_spec conv_spec, fft_spec, filt_spec;
  mixer_m2_op_specs(s, conv_spec, fft_spec, filt_spec, &m->filter);
  if (st == SMX_OK) st = op_layer_create(&m->conv, "shortconv", "cuda.direct", conv_spec);
  if (st == SMX_OK) st = op_layer_create(&m->fft, "fftconv", "cuda.cufft", fft_spec);
  if (st == SMX_OK)
    st = m->filter == 1 ? op_layer_create(&m->filt, "longconv_kernel", "cuda.elementwise", filt_spec)
                        : op_layer_create(&m->filt, "hyena_filter", "cuda.blas", filt_spec);
  size_t Td = (size_t)(s->T * s->d), dL = (size_t)(s->d * s->L);
  if (st == SMX_OK)
    st = mixer_cuda_alloc("m2", &m->u, 3 * Td, &m->ub, 3 * Td, &m->uc, 3 * Td, &m->x1, Td, &m->x2, Td, &m->v, Td, &m->k, dL,
                          &m->yc, Td, &m->yt, Td, &m->dyt, Td, &m->dyc, Td, &m->dv, Td, &m->dx1, Td, &m->dx2, Td, &m->dk, dL,
                          &m->duc, 3 * Td, &m->dub, 3 * Td, (float **)NULL);
  if (st != SMX_OK) {
    destroy(m);
    return st;
  }
  *out = m;
  return SMX_OK;
}

static void filter_inputs(m2_cuda *m, float *const *w) {
  if (m->filter == 1) {
    m->filt.t[LCK_KERNEL] = w[KERNEL];
    m->filt.t[LCK_K] = m->k;
    return;
  }
  for (int i = 0; i < 8; i++) m->filt.t[HYF_W1 + i] = w[HW1 + i]; /* W1 b1 W2 b2 W3 b3 W4 freq: the same order */
  m->filt.t[HYF_K] = m->k;
}

static void fft_inputs(m2_cuda *m, float *const *w) {
  op_layer *f = &m->fft;
  f->t[FFTCONV_U] = m->v, f->t[FFTCONV_PRE] = m->x1, f->t[FFTCONV_POST] = m->x2, f->t[FFTCONV_K] = m->k;
  f->t[FFTCONV_D] = w[DSKIP];
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, float *aux) {
  (void)aux;
  m2_cuda *m = p;
  int64_t B = m->s.B, L = m->s.L, d = m->s.d;
  smx_status s;
  op_layer *li = &m->lin_in;
  li->t[LIN_X] = (float *)x, li->t[LIN_W] = w[W_IN], li->t[LIN_B] = w[B_IN], li->t[LIN_Y] = m->u;
  if ((s = op_layer_run(li, SMX_FWD)) || (s = mixer_cuda_to_channels(B, L, 3 * d, m->u, m->ub))) return s;
  op_layer *c = &m->conv;
  c->t[SHORTCONV_X] = m->ub, c->t[SHORTCONV_W] = w[CONV_W], c->t[SHORTCONV_BIAS] = w[CONV_B], c->t[SHORTCONV_Y] = m->uc;
  if ((s = op_layer_run(c, SMX_FWD)) || (s = mixer_cuda_split3(B, d * L, m->uc, m->x1, m->x2, m->v))) return s;
  filter_inputs(m, w);
  if ((s = op_layer_run(&m->filt, SMX_FWD))) return s;
  fft_inputs(m, w);
  m->fft.t[FFTCONV_Y] = m->yc;
  if ((s = op_layer_run(&m->fft, SMX_FWD)) || (s = mixer_cuda_to_tokens(B, L, d, m->yc, m->yt))) return s;
  op_layer *lo = &m->lin_out;
  lo->t[LIN_X] = m->yt, lo->t[LIN_W] = w[W_OUT], lo->t[LIN_B] = w[B_OUT], lo->t[LIN_Y] = y;
  return op_layer_run(lo, SMX_FWD);
}

static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  m2_cuda *m = p;
  int64_t B = m->s.B, L = m->s.L, d = m->s.d;
  smx_status s;
  op_layer *lo = &m->lin_out;
  lo->t[LIN_X] = m->yt, lo->t[LIN_W] = w[W_OUT], lo->t[LIN_B] = w[B_OUT], lo->t[LIN_DY] = (float *)dy;
  lo->t[LIN_DX] = m->dyt, lo->t[LIN_DW] = g[W_OUT], lo->t[LIN_DB] = g[B_OUT];
  if ((s = op_layer_run(lo, SMX_BWD)) || (s = mixer_cuda_to_channels(B, L, d, m->dyt, m->dyc))) return s;
  fft_inputs(m, w);
  op_layer *f = &m->fft;
  f->t[FFTCONV_DY] = m->dyc, f->t[FFTCONV_DU] = m->dv, f->t[FFTCONV_DPRE] = m->dx1, f->t[FFTCONV_DPOST] = m->dx2;
  f->t[FFTCONV_DK] = m->dk, f->t[FFTCONV_DD] = g[DSKIP];
  if ((s = op_layer_run(f, SMX_BWD))) return s;
  filter_inputs(m, w);
  if (m->filter == 1) {
    m->filt.t[LCK_DK] = m->dk, m->filt.t[LCK_DKERNEL] = g[KERNEL];
  } else {
    m->filt.t[HYF_DK] = m->dk;
    for (int i = 0; i < 8; i++) m->filt.t[HYF_DW1 + i] = g[HW1 + i];
  }
  if ((s = op_layer_run(&m->filt, SMX_BWD)) || (s = mixer_cuda_merge3(B, d * L, m->dx1, m->dx2, m->dv, m->duc))) return s;
  op_layer *c = &m->conv;
  c->t[SHORTCONV_X] = m->ub, c->t[SHORTCONV_W] = w[CONV_W], c->t[SHORTCONV_BIAS] = w[CONV_B], c->t[SHORTCONV_DY] = m->duc;
  c->t[SHORTCONV_DX] = m->dub, c->t[SHORTCONV_DW] = g[CONV_W], c->t[SHORTCONV_DBIAS] = g[CONV_B];
  if ((s = op_layer_run(c, SMX_BWD)) || (s = mixer_cuda_to_tokens(B, L, 3 * d, m->dub, m->u))) return s;
  op_layer *li = &m->lin_in; /* u is free now: it holds the in-projection's output gradient */
  li->t[LIN_X] = (float *)x, li->t[LIN_W] = w[W_IN], li->t[LIN_B] = w[B_IN], li->t[LIN_DY] = m->u;
  li->t[LIN_DX] = dx, li->t[LIN_DW] = g[W_IN], li->t[LIN_DB] = g[B_IN];
  return op_layer_run(li, SMX_BWD);
}

const mixer_cuda_kind mixer_cuda_m2 = {"m2", create, destroy, forward, backward};
