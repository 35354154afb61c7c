/* Sequence mixer `ssd` on CUDA: the Mamba-2 block of tasks/mixer_ssd.c (same tensors, options and
 * math; see there) with in_proj and out_proj by linear `cuda.cublas`, the causal conv by shortconv
 * `cuda.direct`, the SSD by ssd `cuda.chunked` (chunk <= 256), the grouped RMSNorm by rmsnorm
 * `cuda.rows` with a unit gain, and the elementwise steps in tasks/mixer_cuda_glue.cu.
 *
 *   build/tests/seqmix_tests --filter model_cuda/'*'      (needs a GPU; skipped otherwise)
 */
#include <stdio.h>

#include "reference/linear.h"
#include "reference/norm.h"
#include "reference/shortconv.h"
#include "reference/ssd.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops_cuda.h"
#include "tasks/mixer_cuda.h"
#include "tasks/mixer_ssd.h"
#include "tasks/op_layer.h"

/* tasks/mixer_ssd.c's tensor order */
enum { W_IN, CONV_W, CONV_B, DT_BIAS, A_LOG, D_SKIP, NORM_W, W_OUT };

typedef struct ssd_cuda {
  mixer_shape s;
  ssd_layer_dims k;
  op_layer in_z, in_xbc, in_dt, out, conv, ssd, norm; /* the linears by output width: E, C, H; out: E -> d */
  float *z, *dt, *xbc, *xbcT, *convT, *xs, *bm, *cm, *A, *y, *rstd, *yn, *yo, *ones;
  float *dyo, *dyn, *dy, *dxs, *dbm, *dcm, *ddt, *dz, *dA, *dconvT, *dxbcT, *dtmp;
} ssd_cuda;

static void destroy(void *p) {
  ssd_cuda *l = p;
  if (!l) return;
  op_layer *ops[] = {&l->in_z, &l->in_xbc, &l->in_dt, &l->out, &l->conv, &l->ssd, &l->norm};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) op_layer_destroy(ops[i]);
  float *b[] = {l->z,   l->dt,  l->xbc, l->xbcT, l->convT, l->xs,  l->bm,  l->cm,  l->A,      l->y,     l->rstd,
                l->yn,  l->yo,  l->ones, l->dyo, l->dyn,  l->dy,  l->dxs, l->dbm, l->dcm, l->ddt, l->dz,
                l->dA,  l->dconvT, l->dxbcT, l->dtmp};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) mixer_cuda_free(b[i]);
  smx_host_free(l);
}

static smx_status linear_op(op_layer *l, int64_t T, int64_t din, int64_t dout) {
  char spec[128];
  snprintf(spec, sizeof spec, "T=%lld,din=%lld,dout=%lld,bias=0", (long long)T, (long long)din, (long long)dout);
  return op_layer_create(l, "linear", "cuda.cublas", spec);
}

