/* The task runner's model on CUDA: see tasks/model_cuda.h. The step mirrors tasks/model.c's
 * forward and backward line for line, with each CPU call replaced by the registered CUDA variant
 * of the same op (checked against the same references by `seqmix check`), so the two differ only
 * in rounding (cuBLAS's summation order, the flash backward's atomics).
 *
 *   build/tests/seqmix_tests --filter model_cuda/'*'      (needs a GPU; skipped otherwise)
 */
#include "tasks/model_cuda.h"

#include <stdio.h>
#include <string.h>

#include "core/gpu.h"
#include "reference/embedding.h"
#include "reference/lm_head_ce.h"
#include "reference/norm.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops_cuda.h"
#include "tasks/mixer_cuda.h"
#include "tasks/op_layer.h"

struct model_cuda {
  model_cuda_desc d;
  model_cuda_half *halves;
  const mixer_cuda_kind **kinds;
  void **states;
  float **hx, **hn, **hmean, **hrstd; /* per half: its input, its norm and the norm's statistics */
  op_layer emb, ln, ce;
  float *p, *g, *m1, *m2;
  float *ids, *labels, *loss, *dloss, *pred; /* loss: the cross-entropy, then the auxiliary losses */
  float *xf, *nf, *meanf, *rstdf, *y, *dx, *dn, *dtmp, *demb;
  float *pooled; /* pool "mean": what the head reads; NULL otherwise */
  float *h_ids, *h_labels, *h_pred; /* host staging */
};

#define TRY(call)                                                                                                      \
  do {                                                                                                                 \
    smx_status st_ = (call);                                                                                           \
    if (st_ != SMX_OK) return st_;                                                                                     \
  } while (0)

void model_cuda_destroy(model_cuda *g) {
  if (!g) return;
  for (int i = 0; i < g->d.n_halves; i++) {
    if (g->kinds && g->states && g->states[i]) g->kinds[i]->destroy(g->states[i]);
    if (g->hx) mixer_cuda_free(g->hx[i]), mixer_cuda_free(g->hn[i]), mixer_cuda_free(g->hmean[i]), mixer_cuda_free(g->hrstd[i]);
  }
  op_layer_destroy(&g->emb), op_layer_destroy(&g->ln), op_layer_destroy(&g->ce);
  float *bufs[] = {g->p, g->g, g->m1, g->m2, g->ids, g->labels, g->loss, g->dloss, g->pred, g->xf, g->nf,
                   g->meanf, g->rstdf, g->y, g->dx, g->dn, g->dtmp, g->demb, g->pooled};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mixer_cuda_free(bufs[i]);
  void *host[] = {g->halves, g->kinds, g->states, g->hx, g->hn, g->hmean, g->hrstd, g->h_ids, g->h_labels, g->h_pred};
  for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) smx_host_free(host[i]);
  smx_host_free(g);
}

static smx_status create_layers(model_cuda *g) {
  const model_cuda_desc *d = &g->d;
  char spec[160];
  snprintf(spec, sizeof spec, "B=%lld,L=%lld,V=%lld,d=%lld", (long long)d->B, (long long)d->L, (long long)d->V, (long long)d->d);
  TRY(op_layer_create(&g->emb, "embedding", "cuda.sorted", spec));
  snprintf(spec, sizeof spec, "T=%lld,d=%lld", (long long)d->T, (long long)d->d);
  TRY(op_layer_create(&g->ln, "layernorm", "cuda.rows", spec));
  snprintf(spec, sizeof spec, "T=%lld,d=%lld,V=%lld", (long long)d->T, (long long)d->d, (long long)d->V);
  TRY(op_layer_create(&g->ce, "lm_head_ce", "cuda.gather", spec));
  size_t T = (size_t)d->T, Td = (size_t)(d->T * d->d);
  TRY(mixer_cuda_alloc("model", &g->p, d->n_params, &g->g, d->n_params, &g->m1, d->n_params, &g->m2, d->n_params, &g->ids, T,
                       &g->labels, T, &g->loss, (size_t)2, &g->dloss, (size_t)1, &g->pred, T, &g->xf, Td, &g->nf, Td,
                       &g->meanf, T, &g->rstdf, T, &g->y, Td, &g->dx, Td, &g->dn, Td, &g->dtmp, Td, &g->demb,
                       (size_t)(d->V * d->d), (float **)NULL));
  if (d->pool_mean) TRY(mixer_cuda_alloc("model", &g->pooled, Td, (float **)NULL));
  const float one = 1.0f;
  TRY(smx_gpu_memcpy_h2d(g->dloss, &one, sizeof one));
  for (int i = 0; i < d->n_halves; i++) {
    TRY(mixer_cuda_alloc("model", &g->hx[i], Td, &g->hn[i], Td, &g->hmean[i], T, &g->hrstd[i], T, (float **)NULL));
    TRY(g->kinds[i]->create(&g->halves[i].shape, &g->states[i]));
  }
  return SMX_OK;
}

