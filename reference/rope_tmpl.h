/* The rope reference, instantiated by reference/rope_ref.c for (T_IO, T_ACC) = (double, double)
 * the oracle, (float, float) the naive fp32 evaluation (angles in fp32, as PyTorch computes its
 * tables), and (float, double) the `reference` variant. Needs T_IO, T_ACC, COS, SIN, POW, FN. */
static void FN(rotate)(const smx_config *c, int inverse, const T_IO *x, T_IO *y) {
  int64_t B = c->v[ROPE_B], L = c->v[ROPE_L], H = c->v[ROPE_H], P = c->v[ROPE_P], half = P / 2;
  T_ACC theta = (T_ACC)c->v[ROPE_THETA];
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < L; t++) {
      T_ACC pos = (T_ACC)(c->v[ROPE_OFFSET] + t);
      for (int64_t h = 0; h < H; h++) {
        const T_IO *xr = x + ((b * L + t) * H + h) * P;
        T_IO *yr = y + ((b * L + t) * H + h) * P;
        for (int64_t i = 0; i < half; i++) {
          T_ACC a = pos * POW(theta, -(T_ACC)(2 * i) / (T_ACC)P);
          T_ACC co = COS(a), si = inverse ? -SIN(a) : SIN(a);
          T_ACC x1 = (T_ACC)xr[i], x2 = (T_ACC)xr[i + half];
          yr[i] = (T_IO)(x1 * co - x2 * si);
          yr[i + half] = (T_IO)(x2 * co + x1 * si);
        }
      }
    }
}
