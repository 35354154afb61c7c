/* The task runner's language model (include/seqmix/model.h): embedding, pre-norm
 * blocks of a sequence mixer and a channel mixer per layer (tasks/mixer.h kinds, chosen per layer
 * by a pattern), tied LM head with cross-entropy at labelled positions. Each piece is an op's
 * plain C entry point (include/seqmix/model_ops.h) or a registered op's CPU variant, so what
 * `seqmix check` verifies is what trains; this file wires the residual stream and the norms on
 * the CPU, and lays out the parameters for both devices (a CUDA model's step: tasks/model_cuda.c).
 *
 *   build/tests/seqmix_tests --filter model/'*'
 */
#include "seqmix/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"
#include "smx_config.h"
#include "tasks/mixer.h"
#include "tasks/model_internal.h"
#if SMX_HAVE_CUDA
#include "tasks/mixer_cuda.h"
#include "tasks/model_cuda.h"
#endif

enum { W_EMB, W_POS, W_LN_F_W, W_LN_F_B, W_GLOBAL };
static const char *const global_names[W_GLOBAL] = {"embedding", "positions", "norm_f.w", "norm_f.b"};
#define MAX_TENSORS (W_GLOBAL + 64 * (4 + 2 * MIXER_MAX_TENSORS))

/* One half-block: y = mixer(norm(x)) added to the residual stream. */
typedef struct half_block {
  const mixer_kind *kind; /* NULL: channel "none" */
  mixer_shape shape;
  void *state;
  int t_norm_w, t_norm_b, t0, nt; /* tensor indices: the norm's gain and bias, then the mixer's nt tensors */
  float *x, *n, *mean, *rstd;     /* the half-block's input, its norm, the norm's statistics */
} half_block;

typedef struct tensor_info {
  char name[96];
  size_t off, size;
  int decays;
  mixer_init init;
  const half_block *owner;
  int index; /* within the owner's tensors */
} tensor_info;

struct smx_model {
  smx_model_config c;
  int64_t B, L, T;
  int n_tensors, n_halves;
  tensor_info *tens;
  size_t n_params;
  float *p, *g, *m1, *m2; /* m1, m2: AdamW's moments (CPU models) */
  half_block *halves; /* 2 per layer: sequence, channel */
  float *xf, *nf, *meanf, *rstdf;
  float *pooled; /* pool "mean": the running means the head reads (T, d); NULL otherwise */
  float *y, *dx, *dn, *dtmp;
  void *ce_work;
#if SMX_HAVE_CUDA
  model_cuda *cuda; /* a CUDA model's device side; NULL on the CPU */
#endif
};

smx_status smx_model_pattern_check(const char *pattern, int channel, int64_t layers) {
  const mixer_kind *k[64];
  if (layers < 1 || layers > 64) return smx_fail(SMX_ERR_INVALID, "model layers %lld is out of range (1..64)", (long long)layers);
  return mixer_pattern_expand(pattern, channel, (int)layers, k);
}

smx_status smx_model_options_check(const char *options) { return mixer_options_validate(options); }

int smx_model_attention_only(const smx_model_config *c) {
  const mixer_kind *k[64];
  if (c->layers < 1 || c->layers > 64 || mixer_pattern_expand(c->mixer, 0, (int)c->layers, k) != SMX_OK) return 0;
  for (int64_t l = 0; l < c->layers; l++)
    if (strcmp(k[l]->name, "attention")) return 0;
  return 1;
}

void smx_model_describe_mixers(FILE *out) {
  for (int f = 0; f < 2; f++) {
    fprintf(out, "%s mixers:\n", f ? "channel" : "sequence");
    if (f) fprintf(out, "  none  no channel mixer (Zoology's MQAR sweeps)\n");
    for (int i = 0; i < mixer_kind_count(); i++) {
      const mixer_kind *k = mixer_kind_at(i);
      if (k->channel != f) continue;
      fprintf(out, "  %s  %s\n", k->name, k->summary);
      for (int j = 0; j < k->n_opts; j++)
        fprintf(out, "      %s.%s=%g  (%g..%g) %s\n", k->name, k->opts[j].name, k->opts[j].def, k->opts[j].min, k->opts[j].max,
                k->opts[j].doc);
    }
  }
#if SMX_HAVE_CUDA
  fprintf(out, "on CUDA (--device cuda): %s, and channel none\n", mixer_cuda_names());
#else
  fprintf(out, "on CUDA: none (this seqmix was built without CUDA)\n");
#endif
}