smx_status model_cuda_create(const model_cuda_desc *desc, model_cuda **out) {
  *out = NULL;
  for (int i = 0; i < desc->n_halves; i++)
    if (!mixer_cuda_find(desc->halves[i].kind))
      return smx_fail(SMX_ERR_UNSUPPORTED, "mixer '%s' has no CUDA path yet (kinds with one: %s); train it with --device cpu",
                      desc->halves[i].kind, mixer_cuda_names());
  if (desc->eps != (float)SMX_NORM_EPS)
    return smx_fail(SMX_ERR_UNSUPPORTED, "the CUDA model's layernorm uses eps %g (layernorm cuda.rows), not %g",
                    SMX_NORM_EPS, (double)desc->eps);
  model_cuda *g = smx_host_alloc(sizeof *g);
  if (!g) return smx_fail(SMX_ERR_NOMEM, "cannot allocate the CUDA model");
  g->d = *desc;
  size_t nh = (size_t)(desc->n_halves ? desc->n_halves : 1), T = (size_t)desc->T;
  g->halves = smx_host_alloc(nh * sizeof *g->halves);
  g->kinds = smx_host_alloc(nh * sizeof *g->kinds);
  g->states = smx_host_alloc(nh * sizeof *g->states);
  g->hx = smx_host_alloc(nh * sizeof(float *)), g->hn = smx_host_alloc(nh * sizeof(float *));
  g->hmean = smx_host_alloc(nh * sizeof(float *)), g->hrstd = smx_host_alloc(nh * sizeof(float *));
  g->h_ids = smx_host_alloc(T * sizeof(float)), g->h_labels = smx_host_alloc(T * sizeof(float));
  g->h_pred = smx_host_alloc(T * sizeof(float));
  if (!g->halves || !g->kinds || !g->states || !g->hx || !g->hn || !g->hmean || !g->hrstd || !g->h_ids || !g->h_labels ||
      !g->h_pred) {
    g->d.n_halves = 0;
    model_cuda_destroy(g);
    return smx_fail(SMX_ERR_NOMEM, "cannot allocate the CUDA model");
  }
  for (int i = 0; i < desc->n_halves; i++) {
    g->halves[i] = desc->halves[i];
    g->kinds[i] = mixer_cuda_find(desc->halves[i].kind);
  }
  g->d.halves = g->halves;
  smx_status s = create_layers(g);
  if (s != SMX_OK) {
    model_cuda_destroy(g);
    return s;
  }
  *out = g;
  return SMX_OK;
}

smx_status model_cuda_set_params(model_cuda *g, const float *p) {
  size_t bytes = g->d.n_params * sizeof(float);
  TRY(smx_gpu_memcpy_h2d(g->p, p, bytes));
  TRY(smx_gpu_memset(g->m1, 0, bytes));
  return smx_gpu_memset(g->m2, 0, bytes);
}

smx_status model_cuda_get(model_cuda *g, float *p, float *grad) {
  size_t bytes = g->d.n_params * sizeof(float);
  if (p) TRY(smx_gpu_memcpy_d2h(p, g->p, bytes));
  if (grad) TRY(smx_gpu_memcpy_d2h(grad, g->g, bytes));
  return SMX_OK;
}

static void ptrs(float *base, const model_cuda_half *h, float **out) {
  for (int j = 0; j < h->nt; j++) out[j] = base + h->off[j];
}

static smx_status norm(model_cuda *g, smx_pass pass, const float *x, size_t w, size_t b, float *mean, float *rstd,
                       const float *dy, float *out) {
  op_layer *l = &g->ln;
  l->t[LN_X] = (float *)x, l->t[LN_W] = g->p + w, l->t[LN_B] = g->p + b, l->t[LN_MEAN] = mean, l->t[LN_RSTD] = rstd;
  if (pass == SMX_FWD) {
    l->t[LN_Y] = out;
  } else {
    l->t[LN_DY] = (float *)dy, l->t[LN_DX] = out, l->t[LN_DW] = g->g + w, l->t[LN_DB] = g->g + b;
  }
  return op_layer_run(l, pass);
}

static smx_status forward(model_cuda *g) {
  const model_cuda_desc *d = &g->d;
  int64_t Td = d->T * d->d;
  op_layer *e = &g->emb;
  e->t[EMB_IDS] = g->ids, e->t[EMB_TABLE] = g->p + d->emb, e->t[EMB_Y] = g->xf;
  TRY(op_layer_run(e, SMX_FWD));
  if (d->max_len > 0) TRY(smx_cuda_add_positions(d->T, d->L, d->d, g->p + d->pos, g->xf));
  TRY(smx_gpu_memset(g->loss + 1, 0, sizeof(float)));
  for (int i = 0; i < d->n_halves; i++) {
    const model_cuda_half *h = &g->halves[i];
    float *w[MIXER_MAX_TENSORS];
    ptrs(g->p, h, w);
    TRY(smx_cuda_copy(g->hx[i], g->xf, Td));
    TRY(norm(g, SMX_FWD, g->hx[i], h->norm_w, h->norm_b, g->hmean[i], g->hrstd[i], NULL, g->hn[i]));
    TRY(g->kinds[i]->forward(g->states[i], w, g->hn[i], g->y, g->loss + 1));
    TRY(smx_cuda_add(g->xf, g->y, Td));
  }
  TRY(norm(g, SMX_FWD, g->xf, d->norm_f_w, d->norm_f_b, g->meanf, g->rstdf, NULL, g->nf));
  return g->pooled ? smx_cuda_running_mean_fwd(d->T / d->L, d->L, d->d, g->nf, g->pooled) : SMX_OK;
}

