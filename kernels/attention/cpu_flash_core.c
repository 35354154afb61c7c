/* The CPU flash-attention core (cpu_flash_core.h). */
#include "kernels/attention/cpu_flash_core.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attention/cpu_vexp.h"
#include "kernels/cpu_blas_single.h"
#include "seqmix/buffer.h"

#define BR 64 /* query rows per tile */
#define BC 64 /* keys per gathered chunk */

/* One thread's tiles and buffers. */
typedef struct flash_thread {
  float *S, *Pm, *dP;   /* BR x BC: scores, probabilities, dP */
  float *dKc, *dVc;     /* BC x P: backward, the chunk's dk and dv contributions */
  float *Kc, *Vc;       /* BC x P: gathered keys / values */
  float *bc;            /* BC: gathered biases */
  float *acc, *m, *l;   /* BR x P output (or dq) accumulator; BR row max and sum */
  int32_t *idx, *jc;    /* the tile's key list (L); the chunk's key indices (BC) */
  float *dk, *dv, *db;  /* backward partials of one (batch, KV head): L x P, L x P, L */
} flash_thread;

struct cpu_flash {
  cpu_flash_shape s;
  int threads;
  float scale;
  float *D; /* backward: <do_i, o_i> per (b, h, i) */
  flash_thread *t;
  size_t bytes;
};

static void *take(cpu_flash *f, size_t bytes) {
  f->bytes += bytes;
  return smx_host_alloc(bytes ? bytes : 1);
}

void cpu_flash_destroy(cpu_flash *f) {
  if (!f) return;
  for (int i = 0; f->t && i < f->threads; i++) {
    flash_thread *t = &f->t[i];
    void *all[] = {t->S, t->Pm, t->dP, t->dKc, t->dVc, t->Kc, t->Vc, t->bc, t->acc, t->m, t->l, t->idx, t->jc,
                   t->dk, t->dv, t->db};
    for (size_t j = 0; j < sizeof all / sizeof all[0]; j++) smx_host_free(all[j]);
  }
  free(f->t);
  smx_host_free(f->D);
  free(f);
}

smx_status cpu_flash_create(const cpu_flash_shape *s, cpu_flash **out) {
  *out = NULL;
  cpu_flash *f = calloc(1, sizeof *f);
  if (!f) return smx_fail(SMX_ERR_NOMEM, "cpu flash attention: cannot allocate state");
  f->s = *s;
  f->scale = (float)(1.0 / sqrt((double)s->P));
  f->threads = omp_get_max_threads();
  f->t = calloc((size_t)f->threads, sizeof *f->t);
  size_t L = (size_t)s->L, P = (size_t)s->P, F = sizeof(float);
  f->D = take(f, (size_t)(s->B * s->H) * L * F);
  int ok = f->t && f->D;
  for (int i = 0; ok && i < f->threads; i++) {
    flash_thread *t = &f->t[i];
    t->S = take(f, BR * BC * F), t->Pm = take(f, BR * BC * F), t->dP = take(f, BR * BC * F);
    t->dKc = take(f, P * BC * F), t->dVc = take(f, P * BC * F), t->Kc = take(f, BC * P * F), t->Vc = take(f, BC * P * F);
    t->bc = take(f, BC * F), t->acc = take(f, BR * P * F), t->m = take(f, BR * F), t->l = take(f, BR * F);
    t->idx = take(f, L * sizeof(int32_t)), t->jc = take(f, BC * sizeof(int32_t));
    t->dk = take(f, L * P * F), t->dv = take(f, L * P * F), t->db = take(f, L * F);
    ok = t->S && t->Pm && t->dP && t->dKc && t->dVc && t->Kc && t->Vc && t->bc && t->acc && t->m && t->l && t->idx &&
         t->jc && t->dk && t->dv && t->db;
  }
  if (!ok) {
    size_t want = f->bytes;
    cpu_flash_destroy(f);
    return smx_fail(SMX_ERR_NOMEM, "cpu flash attention: cannot allocate %zu bytes of tiles", want);
  }
  *out = f;
  return SMX_OK;
}

size_t cpu_flash_workspace_bytes(const cpu_flash *f) { return f->bytes; }

/* The keys query rows [i0, i1) can see: all j < i1, or with a selection those kept for a row of
 * the tile (key j is kept for rows [j, keep[j])). */
