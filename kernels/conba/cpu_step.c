/* conba_decode variant `cpu.step`: one token per sequence. The projections of the B tokens are
 * OpenBLAS sgemms (each weight read once for the whole batch: decode is weight-bandwidth bound),
 * the conv window shift, state update and readout fp32 with OpenMP over (sequence, channel).
 *
 *   seqmix check --op conba_decode --variant cpu.step
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_sgemm_par.h"
#include "reference/conba.h"
#include "seqmix/buffer.h"

typedef struct step_state {
  conba_dims d;
  float *xin, *z, *u, *dl, *s, *r, *m, *Bm, *Cm; /* B x E (B x N for Bm, Cm) */
} step_state;

static void destroy(void *p) {
  step_state *s = p;
  if (!s) return;
  float *b[] = {s->xin, s->z, s->u, s->dl, s->s, s->r, s->m, s->Bm, s->Cm};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  step_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.step: cannot allocate state");
  s->d = smx_conba_decode_dims(c);
  size_t BE = (size_t)(s->d.B * s->d.E) * sizeof(float), BN = (size_t)(s->d.B * s->d.N) * sizeof(float);
  float **be[] = {&s->xin, &s->z, &s->u, &s->dl, &s->s, &s->r, &s->m};
  int ok = 1;
  for (size_t i = 0; i < sizeof be / sizeof be[0]; i++) ok &= (*be[i] = smx_host_alloc(BE)) != NULL;
  ok = ok && (s->Bm = smx_host_alloc(BN)) && (s->Cm = smx_host_alloc(BN));
  if (!ok) {
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "cpu.step: cannot allocate activations");
  }
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) {
  const step_state *s = p;
  return (size_t)(s->d.B * (7 * s->d.E + 2 * s->d.N)) * sizeof(float);
}

static float sigf(float v) { return 1.0f / (1.0f + expf(-v)); }

/* C (M x Nc) = A (M x K) W^T, W (Nc x K) */
static void proj(const float *A, const float *W, float *C, int64_t M, int64_t Nc, int64_t K) {
  smx_sgemm_par(CblasNoTrans, CblasTrans, (int)M, (int)Nc, (int)K, 1.0f, A, (int)K, W, (int)K, 0.0f, C,
              (int)Nc);
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  if (pass != SMX_FWD) return SMX_OK;
  step_state *s = p;
  const conba_dims *d = &s->d;
  float *const *t = (float *const *)tv;
  float *const *W = t + CONBAD_W0;
  int64_t B = d->B, E = d->E, N = d->N, K = d->K;
  proj(t[CONBAD_X], W[CW_IN], s->xin, B, E, d->d);
  proj(t[CONBAD_X], W[CW_Z], s->z, B, E, d->d);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B * E; i++) {
    int64_t e = i % E;
    const float *cin = t[CONBAD_CONV_IN] + i * (K - 1), *w = W[CW_CONV] + e * K;
    float *cout = t[CONBAD_CONV_OUT] + i * (K - 1), a = W[CW_CONVB][e];
    for (int64_t j = 0; j < K - 1; j++) a += w[j] * cin[j];
    a += w[K - 1] * s->xin[i];
    s->u[i] = a * sigf(a);
    for (int64_t j = 0; j + 1 < K - 1; j++) cout[j] = cin[j + 1];
    cout[K - 2] = s->xin[i];
  }
  proj(s->u, W[CW_DT], s->dl, B, E, E);
  proj(s->u, W[CW_B], s->Bm, B, N, E);
  proj(s->u, W[CW_C], s->Cm, B, N, E);
  if (d->scaling) proj(s->u, W[CW_S], s->s, B, E, E);
  if (d->feedback) proj(s->u, W[CW_R], s->r, B, E, E);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B * E; i++) {
    int64_t b = i / E, e = i % E;
    float v = s->dl[i] + W[CW_BDT][e], dl = v > 20.0f ? v : log1pf(expf(v)), du = dl * s->u[i];
    float lam = d->delay ? W[CW_LAMBDA][e] : 0.0f, acc = 0;
    const float *hin = t[CONBAD_H_IN] + i * N, *Bt = s->Bm + b * N, *Ct = s->Cm + b * N, *Alog = W[CW_ALOG] + e * N;
    float *hout = t[CONBAD_H_OUT] + i * N;
    for (int64_t n = 0; n < N; n++) {
      float h = expf(-dl * expf(Alog[n])) * hin[n] + du * Bt[n];
      hout[n] = h;
      acc += (h + lam * hin[n]) * Ct[n];
    }
    float y = (d->scaling ? sigf(s->s[i]) : 1.0f) * acc + W[CW_D][e] * s->u[i];
    float yp = d->feedback ? y - W[CW_KAPPA][e] * (y - s->r[i]) : y, z = s->z[i];
    s->m[i] = yp * z * sigf(z);
  }
  proj(s->m, W[CW_OUT], t[CONBAD_O], B, d->d, E);
  return SMX_OK;
}

const smx_variant smx_conba_decode_cpu_step = {
    .name = "cpu.step",
    .summary = "batched sgemm projections, fp32 conv-window shift, state update and readout (OpenMP)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
