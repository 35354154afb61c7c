/* ssd variant `cpu.chunked`: Mamba-2's chunked algorithm (the SSD paper's four steps) in fp32 with
 * OpenBLAS sgemm for the products, chunk length Q = the `chunk` parameter (the last chunk may be
 * short). Per chunk c of head h, local times t, s < q, cum_t = a_{c0} + ... + a_{c0+t}:
 *   1. intra-chunk: Y_c = (W o C'B'^T) U, W(t, s) = exp(cum_t - cum_s) for s <= t, U = delta x
 *      (C'B'^T once per chunk and group: the group's heads share B and C)
 *   2. chunk states: X_c = U^T diag(exp(cum_{q-1} - cum_s)) B'             (P x N)
 *   3. state passing: S_c = exp(cum_{q-1} of chunk c-1) S_{c-1} + X_{c-1}, S_0 = h0 (sequential
 *      over chunks, one (b, h) per task, cheap: P x N per chunk)
 *   4. state to output: Y_c += diag(exp(cum_t)) C' S_c^T
 * Numerics (reference/ssd.h): cum is kept in fp64 and every exponent is a difference of fp64 prefix
 * sums, rounded to fp32 only after subtracting, so its error is one fp32 rounding whatever the
 * chunk's total decay (up to 16 * 1024), and it is always <= 0.
 * Backward: the forward's steps 2-3 again for the chunk-entry states, the output gradient g (and dz,
 * which needs y0) per chunk with Z_c = sum_t exp(cum_t) g_t C'_t^T, a reverse pass over chunks for
 * the state gradient dS_c (the gradient of the state leaving chunk c), then per chunk every term:
 * intra-chunk dU = M^T g, dM = g U^T, dC' += (dM o W) B', dB' += (dM o W)^T C'; state-to-output
 * dC' += diag(exp(cum)) g S_c; chunk-state dU += diag(d) B' dS^T, dB' += diag(d) U dS. The decay
 * gradient da_r sums dseg(t, s) over every segment s < r <= t it lies in; it is accumulated in
 * fp64 from the terms themselves (column sums of the lower triangle, then a sum over s < r), never
 * as differences of prefix sums, which would cancel catastrophically in fp32.
 * Parallel loops run over (b, g, c) or (b, h, c), and each output element is written by one task
 * in a fixed order: results do not depend on the thread count. BLAS runs single-threaded inside
 * them (openblas_set_num_threads(1) for the call, restored after: this OpenBLAS is the pthreads
 * build, whose own threads would otherwise oversubscribe the cores under OpenMP).
 *
 *   seqmix check --op ssd --variant cpu.chunked
 *   seqmix bench --op ssd --variant cpu.chunked --suite quick
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_blas_single.h"
#include "kernels/ssd/cpu_ssd_common.h"

/* Rows per block of the chunk's lower-triangular products: blocks right of the diagonal block are
 * zero and never computed, which saves 3/8 of those flops at Q = 256. */
#define TB 64

/* Weights below e^-60 are set to 0: they are ~1e-26 of the diagonal term's weight (1), far below
 * fp32 resolution, and letting them through would put subnormal numbers into the products, which
 * x86 cores handle in microcode at a large cost (A = -16 makes most of a chunk's weights that small). */
#define FLUSH_ARG -60.0f
#define FLUSH_W 8.7e-27f
/* exp(x) for x <= 0, 0 below e^-60: smx_vexpf's reduction and polynomial (relative error < 2^-22,
 * kernels/attention/cpu_vexp.h) with its clamps replaced by an integer mask. GCC (12, -O3, default
 * -ftrapping-math) does not if-convert float selects such as the clamp `x < c ? c : x`, so loops
 * over smx_vexpf stay scalar; loops over this vectorize. */
