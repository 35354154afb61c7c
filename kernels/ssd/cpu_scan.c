/* ssd variant `cpu.scan`: the recurrent mode, one step per token (reference/ssd.h):
 *   S_t = exp(a_t) S_{t-1} + u_t B'_t^T,  y0_t = S_t C'_t + D x_t,  u_t = delta_t x_t.
 * Forward: fp32, OpenMP over (b, h), the P x N state kept in a per-thread buffer.
 * Backward: the reverse-time recurrence of the state gradient
 *   G_t = g_t C'_t^T + exp(a_{t+1}) G_{t+1},  G_{L-1} = g_{L-1} C'_{L-1}^T + dhT,
 *   dC'_t = S_t^T g_t, du_t = G_t B'_t, dB'_t = G_t^T u_t, da_t = exp(a_t) <G_t, S_{t-1}>,
 *   dh0 = exp(a_0) G_0.
 * It needs S_{t-1} going backwards: a forward pass stores the state every SEG steps, and each
 * segment is recomputed forward from its checkpoint before it is walked in reverse (undoing a step
 * by dividing by exp(a_t) would overflow: a_t reaches -16). The heads of a group share dB and dC, so
 * each (b, h) task writes its dB' and dC' rows into its own slot and the slots are added into the
 * outputs in (b, h) order: the result does not depend on the thread count.
 * The backward keeps S and G in fp64 (inputs, outputs and the saved g stay fp32): dA sums
 * delta_t exp(a_t) <G_t, S_{t-1}> over time, and both the dot and the sum cancel (the terms reach
 * ~100x |dA|), so the fp32 representation error of states carried over hundreds of steps came
 * through at up to the op's whole dA tolerance (err/bound 1.02 on one of 200 seeds of the 600-step
 * check shape); fp64 states cost ~20% of the backward's time and leave dA at ~0.2 of it.
 *
 *   seqmix check --op ssd --variant cpu.scan
 *   seqmix bench --op ssd --variant cpu.scan --suite quick
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ssd/cpu_ssd_common.h"

#define SEG 64 /* checkpoint interval: ~L/SEG + SEG states per task instead of L */

typedef struct scan_state {
  ssd_cpu_base base;
  int64_t nseg;            /* ceil(L / SEG) */
  int64_t slots;           /* backward (b, h) tasks in flight at once */
  float *fS;               /* threads x P x N: the forward's running state */
  double *ck;              /* slots x nseg x P x N: the state entering each segment */
  double *segS;            /* slots x SEG x P x N: one segment's states, recomputed */
  double *dS;              /* slots x P x N: the state gradient */
  float *pdB, *pdC;        /* slots x L x N: one task's dB' and dC' rows */
  double *pA, *pD, *pBias; /* B x H partial sums of dA, dD, ddt_bias */
} scan_state;

static void destroy(void *p) {
  scan_state *s = p;
  if (!s) return;
  ssd_cpu_base_free(&s->base);
  void *all[] = {s->fS, s->ck, s->segS, s->dS, s->pdB, s->pdC, s->pA, s->pD, s->pBias};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) smx_host_free(all[i]);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  scan_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.scan: cannot allocate state");
  int ok = ssd_cpu_base_init(&s->base, c);
  const ssd_dims *d = &s->base.d;
  size_t PN = (size_t)(d->P * d->N);
  s->nseg = (d->L + SEG - 1) / SEG;
  /* As many tasks in flight as threads, unless their buffers would pass 1 GiB. */
  size_t per_slot = ((size_t)s->nseg + SEG + 1) * PN * sizeof(double) + 2 * (size_t)(d->L * d->N) * sizeof(float);
  s->slots = s->base.threads < d->B * d->H ? s->base.threads : d->B * d->H;
  while (s->slots > 1 && (size_t)s->slots * per_slot > ((size_t)1 << 30)) s->slots--;
  size_t sl = (size_t)s->slots;
  s->fS = ssd_cpu_take(&s->base, (size_t)s->base.threads * PN * sizeof(float), &ok);
  s->ck = ssd_cpu_take(&s->base, sl * (size_t)s->nseg * PN * sizeof(double), &ok);
  s->segS = ssd_cpu_take(&s->base, sl * SEG * PN * sizeof(double), &ok);
  s->dS = ssd_cpu_take(&s->base, sl * PN * sizeof(double), &ok);
  s->pdB = ssd_cpu_take(&s->base, sl * (size_t)(d->L * d->N) * sizeof(float), &ok);
  s->pdC = ssd_cpu_take(&s->base, sl * (size_t)(d->L * d->N) * sizeof(float), &ok);
  s->pA = ssd_cpu_take(&s->base, (size_t)(d->B * d->H) * sizeof(double), &ok);
  s->pD = ssd_cpu_take(&s->base, (size_t)(d->B * d->H) * sizeof(double), &ok);
  s->pBias = ssd_cpu_take(&s->base, (size_t)(d->B * d->H) * sizeof(double), &ok);
  if (!ok) {
    size_t bytes = s->base.bytes;
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "cpu.scan: cannot allocate %zu bytes of workspace", bytes);
  }
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) { return ((const scan_state *)p)->base.bytes; }

