/* The task runner's language model on the CPU (include/seqmix/model.h): embedding, pre-norm
 * blocks of causal attention and SwiGLU MLP, tied LM head with cross-entropy at labelled positions.
 * Every layer is a call into an op's plain C entry point (include/seqmix/model_ops.h, the flash
 * attention core), so each piece is the code `seqmix check` verifies; this file only wires them
 * and keeps the activations the backward needs.
 *
 *   build/tests/seqmix_tests --filter model/'*'
 */
#include "seqmix/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/attention/cpu_flash_core.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "seqmix/philox.h"

enum { W_EMB, W_POS, W_LN_F_W, W_LN_F_B, W_GLOBAL };
/* per layer, in this order */
enum { L_LN1_W, L_LN1_B, L_WQ, L_WK, L_WV, L_WO, L_LN2_W, L_LN2_B, L_WG, L_WU, L_WD, L_PER_LAYER };
static const char *const global_names[W_GLOBAL] = {"embedding", "positions", "norm_f.w", "norm_f.b"};
static const char *const layer_names[L_PER_LAYER] = {"ln1.w", "ln1.b", "wq", "wk", "wv", "wo",
                                                     "ln2.w", "ln2.b", "mlp.wg", "mlp.wu", "mlp.wd"};

typedef struct layer_acts {
  float *x;                /* the block's input (T, d) */
  float *n1, *mean1, *rstd1;
  float *q, *k, *v, *o, *lse;
  float *x1;               /* after the attention residual */
  float *n2, *mean2, *rstd2;
  float *a, *u;            /* the MLP's pre-activations (T, F) */
} layer_acts;

struct smx_model {
  smx_model_config c;
  int64_t B, L, T;
  int n_tensors;
  size_t off[W_GLOBAL + 64 * L_PER_LAYER], size[W_GLOBAL + 64 * L_PER_LAYER];
  size_t n_params;
  float *p, *g;
  layer_acts *acts;
  float *xf, *nf, *meanf, *rstdf; /* the last block's output and the final norm */
  float *dx, *dn, *dtmp, *dq, *dk, *dv, *dproj; /* backward scratch */
  float *h, *mlp_work;
  void *ce_work;
  cpu_flash *flash;
};

static int tensor_index(int layer, int which) { return W_GLOBAL + layer * L_PER_LAYER + which; }

static smx_status validate(const smx_model_config *c, int64_t B, int64_t L) {
  if (c->vocab < 2 || c->vocab > (1 << 24)) return smx_fail(SMX_ERR_INVALID, "model vocab %lld is out of range (2..16777216)", (long long)c->vocab);
  if (c->d < 1 || c->d > 8192) return smx_fail(SMX_ERR_INVALID, "model d %lld is out of range (1..8192)", (long long)c->d);
  if (c->layers < 1 || c->layers > 64) return smx_fail(SMX_ERR_INVALID, "model layers %lld is out of range (1..64)", (long long)c->layers);
  if (c->heads < 1 || c->d % c->heads)
    return smx_fail(SMX_ERR_INVALID, "model heads %lld must divide d = %lld", (long long)c->heads, (long long)c->d);
  if (c->channel == SMX_CHANNEL_MLP && (c->d_ff < 1 || c->d_ff > 65536))
    return smx_fail(SMX_ERR_INVALID, "model d_ff %lld is out of range (1..65536)", (long long)c->d_ff);
  if (c->max_len < 0 || (c->max_len > 0 && c->max_len < L))
    return smx_fail(SMX_ERR_INVALID, "model max_len %lld is below the sequence length %lld", (long long)c->max_len, (long long)L);
  if (B < 1 || L < 1 || B * L > (1 << 26))
    return smx_fail(SMX_ERR_INVALID, "model batch %lld x %lld tokens is out of range", (long long)B, (long long)L);
  if (c->mixer != SMX_MIXER_ATTENTION) return smx_fail(SMX_ERR_INVALID, "model mixer %d is not known", (int)c->mixer);
  if (c->channel != SMX_CHANNEL_NONE && c->channel != SMX_CHANNEL_MLP)
    return smx_fail(SMX_ERR_INVALID, "model channel mixer %d is not known", (int)c->channel);
  return SMX_OK;
}