static inline float wexp(float x) {
  int32_t keep = -(int32_t)(x >= FLUSH_ARG), xb, vb; /* all ones, or 0 to flush */
  float xc, v, s;
  memcpy(&xb, &x, sizeof xb);
  xb &= keep; /* flushed inputs become 0, in range for the exponent bits below */
  memcpy(&xc, &xb, sizeof xc);
  const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  float n = (xc * 1.44269504088896341f + shifter) - shifter;
  float r = (xc - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
  int32_t e = ((int32_t)n + 127) << 23;
  memcpy(&s, &e, sizeof s);
  v = p * s;
  memcpy(&vb, &v, sizeof vb);
  vb &= keep;
  memcpy(&v, &vb, sizeof v);
  return v;
}
static inline float wexpf(float x) { return x < FLUSH_ARG ? 0.0f : expf(x); }

/* One thread's scratch (Q = min(chunk, L)). */
typedef struct chunk_thread {
  float *CB, *W, *M, *dM, *dCB;     /* Q x Q */
  float *U, *Ud, *dU, *TP;          /* Q x P */
  float *Cs, *TN, *dBq, *dCq;       /* Q x N */
  float *S;                         /* P x N: a running state or state gradient */
  float *e, *dd, *rt;               /* Q: exp(cum_t), exp(cum_{q-1} - cum_t), a row of factors */
  double *cum, *da, *col;           /* Q */
} chunk_thread;

typedef struct chunked_state {
  ssd_cpu_base base;
  int64_t Q, nc;       /* chunk length, chunks per sequence */
  chunk_thread *th;    /* base.threads of them */
  float *st;           /* B x H x nc x P x N: chunk states, then the chunk-entry states S_c */
  float *dst;          /* B x H x nc x P x N: Z_c, then the gradient of the state leaving chunk c */
  double *tot;         /* B x H x nc: the chunk's total decay cum_{q-1} */
  double *pA, *pD, *pBias; /* B x H x nc partial sums of dA, dD, ddt_bias */
} chunked_state;

static void destroy(void *p) {
  chunked_state *s = p;
  if (!s) return;
  for (int i = 0; s->th && i < s->base.threads; i++) {
    chunk_thread *c = &s->th[i];
    void *all[] = {c->CB, c->W,  c->M,   c->dM,  c->dCB, c->U, c->Ud,  c->dU, c->TP,
                   c->Cs, c->TN, c->dBq, c->dCq, c->e,   c->dd, c->cum, c->da, c->col, c->S, c->rt};
    for (size_t j = 0; j < sizeof all / sizeof all[0]; j++) smx_host_free(all[j]);
  }
  free(s->th);
  ssd_cpu_base_free(&s->base);
  void *all[] = {s->st, s->dst, s->tot, s->pA, s->pD, s->pBias};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) smx_host_free(all[i]);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  chunked_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.chunked: cannot allocate state");
  int ok = ssd_cpu_base_init(&s->base, c);
  const ssd_dims *d = &s->base.d;
  s->Q = d->chunk < d->L ? d->chunk : d->L;
  s->nc = (d->L + s->Q - 1) / s->Q;
  size_t Q = (size_t)s->Q, P = (size_t)d->P, N = (size_t)d->N, f = sizeof(float), db = sizeof(double);
  s->th = calloc((size_t)s->base.threads, sizeof *s->th);
  if (!s->th) ok = 0;
  for (int i = 0; s->th && i < s->base.threads; i++) {
    chunk_thread *t = &s->th[i];
    float **qq[] = {&t->CB, &t->W, &t->M, &t->dM, &t->dCB};
    float **qp[] = {&t->U, &t->Ud, &t->dU, &t->TP};
    float **qn[] = {&t->Cs, &t->TN, &t->dBq, &t->dCq};
    for (size_t j = 0; j < 5; j++) *qq[j] = ssd_cpu_take(&s->base, Q * Q * f, &ok);
    for (size_t j = 0; j < 4; j++) *qp[j] = ssd_cpu_take(&s->base, Q * P * f, &ok);
    for (size_t j = 0; j < 4; j++) *qn[j] = ssd_cpu_take(&s->base, Q * N * f, &ok);
    t->S = ssd_cpu_take(&s->base, P * N * f, &ok);
    t->e = ssd_cpu_take(&s->base, Q * f, &ok);
    t->rt = ssd_cpu_take(&s->base, Q * f, &ok);
    t->dd = ssd_cpu_take(&s->base, Q * f, &ok);
    t->cum = ssd_cpu_take(&s->base, Q * db, &ok);
    t->da = ssd_cpu_take(&s->base, Q * db, &ok);
    t->col = ssd_cpu_take(&s->base, Q * db, &ok);
  }
  size_t chunks = (size_t)(d->B * d->H * s->nc);
  s->st = ssd_cpu_take(&s->base, chunks * P * N * f, &ok);
  s->dst = ssd_cpu_take(&s->base, chunks * P * N * f, &ok);
  s->tot = ssd_cpu_take(&s->base, chunks * db, &ok);
  s->pA = ssd_cpu_take(&s->base, chunks * db, &ok);
  s->pD = ssd_cpu_take(&s->base, chunks * db, &ok);
  s->pBias = ssd_cpu_take(&s->base, chunks * db, &ok);
  if (!ok) {
    size_t bytes = s->base.bytes;
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "cpu.chunked: cannot allocate %zu bytes of workspace", bytes);
  }
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) { return ((const chunked_state *)p)->base.bytes; }

