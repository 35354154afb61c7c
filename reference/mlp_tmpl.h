/* The mlp reference, instantiated by reference/mlp_ref.c for (T_IO, T_ACC) = (double, double) the
 * oracle, (float, float) the naive fp32 evaluation and (float, double) the `reference` variant.
 * One token at a time, loops that read like the equations in reference/mlp.h; the weight
 * gradients are summed over tokens in T_ACC. Needs T_IO, T_ACC, EXP, GELU, GELU_GRAD, FN. */
static T_ACC FN(act)(int gelu, T_ACC a) { return gelu ? GELU(a) : a / ((T_ACC)1 + EXP(-a)); }
static T_ACC FN(act_grad)(int gelu, T_ACC a) {
  if (gelu) return GELU_GRAD(a);
  T_ACC s = (T_ACC)1 / ((T_ACC)1 + EXP(-a));
  return s * ((T_ACC)1 + a * ((T_ACC)1 - s));
}

static void FN(mlp_fwd)(int64_t T, int64_t d, int64_t F, int gelu, const T_IO *x, const T_IO *wg, const T_IO *wu,
                        const T_IO *wd, T_IO *y) {
  T_ACC *h = smx_ref_scratch((size_t)F * sizeof(T_ACC));
  for (int64_t t = 0; t < T; t++) {
    const T_IO *xr = x + t * d;
    for (int64_t f = 0; f < F; f++) {
      T_ACC a = 0, u = 0;
      for (int64_t k = 0; k < d; k++) {
        a += (T_ACC)xr[k] * (T_ACC)wg[f * d + k];
        u += (T_ACC)xr[k] * (T_ACC)wu[f * d + k];
      }
      h[f] = FN(act)(gelu, a) * u;
    }
    for (int64_t n = 0; n < d; n++) {
      T_ACC s = 0;
      for (int64_t f = 0; f < F; f++) s += h[f] * (T_ACC)wd[n * F + f];
      y[t * d + n] = (T_IO)s;
    }
  }
  free(h);
}

static void FN(mlp_bwd)(int64_t T, int64_t d, int64_t F, int gelu, const T_IO *x, const T_IO *wg, const T_IO *wu,
                        const T_IO *wd, const T_IO *dy, T_IO *dx, T_IO *dwg, T_IO *dwu, T_IO *dwd) {
  size_t fd = (size_t)(F * d);
  T_ACC *h = smx_ref_scratch((size_t)(3 * F) * sizeof(T_ACC)), *da = h + F, *du = h + 2 * F;
  T_ACC *gg = smx_ref_scratch(3 * fd * sizeof(T_ACC)), *gu = gg + fd, *gd = gg + 2 * fd;
  for (size_t i = 0; i < 3 * fd; i++) gg[i] = 0;
  for (int64_t t = 0; t < T; t++) {
    const T_IO *xr = x + t * d, *dyr = dy + t * d;
    for (int64_t f = 0; f < F; f++) {
      T_ACC a = 0, u = 0, dh = 0;
      for (int64_t k = 0; k < d; k++) {
        a += (T_ACC)xr[k] * (T_ACC)wg[f * d + k];
        u += (T_ACC)xr[k] * (T_ACC)wu[f * d + k];
      }
      for (int64_t n = 0; n < d; n++) dh += (T_ACC)dyr[n] * (T_ACC)wd[n * F + f];
      h[f] = FN(act)(gelu, a) * u;
      da[f] = dh * u * FN(act_grad)(gelu, a);
      du[f] = dh * FN(act)(gelu, a);
    }
    for (int64_t k = 0; k < d; k++) {
      T_ACC s = 0;
      for (int64_t f = 0; f < F; f++) s += da[f] * (T_ACC)wg[f * d + k] + du[f] * (T_ACC)wu[f * d + k];
      dx[t * d + k] = (T_IO)s;
    }
    for (int64_t f = 0; f < F; f++)
      for (int64_t k = 0; k < d; k++) {
        gg[f * d + k] += da[f] * (T_ACC)xr[k];
        gu[f * d + k] += du[f] * (T_ACC)xr[k];
      }
    for (int64_t n = 0; n < d; n++)
      for (int64_t f = 0; f < F; f++) gd[n * F + f] += (T_ACC)dyr[n] * h[f];
  }
  for (size_t i = 0; i < fd; i++) {
    dwg[i] = (T_IO)gg[i];
    dwu[i] = (T_IO)gu[i];
    dwd[i] = (T_IO)gd[i];
  }
  free(h);
  free(gg);
}