static int64_t tile_keys(const int32_t *keep, int64_t i0, int64_t i1, int32_t *idx) {
  int64_t n = 0;
  for (int64_t j = 0; j < i1; j++)
    if (!keep || keep[j] > i0) idx[n++] = (int32_t)j;
  return n;
}

typedef struct slice {
  const float *k, *v, *bias; /* this (b, g): rows strided by Hkv * P; bias contiguous (L) */
  const int32_t *keep;
  int64_t stride;
} slice;

/* Gathers keys idx[c0 .. c0 + BC) (padding past n with invisible zeros) into the thread's K and V
 * tiles (BC x P, row c = key idx[c0 + c]). */
static void gather(flash_thread *t, const slice *sl, int64_t P, const int32_t *idx, int64_t c0, int64_t n) {
  for (int64_t c = 0; c < BC; c++) {
    int in = c0 + c < n;
    int32_t j = in ? idx[c0 + c] : INT32_MAX;
    t->jc[c] = j;
    t->bc[c] = in && sl->bias ? sl->bias[j] : 0.0f;
    float *kc = t->Kc + c * P, *vc = t->Vc + c * P;
    if (in) {
      memcpy(kc, sl->k + (int64_t)j * sl->stride, (size_t)P * sizeof(float));
      memcpy(vc, sl->v + (int64_t)j * sl->stride, (size_t)P * sizeof(float));
    } else {
      memset(kc, 0, (size_t)P * sizeof(float));
      memset(vc, 0, (size_t)P * sizeof(float));
    }
  }
}

static int visible(const int32_t *keep, int64_t i, int32_t j) { return j <= i && (!keep || i < keep[j]); }

/* S[r][c] = scale <q_r, k_c> + bias_c for the tile's rows; -inf where key c is not visible. The
 * products are one single-threaded OpenBLAS sgemm of the query rows against the gathered keys
 * (Kc, BC x P): register-blocked, where a hand loop over score rows spends its time on loads and
 * stores of S (measured 3-4x slower than torch's SDPA on the CPU before). */
static void scores(const cpu_flash *f, flash_thread *t, const float *q0, int64_t qstride, int64_t i0, int64_t nr,
                   const int32_t *keep) {
  int64_t P = f->s.P;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, BC, (int)P, 1.0f, q0, (int)qstride, t->Kc, (int)P, 0.0f,
              t->S, BC);
  for (int64_t r = 0; r < nr; r++) {
    float *s = t->S + r * BC;
    if (keep) {
      for (int64_t c = 0; c < BC; c++) s[c] = visible(keep, i0 + r, t->jc[c]) ? s[c] * f->scale + t->bc[c] : -INFINITY;
      continue;
    }
    /* causal only: key c is visible when jc[c] <= i; the mask as integer AND/OR so it vectorizes */
    const int32_t i = (int32_t)(i0 + r), ninf = (int32_t)0xff800000, *jc = t->jc;
    const float scale = f->scale, *bc = t->bc;
#pragma omp simd
    for (int64_t c = 0; c < BC; c++) {
      float v = s[c] * scale + bc[c];
      int32_t vi, in = -(int32_t)(jc[c] <= i);
      memcpy(&vi, &v, sizeof vi);
      vi = (vi & in) | (ninf & ~in);
      memcpy(&v, &vi, sizeof v);
      s[c] = v;
    }
  }
}

static slice slice_of(const cpu_flash *f, int64_t b, int64_t g, const float *k, const float *v, const float *bias,
                      const int32_t *keep) {
  int64_t L = f->s.L, Hkv = f->s.Hkv, P = f->s.P;
  slice sl = {k + (b * L * Hkv + g) * P, v + (b * L * Hkv + g) * P, bias ? bias + (b * Hkv + g) * L : NULL,
              keep ? keep + (b * Hkv + g) * L : NULL, Hkv * P};
  return sl;
}

/* pr[c] = e^(s[c] - m), 0 where s[c] = -inf (a key the row cannot see); m is the row's running
 * max or its log-sum-exp, so s[c] - m <= 0 up to rounding (smx_vexpf_nonpos: vectorizes) */
static void probabilities(const float *s, float m, float *pr) {
#pragma omp simd
  for (int64_t c = 0; c < BC; c++) pr[c] = smx_vexpf_nonpos(s[c] - m);
}

