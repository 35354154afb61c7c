/* conba variant `cpu.scan`: every projection as one OpenBLAS sgemm over all B*L tokens, the
 * causal conv and the gates elementwise, and the selective scan in fp32 with OpenMP over
 * (sequence, block of 16 channels): each thread walks time over its block with the 16 x N states
 * in cache, laid out [n][channel] so the inner loop runs over independent channels and vectorizes
 * (exp is smx_vexpf, branch-free, relative error < 2^-22). The backward recomputes the
 * activations, keeps the scan state only every 64 steps (checkpoints: B * L/64 * E * N floats
 * instead of B * L * E * N) and replays each 64-step segment before walking it in reverse. Sums
 * across channel blocks (dB, dC), sequences (dA_log, dlambda) and tokens (bias-like gradients) use
 * per-block or per-sequence partials added in a fixed order, so results do not depend on the thread
 * count.
 *
 *   seqmix check --op conba --variant cpu.scan
 *   seqmix bench --op conba --variant cpu.scan --suite quick
 */
/* Float compares may trap by default (-ftrapping-math), which stops GCC from turning the range
 * clamp in smx_vexpf into a vector min/max; nothing here enables FP traps, so say so, and the
 * scan's per-channel loops vectorize. Before any include so inlined helpers get it too. */
#pragma GCC optimize("no-trapping-math")

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_sgemm_par.h"
#include "reference/conba.h"
#include "kernels/attention/cpu_vexp.h"
#include "seqmix/buffer.h"

enum { EBLK = 16, SEG = 64 };

typedef struct scan_state {
  conba_dims d;
  size_t T; /* tokens B * L */
  /* activations, T x E unless noted */
  float *xin, *z, *upre, *u, *dpre, *delta, *s, *r, *q, *yp, *m;
  float *Bm, *Cm;  /* T x N */
  float *A;        /* E x N, -exp(A_log) */
  float *ckpt;     /* B x (L/SEG) x nblocks x N x EBLK: h entering each segment */
  /* backward scratch */
  float *dm, *du, *dz, *dq, *ddl, *dspre, *dr, *dxin, *dBm, *dCm; /* T x E / T x N */
  float *dBblk, *dCblk;                                           /* nblk x T x N partials */
  float *dAlog_b, *dlam_b;                                        /* B x E x N, B x E partials */
} scan_state;

static void destroy(void *p) {
  scan_state *s = p;
  if (!s) return;
  float *bufs[] = {s->xin, s->z, s->upre, s->u, s->dpre, s->delta, s->s, s->r, s->q, s->yp, s->m, s->Bm, s->Cm,
                   s->A, s->ckpt, s->dm, s->du, s->dz, s->dq, s->ddl, s->dspre, s->dr, s->dxin, s->dBm, s->dCm,
                   s->dBblk, s->dCblk, s->dAlog_b, s->dlam_b};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) smx_host_free(bufs[i]);
  free(s);
}

static int64_t nblocks(const conba_dims *d) { return (d->E + EBLK - 1) / EBLK; }
static int64_t nsegs(const conba_dims *d) { return (d->L + SEG - 1) / SEG; }

static size_t ckpt_floats(const conba_dims *d) { return (size_t)(d->B * nsegs(d) * nblocks(d) * d->N * EBLK); }

