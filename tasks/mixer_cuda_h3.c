/* Sequence mixer `h3` on CUDA: the H3 layer of tasks/mixer_h3.c (same tensors, options and math;
 * see there) with the projections by linear `cuda.cublas` (with bias), the shift SSM by shortconv
 * `cuda.direct` (shift <= 4) or an ungated fftconv `cuda.cufft`, the diagonal SSM's kernel by
 * ssm_kernel `cuda.vandermonde`, the gated long convolution by fftconv `cuda.cufft`, and the shift
 * kernel and layout glue of tasks/mixer_cuda_glue.cu.
 *
 *   build/tests/seqmix_tests --filter model_cuda/'*'      (needs a GPU; skipped otherwise)
 */
#include <stdio.h>

#include "reference/fftconv.h"
#include "reference/linear.h"
#include "reference/shortconv.h"
#include "reference/ssm_kernel.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops_cuda.h"
#include "tasks/mixer_cuda.h"
#include "tasks/op_layer.h"

/* tasks/mixer_h3.c's option and tensor order */
enum { O_N, O_SHIFT };
enum { WQ, BQ, WK, BK, WV, BV, SB, SC, DK, LOGDT, LOGARE, AIM, SSB, SSC, DD, WO, BO };

typedef struct h3_cuda {
  mixer_shape s;
  int64_t M, S;
  int shortconv;
  op_layer lin, conv, kern, shift;
  float *tm, *ym, *qT, *kT, *vT, *ksT, *yT, *kssm, *dkssm, *ksh, *dksh, *w, *dw;
  float *dyT, *dvT, *dksT, *dqT, *dkT, *dtmp;
} h3_cuda;

static void destroy(void *p) {
  h3_cuda *h = p;
  if (!h) return;
  op_layer_destroy(&h->lin), op_layer_destroy(&h->conv), op_layer_destroy(&h->kern), op_layer_destroy(&h->shift);
  float *b[] = {h->tm, h->ym, h->qT, h->kT, h->vT, h->ksT, h->yT, h->kssm, h->dkssm, h->ksh, h->dksh,
                h->w, h->dw, h->dyT, h->dvT, h->dksT, h->dqT, h->dkT, h->dtmp};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) mixer_cuda_free(b[i]);
  smx_host_free(h);
}

static smx_status create(const mixer_shape *s, void **out) {
  *out = NULL;
  h3_cuda *h = smx_host_alloc(sizeof *h);
  if (!h) return smx_fail(SMX_ERR_NOMEM, "h3: cannot allocate the layer");
  h->s = *s;
  h->M = (int64_t)s->opt[O_N] / 2, h->S = (int64_t)s->opt[O_SHIFT];
  long long d = s->d, T = s->T;
  char sp[160];
  snprintf(sp, sizeof sp, "T=%lld,din=%lld,dout=%lld,bias=1", T, d, d);
  smx_status st = op_layer_create(&h->lin, "linear", "cuda.cublas", sp);
  mixer_spec conv_spec, kern_spec, shift_spec;
  mixer_h3_op_specs(s, conv_spec, kern_spec, shift_spec, &h->shortconv);
  if (st == SMX_OK) st = op_layer_create(&h->conv, "fftconv", "cuda.cufft", conv_spec);
  if (st == SMX_OK) st = op_layer_create(&h->kern, "ssm_kernel", "cuda.vandermonde", kern_spec);
  if (st == SMX_OK)
    st = h->shortconv ? op_layer_create(&h->shift, "shortconv", "cuda.direct", shift_spec)
                      : op_layer_create(&h->shift, "fftconv", "cuda.cufft", shift_spec);
  long long L = s->L;
  size_t Td = (size_t)(T * d), dL = (size_t)(d * L), dS = (size_t)(d * h->S), wn = h->shortconv ? dS : dL;
  if (st == SMX_OK)
    st = mixer_cuda_alloc("h3", &h->tm, Td, &h->ym, Td, &h->qT, Td, &h->kT, Td, &h->vT, Td, &h->ksT, Td, &h->yT, Td, &h->kssm,
                          dL, &h->dkssm, dL, &h->ksh, dS, &h->dksh, dS, &h->w, wn, &h->dw, wn, &h->dyT, Td, &h->dvT, Td,
                          &h->dksT, Td, &h->dqT, Td, &h->dkT, Td, &h->dtmp, Td, (float **)NULL);
  if (st != SMX_OK) {
    destroy(h);
    return st;
  }
  *out = h;
  return SMX_OK;
}

static smx_status lin_fwd(h3_cuda *h, const float *x, const float *w, const float *b, float *y) {
  op_layer *l = &h->lin;
  l->t[LIN_X] = (float *)x, l->t[LIN_W] = (float *)w, l->t[LIN_B] = (float *)b, l->t[LIN_Y] = y;
  return op_layer_run(l, SMX_FWD);
}

static smx_status lin_bwd(h3_cuda *h, const float *x, const float *w, const float *b, const float *dy, float *dx, float *dw,
                          float *db) {
  op_layer *l = &h->lin;
  l->t[LIN_X] = (float *)x, l->t[LIN_W] = (float *)w, l->t[LIN_B] = (float *)b, l->t[LIN_DY] = (float *)dy;
  l->t[LIN_DX] = dx, l->t[LIN_DW] = dw, l->t[LIN_DB] = db;
  return op_layer_run(l, SMX_BWD);
}

static void conv_inputs(h3_cuda *h, float *const *p) {
  op_layer *cv = &h->conv;
  cv->t[FFTCONV_U] = h->vT, cv->t[FFTCONV_K] = h->kssm, cv->t[FFTCONV_D] = p[DD];
  cv->t[FFTCONV_PRE] = h->ksT, cv->t[FFTCONV_POST] = h->qT;
}

