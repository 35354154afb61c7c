/* The linear reference, instantiated by reference/linear_ref.c for (T_IO, T_ACC) = (double,
 * double) the oracle, (float, float) the naive fp32 evaluation and (float, double) the `reference`
 * variant. Plain loops that read like the equations in reference/linear.h. Needs T_IO, T_ACC, FN. */
static void FN(linear_fwd)(int64_t T, int64_t K, int64_t N, int bias, const T_IO *x, const T_IO *w, const T_IO *b,
                           T_IO *y) {
  for (int64_t t = 0; t < T; t++)
    for (int64_t n = 0; n < N; n++) {
      T_ACC s = bias ? (T_ACC)b[n] : 0;
      for (int64_t k = 0; k < K; k++) s += (T_ACC)x[t * K + k] * (T_ACC)w[n * K + k];
      y[t * N + n] = (T_IO)s;
    }
}

static void FN(linear_bwd)(int64_t T, int64_t K, int64_t N, int bias, const T_IO *x, const T_IO *w, const T_IO *dy,
                           T_IO *dx, T_IO *dw, T_IO *db) {
  for (int64_t t = 0; t < T; t++)
    for (int64_t k = 0; k < K; k++) {
      T_ACC s = 0;
      for (int64_t n = 0; n < N; n++) s += (T_ACC)dy[t * N + n] * (T_ACC)w[n * K + k];
      dx[t * K + k] = (T_IO)s;
    }
  for (int64_t n = 0; n < N; n++)
    for (int64_t k = 0; k < K; k++) {
      T_ACC s = 0;
      for (int64_t t = 0; t < T; t++) s += (T_ACC)dy[t * N + n] * (T_ACC)x[t * K + k];
      dw[n * K + k] = (T_IO)s;
    }
  if (bias)
    for (int64_t n = 0; n < N; n++) {
      T_ACC s = 0;
      for (int64_t t = 0; t < T; t++) s += (T_ACC)dy[t * N + n];
      db[n] = (T_IO)s;
    }
}
