/* The conba and h3 sequence mixers (tasks/mixer_conba.c, tasks/mixer_h3.c) inside the task
 * runner's model: hybrid models with attention train a step with a finite loss and every
 * parameter's gradient matches central finite differences, over the mixers' option variants
 * (conba's mechanisms on and off; h3's shift filter as shortconv, as fftconv, longer than L);
 * h3's forward against a direct evaluation of its formula (H3's h3.py with head_dim 1), and its
 * two shift-filter paths against each other.
 *   build/tests/seqmix_tests --filter model_conv/'*' */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/model.h"
#include "seqmix/philox.h"
#include "test_model_helpers.h"
#include "tasks/mixer.h"

static smx_model *tiny(int64_t B, int64_t L, const char *mixer, const char *options) {
  smx_model_config c = {.vocab = 13, .d = 8, .layers = 2, .heads = 2, .d_ff = 12, .init_std = 0.35f};
  snprintf(c.mixer, sizeof c.mixer, "%s", mixer);
  snprintf(c.channel, sizeof c.channel, "mlp");
  snprintf(c.options, sizeof c.options, "%s", options);
  smx_model *m = NULL;
  cr_assert_eq(smx_model_create(&c, B, L, &m), SMX_OK, "%s", smx_last_error());
  smx_model_init(m, 11);
  return m;
}

static void batch(int64_t T, int32_t *ids, int32_t *labels) { model_test_batch(T, 13, ids, labels); }

/* tests/test_model_helpers.h's check, after two identical steps that must give the same bits */
static void gradient_check(const char *mixer, const char *options) {
  smx_model *m = tiny(2, 7, mixer, options);
  int32_t ids[14], labels[14];
  batch(14, ids, labels);
  float loss, again;
  size_t n = smx_model_param_count(m);
  float *g1 = malloc(n * sizeof *g1);
  cr_assert_eq(smx_model_step(m, ids, labels, 1, &loss, NULL), SMX_OK, "%s", smx_last_error());
  memcpy(g1, smx_model_grads(m), n * sizeof *g1);
  cr_assert_eq(smx_model_step(m, ids, labels, 1, &again, NULL), SMX_OK);
  cr_expect(again == loss && !memcmp(g1, smx_model_grads(m), n * sizeof *g1), "%s %s: two identical steps differ", mixer,
            options);
  free(g1);
  int mine = 0;
  const char *name;
  for (int i = 0; (name = smx_model_param_name(m, i, NULL, NULL)); i++) mine += strstr(name, ".conba.") || strstr(name, ".h3.");
  cr_assert_gt(mine, 10, "%s: the model lists %d tensors of the mixer", mixer, mine);
  char what[256];
  snprintf(what, sizeof what, "%s %s", mixer, options);
  cr_assert_gt(model_gradient_check(m, ids, labels, 0, what), 100);
  smx_model_destroy(m);
}

Test(model_conv, conba_hybrid_gradients) { gradient_check("attention,conba", "conba.N=4,conba.K=3"); }
Test(model_conv, conba_plain_mamba_gradients) {
  gradient_check("conba,attention", "conba.N=3,conba.expand=1,conba.K=4,conba.delay=0,conba.scaling=0,conba.feedback=0");
}
Test(model_conv, h3_hybrid_gradients_shortconv_shift) { gradient_check("attention,h3", "h3.N=4,h3.shift=3"); }
Test(model_conv, h3_gradients_fftconv_shift) { gradient_check("h3,attention", "h3.N=6,h3.shift=6"); }
Test(model_conv, h3_gradients_shift_longer_than_L) { gradient_check("h3,h3", "h3.N=2,h3.shift=9"); }

/* ---- h3 as a layer ---- */

typedef struct layer {
  const mixer_kind *k;
  mixer_shape s;
  mixer_tensor t[MIXER_MAX_TENSORS];
  int nt;
  float *p[MIXER_MAX_TENSORS];
  void *state;
} layer;

