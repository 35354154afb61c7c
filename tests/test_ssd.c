/* ssd and ssd_decode specifics: the quadratic-form oracle equals an independent fp64 recurrence
 * written here; decode steps replayed over a sequence equal the full forward (y and hT); RoPE's
 * relative-position property (every position shifted by a constant leaves y unchanged); the
 * stress case (A = -16, delta = 1, chunk 256) stays finite and every CPU variant agrees with the
 * reference there, forward and backward; bad shapes are refused with a reason.
 * (Variants against their references on the op's check shapes: tests/test_ops.c.) */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference/ssd.h"
#include "seqmix/philox.h"

static smx_config parse(const smx_op *op, const char *spec) {
  smx_config c;
  cr_assert_eq(smx_config_parse(op, spec, &c), SMX_OK, "%s: %s", spec, smx_last_error());
  return c;
}

/* Every slot of a configuration, fp64, inputs drawn as the harness draws them. */
typedef struct tensors64 {
  double *t[SMX_MAX_TENSORS];
} tensors64;

static tensors64 draw64(const smx_config *c, uint64_t seed) {
  tensors64 r;
  memset(&r, 0, sizeof r);
  for (int s = 0; s < c->op->n_tensors; s++) {
    size_t n = c->op->numel(c, s);
    float *f = calloc(n ? n : 1, sizeof *f);
    r.t[s] = calloc(n ? n : 1, sizeof(double));
    cr_assert(f && r.t[s]);
    smx_role role = c->op->tensors[s].role;
    if (role == SMX_ROLE_INPUT || role == SMX_ROLE_GRAD_OUT) smx_input_values(c, seed, s, f, n);
    for (size_t i = 0; i < n; i++) r.t[s][i] = f[i];
    free(f);
  }
  return r;
}

static void free64(tensors64 *r) {
  for (int s = 0; s < SMX_MAX_TENSORS; s++) free(r->t[s]);
}

static double rel_diff(const double *a, const double *b, size_t n) {
  double m = 0, scale = 0;
  for (size_t i = 0; i < n; i++) {
    m = fmax(m, fabs(a[i] - b[i]));
    scale = fmax(scale, fabs(b[i]));
  }
  return scale > 0 ? m / scale : m;
}

static void rotate64(const double *v, int64_t N, int64_t pos, double *out) {
  int64_t half = N / 2;
  for (int64_t i = 0; i < half; i++) {
    double a = (double)pos * pow(SSD_ROPE_THETA, -(double)(2 * i) / (double)N), co = cos(a), si = sin(a);
    out[i] = v[i] * co - v[i + half] * si;
    out[i + half] = v[i + half] * co + v[i] * si;
  }
}

/* The recurrent form, written without any of the reference's code. */
static void recurrence64(const smx_config *c, double *const *t, double *y, double *hT) {
  ssd_dims d = smx_ssd_dims(c);
  double S[64 * 64], Bp[64], Cp[64];
  cr_assert(d.P * d.N <= 64 * 64 && d.N <= 64);
  for (int64_t b = 0; b < d.B; b++)
    for (int64_t h = 0; h < d.H; h++) {
      int64_t g = h / (d.H / d.G);
      for (int64_t i = 0; i < d.P * d.N; i++) S[i] = d.init ? t[SSD_H0][(b * d.H + h) * d.P * d.N + i] : 0;
      for (int64_t s = 0; s < d.L; s++) {
        int64_t row = (b * d.L + s) * d.H + h;
        double v = t[SSD_DT][row];
        double delta = d.softplus ? log1p(exp(v + t[SSD_DTBIAS][h])) : v, decay = exp(delta * t[SSD_A][h]);
        const double *bm = t[SSD_BM] + ((b * d.L + s) * d.G + g) * d.N, *cm = t[SSD_CM] + ((b * d.L + s) * d.G + g) * d.N;
        if (d.rope) {
          rotate64(bm, d.N, s, Bp);
          rotate64(cm, d.N, s, Cp);
        } else {
          memcpy(Bp, bm, (size_t)d.N * sizeof(double));
          memcpy(Cp, cm, (size_t)d.N * sizeof(double));
        }
        for (int64_t p = 0; p < d.P; p++) {
          double xv = t[SSD_X][row * d.P + p], acc = 0;
          for (int64_t n = 0; n < d.N; n++) {
            S[p * d.N + n] = decay * S[p * d.N + n] + delta * xv * Bp[n];
            acc += S[p * d.N + n] * Cp[n];
          }
          acc += t[SSD_D][h] * xv;
          if (d.gate) {
            double z = t[SSD_Z][row * d.P + p];
            acc *= z / (1.0 + exp(-z));
          }
          y[row * d.P + p] = acc;
        }
      }
      memcpy(hT + (b * d.H + h) * d.P * d.N, S, (size_t)(d.P * d.N) * sizeof(double));
    }
}

