/* The ssmconv reference: the SSM's recurrence step by step, instantiated by
 * reference/ssmconv_ref.c for (double, double) the oracle, (float, float) the naive fp32 evaluation
 * and (float, double) the `reference` variant. Expects T_IO, T_ACC, FN(name), SSM(name), SSM_MODE
 * and SSM_C as reference/ssm_kernel_tmpl.h does.
 *
 * Forward, per row (b, h) and mode n:  x[t] = E x[t-1] + Bbar u[t],  y[t] = sum_n 2 Re(C x[t]) + D u[t].
 * Backward, one forward sweep with the derivatives of the state carried along (forward mode:
 * p = dx/dE, q = dx/dBbar, both holomorphic),
 *   p[t] = E p[t-1] + x[t-1],   q[t] = E q[t-1] + u[t],
 *   adj(C) = sum_t dy[t] x[t],  adj(E) = C sum_t dy[t] p[t],  adj(Bbar) = C sum_t dy[t] q[t],
 * and one reverse sweep for du (the adjoint state lambda[t] = C dy[t] + E lambda[t+1]):
 *   du[t] = D dy[t] + sum_n 2 Re(Bbar lambda[t]),   dD = sum dy u;
 * then the chain rule of reference/ssm_diag_tmpl.h. O(N) memory per row, whatever L is. */

static void FN(modes)(int64_t N, int64_t h, const T_IO *const *t, SSM_MODE *m) {
  for (int64_t n = 0; n < N; n++) {
    int64_t i = h * N + n;
    T_ACC bb[2] = {(T_ACC)t[SSMC_B][2 * i], (T_ACC)t[SSMC_B][2 * i + 1]};
    T_ACC cc[2] = {(T_ACC)t[SSMC_C][2 * i], (T_ACC)t[SSMC_C][2 * i + 1]};
    m[n] = SSM(smx_ssm_mode)((T_ACC)t[SSMC_LOGDT][h], (T_ACC)t[SSMC_LOGARE][i], (T_ACC)t[SSMC_AIM][i], bb, cc);
  }
}

static void FN(forward)(int64_t B, int64_t H, int64_t N, int64_t L, T_IO *const *t) {
#pragma omp parallel
  {
    SSM_MODE *m = smx_ref_scratch((size_t)N * sizeof *m);
    SSM_C *x = smx_ref_scratch((size_t)N * sizeof *x);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < B * H; r++) {
      int64_t h = r % H;
      FN(modes)(N, h, (const T_IO *const *)t, m);
      for (int64_t n = 0; n < N; n++) x[n] = SSM(c)(0, 0);
      const T_IO *u = t[SSMC_U] + r * L;
      for (int64_t s = 0; s < L; s++) {
        T_ACC acc = (T_ACC)t[SSMC_D][h] * (T_ACC)u[s];
        for (int64_t n = 0; n < N; n++) {
          x[n] = SSM(cadd)(SSM(cmul)(m[n].E, x[n]), SSM(cscale)(m[n].Bbar, (T_ACC)u[s]));
          acc += 2 * SSM(cmul)(m[n].C, x[n]).re;
        }
        t[SSMC_Y][r * L + s] = (T_IO)acc;
      }
    }
    free(m);
    free(x);
  }
}

static void FN(backward)(int64_t B, int64_t H, int64_t N, int64_t L, T_IO *const *t) {
#pragma omp parallel
  {
    SSM_MODE *m = smx_ref_scratch((size_t)N * sizeof *m);
    /* per mode: x, p, q, lambda, and the sums adj(C), sum dy p, sum dy q */
    SSM_C *w = smx_ref_scratch((size_t)N * 7 * sizeof *w);
#pragma omp for schedule(static)
    for (int64_t h = 0; h < H; h++) {
      FN(modes)(N, h, (const T_IO *const *)t, m);
      SSM_C *x = w, *p = w + N, *q = w + 2 * N, *lam = w + 3 * N, *sc = w + 4 * N, *sp = w + 5 * N, *sq = w + 6 * N;
      for (int64_t n = 0; n < N; n++) sc[n] = sp[n] = sq[n] = SSM(c)(0, 0);
      T_ACC dD = 0, Dh = (T_ACC)t[SSMC_D][h];
      for (int64_t b = 0; b < B; b++) {
        int64_t r = b * H + h;
        const T_IO *u = t[SSMC_U] + r * L, *dy = t[SSMC_DY] + r * L;
        T_IO *du = t[SSMC_DU] + r * L;
        for (int64_t n = 0; n < N; n++) x[n] = p[n] = q[n] = lam[n] = SSM(c)(0, 0);
        for (int64_t s = 0; s < L; s++) {
          T_ACC g = (T_ACC)dy[s], us = (T_ACC)u[s];
          for (int64_t n = 0; n < N; n++) {
            p[n] = SSM(cadd)(SSM(cmul)(m[n].E, p[n]), x[n]); /* uses x[t-1] */
            q[n] = SSM(cadd)(SSM(cmul)(m[n].E, q[n]), SSM(c)(us, 0));
            x[n] = SSM(cadd)(SSM(cmul)(m[n].E, x[n]), SSM(cscale)(m[n].Bbar, us));
            sc[n] = SSM(cadd)(sc[n], SSM(cscale)(x[n], g));
            sp[n] = SSM(cadd)(sp[n], SSM(cscale)(p[n], g));
            sq[n] = SSM(cadd)(sq[n], SSM(cscale)(q[n], g));
          }
          dD += g * us;
        }
        for (int64_t s = L - 1; s >= 0; s--) {
          T_ACC g = (T_ACC)dy[s], acc = Dh * g;
          for (int64_t n = 0; n < N; n++) {
            lam[n] = SSM(cadd)(SSM(cmul)(m[n].E, lam[n]), SSM(cscale)(m[n].C, g));
            acc += 2 * SSM(cmul)(m[n].Bbar, lam[n]).re;
          }
          du[s] = (T_IO)acc;
        }
      }
      T_ACC ddt = 0;
      for (int64_t n = 0; n < N; n++) {
        T_ACC gc[2], gb[2], g_are, g_aim, g_dt;
        SSM(smx_ssm_chain)(&m[n], sc[n], SSM(cmul)(m[n].C, sq[n]), SSM(cmul)(m[n].C, sp[n]), gc, gb, &g_are, &g_aim,
                           &g_dt);
        int64_t i = h * N + n;
        t[SSMC_DC][2 * i] = (T_IO)gc[0];
        t[SSMC_DC][2 * i + 1] = (T_IO)gc[1];
        t[SSMC_DB][2 * i] = (T_IO)gb[0];
        t[SSMC_DB][2 * i + 1] = (T_IO)gb[1];
        t[SSMC_DLOGARE][i] = (T_IO)g_are;
        t[SSMC_DAIM][i] = (T_IO)g_aim;
        ddt += g_dt;
      }
      t[SSMC_DLOGDT][h] = (T_IO)(ddt * m[0].dt);
      t[SSMC_DD][h] = (T_IO)dD;
    }
    free(m);
    free(w);
  }
}