/* The tensors and geometry one pass works on. */
typedef struct ctx {
  const chunked_state *s;
  float *const *t;
  const float *Bp, *Cp; /* B' and C' (B x L x G x N) */
  int64_t B, L, H, P, G, N, hpg, Q, nc;
} ctx;

static size_t chunk_index(const ctx *c, int64_t b, int64_t h, int64_t k) { return (size_t)((b * c->H + h) * c->nc + k); }
static float *state_at(const ctx *c, float *base, int64_t b, int64_t h, int64_t k) {
  return base + chunk_index(c, b, h, k) * (size_t)(c->P * c->N);
}

/* cum_t = sum_{r <= t} a_r over the chunk in fp64, e_t = exp(cum_t), dd_t = exp(cum_{q-1} - cum_t). */
static void chunk_decay(const ctx *c, chunk_thread *w, int64_t b, int64_t h, int64_t t0, int64_t q) {
  const float *delta = c->s->base.delta;
  double A = (double)c->t[SSD_A][h], acc = 0;
  for (int64_t i = 0; i < q; i++) {
    acc += A * (double)delta[(b * c->L + t0 + i) * c->H + h];
    w->cum[i] = acc;
  }
  for (int64_t i = 0; i < q; i++) {
    w->e[i] = wexpf((float)w->cum[i]);
    w->dd[i] = wexpf((float)(acc - w->cum[i]));
  }
}

/* U = delta x for the chunk's rows of head h (q x P, contiguous). */
static void chunk_u(const ctx *c, chunk_thread *w, int64_t b, int64_t h, int64_t t0, int64_t q) {
  for (int64_t i = 0; i < q; i++) {
    int64_t row = (b * c->L + t0 + i) * c->H + h;
    float dl = c->s->base.delta[row];
    const float *x = c->t[SSD_X] + row * c->P;
    float *u = w->U + i * c->P;
    for (int64_t p = 0; p < c->P; p++) u[p] = dl * x[p];
  }
}

/* W(t, s) = exp(cum_t - cum_s) and M = W o CB on and below the diagonal, 0 right of it within the
 * diagonal block (what the blocked products read). In a block of rows starting at r0, a column
 * s < r0 left of the diagonal block gets exp(cum_t - cum_{r0-1}) exp(cum_{r0-1} - cum_s): both
 * exponents are differences of fp64 prefix sums and <= 0, and the block needs O(Q) exponentials
 * instead of one per entry. */
static void chunk_mask(chunk_thread *w, int64_t q) {
  const double *cum = w->cum;
  for (int64_t r0 = 0; r0 < q; r0 += TB) {
    int64_t r1 = r0 + TB < q ? r0 + TB : q;
    double ref = r0 > 0 ? cum[r0 - 1] : 0;
    float *rt = w->rt;
#pragma omp simd
    for (int64_t j = 0; j < r0; j++) rt[j] = wexp((float)(ref - cum[j]));
    for (int64_t i = r0; i < r1; i++) {
      float *Wr = w->W + i * q, *Mr = w->M + i * q;
      const float *CBr = w->CB + i * q;
      float li = r0 > 0 ? wexpf((float)(cum[i] - ref)) : 0;
#pragma omp simd
      for (int64_t j = 0; j < r0; j++) {
        float v = li * rt[j];
        v = v < FLUSH_W ? 0.0f : v;
        Wr[j] = v;
        Mr[j] = v * CBr[j];
      }
      double ci = cum[i];
#pragma omp simd
      for (int64_t j = r0; j <= i; j++) {
        float v = wexp((float)(ci - cum[j]));
        Wr[j] = v;
        Mr[j] = v * CBr[j];
      }
      for (int64_t j = i + 1; j < r1; j++) Wr[j] = Mr[j] = 0;
    }
  }
}

