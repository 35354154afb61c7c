/* mlp variant `cpu.blas`: the GEMMs through OpenBLAS cblas_sgemm, the activation and the GLU
 * product (and their gradients) as fp32 loops, OpenMP over rows. The forward keeps a and u (the
 * gate and up pre-activations) for the backward; the registered variant's backward recomputes them
 * first (a backward must not rely on an earlier forward). A thin wrapper over smx_mlp_fwd_cpu /
 * smx_mlp_bwd_cpu (include/seqmix/model_ops.h).
 *
 *   seqmix check --op mlp --variant cpu.blas
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/cpu_sgemm_par.h"
#include "kernels/cpu_simd_math.h"
#include "reference/gelu.h"
#include "reference/mlp.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"

/* h = act(a) * u over n elements; the activations as in reference/gelu.h and the SiLU a / (1 + e^-a),
 * in parallel loops that glibc's vector erff/expf serve (kernels/cpu_simd_math.h) */
static void act_mul(int gelu, const float *a, const float *u, float *h, int64_t n) {
  if (gelu) {
    SMX_PARALLEL_SIMD_MATH
    for (int64_t i = 0; i < n; i++) h[i] = 0.5f * a[i] * (1.0f + erff(a[i] * 0.70710678f)) * u[i];
  } else {
    SMX_PARALLEL_SIMD_MATH
    for (int64_t i = 0; i < n; i++) h[i] = a[i] / (1.0f + expf(-a[i])) * u[i];
  }
}

/* In place over the GLU's gradient: dh (in da) becomes da = dh u act'(a), and du = dh act(a) */
static void act_bwd(int gelu, const float *a, const float *u, float *da, float *du, int64_t n) {
  if (gelu) { /* the gated GELU backward with u as the post-gate: du = dh GELU(a), da = dh u GELU'(a) */
    const int64_t chunk = 4096;
#pragma omp parallel for schedule(static)
    for (int64_t i0 = 0; i0 < n; i0 += chunk)
      smx_gelu_row_bwd_f32(a + i0, da + i0, u + i0, du + i0, da + i0, n - i0 < chunk ? n - i0 : chunk);
  } else {
    SMX_PARALLEL_SIMD_MATH
    for (int64_t i = 0; i < n; i++) {
      float g = da[i], ai = a[i], ex = expf(-ai), sg = 1.0f / (1.0f + ex);
      du[i] = g * (ai / (1.0f + ex));
      da[i] = g * u[i] * (sg * (1.0f + ai * (1.0f - sg)));
    }
  }
}

static smx_status check_args(const char *fn, int64_t T, int64_t d, int64_t F, smx_act a) {
  const int64_t lim = (int64_t)1 << 31;
  if (T < 1 || d < 1 || F < 1 || T * d > lim || T * F > lim || F * d > lim)
    return smx_fail(SMX_ERR_INVALID, "%s: T=%lld, d=%lld, F=%lld must be positive with every tensor at most 2^31 elements",
                    fn, (long long)T, (long long)d, (long long)F);
  if (a != SMX_ACT_SILU && a != SMX_ACT_GELU)
    return smx_fail(SMX_ERR_INVALID, "%s: activation %d is not SMX_ACT_SILU (0) or SMX_ACT_GELU (1)", fn, (int)a);
  return SMX_OK;
}

/* a = x Wg^T, u = x Wu^T: (T, d) (d, F) */
static void gate_up(int64_t T, int64_t d, int64_t F, const float *x, const float *wg, const float *wu, float *a, float *u) {
  smx_sgemm_par(CblasNoTrans, CblasTrans, (int)T, (int)F, (int)d, 1.0f, x, (int)d, wg, (int)d, 0.0f, a,
              (int)F);
  smx_sgemm_par(CblasNoTrans, CblasTrans, (int)T, (int)F, (int)d, 1.0f, x, (int)d, wu, (int)d, 0.0f, u,
              (int)F);
}

smx_status smx_mlp_fwd_cpu(int64_t T, int64_t d, int64_t F, smx_act ac, const float *x, const float *wg, const float *wu,
                           const float *wd, float *y, float *a, float *u, float *h) {
  smx_status s = check_args("smx_mlp_fwd_cpu", T, d, F, ac);
  if (s != SMX_OK) return s;
  if (!x || !wg || !wu || !wd || !y || !a || !u || !h)
    return smx_fail(SMX_ERR_INVALID, "smx_mlp_fwd_cpu: a tensor or workspace pointer is NULL");
  int gelu = ac == SMX_ACT_GELU;
  gate_up(T, d, F, x, wg, wu, a, u);
  int64_t n = T * F;
  act_mul(gelu, a, u, h, n);
  smx_sgemm_par(CblasNoTrans, CblasTrans, (int)T, (int)d, (int)F, 1.0f, h, (int)F, wd, (int)F, 0.0f, y,
              (int)d);
  return SMX_OK;
}

