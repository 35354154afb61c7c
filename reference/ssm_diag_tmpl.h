/* The diagonal SSM's per-mode algebra, written once for a real type R and instantiated by
 * reference/ssm_diag.h as the fp64 (_f64) and fp32 (_f32) families (host and device code alike).
 * Expects R, CT (the complex struct's name), MODE, FN(name) and RM(fn) (the math function of R).
 *
 * One mode of one channel (H3's SSKernelDiag / S4D, ZOH discretization, conjugate pairs implicit):
 *   dt = exp(log_dt),  A = -exp(log_A_re) + i A_im,  z = dt A,  E = exp(z),
 *   Bbar = B (E - 1) / A                       (zero-order hold)
 *   state x[t] = E x[t-1] + Bbar u[t],  output 2 Re(C x[t])   (the factor 2 is the conjugate mode)
 * E - 1 is formed as expm1(Re z) cos(Im z) - 2 sin^2(Im z / 2) + i exp(Re z) sin(Im z), which keeps
 * its relative accuracy when |z| is small (dt = 1e-3 makes |z| ~ 1e-3: E - 1 by subtraction would
 * lose 10 bits in fp32). */

typedef struct CT {
  R re, im;
} CT;

SMX_SSM_FN CT FN(c)(R re, R im) {
  CT r;
  r.re = re;
  r.im = im;
  return r;
}
SMX_SSM_FN CT FN(cadd)(CT a, CT b) { return FN(c)(a.re + b.re, a.im + b.im); }
SMX_SSM_FN CT FN(csub)(CT a, CT b) { return FN(c)(a.re - b.re, a.im - b.im); }
SMX_SSM_FN CT FN(cmul)(CT a, CT b) { return FN(c)(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re); }
SMX_SSM_FN CT FN(cscale)(CT a, R s) { return FN(c)(a.re * s, a.im * s); }
SMX_SSM_FN CT FN(cdiv)(CT a, CT b) {
  R d = b.re * b.re + b.im * b.im;
  return FN(c)((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d);
}
SMX_SSM_FN CT FN(cexp)(CT z) {
  R m = RM(exp)(z.re);
  return FN(c)(m * RM(cos)(z.im), m * RM(sin)(z.im));
}

typedef struct MODE {
  R dt;
  CT A, E, Em1, B, Bbar, C;
} MODE;

/* b and c point at (re, im) pairs. */
SMX_SSM_FN MODE FN(smx_ssm_mode)(R log_dt, R log_a_re, R a_im, const R *b, const R *c) {
  MODE m;
  m.dt = RM(exp)(log_dt);
  m.A = FN(c)(-RM(exp)(log_a_re), a_im);
  CT z = FN(cscale)(m.A, m.dt);
  R s = RM(sin)(z.im * (R)0.5);
  m.E = FN(cexp)(z);
  m.Em1 = FN(c)(RM(expm1)(z.re) * RM(cos)(z.im) - 2 * s * s, RM(exp)(z.re) * RM(sin)(z.im));
  m.B = FN(c)(b[0], b[1]);
  m.C = FN(c)(c[0], c[1]);
  m.Bbar = FN(cmul)(m.B, FN(cdiv)(m.Em1, m.A));
  return m;
}

/* From the holomorphic adjoints of one mode's C, Bbar and E (the loss is 2 Re F, F holomorphic in
 * them) to the real parameters' gradients: dC and dB as (re, im) pairs, d/dlog_A_re, d/dA_im, and
 * this mode's share of d/d(dt) (the caller sums the modes and multiplies by dt for d/dlog_dt).
 * For a complex parameter p, dL/dRe p = 2 Re adj(p) and dL/dIm p = -2 Im adj(p). */
SMX_SSM_FN void FN(smx_ssm_chain)(const MODE *m, CT adj_c, CT adj_bbar, CT adj_e, R *dc, R *db, R *dlog_a_re, R *da_im,
                              R *ddt) {
  CT q = FN(cdiv)(m->Em1, m->A); /* Bbar = B q */
  CT adj_b = FN(cmul)(adj_bbar, q);
  /* Bbar = B (E - 1) / A: through E it adds adj_bbar B / A to E's adjoint, and 1/A adds -Bbar/A to A's */
  CT adj_et = FN(cadd)(adj_e, FN(cdiv)(FN(cmul)(adj_bbar, m->B), m->A));
  CT adj_a = FN(csub)(FN(cmul)(adj_et, FN(cscale)(m->E, m->dt)), FN(cdiv)(FN(cmul)(adj_bbar, m->Bbar), m->A));
  dc[0] = 2 * adj_c.re;
  dc[1] = -2 * adj_c.im;
  db[0] = 2 * adj_b.re;
  db[1] = -2 * adj_b.im;
  *dlog_a_re = 2 * adj_a.re * m->A.re; /* d Re(A) / d log_A_re = Re(A) */
  *da_im = -2 * adj_a.im;
  *ddt = 2 * FN(cmul)(adj_et, FN(cmul)(m->A, m->E)).re; /* dE/d(dt) = A E */
}
