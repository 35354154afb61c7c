/* The conba reference: the layer token by token, forward, backward (reverse-time recurrence over
 * stored states) and the decode step, instantiated by reference/conba_ref.c for (T_IO, T_ACC) =
 * (double, double) the oracle, (float, float) the naive fp32 evaluation and (float, double) the
 * `reference` variant. Needs T_IO, T_ACC, EXP, FN. Sequences run one after another so every
 * weight-gradient sum has one fixed order. The backward keeps every state of a sequence
 * ((L + 1) E N values): affordable at the sizes references run at (reference_cost).
 *
 *   seqmix check --op conba --variant reference */

static T_ACC FN(sig)(T_ACC v) { return (T_ACC)1 / ((T_ACC)1 + EXP(-v)); }
static T_ACC FN(softplus)(T_ACC v) { return v > (T_ACC)20 ? v : (T_ACC)log1p((double)EXP(v)); }

/* out (rows) = W (rows x cols) v (cols) */
static void FN(mv)(const T_IO *W, const T_ACC *v, int64_t rows, int64_t cols, T_ACC *out) {
  for (int64_t r = 0; r < rows; r++) {
    T_ACC s = 0;
    for (int64_t c = 0; c < cols; c++) s += (T_ACC)W[r * cols + c] * v[c];
    out[r] = s;
  }
}

/* out (cols) += W^T v */
static void FN(mtv)(const T_IO *W, const T_ACC *v, int64_t rows, int64_t cols, T_ACC *out) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) out[c] += (T_ACC)W[r * cols + c] * v[r];
}

/* dW (rows x cols) += a b^T */
static void FN(outer)(T_ACC *dW, const T_ACC *a, const T_ACC *b, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dW[r * cols + c] += a[r] * b[c];
}

/* Everything the forward computes for one sequence, kept for the backward. */
typedef struct FN(trace) {
  T_ACC *xin, *z, *upre, *u, *dpre, *delta, *Bm, *Cm, *h, *q, *s, *y, *r, *yp, *m; /* per token */
} FN(trace);

static void FN(trace_alloc)(const conba_dims *d, FN(trace) *tr) {
  size_t LE = (size_t)(d->L * d->E) * sizeof(T_ACC), LN = (size_t)(d->L * d->N) * sizeof(T_ACC);
  tr->xin = smx_ref_scratch(LE), tr->z = smx_ref_scratch(LE), tr->upre = smx_ref_scratch(LE), tr->u = smx_ref_scratch(LE);
  tr->dpre = smx_ref_scratch(LE), tr->delta = smx_ref_scratch(LE), tr->q = smx_ref_scratch(LE), tr->s = smx_ref_scratch(LE);
  tr->y = smx_ref_scratch(LE), tr->r = smx_ref_scratch(LE), tr->yp = smx_ref_scratch(LE), tr->m = smx_ref_scratch(LE);
  tr->Bm = smx_ref_scratch(LN), tr->Cm = smx_ref_scratch(LN);
  tr->h = smx_ref_scratch((size_t)((d->L + 1) * d->E * d->N) * sizeof(T_ACC)); /* h[0] = h_{-1} = 0 */
}

static void FN(trace_free)(FN(trace) *tr) {
  free(tr->xin), free(tr->z), free(tr->upre), free(tr->u), free(tr->dpre), free(tr->delta), free(tr->q), free(tr->s);
  free(tr->y), free(tr->r), free(tr->yp), free(tr->m), free(tr->Bm), free(tr->Cm), free(tr->h);
}