/* 19 T x E activation and gradient arrays, 4 T x N, the checkpoints, the per-block dB/dC partials */
static size_t workspace_floats(const conba_dims *d) {
  size_t T = (size_t)(d->B * d->L), E = (size_t)d->E, N = (size_t)d->N;
  return T * E * 19 + T * N * 4 + E * N + ckpt_floats(d) + 2 * (size_t)nblocks(d) * T * N + (size_t)d->B * E * N +
         (size_t)d->B * E;
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  scan_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.scan: cannot allocate state");
  s->d = smx_conba_dims(c);
  const conba_dims *d = &s->d;
  s->T = (size_t)(d->B * d->L);
  size_t TE = s->T * (size_t)d->E * sizeof(float), TN = s->T * (size_t)d->N * sizeof(float);
  float **te[] = {&s->xin, &s->z, &s->upre, &s->u, &s->dpre, &s->delta, &s->s, &s->r, &s->q, &s->yp, &s->m,
                  &s->dm, &s->du, &s->dz, &s->dq, &s->ddl, &s->dspre, &s->dr, &s->dxin};
  int ok = 1;
  for (size_t i = 0; i < sizeof te / sizeof te[0]; i++) ok &= (*te[i] = smx_host_alloc(TE)) != NULL;
  ok &= (s->Bm = smx_host_alloc(TN)) && (s->Cm = smx_host_alloc(TN)) && (s->dBm = smx_host_alloc(TN)) &&
        (s->dCm = smx_host_alloc(TN));
  ok = ok && (s->A = smx_host_alloc((size_t)(d->E * d->N) * sizeof(float))) &&
       (s->ckpt = smx_host_alloc(ckpt_floats(d) * sizeof(float))) &&
       (s->dBblk = smx_host_alloc((size_t)nblocks(d) * TN)) && (s->dCblk = smx_host_alloc((size_t)nblocks(d) * TN)) &&
       (s->dAlog_b = smx_host_alloc((size_t)(d->B * d->E * d->N) * sizeof(float))) &&
       (s->dlam_b = smx_host_alloc((size_t)(d->B * d->E) * sizeof(float)));
  if (!ok) {
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "cpu.scan: cannot allocate %zu bytes of activations", workspace_floats(d) * 4);
  }
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) { return workspace_floats(&((const scan_state *)p)->d) * sizeof(float); }

static float sigf(float v) { return 1.0f / (1.0f + smx_vexpf(-v)); }
static float softplusf(float v) { return v > 20.0f ? v : log1pf(expf(v)); }

/* C (M x Nc) = A (M x K) B^T, B given as (Nc x K) row-major: activations times a weight (out, in) */
static void gemm_nt(const float *A, const float *B, float *C, int64_t M, int64_t Nc, int64_t K, float beta) {
  smx_sgemm_par(CblasNoTrans, CblasTrans, (int)M, (int)Nc, (int)K, 1.0f, A, (int)K, B, (int)K, beta, C,
              (int)Nc);
}
/* C (M x Nc) += A (M x K) B, B (K x Nc): a gradient times a weight back to its input */
static void gemm_nn(const float *A, const float *B, float *C, int64_t M, int64_t Nc, int64_t K) {
  smx_sgemm_par(CblasNoTrans, CblasNoTrans, (int)M, (int)Nc, (int)K, 1.0f, A, (int)K, B, (int)Nc, 1.0f, C,
              (int)Nc);
}
/* C (M x Nc) = A^T B, A (K x M), B (K x Nc): a weight gradient summed over the K tokens */
static void gemm_tn(const float *A, const float *B, float *C, int64_t M, int64_t Nc, int64_t K) {
  smx_sgemm_par(CblasTrans, CblasNoTrans, (int)M, (int)Nc, (int)K, 1.0f, A, (int)M, B, (int)Nc, 0.0f, C,
              (int)Nc);
}

/* Everything up to the scan's inputs, from x and the weights. */
static void projections_in(scan_state *s, const float *x, float *const *W) {
  const conba_dims *d = &s->d;
  int64_t T = (int64_t)s->T, E = d->E, N = d->N, K = d->K, L = d->L;
  gemm_nt(x, W[CW_IN], s->xin, T, E, d->d, 0);
  gemm_nt(x, W[CW_Z], s->z, T, E, d->d, 0);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < T; i++) {
    int64_t t = i % L;
    for (int64_t e = 0; e < E; e++) {
      float a = W[CW_CONVB][e];
      for (int64_t j = 0; j < K; j++)
        if (t - K + 1 + j >= 0) a += W[CW_CONV][e * K + j] * s->xin[(i - K + 1 + j) * E + e];
      s->upre[i * E + e] = a;
      s->u[i * E + e] = a * sigf(a);
    }
  }
  gemm_nt(s->u, W[CW_DT], s->dpre, T, E, E, 0);
  gemm_nt(s->u, W[CW_B], s->Bm, T, N, E, 0);
  gemm_nt(s->u, W[CW_C], s->Cm, T, N, E, 0);
  if (d->scaling) gemm_nt(s->u, W[CW_S], s->s, T, E, E, 0);
  if (d->feedback) gemm_nt(s->u, W[CW_R], s->r, T, E, E, 0);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < T; i++)
    for (int64_t e = 0; e < E; e++) {
      s->dpre[i * E + e] += W[CW_BDT][e];
      s->delta[i * E + e] = softplusf(s->dpre[i * E + e]);
      s->s[i * E + e] = d->scaling ? sigf(s->s[i * E + e]) : 1.0f;
    }
  for (int64_t i = 0; i < E * N; i++) s->A[i] = -expf(W[CW_ALOG][i]);
}

