/* The causal (optionally biased and key-selected) softmax attention reference, instantiated by
 * reference/attention_ref.c for (T_IO, T_ACC) = (double, double) the oracle, (float, float) the
 * naive fp32 evaluation and (float, double) the `reference` variants of attention and dma. Needs
 * T_IO, T_ACC, EXP, LOG, FN. The formulas are in reference/attention.h and reference/dma.h.
 *
 * bias (B, Hkv, L) and keep (B, Hkv, L) are NULL for plain attention; with keep, key j is visible
 * to query i when j <= i < keep[j]. Every loop nest below is parallel over independent outputs
 * with a fixed order inside, so results do not depend on the thread count. */

static int FN(visible)(const int32_t *keep, int64_t i, int64_t j) { return j <= i && (!keep || i < keep[j]); }

/* s_j = scale <q_i, k_j> + bias_j over the visible keys; returns the row max (or 0 if none). */
static T_ACC FN(row_scores)(const attn_dims *d, const T_IO *qi, const T_IO *kb, const T_IO *bias, const int32_t *keep,
                            int64_t i, T_ACC *s, int *any) {
  T_ACC m = 0;
  *any = 0;
  for (int64_t j = 0; j <= i; j++) {
    if (!FN(visible)(keep, i, j)) continue;
    const T_IO *kj = kb + j * d->Hkv * d->P;
    T_ACC dot = 0;
    for (int64_t p = 0; p < d->P; p++) dot += (T_ACC)qi[p] * (T_ACC)kj[p];
    s[j] = (T_ACC)d->scale * dot + (bias ? (T_ACC)bias[j] : 0);
    if (!*any || s[j] > m) m = s[j];
    *any = 1;
  }
  return m;
}

static void FN(attn_fwd)(const attn_dims *d, const T_IO *q, const T_IO *k, const T_IO *v, const T_IO *bias,
                         const int32_t *keep, T_IO *o, T_IO *lse) {
  int64_t B = d->B, L = d->L, H = d->H, Hkv = d->Hkv, P = d->P, group = H / Hkv;
#pragma omp parallel
  {
    T_ACC *s = smx_ref_scratch((size_t)L * sizeof *s), *acc = smx_ref_scratch((size_t)P * sizeof *acc);
#pragma omp for collapse(3) schedule(static)
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < L; i++) {
          int64_t g = h / group;
          const T_IO *qi = q + ((b * L + i) * H + h) * P, *kb = k + (b * L * Hkv + g) * P,
                     *vb = v + (b * L * Hkv + g) * P;
          const T_IO *bb = bias ? bias + (b * Hkv + g) * L : NULL;
          const int32_t *kp = keep ? keep + (b * Hkv + g) * L : NULL;
          T_IO *oi = o + ((b * L + i) * H + h) * P;
          int any;
          T_ACC m = FN(row_scores)(d, qi, kb, bb, kp, i, s, &any);
          for (int64_t p = 0; p < P; p++) acc[p] = 0;
          T_ACC sum = 0;
          for (int64_t j = 0; j <= i; j++) {
            if (!FN(visible)(kp, i, j)) continue;
            T_ACC e = EXP(s[j] - m);
            sum += e;
            const T_IO *vj = vb + j * Hkv * P;
            for (int64_t p = 0; p < P; p++) acc[p] += e * (T_ACC)vj[p];
          }
          for (int64_t p = 0; p < P; p++) oi[p] = any ? (T_IO)(acc[p] / sum) : 0;
          lse[(b * H + h) * L + i] = any ? (T_IO)(m + LOG(sum)) : 0;
        }
    free(s);
    free(acc);
  }
}

/* P_ij = exp(s_ij - lse_i) and dS_ij = P_ij (<do_i, v_j> - D_i) of one visible pair. */
static T_ACC FN(pair_grad)(const attn_dims *d, const T_IO *qi, const T_IO *kj, const T_IO *vj, const T_IO *doi,
                           T_ACC bias_j, T_ACC lse_i, T_ACC D_i, T_ACC *p_out) {
  T_ACC dot = 0, dp = 0;
  for (int64_t p = 0; p < d->P; p++) {
    dot += (T_ACC)qi[p] * (T_ACC)kj[p];
    dp += (T_ACC)doi[p] * (T_ACC)vj[p];
  }
  T_ACC pij = EXP((T_ACC)d->scale * dot + bias_j - lse_i);
  *p_out = pij;
  return pij * (dp - D_i);
}

/* Three passes, each parallel over what it writes: D_i = <do_i, o_i>; dq per query row; dk, dv
 * (and dbias) per key, summed over the query rows and the heads of its KV group. */
static void FN(attn_bwd)(const attn_dims *d, const T_IO *q, const T_IO *k, const T_IO *v, const T_IO *bias,
                         const int32_t *keep, const T_IO *o, const T_IO *lse, const T_IO *dout, T_IO *dq, T_IO *dk,
                         T_IO *dv, T_IO *dbias) {
  int64_t B = d->B, L = d->L, H = d->H, Hkv = d->Hkv, P = d->P, group = H / Hkv;
  T_ACC scale = (T_ACC)d->scale;
  T_ACC *D = smx_ref_scratch((size_t)(B * H * L) * sizeof *D);
#pragma omp parallel for collapse(3) schedule(static)
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t i = 0; i < L; i++) {
        const T_IO *oi = o + ((b * L + i) * H + h) * P, *doi = dout + ((b * L + i) * H + h) * P;
        T_ACC s = 0;
        for (int64_t p = 0; p < P; p++) s += (T_ACC)doi[p] * (T_ACC)oi[p];
        D[(b * H + h) * L + i] = s;
      }