static size_t tensor_size(const smx_model_config *c, int which_global, int which_layer) {
  size_t d = (size_t)c->d, F = (size_t)c->d_ff, V = (size_t)c->vocab;
  int mlp = c->channel == SMX_CHANNEL_MLP;
  if (which_layer < 0) switch (which_global) {
    case W_EMB: return V * d;
    case W_POS: return (size_t)c->max_len * d;
    default: return d;
    }
  switch (which_layer) {
  case L_WQ: case L_WK: case L_WV: case L_WO: return d * d;
  case L_LN2_W: case L_LN2_B: return mlp ? d : 0;
  case L_WG: case L_WU: case L_WD: return mlp ? d * F : 0;
  default: return d;
  }
}

smx_status smx_model_create(const smx_model_config *cin, int64_t B, int64_t L, smx_model **out) {
  *out = NULL;
  smx_model_config c = *cin;
  if (c.norm_eps == 0) c.norm_eps = 1e-5f;
  if (c.init_std == 0) c.init_std = 0.02f;
  smx_status s = validate(&c, B, L);
  if (s != SMX_OK) return s;
  smx_model *m = smx_host_alloc(sizeof *m);
  if (!m) return smx_fail(SMX_ERR_NOMEM, "cannot allocate the model");
  m->c = c, m->B = B, m->L = L, m->T = B * L;
  m->n_tensors = W_GLOBAL + (int)c.layers * L_PER_LAYER;
  size_t o = 0;
  for (int i = 0; i < m->n_tensors; i++) {
    size_t n = i < W_GLOBAL ? tensor_size(&c, i, -1) : tensor_size(&c, 0, (i - W_GLOBAL) % L_PER_LAYER);
    m->off[i] = o, m->size[i] = n;
    o += n;
  }
  m->n_params = o;
  size_t T = (size_t)m->T, d = (size_t)c.d, F = (size_t)(c.channel == SMX_CHANNEL_MLP ? c.d_ff : 1);
  size_t H = (size_t)c.heads, nl = (size_t)c.layers;
  int ok = (m->p = smx_host_alloc(o * sizeof(float))) && (m->g = smx_host_alloc(o * sizeof(float))) &&
           (m->acts = smx_host_alloc(nl * sizeof *m->acts));
  for (size_t l = 0; ok && l < nl; l++) {
    layer_acts *a = &m->acts[l];
    ok = (a->x = smx_host_alloc(T * d * 4)) && (a->n1 = smx_host_alloc(T * d * 4)) && (a->mean1 = smx_host_alloc(T * 4)) &&
         (a->rstd1 = smx_host_alloc(T * 4)) && (a->q = smx_host_alloc(T * d * 4)) && (a->k = smx_host_alloc(T * d * 4)) &&
         (a->v = smx_host_alloc(T * d * 4)) && (a->o = smx_host_alloc(T * d * 4)) && (a->lse = smx_host_alloc(T * H * 4)) &&
         (a->x1 = smx_host_alloc(T * d * 4)) && (a->n2 = smx_host_alloc(T * d * 4)) && (a->mean2 = smx_host_alloc(T * 4)) &&
         (a->rstd2 = smx_host_alloc(T * 4)) && (a->a = smx_host_alloc(T * F * 4)) && (a->u = smx_host_alloc(T * F * 4));
  }
  ok = ok && (m->xf = smx_host_alloc(T * d * 4)) && (m->nf = smx_host_alloc(T * d * 4)) && (m->meanf = smx_host_alloc(T * 4)) &&
       (m->rstdf = smx_host_alloc(T * 4)) && (m->dx = smx_host_alloc(T * d * 4)) && (m->dn = smx_host_alloc(T * d * 4)) &&
       (m->dtmp = smx_host_alloc(T * d * 4)) && (m->dq = smx_host_alloc(T * d * 4)) && (m->dk = smx_host_alloc(T * d * 4)) &&
       (m->dv = smx_host_alloc(T * d * 4)) && (m->dproj = smx_host_alloc(T * d * 4)) && (m->h = smx_host_alloc(T * F * 4)) &&
       (m->mlp_work = smx_host_alloc(2 * T * F * 4)) &&
       (m->ce_work = smx_host_alloc(smx_lm_head_ce_workspace_bytes(m->T, c.d, c.vocab)));
  if (!ok) {
    smx_model_destroy(m);
    return smx_fail(SMX_ERR_NOMEM, "cannot allocate the model's %zu parameters and activations", o);
  }
  cpu_flash_shape fs = {B, L, c.heads, c.heads, c.d / c.heads, 0};
  if ((s = cpu_flash_create(&fs, &m->flash)) != SMX_OK) {
    smx_model_destroy(m);
    return s;
  }
  *out = m;
  return SMX_OK;
}

