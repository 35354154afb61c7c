/* layernorm and rmsnorm variants `cpu.rows`: fp32 throughout, OpenMP over rows for y and dx (each
 * row's sums in index order), and the weight gradients as column sums over the rows in row order,
 * OpenMP over blocks of columns, so every result is bitwise the same whatever the thread count.
 * The registered variants are thin wrappers over smx_layernorm_{fwd,bwd}_cpu and
 * smx_rmsnorm_{fwd,bwd}_cpu (include/seqmix/model_ops.h).
 *
 *   seqmix check --op layernorm --variant cpu.rows
 *   seqmix check --op rmsnorm --variant cpu.rows
 */
#include <math.h>
#include <string.h>

#include "reference/norm.h"
#include "seqmix/model_ops.h"

enum { COLS = 64 }; /* columns per block of the weight-gradient sums */

static smx_status check_args(const char *fn, int64_t T, int64_t d) {
  if (T < 1 || d < 1 || T * d > ((int64_t)1 << 31))
    return smx_fail(SMX_ERR_INVALID, "%s: T=%lld, d=%lld must be positive with T*d at most 2^31", fn, (long long)T,
                    (long long)d);
  return SMX_OK;
}

smx_status smx_layernorm_fwd_cpu(int64_t T, int64_t d, float eps, const float *x, const float *w, const float *b,
                                 float *y, float *mean, float *rstd) {
  smx_status s = check_args("smx_layernorm_fwd_cpu", T, d);
  if (s != SMX_OK) return s;
  if (!x || !w || !b || !y || !mean || !rstd || !(eps > 0))
    return smx_fail(SMX_ERR_INVALID, "smx_layernorm_fwd_cpu: NULL tensor or eps=%g not positive", (double)eps);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) {
    const float *xr = x + t * d;
    float m = 0, v = 0;
    for (int64_t i = 0; i < d; i++) m += xr[i];
    m /= (float)d;
    for (int64_t i = 0; i < d; i++) v += (xr[i] - m) * (xr[i] - m);
    float r = 1.0f / sqrtf(v / (float)d + eps);
    for (int64_t i = 0; i < d; i++) y[t * d + i] = (xr[i] - m) * r * w[i] + b[i];
    mean[t] = m;
    rstd[t] = r;
  }
  return SMX_OK;
}

smx_status smx_layernorm_bwd_cpu(int64_t T, int64_t d, const float *x, const float *w, const float *mean,
                                 const float *rstd, const float *dy, float *dx, float *dw, float *db) {
  smx_status s = check_args("smx_layernorm_bwd_cpu", T, d);
  if (s != SMX_OK) return s;
  if (!x || !w || !mean || !rstd || !dy)
    return smx_fail(SMX_ERR_INVALID, "smx_layernorm_bwd_cpu: x, w, mean, rstd and dy must not be NULL");
  if (dx) {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < T; t++) {
      float m = mean[t], r = rstd[t], sg = 0, sgx = 0;
      for (int64_t i = 0; i < d; i++) {
        float g = dy[t * d + i] * w[i];
        sg += g;
        sgx += g * (x[t * d + i] - m) * r;
      }
      sg /= (float)d;
      sgx /= (float)d;
      for (int64_t i = 0; i < d; i++) {
        float g = dy[t * d + i] * w[i], xh = (x[t * d + i] - m) * r;
        dx[t * d + i] = r * (g - sg - xh * sgx);
      }
    }
  }
  if (dw || db) {
#pragma omp parallel for schedule(static)
    for (int64_t j0 = 0; j0 < d; j0 += COLS) {
      int64_t j1 = j0 + COLS < d ? j0 + COLS : d;
      float sw[COLS] = {0}, sb[COLS] = {0};
      for (int64_t t = 0; t < T; t++) {
        float m = mean[t], r = rstd[t];
        for (int64_t j = j0; j < j1; j++) {
          float g = dy[t * d + j];
          sw[j - j0] += g * ((x[t * d + j] - m) * r);
          sb[j - j0] += g;
        }
      }
      for (int64_t j = j0; j < j1; j++) {
        if (dw) dw[j] = sw[j - j0];
        if (db) db[j] = sb[j - j0];
      }
    }
  }
  return SMX_OK;
}