static float *head_input(model_cuda *g) { return g->pooled ? g->pooled : g->nf; }

static smx_status backward(model_cuda *g) {
  const model_cuda_desc *d = &g->d;
  int64_t Td = d->T * d->d;
  TRY(smx_gpu_memset(g->g, 0, d->n_params * sizeof(float)));
  op_layer *c = &g->ce;
  c->t[CE_X] = head_input(g), c->t[CE_W] = g->p + d->emb, c->t[CE_LABELS] = g->labels, c->t[CE_DLOSS] = g->dloss;
  c->t[CE_DX] = g->dn, c->t[CE_DW] = g->g + d->emb; /* the head's share of the tied table's gradient */
  TRY(op_layer_run(c, SMX_BWD));
  TRY(smx_lm_head_ce_cuda_gather_loss(c->state, g->loss));
  if (g->pooled) TRY(smx_cuda_running_mean_bwd(d->T / d->L, d->L, d->d, g->dn));
  TRY(norm(g, SMX_BWD, g->xf, d->norm_f_w, d->norm_f_b, g->meanf, g->rstdf, g->dn, g->dx));
  for (int i = d->n_halves - 1; i >= 0; i--) {
    const model_cuda_half *h = &g->halves[i];
    float *w[MIXER_MAX_TENSORS], *gr[MIXER_MAX_TENSORS];
    ptrs(g->p, h, w);
    ptrs(g->g, h, gr);
    TRY(g->kinds[i]->backward(g->states[i], w, g->hn[i], g->dx, g->dn, gr));
    TRY(norm(g, SMX_BWD, g->hx[i], h->norm_w, h->norm_b, g->hmean[i], g->hrstd[i], g->dn, g->dtmp));
    TRY(smx_cuda_add(g->dx, g->dtmp, Td));
  }
  if (d->max_len > 0) TRY(smx_cuda_positions_grad(d->T, d->L, d->d, g->dx, g->g + d->pos));
  op_layer *e = &g->emb; /* the embedding's variant overwrites its table gradient: add it to the head's */
  e->t[EMB_IDS] = g->ids, e->t[EMB_TABLE] = g->p + d->emb, e->t[EMB_DY] = g->dx, e->t[EMB_DTABLE] = g->demb;
  TRY(op_layer_run(e, SMX_BWD));
  return smx_cuda_add(g->g + d->emb, g->demb, d->V * d->d);
}

smx_status model_cuda_step(model_cuda *g, const int32_t *ids, const int32_t *labels, int bwd, float *loss, int32_t *pred) {
  int64_t T = g->d.T;
  for (int64_t t = 0; t < T; t++) g->h_ids[t] = (float)ids[t], g->h_labels[t] = (float)labels[t];
  TRY(smx_gpu_memcpy_h2d(g->ids, g->h_ids, (size_t)T * sizeof(float)));
  TRY(smx_gpu_memcpy_h2d(g->labels, g->h_labels, (size_t)T * sizeof(float)));
  TRY(forward(g));
  /* The head's forward when the loss or the predictions need it: a backward pass overwrites the
   * logits with their gradient, so predictions of a training step take one more logits GEMM. */
  if (!bwd || pred) {
    op_layer *c = &g->ce;
    c->t[CE_X] = head_input(g), c->t[CE_W] = g->p + g->d.emb, c->t[CE_LABELS] = g->labels, c->t[CE_LOSS] = g->loss;
    TRY(op_layer_run(c, SMX_FWD));
    if (pred) TRY(smx_lm_head_ce_cuda_gather_argmax(c->state, g->pred));
  }
  if (bwd) TRY(backward(g));
  if (pred) { /* after the backward is queued: one wait per step */
    TRY(smx_gpu_memcpy_d2h(g->h_pred, g->pred, (size_t)T * sizeof(float)));
    for (int64_t t = 0; t < T; t++) pred[t] = (int32_t)g->h_pred[t];
  }
  float l[2];
  TRY(smx_gpu_memcpy_d2h(l, g->loss, sizeof l)); /* waits for the step */
  *loss = l[0] + l[1];
  return SMX_OK;
}

smx_status model_cuda_adamw(model_cuda *g, int64_t step, const smx_adamw_hparams *h, size_t off, size_t n) {
  return smx_adamw_step_cuda((int64_t)n, step, h, g->p + off, g->g + off, g->m1 + off, g->m2 + off, g->p + off,
                             g->m1 + off, g->m2 + off);
}