/* The decay exp(a) is applied as S + ((exp(a) - 1) S + u B^T) when it is close to 1 (a > -1/2):
 * fp32 holds exp(a) near 1 only to 2^-24 absolute, a relative error of up to 2^-24 / |a| in the
 * step's decay, and the product exp(a) S adds a rounding of its own; with expm1f the decrement is
 * accurate and one rounding per step is left (the final add). On the check's 600-step case this
 * halves hT's error. Far from 1 the product form loses nothing. (The backward's fp64 states do not
 * need this.) */
typedef struct decay_f {
  float m;  /* exp(a) - 1 (near) or exp(a) */
  int near;
} decay_f;

static inline decay_f decay_of(float a) {
  decay_f r;
  r.near = a > -0.5f;
  r.m = r.near ? expm1f(a) : expf(a);
  return r;
}

/* One row of the state, in place: S = exp(a) S + u B; returns <S, C'>. */
static inline float step_row(int64_t N, decay_f k, float u, const float *Bt, const float *Ct, float *S) {
  float m = k.m, acc = 0;
  if (k.near) {
#pragma omp simd reduction(+ : acc)
    for (int64_t n = 0; n < N; n++) {
      float v = S[n] + (m * S[n] + u * Bt[n]);
      S[n] = v;
      acc += v * Ct[n];
    }
  } else {
#pragma omp simd reduction(+ : acc)
    for (int64_t n = 0; n < N; n++) {
      float v = m * S[n] + u * Bt[n];
      S[n] = v;
      acc += v * Ct[n];
    }
  }
  return acc;
}

/* S = exp(a) S + u B^T for one token (u = delta x), row by row, and y0 = S C' + D x. */
static inline void step(int64_t P, int64_t N, decay_f k, float dl, const float *x, const float *Bt, const float *Ct,
                        float Dh, float *S, float *y0) {
  for (int64_t p = 0; p < P; p++) y0[p] = step_row(N, k, dl * x[p], Bt, Ct, S + p * N) + Dh * x[p];
}

/* The backward's state step in fp64: so = decay si + u B, returns <so, C'> when Ct != NULL. */
static inline double step_row64(int64_t N, double decay, double u, const float *Bt, const float *Ct, const double *si,
                                double *so) {
  double acc = 0;
  if (!Ct) {
#pragma omp simd
    for (int64_t n = 0; n < N; n++) so[n] = decay * si[n] + u * Bt[n];
    return 0;
  }
#pragma omp simd reduction(+ : acc)
  for (int64_t n = 0; n < N; n++) {
    double v = decay * si[n] + u * Bt[n];
    so[n] = v;
    acc += v * Ct[n];
  }
  return acc;
}

static void forward(scan_state *s, const float *Bp, const float *Cp, float *const *t) {
  const ssd_dims *d = &s->base.d;
  int64_t L = d->L, H = d->H, P = d->P, G = d->G, N = d->N, hpg = H / G;
  const float *delta = s->base.delta;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(s->base.threads)
  for (int64_t b = 0; b < d->B; b++)
    for (int64_t h = 0; h < H; h++) {
      int64_t g = h / hpg;
      float *S = s->fS + (size_t)omp_get_thread_num() * (size_t)(P * N);
      if (d->init) memcpy(S, t[SSD_H0] + (b * H + h) * P * N, (size_t)(P * N) * sizeof(float));
      else memset(S, 0, (size_t)(P * N) * sizeof(float));
      float A = t[SSD_A][h], Dh = t[SSD_D][h];
      for (int64_t tt = 0; tt < L; tt++) {
        int64_t row = (b * L + tt) * H + h;
        float dl = delta[row];
        const float *Bt = Bp + ((b * L + tt) * G + g) * N, *Ct = Cp + ((b * L + tt) * G + g) * N;
        float *y = t[SSD_Y] + row * P;
        step(P, N, decay_of(dl * A), dl, t[SSD_X] + row * P, Bt, Ct, Dh, S, y);
        if (d->gate) {
          const float *z = t[SSD_Z] + row * P;
          for (int64_t p = 0; p < P; p++) y[p] *= z[p] * ssd_cpu_sigmoid(z[p]);
        }
      }
      memcpy(t[SSD_HT] + (b * H + h) * P * N, S, (size_t)(P * N) * sizeof(float));
    }
}