static const char *const forms[] = {
    "B=2,L=37,H=4,P=6,G=2,N=8,rope=1,gate=1,init=1", "B=1,L=50,H=3,P=5,G=3,N=7,softplus=0",
    "B=1,L=64,H=2,P=8,G=1,N=16,rope=1,init=1,softplus=0", NULL};

Test(ssd, quadratic_oracle_equals_an_independent_recurrence) {
  for (const char *const *f = forms; *f; f++) {
    smx_config c = parse(&smx_op_ssd, *f);
    tensors64 r = draw64(&c, 3);
    smx_op_ssd.oracle_f64(&c, SMX_FWD, r.t);
    size_t ny = smx_op_ssd.numel(&c, SSD_Y), nh = smx_op_ssd.numel(&c, SSD_HT);
    double *y = calloc(ny, sizeof *y), *hT = calloc(nh, sizeof *hT);
    recurrence64(&c, r.t, y, hT);
    cr_expect_lt(rel_diff(r.t[SSD_Y], y, ny), 1e-12, "%s: y", *f);
    cr_expect_lt(rel_diff(r.t[SSD_HT], hT, nh), 1e-12, "%s: hT", *f);
    free(y), free(hT);
    free64(&r);
  }
}

/* ssd_decode from the sequence's tensors at step s, positions shifted by `shift`; returns y and
 * the state after the last step. */
static void replay(const smx_config *c, double *const *t, int64_t shift, double *y, double *state) {
  ssd_dims d = smx_ssd_dims(c);
  char spec[160];
  snprintf(spec, sizeof spec, "B=%lld,H=%lld,P=%lld,G=%lld,N=%lld,pos=0,rope=%d,gate=%d,softplus=%d", (long long)d.B,
           (long long)d.H, (long long)d.P, (long long)d.G, (long long)d.N, d.rope, d.gate, d.softplus);
  smx_config dc = parse(&smx_op_ssd_decode, spec);
  double *s[SSDD_NSLOTS];
  for (int i = 0; i < SSDD_NSLOTS; i++) {
    size_t n = smx_op_ssd_decode.numel(&dc, i);
    s[i] = calloc(n ? n : 1, sizeof(double));
  }
  if (d.init) memcpy(s[SSDD_SIN], t[SSD_H0], (size_t)(d.B * d.H * d.P * d.N) * sizeof(double));
  memcpy(s[SSDD_A], t[SSD_A], (size_t)d.H * sizeof(double));
  memcpy(s[SSDD_D], t[SSD_D], (size_t)d.H * sizeof(double));
  if (d.softplus) memcpy(s[SSDD_DTBIAS], t[SSD_DTBIAS], (size_t)d.H * sizeof(double));
  for (int64_t step = 0; step < d.L; step++) {
    dc.v[SSDD_POS] = step + shift;
    for (int64_t b = 0; b < d.B; b++) {
      int64_t row = (b * d.L + step) * d.H;
      memcpy(s[SSDD_X] + b * d.H * d.P, t[SSD_X] + row * d.P, (size_t)(d.H * d.P) * sizeof(double));
      memcpy(s[SSDD_DT] + b * d.H, t[SSD_DT] + row, (size_t)d.H * sizeof(double));
      if (d.gate) memcpy(s[SSDD_Z] + b * d.H * d.P, t[SSD_Z] + row * d.P, (size_t)(d.H * d.P) * sizeof(double));
      memcpy(s[SSDD_BM] + b * d.G * d.N, t[SSD_BM] + (b * d.L + step) * d.G * d.N, (size_t)(d.G * d.N) * sizeof(double));
      memcpy(s[SSDD_CM] + b * d.G * d.N, t[SSD_CM] + (b * d.L + step) * d.G * d.N, (size_t)(d.G * d.N) * sizeof(double));
    }
    smx_op_ssd_decode.oracle_f64(&dc, SMX_FWD, s);
    for (int64_t b = 0; b < d.B; b++)
      memcpy(y + (b * d.L + step) * d.H * d.P, s[SSDD_Y] + b * d.H * d.P, (size_t)(d.H * d.P) * sizeof(double));
    memcpy(s[SSDD_SIN], s[SSDD_SOUT], (size_t)(d.B * d.H * d.P * d.N) * sizeof(double));
  }
  memcpy(state, s[SSDD_SIN], (size_t)(d.B * d.H * d.P * d.N) * sizeof(double));
  for (int i = 0; i < SSDD_NSLOTS; i++) free(s[i]);
}

