/* Channel mixer `cdmoe`: Wonderful Matrices' Cross-Domain MoE (Doge's DogeCDMoE), the registered
 * `cdmoe` op's `cpu.pk` variant run through tasks/op_layer.h (reference/cdmoe.h, docs/ops/cdmoe.md):
 *
 *   per token and retrieval head h: s = x r_h (2K), K = sqrt(E); expert e = a K + b scores
 *   s[a] + s[K + b]; product keys take the kp best sub-keys of each half and the kh best experts
 *   of the kp x kp grid (detached), w_h = softmax of their scores;
 *   y = shared(x) + sum_h sum_j w[h, j] silu(<x, down_e>) up_e      (single-neuron experts)
 *   shared(x) = (silu(x sg) * (x su)) sd, width S.
 *
 * No auxiliary loss (Doge's CDMoE has none). Initialization: every matrix N(0, init_std) (Doge's
 * _init_weights for its Linear and Embedding tables), the tables writing into the residual stream
 * (up, sd) at the model's residual scaling (MI_OUT). kp = 0 takes min(kh, K), the smallest count
 * for which product keys return the dense top-kh (cpu.pk's exactness condition kp >= kh or kp = K).
 *
 *   build/tests/seqmix_tests --filter mixers/'*'
 *   build/tests/seqmix_tests --filter model_m2moe/'*'
 */
#include <stdio.h>

#include "reference/cdmoe.h"
#include "seqmix/buffer.h"
#include "tasks/mixer.h"
#include "tasks/op_layer.h"

enum { R, DOWN, UP, SG, SU, SD, NT };
enum { O_E, O_H, O_KH, O_KP, O_S, NOPT };

static const mixer_opt opts[NOPT] = {
    {"E", 1, 1 << 20, 64, 1, "single-neuron experts, a perfect square (K = sqrt(E) sub-keys per half)"},
    {"H", 1, 64, 1, 1, "retrieval heads, each with its own router (1 = Doge's CDMoE)"},
    {"kh", 1, 1 << 20, 8, 1, "experts per head (at most kp^2)"},
    {"kp", 0, 1024, 0, 1, "candidates per half (at most K; 0 = min(kh, K); kp < kh needs kp = K)"},
    {"S", -1, 65536, -1, 1, "shared GLU width (-1 = the model's d_ff, 0 = none)"},
};

typedef struct cdmoe {
  mixer_shape s;
  op_layer op;
  int shared;
} cdmoe;

static int64_t shared_width(const mixer_shape *s) { return s->opt[O_S] < 0 ? s->d_ff : (int64_t)s->opt[O_S]; }

static int64_t candidates(const mixer_shape *s) {
  int64_t K = smx_cdmoe_keys((int64_t)s->opt[O_E]), kh = (int64_t)s->opt[O_KH], kp = (int64_t)s->opt[O_KP];
  return kp ? kp : (kh < K ? kh : K);
}

static smx_status tensors(const mixer_shape *s, mixer_tensor *t, int *n) {
  int64_t E = (int64_t)s->opt[O_E], H = (int64_t)s->opt[O_H], kh = (int64_t)s->opt[O_KH], K = smx_cdmoe_keys(E);
  if (K < 0) return smx_fail(SMX_ERR_INVALID, "cdmoe: E = %lld experts must be a perfect square", (long long)E);
  int64_t kp = candidates(s), S = shared_width(s);
  if (kp > K)
    return smx_fail(SMX_ERR_INVALID, "cdmoe: kp = %lld is more than the K = %lld sub-keys per half", (long long)kp, (long long)K);
  if (kh > kp * kp)
    return smx_fail(SMX_ERR_INVALID, "cdmoe: kh = %lld is more than the kp^2 = %lld candidates", (long long)kh,
                    (long long)(kp * kp));
  const char *why = smx_cdmoe_pk_inexact(K, kp, kh);
  if (why) return smx_fail(SMX_ERR_INVALID, "cdmoe: kp = %lld, kh = %lld: %s", (long long)kp, (long long)kh, why);
  if (S < 0) return smx_fail(SMX_ERR_INVALID, "cdmoe: the shared width S is negative");
  size_t d = (size_t)s->d, dS = d * (size_t)S;
  t[R] = (mixer_tensor){"r", d * (size_t)(H * 2 * K), MI_NORMAL, 1};
  t[DOWN] = (mixer_tensor){"down", (size_t)E * d, MI_NORMAL, 1};
  t[UP] = (mixer_tensor){"up", (size_t)E * d, MI_OUT, 1};
  *n = 3;
  if (S > 0) {
    t[SG] = (mixer_tensor){"sg", dS, MI_NORMAL, 1};
    t[SU] = (mixer_tensor){"su", dS, MI_NORMAL, 1};
    t[SD] = (mixer_tensor){"sd", dS, MI_OUT, 1};
    *n = NT;
  }
  return SMX_OK;
}

