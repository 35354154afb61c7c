/* The ssd reference: the quadratic (1-semiseparable) form forward and backward and the decode
 * step, instantiated by reference/ssd_ref.c for (T_IO, T_ACC) = (double, double) the oracle,
 * (float, float) the naive fp32 evaluation and (float, double) the `reference` variant. Needs
 * T_IO, T_ACC, EXP, FN. Segment sums are accumulated over their own terms (s runs down from t),
 * so each exp() argument is as exact as its precision allows and never positive.
 *
 * One (batch, group) pair per OpenMP task: the heads of a group share B and C, so their dB and dC
 * sums stay in one thread and the result does not depend on the thread count. */

/* delta_t and d delta / d dt for every (b, t, h) */
static void FN(deltas)(const ssd_dims *d, const T_IO *dt, const T_IO *dt_bias, T_ACC *delta, T_ACC *ddelta) {
  int64_t n = d->B * d->L * d->H;
  for (int64_t i = 0; i < n; i++) {
    T_ACC v = (T_ACC)dt[i];
    if (d->softplus) {
      v += (T_ACC)dt_bias[i % d->H];
      delta[i] = (T_ACC)smx_ssd_softplus((double)v);
      if (ddelta) ddelta[i] = (T_ACC)(1.0 / (1.0 + exp(-(double)v)));
    } else {
      delta[i] = v;
      if (ddelta) ddelta[i] = 1;
    }
  }
}

/* B' or C' for one (b, g): L x N, rotated when rope is on (fp64 tables rounded to T_ACC) */
static void FN(rotated)(const ssd_dims *d, const T_IO *m, int64_t b, int64_t g, const double *cs, const double *sn,
                        T_ACC *out) {
  int64_t N = d->N, half = N / 2;
  for (int64_t t = 0; t < d->L; t++) {
    const T_IO *r = m + ((b * d->L + t) * d->G + g) * N;
    T_ACC *o = out + t * N;
    if (!d->rope) {
      for (int64_t n = 0; n < N; n++) o[n] = (T_ACC)r[n];
      continue;
    }
    for (int64_t i = 0; i < half; i++) {
      T_ACC co = (T_ACC)cs[t * half + i], si = (T_ACC)sn[t * half + i];
      T_ACC x1 = (T_ACC)r[i], x2 = (T_ACC)r[i + half];
      o[i] = x1 * co - x2 * si;
      o[i + half] = x2 * co + x1 * si;
    }
  }
}

/* adds R_t^T dm'_t into the group's gradient (the inverse rotation) */
static void FN(unrotate_add)(const ssd_dims *d, const T_ACC *dm, int64_t b, int64_t g, const double *cs,
                             const double *sn, T_ACC *acc) {
  int64_t N = d->N, half = N / 2;
  for (int64_t t = 0; t < d->L; t++) {
    const T_ACC *r = dm + t * N;
    T_ACC *o = acc + t * N;
    if (!d->rope) {
      for (int64_t n = 0; n < N; n++) o[n] += r[n];
      continue;
    }
    (void)b, (void)g;
    for (int64_t i = 0; i < half; i++) {
      T_ACC co = (T_ACC)cs[t * half + i], si = (T_ACC)sn[t * half + i];
      T_ACC x1 = r[i], x2 = r[i + half];
      o[i] += x1 * co + x2 * si;
      o[i + half] += x2 * co - x1 * si;
    }
  }
}

