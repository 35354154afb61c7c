/* The shortconv reference, written once and instantiated by reference/shortconv_ref.c for three
 * (storage, accumulation) pairs — (double, double) the oracle, (float, float) the naive fp32
 * evaluation, (float, double) the `reference` variant. Expects T_IO, T_ACC and FN(name).
 *
 * Math (x (B,H,L), w (H,K), bias (H) or NULL; s = t - (K-1) + j is the input position tap j reads):
 *   y[b,h,t]  = bias[h] + sum_{j: 0 <= t-(K-1)+j} w[h,j] x[b,h,t-(K-1)+j]
 *   dx[b,h,s] = sum_{j: s+(K-1)-j < L} w[h,j] dy[b,h,s+(K-1)-j]
 *   dw[h,j]   = sum_b sum_{t: 0 <= t-(K-1)+j} dy[b,h,t] x[b,h,t-(K-1)+j]
 *   dbias[h]  = sum_b sum_t dy[b,h,t]
 * Loops read like the equations; OpenMP splits rows (forward) or channels (backward) only. */

static void FN(forward)(int64_t B, int64_t H, int64_t L, int64_t K, const T_IO *x, const T_IO *w, const T_IO *bias,
                        T_IO *y) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < B * H; r++) {
    int64_t h = r % H;
    for (int64_t t = 0; t < L; t++) {
      T_ACC acc = bias ? (T_ACC)bias[h] : 0;
      for (int64_t j = 0; j < K; j++) {
        int64_t s = t - (K - 1) + j;
        if (s >= 0) acc += (T_ACC)w[h * K + j] * (T_ACC)x[r * L + s];
      }
      y[r * L + t] = (T_IO)acc;
    }
  }
}

static void FN(backward)(int64_t B, int64_t H, int64_t L, int64_t K, const T_IO *x, const T_IO *w, const T_IO *dy,
                         T_IO *dx, T_IO *dw, T_IO *dbias) {
#pragma omp parallel for schedule(static)
  for (int64_t h = 0; h < H; h++) {
    T_ACC dw_acc[4] = {0, 0, 0, 0}, db_acc = 0;
    for (int64_t b = 0; b < B; b++) {
      int64_t r = b * H + h;
      for (int64_t s = 0; s < L; s++) {
        T_ACC acc = 0;
        for (int64_t j = 0; j < K; j++) {
          int64_t t = s + (K - 1) - j;
          if (t < L) acc += (T_ACC)w[h * K + j] * (T_ACC)dy[r * L + t];
        }
        dx[r * L + s] = (T_IO)acc;
      }
      for (int64_t j = 0; j < K; j++)
        for (int64_t t = 0; t < L; t++) {
          int64_t s = t - (K - 1) + j;
          if (s >= 0) dw_acc[j] += (T_ACC)dy[r * L + t] * (T_ACC)x[r * L + s];
        }
      for (int64_t t = 0; t < L; t++) db_acc += (T_ACC)dy[r * L + t];
    }
    for (int64_t j = 0; j < K; j++) dw[h * K + j] = (T_IO)dw_acc[j];
    if (dbias) dbias[h] = (T_IO)db_acc;
  }
}