/* One sequence forward: x (L x d) -> o (L x d), filling the trace. */
static void FN(seq_fwd)(const conba_dims *d, const T_IO *x, const T_IO *const *W, T_IO *o, FN(trace) *tr) {
  int64_t L = d->L, dm = d->d, E = d->E, N = d->N, K = d->K;
  T_ACC *xv = smx_ref_scratch((size_t)dm * sizeof(T_ACC)), *ov = smx_ref_scratch((size_t)dm * sizeof(T_ACC));
  for (int64_t i = 0; i < E * N; i++) tr->h[i] = 0;
  for (int64_t t = 0; t < L; t++) {
    for (int64_t i = 0; i < dm; i++) xv[i] = (T_ACC)x[t * dm + i];
    T_ACC *xin = tr->xin + t * E, *z = tr->z + t * E, *up = tr->upre + t * E, *u = tr->u + t * E;
    FN(mv)(W[CW_IN], xv, E, dm, xin);
    FN(mv)(W[CW_Z], xv, E, dm, z);
    for (int64_t e = 0; e < E; e++) {
      T_ACC a = (T_ACC)W[CW_CONVB][e];
      for (int64_t j = 0; j < K; j++) {
        int64_t src = t - K + 1 + j;
        if (src >= 0) a += (T_ACC)W[CW_CONV][e * K + j] * tr->xin[src * E + e];
      }
      up[e] = a;
      u[e] = a * FN(sig)(a);
    }
    T_ACC *dp = tr->dpre + t * E, *dl = tr->delta + t * E, *Bt = tr->Bm + t * N, *Ct = tr->Cm + t * N;
    FN(mv)(W[CW_DT], u, E, E, dp);
    for (int64_t e = 0; e < E; e++) {
      dp[e] += (T_ACC)W[CW_BDT][e];
      dl[e] = FN(softplus)(dp[e]);
    }
    FN(mv)(W[CW_B], u, N, E, Bt);
    FN(mv)(W[CW_C], u, N, E, Ct);
    const T_ACC *hp = tr->h + t * E * N;
    T_ACC *h = tr->h + (t + 1) * E * N;
    T_ACC *q = tr->q + t * E, *s = tr->s + t * E, *y = tr->y + t * E, *r = tr->r + t * E, *yp = tr->yp + t * E,
          *m = tr->m + t * E;
    for (int64_t e = 0; e < E; e++) {
      T_ACC acc = 0, lam = d->delay ? (T_ACC)W[CW_LAMBDA][e] : 0;
      for (int64_t n = 0; n < N; n++) {
        T_ACC A = -EXP((T_ACC)W[CW_ALOG][e * N + n]);
        h[e * N + n] = EXP(dl[e] * A) * hp[e * N + n] + dl[e] * u[e] * Bt[n];
        acc += (h[e * N + n] + lam * hp[e * N + n]) * Ct[n];
      }
      q[e] = acc;
    }
    if (d->scaling) {
      FN(mv)(W[CW_S], u, E, E, s);
      for (int64_t e = 0; e < E; e++) s[e] = FN(sig)(s[e]);
    } else
      for (int64_t e = 0; e < E; e++) s[e] = 1;
    if (d->feedback) FN(mv)(W[CW_R], u, E, E, r);
    for (int64_t e = 0; e < E; e++) {
      y[e] = s[e] * q[e] + (T_ACC)W[CW_D][e] * u[e];
      yp[e] = d->feedback ? y[e] - (T_ACC)W[CW_KAPPA][e] * (y[e] - r[e]) : y[e];
      m[e] = yp[e] * z[e] * FN(sig)(z[e]);
    }
    FN(mv)(W[CW_OUT], m, dm, E, ov);
    for (int64_t i = 0; i < dm; i++) o[t * dm + i] = (T_IO)ov[i];
  }
  free(xv), free(ov);
}

static void FN(fwd)(const conba_dims *d, T_IO *const *t) {
  const T_IO *W[CW_COUNT];
  for (int w = 0; w < CW_COUNT; w++) W[w] = t[CONBA_W0 + w];
  FN(trace) tr;
  FN(trace_alloc)(d, &tr);
  for (int64_t b = 0; b < d->B; b++)
    FN(seq_fwd)(d, t[CONBA_X] + b * d->L * d->d, W, t[CONBA_O] + b * d->L * d->d, &tr);
  FN(trace_free)(&tr);
}

