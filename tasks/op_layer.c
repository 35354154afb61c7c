/* A registered op's variant as a model layer: see tasks/op_layer.h. */
#include "tasks/op_layer.h"

#include <string.h>

#include "core/gpu.h"
#include "seqmix/buffer.h"

smx_status op_layer_create(op_layer *l, const char *op, const char *variant, const char *spec) {
  memset(l, 0, sizeof *l);
  smx_status s;
  if ((s = smx_op_lookup(op, &l->op)) != SMX_OK) return s;
  if ((s = smx_variant_lookup(l->op, variant, &l->v)) != SMX_OK) return s;
  if ((s = smx_config_parse(l->op, spec, &l->cfg)) != SMX_OK) return s;
  const char *why = smx_variant_skip_reason(l->v, &l->cfg);
  if (why) return smx_fail(SMX_ERR_INVALID, "%s %s cannot run %s: %s", op, variant, spec, why);
  if ((s = l->v->create(&l->cfg, &l->state)) != SMX_OK) {
    l->state = NULL;
    return s;
  }
  return SMX_OK;
}

size_t op_layer_numel(const op_layer *l, int slot) { return l->op->numel(&l->cfg, slot); }

float *op_layer_own(op_layer *l, int slot) {
  if (!l->own[slot]) {
    size_t bytes = (op_layer_numel(l, slot) ? op_layer_numel(l, slot) : 1) * sizeof(float);
    if (l->v->device == SMX_DEV_CUDA) { /* zeroed too, on the device */
      if (smx_gpu_calloc(&l->own[slot], bytes) != SMX_OK) return NULL;
    } else {
      l->own[slot] = smx_host_alloc(bytes); /* zeroed */
    }
  }
  return l->own[slot];
}

smx_status op_layer_set(op_layer *l, int param, int64_t v) {
  if (param < 0 || param >= l->op->n_params)
    return smx_fail(SMX_ERR_INVALID, "%s: parameter %d is out of range", l->op->name, param);
  if (l->cfg.v[param] == v && l->state) return SMX_OK;
  const smx_param_desc *pd = &l->op->params[param];
  if (v < pd->min || v > pd->max)
    return smx_fail(SMX_ERR_INVALID, "%s: %s=%lld is out of range (%lld..%lld)", l->op->name, pd->name, (long long)v,
                    (long long)pd->min, (long long)pd->max);
  smx_config c = l->cfg;
  c.v[param] = v;
  smx_status s;
  if (l->op->validate && (s = l->op->validate(&c)) != SMX_OK) return s;
  const char *why = smx_variant_skip_reason(l->v, &c);
  if (why) return smx_fail(SMX_ERR_INVALID, "%s %s cannot run %s=%lld: %s", l->op->name, l->v->name, pd->name, (long long)v, why);
  for (int i = 0; i < l->op->n_tensors; i++)
    if (l->own[i] && l->op->numel(&c, i) != l->op->numel(&l->cfg, i)) {
      if (l->v->device == SMX_DEV_CUDA)
        smx_gpu_free(l->own[i]);
      else
        smx_host_free(l->own[i]);
      l->own[i] = NULL;
    }
  if (l->state) l->v->destroy(l->state);
  l->state = NULL;
  l->cfg = c;
  if ((s = l->v->create(&l->cfg, &l->state)) != SMX_OK) {
    l->state = NULL;
    return s;
  }
  return SMX_OK;
}

smx_status op_layer_run(op_layer *l, smx_pass p) {
  for (int i = 0; i < l->op->n_tensors; i++)
    if (!l->t[i] && !(l->t[i] = op_layer_own(l, i)))
      return smx_fail(SMX_ERR_NOMEM, "%s: cannot allocate slot %s", l->op->name, l->op->tensors[i].name);
  smx_status s = l->v->run(l->state, p, l->t);
  memset(l->t, 0, sizeof l->t);
  return s;
}

void op_layer_destroy(op_layer *l) {
  if (l->state && l->v) l->v->destroy(l->state);
  for (int i = 0; i < SMX_MAX_TENSORS; i++) {
    if (l->v && l->v->device == SMX_DEV_CUDA)
      smx_gpu_free(l->own[i]);
    else
      smx_host_free(l->own[i]);
  }
  memset(l, 0, sizeof *l);
}
