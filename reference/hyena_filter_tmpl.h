/* The hyena_filter reference, written once and instantiated by reference/hyena_filter_ref.c for
 * three (storage, accumulation) pairs — (double, double) the oracle, (float, float) the naive fp32
 * evaluation, (float, double) the `reference` variant. Expects T_IO, T_ACC, SIN_FN, COS_FN,
 * EXP_FN and FN(name). Formulas: reference/hyena_filter.h. One position t at a time, the MLP's
 * three layers as plain dot products; the backward recomputes each row and accumulates the
 * weight gradients over t in order. z (L x E), tn (L), rate (H) are the fp64 constants. */

typedef struct FN(row) {
  T_ACC *a1, *s1, *a2, *s2, *a3, *s3, *o, *d1, *d2;
} FN(row);

static void FN(row_alloc)(FN(row) *r, int64_t F, int64_t H) {
  T_ACC *p = smx_ref_scratch((size_t)(8 * F + H) * sizeof(T_ACC));
  r->a1 = p;
  r->s1 = p + F;
  r->a2 = p + 2 * F;
  r->s2 = p + 3 * F;
  r->a3 = p + 4 * F;
  r->s3 = p + 5 * F;
  r->d1 = p + 6 * F;
  r->d2 = p + 7 * F;
  r->o = p + 8 * F;
}

/* a = W x + b, s = sin(freq a) for one layer of width F with input x of width n */
static void FN(layer)(int64_t F, int64_t n, const T_IO *W, const T_IO *b, const T_IO *freq, const T_ACC *x, T_ACC *a,
                      T_ACC *s) {
  for (int64_t f = 0; f < F; f++) {
    T_ACC acc = (T_ACC)b[f];
    for (int64_t e = 0; e < n; e++) acc += (T_ACC)W[f * n + e] * x[e];
    a[f] = acc;
    s[f] = SIN_FN((T_ACC)freq[f] * acc);
  }
}

static void FN(mlp)(int64_t E, int64_t F, int64_t H, const double *zt, const T_IO *const *w, FN(row) *r) {
  T_ACC z[64];
  for (int64_t e = 0; e < E; e++) z[e] = (T_ACC)zt[e];
  FN(layer)(F, E, w[HYF_W1], w[HYF_B1], w[HYF_FREQ], z, r->a1, r->s1);
  FN(layer)(F, F, w[HYF_W2], w[HYF_B2], w[HYF_FREQ], r->s1, r->a2, r->s2);
  FN(layer)(F, F, w[HYF_W3], w[HYF_B3], w[HYF_FREQ], r->s2, r->a3, r->s3);
  for (int64_t h = 0; h < H; h++) {
    T_ACC acc = 0;
    for (int64_t f = 0; f < F; f++) acc += (T_ACC)w[HYF_W4][h * F + f] * r->s3[f];
    r->o[h] = acc;
  }
}

/* t[slot] as in op.h; z, tn, rate the constants */
static void FN(forward)(int64_t H, int64_t L, int64_t E, int64_t F, const double *z, const double *tn,
                        const double *rate, T_IO *const *t) {
  FN(row) r;
  FN(row_alloc)(&r, F, H);
  for (int64_t tt = 0; tt < L; tt++) {
    FN(mlp)(E, F, H, z + tt * E, (const T_IO *const *)t, &r);
    for (int64_t h = 0; h < H; h++) t[HYF_K][h * L + tt] = (T_IO)(r.o[h] * EXP_FN(-(T_ACC)tn[tt] * (T_ACC)rate[h]));
  }
  free(r.a1);
}

/* Back through one layer s = sin(freq a), a = W x + b, given ds (width F) in d:
 *   g = ds cos(freq a); dfreq += g a; da = g freq; dW += da x^T; db += da; dx = W^T da (if dx) */