/* One (sequence, channel block) of the scan keeps its states as h[n * EBLK + el] (el = e - e0): the
 * inner loops run over the block's 16 channels, which are independent, so they vectorize without
 * reordering any sum (each channel's readout adds its N terms in n order). Lanes past the last
 * channel (E not a multiple of 16) carry delta = 0 and stay at h = 0. */
typedef struct blk {
  int64_t e0, ne;
  float At[256 * EBLK]; /* A[e][n] transposed to [n][el], 0 on padding lanes */
  float lam[EBLK];
} blk;

static void blk_init(const scan_state *s, float *const *W, int64_t k, blk *bk) {
  const conba_dims *d = &s->d;
  bk->e0 = k * EBLK;
  bk->ne = d->E - bk->e0 < EBLK ? d->E - bk->e0 : EBLK;
  for (int64_t n = 0; n < d->N; n++)
    for (int64_t el = 0; el < EBLK; el++) bk->At[n * EBLK + el] = el < bk->ne ? s->A[(bk->e0 + el) * d->N + n] : 0.0f;
  for (int64_t el = 0; el < EBLK; el++) bk->lam[el] = el < bk->ne && d->delay ? W[CW_LAMBDA][bk->e0 + el] : 0.0f;
}

/* The block's (delta, u) at token i, zero on padding lanes. */
static void blk_load(const scan_state *s, const blk *bk, int64_t i, float *dl, float *u) {
  int64_t E = s->d.E;
  for (int64_t el = 0; el < EBLK; el++) {
    dl[el] = el < bk->ne ? s->delta[i * E + bk->e0 + el] : 0.0f;
    u[el] = el < bk->ne ? s->u[i * E + bk->e0 + el] : 0.0f;
  }
}

/* The forward scan of one block over steps [t0, t1) from state h, writing q when `q_out` and, when
 * `hist` is given, every step's state after the update (for the backward). */
static void scan_block(const scan_state *s, const blk *bk, int64_t b, int64_t t0, int64_t t1, float *h, float *hist,
                       int q_out) {
  const conba_dims *d = &s->d;
  int64_t E = d->E, N = d->N, L = d->L;
  float dl[EBLK], du[EBLK], acc[EBLK];
  for (int64_t t = t0; t < t1; t++) {
    int64_t i = b * L + t;
    const float *Bt = s->Bm + i * N, *Ct = s->Cm + i * N;
    blk_load(s, bk, i, dl, du);
    for (int64_t el = 0; el < EBLK; el++) {
      du[el] *= dl[el];
      acc[el] = 0.0f;
    }
    for (int64_t n = 0; n < N; n++) {
      float Bn = Bt[n], Cn = Ct[n], *hn = h + n * EBLK;
      const float *An = bk->At + n * EBLK;
      for (int64_t el = 0; el < EBLK; el++) {
        float hp = hn[el], hv = smx_vexpf(dl[el] * An[el]) * hp + du[el] * Bn;
        hn[el] = hv;
        acc[el] += (hv + bk->lam[el] * hp) * Cn;
      }
    }
    if (q_out)
      for (int64_t el = 0; el < bk->ne; el++) s->q[i * E + bk->e0 + el] = acc[el];
    if (hist) memcpy(hist + (t - t0) * N * EBLK, h, (size_t)(N * EBLK) * sizeof(float));
  }
}

/* q for every token, and the segment checkpoints (block layout, B x (L/SEG) x nblocks x N x EBLK) */
static void scan_forward(scan_state *s, float *const *W) {
  const conba_dims *d = &s->d;
  int64_t N = d->N, L = d->L, nb = nblocks(d), ns = nsegs(d);
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (int64_t b = 0; b < d->B; b++)
    for (int64_t k = 0; k < nb; k++) {
      blk bk;
      blk_init(s, W, k, &bk);
      float h[256 * EBLK];
      memset(h, 0, (size_t)(N * EBLK) * sizeof(float));
      for (int64_t g = 0; g < ns; g++) {
        memcpy(s->ckpt + ((b * ns + g) * nb + k) * N * EBLK, h, (size_t)(N * EBLK) * sizeof(float));
        int64_t t1 = (g + 1) * SEG < L ? (g + 1) * SEG : L;
        scan_block(s, &bk, b, g * SEG, t1, h, NULL, 1);
      }
    }
}

