/* The check harness (include/seqmix/check.h). */
#include "seqmix/check.h"

#include <float.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/buffer.h"
#include "seqmix/philox.h"

/* Canary blocks of GUARD floats sit before and after every tensor a variant sees. The canary is a
 * signalling-NaN bit pattern no computation produces; outputs start as a distinct quiet NaN, so an
 * element the variant never writes shows up as non-finite. */
#define GUARD 64
static const uint32_t CANARY_BITS = 0x7FA5A5A5u;
static const uint32_t UNWRITTEN_BITS = 0x7FC0DEADu;

const char *smx_verdict_name(smx_verdict v) {
  return v == SMX_PASS ? "pass" : v == SMX_FAIL ? "FAIL" : "skip";
}

struct smx_check_case {
  smx_config cfg;
  uint64_t seed;
  size_t numel[SMX_MAX_TENSORS];
  float *in32[SMX_MAX_TENSORS];     /* generated values of every slot (inputs are what matter) */
  double *oracle[SMX_MAX_TENSORS];  /* fp64 oracle, all slots */
  float *naive[SMX_MAX_TENSORS];    /* naive fp32 reference, all slots */
  float *got[SMX_MAX_TENSORS];      /* variant output, first run */
  float *naive16[SMX_MAX_TENSORS];  /* naive reference in bf16 storage (made when a bf16 variant is checked) */
  float *stage;                     /* host staging: GUARD + max numel + GUARD */
  uint16_t *stage16;                /* the same for bf16 tensors */
  size_t stage_len;
  smx_buffer dev[2][SMX_MAX_TENSORS];
};

/* Backward reads the forward's inputs, the output gradients and the saved outputs. */
static int input_of(const smx_tensor_desc *t, smx_pass p) {
  return t->role == SMX_ROLE_INPUT || (p == SMX_BWD && (t->role == SMX_ROLE_GRAD_OUT || t->saved));
}
static int output_of(const smx_tensor_desc *t, smx_pass p) {
  return p == SMX_FWD ? t->role == SMX_ROLE_OUTPUT : t->role == SMX_ROLE_GRAD_IN;
}
/* Whether a slot is stored in bf16 for this variant. */
static int bf16_slot(const smx_variant *v, const smx_tensor_desc *t) { return v->dtype == SMX_BF16 && !t->f32_always; }
static float round_bf16(float x) { return smx_bf16_to_f32(smx_f32_to_bf16(x)); }