/* One (b, h) of the backward; its dB' and dC' rows go to pdB / pdC, everything else straight to the
 * outputs. g_t = dL/dy0_t is parked in dx's row t until step t of the reverse walk replaces it. */
static void backward_task(scan_state *s, int64_t slot, int64_t b, int64_t h, const float *Bp, const float *Cp,
                          float *const *t) {
  const ssd_dims *d = &s->base.d;
  int64_t L = d->L, H = d->H, P = d->P, G = d->G, N = d->N, g = h / (H / G), PN = P * N;
  const float *delta = s->base.delta, *ddelta = s->base.ddelta;
  double *ck = s->ck + (size_t)slot * (size_t)(s->nseg * PN), *segS = s->segS + (size_t)slot * SEG * (size_t)PN;
  double *dS = s->dS + (size_t)slot * (size_t)PN;
  float *pdB = s->pdB + (size_t)slot * (size_t)(L * N), *pdC = s->pdC + (size_t)slot * (size_t)(L * N);
  float A = t[SSD_A][h], Dh = t[SSD_D][h];
  float y0[512];

  /* forward: checkpoints, and g (with dz) from y0 when gated */
  for (int64_t i = 0; i < PN; i++) ck[i] = d->init ? (double)t[SSD_H0][(b * H + h) * PN + i] : 0.0;
  for (int64_t k = 0; k < s->nseg; k++) {
    double *S = segS; /* the running state; segS is free until the reverse walk */
    memcpy(S, ck + k * PN, (size_t)PN * sizeof(double));
    int64_t t1 = (k + 1) * SEG < L ? (k + 1) * SEG : L;
    for (int64_t tt = k * SEG; tt < t1; tt++) {
      int64_t row = (b * L + tt) * H + h;
      float dl = delta[row];
      const float *Bt = Bp + ((b * L + tt) * G + g) * N, *Ct = Cp + ((b * L + tt) * G + g) * N;
      double decay = exp((double)dl * A);
      const float *x = t[SSD_X] + row * P;
      for (int64_t p = 0; p < P; p++) {
        double acc = step_row64(N, decay, (double)dl * x[p], Bt, d->gate ? Ct : NULL, S + p * N, S + p * N);
        if (d->gate) y0[p] = (float)(acc + (double)Dh * x[p]);
      }
      const float *dy = t[SSD_DY] + row * P;
      float *gt = t[SSD_DX] + row * P;
      if (d->gate) {
        const float *z = t[SSD_Z] + row * P;
        float *dz = t[SSD_DZ] + row * P;
        for (int64_t p = 0; p < P; p++) {
          float sg = ssd_cpu_sigmoid(z[p]);
          gt[p] = dy[p] * z[p] * sg;
          dz[p] = dy[p] * y0[p] * sg * (1 + z[p] * (1 - sg));
        }
      } else {
        memcpy(gt, dy, (size_t)P * sizeof(float));
      }
    }
    if (k + 1 < s->nseg) memcpy(ck + (k + 1) * PN, S, (size_t)PN * sizeof(double));
  }

  /* reverse: dS holds G_{t+1} exp(a_{t+1}) on entry to step t, then G_t */
  for (int64_t i = 0; i < PN; i++) dS[i] = t[SSD_DHT][(b * H + h) * PN + i];
  double sumA = 0, sumD = 0, sumBias = 0;
  double du[512], dBr[512], dCr[512];
  for (int64_t k = s->nseg - 1; k >= 0; k--) {
    int64_t t0 = k * SEG, t1 = t0 + SEG < L ? t0 + SEG : L;
    for (int64_t tt = t0; tt < t1; tt++) {
      int64_t row = (b * L + tt) * H + h;
      float dl = delta[row];
      const float *Bt = Bp + ((b * L + tt) * G + g) * N;
      const double *prev = tt == t0 ? ck + k * PN : segS + (tt - t0 - 1) * PN;
      double decay = exp((double)dl * A);
      const float *x = t[SSD_X] + row * P;
      for (int64_t p = 0; p < P; p++)
        step_row64(N, decay, (double)dl * x[p], Bt, NULL, prev + p * N, segS + (tt - t0) * PN + p * N);
    }
    for (int64_t tt = t1 - 1; tt >= t0; tt--) {
      int64_t row = (b * L + tt) * H + h;
      float dl = delta[row];
      double decay = exp((double)dl * A);
      const float *Bt = Bp + ((b * L + tt) * G + g) * N, *Ct = Cp + ((b * L + tt) * G + g) * N;
      const double *St = segS + (tt - t0) * PN, *Sp = tt == t0 ? ck + k * PN : segS + (tt - t0 - 1) * PN;
      const float *x = t[SSD_X] + row * P;
      float *gx = t[SSD_DX] + row * P; /* g_t in, dx_t out */
      float *dBt = pdB + tt * N, *dCt = pdC + tt * N;
      for (int64_t n = 0; n < N; n++) dBr[n] = dCr[n] = 0;
      double da = 0;
      for (int64_t p = 0; p < P; p++) {
        double gp = gx[p], up = (double)dl * x[p], dup = 0, dap = 0;
        double *dsp = dS + p * N;
        const double *stp = St + p * N, *spp = Sp + p * N;
#pragma omp simd reduction(+ : dup, dap)
        for (int64_t n = 0; n < N; n++) {
          double gs = dsp[n] + gp * Ct[n]; /* G_t */
          dup += gs * Bt[n];
          dBr[n] += gs * up;
          dCr[n] += stp[n] * gp;
          dap += gs * spp[n];
          dsp[n] = gs * decay;
        }
        du[p] = dup;
        da += dap;
      }
      for (int64_t n = 0; n < N; n++) dBt[n] = (float)dBr[n], dCt[n] = (float)dCr[n];
      da *= decay;
      double ddl = (double)A * da;
      for (int64_t p = 0; p < P; p++) {
        float gp = gx[p];
        ddl += du[p] * x[p];
        sumD += (double)gp * x[p];
        gx[p] = (float)(dl * du[p] + (double)Dh * gp);
      }
      sumA += da * dl;
      double ddt = ddl * ddelta[row]; /* summed unrounded: ddt_bias cancels over rows */
      t[SSD_DDT][row] = (float)ddt;
      sumBias += ddt;
    }
  }
  if (d->init)
    for (int64_t i = 0; i < PN; i++) t[SSD_DH0][(b * H + h) * PN + i] = (float)dS[i];
  s->pA[b * H + h] = sumA;
  s->pD[b * H + h] = sumD;
  s->pBias[b * H + h] = sumBias;
}