/* y', the gated m and, when o is given, o = m W_out^T */
static void outputs(scan_state *s, float *const *W, float *o) {
  const conba_dims *d = &s->d;
  int64_t T = (int64_t)s->T, E = d->E;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < T; i++)
    for (int64_t e = 0; e < E; e++) {
      float y = s->s[i * E + e] * s->q[i * E + e] + W[CW_D][e] * s->u[i * E + e];
      float yp = d->feedback ? y - W[CW_KAPPA][e] * (y - s->r[i * E + e]) : y, z = s->z[i * E + e];
      s->yp[i * E + e] = yp;
      s->m[i * E + e] = yp * z * sigf(z);
    }
  if (o) gemm_nt(s->m, W[CW_OUT], o, T, d->d, E, 0);
}

static void forward(scan_state *s, float *const *t, float *o) {
  float *const *W = t + CONBA_W0;
  projections_in(s, t[CONBA_X], W);
  scan_forward(s, W);
  outputs(s, W, o);
}

/* column sums of a T x n matrix into out, in token order */
static void colsum(const float *a, int64_t T, int64_t n, float *out) {
  for (int64_t j = 0; j < n; j++) out[j] = 0;
  for (int64_t i = 0; i < T; i++)
    for (int64_t j = 0; j < n; j++) out[j] += a[i * n + j];
}