/* One query tile's forward: rows [i0, i0 + nr) of head h, online softmax over the tile's keys. */
static void fwd_tile(const cpu_flash *f, flash_thread *t, const slice *sl, int64_t b, int64_t h, int64_t i0, int64_t nr,
                     const float *q, float *o, float *lse) {
  int64_t L = f->s.L, H = f->s.H, P = f->s.P;
  const float *q0 = q + ((b * L + i0) * H + h) * P;
  int64_t n = tile_keys(sl->keep, i0, i0 + nr, t->idx);
  for (int64_t r = 0; r < nr; r++) t->m[r] = -INFINITY, t->l[r] = 0.0f;
  memset(t->acc, 0, (size_t)(nr * P) * sizeof(float));
  for (int64_t c0 = 0; c0 < n; c0 += BC) {
    gather(t, sl, P, t->idx, c0, n);
    scores(f, t, q0, H * P, i0, nr, sl->keep);
    for (int64_t r = 0; r < nr; r++) {
      const float *s = t->S + r * BC;
      float *pr = t->Pm + r * BC, mloc = -INFINITY;
#pragma omp simd reduction(max : mloc)
      for (int64_t c = 0; c < BC; c++) mloc = s[c] > mloc ? s[c] : mloc;
      if (mloc == -INFINITY) { /* no visible key in this chunk: the row's state stays */
        memset(pr, 0, BC * sizeof(float));
        continue;
      }
      float mnew = mloc > t->m[r] ? mloc : t->m[r], alpha = smx_vexpf(t->m[r] - mnew), sum = 0.0f;
      probabilities(s, mnew, pr);
#pragma omp simd reduction(+ : sum)
      for (int64_t c = 0; c < BC; c++) sum += pr[c];
      float *acc = t->acc + r * P;
      for (int64_t p = 0; p < P; p++) acc[p] *= alpha;
      t->l[r] = t->l[r] * alpha + sum;
      t->m[r] = mnew;
    }
    /* acc += Pm V for every row of the tile at once */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)P, BC, 1.0f, t->Pm, BC, t->Vc, (int)P, 1.0f,
                t->acc, (int)P);
  }
  for (int64_t r = 0; r < nr; r++) {
    float *orow = o + ((b * L + i0 + r) * H + h) * P, inv = t->l[r] > 0 ? 1.0f / t->l[r] : 0.0f;
    for (int64_t p = 0; p < P; p++) orow[p] = t->acc[r * P + p] * inv;
    lse[(b * H + h) * L + i0 + r] = t->l[r] > 0 ? t->m[r] + logf(t->l[r]) : 0.0f;
  }
}

void cpu_flash_fwd(cpu_flash *f, const float *q, const float *k, const float *v, const float *bias,
                   const int32_t *keep, float *o, float *lse) {
  int64_t B = f->s.B, L = f->s.L, H = f->s.H, group = H / f->s.Hkv, tiles = (L + BR - 1) / BR;
  int blas_threads = smx_blas_single_begin(); /* the tiles' GEMMs run inside OpenMP */
#pragma omp parallel for collapse(3) schedule(dynamic, 1) num_threads(f->threads)
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t ti = 0; ti < tiles; ti++) {
        slice sl = slice_of(f, b, h / group, k, v, bias, keep);
        int64_t i0 = (tiles - 1 - ti) * BR; /* longest tiles first */
        fwd_tile(f, &f->t[omp_get_thread_num()], &sl, b, h, i0, L - i0 < BR ? L - i0 : BR, q, o, lse);
      }
  smx_blas_single_end(blas_threads);
}