const char *smx_model_pool_name(smx_model_pool p) { return p == SMX_POOL_MEAN ? "mean" : p == SMX_POOL_NONE ? "none" : "?"; }

smx_status smx_model_pool_parse(const char *name, smx_model_pool *out) {
  if (name && !strcmp(name, "none")) *out = SMX_POOL_NONE;
  else if (name && !strcmp(name, "mean")) *out = SMX_POOL_MEAN;
  else return smx_fail(SMX_ERR_INVALID, "unknown pool '%s' (pools: none, mean)", name ? name : "(null)");
  return SMX_OK;
}

static smx_status validate(const smx_model_config *c, int64_t B, int64_t L) {
  if (c->vocab < 2 || c->vocab > (1 << 24)) return smx_fail(SMX_ERR_INVALID, "model vocab %lld is out of range (2..16777216)", (long long)c->vocab);
  if (c->d < 1 || c->d > 8192) return smx_fail(SMX_ERR_INVALID, "model d %lld is out of range (1..8192)", (long long)c->d);
  if (c->layers < 1 || c->layers > 64) return smx_fail(SMX_ERR_INVALID, "model layers %lld is out of range (1..64)", (long long)c->layers);
  if (c->heads < 1 || c->heads > c->d)
    return smx_fail(SMX_ERR_INVALID, "model heads %lld is out of range (1..d = %lld)", (long long)c->heads, (long long)c->d);
  if (c->max_len < 0 || (c->max_len > 0 && c->max_len < L))
    return smx_fail(SMX_ERR_INVALID, "model max_len %lld is below the sequence length %lld", (long long)c->max_len, (long long)L);
  if (B < 1 || L < 1 || B * L > (1 << 26))
    return smx_fail(SMX_ERR_INVALID, "model batch %lld x %lld tokens is out of range", (long long)B, (long long)L);
  if (strnlen(c->mixer, sizeof c->mixer) == sizeof c->mixer || strnlen(c->channel, sizeof c->channel) == sizeof c->channel ||
      strnlen(c->options, sizeof c->options) == sizeof c->options)
    return smx_fail(SMX_ERR_INVALID, "model mixer, channel or options string is not terminated");
  if (c->device != SMX_DEV_CPU && c->device != SMX_DEV_CUDA) return smx_fail(SMX_ERR_INVALID, "model device %d is unknown", (int)c->device);
  if (c->pool != SMX_POOL_NONE && c->pool != SMX_POOL_MEAN) return smx_fail(SMX_ERR_INVALID, "model pool %d is unknown", (int)c->pool);
  return mixer_options_validate(c->options);
}

static void free_half(half_block *h) {
  if (h->kind && h->state) h->kind->destroy(h->state);
  smx_host_free(h->x), smx_host_free(h->n), smx_host_free(h->mean), smx_host_free(h->rstd);
}

void smx_model_destroy(smx_model *m) {
  if (!m) return;
  if (m->halves)
    for (int i = 0; i < m->n_halves; i++) free_half(&m->halves[i]);
#if SMX_HAVE_CUDA
  model_cuda_destroy(m->cuda);
#endif
  float *bufs[] = {m->p, m->g, m->m1, m->m2, m->xf, m->nf, m->meanf, m->rstdf, m->pooled, m->y, m->dx, m->dn, m->dtmp};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) smx_host_free(bufs[i]);
  smx_host_free(m->halves);
  smx_host_free(m->tens);
  smx_host_free(m->ce_work);
  smx_host_free(m);
}

static int add_tensor(smx_model *m, const char *name, size_t size, mixer_init init, int decays, const half_block *owner,
                      int index) {
  tensor_info *t = &m->tens[m->n_tensors];
  snprintf(t->name, sizeof t->name, "%s", name);
  t->size = size, t->init = init, t->decays = decays, t->owner = owner, t->index = index;
  t->off = m->n_params;
  m->n_params += size;
  return m->n_tensors++;
}

