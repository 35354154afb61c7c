/* ssm_kernel variant `cpu.vandermonde`: the Vandermonde products in blocks of 64 positions. For
 * each mode the powers E^j, j < 64, are tabulated once (fp64 exponentials rounded to fp32, split
 * into re/im arrays), and position l = 64 m + j is E^(64 m) E^j with E^(64 m) from one fp64
 * exponential per block: the inner loops over j are plain fp32 vector loops (`omp simd`), and no
 * power is formed by repeated multiplication (which would let errors grow with l). Per block the
 * partial sums are fp32; across blocks and for the chain rule, fp64. OpenMP splits channels.
 *
 *   seqmix check --op ssm_kernel --variant cpu.vandermonde
 *   seqmix bench --op ssm_kernel --variant cpu.vandermonde --suite quick
 */
#include <omp.h>
#include <stdlib.h>

#include "reference/ssm_diag.h"
#include "reference/ssm_kernel.h"

#define BLK 64

typedef struct vdm_state {
  int64_t H, N, L;
  int threads;
  float *tables; /* per thread: N x (re[64], im[64]) powers, and one 64-float accumulator */
  smx_ssm_mode64 *modes; /* per thread: N modes */
  size_t ws_bytes;
} vdm_state;

static void destroy(void *p) {
  vdm_state *s = p;
  if (!s) return;
  free(s->tables);
  free(s->modes);
  free(s);
}

static size_t table_floats(const vdm_state *s) { return (size_t)s->N * 2 * BLK + BLK; }

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  vdm_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cpu.vandermonde: cannot allocate state");
  s->H = c->v[SSMK_PH];
  s->N = c->v[SSMK_PN];
  s->L = c->v[SSMK_PL];
  s->threads = omp_get_max_threads();
  size_t tb = (size_t)s->threads * table_floats(s) * sizeof(float);
  size_t mb = (size_t)s->threads * (size_t)s->N * sizeof(smx_ssm_mode64);
  s->tables = aligned_alloc(64, (tb + 63) & ~(size_t)63);
  s->modes = malloc(mb);
  if (!s->tables || !s->modes) {
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "cpu.vandermonde: cannot allocate %zu bytes of workspace", tb + mb);
  }
  s->ws_bytes = tb + mb;
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) { return ((const vdm_state *)p)->ws_bytes; }

/* E^p = exp(z p) in fp64 */
static smx_c64 power(const smx_ssm_mode64 *m, int64_t p) { return cexp_f64(cscale_f64(m->A, m->dt * (double)p)); }

/* The channel's modes and, per mode, re[j] = Re E^j and im[j] = Im E^j for j < 64. */
static void prepare(const vdm_state *s, int64_t h, const float *const *t, smx_ssm_mode64 *m, float *tab) {
  for (int64_t n = 0; n < s->N; n++) {
    int64_t i = h * s->N + n;
    double b[2] = {t[SSMK_B][2 * i], t[SSMK_B][2 * i + 1]}, c[2] = {t[SSMK_C][2 * i], t[SSMK_C][2 * i + 1]};
    m[n] = smx_ssm_mode_f64(t[SSMK_LOGDT][h], t[SSMK_LOGARE][i], t[SSMK_AIM][i], b, c);
    float *re = tab + (size_t)n * 2 * BLK, *im = re + BLK;
    for (int j = 0; j < BLK; j++) {
      smx_c64 e = power(&m[n], j);
      re[j] = (float)e.re;
      im[j] = (float)e.im;
    }
  }
}

static void forward(const vdm_state *s, float *const *t) {
#pragma omp parallel for schedule(static)
  for (int64_t h = 0; h < s->H; h++) {
    int tid = omp_get_thread_num();
    smx_ssm_mode64 *m = s->modes + (size_t)tid * s->N;
    float *tab = s->tables + (size_t)tid * table_floats(s), *acc = tab + (size_t)s->N * 2 * BLK;
    prepare(s, h, (const float *const *)t, m, tab);
    float *k = t[SSMK_K] + h * s->L;
    for (int64_t l0 = 0; l0 < s->L; l0 += BLK) {
      int64_t len = s->L - l0 < BLK ? s->L - l0 : BLK;
      for (int j = 0; j < BLK; j++) acc[j] = 0;
      for (int64_t n = 0; n < s->N; n++) {
        /* w = 2 C Bbar E^l0 */
        smx_c64 w = cscale_f64(cmul_f64(cmul_f64(m[n].C, m[n].Bbar), power(&m[n], l0)), 2.0);
        float wr = (float)w.re, wi = (float)w.im;
        const float *re = tab + (size_t)n * 2 * BLK, *im = re + BLK;
#pragma omp simd
        for (int j = 0; j < BLK; j++) acc[j] += wr * re[j] - wi * im[j];
      }
      for (int64_t j = 0; j < len; j++) k[l0 + j] = acc[j];
    }
  }
}