/* The blocked lower-triangular products. Lm is q x q (ld q), read only up to the end of each row's
 * diagonal block. out = beta out + Lm X: */
static void lower_mm(int64_t q, int64_t n, const float *Lm, const float *X, int64_t ldx, float beta, float *out,
                     int64_t ldo) {
  for (int64_t r0 = 0; r0 < q; r0 += TB) {
    int64_t rn = q - r0 < TB ? q - r0 : TB;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rn, (int)n, (int)(r0 + rn), 1.0f, Lm + r0 * q, (int)q,
                X, (int)ldx, beta, out + r0 * ldo, (int)ldo);
  }
}

/* out = beta out + Lm^T X (rows of out in block c0 take rows i >= c0 of Lm and X) */
static void lower_tmm(int64_t q, int64_t n, const float *Lm, const float *X, int64_t ldx, float beta, float *out,
                      int64_t ldo) {
  for (int64_t c0 = 0; c0 < q; c0 += TB) {
    int64_t cn = q - c0 < TB ? q - c0 : TB;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cn, (int)n, (int)(q - c0), 1.0f, Lm + c0 * q + c0,
                (int)q, X + c0 * ldx, (int)ldx, beta, out + c0 * ldo, (int)ldo);
  }
}

/* the lower blocks of X Y^T (X, Y: q x k) into out (q x q) */
static void lower_abt(int64_t q, int64_t k, const float *X, int64_t ldx, const float *Y, int64_t ldy, float *out) {
  for (int64_t r0 = 0; r0 < q; r0 += TB) {
    int64_t rn = q - r0 < TB ? q - r0 : TB;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rn, (int)(r0 + rn), (int)k, 1.0f, X + r0 * ldx,
                (int)ldx, Y, (int)ldy, 0.0f, out + r0 * q, (int)q);
  }
}

/* CB = C'_c B'_c^T for chunk rows t0 .. t0+q-1 of group g. */
static void chunk_cb(const ctx *c, chunk_thread *w, int64_t b, int64_t g, int64_t t0, int64_t q) {
  int64_t ld = c->G * c->N;
  const float *Bc = c->Bp + ((b * c->L + t0) * c->G + g) * c->N, *Cc = c->Cp + ((b * c->L + t0) * c->G + g) * c->N;
  lower_abt(q, c->N, Cc, ld, Bc, ld, w->CB);
}

/* X_c = U^T diag(dd) B' into st (uses U, dd; writes Ud). */
static void chunk_state(const ctx *c, chunk_thread *w, int64_t b, int64_t h, int64_t k, int64_t t0, int64_t q) {
  int64_t g = h / c->hpg, ld = c->G * c->N;
  const float *Bc = c->Bp + ((b * c->L + t0) * c->G + g) * c->N;
  for (int64_t i = 0; i < q; i++)
    for (int64_t p = 0; p < c->P; p++) w->Ud[i * c->P + p] = w->U[i * c->P + p] * w->dd[i];
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)c->P, (int)c->N, (int)q, 1.0f, w->Ud, (int)c->P, Bc,
              (int)ld, 0.0f, state_at(c, c->s->st, b, h, k), (int)c->N);
}

/* Step 3: the chunk states become chunk-entry states, in place; S (P x N) ends as the final state. */
static void pass_states(const ctx *c, int64_t b, int64_t h, float *S) {
  int64_t PN = c->P * c->N;
  if (c->s->base.d.init) memcpy(S, c->t[SSD_H0] + (b * c->H + h) * PN, (size_t)PN * sizeof(float));
  else memset(S, 0, (size_t)PN * sizeof(float));
  for (int64_t k = 0; k < c->nc; k++) {
    float *X = state_at(c, c->s->st, b, h, k);
    float decay = wexpf((float)c->s->tot[chunk_index(c, b, h, k)]);
    for (int64_t i = 0; i < PN; i++) {
      float x = X[i];
      X[i] = S[i];
      S[i] = decay * S[i] + x;
    }
  }
}

