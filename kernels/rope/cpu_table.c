/* rope variant `cpu.table`: cos/sin tables for the call's positions computed once in create()
 * (fp64, rounded to fp32: smx_rope_tables), then one fp32 rotation per pair, OpenMP over tokens.
 *
 *   seqmix check --op rope --variant cpu.table
 */
#include <stdlib.h>

#include "reference/rope.h"
#include "seqmix/buffer.h"

typedef struct table_state {
  int64_t B, L, H, P;
  float *cos_t, *sin_t; /* L x P/2 */
} table_state;

static void destroy(void *p) {
  table_state *s = p;
  if (!s) return;
  smx_host_free(s->cos_t);
  smx_host_free(s->sin_t);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  table_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.table: cannot allocate state");
  s->B = c->v[ROPE_B];
  s->L = c->v[ROPE_L];
  s->H = c->v[ROPE_H];
  s->P = c->v[ROPE_P];
  size_t n = (size_t)(s->L * (s->P / 2));
  s->cos_t = smx_host_alloc(n * sizeof(float));
  s->sin_t = smx_host_alloc(n * sizeof(float));
  if (!s->cos_t || !s->sin_t) {
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "cpu.table: cannot allocate %zu bytes of tables", 2 * n * sizeof(float));
  }
  smx_rope_tables(c, s->cos_t, s->sin_t);
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) {
  const table_state *s = p;
  return 2 * (size_t)(s->L * (s->P / 2)) * sizeof(float);
}

/* sign = +1 forward, -1 backward (the inverse rotation) */
static void rotate(const table_state *s, float sign, const float *x, float *y) {
  int64_t half = s->P / 2;
#pragma omp parallel for schedule(static)
  for (int64_t bt = 0; bt < s->B * s->L; bt++) {
    const float *co = s->cos_t + (bt % s->L) * half, *si = s->sin_t + (bt % s->L) * half;
    for (int64_t h = 0; h < s->H; h++) {
      const float *xr = x + (bt * s->H + h) * s->P;
      float *yr = y + (bt * s->H + h) * s->P;
      for (int64_t i = 0; i < half; i++) {
        float x1 = xr[i], x2 = xr[i + half], sn = sign * si[i];
        yr[i] = x1 * co[i] - x2 * sn;
        yr[i + half] = x2 * co[i] + x1 * sn;
      }
    }
  }
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  float *const *t = (float *const *)tv;
  if (pass == SMX_FWD) rotate(p, 1.0f, t[ROPE_X], t[ROPE_Y]);
  else rotate(p, -1.0f, t[ROPE_DY], t[ROPE_DX]);
  return SMX_OK;
}

const smx_variant smx_rope_cpu_table = {
    .name = "cpu.table",
    .summary = "fp32 rotation from cos/sin tables computed once in fp64, OpenMP over tokens",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