static float bits_to_float(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

void smx_check_case_free(smx_check_case *cc) {
  if (!cc) return;
  for (int s = 0; s < SMX_MAX_TENSORS; s++) {
    free(cc->in32[s]);
    free(cc->oracle[s]);
    free(cc->naive[s]);
    free(cc->got[s]);
    free(cc->naive16[s]);
    smx_buffer_free(&cc->dev[0][s]);
    smx_buffer_free(&cc->dev[1][s]);
  }
  free(cc->stage);
  free(cc->stage16);
  free(cc);
}

smx_status smx_check_case_new(const smx_config *c, uint64_t seed, smx_check_case **out) {
  *out = NULL;
  const smx_op *op = c->op;
  smx_check_case *cc = calloc(1, sizeof *cc);
  if (!cc) return smx_fail(SMX_ERR_NOMEM, "cannot allocate a check case");
  cc->cfg = *c;
  cc->seed = seed;
  size_t max_n = 0;
  for (int s = 0; s < op->n_tensors; s++) {
    size_t n = op->numel(c, s);
    cc->numel[s] = n;
    if (n > max_n) max_n = n;
    size_t alloc = n ? n : 1;
    cc->in32[s] = calloc(alloc, sizeof(float));
    cc->oracle[s] = calloc(alloc, sizeof(double));
    cc->naive[s] = calloc(alloc, sizeof(float));
    cc->got[s] = calloc(alloc, sizeof(float));
    if (!cc->in32[s] || !cc->oracle[s] || !cc->naive[s] || !cc->got[s]) {
      smx_check_case_free(cc);
      return smx_fail(SMX_ERR_NOMEM, "cannot allocate check tensors for %s", op->name);
    }
    smx_role r = op->tensors[s].role;
    if (r == SMX_ROLE_INPUT || r == SMX_ROLE_GRAD_OUT) {
      smx_input_values(c, seed, s, cc->in32[s], n);
      for (size_t i = 0; i < n; i++) {
        cc->oracle[s][i] = cc->in32[s][i];
        cc->naive[s][i] = cc->in32[s][i];
      }
    }
  }
  cc->stage_len = max_n + 2 * GUARD;
  cc->stage = malloc(cc->stage_len * sizeof(float));
  cc->stage16 = malloc(cc->stage_len * sizeof(uint16_t));
  if (!cc->stage || !cc->stage16) {
    smx_check_case_free(cc);
    return smx_fail(SMX_ERR_NOMEM, "cannot allocate check staging memory");
  }
  op->oracle_f64(c, SMX_FWD, cc->oracle);
  op->oracle_f64(c, SMX_BWD, cc->oracle);
  op->naive_f32(c, SMX_FWD, cc->naive);
  op->naive_f32(c, SMX_BWD, cc->naive);
  /* a variant's backward gets the saved outputs as the oracle computed them, rounded to fp32 */
  for (int s = 0; s < op->n_tensors; s++)
    if (op->tensors[s].saved)
      for (size_t i = 0; i < cc->numel[s]; i++) cc->in32[s][i] = (float)cc->oracle[s][i];
  *out = cc;
  return SMX_OK;
}

/* The naive reference in bf16 storage: inputs rounded to bf16, fp32 arithmetic, every output
 * (saved ones before the backward reads them) rounded to bf16. Slots that stay fp32 in bf16
 * variants are not rounded. */
static smx_status make_naive16(smx_check_case *cc, const smx_variant *v) {
  const smx_op *op = cc->cfg.op;
  if (cc->naive16[0]) return SMX_OK;
  for (int s = 0; s < op->n_tensors; s++) {
    size_t n = cc->numel[s];
    cc->naive16[s] = calloc(n ? n : 1, sizeof(float));
    if (!cc->naive16[s]) return smx_fail(SMX_ERR_NOMEM, "cannot allocate the bf16 naive reference");
    smx_role r = op->tensors[s].role;
    if (r == SMX_ROLE_INPUT || r == SMX_ROLE_GRAD_OUT)
      for (size_t i = 0; i < n; i++)
        cc->naive16[s][i] = bf16_slot(v, &op->tensors[s]) ? round_bf16(cc->in32[s][i]) : cc->in32[s][i];
  }
  for (int pi = 0; pi < 2; pi++) {
    op->naive_f32(&cc->cfg, (smx_pass)pi, cc->naive16);
    for (int s = 0; s < op->n_tensors; s++)
      if (output_of(&op->tensors[s], (smx_pass)pi) && bf16_slot(v, &op->tensors[s]))
        for (size_t i = 0; i < cc->numel[s]; i++) cc->naive16[s][i] = round_bf16(cc->naive16[s][i]);
  }
  return SMX_OK;
}

/* Writes [canary | values or "unwritten" | canary] into the slot's buffer on the variant's device,
 * in the slot's storage type (bf16 canaries are a 16-bit signalling NaN, 0x7FA5). */
static const uint16_t CANARY16 = 0x7FA5u, UNWRITTEN16 = 0x7FC1u;

static smx_status stage_slot(smx_check_case *cc, const smx_variant *v, int s, int as_output) {
  size_t n = cc->numel[s];
  smx_device d = v->device;
  smx_buffer *b = &cc->dev[d][s];
  if (bf16_slot(v, &cc->cfg.op->tensors[s])) {
    smx_status st = smx_buffer_reserve(b, d, (n + 2 * GUARD) * sizeof(uint16_t));
    if (st != SMX_OK) return st;
    uint16_t *h = cc->stage16;
    for (size_t i = 0; i < GUARD; i++) h[i] = h[GUARD + n + i] = CANARY16;
    for (size_t i = 0; i < n; i++) h[GUARD + i] = as_output ? UNWRITTEN16 : smx_f32_to_bf16(cc->in32[s][i]);
    return smx_buffer_write(b, 0, h, (n + 2 * GUARD) * sizeof(uint16_t));
  }
  smx_status st = smx_buffer_reserve(b, d, (n + 2 * GUARD) * sizeof(float));
  if (st != SMX_OK) return st;
  float canary = bits_to_float(CANARY_BITS), unwritten = bits_to_float(UNWRITTEN_BITS);
  for (size_t i = 0; i < GUARD; i++) cc->stage[i] = cc->stage[GUARD + n + i] = canary;
  if (as_output)
    for (size_t i = 0; i < n; i++) cc->stage[GUARD + i] = unwritten;
  else
    memcpy(cc->stage + GUARD, cc->in32[s], n * sizeof(float));
  return smx_buffer_write(b, 0, cc->stage, (n + 2 * GUARD) * sizeof(float));
}

/* Reads a slot back, widened to fp32 in cc->stage + GUARD; reports whether both canary blocks are
 * intact and, for an input, whether it still holds what was staged. */
static smx_status fetch_slot(smx_check_case *cc, const smx_variant *v, int s, int *canary_ok, int *intact) {
  size_t n = cc->numel[s];
  smx_buffer *b = &cc->dev[v->device][s];
  *canary_ok = 1;
  *intact = 1;
  if (bf16_slot(v, &cc->cfg.op->tensors[s])) {
    uint16_t *h = cc->stage16;
    smx_status st = smx_buffer_read(h, b, 0, (n + 2 * GUARD) * sizeof(uint16_t));
    if (st != SMX_OK) return st;
    for (size_t i = 0; i < GUARD; i++)
      if (h[i] != CANARY16 || h[GUARD + n + i] != CANARY16) *canary_ok = 0;
    for (size_t i = 0; i < n; i++) {
      if (h[GUARD + i] != smx_f32_to_bf16(cc->in32[s][i])) *intact = 0;
      cc->stage[GUARD + i] = smx_bf16_to_f32(h[GUARD + i]);
    }
    return SMX_OK;
  }
  smx_status st = smx_buffer_read(cc->stage, b, 0, (n + 2 * GUARD) * sizeof(float));
  if (st != SMX_OK) return st;
  for (size_t i = 0; i < GUARD; i++) {
    uint32_t a, c;
    memcpy(&a, &cc->stage[i], 4);
    memcpy(&c, &cc->stage[GUARD + n + i], 4);
    if (a != CANARY_BITS || c != CANARY_BITS) *canary_ok = 0;
  }
  *intact = memcmp(cc->stage + GUARD, cc->in32[s], n * sizeof(float)) == 0;
  return SMX_OK;
}

static void fail_reason(smx_check_outcome *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_reason(smx_check_outcome *out, const char *fmt, ...) {
  if (out->verdict == SMX_FAIL) return; /* keep the first failure */
  out->verdict = SMX_FAIL;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out->reason, sizeof out->reason, fmt, ap);
  va_end(ap);
}

/* Runs one pass once: stages every slot the pass uses, runs, checks canaries and inputs, and leaves
 * outputs in dst[slot]. */
static smx_status run_pass(smx_check_case *cc, const smx_variant *v, void *state, smx_pass p, float **dst,
                           int *canary_ok, int *inputs_intact, int *ran) {
  const smx_op *op = cc->cfg.op;
  smx_device d = v->device;
  void *ptr[SMX_MAX_TENSORS] = {0};
  for (int s = 0; s < op->n_tensors; s++) {
    const smx_tensor_desc *t = &op->tensors[s];
    if (!input_of(t, p) && !output_of(t, p)) continue;
    smx_status st = stage_slot(cc, v, s, output_of(t, p));
    if (st != SMX_OK) return st;
    ptr[s] = (char *)cc->dev[d][s].ptr + GUARD * (bf16_slot(v, t) ? sizeof(uint16_t) : sizeof(float));
  }
  *ran = 0;
  smx_status rs = v->run(state, p, ptr);
  if (rs != SMX_OK) return rs;
  *ran = 1;
  *canary_ok = 1;
  *inputs_intact = 1;
  for (int s = 0; s < op->n_tensors; s++) {
    const smx_tensor_desc *t = &op->tensors[s];
    if (!input_of(t, p) && !output_of(t, p)) continue;
    int ok = 1, intact = 1;
    smx_status st = fetch_slot(cc, v, s, &ok, &intact);
    if (st != SMX_OK) return st;
    if (!ok) *canary_ok = 0;
    if (input_of(t, p)) {
      if (!intact) *inputs_intact = 0;
    } else {
      memcpy(dst[s], cc->stage + GUARD, cc->numel[s] * sizeof(float));
    }
  }
  return SMX_OK;
}

static void measure(const smx_check_case *cc, const smx_variant *v, int s, smx_check_row *row) {
  size_t n = cc->numel[s];
  const double *want = cc->oracle[s];
  int b16 = bf16_slot(v, &cc->cfg.op->tensors[s]);
  const float *got = cc->got[s], *naive = v->dtype == SMX_BF16 ? cc->naive16[s] : cc->naive[s];
  row->err = row->err_naive = row->ref_max = 0;
  row->nonfinite = 0;
  row->worst_index = 0;
  row->worst_got = row->worst_want = 0;
  for (size_t i = 0; i < n; i++) {
    double w = want[i];
    if (fabs(w) > row->ref_max) row->ref_max = fabs(w);
    double en = fabs((double)naive[i] - w);
    if (en > row->err_naive) row->err_naive = en;
    if (!isfinite(got[i])) {
      if (isfinite(w)) {
        if (row->nonfinite == 0) {
          row->worst_index = i;
          row->worst_got = got[i];
          row->worst_want = w;
        }
        row->nonfinite++;
      }
      continue;
    }
    double e = fabs((double)got[i] - w);
    if (e > row->err && row->nonfinite == 0) {
      row->err = e;
      row->worst_index = i;
      row->worst_got = got[i];
      row->worst_want = w;
    } else if (e > row->err) {
      row->err = e;
    }
  }
  const smx_op *op = cc->cfg.op;
  const smx_tolerance *t = &op->tolerance[s];
  row->scale = op->floor_scale ? op->floor_scale(&cc->cfg, s, cc->oracle) : -1;
  if (row->scale < 0) row->scale = row->ref_max;
  /* the floor is in units of the storage type's epsilon: 2^-7 for bf16 */
  row->bound = t->k * row->err_naive + t->c * (b16 ? 0.0078125 : FLT_EPSILON) * row->scale;
}

smx_status smx_check_variant(smx_check_case *cc, const smx_variant *v, smx_check_outcome *out) {
  memset(out, 0, sizeof *out);
  const smx_op *op = cc->cfg.op;
  const char *skip = smx_variant_skip_reason(v, &cc->cfg);
  if (v->baseline) skip = "a baseline: it does not compute the op";
  if (skip) {
    out->verdict = SMX_SKIP;
    snprintf(out->reason, sizeof out->reason, "%s", skip);
    return SMX_OK;
  }
  out->verdict = SMX_PASS;
  if (v->dtype == SMX_BF16) {
    smx_status ns = make_naive16(cc, v);
    if (ns != SMX_OK) return ns;
  }
  void *state = NULL;
  smx_status cs = v->create(&cc->cfg, &state);
  if (cs == SMX_ERR_UNSUPPORTED || cs == SMX_ERR_NO_DEVICE) {
    out->verdict = SMX_SKIP;
    snprintf(out->reason, sizeof out->reason, "%s", smx_last_error());
    return SMX_OK;
  }
  if (cs != SMX_OK) {
    fail_reason(out, "create failed: %s", smx_last_error());
    return SMX_OK;
  }

  float *second[SMX_MAX_TENSORS] = {0};
  smx_status harness = SMX_OK;
  for (int pi = 0; pi < 2 && harness == SMX_OK; pi++) {
    smx_pass p = (smx_pass)pi;
    if (!(v->passes & SMX_PASS_BIT(p))) continue;
    int canary_ok = 1, intact = 1, ran = 0;
    smx_status rs = run_pass(cc, v, state, p, cc->got, &canary_ok, &intact, &ran);
    if (rs != SMX_OK) {
      if (ran || rs == SMX_ERR_BACKEND || rs == SMX_ERR_UNSUPPORTED || rs == SMX_ERR_INVALID)
        fail_reason(out, "%s run failed: %s", smx_pass_name(p), smx_last_error());
      else
        harness = rs;
      continue;
    }
    /* CPU results must be bitwise repeatable at a fixed thread count (DESIGN.md). */
    int repeatable = 1;
    if (v->device == SMX_DEV_CPU) {
      int c2 = 1, i2 = 1;
      for (int s = 0; s < op->n_tensors; s++) {
        if (!output_of(&op->tensors[s], p)) continue;
        second[s] = malloc((cc->numel[s] ? cc->numel[s] : 1) * sizeof(float));
        if (!second[s]) harness = smx_fail(SMX_ERR_NOMEM, "cannot allocate check memory");
      }
      if (harness != SMX_OK) break;
      rs = run_pass(cc, v, state, p, second, &c2, &i2, &ran);
      if (rs != SMX_OK) {
        fail_reason(out, "%s second run failed: %s", smx_pass_name(p), smx_last_error());
        continue;
      }
      for (int s = 0; s < op->n_tensors; s++) {
        if (!output_of(&op->tensors[s], p)) continue;
        if (memcmp(second[s], cc->got[s], cc->numel[s] * sizeof(float)) != 0) repeatable = 0;
        free(second[s]);
        second[s] = NULL;
      }
      canary_ok &= c2;
      intact &= i2;
    }
    for (int s = 0; s < op->n_tensors; s++) {
      /* an empty tensor (an optional input switched off, and its gradient) has nothing to compare */
      if (!output_of(&op->tensors[s], p) || cc->numel[s] == 0) continue;
      smx_check_row *row = &out->rows[out->n_rows++];
      row->pass = p;
      row->slot = s;
      row->tensor = op->tensors[s].name;
      measure(cc, v, s, row);
      row->canary_ok = canary_ok;
      row->inputs_intact = intact;
      row->repeatable = repeatable;
      row->passed = row->nonfinite == 0 && row->err <= row->bound && canary_ok && intact && repeatable;
      const char *pn = smx_pass_name(p);
      if (row->nonfinite)
        fail_reason(out, "%s %s: %zu non-finite values (first at index %zu: got %g, want %g)", pn, row->tensor,
                    row->nonfinite, row->worst_index, row->worst_got, row->worst_want);
      else if (row->err > row->bound)
        fail_reason(out, "%s %s: max error %.3g > bound %.3g (naive fp32 error %.3g) at index %zu: got %.9g, want %.9g",
                    pn, row->tensor, row->err, row->bound, row->err_naive, row->worst_index, row->worst_got,
                    row->worst_want);
      else if (!canary_ok)
        fail_reason(out, "%s: a canary around a tensor was overwritten (out-of-bounds write)", pn);
      else if (!intact)
        fail_reason(out, "%s: an input tensor was modified", pn);
      else if (!repeatable)
        fail_reason(out, "%s %s: two runs differ bitwise (not repeatable)", pn, row->tensor);
    }
  }
  for (int s = 0; s < SMX_MAX_TENSORS; s++) free(second[s]);
  v->destroy(state);
  return harness;
}

/* ---------------------------------------------------------------------------------------------
 * Finite differences of the fp64 reference. */

static double loss(const smx_config *c, double *const *t, const double *const *dy_of_out) {
  const smx_op *op = c->op;
  double f = 0;
  for (int s = 0; s < op->n_tensors; s++) {
    if (op->tensors[s].role != SMX_ROLE_OUTPUT || !dy_of_out[s]) continue;
    size_t n = op->numel(c, s);
    for (size_t i = 0; i < n; i++) f += dy_of_out[s][i] * t[s][i];
  }
  return f;
}

smx_status smx_check_fd(const smx_config *c, uint64_t seed, double *worst_rel, char *detail, size_t dn) {
  const smx_op *op = c->op;
  *worst_rel = 0;
  const char *unusable = op->fd_unusable ? op->fd_unusable(c) : NULL;
  if (unusable) {
    snprintf(detail, dn, "%s", unusable);
    return SMX_ERR_UNSUPPORTED;
  }
  snprintf(detail, dn, "no differentiable input");
  double *t[SMX_MAX_TENSORS] = {0}, *x0[SMX_MAX_TENSORS] = {0};
  const double *dy_of_out[SMX_MAX_TENSORS] = {0};
  smx_status st = SMX_OK;
  for (int s = 0; s < op->n_tensors; s++) {
    size_t n = op->numel(c, s);
    t[s] = calloc(n ? n : 1, sizeof(double));
    x0[s] = calloc(n ? n : 1, sizeof(double));
    if (!t[s] || !x0[s]) {
      st = smx_fail(SMX_ERR_NOMEM, "cannot allocate finite-difference tensors");
      goto done;
    }
    smx_role r = op->tensors[s].role;
    if (r == SMX_ROLE_INPUT || r == SMX_ROLE_GRAD_OUT) {
      float *v = malloc((n ? n : 1) * sizeof(float));
      if (!v) {
        st = smx_fail(SMX_ERR_NOMEM, "cannot allocate finite-difference tensors");
        goto done;
      }
      smx_input_values(c, seed, s, v, n);
      for (size_t i = 0; i < n; i++) t[s][i] = x0[s][i] = v[i];
      free(v);
    }
  }
  for (int s = 0; s < op->n_tensors; s++)
    if (op->tensors[s].role == SMX_ROLE_GRAD_OUT) dy_of_out[op->tensors[s].of] = t[s];

  op->oracle_f64(c, SMX_FWD, t);
  op->oracle_f64(c, SMX_BWD, t);
  const double h = 1e-5;
  for (int gs = 0; gs < op->n_tensors; gs++) {
    if (op->tensors[gs].role != SMX_ROLE_GRAD_IN) continue;
    int s = op->tensors[gs].of;
    size_t n = op->numel(c, s);
    double analytic = 0;
    double *dir = calloc(n ? n : 1, sizeof(double));
    double *grad = calloc(n ? n : 1, sizeof(double));
    if (!dir || !grad) {
      free(dir);
      free(grad);
      st = smx_fail(SMX_ERR_NOMEM, "cannot allocate finite-difference tensors");
      goto done;
    }
    memcpy(grad, t[gs], n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
      dir[i] = smx_philox_uniform(seed, 1000u + (uint32_t)s, i, -1.0f, 1.0f);
      analytic += grad[i] * dir[i];
    }
    for (size_t i = 0; i < n; i++) t[s][i] = x0[s][i] + h * dir[i];
    op->oracle_f64(c, SMX_FWD, t);
    double fp = loss(c, t, dy_of_out);
    for (size_t i = 0; i < n; i++) t[s][i] = x0[s][i] - h * dir[i];
    op->oracle_f64(c, SMX_FWD, t);
    double fm = loss(c, t, dy_of_out);
    memcpy(t[s], x0[s], n * sizeof(double));
    double fd = (fp - fm) / (2 * h);
    double scale = fmax(fmax(fabs(analytic), fabs(fd)), 1e-12);
    double rel = fabs(fd - analytic) / scale;
    if (rel >= *worst_rel) {
      *worst_rel = rel;
      snprintf(detail, dn, "d%s: finite difference %.12g vs backward %.12g", op->tensors[s].name, fd, analytic);
    }
    free(dir);
    free(grad);
  }
done:
  for (int s = 0; s < op->n_tensors; s++) {
    free(t[s]);
    free(x0[s]);
  }
  return st;
}
