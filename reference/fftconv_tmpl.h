/* The fftconv reference, written once and instantiated by reference/fftconv_ref.c for three
 * (storage, accumulation) pairs — (double, double) the oracle, (float, float) the naive fp32
 * evaluation, (float, double) the `reference` variant — in the manner of dav1d's *_tmpl.c files.
 * Expects T_IO, T_ACC, GELU_FN(x), GELU_GRAD_FN(x) and FN(name) to be defined.
 *
 * Math (H3's fftconv_ref without dropout; u (B,H,L), k (H,L), D (H)):
 *   pre[b,h,t] = sum_{j=0..t} k[h,j] u[b,h,t-j] + D[h] u[b,h,t];   y = gelu ? GELU(pre) : pre
 * Backward, with g = dy * (gelu ? GELU'(pre) : 1):
 *   du[b,h,s] = sum_{t=s..L-1} g[b,h,t] k[h,t-s] + D[h] g[b,h,s]
 *   dk[h,j]   = sum_b sum_{t=j..L-1} g[b,h,t] u[b,h,t-j]
 *   dD[h]     = sum_b sum_t g[b,h,t] u[b,h,t]
 * Loops read like the equations; OpenMP only splits independent rows (results do not depend on
 * the thread count). */

/* sum_{j<n} a[j] * b[j * step]: four interleaved partial sums break the add latency chain
 * (compilers may not reorder floating-point sums themselves); the order is fixed, so results
 * are still exactly repeatable. */
static T_ACC FN(dot)(int64_t n, const T_IO *a, const T_IO *b, int64_t step) {
  T_ACC s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 += (T_ACC)a[j] * (T_ACC)b[j * step];
    s1 += (T_ACC)a[j + 1] * (T_ACC)b[(j + 1) * step];
    s2 += (T_ACC)a[j + 2] * (T_ACC)b[(j + 2) * step];
    s3 += (T_ACC)a[j + 3] * (T_ACC)b[(j + 3) * step];
  }
  for (; j < n; j++) s0 += (T_ACC)a[j] * (T_ACC)b[j * step];
  return (s0 + s1) + (s2 + s3);
}

/* The same for sum_{j<n} g[j] * x[j], g already in the accumulation type (backward). */
static T_ACC FN(dot_g)(int64_t n, const T_ACC *g, const T_IO *x) {
  T_ACC s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 += g[j] * (T_ACC)x[j];
    s1 += g[j + 1] * (T_ACC)x[j + 1];
    s2 += g[j + 2] * (T_ACC)x[j + 2];
    s3 += g[j + 3] * (T_ACC)x[j + 3];
  }
  for (; j < n; j++) s0 += g[j] * (T_ACC)x[j];
  return (s0 + s1) + (s2 + s3);
}

static void FN(pre_row)(int64_t L, const T_IO *u, const T_IO *k, T_IO d, T_ACC *pre) {
  for (int64_t t = 0; t < L; t++) pre[t] = FN(dot)(t + 1, k, u + t, -1) + (T_ACC)d * (T_ACC)u[t];
}

static void FN(forward)(int64_t B, int64_t H, int64_t L, int gelu, const T_IO *u, const T_IO *k, const T_IO *D,
                        T_IO *y) {
#pragma omp parallel
  {
    T_ACC *pre = smx_ref_scratch((size_t)L * sizeof(T_ACC));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < B * H; r++) {
      int64_t h = r % H;
      FN(pre_row)(L, u + r * L, k + h * L, D[h], pre);
      for (int64_t t = 0; t < L; t++) y[r * L + t] = (T_IO)(gelu ? GELU_FN(pre[t]) : pre[t]);
    }
    free(pre);
  }
}

static void FN(backward)(int64_t B, int64_t H, int64_t L, int gelu, const T_IO *u, const T_IO *k, const T_IO *D,
                         const T_IO *dy, T_IO *du, T_IO *dk, T_IO *dD) {
#pragma omp parallel
  {
    T_ACC *g = smx_ref_scratch((size_t)L * sizeof(T_ACC));
    T_ACC *dk_acc = smx_ref_scratch((size_t)L * sizeof(T_ACC));
#pragma omp for schedule(static)
    for (int64_t h = 0; h < H; h++) {
      T_ACC dD_acc = 0;
      for (int64_t j = 0; j < L; j++) dk_acc[j] = 0;
      for (int64_t b = 0; b < B; b++) {
        int64_t r = b * H + h;
        const T_IO *ur = u + r * L, *dyr = dy + r * L;
        if (gelu) {
          FN(pre_row)(L, ur, k + h * L, D[h], g);
          for (int64_t t = 0; t < L; t++) g[t] = (T_ACC)dyr[t] * GELU_GRAD_FN(g[t]);
        } else {
          for (int64_t t = 0; t < L; t++) g[t] = (T_ACC)dyr[t];
        }
        /* du[s] = sum_{t>=s} g[t] k[t-s];  dk[j] += sum_{t>=j} g[t] u[t-j];  dD += sum_t g[t] u[t] */
        for (int64_t s = 0; s < L; s++) du[r * L + s] = (T_IO)(FN(dot_g)(L - s, g + s, k + h * L) + (T_ACC)D[h] * g[s]);
        for (int64_t j = 0; j < L; j++) dk_acc[j] += FN(dot_g)(L - j, g + j, ur);
        dD_acc += FN(dot_g)(L, g, ur);
      }
      for (int64_t j = 0; j < L; j++) dk[h * L + j] = (T_IO)dk_acc[j];
      dD[h] = (T_IO)dD_acc;
    }
    free(g);
    free(dk_acc);
  }
}