/* Describes the layout to tasks/model_cuda.c, which allocates the device side. */
static smx_status create_cuda(smx_model *m) {
#if SMX_HAVE_CUDA
  model_cuda_half *hs = smx_host_alloc((size_t)m->n_halves * sizeof *hs);
  if (!hs) return smx_fail(SMX_ERR_NOMEM, "cannot allocate the model");
  int n = 0;
  for (int i = 0; i < m->n_halves; i++) {
    const half_block *h = &m->halves[i];
    if (!h->kind) continue;
    model_cuda_half *o = &hs[n++];
    o->kind = h->kind->name, o->shape = h->shape, o->nt = h->nt;
    o->norm_w = m->tens[h->t_norm_w].off, o->norm_b = m->tens[h->t_norm_b].off;
    for (int j = 0; j < h->nt; j++) o->off[j] = m->tens[h->t0 + j].off;
  }
  model_cuda_desc desc = {.B = m->B, .L = m->L, .T = m->T, .d = m->c.d, .V = m->c.vocab, .max_len = m->c.max_len,
                          .eps = m->c.norm_eps, .n_params = m->n_params, .emb = m->tens[W_EMB].off,
                          .pos = m->tens[W_POS].off, .norm_f_w = m->tens[W_LN_F_W].off, .norm_f_b = m->tens[W_LN_F_B].off,
                          .pool_mean = m->c.pool == SMX_POOL_MEAN, .n_halves = n, .halves = hs};
  smx_status s = model_cuda_create(&desc, &m->cuda);
  smx_host_free(hs);
  return s;
#else
  (void)m;
  return smx_fail(SMX_ERR_NO_DEVICE, "this seqmix was built without CUDA: the model cannot train on the GPU");
#endif
}

smx_status smx_model_create(const smx_model_config *cin, int64_t B, int64_t L, smx_model **out) {
  *out = NULL;
  smx_model_config c = *cin;
  if (c.norm_eps == 0) c.norm_eps = 1e-5f;
  if (c.init_std == 0) c.init_std = 0.02f;
  smx_status s = validate(&c, B, L);
  if (s != SMX_OK) return s;
  if (c.device == SMX_DEV_CUDA && (s = smx_device_ready(SMX_DEV_CUDA)) != SMX_OK) return s;
  int on_cpu = c.device == SMX_DEV_CPU;
  const mixer_kind *seq[64], *chan[64];
  if ((s = mixer_pattern_expand(c.mixer, 0, (int)c.layers, seq)) != SMX_OK) return s;
  if ((s = mixer_pattern_expand(c.channel, 1, (int)c.layers, chan)) != SMX_OK) return s;
  smx_model *m = smx_host_alloc(sizeof *m);
  if (!m) return smx_fail(SMX_ERR_NOMEM, "cannot allocate the model");
  m->c = c, m->B = B, m->L = L, m->T = B * L;
  m->n_halves = (int)(2 * c.layers);
  if (!(m->tens = smx_host_alloc(MAX_TENSORS * sizeof *m->tens)) || !(m->halves = smx_host_alloc((size_t)m->n_halves * sizeof *m->halves))) {
    smx_model_destroy(m);
    return smx_fail(SMX_ERR_NOMEM, "cannot allocate the model");
  }
  size_t T = (size_t)m->T, d = (size_t)c.d;
  add_tensor(m, global_names[W_EMB], (size_t)c.vocab * d, MI_NORMAL, 1, NULL, 0);
  add_tensor(m, global_names[W_POS], (size_t)c.max_len * d, MI_NORMAL, 1, NULL, 0);
  add_tensor(m, global_names[W_LN_F_W], d, MI_ONES, 0, NULL, 0);
  add_tensor(m, global_names[W_LN_F_B], d, MI_ZEROS, 0, NULL, 0);
  for (int i = 0; i < m->n_halves; i++) {
    half_block *h = &m->halves[i];
    int layer = i / 2;
    h->kind = i % 2 ? chan[layer] : seq[layer];
    if (!h->kind) continue;
    mixer_shape *sh = &h->shape;
    *sh = (mixer_shape){.B = B, .L = L, .T = m->T, .d = c.d, .heads = c.heads, .d_ff = c.d_ff, .layer = layer,
                        .layers = (int)c.layers, .init_std = c.init_std};
    mixer_tensor mt[MIXER_MAX_TENSORS];
    int nt = 0;
    if ((s = mixer_options_parse(h->kind, c.options, sh)) != SMX_OK || (s = h->kind->tensors(sh, mt, &nt)) != SMX_OK) {
      smx_model_destroy(m);
      return s;
    }
    char name[96];
    snprintf(name, sizeof name, "layer%d.norm%d.w", layer, 1 + i % 2);
    h->t_norm_w = add_tensor(m, name, d, MI_ONES, 0, NULL, 0);
    snprintf(name, sizeof name, "layer%d.norm%d.b", layer, 1 + i % 2);
    h->t_norm_b = add_tensor(m, name, d, MI_ZEROS, 0, NULL, 0);
    h->t0 = m->n_tensors, h->nt = nt;
    for (int j = 0; j < nt; j++) {
      snprintf(name, sizeof name, "layer%d.%.24s.%.31s", layer, h->kind->name, mt[j].name);
      add_tensor(m, name, mt[j].size, mt[j].init, mt[j].decays, h, j);
    }
    if (on_cpu && ((s = mixer_alloc("model", &h->x, T * d, &h->n, T * d, &h->mean, T, &h->rstd, T, (float **)NULL)) != SMX_OK ||
                   (s = h->kind->create(sh, &h->state)) != SMX_OK)) {
      h->state = NULL;
      smx_model_destroy(m);
      return s;
    }
  }
  s = mixer_alloc("model", &m->p, m->n_params, &m->g, m->n_params, (float **)NULL);
  if (s == SMX_OK && on_cpu)
    s = mixer_alloc("model", &m->m1, m->n_params, &m->m2, m->n_params, &m->xf, T * d, &m->nf, T * d, &m->meanf, T, &m->rstdf,
                    T, &m->y, T * d, &m->dx, T * d, &m->dn, T * d, &m->dtmp, T * d, (float **)NULL);
  if (s == SMX_OK && on_cpu && c.pool == SMX_POOL_MEAN) s = mixer_alloc("model", &m->pooled, T * d, (float **)NULL);
  if (s == SMX_OK && on_cpu && !(m->ce_work = smx_host_alloc(smx_lm_head_ce_workspace_bytes(m->T, c.d, c.vocab))))
    s = smx_fail(SMX_ERR_NOMEM, "model: cannot allocate the LM head's workspace");
  if (s != SMX_OK) {
    smx_model_destroy(m);
    return smx_fail(SMX_ERR_NOMEM, "cannot allocate the model's %zu parameters and activations", m->n_params);
  }
  if (!on_cpu && (s = create_cuda(m)) != SMX_OK) {
    smx_model_destroy(m);
    return s;
  }
  *out = m;
  return SMX_OK;
}