static smx_status create(const mixer_shape *s, void **out) {
  *out = NULL;
  ssd_cuda *l = smx_host_alloc(sizeof *l);
  if (!l) return smx_fail(SMX_ERR_NOMEM, "ssd: cannot allocate the layer");
  l->s = *s;
  smx_status st = mixer_ssd_dims(s, &l->k);
  const ssd_layer_dims *k = &l->k;
  int64_t T = s->T, d = s->d;
  if (st == SMX_OK) st = linear_op(&l->in_z, T, d, k->E);
  if (st == SMX_OK) st = linear_op(&l->in_xbc, T, d, k->C);
  if (st == SMX_OK) st = linear_op(&l->in_dt, T, d, k->H);
  if (st == SMX_OK) st = linear_op(&l->out, T, k->E, d);
  mixer_spec conv_spec, ssd_spec;
  mixer_ssd_op_specs(s, conv_spec, ssd_spec);
  if (st == SMX_OK) st = op_layer_create(&l->conv, "shortconv", "cuda.direct", conv_spec);
  if (st == SMX_OK) st = op_layer_create(&l->ssd, "ssd", "cuda.chunked", ssd_spec);
  char spec[128];
  if (st == SMX_OK) {
    snprintf(spec, sizeof spec, "T=%lld,d=%lld", (long long)(T * k->G), (long long)(k->E / k->G));
    st = op_layer_create(&l->norm, "rmsnorm", "cuda.rows", spec);
  }
  size_t t = (size_t)T, E = (size_t)k->E, H = (size_t)k->H, GN = (size_t)(k->G * k->N), C = (size_t)k->C;
  if (st == SMX_OK)
    st = mixer_cuda_alloc("ssd", &l->z, t * E, &l->dt, t * H, &l->xbc, t * C, &l->xbcT, t * C, &l->convT, t * C, &l->xs,
                          t * E, &l->bm, t * GN, &l->cm, t * GN, &l->A, H, &l->y, t * E, &l->rstd, t * (size_t)k->G, &l->yn,
                          t * E, &l->yo, t * E, &l->ones, E / (size_t)k->G, &l->dyo, t * E, &l->dyn, t * E, &l->dy, t * E,
                          &l->dxs, t * E, &l->dbm, t * GN, &l->dcm, t * GN, &l->ddt, t * H, &l->dz, t * E, &l->dA, H,
                          &l->dconvT, t * C, &l->dxbcT, t * C, &l->dtmp, t * (size_t)d, (float **)NULL);
  if (st == SMX_OK) st = ssd_cuda_fill(k->E / k->G, 1.0f, l->ones);
  if (st != SMX_OK) {
    destroy(l);
    return st;
  }
  *out = l;
  return SMX_OK;
}

static smx_status lin_fwd(op_layer *l, const float *x, const float *w, float *y) {
  l->t[LIN_X] = (float *)x, l->t[LIN_W] = (float *)w, l->t[LIN_Y] = y;
  return op_layer_run(l, SMX_FWD);
}

static smx_status lin_bwd(op_layer *l, const float *x, const float *w, const float *dy, float *dx, float *dw) {
  l->t[LIN_X] = (float *)x, l->t[LIN_W] = (float *)w, l->t[LIN_DY] = (float *)dy, l->t[LIN_DX] = dx, l->t[LIN_DW] = dw;
  return op_layer_run(l, SMX_BWD);
}

static void ssd_inputs(ssd_cuda *l, float *const *w) {
  op_layer *o = &l->ssd;
  o->t[SSD_X] = l->xs, o->t[SSD_DT] = l->dt, o->t[SSD_A] = l->A, o->t[SSD_BM] = l->bm, o->t[SSD_CM] = l->cm;
  o->t[SSD_D] = w[D_SKIP], o->t[SSD_Z] = l->z, o->t[SSD_DTBIAS] = w[DT_BIAS], o->t[SSD_Y] = l->y;
}

static smx_status forward(void *p, float *const *w, const float *x, float *out, float *aux) {
  (void)aux;
  ssd_cuda *l = p;
  const ssd_layer_dims *k = &l->k;
  int64_t T = l->s.T, d = l->s.d, B = l->s.B, L = l->s.L, E = k->E, C = k->C, GN = k->G * k->N;
  smx_status s;
  if ((s = lin_fwd(&l->in_z, x, w[W_IN], l->z)) || (s = lin_fwd(&l->in_xbc, x, w[W_IN] + E * d, l->xbc)) ||
      (s = lin_fwd(&l->in_dt, x, w[W_IN] + (E + C) * d, l->dt)) || (s = mixer_cuda_to_channels(B, L, C, l->xbc, l->xbcT)))
    return s;
  op_layer *cv = &l->conv;
  cv->t[SHORTCONV_X] = l->xbcT, cv->t[SHORTCONV_W] = w[CONV_W], cv->t[SHORTCONV_BIAS] = w[CONV_B], cv->t[SHORTCONV_Y] = l->convT;
  if ((s = op_layer_run(cv, SMX_FWD)) || (s = ssd_cuda_silu_split(B, L, C, E, GN, l->convT, l->xs, l->bm, l->cm)) ||
      (s = ssd_cuda_neg_exp(k->H, w[A_LOG], l->A)))
    return s;
  ssd_inputs(l, w);
  if ((s = op_layer_run(&l->ssd, SMX_FWD))) return s;
  op_layer *n = &l->norm;
  n->t[RMS_X] = l->y, n->t[RMS_W] = l->ones, n->t[RMS_Y] = l->yn, n->t[RMS_RSTD] = l->rstd;
  if ((s = op_layer_run(n, SMX_FWD)) || (s = ssd_cuda_scale_cols(T, E, l->yn, w[NORM_W], l->yo))) return s;
  return lin_fwd(&l->out, l->yo, w[W_OUT], out);
}

