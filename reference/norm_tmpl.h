/* The layernorm and rmsnorm references, instantiated by reference/norm_ref.c for (T_IO, T_ACC) =
 * (double, double) the oracle, (float, float) the naive fp32 evaluation and (float, double) the
 * `reference` variant. Loops that read like the equations in reference/norm.h. Needs T_IO, T_ACC,
 * SQRT, FN. */
static void FN(ln_fwd)(int64_t T, int64_t d, const T_IO *x, const T_IO *w, const T_IO *b, T_IO *y, T_IO *mean,
                       T_IO *rstd) {
  for (int64_t t = 0; t < T; t++) {
    const T_IO *xr = x + t * d;
    T_ACC m = 0, v = 0;
    for (int64_t i = 0; i < d; i++) m += (T_ACC)xr[i];
    m /= (T_ACC)d;
    for (int64_t i = 0; i < d; i++) v += ((T_ACC)xr[i] - m) * ((T_ACC)xr[i] - m);
    v /= (T_ACC)d;
    T_ACC r = (T_ACC)1 / SQRT(v + (T_ACC)SMX_NORM_EPS);
    for (int64_t i = 0; i < d; i++) y[t * d + i] = (T_IO)(((T_ACC)xr[i] - m) * r * (T_ACC)w[i] + (T_ACC)b[i]);
    mean[t] = (T_IO)m;
    rstd[t] = (T_IO)r;
  }
}

static void FN(ln_bwd)(int64_t T, int64_t d, const T_IO *x, const T_IO *w, const T_IO *mean, const T_IO *rstd,
                       const T_IO *dy, T_IO *dx, T_IO *dw, T_IO *db) {
  for (int64_t t = 0; t < T; t++) {
    T_ACC m = (T_ACC)mean[t], r = (T_ACC)rstd[t], sg = 0, sgx = 0;
    for (int64_t i = 0; i < d; i++) {
      T_ACC g = (T_ACC)dy[t * d + i] * (T_ACC)w[i], xh = ((T_ACC)x[t * d + i] - m) * r;
      sg += g;
      sgx += g * xh;
    }
    sg /= (T_ACC)d;
    sgx /= (T_ACC)d;
    for (int64_t i = 0; i < d; i++) {
      T_ACC g = (T_ACC)dy[t * d + i] * (T_ACC)w[i], xh = ((T_ACC)x[t * d + i] - m) * r;
      dx[t * d + i] = (T_IO)(r * (g - sg - xh * sgx));
    }
  }
  for (int64_t i = 0; i < d; i++) {
    T_ACC sw = 0, sb = 0;
    for (int64_t t = 0; t < T; t++) {
      T_ACC g = (T_ACC)dy[t * d + i];
      sw += g * ((T_ACC)x[t * d + i] - (T_ACC)mean[t]) * (T_ACC)rstd[t];
      sb += g;
    }
    dw[i] = (T_IO)sw;
    db[i] = (T_IO)sb;
  }
}

static void FN(rms_fwd)(int64_t T, int64_t d, const T_IO *x, const T_IO *w, T_IO *y, T_IO *rstd) {
  for (int64_t t = 0; t < T; t++) {
    const T_IO *xr = x + t * d;
    T_ACC s = 0;
    for (int64_t i = 0; i < d; i++) s += (T_ACC)xr[i] * (T_ACC)xr[i];
    T_ACC r = (T_ACC)1 / SQRT(s / (T_ACC)d + (T_ACC)SMX_NORM_EPS);
    for (int64_t i = 0; i < d; i++) y[t * d + i] = (T_IO)((T_ACC)xr[i] * r * (T_ACC)w[i]);
    rstd[t] = (T_IO)r;
  }
}

static void FN(rms_bwd)(int64_t T, int64_t d, const T_IO *x, const T_IO *w, const T_IO *rstd, const T_IO *dy, T_IO *dx,
                        T_IO *dw) {
  for (int64_t t = 0; t < T; t++) {
    T_ACC r = (T_ACC)rstd[t], sgx = 0;
    for (int64_t i = 0; i < d; i++) sgx += (T_ACC)dy[t * d + i] * (T_ACC)w[i] * (T_ACC)x[t * d + i];
    sgx /= (T_ACC)d;
    for (int64_t i = 0; i < d; i++) {
      T_ACC g = (T_ACC)dy[t * d + i] * (T_ACC)w[i];
      dx[t * d + i] = (T_IO)(r * g - (T_ACC)x[t * d + i] * r * r * r * sgx);
    }
  }
  for (int64_t i = 0; i < d; i++) {
    T_ACC s = 0;
    for (int64_t t = 0; t < T; t++) s += (T_ACC)dy[t * d + i] * (T_ACC)x[t * d + i] * (T_ACC)rstd[t];
    dw[i] = (T_IO)s;
  }
}