/* The chunk's y0 rows = M U + diag(e) C' S_c^T (+ D x added by the caller) into out (ld ldo). */
static void chunk_y0(const ctx *c, chunk_thread *w, int64_t b, int64_t h, int64_t k, int64_t t0, int64_t q,
                     float *out, int64_t ldo) {
  int64_t g = h / c->hpg, ld = c->G * c->N;
  const float *Cc = c->Cp + ((b * c->L + t0) * c->G + g) * c->N;
  lower_mm(q, c->P, w->M, w->U, c->P, 0.0f, out, ldo);
  if (k == 0 && !c->s->base.d.init) return; /* S_0 = 0 */
  for (int64_t i = 0; i < q; i++)
    for (int64_t n = 0; n < c->N; n++) w->Cs[i * c->N + n] = Cc[i * ld + n] * w->e[i];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)q, (int)c->P, (int)c->N, 1.0f, w->Cs, (int)c->N,
              state_at(c, c->s->st, b, h, k), (int)c->N, 1.0f, out, (int)ldo);
}

/* ---- forward ---- */

static void forward(const ctx *c) {
  const chunked_state *s = c->s;
  float *const *t = c->t;
  int threads = s->base.threads;
  /* step 2 per (b, h, chunk): the chunk states (y waits for the entry states) */
#pragma omp parallel for collapse(3) schedule(dynamic, 1) num_threads(threads)
  for (int64_t b = 0; b < c->B; b++)
    for (int64_t h = 0; h < c->H; h++)
      for (int64_t k = 0; k < c->nc; k++) {
        chunk_thread *w = &s->th[omp_get_thread_num()];
        int64_t t0 = k * c->Q, q = c->L - t0 < c->Q ? c->L - t0 : c->Q;
        chunk_decay(c, w, b, h, t0, q);
        chunk_u(c, w, b, h, t0, q);
        chunk_state(c, w, b, h, k, t0, q);
        s->tot[chunk_index(c, b, h, k)] = w->cum[q - 1];
      }
  /* step 3 per (b, h) */
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(threads)
  for (int64_t b = 0; b < c->B; b++)
    for (int64_t h = 0; h < c->H; h++)
      pass_states(c, b, h, t[SSD_HT] + (b * c->H + h) * c->P * c->N);
  /* steps 1 and 4 per (b, g, chunk): y */
#pragma omp parallel for collapse(3) schedule(dynamic, 1) num_threads(threads)
  for (int64_t b = 0; b < c->B; b++)
    for (int64_t g = 0; g < c->G; g++)
      for (int64_t k = 0; k < c->nc; k++) {
        chunk_thread *w = &s->th[omp_get_thread_num()];
        int64_t t0 = k * c->Q, q = c->L - t0 < c->Q ? c->L - t0 : c->Q;
        chunk_cb(c, w, b, g, t0, q);
        for (int64_t h = g * c->hpg; h < (g + 1) * c->hpg; h++) {
          chunk_decay(c, w, b, h, t0, q);
          chunk_u(c, w, b, h, t0, q);
          chunk_mask(w, q);
          float *y = t[SSD_Y] + ((b * c->L + t0) * c->H + h) * c->P;
          chunk_y0(c, w, b, h, k, t0, q, y, c->H * c->P);
          float Dh = t[SSD_D][h];
          for (int64_t i = 0; i < q; i++) {
            float *yr = y + i * c->H * c->P;
            const float *x = t[SSD_X] + ((b * c->L + t0 + i) * c->H + h) * c->P;
            const float *z = c->s->base.d.gate ? t[SSD_Z] + ((b * c->L + t0 + i) * c->H + h) * c->P : NULL;
            for (int64_t p = 0; p < c->P; p++) {
              float v = yr[p] + Dh * x[p];
              yr[p] = z ? v * (z[p] * ssd_cpu_sigmoid(z[p])) : v;
            }
          }
        }
      }
}

/* ---- backward ---- */

