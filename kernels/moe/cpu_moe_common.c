/* The CPU moe/cdmoe building blocks (kernels/moe/cpu_moe_common.h). Used by
 *   seqmix check --op moe          (cpu.loop, cpu.grouped)
 *   seqmix check --op moe_router   (cpu.dense)
 *   seqmix check --op cdmoe        (cpu.pk)
 */
#include "kernels/moe/cpu_moe_common.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "reference/moe.h"
#include "seqmix/buffer.h"

/* ---- the router ---- */

smx_status moe_route_alloc(moe_route *r, int64_t T, int64_t D, int64_t E, int64_t k, int renorm) {
  memset(r, 0, sizeof *r);
  r->T = T, r->D = D, r->E = E, r->k = k, r->renorm = renorm;
  r->p = smx_host_alloc((size_t)(T * E) * sizeof *r->p);
  r->idx = smx_host_alloc((size_t)(T * k) * sizeof *r->idx);
  r->g = smx_host_alloc((size_t)(T * k) * sizeof *r->g);
  r->start = smx_host_alloc((size_t)(E + 1) * sizeof *r->start);
  r->order = smx_host_alloc((size_t)(T * k) * sizeof *r->order);
  r->pos = smx_host_alloc((size_t)(T * k) * sizeof *r->pos);
  r->colsum = smx_host_alloc((size_t)E * sizeof *r->colsum);
  if (!r->p || !r->idx || !r->g || !r->start || !r->order || !r->pos || !r->colsum) {
    moe_route_free(r);
    return smx_fail(SMX_ERR_NOMEM, "moe: cannot allocate the routing workspace (T=%lld, E=%lld)", (long long)T,
                    (long long)E);
  }
  return SMX_OK;
}

void moe_route_free(moe_route *r) {
  smx_host_free(r->p);
  smx_host_free(r->idx);
  smx_host_free(r->g);
  smx_host_free(r->start);
  smx_host_free(r->order);
  smx_host_free(r->pos);
  smx_host_free(r->colsum);
  memset(r, 0, sizeof *r);
}

size_t moe_route_bytes(const moe_route *r) {
  return (size_t)(r->T * r->E) * 4 + (size_t)(r->T * r->k) * 16 + (size_t)(r->E + 1) * 8 + (size_t)r->E * 8;
}

void moe_route_fwd(moe_route *r, const float *x, const float *wr) {
  int64_t T = r->T, D = r->D, E = r->E, K = r->k;
  smx_sgemm_par(CblasNoTrans, CblasNoTrans, T, E, D, 1.0f, x, D, wr, E, 0.0f, r->p, E);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) {
    float *l = r->p + t * E;
    int32_t *it = r->idx + t * K;
    smx_moe_topk_f32(l, NULL, E, K, it);
    float m = l[it[0]], sum = 0;
    for (int64_t e = 0; e < E; e++) sum += l[e] = expf(l[e] - m);
    for (int64_t e = 0; e < E; e++) l[e] /= sum;
    float sel = 0;
    for (int64_t j = 0; j < K; j++) sel += l[it[j]];
    for (int64_t j = 0; j < K; j++) r->g[t * K + j] = r->renorm ? l[it[j]] / sel : l[it[j]];
  }
  /* counting sort of the selections by expert, token order kept inside each expert */
  int64_t *start = r->start;
  memset(start, 0, (size_t)(E + 1) * sizeof *start);
  for (int64_t i = 0; i < T * K; i++) start[r->idx[i] + 1]++;
  for (int64_t e = 0; e < E; e++) start[e + 1] += start[e];
  for (int64_t i = 0; i < T * K; i++) {
    int64_t e = r->idx[i];
    r->pos[i] = (int32_t)start[e];
    r->order[start[e]++] = (int32_t)i;
  }
  for (int64_t e = E; e > 0; e--) start[e] = start[e - 1];
  start[0] = 0;
  /* aux = E sum_e (count_e / T) (mean_t p[t, e]); columns summed in token order per thread block */
  int nt = omp_get_max_threads();
  int64_t chunk = (E + nt - 1) / nt;
#pragma omp parallel for schedule(static)
  for (int c = 0; c < nt; c++) {
    int64_t e0 = c * chunk, e1 = e0 + chunk < E ? e0 + chunk : E;
    if (e0 >= e1) continue;
    double *P = r->colsum + e0;
    for (int64_t e = e0; e < e1; e++) P[e - e0] = 0;
    for (int64_t t = 0; t < T; t++)
      for (int64_t e = e0; e < e1; e++) P[e - e0] += r->p[t * E + e];
  }
  double aux = 0; /* summed in expert order: the same for any thread count */
  for (int64_t e = 0; e < E; e++) aux += (double)(start[e + 1] - start[e]) * r->colsum[e];
  r->aux = (float)((double)E * aux / ((double)T * (double)T));
}

