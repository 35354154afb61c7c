/* Sequence mixer `ssd`: the Mamba-2 block (state-spaces/mamba, mamba_ssm/modules/mamba2.py, the
 * anchor for the composition and the initialization), with Wonderful Matrices' RoPE on C and B as
 * an option (ssd.rope=1: the Cheems SSD layer's change). E = expand d inner channels in H = E / P
 * heads of dimension P, state N, G groups of B and C:
 *
 *   [z, xBC, dt] = x Win^T                 z (T, E), xBC (T, E + 2 G N), dt (T, H): one in_proj
 *   xBC = silu(conv(xBC))                  causal depthwise conv of K taps with bias   shortconv cpu.direct
 *   [xs, B, C] = xBC
 *   A = -exp(A_log)
 *   y = ssd(xs, dt, A, B, C, D, z, dt_bias) (gate = 1: y0 * silu(z); softplus = 1;
 *                                            rope = ssd.rope; chunk = ssd.chunk)      ssd cpu.chunked
 *   y = rmsnorm_groups(y) * w              RMS over each group's E / G channels, gain w (E)   rmsnorm
 *   out = y Wout^T                                                                     linear
 *
 * Mamba-2's RMSNormGated with norm_before_gate = False computes rmsnorm(y0 * silu(z)) * w per group
 * of E / G channels: the op applies the gate, then smx_rmsnorm_fwd_cpu normalizes the (T G) rows of
 * E / G channels with a unit gain and the glue multiplies by the learned gain w (E), so the result
 * is Mamba-2's exactly (eps 1e-5) for every G. As mamba2.py's defaults: no biases on in_proj and
 * out_proj, D per head (D_has_hdim = False), no dt clamp (dt_limit = (0, inf)). Initialization as
 * mamba2.py: A_log = log U[1, 16] (the op takes A itself, A < 0: the layer passes -exp(A_log) and
 * returns dA_log = dA * A); dt_bias = softplus^-1(dt), dt = exp(U[log 1e-3, log 1e-1]) floored at
 * 1e-4; D = 1; the conv weight and bias as PyTorch's Conv1d default (U(-1/sqrt K, 1/sqrt K),
 * fan-in K for a depthwise conv); the gain 1. A_log, D, dt_bias, the conv bias and the gain take no
 * weight decay. Departures: in_proj N(0, init_std) and out_proj the model's scaled MI_OUT (the
 * model's convention; mamba_ssm keeps PyTorch's kaiming-uniform Linear init); smaller defaults of
 * P, N and chunk (mamba2.py: 64, 128, 256); a sequence starts from a zero state (no h0, no seq_idx).
 *
 * Layouts: the activations are token-major (B, L, channels), which is the ssd op's (B, L, H, P) for
 * xs, z, y and (B, L, G, N) for B, C once each is its own contiguous buffer (in_proj's three row
 * blocks are three GEMMs, and the split after the conv is a copy); shortconv wants (B, C, L), time
 * contiguous, so the glue transposes around it.
 *
 *   build/tests/seqmix_tests --filter mixers/'*'
 *   build/tests/seqmix_tests --filter model_wm/'*'
 */
#include <math.h>
#include <stdio.h>

#include "reference/shortconv.h"
#include "reference/ssd.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "tasks/mixer.h"
#include "tasks/mixer_decode.h"
#include "tasks/mixer_ssd.h"
#include "tasks/op_layer.h"

enum { W_IN, CONV_W, CONV_B, DT_BIAS, A_LOG, D_SKIP, NORM_W, W_OUT, NT };
enum { O_EXPAND, O_P, O_N, O_G, O_CONV, O_ROPE, O_CHUNK, NO };

static const mixer_opt opts[NO] = {
    {"expand", 1, 8, 2, 1, "inner width E = expand * d"},
    {"P", 1, 512, 16, 1, "head dimension (E / P heads)"},
    {"N", 1, 512, 16, 1, "state dimension (Mamba-2: 128; Wonderful Matrices' MQAR: 128); even with rope=1"},
    {"G", 1, 4096, 1, 1, "groups of B and C (divides the heads)"},
    {"conv", 2, 4, 4, 1, "causal conv taps"},
    {"rope", 0, 1, 0, 1, "1 = RoPE on C and B (Wonderful Matrices)"},
    {"chunk", 1, 1024, 64, 1, "chunk length of the chunked SSD (Mamba-2: 256)"},
};