static void backward(const ctx *c) {
  const chunked_state *s = c->s;
  float *const *t = c->t;
  const ssd_dims *d = &s->base.d;
  int threads = s->base.threads;
  int64_t P = c->P, N = c->N, H = c->H, PN = P * N, ldx = H * P, ld = c->G * N;
  const float *delta = s->base.delta, *ddelta = s->base.ddelta;
  /* g = dL/dy0 lives in dx's rows until the last phase replaces it (gated: it needs y0) */
  const float *gsrc = d->gate ? t[SSD_DX] : t[SSD_DY];

  /* chunk states and chunk-entry states, as forward */
#pragma omp parallel for collapse(3) schedule(dynamic, 1) num_threads(threads)
  for (int64_t b = 0; b < c->B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t k = 0; k < c->nc; k++) {
        chunk_thread *w = &s->th[omp_get_thread_num()];
        int64_t t0 = k * c->Q, q = c->L - t0 < c->Q ? c->L - t0 : c->Q;
        chunk_decay(c, w, b, h, t0, q);
        chunk_u(c, w, b, h, t0, q);
        chunk_state(c, w, b, h, k, t0, q);
        s->tot[chunk_index(c, b, h, k)] = w->cum[q - 1];
      }
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(threads)
  for (int64_t b = 0; b < c->B; b++)
    for (int64_t h = 0; h < H; h++) pass_states(c, b, h, s->th[omp_get_thread_num()].S);

  /* g (and dz) per chunk, and Z_c = sum_t e_t g_t C'_t^T */
#pragma omp parallel for collapse(3) schedule(dynamic, 1) num_threads(threads)
  for (int64_t b = 0; b < c->B; b++)
    for (int64_t g = 0; g < c->G; g++)
      for (int64_t k = 0; k < c->nc; k++) {
        chunk_thread *w = &s->th[omp_get_thread_num()];
        int64_t t0 = k * c->Q, q = c->L - t0 < c->Q ? c->L - t0 : c->Q;
        const float *Cc = c->Cp + ((b * c->L + t0) * c->G + g) * N;
        if (d->gate) chunk_cb(c, w, b, g, t0, q);
        for (int64_t h = g * c->hpg; h < (g + 1) * c->hpg; h++) {
          chunk_decay(c, w, b, h, t0, q);
          size_t r0 = (size_t)((b * c->L + t0) * H + h) * (size_t)P;
          if (d->gate) {
            chunk_u(c, w, b, h, t0, q);
            chunk_mask(w, q);
            chunk_y0(c, w, b, h, k, t0, q, w->TP, P);
            float Dh = t[SSD_D][h];
            for (int64_t i = 0; i < q; i++) {
              size_t r = r0 + (size_t)(i * ldx);
              const float *x = t[SSD_X] + r, *z = t[SSD_Z] + r, *dy = t[SSD_DY] + r;
              float *gx = t[SSD_DX] + r, *dz = t[SSD_DZ] + r;
              for (int64_t p = 0; p < P; p++) {
                float y0 = w->TP[i * P + p] + Dh * x[p], sg = ssd_cpu_sigmoid(z[p]);
                gx[p] = dy[p] * z[p] * sg;
                dz[p] = dy[p] * y0 * sg * (1 + z[p] * (1 - sg));
              }
            }
          }
          for (int64_t i = 0; i < q; i++)
            for (int64_t n = 0; n < N; n++) w->Cs[i * N + n] = Cc[i * ld + n] * w->e[i];
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)N, (int)q, 1.0f, gsrc + r0, (int)ldx, w->Cs,
                      (int)N, 0.0f, state_at(c, s->dst, b, h, k), (int)N);
        }
      }

  /* reverse over chunks: dst[k] becomes the gradient of the state leaving chunk k; dh0 */
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(threads)
  for (int64_t b = 0; b < c->B; b++)
    for (int64_t h = 0; h < H; h++) {
      float *dS = s->th[omp_get_thread_num()].S;
      memcpy(dS, t[SSD_DHT] + (b * H + h) * PN, (size_t)PN * sizeof(float));
      for (int64_t k = c->nc - 1; k >= 0; k--) {
        float *Z = state_at(c, s->dst, b, h, k);
        float decay = wexpf((float)s->tot[chunk_index(c, b, h, k)]);
        for (int64_t i = 0; i < PN; i++) {
          float z = Z[i];
          Z[i] = dS[i];
          dS[i] = decay * dS[i] + z;
        }
      }
      if (d->init) memcpy(t[SSD_DH0] + (b * H + h) * PN, dS, (size_t)PN * sizeof(float));
    }

  /* every gradient term per (b, g, chunk) */