size_t smx_model_param_count(const smx_model *m) { return m->n_params; }
smx_device smx_model_device(const smx_model *m) { return m->c.device; }

smx_status smx_model_sync(smx_model *m) {
#if SMX_HAVE_CUDA
  if (m->cuda) return model_cuda_get(m->cuda, m->p, m->g);
#endif
  (void)m;
  return SMX_OK;
}

smx_status smx_model_adamw_step(smx_model *m, int64_t step, const smx_adamw_hparams *hp) {
  if (!hp || step < 1) return smx_fail(SMX_ERR_INVALID, "smx_model_adamw_step: step %lld must be >= 1 with hyperparameters", (long long)step);
  smx_adamw_hparams h = *hp;
  for (int i = 0; i < m->n_tensors; i++) {
    const tensor_info *t = &m->tens[i];
    if (!t->size) continue;
    h.weight_decay = t->decays ? hp->weight_decay : 0;
    smx_status s;
#if SMX_HAVE_CUDA
    if (m->cuda) {
      if ((s = model_cuda_adamw(m->cuda, step, &h, t->off, t->size)) != SMX_OK) return s;
      continue;
    }
#endif
    float *p = m->p + t->off, *g = m->g + t->off, *m1 = m->m1 + t->off, *m2 = m->m2 + t->off;
    if ((s = smx_adamw_step_cpu((int64_t)t->size, step, &h, p, g, m1, m2, p, m1, m2)) != SMX_OK) return s;
  }
  return SMX_OK;
}
float *smx_model_params(smx_model *m) { return m->p; }
float *smx_model_grads(smx_model *m) { return m->g; }

const char *smx_model_param_name(const smx_model *m, int i, size_t *offset, size_t *size) {
  if (i < 0 || i >= m->n_tensors) return NULL;
  if (offset) *offset = m->tens[i].off;
  if (size) *size = m->tens[i].size;
  return m->tens[i].name;
}

int smx_model_param_decays(const smx_model *m, int i) { return i >= 0 && i < m->n_tensors ? m->tens[i].decays : 0; }

