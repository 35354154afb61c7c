/* Parsing and formatting of op configurations ("B=4,H=8,L=1000"). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/op.h"

int smx_config_param_index(const smx_op *op, const char *name) {
  for (int i = 0; i < op->n_params; i++)
    if (strcmp(op->params[i].name, name) == 0) return i;
  return -1;
}

int64_t smx_config_get(const smx_config *c, const char *name) {
  int i = smx_config_param_index(c->op, name);
  return i < 0 ? 0 : c->v[i];
}

static void param_list(const smx_op *op, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < op->n_params && o < n; i++)
    o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", op->params[i].name);
}

smx_status smx_config_parse(const smx_op *op, const char *spec, smx_config *out) {
  memset(out, 0, sizeof *out);
  out->op = op;
  int seen[SMX_MAX_PARAMS] = {0};
  for (int i = 0; i < op->n_params; i++) out->v[i] = op->params[i].def;

  char buf[512];
  if (!spec) spec = "";
  if (strlen(spec) >= sizeof buf) return smx_fail(SMX_ERR_INVALID, "shape '%.40s...' is too long", spec);
  snprintf(buf, sizeof buf, "%s", spec);
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') tok++;
    char *eq = strchr(tok, '=');
    if (!eq) {
      char names[128];
      param_list(op, names, sizeof names);
      return smx_fail(SMX_ERR_INVALID, "%s shape: '%s' is not NAME=VALUE (parameters: %s)", op->name, tok, names);
    }
    *eq = 0;
    const char *name = tok, *val = eq + 1;
    int idx = smx_config_param_index(op, name);
    if (idx < 0) {
      char names[128];
      param_list(op, names, sizeof names);
      return smx_fail(SMX_ERR_INVALID, "%s has no parameter '%s' (parameters: %s)", op->name, name, names);
    }
    if (seen[idx]) return smx_fail(SMX_ERR_INVALID, "%s shape: parameter %s is given twice", op->name, name);
    seen[idx] = 1;
    const smx_param_desc *p = &op->params[idx];
    errno = 0;
    char *end = NULL;
    long long x = strtoll(val, &end, 10);
    if (*val == 0 || *end != 0 || errno == ERANGE)
      return smx_fail(SMX_ERR_INVALID, "%s=%s is not an integer (accepted: %" PRId64 "..%" PRId64 ")", name, val,
                      p->min, p->max);
    if (x < p->min || x > p->max)
      return smx_fail(SMX_ERR_INVALID, "%s=%lld is out of range (accepted: %" PRId64 "..%" PRId64 ")", name, x, p->min,
                      p->max);
    out->v[idx] = x;
  }
  return op->validate ? op->validate(out) : SMX_OK;
}

int smx_config_param_shown(const smx_config *c, int i) {
  if (c->v[i] != c->op->params[i].def) return 1;
  for (const char *const *q = c->op->quiet_defaults; q && *q; q++)
    if (!strcmp(*q, c->op->params[i].name)) return 0;
  return 1;
}

void smx_config_format(const smx_config *c, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < c->op->n_params && o < n; i++) {
    if (!smx_config_param_shown(c, i)) continue;
    o += (size_t)snprintf(buf + o, n - o, "%s%s=%" PRId64, o ? "," : "", c->op->params[i].name, c->v[i]);
  }
}

size_t smx_config_bytes(const smx_config *c) {
  size_t total = 0;
  for (int s = 0; s < c->op->n_tensors; s++) total += c->op->numel(c, s) * sizeof(float);
  return total;
}

smx_status smx_state_copy_config(const smx_config *c, void **state) {
  smx_config *copy = malloc(sizeof *copy);
  *state = copy;
  if (!copy) return smx_fail(SMX_ERR_NOMEM, "cannot allocate a %s variant state", c->op->name);
  *copy = *c;
  return SMX_OK;
}

void smx_state_free(void *state) { free(state); }

size_t smx_state_no_workspace(const void *state) {
  (void)state;
  return 0;
}