#pragma omp parallel for collapse(3) schedule(dynamic, 1) num_threads(threads)
  for (int64_t b = 0; b < c->B; b++)
    for (int64_t g = 0; g < c->G; g++)
      for (int64_t k = 0; k < c->nc; k++) {
        chunk_thread *w = &s->th[omp_get_thread_num()];
        int64_t t0 = k * c->Q, q = c->L - t0 < c->Q ? c->L - t0 : c->Q;
        const float *Bc = c->Bp + ((b * c->L + t0) * c->G + g) * N, *Cc = c->Cp + ((b * c->L + t0) * c->G + g) * N;
        int has_in = k > 0 || d->init;
        chunk_cb(c, w, b, g, t0, q);
        memset(w->dCB, 0, (size_t)(q * q) * sizeof(float));
        memset(w->dBq, 0, (size_t)(q * N) * sizeof(float));
        memset(w->dCq, 0, (size_t)(q * N) * sizeof(float));
        for (int64_t h = g * c->hpg; h < (g + 1) * c->hpg; h++) {
          size_t r0 = (size_t)((b * c->L + t0) * H + h) * (size_t)P;
          const float *G_ = gsrc + r0;
          const float *Sin = state_at(c, s->st, b, h, k), *dSo = state_at(c, s->dst, b, h, k);
          chunk_decay(c, w, b, h, t0, q);
          chunk_u(c, w, b, h, t0, q);
          chunk_mask(w, q);
          /* intra-chunk: dM = g U^T, dU = M^T g */
          lower_abt(q, P, G_, ldx, w->U, P, w->dM);
          lower_tmm(q, P, w->M, G_, ldx, 0.0f, w->dU, P);
          /* dCB += dM o W; da_r += sum_{t >= r, s < r} dM(t, s) M(t, s), from column sums built
           * upwards from the last row: col[s] = sum_{t >= r} dseg(t, s) */
          for (int64_t i = 0; i < q; i++) w->col[i] = 0, w->da[i] = 0;
          for (int64_t r = q - 1; r >= 0; r--) {
            const float *dMr = w->dM + r * q, *Mr = w->M + r * q, *Wr = w->W + r * q;
            float *dCBr = w->dCB + r * q;
            double sum = 0;
#pragma omp simd reduction(+ : sum)
            for (int64_t j = 0; j < r; j++) {
              dCBr[j] += dMr[j] * Wr[j];
              w->col[j] += (double)(dMr[j] * Mr[j]);
              sum += w->col[j];
            }
            dCBr[r] += dMr[r] * Wr[r];
            w->da[r] = sum;
          }
          /* state to output: dC' += diag(e) g S_c, da_r += sum_{t >= r} e_t <g_t, S_c C'_t> */
          if (has_in) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)q, (int)N, (int)P, 1.0f, G_, (int)ldx, Sin,
                        (int)N, 0.0f, w->TN, (int)N);
            double suffix = 0;
            for (int64_t i = q - 1; i >= 0; i--) {
              float *tn = w->TN + i * N, *dc = w->dCq + i * N;
              const float *cr = Cc + i * ld;
              float ei = w->e[i];
              double dot = 0;
#pragma omp simd reduction(+ : dot)
              for (int64_t n = 0; n < N; n++) {
                float v = tn[n] * ei;
                dot += (double)v * cr[n];
                dc[n] += v;
              }
              suffix += dot;
              w->da[i] += suffix;
            }
          }
          /* chunk state: dU += diag(dd) B' dS^T, dB' += diag(dd) U dS,
           * da_r += sum_{s < r} dd_s <u_s, dS B'_s> + exp(total) <dS, S_c> */
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)q, (int)P, (int)N, 1.0f, Bc, (int)ld, dSo, (int)N,
                      0.0f, w->TP, (int)P);
          double prefix = 0;
          for (int64_t i = 0; i < q; i++) {
            float *tp = w->TP + i * P, *du = w->dU + i * P;
            const float *u = w->U + i * P;
            float di = w->dd[i];
            double dot = 0;
#pragma omp simd reduction(+ : dot)
            for (int64_t p = 0; p < P; p++) {
              dot += (double)u[p] * tp[p];
              du[p] += di * tp[p];
            }
            w->da[i] += prefix;
            prefix += di * dot;
          }
          for (int64_t i = 0; i < q; i++)
            for (int64_t p = 0; p < P; p++) w->Ud[i * P + p] = w->U[i * P + p] * w->dd[i];
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)q, (int)N, (int)P, 1.0f, w->Ud, (int)P, dSo,
                      (int)N, 1.0f, w->dBq, (int)N);
          if (has_in) {
            double dot = 0;
            for (int64_t i = 0; i < PN; i++) dot += (double)dSo[i] * Sin[i];
            double add = (double)wexpf((float)s->tot[chunk_index(c, b, h, k)]) * dot;
            for (int64_t i = 0; i < q; i++) w->da[i] += add;
          }
          /* chain rule to x, dt, A, D, dt_bias; dx replaces g in dx's rows */
          float A = t[SSD_A][h], Dh = t[SSD_D][h];
          double sumA = 0, sumD = 0, sumBias = 0;
          for (int64_t i = 0; i < q; i++) {
            int64_t row = (b * c->L + t0 + i) * H + h;
            const float *x = t[SSD_X] + row * P, *gr = gsrc + row * P, *du = w->dU + i * P;
            float *dx = t[SSD_DX] + row * P, dl = delta[row];
            double ddl = (double)A * w->da[i];
            for (int64_t p = 0; p < P; p++) {
              float gp = gr[p];
              ddl += (double)du[p] * x[p];
              sumD += (double)gp * x[p];
              dx[p] = dl * du[p] + Dh * gp;
            }
            sumA += w->da[i] * dl;
            double ddt = ddl * ddelta[row]; /* summed unrounded: ddt_bias cancels over rows */
            t[SSD_DDT][row] = (float)ddt;
            sumBias += ddt;
          }
          size_t ci = chunk_index(c, b, h, k);
          s->pA[ci] = sumA;
          s->pD[ci] = sumD;
          s->pBias[ci] = sumBias;
        }
        /* the group's intra-chunk dC' = dCB B', dB' = dCB^T C', then out to dB, dC */
        lower_mm(q, N, w->dCB, Bc, ld, 1.0f, w->dCq, N);
        lower_tmm(q, N, w->dCB, Cc, ld, 1.0f, w->dBq, N);
        for (int64_t i = 0; i < q; i++) {
          size_t o = (size_t)(((b * c->L + t0 + i) * c->G + g) * N);
          memcpy(t[SSD_DBM] + o, w->dBq + i * N, (size_t)N * sizeof(float));
          memcpy(t[SSD_DCM] + o, w->dCq + i * N, (size_t)N * sizeof(float));
        }
      }
  if (d->rope) {
    ssd_cpu_rotate(d, s->base.cs, s->base.sn, -1.0f, t[SSD_DBM], t[SSD_DBM]);
    ssd_cpu_rotate(d, s->base.cs, s->base.sn, -1.0f, t[SSD_DCM], t[SSD_DCM]);
  }
  ssd_cpu_reduce_params(d, c->nc, s->pA, s->pD, s->pBias, t);
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  chunked_state *s = p;
  const ssd_dims *d = &s->base.d;
  ctx c = {s, (float *const *)tv, NULL, NULL, d->B, d->L, d->H, d->P, d->G, d->N, d->H / d->G, s->Q, s->nc};
  ssd_cpu_prepare(&s->base, c.t, pass == SMX_BWD, &c.Bp, &c.Cp);
  int blas_threads = smx_blas_single_begin();
  if (pass == SMX_FWD) forward(&c);
  else backward(&c);
  smx_blas_single_end(blas_threads);
  return SMX_OK;
}

const smx_variant smx_ssd_cpu_chunked = {
    .name = "cpu.chunked",
    .summary = "Mamba-2's chunked algorithm: OpenBLAS sgemm per chunk, fp64 decay prefix sums, OpenMP over "
               "(batch, group or head, chunk)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
