/* Sequence mixer `conba`: MixCon's Conba layer as the registered op `conba` defines it
 * (reference/conba.h; docs/ops/conba.md says where it departs from the published code). The op is
 * already a whole layer x (T, d) -> o (T, d) with its fifteen weights as input slots, so the kind
 * is wiring: each weight slot is one model tensor (in the op's slot order, sized by the op), the
 * forward is `conba cpu.scan`'s forward and dx and every weight's gradient come from its backward
 * (which recomputes the forward from checkpoints, so nothing but the op's own workspace is kept).
 *
 *   xin = W_in x, z = W_z x;  u = silu(conv_b + causal depthwise conv_w * xin)       (E = expand d)
 *   dt = softplus(W_dt u + b_dt), B = W_B u, C = W_C u, A = -exp(A_log)
 *   h_t = exp(dt A) h_{t-1} + dt u B^T;  g_t = h_t + lambda h_{t-1}                 (delay)
 *   y = sigmoid(W_s u) (g C) + D u                                                  (scaling)
 *   y' = y - kappa (y - W_r u);  o = W_out (y' silu(z))                             (feedback)
 *
 * Initialization follows Mamba-1 (mamba_ssm's `Mamba` module with MambaLMHeadModel's _init_weights):
 * A_log = log(1..N) in every channel (S4D-real), b_dt the inverse softplus of
 * dt = exp(U(log 1e-3, log 1e-1)) (floored at 1e-4), W_dt ~ U(+-E^-1/2) (Mamba's dt_rank^-1/2
 * with the full-rank W_dt: rank E), D = 1, conv_w and conv_b PyTorch's Conv1d default
 * U(+-1/sqrt(K)), the projections W_in, W_z, W_B, W_C N(0, init_std) and W_out the model's scaled
 * residual projection (MI_OUT). MixCon's extras: lambda = kappa = 0, so the layer starts as the
 * plain selective scan with the readout gated by sigmoid(W_s u) ~ 1/2 (W_s, W_r N(0, init_std));
 * docs/ops/conba.md's "in a model lambda and kappa would start at 0".
 *
 *   build/tests/seqmix_tests --filter mixers/'*'
 *   build/tests/seqmix_tests --filter model_conv/'*'
 */
#include <math.h>
#include <stdio.h>

#include "reference/conba.h"
#include "seqmix/buffer.h"
#include "tasks/mixer.h"
#include "tasks/mixer_decode.h"
#include "tasks/op_layer.h"

enum { O_EXPAND, O_N, O_K, O_DELAY, O_SCALING, O_FEEDBACK, NOPTS };

static const mixer_opt opts[NOPTS] = {
    {"expand", 1, 4, 2, 1, "E = expand * d scan channels (MixCon, Mamba: 2)"},
    {"N", 1, 256, 16, 1, "state size per channel (MixCon, Mamba: 16)"},
    {"K", 2, 4, 4, 1, "causal depthwise conv width (MixCon, Mamba: 4)"},
    {"delay", 0, 1, 1, 1, "1 = delayed state g_t = h_t + lambda h_{t-1}"},
    {"scaling", 0, 1, 1, 1, "1 = readout gated by sigmoid(W_s u)"},
    {"feedback", 0, 1, 1, 1, "1 = adaptive-control feedback y' = y - kappa (y - W_r u)"},
};

typedef struct conba {
  mixer_shape s;
  op_layer op;
} conba;

void mixer_conba_op_spec(const mixer_shape *s, char *buf, size_t n) {
  snprintf(buf, n, "B=%lld,L=%lld,d=%lld,expand=%d,N=%d,K=%d,delay=%d,scaling=%d,feedback=%d", (long long)s->B,
           (long long)s->L, (long long)s->d, (int)s->opt[O_EXPAND], (int)s->opt[O_N], (int)s->opt[O_K],
           (int)s->opt[O_DELAY], (int)s->opt[O_SCALING], (int)s->opt[O_FEEDBACK]);
}

/* How each weight starts and whether AdamW decays it: matrices and the conv filter decay; biases,
 * gains, A_log and D do not (Mamba marks A_log and D _no_weight_decay). */
static const struct {
  mixer_init init;
  int decays;
} wdesc[CW_COUNT] = {
    [CW_IN] = {MI_NORMAL, 1},   [CW_CONV] = {MI_CUSTOM, 1},  [CW_CONVB] = {MI_CUSTOM, 0}, [CW_Z] = {MI_NORMAL, 1},
    [CW_DT] = {MI_CUSTOM, 1},   [CW_BDT] = {MI_CUSTOM, 0},   [CW_B] = {MI_NORMAL, 1},     [CW_C] = {MI_NORMAL, 1},
    [CW_ALOG] = {MI_CUSTOM, 0}, [CW_LAMBDA] = {MI_ZEROS, 0}, [CW_S] = {MI_NORMAL, 1},     [CW_D] = {MI_ONES, 0},
    [CW_R] = {MI_NORMAL, 1},    [CW_KAPPA] = {MI_ZEROS, 0},  [CW_OUT] = {MI_OUT, 1},
};