/* One query tile's backward: dq rows written, dk/dv/dbias added into the thread's partials. */
static void bwd_tile(cpu_flash *f, flash_thread *t, const slice *sl, int64_t b, int64_t h, int64_t i0, int64_t nr,
                     const float *q, const float *lse, const float *dout, float *dq) {
  int64_t L = f->s.L, H = f->s.H, P = f->s.P;
  const float *q0 = q + ((b * L + i0) * H + h) * P, *do0 = dout + ((b * L + i0) * H + h) * P;
  const float *lse0 = lse + (b * H + h) * L + i0, *D0 = f->D + (b * H + h) * L + i0;
  int64_t n = tile_keys(sl->keep, i0, i0 + nr, t->idx);
  memset(t->acc, 0, (size_t)(nr * P) * sizeof(float));
  for (int64_t c0 = 0; c0 < n; c0 += BC) {
    gather(t, sl, P, t->idx, c0, n);
    scores(f, t, q0, H * P, i0, nr, sl->keep);
    /* dP = dO V^T for the tile's rows (sgemm), then P and dS = P (dP - D) row by row */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, BC, (int)P, 1.0f, do0, (int)(H * P), t->Vc, (int)P, 0.0f,
                t->dP, BC);
    for (int64_t r = 0; r < nr; r++) {
      const float *s = t->S + r * BC;
      float *pr = t->Pm + r * BC, *dpr = t->dP + r * BC;
      probabilities(s, lse0[r], pr);
      /* dS; where a row's whole probability sits on one key (P = 1), dS there is exactly 0, as in
       * exact arithmetic (D_i = sum_j P_ij dP_ij = dP_ic): the GEMM's dP and the row loop's D
       * round differently, and a lone visible key (row 0) must give dq = dk = 0 exactly */
      for (int64_t c = 0; c < BC; c++) dpr[c] = pr[c] == 1.0f ? 0.0f : pr[c] * (dpr[c] - D0[r]);
    }
    int64_t nc = n - c0 < BC ? n - c0 : BC;
    /* dq (unscaled) += dS K; the chunk's dk = dS^T Q and dv = P^T dO, added into the thread's
     * partials by key (padding columns are zero and skipped) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)P, BC, 1.0f, t->dP, BC, t->Kc, (int)P, 1.0f, t->acc,
                (int)P);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nc, (int)P, (int)nr, 1.0f, t->dP, BC, q0, (int)(H * P), 0.0f,
                t->dKc, (int)P);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nc, (int)P, (int)nr, 1.0f, t->Pm, BC, do0, (int)(H * P), 0.0f,
                t->dVc, (int)P);
    for (int64_t c = 0; c < nc; c++) {
      int32_t j = t->jc[c];
      float *dkj = t->dk + (int64_t)j * P, *dvj = t->dv + (int64_t)j * P, db = 0.0f;
      const float *ck = t->dKc + c * P, *cv = t->dVc + c * P;
      for (int64_t p = 0; p < P; p++) {
        dkj[p] += ck[p];
        dvj[p] += cv[p];
      }
      for (int64_t r = 0; r < nr; r++) db += t->dP[r * BC + c];
      t->db[j] += db;
    }
  }
  for (int64_t r = 0; r < nr; r++) {
    float *dqr = dq + ((b * L + i0 + r) * H + h) * P;
    for (int64_t p = 0; p < P; p++) dqr[p] = f->scale * t->acc[r * P + p];
  }
}

void cpu_flash_bwd(cpu_flash *f, const float *q, const float *k, const float *v, const float *bias,
                   const int32_t *keep, const float *o, const float *lse, const float *dout, float *dq, float *dk,
                   float *dv, float *dbias) {
  int64_t B = f->s.B, L = f->s.L, H = f->s.H, Hkv = f->s.Hkv, P = f->s.P, group = H / Hkv;
  int64_t tiles = (L + BR - 1) / BR, T = f->threads;
  int blas_threads = smx_blas_single_begin(); /* the tiles' GEMMs run inside OpenMP */
#pragma omp parallel for collapse(2) schedule(static) num_threads(f->threads)
  for (int64_t bh = 0; bh < B * H; bh++)
    for (int64_t i = 0; i < L; i++) {
      int64_t b = bh / H, h = bh % H;
      const float *orow = o + ((b * L + i) * H + h) * P, *dor = dout + ((b * L + i) * H + h) * P;
      /* D_i = <do_i, o_i> (a row with one visible key gets dS = 0 in bwd_tile directly) */
      float s = 0.0f;
      int64_t p = 0;
      for (; p + 4 <= P; p += 4) s += (dor[p] * orow[p] + dor[p + 1] * orow[p + 1]) + (dor[p + 2] * orow[p + 2] + dor[p + 3] * orow[p + 3]);
      for (; p < P; p++) s += dor[p] * orow[p];
      f->D[bh * L + i] = s;
    }
  for (int64_t b = 0; b < B; b++)
    for (int64_t g = 0; g < Hkv; g++) {
      slice sl = slice_of(f, b, g, k, v, bias, keep);
#pragma omp parallel num_threads(f->threads)
      {
        flash_thread *t = &f->t[omp_get_thread_num()];
        /* every partial, also those of threads the runtime did not start this time */
#pragma omp for schedule(static)
        for (int64_t th = 0; th < T; th++) {
          memset(f->t[th].dk, 0, (size_t)(L * P) * sizeof(float));
          memset(f->t[th].dv, 0, (size_t)(L * P) * sizeof(float));
          memset(f->t[th].db, 0, (size_t)L * sizeof(float));
        }
        /* static: the same tiles land in the same partials every run */
#pragma omp for schedule(static, 1)
        for (int64_t u = 0; u < group * tiles; u++) {
          int64_t h = g * group + u / tiles, i0 = (u % tiles) * BR;
          bwd_tile(f, t, &sl, b, h, i0, L - i0 < BR ? L - i0 : BR, q, lse, dout, dq);
        }
#pragma omp for schedule(static)
        for (int64_t j = 0; j < L; j++) {
          float *dkj = dk + ((b * L + j) * Hkv + g) * P, *dvj = dv + ((b * L + j) * Hkv + g) * P;
          for (int64_t p = 0; p < P; p++) {
            float sk = 0.0f, sv = 0.0f;
            for (int64_t th = 0; th < T; th++) {
              sk += f->t[th].dk[j * P + p];
              sv += f->t[th].dv[j * P + p];
            }
            dkj[p] = f->scale * sk;
            dvj[p] = sv;
          }
          if (dbias) {
            float sb = 0.0f;
            for (int64_t th = 0; th < T; th++) sb += f->t[th].db[j];
            dbias[(b * Hkv + g) * L + j] = sb;
          }
        }
      }
    }
  smx_blas_single_end(blas_threads);
}

