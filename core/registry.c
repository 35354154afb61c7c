/* Lookups over the registry table that kernels/registry.c defines. */
#include <stdio.h>
#include <string.h>

#include "seqmix/op.h"

const char *smx_pass_name(smx_pass p) { return p == SMX_BWD ? "bwd" : "fwd"; }

const smx_op *smx_op_find(const char *name) {
  for (int i = 0; i < smx_op_count(); i++)
    if (strcmp(smx_op_at(i)->name, name) == 0) return smx_op_at(i);
  return NULL;
}

const smx_variant *smx_variant_find(const smx_op *op, const char *name) {
  for (int i = 0; i < smx_variant_count(op); i++)
    if (strcmp(smx_variant_at(op, i)->name, name) == 0) return smx_variant_at(op, i);
  return NULL;
}

smx_status smx_op_lookup(const char *name, const smx_op **out) {
  *out = smx_op_find(name);
  if (*out) return SMX_OK;
  char known[256];
  size_t o = 0;
  known[0] = 0;
  for (int i = 0; i < smx_op_count() && o < sizeof known; i++)
    o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", i ? ", " : "", smx_op_at(i)->name);
  return smx_fail(SMX_ERR_INVALID, "unknown op '%s' (known: %s)", name, known);
}

smx_status smx_variant_lookup(const smx_op *op, const char *name, const smx_variant **out) {
  *out = smx_variant_find(op, name);
  if (*out) return SMX_OK;
  char known[512];
  size_t o = 0;
  known[0] = 0;
  for (int i = 0; i < smx_variant_count(op) && o < sizeof known; i++)
    o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", i ? ", " : "", smx_variant_at(op, i)->name);
  return smx_fail(SMX_ERR_INVALID, "op %s has no variant '%s' (known here: %s)", op->name, name, known);
}

const char *smx_variant_skip_reason(const smx_variant *v, const smx_config *c) {
  if (v->device == SMX_DEV_CUDA && smx_gpu_count() == 0) return smx_gpu_unavailable_reason();
  return v->unsupported ? v->unsupported(c) : NULL;
}

smx_status smx_resolve_filters(const char *op, const char *variant, const char *shape, const smx_op **only) {
  *only = NULL;
  smx_status s;
  if (op && (s = smx_op_lookup(op, only)) != SMX_OK) return s;
  if (shape) {
    if (!*only) return smx_fail(SMX_ERR_INVALID, "--shape needs --op (shapes are per op)");
    smx_config c;
    if ((s = smx_config_parse(*only, shape, &c)) != SMX_OK) return s;
  }
  if (!variant) return SMX_OK;
  if (*only) {
    const smx_variant *v;
    return smx_variant_lookup(*only, variant, &v);
  }
  for (int i = 0; i < smx_op_count(); i++)
    if (smx_variant_find(smx_op_at(i), variant)) return SMX_OK;
  return smx_fail(SMX_ERR_INVALID, "no op has a variant '%s' (see seqmix list)", variant);
}
