/* attention, attention_decode, dma and dma_bias specifics: the selection against a brute-force
 * rank count (ties included), all-equal biases make row selection a sliding window, dma with every
 * key kept and a zero bias equals attention, decode steps replayed over a sequence equal the
 * causal forward, and dma_bias's two forms at A = 0. Every CPU variant of each op takes part.
 * (Variants against their references: tests/test_ops.c.) */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference/attention.h"
#include "reference/dma.h"
#include "seqmix/philox.h"

static float *uniform(size_t n, uint32_t stream) {
  float *x = malloc(n * sizeof *x);
  cr_assert_not_null(x);
  for (size_t i = 0; i < n; i++) x[i] = smx_philox_uniform(42, stream, i, -1.0f, 1.0f);
  return x;
}

static void run_variant(const smx_variant *v, const smx_config *c, smx_pass p, void *const *t) {
  void *state = NULL;
  cr_assert_eq(v->create(c, &state), SMX_OK, "%s: %s", v->name, smx_last_error());
  cr_assert_eq(v->run(state, p, t), SMX_OK, "%s: %s", v->name, smx_last_error());
  v->destroy(state);
}

/* rank of key j at row i by the documented order, counted directly */
static int32_t brute_keep_until(const float *b, int64_t L, int64_t w, int select, int64_t j) {
  if (select == DMA_SELECT_SHARED) {
    int64_t beaten = 0;
    for (int64_t k = 0; k < L; k++) beaten += b[k] > b[j] || (b[k] == b[j] && k > j);
    return beaten < w ? (int32_t)L : (int32_t)j;
  }
  for (int64_t i = j; i < L; i++) {
    int64_t beaten = 0;
    for (int64_t k = 0; k <= i; k++) beaten += b[k] > b[j] || (b[k] == b[j] && k > j);
    if (beaten >= w) return (int32_t)i;
  }
  return (int32_t)L;
}

Test(dma, selection_matches_a_brute_force_rank_count) {
  const int64_t L = 300;
  float *b = uniform((size_t)L, 1);
  int32_t keep[300], heap[300];
  for (int tied = 0; tied < 2; tied++) {
    if (tied)
      for (int64_t j = 0; j < L; j++) b[j] = floorf((b[j] + 1.0f) * 2.0f) * 0.5f; /* 4 values */
    for (int select = 0; select < 2; select++)
      for (int64_t w = 1; w <= L + 1; w += 37) {
        smx_dma_keep_until(b, L, w, select, keep, heap);
        for (int64_t j = 0; j < L; j++)
          cr_assert_eq(keep[j], brute_keep_until(b, L, w, select, j), "tied=%d select=%d w=%lld key %lld", tied,
                       select, (long long)w, (long long)j);
      }
  }
  free(b);
}

Test(dma, equal_biases_make_row_selection_a_sliding_window) {
  const int64_t L = 50, w = 8;
  float b[50] = {0};
  int32_t keep[50], heap[50];
  smx_dma_keep_until(b, L, w, DMA_SELECT_ROW, keep, heap);
  for (int64_t j = 0; j < L; j++) cr_assert_eq(keep[j], j + w < L ? j + w : L, "key %lld", (long long)j);
  smx_dma_keep_until(b, L, w, DMA_SELECT_SHARED, keep, heap); /* the w most recent keys */
  for (int64_t j = 0; j < L; j++) cr_assert_eq(keep[j], j >= L - w ? L : j, "key %lld", (long long)j);
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
  return m;
}