void smx_model_destroy(smx_model *m) {
  if (!m) return;
  if (m->acts)
    for (int64_t l = 0; l < m->c.layers; l++) {
      layer_acts *a = &m->acts[l];
      float *bufs[] = {a->x, a->n1, a->mean1, a->rstd1, a->q, a->k, a->v, a->o, a->lse, a->x1, a->n2, a->mean2, a->rstd2, a->a, a->u};
      for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) smx_host_free(bufs[i]);
    }
  float *bufs[] = {m->p, m->g, m->xf, m->nf, m->meanf, m->rstdf, m->dx, m->dn, m->dtmp, m->dq, m->dk, m->dv, m->dproj, m->h, m->mlp_work};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) smx_host_free(bufs[i]);
  smx_host_free(m->acts);
  smx_host_free(m->ce_work);
  if (m->flash) cpu_flash_destroy(m->flash);
  smx_host_free(m);
}

size_t smx_model_param_count(const smx_model *m) {
  size_t n = 0;
  for (int i = 0; i < m->n_tensors; i++) n += m->size[i];
  return n;
}
float *smx_model_params(smx_model *m) { return m->p; }
float *smx_model_grads(smx_model *m) { return m->g; }

const char *smx_model_param_name(const smx_model *m, int i, size_t *offset, size_t *size) {
  static _Thread_local char name[48];
  if (i < 0 || i >= m->n_tensors) return NULL;
  if (offset) *offset = m->off[i];
  if (size) *size = m->size[i];
  if (i < W_GLOBAL) return global_names[i];
  snprintf(name, sizeof name, "layer%d.%s", (i - W_GLOBAL) / L_PER_LAYER, layer_names[(i - W_GLOBAL) % L_PER_LAYER]);
  return name;
}

int smx_model_param_decays(const smx_model *m, int i) {
  if (i < 0 || i >= m->n_tensors) return 0;
  if (i < W_GLOBAL) return i == W_EMB || i == W_POS;
  int w = (i - W_GLOBAL) % L_PER_LAYER;
  return !(w == L_LN1_W || w == L_LN1_B || w == L_LN2_W || w == L_LN2_B);
}