smx_status smx_rmsnorm_fwd_cpu(int64_t T, int64_t d, float eps, const float *x, const float *w, float *y, float *rstd) {
  smx_status s = check_args("smx_rmsnorm_fwd_cpu", T, d);
  if (s != SMX_OK) return s;
  if (!x || !w || !y || !rstd || !(eps > 0))
    return smx_fail(SMX_ERR_INVALID, "smx_rmsnorm_fwd_cpu: NULL tensor or eps=%g not positive", (double)eps);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) {
    const float *xr = x + t * d;
    float ss = 0;
    for (int64_t i = 0; i < d; i++) ss += xr[i] * xr[i];
    float r = 1.0f / sqrtf(ss / (float)d + eps);
    for (int64_t i = 0; i < d; i++) y[t * d + i] = xr[i] * r * w[i];
    rstd[t] = r;
  }
  return SMX_OK;
}

smx_status smx_rmsnorm_bwd_cpu(int64_t T, int64_t d, const float *x, const float *w, const float *rstd, const float *dy,
                               float *dx, float *dw) {
  smx_status s = check_args("smx_rmsnorm_bwd_cpu", T, d);
  if (s != SMX_OK) return s;
  if (!x || !w || !rstd || !dy)
    return smx_fail(SMX_ERR_INVALID, "smx_rmsnorm_bwd_cpu: x, w, rstd and dy must not be NULL");
  if (dx) {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < T; t++) {
      float r = rstd[t], sgx = 0;
      for (int64_t i = 0; i < d; i++) sgx += dy[t * d + i] * w[i] * x[t * d + i];
      sgx /= (float)d;
      float r3 = r * r * r;
      for (int64_t i = 0; i < d; i++) dx[t * d + i] = r * (dy[t * d + i] * w[i]) - x[t * d + i] * r3 * sgx;
    }
  }
  if (dw) {
#pragma omp parallel for schedule(static)
    for (int64_t j0 = 0; j0 < d; j0 += COLS) {
      int64_t j1 = j0 + COLS < d ? j0 + COLS : d;
      float sw[COLS] = {0};
      for (int64_t t = 0; t < T; t++)
        for (int64_t j = j0; j < j1; j++) sw[j - j0] += dy[t * d + j] * x[t * d + j] * rstd[t];
      for (int64_t j = j0; j < j1; j++) dw[j] = sw[j - j0];
    }
  }
  return SMX_OK;
}

static smx_status ln_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  if (p == SMX_FWD)
    return smx_layernorm_fwd_cpu(T, d, (float)SMX_NORM_EPS, t[LN_X], t[LN_W], t[LN_B], t[LN_Y], t[LN_MEAN], t[LN_RSTD]);
  return smx_layernorm_bwd_cpu(T, d, t[LN_X], t[LN_W], t[LN_MEAN], t[LN_RSTD], t[LN_DY], t[LN_DX], t[LN_DW], t[LN_DB]);
}

static smx_status rms_run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  int64_t T = c->v[NORM_T], d = c->v[NORM_D];
  if (p == SMX_FWD) return smx_rmsnorm_fwd_cpu(T, d, (float)SMX_NORM_EPS, t[RMS_X], t[RMS_W], t[RMS_Y], t[RMS_RSTD]);
  return smx_rmsnorm_bwd_cpu(T, d, t[RMS_X], t[RMS_W], t[RMS_RSTD], t[RMS_DY], t[RMS_DX], t[RMS_DW]);
}

const smx_variant smx_layernorm_cpu_rows = {
    .name = "cpu.rows",
    .summary = "fp32 per-row sums, OpenMP over rows; dw, db as ordered column sums over blocks of columns",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = ln_run,
};

const smx_variant smx_rmsnorm_cpu_rows = {
    .name = "cpu.rows",
    .summary = "fp32 per-row sums, OpenMP over rows; dw as ordered column sums over blocks of columns",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = rms_run,
};