#define NORM_EPS 1e-5f

typedef struct ssd_layer {
  mixer_shape s;
  int64_t E, H, P, G, N, C, K; /* C = E + 2 G N conv channels */
  op_layer conv, ssd;
  /* forward activations kept for the backward */
  float *z, *dt, *xbcT, *convT, *xs, *bm, *cm, *A, *y, *rstd, *yn, *yo, *ones;
  /* backward scratch */
  float *xbc, *dyo, *dyn, *dy, *dxs, *dbm, *dcm, *ddt, *dz, *dA, *dconvT, *dxbcT, *dtmp;
} ssd_layer;

static smx_status dims(const mixer_shape *s, int64_t *E, int64_t *H, int64_t *P, int64_t *G, int64_t *N) {
  *E = (int64_t)s->opt[O_EXPAND] * s->d, *P = (int64_t)s->opt[O_P], *G = (int64_t)s->opt[O_G], *N = (int64_t)s->opt[O_N];
  if (*E % *P)
    return smx_fail(SMX_ERR_INVALID, "ssd: ssd.P=%lld must divide the inner width E = expand * d = %lld", (long long)*P,
                    (long long)*E);
  *H = *E / *P;
  if (*H % *G)
    return smx_fail(SMX_ERR_INVALID, "ssd: ssd.G=%lld must divide the heads E / P = %lld", (long long)*G, (long long)*H);
  if (s->opt[O_ROPE] != 0 && *N % 2) return smx_fail(SMX_ERR_INVALID, "ssd: ssd.N=%lld must be even with ssd.rope=1", (long long)*N);
  return SMX_OK;
}

smx_status mixer_ssd_dims(const mixer_shape *s, ssd_layer_dims *o) {
  smx_status st = dims(s, &o->E, &o->H, &o->P, &o->G, &o->N);
  if (st != SMX_OK) return st;
  o->C = o->E + 2 * o->G * o->N, o->K = (int64_t)s->opt[O_CONV], o->chunk = (int64_t)s->opt[O_CHUNK];
  o->rope = s->opt[O_ROPE] != 0;
  return SMX_OK;
}

void mixer_ssd_op_specs(const mixer_shape *s, mixer_spec conv, mixer_spec ssd) {
  ssd_layer_dims k = {0};
  (void)mixer_ssd_dims(s, &k); /* validated by tensors() before any layer is made */
  snprintf(conv, MIXER_SPEC_LEN, "B=%lld,H=%lld,L=%lld,K=%lld,bias=1", (long long)s->B, (long long)k.C, (long long)s->L,
           (long long)k.K);
  snprintf(ssd, MIXER_SPEC_LEN, "B=%lld,L=%lld,H=%lld,P=%lld,G=%lld,N=%lld,chunk=%lld,rope=%d,gate=1,init=0,softplus=1",
           (long long)s->B, (long long)s->L, (long long)k.H, (long long)k.P, (long long)k.G, (long long)k.N,
           (long long)k.chunk, k.rope);
}

static smx_status tensors(const mixer_shape *s, mixer_tensor *t, int *n) {
  int64_t E = 0, H = 0, P = 0, G = 0, N = 0;
  smx_status st = dims(s, &E, &H, &P, &G, &N);
  if (st != SMX_OK) return st;
  size_t d = (size_t)s->d, C = (size_t)(E + 2 * G * N), K = (size_t)s->opt[O_CONV];
  t[W_IN] = (mixer_tensor){"in_proj", ((size_t)E + C + (size_t)H) * d, MI_NORMAL, 1};
  t[CONV_W] = (mixer_tensor){"conv_w", C * K, MI_CUSTOM, 1};
  t[CONV_B] = (mixer_tensor){"conv_b", C, MI_CUSTOM, 0};
  t[DT_BIAS] = (mixer_tensor){"dt_bias", (size_t)H, MI_CUSTOM, 0};
  t[A_LOG] = (mixer_tensor){"A_log", (size_t)H, MI_CUSTOM, 0};
  t[D_SKIP] = (mixer_tensor){"D", (size_t)H, MI_ONES, 0};
  t[NORM_W] = (mixer_tensor){"norm_w", (size_t)E, MI_ONES, 0};
  t[W_OUT] = (mixer_tensor){"out_proj", d * (size_t)E, MI_OUT, 1};
  *n = NT;
  return SMX_OK;
}