static void FN(bwd)(const conba_dims *d, T_IO *const *t) {
  int64_t L = d->L, dm = d->d, E = d->E, N = d->N, K = d->K;
  const T_IO *W[CW_COUNT];
  for (int w = 0; w < CW_COUNT; w++) W[w] = t[CONBA_W0 + w];
  T_ACC *dW[CW_COUNT];
  for (int w = 0; w < CW_COUNT; w++) {
    size_t n = smx_conba_weight_numel(d, w);
    dW[w] = smx_ref_scratch(n * sizeof(T_ACC));
    for (size_t i = 0; i < n; i++) dW[w][i] = 0;
  }
  FN(trace) tr;
  FN(trace_alloc)(d, &tr);
  size_t LE = (size_t)(L * E) * sizeof(T_ACC), EN = (size_t)(E * N) * sizeof(T_ACC);
  T_ACC *du = smx_ref_scratch(LE), *dz = smx_ref_scratch(LE), *dq = smx_ref_scratch(LE), *ddl = smx_ref_scratch(LE);
  T_ACC *dxin = smx_ref_scratch(LE), *dB = smx_ref_scratch((size_t)(L * N) * sizeof(T_ACC)),
        *dC = smx_ref_scratch((size_t)(L * N) * sizeof(T_ACC));
  T_ACC *dH = smx_ref_scratch(EN), *gnext = smx_ref_scratch(EN);
  T_ACC *dov = smx_ref_scratch((size_t)dm * sizeof(T_ACC)), *dm_ = smx_ref_scratch((size_t)E * sizeof(T_ACC)),
        *tmp = smx_ref_scratch((size_t)E * sizeof(T_ACC)), *xv = smx_ref_scratch((size_t)dm * sizeof(T_ACC)),
        *dxv = smx_ref_scratch((size_t)dm * sizeof(T_ACC));
  T_IO *ofwd = smx_ref_scratch((size_t)(L * dm) * sizeof(T_IO));
  for (int64_t b = 0; b < d->B; b++) {
    const T_IO *x = t[CONBA_X] + b * L * dm, *dout = t[CONBA_DO] + b * L * dm;
    FN(seq_fwd)(d, x, W, ofwd, &tr); /* recomputed: backward must not rely on a forward call */
    for (int64_t i = 0; i < L * E; i++) du[i] = dz[i] = dq[i] = ddl[i] = dxin[i] = 0;
    for (int64_t i = 0; i < L * N; i++) dB[i] = dC[i] = 0;
    /* the output side, token by token */
    for (int64_t tt = 0; tt < L; tt++) {
      for (int64_t i = 0; i < dm; i++) dov[i] = (T_ACC)dout[tt * dm + i];
      T_ACC *m = tr.m + tt * E, *z = tr.z + tt * E, *yp = tr.yp + tt * E, *y = tr.y + tt * E, *r = tr.r + tt * E,
            *s = tr.s + tt * E, *q = tr.q + tt * E, *u = tr.u + tt * E, *dut = du + tt * E;
      FN(outer)(dW[CW_OUT], dov, m, dm, E);
      for (int64_t e = 0; e < E; e++) dm_[e] = 0;
      FN(mtv)(W[CW_OUT], dov, dm, E, dm_);
      T_ACC *dr = tmp;
      for (int64_t e = 0; e < E; e++) {
        T_ACC sz = FN(sig)(z[e]), silu = z[e] * sz;
        T_ACC dyp = dm_[e] * silu;
        dz[tt * E + e] = dm_[e] * yp[e] * sz * (1 + z[e] * (1 - sz));
        T_ACC dy = dyp;
        dr[e] = 0;
        if (d->feedback) {
          T_ACC kap = (T_ACC)W[CW_KAPPA][e];
          dy = (1 - kap) * dyp;
          dr[e] = kap * dyp;
          dW[CW_KAPPA][e] += (r[e] - y[e]) * dyp;
        }
        dq[tt * E + e] = s[e] * dy;
        dW[CW_D][e] += u[e] * dy;
        dut[e] += (T_ACC)W[CW_D][e] * dy;
        dm_[e] = d->scaling ? q[e] * dy * s[e] * (1 - s[e]) : 0; /* reused: d(pre-sigmoid of s) */
      }
      if (d->feedback) {
        FN(outer)(dW[CW_R], dr, u, E, E);
        FN(mtv)(W[CW_R], dr, E, E, dut);
      }
      if (d->scaling) {
        FN(outer)(dW[CW_S], dm_, u, E, E);
        FN(mtv)(W[CW_S], dm_, E, E, dut);
      }
    }
    /* the state, in reverse: G_t = dg_t + lambda dg_{t+1}; dH_t = G_t + exp(delta_{t+1} A) dH_{t+1} */
    for (int64_t i = 0; i < E * N; i++) dH[i] = gnext[i] = 0;
    for (int64_t tt = L - 1; tt >= 0; tt--) {
      const T_ACC *hp = tr.h + tt * E * N, *h = tr.h + (tt + 1) * E * N, *Ct = tr.Cm + tt * N, *Bt = tr.Bm + tt * N;
      const T_ACC *dl = tr.delta + tt * E, *u = tr.u + tt * E;
      const T_ACC *dln = tt + 1 < L ? tr.delta + (tt + 1) * E : NULL;
      for (int64_t e = 0; e < E; e++) {
        T_ACC lam = d->delay ? (T_ACC)W[CW_LAMBDA][e] : 0, dqe = dq[tt * E + e], ddle = 0, due = 0, dlam = 0;
        for (int64_t n = 0; n < N; n++) {
          T_ACC A = -EXP((T_ACC)W[CW_ALOG][e * N + n]);
          T_ACC dg = dqe * Ct[n];
          dC[tt * N + n] += dqe * (h[e * N + n] + lam * hp[e * N + n]);
          T_ACC carry = dln ? EXP(dln[e] * A) * dH[e * N + n] : 0;
          T_ACC dh = dg + gnext[e * N + n] + carry; /* gnext = lambda dg_{t+1} */
          dlam += dg * hp[e * N + n];
          T_ACC dec = EXP(dl[e] * A);
          ddle += dh * (A * dec * hp[e * N + n] + u[e] * Bt[n]);
          dW[CW_ALOG][e * N + n] += dh * dl[e] * dec * hp[e * N + n] * A; /* dA * dA/dA_log, dA/dA_log = A */
          due += dh * dl[e] * Bt[n];
          dB[tt * N + n] += dh * dl[e] * u[e];
          dH[e * N + n] = dh;
          gnext[e * N + n] = lam * dg;
        }
        if (d->delay) dW[CW_LAMBDA][e] += dlam;
        ddl[tt * E + e] = ddle;
        du[tt * E + e] += due;
      }
    }
    /* delta, B, C projections, the conv and the input projections */
    for (int64_t tt = 0; tt < L; tt++) {
      T_ACC *u = tr.u + tt * E, *dut = du + tt * E, *dp = tr.dpre + tt * E, *dpre = tmp;
      for (int64_t e = 0; e < E; e++) dpre[e] = ddl[tt * E + e] * FN(sig)(dp[e]);
      FN(outer)(dW[CW_DT], dpre, u, E, E);
      for (int64_t e = 0; e < E; e++) dW[CW_BDT][e] += dpre[e];
      FN(mtv)(W[CW_DT], dpre, E, E, dut);
      FN(outer)(dW[CW_B], dB + tt * N, u, N, E);
      FN(mtv)(W[CW_B], dB + tt * N, N, E, dut);
      FN(outer)(dW[CW_C], dC + tt * N, u, N, E);
      FN(mtv)(W[CW_C], dC + tt * N, N, E, dut);
      for (int64_t e = 0; e < E; e++) {
        T_ACC a = tr.upre[tt * E + e], sa = FN(sig)(a), dup = dut[e] * sa * (1 + a * (1 - sa));
        dW[CW_CONVB][e] += dup;
        for (int64_t j = 0; j < K; j++) {
          int64_t src = tt - K + 1 + j;
          if (src < 0) continue;
          dW[CW_CONV][e * K + j] += dup * tr.xin[src * E + e];
          dxin[src * E + e] += (T_ACC)W[CW_CONV][e * K + j] * dup;
        }
      }
    }
    for (int64_t tt = 0; tt < L; tt++) {
      for (int64_t i = 0; i < dm; i++) {
        xv[i] = (T_ACC)x[tt * dm + i];
        dxv[i] = 0;
      }
      FN(outer)(dW[CW_IN], dxin + tt * E, xv, E, dm);
      FN(outer)(dW[CW_Z], dz + tt * E, xv, E, dm);
      FN(mtv)(W[CW_IN], dxin + tt * E, E, dm, dxv);
      FN(mtv)(W[CW_Z], dz + tt * E, E, dm, dxv);
      for (int64_t i = 0; i < dm; i++) t[CONBA_DX][(b * L + tt) * dm + i] = (T_IO)dxv[i];
    }
  }
  for (int w = 0; w < CW_COUNT; w++) {
    size_t n = smx_conba_weight_numel(d, w);
    for (size_t i = 0; i < n; i++) t[CONBA_DW0 + w][i] = (T_IO)dW[w][i];
    free(dW[w]);
  }
  FN(trace_free)(&tr);
  free(du), free(dz), free(dq), free(ddl), free(dxin), free(dB), free(dC), free(dH), free(gnext);
  free(dov), free(dm_), free(tmp), free(xv), free(dxv), free(ofwd);
}