static void layer_setup(layer *l, const char *options, int64_t B, int64_t L, int64_t d) {
  memset(l, 0, sizeof *l);
  l->k = mixer_kind_find("h3");
  cr_assert(l->k);
  l->s = (mixer_shape){.B = B, .L = L, .T = B * L, .d = d, .heads = 1, .d_ff = 4, .layers = 2, .init_std = 0.3f};
  cr_assert_eq(mixer_options_parse(l->k, options, &l->s), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(l->k->tensors(&l->s, l->t, &l->nt), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(l->k->create(&l->s, &l->state), SMX_OK, "%s", smx_last_error());
  for (int i = 0; i < l->nt; i++) {
    size_t n = l->t[i].size;
    l->p[i] = calloc(n, sizeof(float));
    if (l->t[i].init == MI_CUSTOM) l->k->init(&l->s, i, l->p[i], n, 4, (uint32_t)i);
    else mixer_fill_uniform(l->p[i], n, 4, (uint32_t)i, -0.5f, 0.5f); /* biases off zero too */
  }
}

static void layer_teardown(layer *l) {
  l->k->destroy(l->state);
  for (int i = 0; i < l->nt; i++) free(l->p[i]);
}

static int tensor_index(const layer *l, const char *name) {
  for (int i = 0; i < l->nt; i++)
    if (!strcmp(l->t[i].name, name)) return i;
  cr_assert_fail("h3 has no tensor %s", name);
  return -1;
}

static const float *P(const layer *l, const char *name) { return l->p[tensor_index(l, name)]; }

/* y = x W^T + b for one token */
static void lin(int64_t d, const double *x, const float *w, const float *b, double *y) {
  for (int64_t o = 0; o < d; o++) {
    double acc = b[o];
    for (int64_t i = 0; i < d; i++) acc += (double)w[o * d + i] * x[i];
    y[o] = acc;
  }
}

/* H3's forward in fp64, straight from its formula: no transposes, no FFTs, the S4D kernel from
 * complex exponentials, the shift kernel by its correlation. */
static void h3_direct(const layer *l, const float *x, double *y) {
  int64_t B = l->s.B, L = l->s.L, d = l->s.d, S = (int64_t)l->s.opt[1], M = (int64_t)l->s.opt[0] / 2;
  double *q = calloc((size_t)(L * d), 8), *k = calloc((size_t)(L * d), 8), *v = calloc((size_t)(L * d), 8);
  double *ks = calloc((size_t)(L * d), 8), *kssm = calloc((size_t)(L * d), 8), *xt = calloc((size_t)d, 8);
  double *z = calloc((size_t)d, 8);
  const float *sB = P(l, "shift_B"), *sC = P(l, "shift_C"), *Dk = P(l, "D_k"), *D = P(l, "D");
  const float *ldt = P(l, "log_dt"), *lar = P(l, "log_A_re"), *aim = P(l, "A_im"), *Bc = P(l, "B"), *Cc = P(l, "C");
  for (int64_t c = 0; c < d; c++)
    for (int64_t t = 0; t < L; t++) {
      double acc = 0, dt = exp(ldt[c]);
      for (int64_t n = 0; n < M; n++) {
        size_t i = (size_t)(c * M + n);
        double a_re = -exp(lar[i]), a_im = aim[i];
        /* E = exp(dt A), Bbar = B (E - 1) / A, term = C Bbar E^t */
        double er = exp(dt * a_re) * cos(dt * a_im), ei = exp(dt * a_re) * sin(dt * a_im);
        double nr = er - 1, ni = ei, den = a_re * a_re + a_im * a_im;
        double qr = (nr * a_re + ni * a_im) / den, qi = (ni * a_re - nr * a_im) / den;
        double bbr = Bc[2 * i] * qr - Bc[2 * i + 1] * qi, bbi = Bc[2 * i] * qi + Bc[2 * i + 1] * qr;
        double cbr = Cc[2 * i] * bbr - Cc[2 * i + 1] * bbi, cbi = Cc[2 * i] * bbi + Cc[2 * i + 1] * bbr;
        double mag = exp(dt * a_re * (double)t), ph = dt * a_im * (double)t;
        acc += 2 * (cbr * mag * cos(ph) - cbi * mag * sin(ph));
      }
      kssm[c * L + t] = acc;
    }
  for (int64_t b = 0; b < B; b++) {
    for (int64_t t = 0; t < L; t++) {
      for (int64_t c = 0; c < d; c++) xt[c] = x[(b * L + t) * d + c];
      lin(d, xt, P(l, "wq"), P(l, "bq"), q + t * d);
      lin(d, xt, P(l, "wk"), P(l, "bk"), k + t * d);
      lin(d, xt, P(l, "wv"), P(l, "bv"), v + t * d);
    }
    for (int64_t c = 0; c < d; c++)
      for (int64_t t = 0; t < L; t++) {
        double acc = Dk[c] * k[t * d + c];
        for (int64_t m = 0; m < S && m <= t; m++) {
          double km = 0;
          for (int64_t i = 0; i + m < S; i++) km += (double)sB[c * S + i] * sC[c * S + i + m];
          acc += km * k[(t - m) * d + c];
        }
        ks[t * d + c] = acc;
      }
    for (int64_t t = 0; t < L; t++) {
      for (int64_t c = 0; c < d; c++) {
        double acc = D[c] * ks[t * d + c] * v[t * d + c];
        for (int64_t j = 0; j <= t; j++) acc += kssm[c * L + j] * ks[(t - j) * d + c] * v[(t - j) * d + c];
        z[c] = q[t * d + c] * acc;
      }
      lin(d, z, P(l, "wo"), P(l, "bo"), y + (b * L + t) * d);
    }
  }
  free(q), free(k), free(v), free(ks), free(kssm), free(xt), free(z);
}

static void forward_matches_direct(const char *options, int64_t B, int64_t L, int64_t d) {
  layer l;
  layer_setup(&l, options, B, L, d);
  size_t Td = (size_t)(B * L * d);
  float *x = malloc(Td * 4), *y = malloc(Td * 4);
  double *ref = malloc(Td * 8), aux = 0, worst = 0, scale = 0;
  mixer_fill_uniform(x, Td, 8, 0, -1, 1);
  cr_assert_eq(l.k->forward(l.state, l.p, x, y, &aux), SMX_OK, "%s", smx_last_error());
  h3_direct(&l, x, ref);
  for (size_t i = 0; i < Td; i++) scale = fmax(scale, fabs(ref[i])), worst = fmax(worst, fabs(y[i] - ref[i]));
  cr_expect(scale > 1e-2 && worst <= 1e-5 * scale + 1e-6, "h3 %s: forward differs from the direct sums by %.3g (max %.3g)",
            options, worst, scale);
  free(x), free(y), free(ref);
  layer_teardown(&l);
}

Test(model_conv, h3_forward_is_the_h3_formula) {
  forward_matches_direct("h3.N=4,h3.shift=3", 2, 7, 8);
  forward_matches_direct("h3.N=8,h3.shift=4", 3, 33, 5);
  forward_matches_direct("h3.N=6,h3.shift=7", 2, 19, 6);
  forward_matches_direct("h3.N=2,h3.shift=2", 1, 1, 3);
  forward_matches_direct("h3.N=4,h3.shift=12", 2, 5, 4);
}

/* A 5-tap filter whose last tap is zero (shift_B and shift_C zero there) runs through fftconv and
 * must give the 4-tap shortconv's outputs. */
Test(model_conv, h3_shift_paths_agree) {
  layer a, b;
  layer_setup(&a, "h3.N=4,h3.shift=4", 2, 11, 6);
  layer_setup(&b, "h3.N=4,h3.shift=5", 2, 11, 6);
  for (int i = 0; i < a.nt; i++) {
    if (!strcmp(a.t[i].name, "shift_B") || !strcmp(a.t[i].name, "shift_C")) {
      for (int64_t c = 0; c < 6; c++) {
        for (int j = 0; j < 4; j++) b.p[i][c * 5 + j] = a.p[i][c * 4 + j];
        b.p[i][c * 5 + 4] = 0;
      }
    } else {
      memcpy(b.p[i], a.p[i], a.t[i].size * 4);
    }
  }
  size_t Td = 2 * 11 * 6;
  float x[132], ya[132], yb[132];
  double aux = 0, worst = 0, scale = 0;
  mixer_fill_uniform(x, Td, 6, 0, -1, 1);
  cr_assert_eq(a.k->forward(a.state, a.p, x, ya, &aux), SMX_OK);
  cr_assert_eq(b.k->forward(b.state, b.p, x, yb, &aux), SMX_OK);
  for (size_t i = 0; i < Td; i++) scale = fmax(scale, fabs(ya[i])), worst = fmax(worst, fabs(ya[i] - yb[i]));
  cr_expect(worst <= 1e-5 * scale, "shortconv and fftconv shift filters differ by %.3g (max %.3g)", worst, scale);
  layer_teardown(&a);
  layer_teardown(&b);
}

Test(model_conv, options_are_checked) {
  smx_model *m = NULL;
  smx_model_config c = {.vocab = 13, .d = 8, .layers = 2, .heads = 2, .d_ff = 12, .channel = "none"};
  snprintf(c.mixer, sizeof c.mixer, "attention,h3");
  snprintf(c.options, sizeof c.options, "h3.N=5");
  cr_assert_eq(smx_model_create(&c, 2, 4, &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "must be even"), "%s", smx_last_error());
  snprintf(c.options, sizeof c.options, "h3.shift=1");
  cr_assert_eq(smx_model_create(&c, 2, 4, &m), SMX_ERR_INVALID);
  snprintf(c.mixer, sizeof c.mixer, "conba");
  snprintf(c.options, sizeof c.options, "conba.K=5");
  cr_assert_eq(smx_model_create(&c, 2, 4, &m), SMX_ERR_INVALID);
  snprintf(c.options, sizeof c.options, "conba.N=8,conba.expand=1,conba.delay=0");
  cr_assert_eq(smx_model_create(&c, 2, 4, &m), SMX_OK, "%s", smx_last_error());
  size_t off, size;
  const char *name;
  int found = 0;
  for (int i = 0; (name = smx_model_param_name(m, i, &off, &size)); i++)
    if (!strcmp(name, "layer0.conba.A_log")) {
      found = 1;
      cr_expect_eq(size, 8 * 8);
    }
  cr_expect(found);
  smx_model_destroy(m);
}
