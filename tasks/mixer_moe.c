/* Channel mixer `moe`: a top-k mixture of GLU experts with a load-balancing loss, the registered
 * `moe` op's `cpu.grouped` variant run through tasks/op_layer.h (reference/moe.h, docs/ops/moe.md):
 *
 *   logits l = x wr (E), p = softmax(l); the k largest logits select experts (detached);
 *   gates g = p at the selected experts (renorm=1: divided by their sum);
 *   y = shared(x) + sum_j g_j f_{e_j}(x),   f_e(x) = (silu(x wg_e) * (x wu_e)) wd_e   (width F)
 *   aux = E sum_e f_e P_e (HF Mixtral's load_balancing_loss_func); the layer adds weight * aux to
 *   the model's loss, and its backward passes daux = weight so the router gets that gradient.
 *
 * Initialization: every matrix N(0, init_std) (Mixtral's nn.Linear init at initializer_range),
 * the down projections wd and sd at the model's residual scaling (MI_OUT).
 * F = 0 takes the model's d_ff / k, so the k active experts hold as many hidden units as the
 * dense MLP they replace.
 *
 *   build/tests/seqmix_tests --filter mixers/'*'
 *   build/tests/seqmix_tests --filter model_m2moe/'*'
 */
#include <stdio.h>

#include "reference/moe.h"
#include "seqmix/buffer.h"
#include "tasks/mixer.h"
#include "tasks/op_layer.h"

enum { WR, WG, WU, WD, SG, SU, SD, NT };
enum { O_E, O_K, O_F, O_S, O_RENORM, O_AUX, NOPT };

static const mixer_opt opts[NOPT] = {
    {"E", 1, 65536, 8, 1, "experts"},
    {"k", 1, 65536, 2, 1, "experts per token (at most E)"},
    {"F", 0, 65536, 0, 1, "expert GLU width (0 = the model's d_ff / k)"},
    {"S", 0, 65536, 0, 1, "shared expert GLU width (0 = none)"},
    {"renorm", 0, 1, 0, 1, "1 = gates renormalized over the k selected experts"},
    {"aux", 0, 100, 0.01, 0, "weight of the load-balancing loss"},
};

typedef struct moe {
  mixer_shape s;
  op_layer op;
  int shared;
  float weight;
} moe;

static int64_t width(const mixer_shape *s) {
  int64_t F = (int64_t)s->opt[O_F];
  return F ? F : s->d_ff / (int64_t)s->opt[O_K];
}

void mixer_moe_op_spec(const mixer_shape *s, char *spec, size_t n, int *shared, float *aux_weight) {
  snprintf(spec, n, "T=%lld,d=%lld,E=%d,k=%d,F=%lld,S=%d,renorm=%d", (long long)s->T, (long long)s->d, (int)s->opt[O_E],
           (int)s->opt[O_K], (long long)width(s), (int)s->opt[O_S], (int)s->opt[O_RENORM]);
  *shared = s->opt[O_S] > 0;
  *aux_weight = (float)s->opt[O_AUX];
}

static smx_status tensors(const mixer_shape *s, mixer_tensor *t, int *n) {
  int64_t E = (int64_t)s->opt[O_E], k = (int64_t)s->opt[O_K], F = width(s), S = (int64_t)s->opt[O_S];
  if (k > E)
    return smx_fail(SMX_ERR_INVALID, "moe: k = %lld experts per token is more than E = %lld", (long long)k, (long long)E);
  if (F < 1)
    return smx_fail(SMX_ERR_INVALID, "moe: F = 0 takes d_ff / k, which is 0 here (d_ff %lld, k %lld): give moe.F",
                    (long long)s->d_ff, (long long)k);
  size_t d = (size_t)s->d, eDF = (size_t)E * d * (size_t)F, dS = d * (size_t)S;
  t[WR] = (mixer_tensor){"wr", d * (size_t)E, MI_NORMAL, 1};
  t[WG] = (mixer_tensor){"wg", eDF, MI_NORMAL, 1};
  t[WU] = (mixer_tensor){"wu", eDF, MI_NORMAL, 1};
  t[WD] = (mixer_tensor){"wd", eDF, MI_OUT, 1};
  *n = 4;
  if (S > 0) {
    t[SG] = (mixer_tensor){"sg", dS, MI_NORMAL, 1};
    t[SU] = (mixer_tensor){"su", dS, MI_NORMAL, 1};
    t[SD] = (mixer_tensor){"sd", dS, MI_OUT, 1};
    *n = NT;
  }
  return SMX_OK;
}