/* S = sum_l dk[l] E^l and U = sum_{l>=1} l dk[l] E^(l-1), block by block: inside block l0 the
 * fp32 sums run over E^j (S) and over E^(j-1) for j >= 1 (U); the j = 0 term of U for l0 > 0 needs
 * E^(l0-1), one more fp64 exponential per block. */
static void mode_sums(const vdm_state *s, const smx_ssm_mode64 *m, const float *re, const float *im, const float *dk,
                      smx_c64 *S_out, smx_c64 *U_out) {
  smx_c64 S = c_f64(0, 0), U = c_f64(0, 0);
  for (int64_t l0 = 0; l0 < s->L; l0 += BLK) {
    int len = (int)(s->L - l0 < BLK ? s->L - l0 : BLK);
    const float *g = dk + l0;
    float sr = 0, si = 0, ur = 0, ui = 0;
#pragma omp simd reduction(+ : sr, si)
    for (int j = 0; j < len; j++) {
      sr += g[j] * re[j];
      si += g[j] * im[j];
    }
#pragma omp simd reduction(+ : ur, ui)
    for (int j = 1; j < len; j++) {
      float w = g[j] * (float)(l0 + j);
      ur += w * re[j - 1];
      ui += w * im[j - 1];
    }
    smx_c64 q = power(m, l0);
    S = cadd_f64(S, cmul_f64(q, c_f64(sr, si)));
    U = cadd_f64(U, cmul_f64(q, c_f64(ur, ui)));
    if (l0 > 0) U = cadd_f64(U, cscale_f64(power(m, l0 - 1), (double)g[0] * (double)l0));
  }
  *S_out = S;
  *U_out = U;
}

static void backward(const vdm_state *s, float *const *t) {
#pragma omp parallel for schedule(static)
  for (int64_t h = 0; h < s->H; h++) {
    int tid = omp_get_thread_num();
    smx_ssm_mode64 *m = s->modes + (size_t)tid * s->N;
    float *tab = s->tables + (size_t)tid * table_floats(s);
    prepare(s, h, (const float *const *)t, m, tab);
    double ddt = 0;
    for (int64_t n = 0; n < s->N; n++) {
      const float *re = tab + (size_t)n * 2 * BLK, *im = re + BLK;
      smx_c64 S, U;
      mode_sums(s, &m[n], re, im, t[SSMK_DK] + h * s->L, &S, &U);
      smx_c64 adj_c = cmul_f64(m[n].Bbar, S), adj_bbar = cmul_f64(m[n].C, S);
      smx_c64 adj_e = cmul_f64(cmul_f64(m[n].C, m[n].Bbar), U);
      double gc[2], gb[2], g_are, g_aim, g_dt;
      smx_ssm_chain_f64(&m[n], adj_c, adj_bbar, adj_e, gc, gb, &g_are, &g_aim, &g_dt);
      int64_t i = h * s->N + n;
      t[SSMK_DC][2 * i] = (float)gc[0];
      t[SSMK_DC][2 * i + 1] = (float)gc[1];
      t[SSMK_DB][2 * i] = (float)gb[0];
      t[SSMK_DB][2 * i + 1] = (float)gb[1];
      t[SSMK_DLOGARE][i] = (float)g_are;
      t[SSMK_DAIM][i] = (float)g_aim;
      ddt += g_dt;
    }
    t[SSMK_DLOGDT][h] = (float)(ddt * m[0].dt);
  }
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  const vdm_state *s = p;
  if (pass == SMX_FWD) forward(s, (float *const *)tv);
  else backward(s, (float *const *)tv);
  return SMX_OK;
}

const smx_variant smx_ssm_kernel_cpu_vandermonde = {
    .name = "cpu.vandermonde",
    .summary = "blocked Vandermonde: 64 tabulated powers per mode x one fp64 exponential per block, omp simd, OpenMP over channels",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