/* One decode step per sequence from (conv window, state). */
static void FN(step)(const conba_dims *d, T_IO *const *t) {
  int64_t dm = d->d, E = d->E, N = d->N, K = d->K;
  const T_IO *W[CW_COUNT];
  for (int w = 0; w < CW_COUNT; w++) W[w] = t[CONBAD_W0 + w];
  T_ACC *xv = smx_ref_scratch((size_t)dm * sizeof(T_ACC)), *ov = smx_ref_scratch((size_t)dm * sizeof(T_ACC));
  size_t ES = (size_t)E * sizeof(T_ACC);
  T_ACC *xin = smx_ref_scratch(ES), *z = smx_ref_scratch(ES), *u = smx_ref_scratch(ES), *dl = smx_ref_scratch(ES),
        *s = smx_ref_scratch(ES), *r = smx_ref_scratch(ES), *m = smx_ref_scratch(ES);
  T_ACC *Bt = smx_ref_scratch((size_t)N * sizeof(T_ACC)), *Ct = smx_ref_scratch((size_t)N * sizeof(T_ACC));
  for (int64_t b = 0; b < d->B; b++) {
    for (int64_t i = 0; i < dm; i++) xv[i] = (T_ACC)t[CONBAD_X][b * dm + i];
    FN(mv)(W[CW_IN], xv, E, dm, xin);
    FN(mv)(W[CW_Z], xv, E, dm, z);
    const T_IO *cin = t[CONBAD_CONV_IN] + b * E * (K - 1);
    T_IO *cout = t[CONBAD_CONV_OUT] + b * E * (K - 1);
    for (int64_t e = 0; e < E; e++) {
      T_ACC a = (T_ACC)W[CW_CONVB][e];
      for (int64_t j = 0; j < K - 1; j++) a += (T_ACC)W[CW_CONV][e * K + j] * (T_ACC)cin[e * (K - 1) + j];
      a += (T_ACC)W[CW_CONV][e * K + K - 1] * xin[e];
      u[e] = a * FN(sig)(a);
      for (int64_t j = 0; j + 1 < K - 1; j++) cout[e * (K - 1) + j] = cin[e * (K - 1) + j + 1];
      if (K > 1) cout[e * (K - 1) + K - 2] = (T_IO)xin[e];
    }
    FN(mv)(W[CW_DT], u, E, E, dl);
    for (int64_t e = 0; e < E; e++) dl[e] = FN(softplus)(dl[e] + (T_ACC)W[CW_BDT][e]);
    FN(mv)(W[CW_B], u, N, E, Bt);
    FN(mv)(W[CW_C], u, N, E, Ct);
    if (d->scaling) {
      FN(mv)(W[CW_S], u, E, E, s);
      for (int64_t e = 0; e < E; e++) s[e] = FN(sig)(s[e]);
    }
    if (d->feedback) FN(mv)(W[CW_R], u, E, E, r);
    const T_IO *hin = t[CONBAD_H_IN] + b * E * N;
    T_IO *hout = t[CONBAD_H_OUT] + b * E * N;
    for (int64_t e = 0; e < E; e++) {
      T_ACC acc = 0, lam = d->delay ? (T_ACC)W[CW_LAMBDA][e] : 0;
      for (int64_t n = 0; n < N; n++) {
        T_ACC A = -EXP((T_ACC)W[CW_ALOG][e * N + n]), hp = (T_ACC)hin[e * N + n];
        T_ACC h = EXP(dl[e] * A) * hp + dl[e] * u[e] * Bt[n];
        hout[e * N + n] = (T_IO)h;
        acc += (h + lam * hp) * Ct[n];
      }
      T_ACC y = (d->scaling ? s[e] : 1) * acc + (T_ACC)W[CW_D][e] * u[e];
      T_ACC yp = d->feedback ? y - (T_ACC)W[CW_KAPPA][e] * (y - r[e]) : y;
      m[e] = yp * z[e] * FN(sig)(z[e]);
    }
    FN(mv)(W[CW_OUT], m, dm, E, ov);
    for (int64_t i = 0; i < dm; i++) t[CONBAD_O][b * dm + i] = (T_IO)ov[i];
  }
  free(xv), free(ov), free(xin), free(z), free(u), free(dl), free(s), free(r), free(m), free(Bt), free(Ct);
}
