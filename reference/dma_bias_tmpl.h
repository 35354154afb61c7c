/* The dma_bias reference, instantiated by reference/dma_bias_ref.c for (T_IO, T_ACC) = (double,
 * double) the oracle, (float, float) the naive fp32 evaluation and (float, double) the `reference`
 * variant. Needs T_IO, T_ACC, EXP, LOG1P, FN. */

/* softplus(x) = log(1 + e^x) without overflow; its derivative is the logistic sigmoid */
static T_ACC FN(softplus)(T_ACC x) { return x > 0 ? x + LOG1P(EXP(-x)) : LOG1P(EXP(x)); }
static T_ACC FN(sigmoid)(T_ACC x) { return x >= 0 ? 1 / (1 + EXP(-x)) : EXP(x) / (1 + EXP(x)); }

/* s[b, t, g] = <vflat[b, t, :], W[:, g]> */
static T_ACC FN(pre)(const T_IO *vt, const T_IO *W, int64_t C, int64_t Hkv, int64_t g) {
  T_ACC s = 0;
  for (int64_t c = 0; c < C; c++) s += (T_ACC)vt[c] * (T_ACC)W[c * Hkv + g];
  return s;
}

static void FN(bias_fwd)(const smx_config *cf, const T_IO *v, const T_IO *W, const T_IO *A, T_IO *bias) {
  int64_t B = cf->v[DMAB_B], L = cf->v[DMAB_L], Hkv = cf->v[DMAB_HKV], C = Hkv * cf->v[DMAB_P];
  int form = (int)cf->v[DMAB_FORM];
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < L; t++) {
      const T_IO *vt = v + (b * L + t) * C;
      for (int64_t g = 0; g < Hkv; g++) {
        T_ACC z = (T_ACC)A[g] * FN(softplus)(FN(pre)(vt, W, C, Hkv, g));
        bias[(b * Hkv + g) * L + t] = (T_IO)(form == DMA_FORM_EXP ? EXP(z) : z);
      }
    }
}

/* ds = d loss / d s per (token, head); then dv = ds W^T, dW = vflat^T ds, dA = sum dz softplus(s)
 * with dz = dbias (form 0) or dbias * bias (form 1). */
static void FN(bias_bwd)(const smx_config *cf, const T_IO *v, const T_IO *W, const T_IO *A, const T_IO *dbias,
                         T_IO *dv, T_IO *dW, T_IO *dA) {
  int64_t B = cf->v[DMAB_B], L = cf->v[DMAB_L], Hkv = cf->v[DMAB_HKV], C = Hkv * cf->v[DMAB_P], BL = B * L;
  int form = (int)cf->v[DMAB_FORM];
  T_ACC *ds = smx_ref_scratch((size_t)(BL * Hkv) * sizeof *ds), *sp = smx_ref_scratch((size_t)(BL * Hkv) * sizeof *sp);
#pragma omp parallel for schedule(static)
  for (int64_t bt = 0; bt < BL; bt++) {
    int64_t b = bt / L, t = bt % L;
    for (int64_t g = 0; g < Hkv; g++) {
      T_ACC s = FN(pre)(v + bt * C, W, C, Hkv, g), spl = FN(softplus)(s), z = (T_ACC)A[g] * spl;
      T_ACC dz = (T_ACC)dbias[(b * Hkv + g) * L + t] * (form == DMA_FORM_EXP ? EXP(z) : 1);
      sp[bt * Hkv + g] = dz * spl;
      ds[bt * Hkv + g] = dz * (T_ACC)A[g] * FN(sigmoid)(s);
    }
  }
#pragma omp parallel for schedule(static)
  for (int64_t bt = 0; bt < BL; bt++)
    for (int64_t c = 0; c < C; c++) {
      T_ACC acc = 0;
      for (int64_t g = 0; g < Hkv; g++) acc += ds[bt * Hkv + g] * (T_ACC)W[c * Hkv + g];
      dv[bt * C + c] = (T_IO)acc;
    }
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; c++)
    for (int64_t g = 0; g < Hkv; g++) {
      T_ACC acc = 0;
      for (int64_t bt = 0; bt < BL; bt++) acc += (T_ACC)v[bt * C + c] * ds[bt * Hkv + g];
      dW[c * Hkv + g] = (T_IO)acc;
    }
  for (int64_t g = 0; g < Hkv; g++) {
    T_ACC acc = 0;
    for (int64_t bt = 0; bt < BL; bt++) acc += sp[bt * Hkv + g];
    dA[g] = (T_IO)acc;
  }
  free(ds);
  free(sp);
}
