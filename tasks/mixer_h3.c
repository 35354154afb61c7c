/* Sequence mixer `h3`: the H3 layer (Fu, Dao et al., ICLR 2023; HazyResearch/H3 src/models/ssm/h3.py)
 * with head_dim 1, composed from registered ops as docs/models/h3_m2.md describes:
 *
 *   q, k, v = x W_q^T + b_q, x W_k^T + b_k, x W_v^T + b_v               (linear, bias)
 *   k_shift[c, m] = sum_i shift_B[c, i] shift_C[c, i + m], m < S           (SSKernelShift; glue)
 *   ks = causal_conv(k, k_shift) + D_k k                                   (shortconv cpu.direct, S <= 4;
 *                                                                           fftconv cpu.fftw, S > 4)
 *   k_ssm (d, L) = S4D kernel of (log_dt, log_A_re, A_im, B, C)            (ssm_kernel cpu.vandermonde)
 *   z = q * (causal_conv(ks * v, k_ssm) + D (ks * v))                      (one gated fftconv cpu.fftw:
 *                                                                           pre = ks, u = v, post = q)
 *   y = z W_o^T + b_o                                                      (linear, bias)
 *
 * The ops run on (B, d, L) rows with time contiguous; the projections are token-major (T, d), so
 * the glue transposes around them. The shift filter of S taps runs as shortconv with its kernel
 * reversed and D_k added to the current-token tap (w[c, S-1-m] = k_shift[c, m] + [m = 0] D_k[c]),
 * or, for S > 4, as an ungated fftconv with k_shift zero-padded to L and D = D_k (taps at lags
 * >= L never reach an output and get zero gradient, as H3 crops its kernel to min(N, L)).
 * Gradients: fftconv's backward gives dv, dks, dq, dk_ssm and dD; dk_ssm feeds ssm_kernel's
 * backward; dks goes through the shift filter's backward to dk, dk_shift and dD_k; dk_shift to
 * shift_B and shift_C by the correlation's adjoint.
 *
 * Options: N = H3's d_state (default 64): the diagonal SSM has N/2 complex modes, each with its
 * conjugate (H3's SSKernelDiag keeps N // 2; ssm_kernel's N counts modes), so N must be even.
 * shift = S, the shift SSM's taps (default 4; H3 gives it d_state = 64 taps: h3.shift=64).
 *
 * Initialization as H3 (SSKernel with measure diag-lin and mode shift; GPT-style linears): q, k, v
 * N(0, init_std), W_o MI_OUT, biases 0; log_dt ~ U(log 1e-3, log 1e-1); A = -1/2 + i pi n
 * (S4D-Lin: log_A_re = log 1/2, A_im = pi n); B = 1; C complex normal (re, im ~ N(0, 1/2)); D and
 * D_k ~ N(0, 1); shift_B = e_0 and shift_C ~ U(+-1/sqrt(S)) (H3's "match torch.Conv1d init"), so the
 * shift filter starts as shift_C. Weight decay on the matrices, C, shift_C, D and D_k; none on
 * biases and the parameters H3 registers with weight_decay 0 (log_dt, A, B, shift_B).
 *
 *   build/tests/seqmix_tests --filter mixers/'*'
 *   build/tests/seqmix_tests --filter model_conv/'*'
 */
#include <math.h>
#include <stdio.h>

#include "reference/fftconv.h"
#include "reference/shortconv.h"
#include "reference/ssm_kernel.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "tasks/mixer.h"
#include "tasks/mixer_decode.h"
#include "tasks/op_layer.h"

enum { O_N, O_SHIFT, NOPTS };

static const mixer_opt opts[NOPTS] = {
    {"N", 2, 2048, 64, 1, "d_state of the diagonal SSM, N/2 complex modes (H3: 64); even"},
    {"shift", 2, 1024, 4, 1, "taps of the shift SSM on k (H3: d_state); 2..4 shortconv, longer fftconv"},
};

enum { WQ, BQ, WK, BK, WV, BV, SB, SC, DK, LOGDT, LOGARE, AIM, SSB, SSC, DD, WO, BO, NT };