static void backward(scan_state *s, const float *Bp, const float *Cp, float *const *t) {
  const ssd_dims *d = &s->base.d;
  int64_t L = d->L, H = d->H, G = d->G, N = d->N, tasks = d->B * H;
  size_t nbc = (size_t)(d->B * L * G * N);
  memset(t[SSD_DBM], 0, nbc * sizeof(float));
  memset(t[SSD_DCM], 0, nbc * sizeof(float));
  for (int64_t first = 0; first < tasks; first += s->slots) {
    int64_t n = tasks - first < s->slots ? tasks - first : s->slots;
#pragma omp parallel for schedule(dynamic, 1) num_threads(s->base.threads)
    for (int64_t j = 0; j < n; j++) backward_task(s, j, (first + j) / H, (first + j) % H, Bp, Cp, t);
    /* add the slots into dB', dC' in task order: every element sees the same order of additions */
#pragma omp parallel for schedule(static) num_threads(s->base.threads)
    for (int64_t tt = 0; tt < L; tt++)
      for (int64_t j = 0; j < n; j++) {
        int64_t b = (first + j) / H, g = (first + j) % H / (H / G);
        float *oB = t[SSD_DBM] + ((b * L + tt) * G + g) * N, *oC = t[SSD_DCM] + ((b * L + tt) * G + g) * N;
        const float *iB = s->pdB + ((size_t)j * (size_t)L + (size_t)tt) * (size_t)N;
        const float *iC = s->pdC + ((size_t)j * (size_t)L + (size_t)tt) * (size_t)N;
        for (int64_t k = 0; k < N; k++) {
          oB[k] += iB[k];
          oC[k] += iC[k];
        }
      }
  }
  if (d->rope) {
    ssd_cpu_rotate(d, s->base.cs, s->base.sn, -1.0f, t[SSD_DBM], t[SSD_DBM]);
    ssd_cpu_rotate(d, s->base.cs, s->base.sn, -1.0f, t[SSD_DCM], t[SSD_DCM]);
  }
  ssd_cpu_reduce_params(d, 1, s->pA, s->pD, s->pBias, t);
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  scan_state *s = p;
  float *const *t = (float *const *)tv;
  const float *Bp, *Cp;
  ssd_cpu_prepare(&s->base, t, pass == SMX_BWD, &Bp, &Cp);
  if (pass == SMX_FWD) forward(s, Bp, Cp, t);
  else backward(s, Bp, Cp, t);
  return SMX_OK;
}

const smx_variant smx_ssd_cpu_scan = {
    .name = "cpu.scan",
    .summary = "the recurrence token by token, fp32 (fp64 states backward), OpenMP over (batch, head); backward "
               "from state checkpoints every 64 steps",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