/* mamba2.py's initialization of the SSM tensors and PyTorch's Conv1d default for the conv */
static void init(const mixer_shape *s, int i, float *t, size_t n, uint64_t seed, uint32_t stream) {
  if (i == CONV_W || i == CONV_B) {
    float b = 1.0f / sqrtf((float)s->opt[O_CONV]);
    mixer_fill_uniform(t, n, seed, stream, -b, b);
  } else if (i == A_LOG) {
    mixer_fill_uniform(t, n, seed, stream, 1.0f, 16.0f);
    for (size_t j = 0; j < n; j++) t[j] = logf(t[j]);
  } else if (i == DT_BIAS) {
    mixer_fill_uniform(t, n, seed, stream, 0.0f, 1.0f);
    for (size_t j = 0; j < n; j++) {
      double dt = exp((double)t[j] * (log(0.1) - log(1e-3)) + log(1e-3));
      if (dt < 1e-4) dt = 1e-4;
      t[j] = (float)(dt + log(-expm1(-dt))); /* softplus^-1 */
    }
  }
}

static void destroy(void *p) {
  ssd_layer *l = p;
  if (!l) return;
  op_layer_destroy(&l->conv);
  op_layer_destroy(&l->ssd);
  float *b[] = {l->z,  l->dt,  l->xbcT, l->convT, l->xs,  l->bm,  l->cm,  l->A,   l->y,   l->rstd,   l->yn,    l->yo,
                l->ones, l->xbc, l->dyo, l->dyn, l->dy, l->dxs, l->dbm, l->dcm, l->ddt, l->dz, l->dA, l->dconvT, l->dxbcT, l->dtmp};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  smx_host_free(l);
}

static smx_status create(const mixer_shape *s, void **out) {
  ssd_layer *l = smx_host_alloc(sizeof *l);
  if (!l) return smx_fail(SMX_ERR_NOMEM, "ssd: cannot allocate the layer");
  l->s = *s;
  smx_status st = dims(s, &l->E, &l->H, &l->P, &l->G, &l->N);
  if (st != SMX_OK) {
    destroy(l);
    return st;
  }
  l->C = l->E + 2 * l->G * l->N, l->K = (int64_t)s->opt[O_CONV];
  size_t T = (size_t)s->T, E = (size_t)l->E, H = (size_t)l->H, GN = (size_t)(l->G * l->N), C = (size_t)l->C;
  st = mixer_alloc("ssd", &l->z, T * E, &l->dt, T * H, &l->xbcT, T * C, &l->convT, T * C, &l->xs, T * E, &l->bm, T * GN,
                   &l->cm, T * GN, &l->A, H, &l->y, T * E, &l->rstd, T * (size_t)l->G, &l->yn, T * E, &l->yo, T * E,
                   &l->ones, E / (size_t)l->G, &l->xbc, T * C, &l->dyo, T * E, &l->dyn, T * E, &l->dy, T * E, &l->dxs, T * E,
                   &l->dbm, T * GN, &l->dcm, T * GN, &l->ddt, T * H, &l->dz, T * E, &l->dA, H, &l->dconvT, T * C,
                   &l->dxbcT, T * C, &l->dtmp, T * (size_t)s->d, (float **)NULL);
  mixer_spec conv_spec, ssd_spec;
  mixer_ssd_op_specs(s, conv_spec, ssd_spec);
  if (st == SMX_OK) st = op_layer_create(&l->conv, "shortconv", "cpu.direct", conv_spec);
  if (st == SMX_OK) st = op_layer_create(&l->ssd, "ssd", "cpu.chunked", ssd_spec);
  /* the layouts above are the ops': check the slot sizes once */
  if (st == SMX_OK &&
      (op_layer_numel(&l->conv, SHORTCONV_X) != T * C || op_layer_numel(&l->conv, SHORTCONV_W) != C * (size_t)l->K ||
       op_layer_numel(&l->ssd, SSD_X) != T * E || op_layer_numel(&l->ssd, SSD_Z) != T * E ||
       op_layer_numel(&l->ssd, SSD_DT) != T * H || op_layer_numel(&l->ssd, SSD_BM) != T * GN ||
       op_layer_numel(&l->ssd, SSD_A) != H || op_layer_numel(&l->ssd, SSD_DTBIAS) != H))
    st = smx_fail(SMX_ERR_INVALID, "ssd: the shortconv or ssd op's tensor sizes differ from the layer's layout");
  if (st != SMX_OK) {
    destroy(l);
    return st;
  }
  for (size_t i = 0; i < E / (size_t)l->G; i++) l->ones[i] = 1.0f;
  *out = l;
  return SMX_OK;
}