smx_status smx_model_init(smx_model *m, uint64_t seed) {
  memset(m->p, 0, m->n_params * sizeof(float));
  if (m->m1) memset(m->m1, 0, m->n_params * sizeof(float)), memset(m->m2, 0, m->n_params * sizeof(float));
  float out_std = m->c.init_std / sqrtf(2.0f * (float)m->c.layers); /* GPT-2's scaled residual projections */
  for (int i = 0; i < m->n_tensors; i++) {
    const tensor_info *t = &m->tens[i];
    float *x = m->p + t->off;
    switch (t->init) {
    case MI_ONES: for (size_t j = 0; j < t->size; j++) x[j] = 1.0f; break;
    case MI_ZEROS: break;
    case MI_NORMAL: mixer_fill_normal(x, t->size, seed, (uint32_t)i, m->c.init_std); break;
    case MI_OUT: mixer_fill_normal(x, t->size, seed, (uint32_t)i, out_std); break;
    case MI_CUSTOM: t->owner->kind->init(&t->owner->shape, t->index, x, t->size, seed, (uint32_t)i); break;
    }
  }
#if SMX_HAVE_CUDA
  if (m->cuda) return model_cuda_set_params(m->cuda, m->p);
#endif
  return SMX_OK;
}

#define P(i) (m->p + m->tens[(i)].off)
#define G(i) (m->g + m->tens[(i)].off)
#define TRY(call)                                                                                                      \
  do {                                                                                                                 \
    smx_status st_ = (call);                                                                                           \
    if (st_ != SMX_OK) return st_;                                                                                     \
  } while (0)

static void tensor_ptrs(smx_model *m, const half_block *h, float *base, float **out) {
  for (int j = 0; j < h->nt; j++) out[j] = base + m->tens[h->t0 + j].off;
}

/* pool "mean": y_t = (1/(t+1)) sum_{s<=t} x_s within each of B sequences of L rows of d; the sums
 * in double, in sequence order (repeatable at any thread count). */
static void running_mean_fwd(int64_t B, int64_t L, int64_t d, const float *x, float *y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; b++) {
    for (int64_t j = 0; j < d; j++) {
      double acc = 0;
      for (int64_t t = 0; t < L; t++) {
        acc += x[(b * L + t) * d + j];
        y[(b * L + t) * d + j] = (float)(acc / (double)(t + 1));
      }
    }
  }
}

/* Its backward, in place: dx_s = sum_{t>=s} dy_t / (t+1). */
static void running_mean_bwd(int64_t B, int64_t L, int64_t d, float *dy) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; b++) {
    for (int64_t j = 0; j < d; j++) {
      double acc = 0;
      for (int64_t t = L - 1; t >= 0; t--) {
        acc += (double)dy[(b * L + t) * d + j] / (double)(t + 1);
        dy[(b * L + t) * d + j] = (float)acc;
      }
    }
  }
}

static smx_status forward(smx_model *m, const int32_t *ids, double *aux) {
  int64_t T = m->T, d = m->c.d;
  float *x = m->xf; /* the residual stream; each half-block keeps a copy of its input */
  TRY(smx_embedding_fwd_cpu(T, m->c.vocab, d, ids, P(W_EMB), x));
  if (m->c.max_len > 0)
    for (int64_t t = 0; t < T; t++) {
      const float *pos = P(W_POS) + (t % m->L) * d;
      for (int64_t j = 0; j < d; j++) x[t * d + j] += pos[j];
    }
  for (int i = 0; i < m->n_halves; i++) {
    half_block *h = &m->halves[i];
    if (!h->kind) continue;
    memcpy(h->x, x, (size_t)(T * d) * sizeof(float));
    TRY(smx_layernorm_fwd_cpu(T, d, m->c.norm_eps, h->x, P(h->t_norm_w), P(h->t_norm_b), h->n, h->mean, h->rstd));
    float *w[MIXER_MAX_TENSORS];
    tensor_ptrs(m, h, m->p, w);
    TRY(h->kind->forward(h->state, w, h->n, m->y, aux));
    mixer_add(x, m->y, (size_t)(T * d));
  }
  TRY(smx_layernorm_fwd_cpu(T, d, m->c.norm_eps, m->xf, P(W_LN_F_W), P(W_LN_F_B), m->nf, m->meanf, m->rstdf));
  if (m->pooled) running_mean_fwd(m->B, m->L, d, m->nf, m->pooled);
  return SMX_OK;
}

/* m->dx holds d loss / d (the last block's output); runs the half-blocks backward, accumulating the
 * residual stream's gradient in m->dx. */