static void FN(layer_back)(int64_t F, int64_t n, const T_IO *W, const T_IO *freq, const T_ACC *x, const T_ACC *a,
                           T_ACC *d, T_ACC *dW, T_ACC *db, T_ACC *dfreq, T_ACC *dx) {
  for (int64_t f = 0; f < F; f++) {
    T_ACC fr = (T_ACC)freq[f];
    T_ACC g = d[f] * COS_FN(fr * a[f]);
    dfreq[f] += g * a[f];
    d[f] = g * fr;
    for (int64_t e = 0; e < n; e++) dW[f * n + e] += d[f] * x[e];
    db[f] += d[f];
  }
  if (dx)
    for (int64_t e = 0; e < n; e++) {
      T_ACC acc = 0;
      for (int64_t f = 0; f < F; f++) acc += (T_ACC)W[f * n + e] * d[f];
      dx[e] = acc;
    }
}

static void FN(backward)(int64_t H, int64_t L, int64_t E, int64_t F, const double *z, const double *tn,
                         const double *rate, T_IO *const *t) {
  FN(row) r;
  FN(row_alloc)(&r, F, H);
  /* accumulators: dW1 F E, db1 F, dW2 F F, db2 F, dW3 F F, db3 F, dW4 H F, dfreq F */
  size_t n1 = (size_t)(F * E), n2 = (size_t)(F * F), n4 = (size_t)(H * F);
  size_t total = n1 + 2 * n2 + n4 + 4 * (size_t)F;
  T_ACC *acc = smx_ref_scratch(total * sizeof(T_ACC));
  for (size_t i = 0; i < total; i++) acc[i] = 0;
  T_ACC *dW1 = acc, *db1 = dW1 + n1, *dW2 = db1 + F, *db2 = dW2 + n2, *dW3 = db2 + F, *db3 = dW3 + n2, *dW4 = db3 + F,
        *dfreq = dW4 + n4;
  T_ACC zt[64];
  for (int64_t tt = 0; tt < L; tt++) {
    FN(mlp)(E, F, H, z + tt * E, (const T_IO *const *)t, &r);
    for (int64_t e = 0; e < E; e++) zt[e] = (T_ACC)z[tt * E + e];
    /* do[h] = dk[h, t] decay[h, t];  dW4 += do s3^T;  ds3 = W4^T do */
    for (int64_t h = 0; h < H; h++) r.o[h] = (T_ACC)t[HYF_DK][h * L + tt] * EXP_FN(-(T_ACC)tn[tt] * (T_ACC)rate[h]);
    for (int64_t f = 0; f < F; f++) {
      T_ACC s = 0;
      for (int64_t h = 0; h < H; h++) {
        dW4[h * F + f] += r.o[h] * r.s3[f];
        s += (T_ACC)t[HYF_W4][h * F + f] * r.o[h];
      }
      r.d1[f] = s;
    }
    FN(layer_back)(F, F, t[HYF_W3], t[HYF_FREQ], r.s2, r.a3, r.d1, dW3, db3, dfreq, r.d2);
    FN(layer_back)(F, F, t[HYF_W2], t[HYF_FREQ], r.s1, r.a2, r.d2, dW2, db2, dfreq, r.d1);
    FN(layer_back)(F, E, t[HYF_W1], t[HYF_FREQ], zt, r.a1, r.d1, dW1, db1, dfreq, NULL);
  }
  static const int out_slot[] = {HYF_DW1, HYF_DB1, HYF_DW2, HYF_DB2, HYF_DW3, HYF_DB3, HYF_DW4, HYF_DFREQ};
  const size_t out_n[] = {n1, (size_t)F, n2, (size_t)F, n2, (size_t)F, n4, (size_t)F};
  T_ACC *src = acc;
  for (int i = 0; i < 8; i++) {
    for (size_t j = 0; j < out_n[i]; j++) t[out_slot[i]][j] = (T_IO)src[j];
    src += out_n[i];
  }
  free(acc);
  free(r.a1);
}