/* (B, L, C) <-> (B, C, L) */
static void to_time_major(const ssd_layer *l, const float *src, float *dst) {
  int64_t B = l->s.B, L = l->s.L, C = l->C;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; b++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t t = 0; t < L; t++) dst[(b * C + c) * L + t] = src[(b * L + t) * C + c];
}

static float sigmoidf(float a) { return 1.0f / (1.0f + expf(-a)); }

static smx_status forward(void *p, float *const *w, const float *x, float *out, double *aux) {
  (void)aux;
  ssd_layer *l = p;
  int64_t T = l->s.T, d = l->s.d, E = l->E, C = l->C, H = l->H, L = l->s.L, GN = l->G * l->N;
  smx_status s;
  if ((s = smx_linear_fwd_cpu(T, d, E, x, w[W_IN], NULL, l->z)) ||
      (s = smx_linear_fwd_cpu(T, d, C, x, w[W_IN] + E * d, NULL, l->xbc)) ||
      (s = smx_linear_fwd_cpu(T, d, H, x, w[W_IN] + (E + C) * d, NULL, l->dt)))
    return s;
  to_time_major(l, l->xbc, l->xbcT);
  op_layer *cv = &l->conv;
  cv->t[SHORTCONV_X] = l->xbcT, cv->t[SHORTCONV_W] = w[CONV_W], cv->t[SHORTCONV_BIAS] = w[CONV_B], cv->t[SHORTCONV_Y] = l->convT;
  if ((s = op_layer_run(cv, SMX_FWD))) return s;
  /* silu, back to token-major, split into x, B, C */
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) {
    int64_t b = t / L, i = t % L;
    for (int64_t c = 0; c < C; c++) {
      float a = l->convT[(b * C + c) * L + i], v = a * sigmoidf(a);
      if (c < E) l->xs[t * E + c] = v;
      else if (c < E + GN) l->bm[t * GN + c - E] = v;
      else l->cm[t * GN + c - E - GN] = v;
    }
  }
  for (int64_t h = 0; h < H; h++) l->A[h] = -expf(w[A_LOG][h]);
  op_layer *o = &l->ssd;
  o->t[SSD_X] = l->xs, o->t[SSD_DT] = l->dt, o->t[SSD_A] = l->A, o->t[SSD_BM] = l->bm, o->t[SSD_CM] = l->cm;
  o->t[SSD_D] = w[D_SKIP], o->t[SSD_Z] = l->z, o->t[SSD_DTBIAS] = w[DT_BIAS], o->t[SSD_Y] = l->y;
  if ((s = op_layer_run(o, SMX_FWD))) return s;
  int64_t gw = E / l->G;
  if ((s = smx_rmsnorm_fwd_cpu(T * l->G, gw, NORM_EPS, l->y, l->ones, l->yn, l->rstd))) return s;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++)
    for (int64_t e = 0; e < E; e++) l->yo[t * E + e] = l->yn[t * E + e] * w[NORM_W][e];
  return smx_linear_fwd_cpu(T, E, d, l->yo, w[W_OUT], NULL, out);
}