static void destroy(void *p) {
  moe *m = p;
  if (!m) return;
  op_layer_destroy(&m->op);
  smx_host_free(m);
}

static smx_status create(const mixer_shape *s, void **out) {
  moe *m = smx_host_alloc(sizeof *m);
  if (!m) return smx_fail(SMX_ERR_NOMEM, "moe: cannot allocate the layer");
  m->s = *s;
  char spec[192];
  mixer_moe_op_spec(s, spec, sizeof spec, &m->shared, &m->weight);
  smx_status st = op_layer_create(&m->op, "moe", "cpu.grouped", spec);
  /* the slots a pass leaves to the layer, allocated now so a step allocates nothing */
  static const int own[] = {MOE_Y, MOE_AUX, MOE_DY, MOE_DAUX, MOE_DX, MOE_DWR, MOE_DWG, MOE_DWU, MOE_DWD,
                            MOE_SG, MOE_SU, MOE_SD, MOE_DSG, MOE_DSU, MOE_DSD};
  for (size_t i = 0; st == SMX_OK && i < sizeof own / sizeof own[0]; i++)
    if (!op_layer_own(&m->op, own[i])) st = smx_fail(SMX_ERR_NOMEM, "moe: cannot allocate the op's buffers");
  if (st != SMX_OK) {
    destroy(m);
    return st;
  }
  *out = m;
  return SMX_OK;
}

static void weights(moe *m, float *const *w, const float *x) {
  void **t = m->op.t;
  t[MOE_X] = (float *)x; /* the op reads it */
  t[MOE_WR] = w[WR], t[MOE_WG] = w[WG], t[MOE_WU] = w[WU], t[MOE_WD] = w[WD];
  if (m->shared) t[MOE_SG] = w[SG], t[MOE_SU] = w[SU], t[MOE_SD] = w[SD];
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, double *aux) {
  moe *m = p;
  weights(m, w, x);
  m->op.t[MOE_Y] = y;
  smx_status s = op_layer_run(&m->op, SMX_FWD);
  if (s == SMX_OK) *aux += (double)m->weight * (double)op_layer_own(&m->op, MOE_AUX)[0];
  return s;
}

static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  moe *m = p;
  op_layer_own(&m->op, MOE_DAUX)[0] = m->weight; /* d(weight aux) / d aux */
  weights(m, w, x);
  void **t = m->op.t;
  t[MOE_DY] = (float *)dy, t[MOE_DX] = dx;
  t[MOE_DWR] = g[WR], t[MOE_DWG] = g[WG], t[MOE_DWU] = g[WU], t[MOE_DWD] = g[WD];
  if (m->shared) t[MOE_DSG] = g[SG], t[MOE_DSU] = g[SU], t[MOE_DSD] = g[SD];
  return op_layer_run(&m->op, SMX_BWD);
}

const mixer_kind mixer_moe = {
    .name = "moe",
    .summary = "top-k mixture of GLU experts (E experts of width F, optional shared GLU) with Mixtral's load-balancing loss",
    .channel = 1, .n_opts = NOPT, .opts = opts,
    .tensors = tensors, .create = create, .destroy = destroy, .init = NULL, .forward = forward, .backward = backward,
    /* k = E: every expert selected, so a perturbation cannot change the selection */
    .check_options = "moe.E=3,moe.k=3,moe.F=4,moe.S=5,moe.aux=0.5",
};