static void backward(scan_state *s, float *const *t) {
  const conba_dims *d = &s->d;
  float *const *W = t + CONBA_W0;
  float *const *dW = t + CONBA_DW0;
  int64_t T = (int64_t)s->T, E = d->E, N = d->N, L = d->L, K = d->K, dm = d->d, nb = nblocks(d), ns = nsegs(d);
  forward(s, t, NULL); /* the activations again (o itself is not needed) */

  /* output side */
  const float *dout = t[CONBA_DO];
  gemm_tn(dout, s->m, dW[CW_OUT], dm, E, T);
  memset(s->dm, 0, s->T * (size_t)E * sizeof(float));
  gemm_nn(dout, W[CW_OUT], s->dm, T, E, dm);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < T; i++)
    for (int64_t e = 0; e < E; e++) {
      int64_t k = i * E + e;
      float z = s->z[k], sz = sigf(z), dyp = s->dm[k] * z * sz, dy = dyp;
      s->dz[k] = s->dm[k] * s->yp[k] * sz * (1 + z * (1 - sz));
      float y = s->s[k] * s->q[k] + W[CW_D][e] * s->u[k];
      s->dr[k] = 0;
      if (d->feedback) {
        dy = (1 - W[CW_KAPPA][e]) * dyp;
        s->dr[k] = W[CW_KAPPA][e] * dyp;
        s->dm[k] = (s->r[k] - y) * dyp; /* reused: the per-token dkappa term */
      }
      s->dq[k] = s->s[k] * dy;
      s->dspre[k] = d->scaling ? s->q[k] * dy * s->s[k] * (1 - s->s[k]) : 0;
      s->du[k] = W[CW_D][e] * dy;
      s->ddl[k] = s->u[k] * dy; /* reused: the per-token dD term */
    }
  colsum(s->ddl, T, E, dW[CW_D]);
  if (d->feedback) {
    colsum(s->dm, T, E, dW[CW_KAPPA]);
    gemm_tn(s->dr, s->u, dW[CW_R], E, E, T);
    gemm_nn(s->dr, W[CW_R], s->du, T, E, E);
  } else {
    memset(dW[CW_KAPPA], 0, (size_t)E * sizeof(float));
    memset(dW[CW_R], 0, (size_t)(E * E) * sizeof(float));
  }
  if (d->scaling) {
    gemm_tn(s->dspre, s->u, dW[CW_S], E, E, T);
    gemm_nn(s->dspre, W[CW_S], s->du, T, E, E);
  } else {
    memset(dW[CW_S], 0, (size_t)(E * E) * sizeof(float));
  }

  /* The scan in reverse, segment by segment from the checkpoints. With dg_t = dq_t C_t (E x N):
   *   dh_t = dg_t + lambda dg_{t+1} + exp(delta_{t+1} A) dh_{t+1}
   * gnext holds lambda dg_{t+1} and decn exp(delta_{t+1} A) from the step walked just before. */
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (int64_t b = 0; b < d->B; b++)
    for (int64_t k = 0; k < nb; k++) {
      blk bk;
      blk_init(s, W, k, &bk);
      const int64_t NE = N * EBLK;
      float *hist = malloc((size_t)((SEG + 2) * NE) * sizeof(float));
      float *dH = calloc((size_t)(4 * NE), sizeof(float)), *gnext = dH + NE, *decn = dH + 2 * NE, *dAl = dH + 3 * NE;
      if (!hist || !dH) abort(); /* a few hundred KB per thread beside gigabytes of activations */
      float dl[EBLK], u[EBLK], dqe[EBLK], ddle[EBLK], due[EBLK], dlam[EBLK], tb[EBLK], tc[EBLK];
      for (int64_t el = 0; el < EBLK; el++) dlam[el] = 0.0f;
      float *dBb = s->dBblk + (size_t)k * s->T * (size_t)N, *dCb = s->dCblk + (size_t)k * s->T * (size_t)N;
      for (int64_t g = ns - 1; g >= 0; g--) {
        int64_t t0 = g * SEG, t1 = t0 + SEG < L ? t0 + SEG : L;
        /* hist[0] = h entering the segment, hist[1 + j] = h after step t0 + j */
        memcpy(hist, s->ckpt + ((b * ns + g) * nb + k) * NE, (size_t)NE * sizeof(float));
        float *h = hist + (SEG + 1) * NE;
        memcpy(h, hist, (size_t)NE * sizeof(float));
        scan_block(s, &bk, b, t0, t1, h, hist + NE, 0);
        for (int64_t tt = t1 - 1; tt >= t0; tt--) {
          int64_t i = b * L + tt;
          const float *hp = hist + (tt - t0) * NE, *hc = hp + NE;
          const float *Bt = s->Bm + i * N, *Ct = s->Cm + i * N;
          float *dBt = dBb + i * N, *dCt = dCb + i * N;
          blk_load(s, &bk, i, dl, u);
          for (int64_t el = 0; el < EBLK; el++) {
            dqe[el] = el < bk.ne ? s->dq[i * E + bk.e0 + el] : 0.0f;
            ddle[el] = due[el] = 0.0f;
          }
          for (int64_t n = 0; n < N; n++) {
            float Bn = Bt[n], Cn = Ct[n];
            const float *An = bk.At + n * EBLK, *hpn = hp + n * EBLK, *hcn = hc + n * EBLK;
            float *dHn = dH + n * EBLK, *gn = gnext + n * EBLK, *dcn = decn + n * EBLK, *dAn = dAl + n * EBLK;
            for (int64_t el = 0; el < EBLK; el++) {
              float dg = dqe[el] * Cn, dh = dg + gn[el] + dcn[el] * dHn[el], dec = smx_vexpf(dl[el] * An[el]);
              tc[el] = dqe[el] * (hcn[el] + bk.lam[el] * hpn[el]);
              dlam[el] += dg * hpn[el];
              ddle[el] += dh * (An[el] * dec * hpn[el] + u[el] * Bn);
              dAn[el] += dh * dl[el] * dec * hpn[el] * An[el]; /* dA_log = dA * A */
              due[el] += dh * dl[el] * Bn;
              tb[el] = dh * dl[el] * u[el];
              dHn[el] = dh;
              gn[el] = bk.lam[el] * dg;
              dcn[el] = dec;
            }
            float sb = 0.0f, sc = 0.0f;
            for (int64_t el = 0; el < bk.ne; el++) sb += tb[el], sc += tc[el];
            dBt[n] = sb, dCt[n] = sc;
          }
          for (int64_t el = 0; el < bk.ne; el++) {
            s->ddl[i * E + bk.e0 + el] = ddle[el];
            s->du[i * E + bk.e0 + el] += due[el];
          }
        }
      }
      for (int64_t el = 0; el < bk.ne; el++) {
        s->dlam_b[b * E + bk.e0 + el] = dlam[el];
        for (int64_t n = 0; n < N; n++) s->dAlog_b[(b * E + bk.e0 + el) * N + n] = dAl[n * EBLK + el];
      }
      free(hist);
      free(dH);
    }
  /* fixed-order reductions of the per-block and per-sequence partials */
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < T * N; i++) {
    float sb = 0, sc = 0;
    for (int64_t k = 0; k < nb; k++) {
      sb += s->dBblk[(size_t)k * s->T * (size_t)N + (size_t)i];
      sc += s->dCblk[(size_t)k * s->T * (size_t)N + (size_t)i];
    }
    s->dBm[i] = sb, s->dCm[i] = sc;
  }
  for (int64_t j = 0; j < E * N; j++) {
    float a = 0;
    for (int64_t b = 0; b < d->B; b++) a += s->dAlog_b[b * E * N + j];
    dW[CW_ALOG][j] = a;
  }
  for (int64_t e = 0; e < E; e++) {
    float a = 0;
    for (int64_t b = 0; b < d->B; b++) a += s->dlam_b[b * E + e];
    dW[CW_LAMBDA][e] = d->delay ? a : 0.0f;
  }

  /* delta, B and C projections */
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < T * E; k++) s->ddl[k] *= sigf(s->dpre[k]); /* now d(pre-softplus) */
  gemm_tn(s->ddl, s->u, dW[CW_DT], E, E, T);
  colsum(s->ddl, T, E, dW[CW_BDT]);
  gemm_nn(s->ddl, W[CW_DT], s->du, T, E, E);
  gemm_tn(s->dBm, s->u, dW[CW_B], N, E, T);
  gemm_nn(s->dBm, W[CW_B], s->du, T, E, N);
  gemm_tn(s->dCm, s->u, dW[CW_C], N, E, T);
  gemm_nn(s->dCm, W[CW_C], s->du, T, E, N);

  /* silu and the causal conv */
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < T * E; k++) {
    float a = s->upre[k], sa = sigf(a);
    s->du[k] *= sa * (1 + a * (1 - sa)); /* now d(upre) */
  }
  colsum(s->du, T, E, dW[CW_CONVB]);
  /* Per block of 16 channels (one cache line of each token's row), tokens in order: the conv
   * weight gradient sums its T terms in token order, whatever the thread count. */
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < nb; k++) {
    int64_t e0 = k * EBLK, ne = E - e0 < EBLK ? E - e0 : EBLK;
    float acc[EBLK * 4] = {0}; /* [j][el], K <= 4 */
    for (int64_t i = 0; i < T; i++) {
      int64_t tt = i % L;
      const float *dui = s->du + i * E + e0;
      for (int64_t j = 0; j < K; j++) {
        if (tt - K + 1 + j < 0) continue;
        const float *xs = s->xin + (i - K + 1 + j) * E + e0;
        for (int64_t el = 0; el < ne; el++) acc[j * EBLK + el] += dui[el] * xs[el];
      }
      /* xin at i feeds upre at i + K - 1 - j through tap j */
      float *dxi = s->dxin + i * E + e0;
      for (int64_t el = 0; el < ne; el++) dxi[el] = 0.0f;
      for (int64_t j = 0; j < K; j++) {
        if (tt + K - 1 - j >= L) continue;
        const float *dus = s->du + (i + K - 1 - j) * E + e0;
        for (int64_t el = 0; el < ne; el++) dxi[el] += W[CW_CONV][(e0 + el) * K + j] * dus[el];
      }
    }
    for (int64_t el = 0; el < ne; el++)
      for (int64_t j = 0; j < K; j++) dW[CW_CONV][(e0 + el) * K + j] = acc[j * EBLK + el];
  }
  gemm_tn(s->dxin, t[CONBA_X], dW[CW_IN], E, dm, T);
  gemm_tn(s->dz, t[CONBA_X], dW[CW_Z], E, dm, T);
  float *dx = t[CONBA_DX];
  memset(dx, 0, s->T * (size_t)dm * sizeof(float));
  gemm_nn(s->dxin, W[CW_IN], dx, T, dm, E);
  gemm_nn(s->dz, W[CW_Z], dx, T, dm, E);
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  scan_state *s = p;
  float *const *t = (float *const *)tv;
  if (pass == SMX_FWD) forward(s, t, t[CONBA_O]);
  else backward(s, t);
  return SMX_OK;
}

/* the scan keeps one channel block's states on the stack: N <= 256 */
static const char *unsupported(const smx_config *c) {
  return c->v[CONBA_N] > 256 ? "cpu.scan keeps N <= 256 states per channel on the stack" : NULL;
}

const smx_variant smx_conba_cpu_scan = {
    .name = "cpu.scan",
    .summary = "projections as OpenBLAS sgemm over all tokens, fp32 scan over 16-channel blocks (OpenMP), "
               "checkpointed reverse scan",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .unsupported = unsupported,
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