static smx_status backward(void *p, float *const *w, const float *x, const float *dout, float *dx, float *const *g) {
  ssd_layer *l = p;
  int64_t T = l->s.T, d = l->s.d, E = l->E, C = l->C, H = l->H, L = l->s.L, B = l->s.B, GN = l->G * l->N;
  smx_status s;
  if ((s = smx_linear_bwd_cpu(T, E, d, l->yo, w[W_OUT], dout, l->dyo, g[W_OUT], NULL))) return s;
  /* the gain: dw_e = sum_t dyo yn (one thread per channel, tokens in order); dyn = dyo w */
#pragma omp parallel for schedule(static)
  for (int64_t e = 0; e < E; e++) {
    float acc = 0;
    for (int64_t t = 0; t < T; t++) acc += l->dyo[t * E + e] * l->yn[t * E + e];
    g[NORM_W][e] = acc;
  }
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++)
    for (int64_t e = 0; e < E; e++) l->dyn[t * E + e] = l->dyo[t * E + e] * w[NORM_W][e];
  if ((s = smx_rmsnorm_bwd_cpu(T * l->G, E / l->G, l->y, l->ones, l->rstd, l->dyn, l->dy, NULL))) return s;
  op_layer *o = &l->ssd;
  o->t[SSD_X] = l->xs, o->t[SSD_DT] = l->dt, o->t[SSD_A] = l->A, o->t[SSD_BM] = l->bm, o->t[SSD_CM] = l->cm;
  o->t[SSD_D] = w[D_SKIP], o->t[SSD_Z] = l->z, o->t[SSD_DTBIAS] = w[DT_BIAS], o->t[SSD_Y] = l->y;
  o->t[SSD_DY] = l->dy, o->t[SSD_DX] = l->dxs, o->t[SSD_DDT] = l->ddt, o->t[SSD_DA] = l->dA, o->t[SSD_DBM] = l->dbm;
  o->t[SSD_DCM] = l->dcm, o->t[SSD_DD] = g[D_SKIP], o->t[SSD_DZ] = l->dz, o->t[SSD_DDTBIAS] = g[DT_BIAS];
  if ((s = op_layer_run(o, SMX_BWD))) return s;
  /* A = -exp(A_log): dA_log = dA * A */
  for (int64_t h = 0; h < H; h++) g[A_LOG][h] = l->dA[h] * l->A[h];
  /* join dx, dB, dC, through silu, to (B, C, L) */
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; b++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < L; i++) {
        int64_t t = b * L + i, k = (b * C + c) * L + i;
        float gv = c < E ? l->dxs[t * E + c] : c < E + GN ? l->dbm[t * GN + c - E] : l->dcm[t * GN + c - E - GN];
        float a = l->convT[k], sg = sigmoidf(a);
        l->dconvT[k] = gv * sg * (1.0f + a * (1.0f - sg));
      }
  op_layer *cv = &l->conv;
  cv->t[SHORTCONV_X] = l->xbcT, cv->t[SHORTCONV_W] = w[CONV_W], cv->t[SHORTCONV_BIAS] = w[CONV_B], cv->t[SHORTCONV_Y] = l->convT;
  cv->t[SHORTCONV_DY] = l->dconvT, cv->t[SHORTCONV_DX] = l->dxbcT, cv->t[SHORTCONV_DW] = g[CONV_W], cv->t[SHORTCONV_DBIAS] = g[CONV_B];
  if ((s = op_layer_run(cv, SMX_BWD))) return s;
  /* (B, C, L) -> token-major (T, C) */
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) {
    int64_t b = t / L, i = t % L;
    for (int64_t c = 0; c < C; c++) l->xbc[t * C + c] = l->dxbcT[(b * C + c) * L + i];
  }
  if ((s = smx_linear_bwd_cpu(T, d, E, x, w[W_IN], l->dz, dx, g[W_IN], NULL)) ||
      (s = smx_linear_bwd_cpu(T, d, C, x, w[W_IN] + E * d, l->xbc, l->dtmp, g[W_IN] + E * d, NULL)))
    return s;
  mixer_add(dx, l->dtmp, (size_t)(T * d));
  if ((s = smx_linear_bwd_cpu(T, d, H, x, w[W_IN] + (E + C) * d, l->ddt, l->dtmp, g[W_IN] + (E + C) * d, NULL))) return s;
  mixer_add(dx, l->dtmp, (size_t)(T * d));
  return SMX_OK;
}

const mixer_kind mixer_ssd = {
    .name = "ssd",
    .summary = "Mamba-2 block: in_proj, causal conv + silu, SSD (gate z, softplus dt, D; optional RoPE on C and B as "
               "Wonderful Matrices), grouped RMSNorm, out_proj",
    .channel = 0, .n_opts = NO, .opts = opts,
    .tensors = tensors, .create = create, .destroy = destroy, .init = init, .forward = forward, .backward = backward,
    /* E = 16, H = 4 heads of P = 4 at d = 8, two groups; chunk 4, so L = 7 crosses a chunk boundary */
    .check_options = "ssd.P=4,ssd.N=4,ssd.G=2,ssd.chunk=4",
    MIXER_DECODE_INIT(ssd), /* tasks/mixer_ssd_decode.c */
};