typedef struct h3 {
  mixer_shape s;
  int64_t M, S;     /* complex modes, shift taps */
  int shortconv;    /* 1: the shift filter runs as shortconv */
  op_layer conv;    /* gated fftconv: the diagonal SSM's long convolution */
  op_layer kern;    /* ssm_kernel */
  op_layer shift;   /* shortconv (K = S) or ungated fftconv */
  float *tm, *ym, *qT, *kT, *vT, *ksT, *yT;       /* token-major scratch, out-linear input, (B, d, L) rows */
  float *kssm, *dkssm;                            /* (d, L) */
  float *ksh, *dksh;                              /* (d, S): k_shift by lag */
  float *w, *dw;                                  /* shortconv weight (d, S) or padded kernel (d, L) */
  float *dyT, *dvT, *dksT, *dqT, *dkT, *dtmp;     /* backward */
} h3;

static smx_status tensors(const mixer_shape *s, mixer_tensor *t, int *n) {
  int64_t d = s->d, N = (int64_t)s->opt[O_N], S = (int64_t)s->opt[O_SHIFT], M = N / 2;
  if (N % 2) return smx_fail(SMX_ERR_INVALID, "h3: N = %lld must be even (N/2 complex modes with their conjugates)", (long long)N);
  size_t dd = (size_t)(d * d), dS = (size_t)(d * S), dM = (size_t)(d * M);
  struct {
    const char *name;
    size_t size;
    mixer_init init;
    int decays;
  } list[NT] = {
      [WQ] = {"wq", dd, MI_NORMAL, 1},       [BQ] = {"bq", (size_t)d, MI_ZEROS, 0},
      [WK] = {"wk", dd, MI_NORMAL, 1},       [BK] = {"bk", (size_t)d, MI_ZEROS, 0},
      [WV] = {"wv", dd, MI_NORMAL, 1},       [BV] = {"bv", (size_t)d, MI_ZEROS, 0},
      [SB] = {"shift_B", dS, MI_CUSTOM, 0},  [SC] = {"shift_C", dS, MI_CUSTOM, 1},
      [DK] = {"D_k", (size_t)d, MI_CUSTOM, 1},
      [LOGDT] = {"log_dt", (size_t)d, MI_CUSTOM, 0}, [LOGARE] = {"log_A_re", dM, MI_CUSTOM, 0},
      [AIM] = {"A_im", dM, MI_CUSTOM, 0},    [SSB] = {"B", 2 * dM, MI_CUSTOM, 0},
      [SSC] = {"C", 2 * dM, MI_CUSTOM, 1},   [DD] = {"D", (size_t)d, MI_CUSTOM, 1},
      [WO] = {"wo", dd, MI_OUT, 1},          [BO] = {"bo", (size_t)d, MI_ZEROS, 0},
  };
  for (int i = 0; i < NT; i++) {
    t[i] = (mixer_tensor){"", list[i].size, list[i].init, list[i].decays};
    snprintf(t[i].name, sizeof t[i].name, "%s", list[i].name);
  }
  *n = NT;
  return SMX_OK;
}

void mixer_h3_op_specs(const mixer_shape *s, mixer_spec conv, mixer_spec kern, mixer_spec shift, int *shortconv) {
  long long B = (long long)s->B, L = (long long)s->L, d = (long long)s->d, S = (long long)s->opt[O_SHIFT];
  *shortconv = S <= 4;
  snprintf(conv, MIXER_SPEC_LEN, "B=%lld,H=%lld,L=%lld,gelu=0,gates=1", B, d, L);
  snprintf(kern, MIXER_SPEC_LEN, "H=%lld,N=%lld,L=%lld", d, (long long)s->opt[O_N] / 2, L);
  if (*shortconv) snprintf(shift, MIXER_SPEC_LEN, "B=%lld,H=%lld,L=%lld,K=%lld,bias=0", B, d, L, S);
  else snprintf(shift, MIXER_SPEC_LEN, "B=%lld,H=%lld,L=%lld,gelu=0,gates=0", B, d, L);
}

static void destroy(void *p) {
  h3 *h = p;
  if (!h) return;
  op_layer_destroy(&h->conv), op_layer_destroy(&h->kern), op_layer_destroy(&h->shift);
  float *b[] = {h->tm, h->ym, h->qT, h->kT, h->vT, h->ksT, h->yT, h->kssm, h->dkssm, h->ksh, h->dksh,
                h->w, h->dw, h->dyT, h->dvT, h->dksT, h->dqT, h->dkT, h->dtmp};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  smx_host_free(h);
}

