/* The fftconv reference, written once and instantiated by reference/fftconv_ref.c for three
 * (storage, accumulation) pairs — (double, double) the oracle, (float, float) the naive fp32
 * evaluation, (float, double) the `reference` variant — in the manner of dav1d's *_tmpl.c files.
 * Expects T_IO, T_ACC, GELU_FN(x), GELU_GRAD_FN(x) and FN(name) to be defined.
 *
 * Math (H3's fftconv_ref without dropout, with FlashFFTConv's optional gates; u, pre, post (B,H,L),
 * k (H,L), D (H); without gates pre = post = 1):
 *   v = pre * u;   z[b,h,t] = sum_{j=0..t} k[h,j] v[b,h,t-j] + D[h] v[b,h,t];
 *   a = gelu ? GELU(z) : z;   y = post * a
 * Backward, with g = dy * post * (gelu ? GELU'(z) : 1):
 *   dv[b,h,s] = sum_{t=s..L-1} g[b,h,t] k[h,t-s] + D[h] g[b,h,s];   du = pre * dv;   dpre = u * dv
 *   dpost     = dy * a
 *   dk[h,j]   = sum_b sum_{t=j..L-1} g[b,h,t] v[b,h,t-j]
 *   dD[h]     = sum_b sum_t g[b,h,t] v[b,h,t]
 * pre, post, dpre and dpost are NULL when the gates are off.
 * Loops read like the equations; OpenMP only splits independent rows (results do not depend on
 * the thread count). */

/* sum_{j<n} a[j] * b[j * step]: four interleaved partial sums break the add latency chain
 * (compilers may not reorder floating-point sums themselves); the order is fixed, so results
 * are still exactly repeatable. */
static T_ACC FN(dot)(int64_t n, const T_IO *a, const T_ACC *b, int64_t step) {
  T_ACC s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 += (T_ACC)a[j] * b[j * step];
    s1 += (T_ACC)a[j + 1] * b[(j + 1) * step];
    s2 += (T_ACC)a[j + 2] * b[(j + 2) * step];
    s3 += (T_ACC)a[j + 3] * b[(j + 3) * step];
  }
  for (; j < n; j++) s0 += (T_ACC)a[j] * b[j * step];
  return (s0 + s1) + (s2 + s3);
}

/* The same for sum_{j<n} g[j] * x[j * step], both in the accumulation type. */
static T_ACC FN(dot_acc)(int64_t n, const T_ACC *g, const T_ACC *x, int64_t step) {
  T_ACC s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 += g[j] * x[j * step];
    s1 += g[j + 1] * x[(j + 1) * step];
    s2 += g[j + 2] * x[(j + 2) * step];
    s3 += g[j + 3] * x[(j + 3) * step];
  }
  for (; j < n; j++) s0 += g[j] * x[j * step];
  return (s0 + s1) + (s2 + s3);
}

/* sum_{j<n} g[j] * x[j], g in the accumulation type, x stored */
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

/* v = pre * u (or u), in the accumulation type */
static void FN(gate_row)(int64_t L, const T_IO *u, const T_IO *pre, T_ACC *v) {
  for (int64_t t = 0; t < L; t++) v[t] = pre ? (T_ACC)pre[t] * (T_ACC)u[t] : (T_ACC)u[t];
}

/* z[t] = sum_{j<=t} k[j] v[t-j] + d v[t] */
static void FN(conv_row)(int64_t L, const T_ACC *v, const T_IO *k, T_IO d, T_ACC *z) {
  for (int64_t t = 0; t < L; t++) z[t] = FN(dot)(t + 1, k, v + t, -1) + (T_ACC)d * v[t];
}

static void FN(forward)(int64_t B, int64_t H, int64_t L, int gelu, const T_IO *u, const T_IO *k, const T_IO *D,
                        const T_IO *pre, const T_IO *post, T_IO *y) {
#pragma omp parallel
  {
    T_ACC *v = smx_ref_scratch((size_t)L * sizeof(T_ACC));
    T_ACC *z = smx_ref_scratch((size_t)L * sizeof(T_ACC));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < B * H; r++) {
      int64_t h = r % H;
      FN(gate_row)(L, u + r * L, pre ? pre + r * L : NULL, v);
      FN(conv_row)(L, v, k + h * L, D[h], z);
      for (int64_t t = 0; t < L; t++) {
        T_ACC a = gelu ? GELU_FN(z[t]) : z[t];
        y[r * L + t] = (T_IO)(post ? (T_ACC)post[r * L + t] * a : a);
      }
    }
    free(v);
    free(z);
  }
}

static void FN(backward)(int64_t B, int64_t H, int64_t L, int gelu, const T_IO *u, const T_IO *k, const T_IO *D,
                         const T_IO *pre, const T_IO *post, const T_IO *dy, T_IO *du, T_IO *dk, T_IO *dD, T_IO *dpre,
                         T_IO *dpost) {
#pragma omp parallel
  {
    T_ACC *v = smx_ref_scratch((size_t)L * sizeof(T_ACC));
    T_ACC *g = smx_ref_scratch((size_t)L * sizeof(T_ACC));
    T_ACC *dk_acc = smx_ref_scratch((size_t)L * sizeof(T_ACC));
#pragma omp for schedule(static)
    for (int64_t h = 0; h < H; h++) {
      T_ACC dD_acc = 0;
      for (int64_t j = 0; j < L; j++) dk_acc[j] = 0;
      for (int64_t b = 0; b < B; b++) {
        int64_t r = b * H + h;
        const T_IO *ur = u + r * L, *dyr = dy + r * L;
        const T_IO *prer = pre ? pre + r * L : NULL, *postr = post ? post + r * L : NULL;
        FN(gate_row)(L, ur, prer, v);
        if (gelu || post) {
          FN(conv_row)(L, v, k + h * L, D[h], g); /* g = z for now */
          for (int64_t t = 0; t < L; t++) {
            T_ACC z = g[t], a = gelu ? GELU_FN(z) : z, dz = gelu ? GELU_GRAD_FN(z) : 1;
            if (dpost) dpost[r * L + t] = (T_IO)((T_ACC)dyr[t] * a);
            g[t] = (T_ACC)dyr[t] * (postr ? (T_ACC)postr[t] : 1) * dz;
          }
        } else {
          for (int64_t t = 0; t < L; t++) g[t] = (T_ACC)dyr[t];
        }
        /* dv[s] = sum_{t>=s} g[t] k[t-s] + D g[s];  dk[j] += sum_{t>=j} g[t] v[t-j];  dD += sum_t g[t] v[t] */
        for (int64_t s = 0; s < L; s++) {
          T_ACC dv = FN(dot_g)(L - s, g + s, k + h * L) + (T_ACC)D[h] * g[s];
          du[r * L + s] = (T_IO)(prer ? (T_ACC)prer[s] * dv : dv);
          if (dpre) dpre[r * L + s] = (T_IO)((T_ACC)ur[s] * dv);
        }
        for (int64_t j = 0; j < L; j++) dk_acc[j] += FN(dot_acc)(L - j, g + j, v, 1);
        dD_acc += FN(dot_acc)(L, g, v, 1);
      }
      for (int64_t j = 0; j < L; j++) dk[h * L + j] = (T_IO)dk_acc[j];
      dD[h] = (T_IO)dD_acc;
    }
    free(v);
    free(g);
    free(dk_acc);
  }
}