smx_status smx_mlp_bwd_cpu(int64_t T, int64_t d, int64_t F, smx_act ac, const float *x, const float *wg, const float *wu,
                           const float *wd, const float *a, const float *u, const float *dy, float *dx, float *dwg,
                           float *dwu, float *dwd, float *work) {
  smx_status s = check_args("smx_mlp_bwd_cpu", T, d, F, ac);
  if (s != SMX_OK) return s;
  if (!x || !wg || !wu || !wd || !a || !u || !dy || !work)
    return smx_fail(SMX_ERR_INVALID, "smx_mlp_bwd_cpu: an input or the workspace is NULL");
  int gelu = ac == SMX_ACT_GELU;
  int64_t n = T * F;
  float *h = work, *dh = work + n;
  if (dwd) {
    act_mul(gelu, a, u, h, n);
    /* dWd = dy^T h: (d, T) (T, F) */
    smx_sgemm_par(CblasTrans, CblasNoTrans, (int)d, (int)F, (int)T, 1.0f, dy, (int)d, h, (int)F, 0.0f, dwd,
                (int)F);
  }
  /* dh = dy Wd: (T, d) (d, F) */
  smx_sgemm_par(CblasNoTrans, CblasNoTrans, (int)T, (int)F, (int)d, 1.0f, dy, (int)d, wd, (int)F, 0.0f, dh,
              (int)F);
  float *da = dh, *du = h; /* in place: each element reads dh, a, u once before writing */
  act_bwd(gelu, a, u, da, du, n);
  if (dwg) /* (F, T) (T, d) */
    smx_sgemm_par(CblasTrans, CblasNoTrans, (int)F, (int)d, (int)T, 1.0f, da, (int)F, x, (int)d, 0.0f, dwg,
                (int)d);
  if (dwu)
    smx_sgemm_par(CblasTrans, CblasNoTrans, (int)F, (int)d, (int)T, 1.0f, du, (int)F, x, (int)d, 0.0f, dwu,
                (int)d);
  if (dx) { /* da Wg + du Wu: (T, F) (F, d) twice */
    smx_sgemm_par(CblasNoTrans, CblasNoTrans, (int)T, (int)d, (int)F, 1.0f, da, (int)F, wg, (int)d, 0.0f, dx,
                (int)d);
    smx_sgemm_par(CblasNoTrans, CblasNoTrans, (int)T, (int)d, (int)F, 1.0f, du, (int)F, wu, (int)d, 1.0f, dx,
                (int)d);
  }
  return SMX_OK;
}

/* ---- the registered variant: a, u, h (forward) or a, u and the backward's 2 T F (backward) ---- */

typedef struct mlp_state {
  smx_config c;
  float *ws; /* 4 T F floats */
} mlp_state;

static void destroy(void *p) {
  mlp_state *s = p;
  if (!s) return;
  smx_host_free(s->ws);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  mlp_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "mlp cpu.blas: cannot allocate state");
  s->c = *c;
  size_t n = 4 * (size_t)(c->v[MLP_T] * c->v[MLP_F]);
  s->ws = smx_host_alloc(n * sizeof(float));
  if (!s->ws) {
    free(s);
    return smx_fail(SMX_ERR_NOMEM, "mlp cpu.blas: cannot allocate %zu bytes of workspace", n * sizeof(float));
  }
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) {
  const mlp_state *s = p;
  return 4 * (size_t)(s->c.v[MLP_T] * s->c.v[MLP_F]) * sizeof(float);
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  mlp_state *s = p;
  float *const *t = (float *const *)tv;
  int64_t T = s->c.v[MLP_T], d = s->c.v[MLP_D], F = s->c.v[MLP_F], n = T * F;
  smx_act ac = s->c.v[MLP_ACT] ? SMX_ACT_GELU : SMX_ACT_SILU;
  float *a = s->ws, *u = s->ws + n, *work = s->ws + 2 * n;
  if (pass == SMX_FWD) return smx_mlp_fwd_cpu(T, d, F, ac, t[MLP_X], t[MLP_WG], t[MLP_WU], t[MLP_WD], t[MLP_Y], a, u, work);
  gate_up(T, d, F, t[MLP_X], t[MLP_WG], t[MLP_WU], a, u);
  return smx_mlp_bwd_cpu(T, d, F, ac, t[MLP_X], t[MLP_WG], t[MLP_WU], t[MLP_WD], a, u, t[MLP_DY], t[MLP_DX], t[MLP_DWG],
                         t[MLP_DWU], t[MLP_DWD], work);
}

const smx_variant smx_mlp_cpu_blas = {
    .name = "cpu.blas",
    .summary = "OpenBLAS sgemm for the five products, fp32 activation loops (OpenMP); a and u recomputed in backward",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