void mixer_cdmoe_op_spec(const mixer_shape *s, char *spec, size_t n, int *shared) {
  snprintf(spec, n, "T=%lld,d=%lld,E=%d,H=%d,kh=%d,kp=%lld,S=%lld", (long long)s->T, (long long)s->d, (int)s->opt[O_E],
           (int)s->opt[O_H], (int)s->opt[O_KH], (long long)candidates(s), (long long)shared_width(s));
  *shared = shared_width(s) > 0;
}

static void destroy(void *p) {
  cdmoe *m = p;
  if (!m) return;
  op_layer_destroy(&m->op);
  smx_host_free(m);
}

static smx_status create(const mixer_shape *s, void **out) {
  cdmoe *m = smx_host_alloc(sizeof *m);
  if (!m) return smx_fail(SMX_ERR_NOMEM, "cdmoe: cannot allocate the layer");
  m->s = *s;
  char spec[192];
  mixer_cdmoe_op_spec(s, spec, sizeof spec, &m->shared);
  smx_status st = op_layer_create(&m->op, "cdmoe", "cpu.pk", spec);
  /* the slots a pass leaves to the layer, allocated now so a step allocates nothing */
  static const int own[] = {CD_Y, CD_DY, CD_DX, CD_DR, CD_DDOWN, CD_DUP, CD_SG, CD_SU, CD_SD, CD_DSG, CD_DSU, CD_DSD};
  for (size_t i = 0; st == SMX_OK && i < sizeof own / sizeof own[0]; i++)
    if (!op_layer_own(&m->op, own[i])) st = smx_fail(SMX_ERR_NOMEM, "cdmoe: cannot allocate the op's buffers");
  if (st != SMX_OK) {
    destroy(m);
    return st;
  }
  *out = m;
  return SMX_OK;
}

static void weights(cdmoe *m, float *const *w, const float *x) {
  void **t = m->op.t;
  t[CD_X] = (float *)x; /* the op reads it */
  t[CD_R] = w[R], t[CD_DOWN] = w[DOWN], t[CD_UP] = w[UP];
  if (m->shared) t[CD_SG] = w[SG], t[CD_SU] = w[SU], t[CD_SD] = w[SD];
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, double *aux) {
  (void)aux;
  cdmoe *m = p;
  weights(m, w, x);
  m->op.t[CD_Y] = y;
  return op_layer_run(&m->op, SMX_FWD);
}

static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  cdmoe *m = p;
  weights(m, w, x);
  void **t = m->op.t;
  t[CD_DY] = (float *)dy, t[CD_DX] = dx;
  t[CD_DR] = g[R], t[CD_DDOWN] = g[DOWN], t[CD_DUP] = g[UP];
  if (m->shared) t[CD_DSG] = g[SG], t[CD_DSU] = g[SU], t[CD_DSD] = g[SD];
  return op_layer_run(&m->op, SMX_BWD);
}

const mixer_kind mixer_cdmoe = {
    .name = "cdmoe",
    .summary = "Cross-Domain MoE (Wonderful Matrices / Doge): shared GLU plus single-neuron experts retrieved by product keys",
    .channel = 1, .n_opts = NOPT, .opts = opts,
    .tensors = tensors, .create = create, .destroy = destroy, .init = NULL, .forward = forward, .backward = backward,
    /* kh = E, kp = K: every expert of every head selected, so a perturbation cannot change the selection */
    .check_options = "cdmoe.E=9,cdmoe.H=2,cdmoe.kh=9,cdmoe.kp=3,cdmoe.S=5",
};