Test(ssd, decode_steps_replayed_equal_the_forward) {
  for (const char *const *f = forms; *f; f++) {
    smx_config c = parse(&smx_op_ssd, *f);
    tensors64 r = draw64(&c, 5);
    smx_op_ssd.oracle_f64(&c, SMX_FWD, r.t);
    size_t ny = smx_op_ssd.numel(&c, SSD_Y), nh = smx_op_ssd.numel(&c, SSD_HT);
    double *y = calloc(ny, sizeof *y), *hT = calloc(nh, sizeof *hT);
    replay(&c, r.t, 0, y, hT);
    cr_expect_lt(rel_diff(y, r.t[SSD_Y], ny), 1e-12, "%s: y", *f);
    cr_expect_lt(rel_diff(hT, r.t[SSD_HT], nh), 1e-12, "%s: hT", *f);
    free(y), free(hT);
    free64(&r);
  }
}

Test(ssd, rope_depends_only_on_relative_positions) {
  smx_config c = parse(&smx_op_ssd, "B=1,L=40,H=2,P=4,G=1,N=8,rope=1");
  tensors64 r = draw64(&c, 9);
  size_t ny = smx_op_ssd.numel(&c, SSD_Y), nh = smx_op_ssd.numel(&c, SSD_HT);
  double *y0 = calloc(ny, sizeof *y0), *y1 = calloc(ny, sizeof *y1), *h = calloc(nh, sizeof *h);
  replay(&c, r.t, 0, y0, h);
  replay(&c, r.t, 1000, y1, h); /* every position + 1000: C'_t . B'_s sees only t - s */
  cr_expect_lt(rel_diff(y1, y0, ny), 1e-9);
  /* and RoPE does change the output, so the comparison above can fail */
  smx_config c0 = c;
  c0.v[SSD_ROPE] = 0;
  smx_op_ssd.oracle_f64(&c0, SMX_FWD, r.t);
  cr_expect_gt(rel_diff(r.t[SSD_Y], y0, ny), 1e-3);
  free(y0), free(y1), free(h);
  free64(&r);
}