/* N(0, std) by Box-Muller from two of the seed's Philox uniforms (stream = tensor index). */
static void fill_normal(float *x, size_t n, uint64_t seed, uint32_t stream, float std) {
  for (size_t i = 0; i < n; i++) {
    double u1 = ((double)(smx_philox_word(seed, stream, 2 * i) >> 8) + 0.5) * (1.0 / 16777216.0);
    double u2 = (double)(smx_philox_word(seed, stream, 2 * i + 1) >> 8) * (1.0 / 16777216.0);
    x[i] = (float)(std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
  }
}

void smx_model_init(smx_model *m, uint64_t seed) {
  memset(m->p, 0, m->n_params * sizeof(float));
  float out_std = m->c.init_std / sqrtf(2.0f * (float)m->c.layers); /* GPT-2's scaled residual projections */
  for (int i = 0; i < m->n_tensors; i++) {
    float *t = m->p + m->off[i];
    int w = i < W_GLOBAL ? -1 : (i - W_GLOBAL) % L_PER_LAYER;
    if (i == W_LN_F_W || w == L_LN1_W || w == L_LN2_W) {
      for (size_t j = 0; j < m->size[i]; j++) t[j] = 1.0f;
    } else if (i == W_LN_F_B || w == L_LN1_B || w == L_LN2_B) {
      /* zeros */
    } else {
      fill_normal(t, m->size[i], seed, (uint32_t)i, w == L_WO || w == L_WD ? out_std : m->c.init_std);
    }
  }
}

#define P(i) (m->p + m->off[(i)])
#define G(i) (m->g + m->off[(i)])
#define TRY(call)                                                                                                      \
  do {                                                                                                                 \
    smx_status st_ = (call);                                                                                           \
    if (st_ != SMX_OK) return st_;                                                                                     \
  } while (0)

static smx_status forward(smx_model *m, const int32_t *ids) {
  int64_t T = m->T, d = m->c.d, F = m->c.d_ff;
  float *x = m->c.layers ? m->acts[0].x : m->xf;
  TRY(smx_embedding_fwd_cpu(T, m->c.vocab, d, ids, P(W_EMB), x));
  if (m->c.max_len > 0)
    for (int64_t t = 0; t < T; t++) {
      const float *pos = P(W_POS) + (t % m->L) * d;
      for (int64_t j = 0; j < d; j++) x[t * d + j] += pos[j];
    }
  for (int64_t l = 0; l < m->c.layers; l++) {
    layer_acts *a = &m->acts[l];
    float *next = l + 1 < m->c.layers ? m->acts[l + 1].x : m->xf;
    TRY(smx_layernorm_fwd_cpu(T, d, m->c.norm_eps, a->x, P(tensor_index((int)l, L_LN1_W)), P(tensor_index((int)l, L_LN1_B)),
                              a->n1, a->mean1, a->rstd1));
    TRY(smx_linear_fwd_cpu(T, d, d, a->n1, P(tensor_index((int)l, L_WQ)), NULL, a->q));
    TRY(smx_linear_fwd_cpu(T, d, d, a->n1, P(tensor_index((int)l, L_WK)), NULL, a->k));
    TRY(smx_linear_fwd_cpu(T, d, d, a->n1, P(tensor_index((int)l, L_WV)), NULL, a->v));
    cpu_flash_fwd(m->flash, a->q, a->k, a->v, NULL, NULL, a->o, a->lse);
    TRY(smx_linear_fwd_cpu(T, d, d, a->o, P(tensor_index((int)l, L_WO)), NULL, m->dproj));
    float *res = m->c.channel == SMX_CHANNEL_MLP ? a->x1 : next;
    for (int64_t i = 0; i < T * d; i++) res[i] = a->x[i] + m->dproj[i];
    if (m->c.channel == SMX_CHANNEL_MLP) {
      TRY(smx_layernorm_fwd_cpu(T, d, m->c.norm_eps, a->x1, P(tensor_index((int)l, L_LN2_W)),
                                P(tensor_index((int)l, L_LN2_B)), a->n2, a->mean2, a->rstd2));
      TRY(smx_mlp_fwd_cpu(T, d, F, SMX_ACT_SILU, a->n2, P(tensor_index((int)l, L_WG)), P(tensor_index((int)l, L_WU)),
                          P(tensor_index((int)l, L_WD)), m->dproj, a->a, a->u, m->h));
      for (int64_t i = 0; i < T * d; i++) next[i] = a->x1[i] + m->dproj[i];
    }
  }
  TRY(smx_layernorm_fwd_cpu(T, d, m->c.norm_eps, m->xf, P(W_LN_F_W), P(W_LN_F_B), m->nf, m->meanf, m->rstdf));
  return SMX_OK;
}

/* dx (T, d) holds d loss / d (the last block's output); runs the blocks backward, accumulating the
 * residual stream's gradient in m->dx. */
static smx_status backward_blocks(smx_model *m, const int32_t *ids) {
  int64_t T = m->T, d = m->c.d, F = m->c.d_ff;
  for (int64_t l = m->c.layers - 1; l >= 0; l--) {
    layer_acts *a = &m->acts[l];
    int li = (int)l;
    if (m->c.channel == SMX_CHANNEL_MLP) { /* next = x1 + mlp(norm(x1)) */
      TRY(smx_mlp_bwd_cpu(T, d, F, SMX_ACT_SILU, a->n2, P(tensor_index(li, L_WG)), P(tensor_index(li, L_WU)),
                          P(tensor_index(li, L_WD)), a->a, a->u, m->dx, m->dn, G(tensor_index(li, L_WG)),
                          G(tensor_index(li, L_WU)), G(tensor_index(li, L_WD)), m->mlp_work));
      TRY(smx_layernorm_bwd_cpu(T, d, a->x1, P(tensor_index(li, L_LN2_W)), a->mean2, a->rstd2, m->dn, m->dtmp,
                                G(tensor_index(li, L_LN2_W)), G(tensor_index(li, L_LN2_B))));
      for (int64_t i = 0; i < T * d; i++) m->dx[i] += m->dtmp[i];
    }
    /* x1 = x + wo(attn(q, k, v)) */
    TRY(smx_linear_bwd_cpu(T, d, d, a->o, P(tensor_index(li, L_WO)), m->dx, m->dproj, G(tensor_index(li, L_WO)), NULL));
    cpu_flash_bwd(m->flash, a->q, a->k, a->v, NULL, NULL, a->o, a->lse, m->dproj, m->dq, m->dk, m->dv, NULL);
    TRY(smx_linear_bwd_cpu(T, d, d, a->n1, P(tensor_index(li, L_WQ)), m->dq, m->dn, G(tensor_index(li, L_WQ)), NULL));
    TRY(smx_linear_bwd_cpu(T, d, d, a->n1, P(tensor_index(li, L_WK)), m->dk, m->dtmp, G(tensor_index(li, L_WK)), NULL));
    for (int64_t i = 0; i < T * d; i++) m->dn[i] += m->dtmp[i];
    TRY(smx_linear_bwd_cpu(T, d, d, a->n1, P(tensor_index(li, L_WV)), m->dv, m->dtmp, G(tensor_index(li, L_WV)), NULL));
    for (int64_t i = 0; i < T * d; i++) m->dn[i] += m->dtmp[i];
    TRY(smx_layernorm_bwd_cpu(T, d, a->x, P(tensor_index(li, L_LN1_W)), a->mean1, a->rstd1, m->dn, m->dtmp,
                              G(tensor_index(li, L_LN1_W)), G(tensor_index(li, L_LN1_B))));
    for (int64_t i = 0; i < T * d; i++) m->dx[i] += m->dtmp[i];
  }
  if (m->c.max_len > 0) {
    float *gp = G(W_POS);
    for (int64_t t = 0; t < T; t++) { /* sequence order: repeatable at any thread count */
      float *row = gp + (t % m->L) * d;
      for (int64_t j = 0; j < d; j++) row[j] += m->dx[t * d + j];
    }
  }
  /* the tied table: the head's gradient is already in G(W_EMB) */
  return smx_embedding_bwd_cpu(T, m->c.vocab, d, ids, m->dx, G(W_EMB), 1);
}

smx_status smx_model_step(smx_model *m, const int32_t *ids, const int32_t *labels, int backward, float *loss,
                          int32_t *pred) {
  int64_t T = m->T, d = m->c.d, V = m->c.vocab;
  for (int64_t t = 0; t < T; t++) {
    if (ids[t] < 0 || ids[t] >= V)
      return smx_fail(SMX_ERR_INVALID, "token %d at position %lld is outside the vocabulary [0, %lld)", ids[t],
                      (long long)t, (long long)V);
    if (labels[t] != -100 && (labels[t] < 0 || labels[t] >= V))
      return smx_fail(SMX_ERR_INVALID, "label %d at position %lld is neither -100 nor in [0, %lld)", labels[t],
                      (long long)t, (long long)V);
  }
  TRY(forward(m, ids));
  if (!backward) return smx_lm_head_ce_fwd_cpu(T, d, V, m->nf, P(W_EMB), labels, loss, pred, m->ce_work);
  memset(m->g, 0, m->n_params * sizeof(float));
  TRY(smx_lm_head_ce_fwd_bwd_cpu(T, d, V, m->nf, P(W_EMB), labels, loss, pred, m->dn, G(W_EMB), 0, m->ce_work));
  TRY(smx_layernorm_bwd_cpu(T, d, m->xf, P(W_LN_F_W), m->meanf, m->rstdf, m->dn, m->dx, G(W_LN_F_W), G(W_LN_F_B)));
  return backward_blocks(m, ids);
}