void moe_route_bwd(moe_route *r, const float *x, const float *wr, const float *dg, float daux, float *dx, float *dwr) {
  int64_t T = r->T, D = r->D, E = r->E, K = r->k;
  float ca = daux * (float)E / ((float)T * (float)T); /* d aux / d p[t, e] = ca count_e */
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) {
    float *l = r->p + t * E;
    const int32_t *it = r->idx + t * K;
    const float *gt = r->g + t * K, *dgt = dg ? dg + t * K : NULL;
    float s = 0;
    for (int64_t e = 0; e < E; e++) s += l[e] * ca * (float)(r->start[e + 1] - r->start[e]);
    if (!r->renorm && dgt)
      for (int64_t j = 0; j < K; j++) s += gt[j] * dgt[j]; /* g = p at the selected experts */
    for (int64_t e = 0; e < E; e++) l[e] = l[e] * (ca * (float)(r->start[e + 1] - r->start[e]) - s);
    if (dgt && !r->renorm) /* p (dp - s) with dp = ca count + dg, summed before the difference as written */
      for (int64_t j = 0; j < K; j++)
        l[it[j]] = gt[j] * ((ca * (float)(r->start[it[j] + 1] - r->start[it[j]]) + dgt[j]) - s);
    if (dgt && r->renorm) {
      float G = 0;
      for (int64_t j = 0; j < K; j++) G += gt[j] * dgt[j];
      for (int64_t j = 0; j < K; j++) l[it[j]] += gt[j] * (dgt[j] - G);
    }
  }
  smx_sgemm_par(CblasNoTrans, CblasTrans, T, D, E, 1.0f, r->p, E, wr, E, 1.0f, dx, D);
  smx_sgemm_par(CblasTrans, CblasNoTrans, D, E, T, 1.0f, x, D, r->p, E, 0.0f, dwr, E);
}

/* ---- the shared expert ---- */

static void glu_act(int64_t n, float *a, const float *b) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) a[i] = a[i] * moe_sigmoid(a[i]) * b[i];
}

void moe_shared_fwd(int64_t T, int64_t D, int64_t S, const float *x, const float *sg, const float *su, const float *sd,
                    float *a, float *b, float *y, int accumulate) {
  if (S == 0) {
    if (!accumulate) memset(y, 0, (size_t)(T * D) * sizeof *y);
    return;
  }
  smx_sgemm_par(CblasNoTrans, CblasNoTrans, T, S, D, 1.0f, x, D, sg, S, 0.0f, a, S);
  smx_sgemm_par(CblasNoTrans, CblasNoTrans, T, S, D, 1.0f, x, D, su, S, 0.0f, b, S);
  glu_act(T * S, a, b);
  smx_sgemm_par(CblasNoTrans, CblasNoTrans, T, D, S, 1.0f, a, S, sd, D, accumulate ? 1.0f : 0.0f, y, D);
}

void moe_shared_bwd(int64_t T, int64_t D, int64_t S, const float *x, const float *sg, const float *su, const float *sd,
                    const float *dy, float *a, float *b, float *h, float *dx, int accumulate, float *dsg, float *dsu,
                    float *dsd) {
  if (S == 0) {
    if (!accumulate) memset(dx, 0, (size_t)(T * D) * sizeof *dx);
    return;
  }
  smx_sgemm_par(CblasNoTrans, CblasNoTrans, T, S, D, 1.0f, x, D, sg, S, 0.0f, a, S);
  smx_sgemm_par(CblasNoTrans, CblasNoTrans, T, S, D, 1.0f, x, D, su, S, 0.0f, b, S);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < T * S; i++) h[i] = a[i] * moe_sigmoid(a[i]) * b[i];
  smx_sgemm_par(CblasTrans, CblasNoTrans, S, D, T, 1.0f, h, S, dy, D, 0.0f, dsd, D);
  smx_sgemm_par(CblasNoTrans, CblasTrans, T, S, D, 1.0f, dy, D, sd, D, 0.0f, h, S); /* dh */
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < T * S; i++) {
    float ai = a[i], sgm = moe_sigmoid(ai), dh = h[i];
    a[i] = dh * b[i] * sgm * (1.0f + ai * (1.0f - sgm));
    b[i] = dh * ai * sgm;
  }
  smx_sgemm_par(CblasTrans, CblasNoTrans, D, S, T, 1.0f, x, D, a, S, 0.0f, dsg, S);
  smx_sgemm_par(CblasTrans, CblasNoTrans, D, S, T, 1.0f, x, D, b, S, 0.0f, dsu, S);
  smx_sgemm_par(CblasNoTrans, CblasTrans, T, D, S, 1.0f, a, S, sg, S, accumulate ? 1.0f : 0.0f, dx, D);
  smx_sgemm_par(CblasNoTrans, CblasTrans, T, D, S, 1.0f, b, S, su, S, 1.0f, dx, D);
}