static smx_status create(const mixer_shape *s, void **out) {
  h3 *h = smx_host_alloc(sizeof *h);
  if (!h) return smx_fail(SMX_ERR_NOMEM, "h3: cannot allocate the layer");
  h->s = *s;
  h->M = (int64_t)s->opt[O_N] / 2, h->S = (int64_t)s->opt[O_SHIFT];
  long long L = (long long)s->L, d = (long long)s->d;
  size_t Td = (size_t)(s->T * s->d), dL = (size_t)(d * L), dS = (size_t)(d * h->S);
  mixer_spec conv_spec, kern_spec, shift_spec;
  mixer_h3_op_specs(s, conv_spec, kern_spec, shift_spec, &h->shortconv);
  size_t wn = h->shortconv ? dS : dL;
  smx_status st = mixer_alloc("h3", &h->tm, Td, &h->ym, Td, &h->qT, Td, &h->kT, Td, &h->vT, Td, &h->ksT, Td, &h->yT, Td,
                              &h->kssm, dL, &h->dkssm, dL, &h->ksh, dS, &h->dksh, dS, &h->w, wn, &h->dw, wn, &h->dyT, Td,
                              &h->dvT, Td, &h->dksT, Td, &h->dqT, Td, &h->dkT, Td, &h->dtmp, Td, (float **)NULL);
  if (st == SMX_OK) st = op_layer_create(&h->conv, "fftconv", "cpu.fftw", conv_spec);
  if (st == SMX_OK) st = op_layer_create(&h->kern, "ssm_kernel", "cpu.vandermonde", kern_spec);
  if (st == SMX_OK)
    st = h->shortconv ? op_layer_create(&h->shift, "shortconv", "cpu.direct", shift_spec)
                      : op_layer_create(&h->shift, "fftconv", "cpu.fftw", shift_spec);
  if (st != SMX_OK) {
    destroy(h);
    return st;
  }
  *out = h;
  return SMX_OK;
}

static void init(const mixer_shape *s, int i, float *t, size_t n, uint64_t seed, uint32_t stream) {
  int64_t S = (int64_t)s->opt[O_SHIFT], M = (int64_t)s->opt[O_N] / 2;
  switch (i) {
  case SB: /* e_0 in every channel */
    for (size_t j = 0; j < n; j++) t[j] = j % (size_t)S == 0 ? 1.0f : 0.0f;
    break;
  case SC: { /* kaiming_uniform(a = sqrt 5) with fan_in = S taps: U(+-1/sqrt(S)) */
    float b = (float)(1.0 / sqrt((double)S));
    mixer_fill_uniform(t, n, seed, stream, -b, b);
    break;
  }
  case DK: case DD: mixer_fill_normal(t, n, seed, stream, 1.0f); break;
  case LOGDT: mixer_fill_uniform(t, n, seed, stream, (float)log(1e-3), (float)log(1e-1)); break;
  case LOGARE: for (size_t j = 0; j < n; j++) t[j] = (float)log(0.5); break;
  case AIM: for (size_t j = 0; j < n; j++) t[j] = (float)(3.14159265358979323846 * (double)(j % (size_t)M)); break;
  case SSB: for (size_t j = 0; j < n; j++) t[j] = j % 2 ? 0.0f : 1.0f; break; /* (re, im) = (1, 0) */
  case SSC: mixer_fill_normal(t, n, seed, stream, (float)sqrt(0.5)); break;   /* torch.randn(cfloat) */
  default: for (size_t j = 0; j < n; j++) t[j] = 0;
  }
}

/* (B, L, d) token-major <-> (B, d, L) rows, time contiguous */
static void to_rows(const h3 *h, const float *x, float *r) {
  int64_t B = h->s.B, L = h->s.L, d = h->s.d;
#pragma omp parallel for schedule(static)
  for (int64_t bc = 0; bc < B * d; bc++) {
    int64_t b = bc / d, c = bc % d;
    for (int64_t t = 0; t < L; t++) r[bc * L + t] = x[(b * L + t) * d + c];
  }
}
static void from_rows(const h3 *h, const float *r, float *x) {
  int64_t B = h->s.B, L = h->s.L, d = h->s.d;
#pragma omp parallel for schedule(static)
  for (int64_t bt = 0; bt < B * L; bt++) {
    int64_t b = bt / L, t = bt % L;
    for (int64_t c = 0; c < d; c++) x[bt * d + c] = r[(b * d + c) * L + t];
  }
}