static T_ACC FN(dot)(const T_ACC *a, const T_ACC *b, int64_t n) {
  T_ACC s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static T_ACC FN(sigmoid)(T_ACC v) { return (T_ACC)(1.0 / (1.0 + exp(-(double)v))); }

/* Forward. y0 (pre-gate output, B x L x H x P, T_ACC) is written when non-NULL (the backward
 * needs it for dz); y and hT are the op's outputs. */
static void FN(fwd)(const ssd_dims *d, T_IO *const *t) {
  int64_t B = d->B, L = d->L, H = d->H, P = d->P, G = d->G, N = d->N, hpg = H / G;
  T_ACC *delta = smx_ref_scratch((size_t)(B * L * H) * sizeof(T_ACC));
  double *cs = NULL, *sn = NULL;
  if (d->rope) {
    cs = smx_ref_scratch((size_t)(L * (N / 2)) * sizeof(double));
    sn = smx_ref_scratch((size_t)(L * (N / 2)) * sizeof(double));
    smx_ssd_rope_tables_f64(0, L, N, cs, sn);
  }
  FN(deltas)(d, t[SSD_DT], t[SSD_DTBIAS], delta, NULL);
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (int64_t b = 0; b < B; b++)
    for (int64_t g = 0; g < G; g++) {
      T_ACC *Bp = smx_ref_scratch((size_t)(L * N) * sizeof(T_ACC));
      T_ACC *Cp = smx_ref_scratch((size_t)(L * N) * sizeof(T_ACC));
      T_ACC *u = smx_ref_scratch((size_t)(L * P) * sizeof(T_ACC));
      T_ACC *acc = smx_ref_scratch((size_t)P * sizeof(T_ACC));
      FN(rotated)(d, t[SSD_BM], b, g, cs, sn, Bp);
      FN(rotated)(d, t[SSD_CM], b, g, cs, sn, Cp);
      for (int64_t h = g * hpg; h < (g + 1) * hpg; h++) {
        T_ACC A = (T_ACC)t[SSD_A][h], Dh = (T_ACC)t[SSD_D][h];
        const T_IO *h0 = d->init ? t[SSD_H0] + (b * H + h) * P * N : NULL;
        for (int64_t s = 0; s < L; s++) {
          T_ACC dl = delta[(b * L + s) * H + h];
          const T_IO *xs = t[SSD_X] + ((b * L + s) * H + h) * P;
          for (int64_t p = 0; p < P; p++) u[s * P + p] = dl * (T_ACC)xs[p];
        }
        for (int64_t tt = 0; tt < L; tt++) {
          for (int64_t p = 0; p < P; p++) acc[p] = 0;
          T_ACC seg = 0;
          for (int64_t s = tt; s >= 0; s--) {
            T_ACC coef = EXP(seg) * FN(dot)(Cp + tt * N, Bp + s * N, N);
            for (int64_t p = 0; p < P; p++) acc[p] += coef * u[s * P + p];
            seg += A * delta[(b * L + s) * H + h];
          }
          if (h0) {
            T_ACC w0 = EXP(seg);
            for (int64_t p = 0; p < P; p++) {
              T_ACC v = 0;
              for (int64_t n = 0; n < N; n++) v += (T_ACC)h0[p * N + n] * Cp[tt * N + n];
              acc[p] += w0 * v;
            }
          }
          const T_IO *xt = t[SSD_X] + ((b * L + tt) * H + h) * P;
          T_IO *yt = t[SSD_Y] + ((b * L + tt) * H + h) * P;
          const T_IO *zt = d->gate ? t[SSD_Z] + ((b * L + tt) * H + h) * P : NULL;
          for (int64_t p = 0; p < P; p++) {
            T_ACC y0 = acc[p] + Dh * (T_ACC)xt[p];
            if (zt) {
              T_ACC z = (T_ACC)zt[p];
              y0 *= z * FN(sigmoid)(z);
            }
            yt[p] = (T_IO)y0;
          }
        }
        /* the final state: sum_s w(L-1, s) u_s B'_s^T + w(L-1, -1) h0 */
        T_IO *hT = t[SSD_HT] + (b * H + h) * P * N;
        T_ACC *st = smx_ref_scratch((size_t)(P * N) * sizeof(T_ACC));
        for (int64_t i = 0; i < P * N; i++) st[i] = 0;
        T_ACC seg = 0;
        for (int64_t s = L - 1; s >= 0; s--) {
          T_ACC w = EXP(seg);
          for (int64_t p = 0; p < P; p++)
            for (int64_t n = 0; n < N; n++) st[p * N + n] += w * u[s * P + p] * Bp[s * N + n];
          seg += A * delta[(b * L + s) * H + h];
        }
        if (h0) {
          T_ACC w0 = EXP(seg);
          for (int64_t i = 0; i < P * N; i++) st[i] += w0 * (T_ACC)h0[i];
        }
        for (int64_t i = 0; i < P * N; i++) hT[i] = (T_IO)st[i];
        free(st);
      }
      free(Bp);
      free(Cp);
      free(u);
      free(acc);
    }
  free(delta);
  free(cs);
  free(sn);
}

/* Backward of the quadratic form: for every pair s <= t (and the initial-state column s = -1) the
 * contribution w(t,s) <C'_t, B'_s> <g_t, u_s> is differentiated by hand; dseg(t, s) feeds every
 * a_r with s < r <= t, summed by a prefix over s per row t. */
static void FN(bwd)(const ssd_dims *d, T_IO *const *t) {
  int64_t B = d->B, L = d->L, H = d->H, P = d->P, G = d->G, N = d->N, hpg = H / G;
  T_ACC *delta = smx_ref_scratch((size_t)(B * L * H) * sizeof(T_ACC));
  T_ACC *ddelta = smx_ref_scratch((size_t)(B * L * H) * sizeof(T_ACC));
  /* per-(b, h) partial sums of dA, dD and ddt_bias, reduced in a fixed order afterwards */
  T_ACC *pA = smx_ref_scratch((size_t)(B * H) * sizeof(T_ACC));
  T_ACC *pD = smx_ref_scratch((size_t)(B * H) * sizeof(T_ACC));
  T_ACC *pBias = smx_ref_scratch((size_t)(B * H) * sizeof(T_ACC));
  double *cs = NULL, *sn = NULL;
  if (d->rope) {
    cs = smx_ref_scratch((size_t)(L * (N / 2)) * sizeof(double));
    sn = smx_ref_scratch((size_t)(L * (N / 2)) * sizeof(double));
    smx_ssd_rope_tables_f64(0, L, N, cs, sn);
  }
  FN(deltas)(d, t[SSD_DT], t[SSD_DTBIAS], delta, ddelta);
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (int64_t b = 0; b < B; b++)
    for (int64_t g = 0; g < G; g++) {
      size_t LN = (size_t)(L * N) * sizeof(T_ACC), LP = (size_t)(L * P) * sizeof(T_ACC);
      T_ACC *Bp = smx_ref_scratch(LN), *Cp = smx_ref_scratch(LN), *dBp = smx_ref_scratch(LN),
            *dCp = smx_ref_scratch(LN), *dBacc = smx_ref_scratch(LN), *dCacc = smx_ref_scratch(LN);
      T_ACC *u = smx_ref_scratch(LP), *gg = smx_ref_scratch(LP), *du = smx_ref_scratch(LP);
      T_ACC *da = smx_ref_scratch((size_t)L * sizeof(T_ACC));
      T_ACC *M = smx_ref_scratch((size_t)(L + 1) * sizeof(T_ACC)); /* M[s + 1] = dseg(t, s) */
      T_ACC *acc = smx_ref_scratch((size_t)P * sizeof(T_ACC));
      T_ACC *dh0 = smx_ref_scratch((size_t)(P * N) * sizeof(T_ACC));
      FN(rotated)(d, t[SSD_BM], b, g, cs, sn, Bp);
      FN(rotated)(d, t[SSD_CM], b, g, cs, sn, Cp);
      for (int64_t i = 0; i < L * N; i++) dBacc[i] = dCacc[i] = 0;
      for (int64_t h = g * hpg; h < (g + 1) * hpg; h++) {
        T_ACC A = (T_ACC)t[SSD_A][h], Dh = (T_ACC)t[SSD_D][h];
        const T_IO *h0 = d->init ? t[SSD_H0] + (b * H + h) * P * N : NULL;
        const T_IO *dhT = t[SSD_DHT] + (b * H + h) * P * N;
        T_ACC sumD = 0;
        for (int64_t i = 0; i < L * N; i++) dBp[i] = dCp[i] = 0;
        for (int64_t i = 0; i < L * P; i++) du[i] = 0;
        for (int64_t i = 0; i < L; i++) da[i] = 0;
        for (int64_t i = 0; i < P * N; i++) dh0[i] = 0;
        for (int64_t s = 0; s < L; s++) {
          int64_t row = (b * L + s) * H + h;
          const T_IO *xs = t[SSD_X] + row * P;
          for (int64_t p = 0; p < P; p++) u[s * P + p] = delta[row] * (T_ACC)xs[p];
        }
        /* g_t = dL/dy0_t, and dz_t (which needs y0_t, recomputed here) */
        for (int64_t tt = 0; tt < L; tt++) {
          int64_t row = (b * L + tt) * H + h;
          const T_IO *dy = t[SSD_DY] + row * P, *xt = t[SSD_X] + row * P;
          if (!d->gate) {
            for (int64_t p = 0; p < P; p++) gg[tt * P + p] = (T_ACC)dy[p];
            continue;
          }
          for (int64_t p = 0; p < P; p++) acc[p] = 0;
          T_ACC seg = 0;
          for (int64_t s = tt; s >= 0; s--) {
            T_ACC coef = EXP(seg) * FN(dot)(Cp + tt * N, Bp + s * N, N);
            for (int64_t p = 0; p < P; p++) acc[p] += coef * u[s * P + p];
            seg += A * delta[(b * L + s) * H + h];
          }
          if (h0) {
            T_ACC w0 = EXP(seg);
            for (int64_t p = 0; p < P; p++) {
              T_ACC v = 0;
              for (int64_t n = 0; n < N; n++) v += (T_ACC)h0[p * N + n] * Cp[tt * N + n];
              acc[p] += w0 * v;
            }
          }
          const T_IO *zt = t[SSD_Z] + row * P;
          T_IO *dz = t[SSD_DZ] + row * P;
          for (int64_t p = 0; p < P; p++) {
            T_ACC y0 = acc[p] + Dh * (T_ACC)xt[p], z = (T_ACC)zt[p], sg = FN(sigmoid)(z);
            gg[tt * P + p] = (T_ACC)dy[p] * z * sg;
            dz[p] = (T_IO)((T_ACC)dy[p] * y0 * sg * (1 + z * (1 - sg)));
          }
        }
        /* the pairs */
        for (int64_t tt = 0; tt < L; tt++) {
          const T_ACC *gt = gg + tt * P, *ct = Cp + tt * N;
          T_ACC seg = 0;
          for (int64_t s = tt; s >= 0; s--) {
            T_ACC w = EXP(seg), kap = FN(dot)(ct, Bp + s * N, N), Gts = FN(dot)(gt, u + s * P, P);
            T_ACC dk = w * Gts, wk = w * kap;
            for (int64_t n = 0; n < N; n++) {
              dCp[tt * N + n] += dk * Bp[s * N + n];
              dBp[s * N + n] += dk * ct[n];
            }
            for (int64_t p = 0; p < P; p++) du[s * P + p] += wk * gt[p];
            M[s + 1] = wk * Gts;
            seg += A * delta[(b * L + s) * H + h];
          }
          M[0] = 0;
          if (h0) {
            T_ACC w0 = EXP(seg), m0 = 0;
            for (int64_t p = 0; p < P; p++) {
              T_ACC sc = 0; /* (h0 C'_t)_p */
              for (int64_t n = 0; n < N; n++) {
                sc += (T_ACC)h0[p * N + n] * ct[n];
                dCp[tt * N + n] += w0 * (T_ACC)h0[p * N + n] * gt[p];
                dh0[p * N + n] += w0 * gt[p] * ct[n];
              }
              m0 += gt[p] * sc;
            }
            M[0] = w0 * m0;
          }
          T_ACC pf = M[0];
          for (int64_t r = 0; r <= tt; r++) {
            da[r] += pf;
            pf += M[r + 1];
          }
        }
        /* the final state's gradient: hT = sum_s w(L-1, s) u_s B'_s^T + w(L-1, -1) h0 */
        {
          T_ACC seg = 0;
          for (int64_t s = L - 1; s >= 0; s--) {
            T_ACC w = EXP(seg), m = 0;
            for (int64_t p = 0; p < P; p++) {
              T_ACC q = 0; /* (dhT B'_s)_p */
              for (int64_t n = 0; n < N; n++) {
                q += (T_ACC)dhT[p * N + n] * Bp[s * N + n];
                dBp[s * N + n] += w * (T_ACC)dhT[p * N + n] * u[s * P + p];
              }
              du[s * P + p] += w * q;
              m += q * u[s * P + p];
            }
            M[s + 1] = w * m;
            seg += A * delta[(b * L + s) * H + h];
          }
          M[0] = 0;
          if (h0) {
            T_ACC w0 = EXP(seg), m0 = 0;
            for (int64_t i = 0; i < P * N; i++) {
              dh0[i] += w0 * (T_ACC)dhT[i];
              m0 += (T_ACC)dhT[i] * (T_ACC)h0[i];
            }
            M[0] = w0 * m0;
          }
          T_ACC pf = M[0];
          for (int64_t r = 0; r < L; r++) {
            da[r] += pf;
            pf += M[r + 1];
          }
        }
        /* chain rule to x, dt, A, D and the bias */
        T_ACC sumA = 0, sumBias = 0;
        for (int64_t s = 0; s < L; s++) {
          int64_t row = (b * L + s) * H + h;
          const T_IO *xs = t[SSD_X] + row * P;
          T_IO *dx = t[SSD_DX] + row * P;
          T_ACC ddl = A * da[s];
          for (int64_t p = 0; p < P; p++) {
            T_ACC xv = (T_ACC)xs[p], gv = gg[s * P + p];
            dx[p] = (T_IO)(delta[row] * du[s * P + p] + Dh * gv);
            ddl += du[s * P + p] * xv;
            sumD += gv * xv;
          }
          sumA += da[s] * delta[row];
          T_ACC ddt = ddl * ddelta[row];
          t[SSD_DDT][row] = (T_IO)ddt;
          sumBias += ddt;
        }
        pA[b * H + h] = sumA;
        pD[b * H + h] = sumD;
        pBias[b * H + h] = sumBias;
        if (d->init)
          for (int64_t i = 0; i < P * N; i++) t[SSD_DH0][(b * H + h) * P * N + i] = (T_IO)dh0[i];
        FN(unrotate_add)(d, dBp, b, g, cs, sn, dBacc);
        FN(unrotate_add)(d, dCp, b, g, cs, sn, dCacc);
      }
      for (int64_t s = 0; s < L; s++)
        for (int64_t n = 0; n < N; n++) {
          t[SSD_DBM][((b * L + s) * G + g) * N + n] = (T_IO)dBacc[s * N + n];
          t[SSD_DCM][((b * L + s) * G + g) * N + n] = (T_IO)dCacc[s * N + n];
        }
      free(Bp), free(Cp), free(dBp), free(dCp), free(dBacc), free(dCacc);
      free(u), free(gg), free(du), free(da), free(M), free(acc), free(dh0);
    }
  for (int64_t h = 0; h < H; h++) {
    T_ACC sa = 0, sd = 0, sb = 0;
    for (int64_t b = 0; b < B; b++) {
      sa += pA[b * H + h];
      sd += pD[b * H + h];
      sb += pBias[b * H + h];
    }
    t[SSD_DA][h] = (T_IO)sa;
    t[SSD_DD][h] = (T_IO)sd;
    if (d->softplus) t[SSD_DDTBIAS][h] = (T_IO)sb;
  }
  free(delta), free(ddelta), free(pA), free(pD), free(pBias), free(cs), free(sn);
}

/* One decode step per (b, h): state_out = exp(a) state_in + delta x B'^T, y = state_out C' + D x,
 * gated. */
static void FN(step)(const ssd_dims *d, int64_t pos, T_IO *const *t) {
  int64_t B = d->B, H = d->H, P = d->P, G = d->G, N = d->N, hpg = H / G, half = N / 2;
  double *cs = smx_ref_scratch((size_t)(half ? half : 1) * sizeof(double)),
         *sn = smx_ref_scratch((size_t)(half ? half : 1) * sizeof(double));
  if (d->rope) smx_ssd_rope_tables_f64(pos, 1, N, cs, sn);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      int64_t g = h / hpg;
      T_ACC Bp[1024], Cp[1024];
      const T_IO *bm = t[SSDD_BM] + (b * G + g) * N, *cm = t[SSDD_CM] + (b * G + g) * N;
      for (int64_t n = 0; n < N; n++) {
        Bp[n] = (T_ACC)bm[n];
        Cp[n] = (T_ACC)cm[n];
      }
      if (d->rope)
        for (int64_t i = 0; i < half; i++) {
          T_ACC co = (T_ACC)cs[i], si = (T_ACC)sn[i], b1 = Bp[i], b2 = Bp[i + half], c1 = Cp[i], c2 = Cp[i + half];
          Bp[i] = b1 * co - b2 * si;
          Bp[i + half] = b2 * co + b1 * si;
          Cp[i] = c1 * co - c2 * si;
          Cp[i + half] = c2 * co + c1 * si;
        }
      T_ACC v = (T_ACC)t[SSDD_DT][b * H + h], dl;
      if (d->softplus) dl = (T_ACC)smx_ssd_softplus((double)(v + (T_ACC)t[SSDD_DTBIAS][h]));
      else dl = v;
      T_ACC decay = EXP(dl * (T_ACC)t[SSDD_A][h]), Dh = (T_ACC)t[SSDD_D][h];
      const T_IO *x = t[SSDD_X] + (b * H + h) * P, *sin_ = t[SSDD_SIN] + (b * H + h) * P * N;
      T_IO *so = t[SSDD_SOUT] + (b * H + h) * P * N, *y = t[SSDD_Y] + (b * H + h) * P;
      const T_IO *z = d->gate ? t[SSDD_Z] + (b * H + h) * P : NULL;
      for (int64_t p = 0; p < P; p++) {
        T_ACC xv = (T_ACC)x[p], acc = 0;
        for (int64_t n = 0; n < N; n++) {
          T_ACC sv = decay * (T_ACC)sin_[p * N + n] + dl * xv * Bp[n];
          so[p * N + n] = (T_IO)sv;
          acc += sv * Cp[n];
        }
        T_ACC y0 = acc + Dh * xv;
        if (z) {
          T_ACC zv = (T_ACC)z[p];
          y0 *= zv * FN(sigmoid)(zv);
        }
        y[p] = (T_IO)y0;
      }
    }
  free(cs);
  free(sn);
}