static smx_status backward(void *p, float *const *w, const float *x, const float *dout, float *dx, float *const *g) {
  ssd_cuda *l = p;
  const ssd_layer_dims *k = &l->k;
  int64_t T = l->s.T, d = l->s.d, B = l->s.B, L = l->s.L, E = k->E, C = k->C, H = k->H, GN = k->G * k->N;
  smx_status s;
  if ((s = lin_bwd(&l->out, l->yo, w[W_OUT], dout, l->dyo, g[W_OUT])) ||
      (s = ssd_cuda_col_dot(T, E, l->dyo, l->yn, g[NORM_W])) || (s = ssd_cuda_scale_cols(T, E, l->dyo, w[NORM_W], l->dyn)))
    return s;
  op_layer *n = &l->norm;
  n->t[RMS_X] = l->y, n->t[RMS_W] = l->ones, n->t[RMS_RSTD] = l->rstd, n->t[RMS_DY] = l->dyn, n->t[RMS_DX] = l->dy;
  if ((s = op_layer_run(n, SMX_BWD))) return s;
  ssd_inputs(l, w);
  op_layer *o = &l->ssd;
  o->t[SSD_DY] = l->dy, o->t[SSD_DX] = l->dxs, o->t[SSD_DDT] = l->ddt, o->t[SSD_DA] = l->dA, o->t[SSD_DBM] = l->dbm;
  o->t[SSD_DCM] = l->dcm, o->t[SSD_DD] = g[D_SKIP], o->t[SSD_DZ] = l->dz, o->t[SSD_DDTBIAS] = g[DT_BIAS];
  if ((s = op_layer_run(o, SMX_BWD)) || (s = ssd_cuda_mul(H, l->dA, l->A, g[A_LOG])) || /* dA_log = dA * A */
      (s = ssd_cuda_silu_join_bwd(B, L, C, E, GN, l->dxs, l->dbm, l->dcm, l->convT, l->dconvT)))
    return s;
  op_layer *cv = &l->conv;
  cv->t[SHORTCONV_X] = l->xbcT, cv->t[SHORTCONV_W] = w[CONV_W], cv->t[SHORTCONV_BIAS] = w[CONV_B], cv->t[SHORTCONV_Y] = l->convT;
  cv->t[SHORTCONV_DY] = l->dconvT, cv->t[SHORTCONV_DX] = l->dxbcT, cv->t[SHORTCONV_DW] = g[CONV_W], cv->t[SHORTCONV_DBIAS] = g[CONV_B];
  if ((s = op_layer_run(cv, SMX_BWD)) || (s = mixer_cuda_to_tokens(B, L, C, l->dxbcT, l->xbc)) ||
      (s = lin_bwd(&l->in_z, x, w[W_IN], l->dz, dx, g[W_IN])) ||
      (s = lin_bwd(&l->in_xbc, x, w[W_IN] + E * d, l->xbc, l->dtmp, g[W_IN] + E * d)) || (s = smx_cuda_add(dx, l->dtmp, T * d)) ||
      (s = lin_bwd(&l->in_dt, x, w[W_IN] + (E + C) * d, l->ddt, l->dtmp, g[W_IN] + (E + C) * d)))
    return s;
  return smx_cuda_add(dx, l->dtmp, T * d);
}

const mixer_cuda_kind mixer_cuda_ssd = {"ssd", create, destroy, forward, backward};