static void kern_inputs(h3_cuda *h, float *const *p) {
  op_layer *kn = &h->kern;
  kn->t[SSMK_LOGDT] = p[LOGDT], kn->t[SSMK_LOGARE] = p[LOGARE], kn->t[SSMK_AIM] = p[AIM];
  kn->t[SSMK_B] = p[SSB], kn->t[SSMK_C] = p[SSC];
}

static smx_status forward(void *ps, float *const *p, const float *x, float *y, float *aux) {
  (void)aux;
  h3_cuda *h = ps;
  int64_t B = h->s.B, L = h->s.L, d = h->s.d;
  smx_status s;
  if ((s = lin_fwd(h, x, p[WQ], p[BQ], h->tm)) || (s = mixer_cuda_to_channels(B, L, d, h->tm, h->qT)) ||
      (s = lin_fwd(h, x, p[WK], p[BK], h->tm)) || (s = mixer_cuda_to_channels(B, L, d, h->tm, h->kT)) ||
      (s = lin_fwd(h, x, p[WV], p[BV], h->tm)) || (s = mixer_cuda_to_channels(B, L, d, h->tm, h->vT)) ||
      (s = h3_cuda_shift_kernel(d, h->S, L, h->shortconv, p[SB], p[SC], p[DK], h->ksh, h->w)))
    return s;
  op_layer *sh = &h->shift;
  if (h->shortconv) {
    sh->t[SHORTCONV_X] = h->kT, sh->t[SHORTCONV_W] = h->w, sh->t[SHORTCONV_Y] = h->ksT;
  } else {
    sh->t[FFTCONV_U] = h->kT, sh->t[FFTCONV_K] = h->w, sh->t[FFTCONV_D] = p[DK], sh->t[FFTCONV_Y] = h->ksT;
  }
  if ((s = op_layer_run(sh, SMX_FWD))) return s;
  kern_inputs(h, p);
  h->kern.t[SSMK_K] = h->kssm;
  if ((s = op_layer_run(&h->kern, SMX_FWD))) return s;
  conv_inputs(h, p);
  h->conv.t[FFTCONV_Y] = h->yT;
  if ((s = op_layer_run(&h->conv, SMX_FWD)) || (s = mixer_cuda_to_tokens(B, L, d, h->yT, h->ym))) return s;
  return lin_fwd(h, h->ym, p[WO], p[BO], y);
}

static smx_status backward(void *ps, float *const *p, const float *x, const float *dy, float *dx, float *const *g) {
  h3_cuda *h = ps;
  int64_t B = h->s.B, L = h->s.L, d = h->s.d, n = h->s.T * h->s.d;
  smx_status s;
  if ((s = lin_bwd(h, h->ym, p[WO], p[BO], dy, h->tm, g[WO], g[BO])) || (s = mixer_cuda_to_channels(B, L, d, h->tm, h->dyT)))
    return s;
  conv_inputs(h, p);
  op_layer *cv = &h->conv;
  cv->t[FFTCONV_DY] = h->dyT, cv->t[FFTCONV_DU] = h->dvT, cv->t[FFTCONV_DK] = h->dkssm, cv->t[FFTCONV_DD] = g[DD];
  cv->t[FFTCONV_DPRE] = h->dksT, cv->t[FFTCONV_DPOST] = h->dqT;
  if ((s = op_layer_run(cv, SMX_BWD))) return s;
  kern_inputs(h, p);
  op_layer *kn = &h->kern;
  kn->t[SSMK_DK] = h->dkssm, kn->t[SSMK_DLOGDT] = g[LOGDT], kn->t[SSMK_DLOGARE] = g[LOGARE], kn->t[SSMK_DAIM] = g[AIM];
  kn->t[SSMK_DB] = g[SSB], kn->t[SSMK_DC] = g[SSC];
  if ((s = op_layer_run(kn, SMX_BWD))) return s;
  op_layer *sh = &h->shift;
  if (h->shortconv) {
    sh->t[SHORTCONV_X] = h->kT, sh->t[SHORTCONV_W] = h->w, sh->t[SHORTCONV_DY] = h->dksT;
    sh->t[SHORTCONV_DX] = h->dkT, sh->t[SHORTCONV_DW] = h->dw;
  } else {
    sh->t[FFTCONV_U] = h->kT, sh->t[FFTCONV_K] = h->w, sh->t[FFTCONV_D] = p[DK], sh->t[FFTCONV_DY] = h->dksT;
    sh->t[FFTCONV_DU] = h->dkT, sh->t[FFTCONV_DK] = h->dw, sh->t[FFTCONV_DD] = g[DK];
  }
  if ((s = op_layer_run(sh, SMX_BWD)) ||
      (s = h3_cuda_shift_kernel_bwd(d, h->S, L, h->shortconv, h->dw, p[SB], p[SC], h->dksh, g[SB], g[SC], g[DK])) ||
      (s = mixer_cuda_to_tokens(B, L, d, h->dqT, h->tm)) || (s = lin_bwd(h, x, p[WQ], p[BQ], h->tm, dx, g[WQ], g[BQ])) ||
      (s = mixer_cuda_to_tokens(B, L, d, h->dkT, h->tm)) || (s = lin_bwd(h, x, p[WK], p[BK], h->tm, h->dtmp, g[WK], g[BK])) ||
      (s = smx_cuda_add(dx, h->dtmp, n)) || (s = mixer_cuda_to_tokens(B, L, d, h->dvT, h->tm)) ||
      (s = lin_bwd(h, x, p[WV], p[BV], h->tm, h->dtmp, g[WV], g[BV])))
    return s;
  return smx_cuda_add(dx, h->dtmp, n);
}

const mixer_cuda_kind mixer_cuda_h3 = {"h3", create, destroy, forward, backward};