/* The stress end: every step decays by e^-16 and a chunk's total decay is 16 * 256. */
Test(ssd, strongest_decay_stays_finite_and_variants_agree, .timeout = 300) {
  smx_config c = parse(&smx_op_ssd, "B=1,L=600,H=2,P=8,G=1,N=16,chunk=256,rope=1,gate=1,init=1,softplus=0");
  void *t[SSD_NSLOTS], *ref[SSD_NSLOTS];
  for (int s = 0; s < SSD_NSLOTS; s++) {
    size_t n = smx_op_ssd.numel(&c, s);
    t[s] = calloc(n ? n : 1, sizeof(float));
    ref[s] = calloc(n ? n : 1, sizeof(float));
    smx_role role = smx_op_ssd.tensors[s].role;
    if (role == SMX_ROLE_INPUT || role == SMX_ROLE_GRAD_OUT) smx_input_values(&c, 13, s, ref[s], n);
  }
  float *A = ref[SSD_A], *dt = ref[SSD_DT];
  A[0] = -16.0f, A[1] = -1.0f; /* one head at the stress end, one remembering ~1 step: both finite */
  for (size_t i = 0; i < smx_op_ssd.numel(&c, SSD_DT); i++) dt[i] = 1.0f;
  for (int s = 0; s < SSD_NSLOTS; s++) memcpy(t[s], ref[s], (smx_op_ssd.numel(&c, s) ?: 1) * sizeof(float));
  for (int p = 0; p < 2; p++) {
    void *state = NULL;
    cr_assert_eq(smx_ssd_reference.create(&c, &state), SMX_OK);
    cr_assert_eq(smx_ssd_reference.run(state, (smx_pass)p, ref), SMX_OK);
    smx_ssd_reference.destroy(state);
  }
  int compared = 0;
  for (int i = 0; i < smx_variant_count(&smx_op_ssd); i++) {
    const smx_variant *v = smx_variant_at(&smx_op_ssd, i);
    if (v->device != SMX_DEV_CPU || v == &smx_ssd_reference || smx_variant_skip_reason(v, &c)) continue;
    for (int p = 0; p < 2; p++) {
      void *state = NULL;
      cr_assert_eq(v->create(&c, &state), SMX_OK, "%s: %s", v->name, smx_last_error());
      cr_assert_eq(v->run(state, (smx_pass)p, t), SMX_OK, "%s: %s", v->name, smx_last_error());
      v->destroy(state);
    }
    for (int s = 0; s < SSD_NSLOTS; s++) {
      smx_role role = smx_op_ssd.tensors[s].role;
      if (role != SMX_ROLE_OUTPUT && role != SMX_ROLE_GRAD_IN) continue;
      size_t n = smx_op_ssd.numel(&c, s);
      const float *a = t[s], *b = ref[s];
      double m = 0, scale = 0;
      for (size_t k = 0; k < n; k++) {
        cr_assert(isfinite(a[k]) && isfinite(b[k]), "%s %s[%zu] not finite", v->name, smx_op_ssd.tensors[s].name, k);
        m = fmax(m, fabs((double)a[k] - b[k]));
        scale = fmax(scale, fabs((double)b[k]));
      }
      cr_expect_leq(m, 1e-4 * scale + 1e-30, "%s %s: max diff %g, max |ref| %g", v->name, smx_op_ssd.tensors[s].name, m,
                   scale);
    }
    compared++;
  }
  cr_expect_gt(compared, 0, "no CPU variant besides the reference");
  for (int s = 0; s < SSD_NSLOTS; s++) free(t[s]), free(ref[s]);
}

Test(ssd, bad_shapes_are_refused_with_a_reason) {
  static const char *const bad[][2] = {{"H=4,G=3", "must divide"}, {"N=7,rope=1", "even"}, {"rope=2", "rope"},
                                       {"L=0", "L"}, {"B=65536,L=65536,H=64,P=64", "too large"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    smx_config c;
    cr_expect_eq(smx_config_parse(&smx_op_ssd, bad[i][0], &c), SMX_ERR_INVALID, "%s accepted", bad[i][0]);
    cr_expect(strstr(smx_last_error(), bad[i][1]) != NULL, "%s: '%s'", bad[i][0], smx_last_error());
  }
  smx_config c;
  cr_expect_eq(smx_config_parse(&smx_op_ssd_decode, "H=6,G=4", &c), SMX_ERR_INVALID);
}