#pragma omp parallel
  {
    T_ACC *acc = smx_ref_scratch((size_t)P * sizeof *acc), *acc2 = smx_ref_scratch((size_t)P * sizeof *acc2);
#pragma omp for collapse(3) schedule(static)
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < L; i++) {
          int64_t g = h / group, row = (b * H + h) * L + i;
          const T_IO *qi = q + ((b * L + i) * H + h) * P, *doi = dout + ((b * L + i) * H + h) * P;
          const T_IO *bb = bias ? bias + (b * Hkv + g) * L : NULL;
          const int32_t *kp = keep ? keep + (b * Hkv + g) * L : NULL;
          for (int64_t p = 0; p < P; p++) acc[p] = 0;
          for (int64_t j = 0; j <= i; j++) {
            if (!FN(visible)(kp, i, j)) continue;
            const T_IO *kj = k + ((b * L + j) * Hkv + g) * P, *vj = v + ((b * L + j) * Hkv + g) * P;
            T_ACC pij, ds = FN(pair_grad)(d, qi, kj, vj, doi, bb ? (T_ACC)bb[j] : 0, (T_ACC)lse[row], D[row], &pij);
            for (int64_t p = 0; p < P; p++) acc[p] += ds * (T_ACC)kj[p];
          }
          T_IO *dqi = dq + ((b * L + i) * H + h) * P;
          for (int64_t p = 0; p < P; p++) dqi[p] = (T_IO)(scale * acc[p]);
        }
#pragma omp for collapse(3) schedule(static)
    for (int64_t b = 0; b < B; b++)
      for (int64_t g = 0; g < Hkv; g++)
        for (int64_t j = 0; j < L; j++) {
          const T_IO *kj = k + ((b * L + j) * Hkv + g) * P, *vj = v + ((b * L + j) * Hkv + g) * P;
          const T_IO *bb = bias ? bias + (b * Hkv + g) * L : NULL;
          const int32_t *kp = keep ? keep + (b * Hkv + g) * L : NULL;
          T_ACC db = 0;
          for (int64_t p = 0; p < P; p++) acc[p] = acc2[p] = 0;
          for (int64_t h = g * group; h < (g + 1) * group; h++)
            for (int64_t i = j; i < L; i++) {
              if (!FN(visible)(kp, i, j)) continue;
              int64_t row = (b * H + h) * L + i;
              const T_IO *qi = q + ((b * L + i) * H + h) * P, *doi = dout + ((b * L + i) * H + h) * P;
              T_ACC pij, ds = FN(pair_grad)(d, qi, kj, vj, doi, bb ? (T_ACC)bb[j] : 0, (T_ACC)lse[row], D[row], &pij);
              db += ds;
              for (int64_t p = 0; p < P; p++) {
                acc[p] += ds * (T_ACC)qi[p];
                acc2[p] += pij * (T_ACC)doi[p];
              }
            }
          T_IO *dkj = dk + ((b * L + j) * Hkv + g) * P, *dvj = dv + ((b * L + j) * Hkv + g) * P;
          for (int64_t p = 0; p < P; p++) {
            dkj[p] = (T_IO)(scale * acc[p]);
            dvj[p] = (T_IO)acc2[p];
          }
          if (dbias) dbias[(b * Hkv + g) * L + j] = (T_IO)db;
        }
    free(acc);
    free(acc2);
  }
  free(D);
}

/* One decode step per (b, h): softmax(scale q K^T) V over all S cached positions. */
static void FN(decode)(const attn_dims *d, int64_t S, const T_IO *q, const T_IO *k, const T_IO *v, T_IO *o) {
  int64_t B = d->B, H = d->H, Hkv = d->Hkv, P = d->P, group = H / Hkv;
#pragma omp parallel
  {
    T_ACC *s = smx_ref_scratch((size_t)S * sizeof *s), *acc = smx_ref_scratch((size_t)P * sizeof *acc);
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = 0; h < H; h++) {
        int64_t g = h / group;
        const T_IO *qh = q + (b * H + h) * P;
        T_ACC m = 0;
        for (int64_t j = 0; j < S; j++) {
          const T_IO *kj = k + ((b * S + j) * Hkv + g) * P;
          T_ACC dot = 0;
          for (int64_t p = 0; p < P; p++) dot += (T_ACC)qh[p] * (T_ACC)kj[p];
          s[j] = (T_ACC)d->scale * dot;
          if (j == 0 || s[j] > m) m = s[j];
        }
        T_ACC sum = 0;
        for (int64_t p = 0; p < P; p++) acc[p] = 0;
        for (int64_t j = 0; j < S; j++) {
          T_ACC e = EXP(s[j] - m);
          sum += e;
          const T_IO *vj = v + ((b * S + j) * Hkv + g) * P;
          for (int64_t p = 0; p < P; p++) acc[p] += e * (T_ACC)vj[p];
        }
        for (int64_t p = 0; p < P; p++) o[(b * H + h) * P + p] = (T_IO)(acc[p] / sum);
      }
    free(s);
    free(acc);
  }
}
