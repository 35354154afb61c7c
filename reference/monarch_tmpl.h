/* The monarch reference, written once and instantiated by reference/monarch_ref.c for three
 * (storage, accumulation) pairs — (double, double) the oracle, (float, float) the naive fp32
 * evaluation, (float, double) the `reference` variant. Expects T_IO, T_ACC and FN(name).
 *
 * The reference does not use the factored form: it materializes the dense matrix
 *   M[s p + l, r p + j] = L[l, s, r] R[r, l, j]        (n = k p; reference/monarch.h)
 * and multiplies by it, so a variant's factored products and folded permutations are checked
 * against an independent formula. Backward, with G = sum_b dy_b x_b^T (the gradient of M):
 *   dx[b, c]    = sum_i M[i, c] dy[b, i]
 *   dL[l, s, r] = sum_j G[s p + l, r p + j] R[r, l, j]
 *   dR[r, l, j] = sum_s G[s p + l, r p + j] L[l, s, r]
 * OpenMP splits only independent rows (results do not depend on the thread count). */

static void FN(dense)(int64_t k, int64_t p, const T_IO *R, const T_IO *L, T_ACC *M) {
  int64_t n = k * p;
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < k; s++)
    for (int64_t l = 0; l < p; l++)
      for (int64_t r = 0; r < k; r++)
        for (int64_t j = 0; j < p; j++)
          M[(s * p + l) * n + r * p + j] = (T_ACC)L[(l * k + s) * k + r] * (T_ACC)R[(r * p + l) * p + j];
}

/* y = M x per row; M (n x n) is scratch the caller provides. */
static void FN(forward)(int64_t B, int64_t k, int64_t p, const T_IO *x, const T_IO *R, const T_IO *L, T_IO *y,
                        T_ACC *M) {
  int64_t n = k * p;
  FN(dense)(k, p, R, L, M);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < n; i++) {
      T_ACC acc = 0;
      for (int64_t c = 0; c < n; c++) acc += M[i * n + c] * (T_ACC)x[b * n + c];
      y[b * n + i] = (T_IO)acc;
    }
}

/* M and G (n x n each) are scratch the caller provides. */
static void FN(backward)(int64_t B, int64_t k, int64_t p, const T_IO *x, const T_IO *R, const T_IO *L,
                         const T_IO *dy, T_IO *dx, T_IO *dR, T_IO *dL, T_ACC *M, T_ACC *G) {
  int64_t n = k * p;
  FN(dense)(k, p, R, L, M);
  /* dx row by row, M read along its rows: acc += dy[b, i] M[i, :] for i in order */
#pragma omp parallel
  {
    T_ACC *acc = smx_ref_scratch((size_t)n * sizeof(T_ACC));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < B; b++) {
      for (int64_t c = 0; c < n; c++) acc[c] = 0;
      for (int64_t i = 0; i < n; i++) {
        T_ACC g = (T_ACC)dy[b * n + i];
        for (int64_t c = 0; c < n; c++) acc[c] += g * M[i * n + c];
      }
      for (int64_t c = 0; c < n; c++) dx[b * n + c] = (T_IO)acc[c];
    }
    free(acc);
  }
  /* G[i, c] = sum_b dy[b, i] x[b, c], summed over b in order */
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    T_ACC *row = G + i * n;
    for (int64_t c = 0; c < n; c++) row[c] = 0;
    for (int64_t b = 0; b < B; b++) {
      T_ACC g = (T_ACC)dy[b * n + i];
      for (int64_t c = 0; c < n; c++) row[c] += g * (T_ACC)x[b * n + c];
    }
  }
#pragma omp parallel for schedule(static)
  for (int64_t l = 0; l < p; l++)
    for (int64_t s = 0; s < k; s++)
      for (int64_t r = 0; r < k; r++) {
        T_ACC acc = 0;
        for (int64_t j = 0; j < p; j++) acc += G[(s * p + l) * n + r * p + j] * (T_ACC)R[(r * p + l) * p + j];
        dL[(l * k + s) * k + r] = (T_IO)acc;
      }
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < k; r++)
    for (int64_t l = 0; l < p; l++)
      for (int64_t j = 0; j < p; j++) {
        T_ACC acc = 0;
        for (int64_t s = 0; s < k; s++) acc += G[(s * p + l) * n + r * p + j] * (T_ACC)L[(l * k + s) * k + r];
        dR[(r * p + l) * p + j] = (T_IO)acc;
      }
}