/* k_shift[c, m] = sum_{i} shift_B[c, i] shift_C[c, i + m] (SSKernelShift's rfft correlation), then
 * the shift op's weight: shortconv's reversed taps with D_k on the current token, or the kernel
 * zero-padded (and cropped) to L. */
static void shift_kernel(h3 *h, float *const *p) {
  int64_t d = h->s.d, S = h->S, L = h->s.L;
  for (int64_t c = 0; c < d; c++) {
    const float *Bc = p[SB] + c * S, *Cc = p[SC] + c * S;
    float *k = h->ksh + c * S;
    for (int64_t m = 0; m < S; m++) {
      double acc = 0;
      for (int64_t i = 0; i + m < S; i++) acc += (double)Bc[i] * Cc[i + m];
      k[m] = (float)acc;
    }
    if (h->shortconv) {
      for (int64_t m = 0; m < S; m++) h->w[c * S + S - 1 - m] = k[m];
      h->w[c * S + S - 1] += p[DK][c];
    } else {
      for (int64_t m = 0; m < L; m++) h->w[c * L + m] = m < S ? k[m] : 0.0f;
    }
  }
}

/* From the shift op's weight gradient to dk_shift, dD_k (shortconv) and then shift_B, shift_C. */
static void shift_kernel_bwd(h3 *h, float *const *p, float *const *g) {
  int64_t d = h->s.d, S = h->S, L = h->s.L;
  for (int64_t c = 0; c < d; c++) {
    float *dk = h->dksh + c * S;
    if (h->shortconv) {
      for (int64_t m = 0; m < S; m++) dk[m] = h->dw[c * S + S - 1 - m];
      g[DK][c] = h->dw[c * S + S - 1];
    } else {
      for (int64_t m = 0; m < S; m++) dk[m] = m < L ? h->dw[c * L + m] : 0.0f;
    }
    const float *Bc = p[SB] + c * S, *Cc = p[SC] + c * S;
    for (int64_t j = 0; j < S; j++) {
      double db = 0, dc = 0;
      for (int64_t m = 0; j + m < S; m++) db += (double)dk[m] * Cc[j + m]; /* d/dB[j]: i = j */
      for (int64_t m = 0; m <= j; m++) dc += (double)dk[m] * Bc[j - m];    /* d/dC[j]: i + m = j */
      g[SB][c * S + j] = (float)db;
      g[SC][c * S + j] = (float)dc;
    }
  }
}

static smx_status forward(void *ps, float *const *p, const float *x, float *y, double *aux) {
  (void)aux;
  h3 *h = ps;
  int64_t T = h->s.T, d = h->s.d;
  smx_status s;
  if ((s = smx_linear_fwd_cpu(T, d, d, x, p[WQ], p[BQ], h->tm))) return s;
  to_rows(h, h->tm, h->qT);
  if ((s = smx_linear_fwd_cpu(T, d, d, x, p[WK], p[BK], h->tm))) return s;
  to_rows(h, h->tm, h->kT);
  if ((s = smx_linear_fwd_cpu(T, d, d, x, p[WV], p[BV], h->tm))) return s;
  to_rows(h, h->tm, h->vT);

  shift_kernel(h, p);
  op_layer *sh = &h->shift;
  if (h->shortconv) {
    sh->t[SHORTCONV_X] = h->kT, sh->t[SHORTCONV_W] = h->w, sh->t[SHORTCONV_Y] = h->ksT;
  } else {
    sh->t[FFTCONV_U] = h->kT, sh->t[FFTCONV_K] = h->w, sh->t[FFTCONV_D] = p[DK], sh->t[FFTCONV_Y] = h->ksT;
  }
  if ((s = op_layer_run(sh, SMX_FWD))) return s;

  op_layer *kn = &h->kern;
  kn->t[SSMK_LOGDT] = p[LOGDT], kn->t[SSMK_LOGARE] = p[LOGARE], kn->t[SSMK_AIM] = p[AIM];
  kn->t[SSMK_B] = p[SSB], kn->t[SSMK_C] = p[SSC], kn->t[SSMK_K] = h->kssm;
  if ((s = op_layer_run(kn, SMX_FWD))) return s;

  op_layer *cv = &h->conv;
  cv->t[FFTCONV_U] = h->vT, cv->t[FFTCONV_K] = h->kssm, cv->t[FFTCONV_D] = p[DD];
  cv->t[FFTCONV_PRE] = h->ksT, cv->t[FFTCONV_POST] = h->qT, cv->t[FFTCONV_Y] = h->yT;
  if ((s = op_layer_run(cv, SMX_FWD))) return s;

  from_rows(h, h->yT, h->ym);
  return smx_linear_fwd_cpu(T, d, d, h->ym, p[WO], p[BO], y);
}