/* <a, b> with 8 independent partial sums (vectorizes without reassociating) added in a fixed order */
static float dot8(const float *a, const float *b, int64_t n) {
  float acc[8] = {0};
  int64_t p = 0;
  for (; p + 8 <= n; p += 8)
    for (int u = 0; u < 8; u++) acc[u] += a[p + u] * b[p + u];
  for (; p < n; p++) acc[0] += a[p] * b[p];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void cpu_flash_decode_chunk(const float *q, const float *k, const float *v, int64_t row_stride, int64_t n, int64_t H,
                            int64_t group, int64_t P, float scale, const float *bias, int64_t bias_stride, float *s,
                            int64_t cap, float *parts, int64_t part_stride) {
  for (int64_t j = 0; j < n; j++) { /* row j of K, every KV head, read once */
    const float *kj = k + j * row_stride;
    for (int64_t h = 0; h < H; h++)
      s[h * cap + j] = scale * dot8(q + h * P, kj + (h / group) * P, P) + (bias ? bias[h * bias_stride + j] : 0.0f);
  }
  for (int64_t h = 0; h < H; h++) {
    float *sh = s + h * cap, m = -INFINITY, sum = 0.0f, *part = parts + h * part_stride;
    for (int64_t j = 0; j < n; j++) m = sh[j] > m ? sh[j] : m;
    for (int64_t j = 0; j < n; j++) {
      sh[j] = expf(sh[j] - m);
      sum += sh[j];
    }
    for (int64_t x = 0; x < P; x++) part[x] = 0.0f;
    part[P] = m;
    part[P + 1] = sum;
  }
  for (int64_t j = 0; j < n; j++) { /* row j of V, every KV head, read once */
    const float *vj = v + j * row_stride;
    for (int64_t h = 0; h < H; h++) {
      float e = s[h * cap + j], *part = parts + h * part_stride;
      const float *vh = vj + (h / group) * P;
      for (int64_t x = 0; x < P; x++) part[x] += e * vh[x];
    }
  }
}

void cpu_flash_decode_combine(const float *parts, int64_t nc, int64_t P, float *out) {
  float m = -INFINITY, sum = 0.0f;
  for (int64_t ch = 0; ch < nc; ch++) m = parts[ch * (P + 2) + P] > m ? parts[ch * (P + 2) + P] : m;
  for (int64_t x = 0; x < P; x++) out[x] = 0.0f;
  for (int64_t ch = 0; ch < nc; ch++) {
    const float *pc = parts + ch * (P + 2);
    float a = expf(pc[P] - m);
    sum += a * pc[P + 1];
    for (int64_t x = 0; x < P; x++) out[x] += a * pc[x];
  }
  for (int64_t x = 0; x < P; x++) out[x] /= sum;
}
