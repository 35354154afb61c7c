/* The ssm_kernel reference, instantiated by reference/ssm_kernel_ref.c for (double, double) the
 * oracle, (float, float) the naive fp32 evaluation and (float, double) the `reference` variant.
 * Expects T_IO, T_ACC, FN(name), and SSM(name) choosing the ssm_diag.h family of T_ACC
 * (SSM(smx_ssm_mode) -> smx_ssm_mode_f64 ...), SSM_MODE and SSM_C (its mode and complex types).
 *
 * Forward: k[h,l] = sum_n 2 Re(C Bbar exp(z l)), z = dt A, each power by its own exp (the
 * Vandermonde matrix, element by element). Backward, for each mode, with
 *   S = sum_l dk[h,l] E^l,   T = sum_{l>=1} dk[h,l] l E^(l-1):
 *   adj(C) = Bbar S,  adj(Bbar) = C S,  adj(E) = C Bbar T,  then ssm_chain (ssm_diag_tmpl.h). */

static void FN(modes)(int64_t H, int64_t N, int64_t h, const T_IO *log_dt, const T_IO *log_a_re, const T_IO *a_im,
                      const T_IO *b, const T_IO *c, SSM_MODE *m) {
  for (int64_t n = 0; n < N; n++) {
    int64_t i = h * N + n;
    T_ACC bb[2] = {(T_ACC)b[2 * i], (T_ACC)b[2 * i + 1]}, cc[2] = {(T_ACC)c[2 * i], (T_ACC)c[2 * i + 1]};
    m[n] = SSM(smx_ssm_mode)((T_ACC)log_dt[h], (T_ACC)log_a_re[i], (T_ACC)a_im[i], bb, cc);
  }
  (void)H;
}

/* E^l = exp(z l) */
static SSM_C FN(power)(const SSM_MODE *m, int64_t l) { return SSM(cexp)(SSM(cscale)(m->A, m->dt * (T_ACC)l)); }

static void FN(forward)(int64_t H, int64_t N, int64_t L, const T_IO *log_dt, const T_IO *log_a_re, const T_IO *a_im,
                        const T_IO *b, const T_IO *c, T_IO *k) {
#pragma omp parallel
  {
    SSM_MODE *m = smx_ref_scratch((size_t)N * sizeof *m);
#pragma omp for schedule(static)
    for (int64_t h = 0; h < H; h++) {
      FN(modes)(H, N, h, log_dt, log_a_re, a_im, b, c, m);
      for (int64_t l = 0; l < L; l++) {
        T_ACC acc = 0;
        for (int64_t n = 0; n < N; n++) acc += 2 * SSM(cmul)(SSM(cmul)(m[n].C, m[n].Bbar), FN(power)(&m[n], l)).re;
        k[h * L + l] = (T_IO)acc;
      }
    }
    free(m);
  }
}

static void FN(backward)(int64_t H, int64_t N, int64_t L, const T_IO *log_dt, const T_IO *log_a_re, const T_IO *a_im,
                         const T_IO *b, const T_IO *c, const T_IO *dk, T_IO *dlog_dt, T_IO *dlog_a_re, T_IO *da_im,
                         T_IO *db, T_IO *dc) {
#pragma omp parallel
  {
    SSM_MODE *m = smx_ref_scratch((size_t)N * sizeof *m);
#pragma omp for schedule(static)
    for (int64_t h = 0; h < H; h++) {
      FN(modes)(H, N, h, log_dt, log_a_re, a_im, b, c, m);
      T_ACC ddt_sum = 0;
      for (int64_t n = 0; n < N; n++) {
        SSM_C S = SSM(c)(0, 0), T = SSM(c)(0, 0);
        for (int64_t l = 0; l < L; l++) {
          T_ACC g = (T_ACC)dk[h * L + l];
          S = SSM(cadd)(S, SSM(cscale)(FN(power)(&m[n], l), g));
          if (l >= 1) T = SSM(cadd)(T, SSM(cscale)(FN(power)(&m[n], l - 1), g * (T_ACC)l));
        }
        SSM_C adj_c = SSM(cmul)(m[n].Bbar, S), adj_bbar = SSM(cmul)(m[n].C, S);
        SSM_C adj_e = SSM(cmul)(SSM(cmul)(m[n].C, m[n].Bbar), T);
        T_ACC gc[2], gb[2], g_are, g_aim, g_dt;
        SSM(smx_ssm_chain)(&m[n], adj_c, adj_bbar, adj_e, gc, gb, &g_are, &g_aim, &g_dt);
        int64_t i = h * N + n;
        dc[2 * i] = (T_IO)gc[0];
        dc[2 * i + 1] = (T_IO)gc[1];
        db[2 * i] = (T_IO)gb[0];
        db[2 * i + 1] = (T_IO)gb[1];
        dlog_a_re[i] = (T_IO)g_are;
        da_im[i] = (T_IO)g_aim;
        ddt_sum += g_dt;
      }
      dlog_dt[h] = (T_IO)(ddt_sum * m[0].dt);
    }
    free(m);
  }
}