/* smx_linear_bwd_cpu and the ops' backwards overwrite their gradients: each tensor is written once
 * (g is zero on entry); dx adds the three projections' input gradients in a fixed order. */
static smx_status backward(void *ps, float *const *p, const float *x, const float *dy, float *dx, float *const *g) {
  h3 *h = ps;
  int64_t T = h->s.T, d = h->s.d;
  size_t Td = (size_t)(T * d);
  smx_status s;
  if ((s = smx_linear_bwd_cpu(T, d, d, h->ym, p[WO], dy, h->tm, g[WO], g[BO]))) return s;
  to_rows(h, h->tm, h->dyT);

  op_layer *cv = &h->conv;
  cv->t[FFTCONV_U] = h->vT, cv->t[FFTCONV_K] = h->kssm, cv->t[FFTCONV_D] = p[DD];
  cv->t[FFTCONV_PRE] = h->ksT, cv->t[FFTCONV_POST] = h->qT, cv->t[FFTCONV_DY] = h->dyT;
  cv->t[FFTCONV_DU] = h->dvT, cv->t[FFTCONV_DK] = h->dkssm, cv->t[FFTCONV_DD] = g[DD];
  cv->t[FFTCONV_DPRE] = h->dksT, cv->t[FFTCONV_DPOST] = h->dqT;
  if ((s = op_layer_run(cv, SMX_BWD))) return s;

  op_layer *kn = &h->kern;
  kn->t[SSMK_LOGDT] = p[LOGDT], kn->t[SSMK_LOGARE] = p[LOGARE], kn->t[SSMK_AIM] = p[AIM];
  kn->t[SSMK_B] = p[SSB], kn->t[SSMK_C] = p[SSC], kn->t[SSMK_DK] = h->dkssm;
  kn->t[SSMK_DLOGDT] = g[LOGDT], kn->t[SSMK_DLOGARE] = g[LOGARE], kn->t[SSMK_DAIM] = g[AIM];
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
  if ((s = op_layer_run(sh, SMX_BWD))) return s;
  shift_kernel_bwd(h, p, g);

  from_rows(h, h->dqT, h->tm);
  if ((s = smx_linear_bwd_cpu(T, d, d, x, p[WQ], h->tm, dx, g[WQ], g[BQ]))) return s;
  from_rows(h, h->dkT, h->tm);
  if ((s = smx_linear_bwd_cpu(T, d, d, x, p[WK], h->tm, h->dtmp, g[WK], g[BK]))) return s;
  mixer_add(dx, h->dtmp, Td);
  from_rows(h, h->dvT, h->tm);
  if ((s = smx_linear_bwd_cpu(T, d, d, x, p[WV], h->tm, h->dtmp, g[WV], g[BV]))) return s;
  mixer_add(dx, h->dtmp, Td);
  return SMX_OK;
}

const mixer_kind mixer_h3 = {
    .name = "h3",
    .summary = "H3 (head_dim 1): shift SSM on k (shortconv/fftconv), S4D kernel (ssm_kernel), gated fftconv q * SSM(k * v)",
    .channel = 0, .n_opts = NOPTS, .opts = opts,
    .tensors = tensors, .create = create, .destroy = destroy, .init = init, .forward = forward, .backward = backward,
    .check_options = "h3.N=4,h3.shift=3",
    MIXER_DECODE_INIT(h3), /* tasks/mixer_h3_decode.c */
};