Test(dma, every_key_kept_and_zero_bias_equals_attention) {
  smx_config ca, cd;
  cr_assert_eq(smx_config_parse(&smx_op_attention, "B=2,L=45,H=4,Hkv=2,P=32", &ca), SMX_OK);
  cr_assert_eq(smx_config_parse(&smx_op_dma, "B=2,L=45,H=4,Hkv=2,P=32,w=45", &cd), SMX_OK);
  size_t nq = smx_op_attention.numel(&ca, ATTN_Q), nk = smx_op_attention.numel(&ca, ATTN_K),
         nl = smx_op_attention.numel(&ca, ATTN_LSE), nb = smx_op_dma.numel(&cd, DMA_BIAS);
  float *q = uniform(nq, 1), *k = uniform(nk, 2), *v = uniform(nk, 3), *dout = uniform(nq, 4);
  float *bias = calloc(nb, sizeof *bias), *dbias = calloc(nb, sizeof *dbias);
  float *o = calloc(nq, 4), *lse = calloc(nl, 4), *dq = calloc(nq, 4), *dk = calloc(nk, 4), *dv = calloc(nk, 4);
  float *o2 = calloc(nq, 4), *lse2 = calloc(nl, 4), *dq2 = calloc(nq, 4), *dk2 = calloc(nk, 4), *dv2 = calloc(nk, 4);
  void *ta[ATTN_NSLOTS] = {[ATTN_Q] = q, [ATTN_K] = k, [ATTN_V] = v, [ATTN_O] = o, [ATTN_LSE] = lse,
                           [ATTN_DO] = dout, [ATTN_DQ] = dq, [ATTN_DK] = dk, [ATTN_DV] = dv};
  run_variant(&smx_attention_reference, &ca, SMX_FWD, ta);
  run_variant(&smx_attention_reference, &ca, SMX_BWD, ta);
  int ran = 0;
  for (int i = 0; i < smx_variant_count(&smx_op_dma); i++) {
    const smx_variant *var = smx_variant_at(&smx_op_dma, i);
    if (var->device != SMX_DEV_CPU || var->baseline) continue;
    void *td[DMA_NSLOTS] = {[DMA_Q] = q,     [DMA_K] = k,     [DMA_V] = v,   [DMA_BIAS] = bias,
                            [DMA_O] = o2,    [DMA_LSE] = lse2, [DMA_DO] = dout, [DMA_DQ] = dq2,
                            [DMA_DK] = dk2,  [DMA_DV] = dv2,  [DMA_DBIAS] = dbias};
    run_variant(var, &cd, SMX_FWD, td);
    /* the backward reads o and lse: give it attention's, so only the dma path differs */
    td[DMA_O] = o;
    td[DMA_LSE] = lse;
    run_variant(var, &cd, SMX_BWD, td);
    double tol = 1e-5; /* fp32 results of two kernels summing in different orders */
    cr_assert_lt(max_abs_diff(o, o2, nq), tol, "%s o", var->name);
    cr_assert_lt(max_abs_diff(lse, lse2, nl), tol, "%s lse", var->name);
    cr_assert_lt(max_abs_diff(dq, dq2, nq), tol, "%s dq", var->name);
    cr_assert_lt(max_abs_diff(dk, dk2, nk), tol, "%s dk", var->name);
    cr_assert_lt(max_abs_diff(dv, dv2, nk), tol, "%s dv", var->name);
    ran++;
  }
  cr_assert_gt(ran, 0);
  void *all[] = {q, k, v, dout, bias, dbias, o, lse, dq, dk, dv, o2, lse2, dq2, dk2, dv2};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

Test(attention, decode_steps_replayed_over_a_sequence_equal_the_causal_forward) {
  const int64_t L = 29, H = 6, Hkv = 2, P = 32;
  smx_config ca;
  cr_assert_eq(smx_config_parse(&smx_op_attention, "B=1,L=29,H=6,Hkv=2,P=32", &ca), SMX_OK);
  size_t nq = (size_t)(L * H * P), nk = (size_t)(L * Hkv * P);
  float *q = uniform(nq, 5), *k = uniform(nk, 6), *v = uniform(nk, 7), *o = calloc(nq, 4), *lse = calloc((size_t)(H * L), 4);
  void *ta[ATTN_NSLOTS] = {[ATTN_Q] = q, [ATTN_K] = k, [ATTN_V] = v, [ATTN_O] = o, [ATTN_LSE] = lse};
  run_variant(&smx_attention_reference, &ca, SMX_FWD, ta);
  int ran = 0;
  for (int i = 0; i < smx_variant_count(&smx_op_attention_decode); i++) {
    const smx_variant *var = smx_variant_at(&smx_op_attention_decode, i);
    if (var->device != SMX_DEV_CPU || var->baseline) continue;
    for (int64_t t = 0; t < L; t++) {
      char spec[96];
      snprintf(spec, sizeof spec, "B=1,S=%lld,H=6,Hkv=2,P=32", (long long)(t + 1));
      smx_config cd;
      cr_assert_eq(smx_config_parse(&smx_op_attention_decode, spec, &cd), SMX_OK);
      float od[6 * 32];
      /* token t's query; the cache is the first t + 1 rows of k and v (B = 1: a prefix) */
      void *td[DECODE_NSLOTS] = {[DECODE_Q] = q + t * H * P, [DECODE_K] = k, [DECODE_V] = v, [DECODE_O] = od};
      run_variant(var, &cd, SMX_FWD, td);
      cr_assert_lt(max_abs_diff(od, o + t * H * P, (size_t)(H * P)), 1e-6, "%s step %lld", var->name, (long long)t);
    }
    ran++;
  }
  cr_assert_gt(ran, 0);
  free(q), free(k), free(v), free(o), free(lse);
}

Test(dma_bias, a_zero_A_gives_a_constant_bias_in_both_forms) {
  for (int form = 0; form < 2; form++) {
    smx_config c;
    char spec[64];
    snprintf(spec, sizeof spec, "B=1,L=9,Hkv=2,P=8,form=%d", form);
    cr_assert_eq(smx_config_parse(&smx_op_dma_bias, spec, &c), SMX_OK);
    double v[9 * 16], W[16 * 2], A[2] = {0, 0}, bias[18];
    for (int i = 0; i < 9 * 16; i++) v[i] = smx_philox_uniform(1, 0, (uint64_t)i, -1, 1);
    for (int i = 0; i < 32; i++) W[i] = smx_philox_uniform(1, 1, (uint64_t)i, -1, 1);
    double *t[DMAB_NSLOTS] = {[DMAB_V] = v, [DMAB_W] = W, [DMAB_A] = A, [DMAB_BIAS] = bias};
    smx_op_dma_bias.oracle_f64(&c, SMX_FWD, t);
    for (int i = 0; i < 18; i++) cr_assert_eq(bias[i], form ? 1.0 : 0.0, "form %d bias[%d] = %g", form, i, bias[i]);
  }
}

Test(attention, grouped_heads_must_divide) {
  smx_config c;
  cr_assert_eq(smx_config_parse(&smx_op_attention, "H=6,Hkv=4", &c), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "Hkv=4 must divide H=6") != NULL, "%s", smx_last_error());
}