static smx_status backward_blocks(smx_model *m, const int32_t *ids) {
  int64_t T = m->T, d = m->c.d;
  for (int i = m->n_halves - 1; i >= 0; i--) {
    half_block *h = &m->halves[i];
    if (!h->kind) continue;
    float *w[MIXER_MAX_TENSORS], *g[MIXER_MAX_TENSORS];
    tensor_ptrs(m, h, m->p, w);
    tensor_ptrs(m, h, m->g, g);
    TRY(h->kind->backward(h->state, w, h->n, m->dx, m->dn, g));
    TRY(smx_layernorm_bwd_cpu(T, d, h->x, P(h->t_norm_w), h->mean, h->rstd, m->dn, m->dtmp, G(h->t_norm_w), G(h->t_norm_b)));
    mixer_add(m->dx, m->dtmp, (size_t)(T * d));
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
  if (!ids || !labels || !loss) return smx_fail(SMX_ERR_INVALID, "smx_model_step: ids, labels and loss are required");
  for (int64_t t = 0; t < T; t++) {
    if (ids[t] < 0 || ids[t] >= V)
      return smx_fail(SMX_ERR_INVALID, "token %d at position %lld is outside the vocabulary [0, %lld)", ids[t],
                      (long long)t, (long long)V);
    if (labels[t] != -100 && (labels[t] < 0 || labels[t] >= V))
      return smx_fail(SMX_ERR_INVALID, "label %d at position %lld is neither -100 nor in [0, %lld)", labels[t],
                      (long long)t, (long long)V);
  }
#if SMX_HAVE_CUDA
  if (m->cuda) return model_cuda_step(m->cuda, ids, labels, backward, loss, pred);
#endif
  double aux = 0;
  TRY(forward(m, ids, &aux));
  const float *h = m->pooled ? m->pooled : m->nf; /* what the head reads */
  if (!backward) {
    TRY(smx_lm_head_ce_fwd_cpu(T, d, V, h, P(W_EMB), labels, loss, pred, m->ce_work));
    *loss += (float)aux;
    return SMX_OK;
  }
  memset(m->g, 0, m->n_params * sizeof(float));
  TRY(smx_lm_head_ce_fwd_bwd_cpu(T, d, V, h, P(W_EMB), labels, loss, pred, m->dn, G(W_EMB), 0, m->ce_work));
  *loss += (float)aux;
  if (m->pooled) running_mean_bwd(m->B, m->L, d, m->dn);
  TRY(smx_layernorm_bwd_cpu(T, d, m->xf, P(W_LN_F_W), m->meanf, m->rstdf, m->dn, m->dx, G(W_LN_F_W), G(W_LN_F_B)));
  return backward_blocks(m, ids);
}

/* ---- for the decoder (tasks/model_internal.h) and checking it ---- */

int model_n_halves(const smx_model *m) { return m->n_halves; }
const smx_model_config *model_config(const smx_model *m) { return &m->c; }

void model_half(smx_model *m, int i, model_half_view *v) {
  const half_block *h = &m->halves[i];
  v->kind = h->kind, v->shape = &h->shape, v->nt = h->nt;
  v->norm_w = h->kind ? P(h->t_norm_w) : NULL, v->norm_b = h->kind ? P(h->t_norm_b) : NULL;
  if (h->kind) tensor_ptrs(m, h, m->p, v->w);
}

void model_globals(smx_model *m, const float **emb, const float **pos, const float **norm_w, const float **norm_b) {
  *emb = P(W_EMB), *pos = P(W_POS), *norm_w = P(W_LN_F_W), *norm_b = P(W_LN_F_B);
}

smx_status smx_model_logits(smx_model *m, const int32_t *ids, float *logits) {
  if (!ids || !logits) return smx_fail(SMX_ERR_INVALID, "smx_model_logits: ids and logits are required");
  if (m->c.device != SMX_DEV_CPU) return smx_fail(SMX_ERR_UNSUPPORTED, "smx_model_logits: the model is on CUDA (CPU models only)");
  for (int64_t t = 0; t < m->T; t++)
    if (ids[t] < 0 || ids[t] >= m->c.vocab)
      return smx_fail(SMX_ERR_INVALID, "token %d at position %lld is outside the vocabulary [0, %lld)", ids[t], (long long)t,
                      (long long)m->c.vocab);
  double aux = 0;
  TRY(forward(m, ids, &aux));
  return smx_linear_fwd_cpu(m->T, m->c.d, m->c.vocab, m->pooled ? m->pooled : m->nf, P(W_EMB), NULL, logits);
}