static smx_status tensors(const mixer_shape *s, mixer_tensor *t, int *n) {
  const smx_op *op;
  smx_config cfg;
  char sp[256];
  mixer_conba_op_spec(s, sp, sizeof sp);
  smx_status st;
  if ((st = smx_op_lookup("conba", &op)) != SMX_OK || (st = smx_config_parse(op, sp, &cfg)) != SMX_OK) return st;
  for (int w = 0; w < CW_COUNT; w++) {
    t[w] = (mixer_tensor){"", op->numel(&cfg, CONBA_W0 + w), wdesc[w].init, wdesc[w].decays};
    snprintf(t[w].name, sizeof t[w].name, "%s", op->tensors[CONBA_W0 + w].name);
  }
  *n = CW_COUNT;
  return SMX_OK;
}

static void destroy(void *p) {
  conba *c = p;
  if (!c) return;
  op_layer_destroy(&c->op);
  smx_host_free(c);
}

static smx_status create(const mixer_shape *s, void **out) {
  conba *c = smx_host_alloc(sizeof *c);
  if (!c) return smx_fail(SMX_ERR_NOMEM, "conba: cannot allocate the layer");
  c->s = *s;
  char sp[256];
  mixer_conba_op_spec(s, sp, sizeof sp);
  smx_status st = op_layer_create(&c->op, "conba", "cpu.scan", sp);
  if (st != SMX_OK) {
    destroy(c);
    return st;
  }
  *out = c;
  return SMX_OK;
}

static void init(const mixer_shape *s, int i, float *t, size_t n, uint64_t seed, uint32_t stream) {
  int64_t E = (int64_t)s->opt[O_EXPAND] * s->d, N = (int64_t)s->opt[O_N], K = (int64_t)s->opt[O_K];
  switch (i) {
  case CW_CONV: case CW_CONVB: {
    float b = (float)(1.0 / sqrt((double)K)); /* nn.Conv1d(groups=E): fan_in = K */
    mixer_fill_uniform(t, n, seed, stream, -b, b);
    break;
  }
  case CW_DT: {
    float b = (float)(1.0 / sqrt((double)E));
    mixer_fill_uniform(t, n, seed, stream, -b, b);
    break;
  }
  case CW_BDT:
    mixer_fill_uniform(t, n, seed, stream, (float)log(1e-3), (float)log(1e-1));
    for (size_t j = 0; j < n; j++) {
      double dt = fmax(exp((double)t[j]), 1e-4);
      t[j] = (float)(dt + log(-expm1(-dt))); /* softplus^-1(dt) */
    }
    break;
  case CW_ALOG:
    for (size_t j = 0; j < n; j++) t[j] = (float)log((double)(j % (size_t)N + 1)); /* (E, N): A = -(1..N) */
    break;
  default:
    for (size_t j = 0; j < n; j++) t[j] = 0;
  }
}

static smx_status forward(void *p, float *const *w, const float *x, float *y, double *aux) {
  (void)aux;
  conba *c = p;
  c->op.t[CONBA_X] = (float *)x;
  for (int i = 0; i < CW_COUNT; i++) c->op.t[CONBA_W0 + i] = w[i];
  c->op.t[CONBA_O] = y;
  return op_layer_run(&c->op, SMX_FWD);
}

/* The op's backward writes (not adds) dx and every weight's gradient; g is zero on entry. */
static smx_status backward(void *p, float *const *w, const float *x, const float *dy, float *dx, float *const *g) {
  conba *c = p;
  c->op.t[CONBA_X] = (float *)x;
  for (int i = 0; i < CW_COUNT; i++) c->op.t[CONBA_W0 + i] = w[i], c->op.t[CONBA_DW0 + i] = g[i];
  c->op.t[CONBA_DO] = (float *)dy;
  c->op.t[CONBA_DX] = dx;
  return op_layer_run(&c->op, SMX_BWD);
}

const mixer_kind mixer_conba = {
    .name = "conba",
    .summary = "MixCon's Conba: Mamba-1 selective scan with delayed state, state scaling and feedback (`conba cpu.scan`)",
    .channel = 0, .n_opts = NOPTS, .opts = opts,
    .tensors = tensors, .create = create, .destroy = destroy, .init = init, .forward = forward, .backward = backward,
    .check_options = "conba.expand=2,conba.N=4,conba.K=3",
    MIXER_DECODE_INIT(conba), /* tasks/mixer_conba_decode.c */
};
