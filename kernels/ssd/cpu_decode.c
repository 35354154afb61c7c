/* ssd_decode variant `cpu.step`: one token per sequence, fp32 (reference/ssd.h):
 *   state_out = exp(a) state_in + delta x B'^T,  y = (state_out C' + D x) * silu(z).
 * The step is bound by memory traffic (a P x N state read and written per head, 4 flops per
 * element), so each row of the state is read once, updated, stored and dotted with C' in the same
 * pass. OpenMP over (b, h); the RoPE cos/sin of the token's position are computed once in create()
 * (fp64, rounded to fp32).
 *
 *   seqmix check --op ssd_decode --variant cpu.step
 *   seqmix bench --op ssd_decode --variant cpu.step --suite quick
 */
#include <math.h>
#include <stdlib.h>

#include "reference/ssd.h"
#include "seqmix/buffer.h"

typedef struct step_state {
  ssd_dims d;
  int64_t pos;
  float cs[256], sn[256]; /* N <= 512: N/2 angles */
} step_state;

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  step_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.step: cannot allocate state");
  s->d = smx_ssd_decode_dims(c, &s->pos);
  if (s->d.rope) smx_ssd_rope_tables_f32(s->pos, 1, s->d.N, s->cs, s->sn);
  *out = s;
  return SMX_OK;
}

static void destroy(void *p) { free(p); }
static size_t workspace_bytes(const void *p) {
  (void)p;
  return 0;
}

static smx_status run(void *state, smx_pass pass, void *const *tv) {
  const step_state *s = state;
  float *const *t = (float *const *)tv;
  if (pass != SMX_FWD) return smx_fail(SMX_ERR_UNSUPPORTED, "cpu.step: ssd_decode has no backward");
  const ssd_dims *d = &s->d;
  int64_t H = d->H, P = d->P, G = d->G, N = d->N, hpg = H / G, half = N / 2;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < d->B; b++)
    for (int64_t h = 0; h < H; h++) {
      int64_t g = h / hpg;
      float Bp[512], Cp[512];
      const float *bm = t[SSDD_BM] + (b * G + g) * N, *cm = t[SSDD_CM] + (b * G + g) * N;
      if (d->rope) {
        for (int64_t i = 0; i < half; i++) {
          float co = s->cs[i], si = s->sn[i], b1 = bm[i], b2 = bm[i + half], c1 = cm[i], c2 = cm[i + half];
          Bp[i] = b1 * co - b2 * si;
          Bp[i + half] = b2 * co + b1 * si;
          Cp[i] = c1 * co - c2 * si;
          Cp[i + half] = c2 * co + c1 * si;
        }
      } else {
        for (int64_t n = 0; n < N; n++) Bp[n] = bm[n], Cp[n] = cm[n];
      }
      float v = t[SSDD_DT][b * H + h], dl = d->softplus ? (float)smx_ssd_softplus((double)(v + t[SSDD_DTBIAS][h])) : v;
      float decay = expf(dl * t[SSDD_A][h]), Dh = t[SSDD_D][h];
      const float *x = t[SSDD_X] + (b * H + h) * P, *sin_ = t[SSDD_SIN] + (b * H + h) * P * N;
      float *so = t[SSDD_SOUT] + (b * H + h) * P * N, *y = t[SSDD_Y] + (b * H + h) * P;
      const float *z = d->gate ? t[SSDD_Z] + (b * H + h) * P : NULL;
      for (int64_t p = 0; p < P; p++) {
        float u = dl * x[p], acc = 0;
        const float *si = sin_ + p * N;
        float *sp = so + p * N;
#pragma omp simd reduction(+ : acc)
        for (int64_t n = 0; n < N; n++) {
          float sv = decay * si[n] + u * Bp[n];
          sp[n] = sv;
          acc += sv * Cp[n];
        }
        float y0 = acc + Dh * x[p];
        if (z) y0 *= z[p] * (float)(1.0 / (1.0 + exp(-(double)z[p])));
        y[p] = y0;
      }
    }
  return SMX_OK;
}

const smx_variant smx_ssd_decode_cpu_step = {
    .name = "cpu.step",
    .summary = "fp32 state update and readout in one pass over the state, OpenMP over (batch, head)",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
