/* Long-context efficiency (tasks/efficiency.c, cli/cmd_task_efficiency.c): every architecture is a
 * valid model; prefill and decode are timed (a kind without a decode step would be refused in one line); the
 * longest context within a budget is the largest one whose state fits; the command's table, JSON
 * and bad input. Timing values are not checked (never timed unit tests), only that they were taken.
 *   build/tests/seqmix_tests --filter efficiency/'*'
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "seqmix/device.h"
#include "seqmix/efficiency.h"
#include "test_helpers.h"

static const smx_eff_shape small = {256, 16, 8, 2, 32};

Test(efficiency, every_architecture_is_a_model) {
  cr_assert_geq(smx_eff_arch_count(), 10);
  for (int i = 0; i < smx_eff_arch_count(); i++) {
    const smx_eff_arch *a = smx_eff_arch_at(i), *b = NULL;
    cr_assert_eq(smx_eff_arch_lookup(a->name, &b), SMX_OK);
    cr_assert_eq(a, b);
    smx_model_config mc;
    cr_assert_eq(smx_eff_model_config(a, &small, &mc), SMX_OK, "%s: %s", a->name, smx_last_error());
    cr_assert_eq(mc.max_len, 0, "%s: learned positions would cap the context", a->name);
    smx_model *m = NULL;
    cr_assert_eq(smx_model_create(&mc, 1, 4, &m), SMX_OK, "%s: %s", a->name, smx_last_error());
    smx_model_destroy(m);
  }
  const smx_eff_arch *a;
  cr_assert_eq(smx_eff_arch_lookup("mamba", &a), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "unknown architecture 'mamba' (known: attention, dma, ssd"), "%s", smx_last_error());
}

/* MixCon's 1:7 has one attention layer in 8: its state beyond the Conba layers' constant part
 * grows at 1/8 of the attention-only model's rate. */
Test(efficiency, hybrid_state_grows_with_its_attention_layers) {
  const smx_eff_arch *att, *mix;
  cr_assert_eq(smx_eff_arch_lookup("attention", &att), SMX_OK);
  cr_assert_eq(smx_eff_arch_lookup("mixcon-1:7", &mix), SMX_OK);
  smx_model_config ca, cm;
  cr_assert_eq(smx_eff_model_config(att, &small, &ca), SMX_OK);
  cr_assert_eq(smx_eff_model_config(mix, &small, &cm), SMX_OK);
  size_t a1, a2, m1, m2;
  cr_assert_eq(smx_model_state_bytes(&ca, 1000, &a1), SMX_OK);
  cr_assert_eq(smx_model_state_bytes(&ca, 2000, &a2), SMX_OK);
  cr_assert_eq(smx_model_state_bytes(&cm, 1000, &m1), SMX_OK);
  cr_assert_eq(smx_model_state_bytes(&cm, 2000, &m2), SMX_OK);
  cr_expect_eq(a2 - a1, 8 * (m2 - m1));
  cr_expect_eq(a2 - a1, (size_t)(8 * 2 * 1000 * 16 * 4)); /* 8 layers of k and v, d = 16, fp32 */
}

Test(efficiency, prefill_and_decode_are_timed_where_they_exist) {
  for (int i = 0; i < smx_eff_arch_count(); i++) {
    const smx_eff_arch *a = smx_eff_arch_at(i);
    smx_model_config mc;
    cr_assert_eq(smx_eff_model_config(a, &small, &mc), SMX_OK);
    double t = NAN;
    cr_assert_eq(smx_eff_prefill(&mc, 24, 1, &t), SMX_OK, "%s: %s", a->name, smx_last_error());
    cr_expect(t > 0 && isfinite(t), "%s: prefill %g s", a->name, t);
    smx_status s = smx_eff_decode(&mc, 40, 3, &t);
    size_t bytes;
    int decodes = smx_model_state_bytes(&mc, 1, &bytes) == SMX_OK;
    if (decodes) {
      cr_expect_eq(s, SMX_OK, "%s: %s", a->name, smx_last_error());
      cr_expect(t > 0 && isfinite(t), "%s: decode %g s", a->name, t);
    } else {
      cr_expect_eq(s, SMX_ERR_UNSUPPORTED, "%s decodes without a decode step?", a->name);
      cr_expect(strstr(smx_last_error(), "cannot decode"), "%s", smx_last_error());
      cr_expect(isnan(t));
    }
  }
  smx_model_config mc;
  cr_assert_eq(smx_eff_model_config(smx_eff_arch_at(0), &small, &mc), SMX_OK);
  double t;
  cr_assert_eq(smx_eff_prefill(&mc, 0, 1, &t), SMX_ERR_INVALID);
  cr_assert_eq(smx_eff_decode(&mc, 10, 0, &t), SMX_ERR_INVALID);
}

Test(efficiency, longest_context_within_a_budget) {
  const smx_eff_arch *att, *ssd;
  cr_assert_eq(smx_eff_arch_lookup("attention", &att), SMX_OK);
  cr_assert_eq(smx_eff_arch_lookup("ssd", &ssd), SMX_OK);
  smx_model_config ca, cs;
  cr_assert_eq(smx_eff_model_config(att, &small, &ca), SMX_OK);
  cr_assert_eq(smx_eff_model_config(ssd, &small, &cs), SMX_OK);
  const size_t params = 10000;
  const double budget = 50e6;
  int64_t n;
  cr_assert_eq(smx_eff_max_context(&ca, params, budget, (int64_t)1 << 40, &n), SMX_OK);
  size_t at, next;
  cr_assert_eq(smx_model_state_bytes(&ca, n, &at), SMX_OK);
  cr_assert_eq(smx_model_state_bytes(&ca, n + 1, &next), SMX_OK);
  cr_expect_leq(params * 4.0 + (double)at, budget, "ctx %lld does not fit", (long long)n);
  cr_expect_gt(params * 4.0 + (double)next, budget, "ctx %lld + 1 fits too", (long long)n);
  /* a fixed state: any context, up to the limit */
  cr_assert_eq(smx_eff_max_context(&cs, params, budget, 12345, &n), SMX_OK);
  cr_expect_eq(n, 12345);
  /* the parameters alone exceed it */
  cr_assert_eq(smx_eff_max_context(&ca, params, 1000.0, 12345, &n), SMX_OK);
  cr_expect_eq(n, -1);
}

Test(efficiency, command_writes_tables_and_json) {
  static cli_result r;
  char out[700];
  snprintf(out, sizeof out, "%s/eff.json", test_dir("efficiency-cli"));
  run_cli(&r, (const char *[]){"task", "efficiency", "--arch", "attention,h3,mixcon-2:6", "--ctx", "16,32", "--d", "16",
                               "--heads", "2", "--mlp", "32", "--repetitions", "1", "--decode-tokens", "2", "--threads", "1",
                               "--out", out, NULL});
  cr_assert_eq(r.status, 0, "stderr: %s", r.err);
  cr_assert(strstr(r.out, "Prefill tokens/s") && strstr(r.out, "Decode tokens/s") && strstr(r.out, "| mixcon-2:6 |"), "%s", r.out);
  cr_assert(strstr(r.out, "| h3 | ") && !strstr(r.out, "(no decode)"), "%s", r.out);
  json_error_t e;
  json_t *doc = json_load_file(out, 0, &e);
  cr_assert_not_null(doc, "%s", e.text);
  cr_assert_str_eq(json_string_value(json_object_get(doc, "kind")), "efficiency");
  json_t *archs = json_object_get(doc, "architectures");
  cr_assert_eq(json_array_size(archs), 3);
  json_t *mix = json_array_get(archs, 2), *pts = json_object_get(mix, "points");
  cr_assert_str_eq(json_string_value(json_object_get(mix, "mixer")), "attention,conba*3");
  cr_assert_eq(json_array_size(pts), 2);
  json_t *p1 = json_array_get(pts, 1);
  cr_assert_eq(json_integer_value(json_object_get(p1, "ctx")), 32);
  cr_assert(json_number_value(json_object_get(p1, "prefill_tokens_per_s")) > 0);
  cr_assert(json_number_value(json_object_get(p1, "decode_tokens_per_s")) > 0);
  /* 2 attention layers (k, v of d = 16 per token) and 6 Conba layers (E = 32: 32 x (3 + 16)) */
  cr_assert_float_eq(json_number_value(json_object_get(p1, "state_bytes")), 4.0 * (2 * 2 * 32 * 16 + 6 * 32 * 19), 0.5);
  json_t *h3 = json_array_get(json_object_get(json_array_get(archs, 1), "points"), 0);
  cr_assert(json_number_value(json_object_get(h3, "decode_tokens_per_s")) > 0);
  cr_assert_null(json_object_get(h3, "decode_note"));
  cr_assert_str_eq(json_string_value(json_object_get(doc, "device")), "cpu");
  json_decref(doc);
  /* --md: the tables go to the file (as the suite writes efficiency.md), nothing to stdout */
  char md[700];
  snprintf(md, sizeof md, "%s/eff.md", test_dir("efficiency-cli"));
  run_cli(&r, (const char *[]){"task", "efficiency", "--arch", "h3", "--ctx", "16", "--d", "16", "--heads", "2", "--mlp", "32",
                               "--repetitions", "1", "--decode-tokens", "2", "--threads", "1", "--md", md, NULL});
  cr_assert_eq(r.status, 0, "stderr: %s", r.err);
  cr_assert_eq(r.out[0], 0, "stdout: %s", r.out);
  FILE *f = fopen(md, "r");
  cr_assert(f, "%s", md);
  char text[4096] = "";
  cr_assert(fread(text, 1, sizeof text - 1, f) > 0);
  fclose(f);
  cr_assert(!strncmp(text, "# Long-context efficiency on ", 29) && strstr(text, "| h3 |"), "%s", text);
}

static void usage_error(const char *const *args, const char *needle) {
  static cli_result r;
  run_cli(&r, args);
  cr_assert_eq(r.status, 2, "exit %d, stderr: %s", r.status, r.err);
  cr_assert_eq(r.err_lines, 1, "expected one error line, got: %s", r.err);
  cr_assert(strstr(r.err, needle) != NULL, "stderr '%s' lacks '%s'", r.err, needle);
}

Test(efficiency, bad_input_is_one_line) {
  usage_error((const char *[]){"task", "efficiency", "--arch", "gpt", NULL}, "unknown architecture 'gpt'");
  usage_error((const char *[]){"task", "efficiency", "--ctx", "64,32", NULL}, "--ctx lengths must increase");
  usage_error((const char *[]){"task", "efficiency", "--ctx", "0", NULL}, "--ctx '0' must be");
  usage_error((const char *[]){"task", "efficiency", "--ctx", "1k", NULL}, "--ctx '1k' must be");
  usage_error((const char *[]){"task", "efficiency", "--d", "-3", NULL}, "--d");
  usage_error((const char *[]){"task", "efficiency", "--heads", "3", "--ctx", "8", NULL}, "heads");
  usage_error((const char *[]){"task", "efficiency", "--device", "tpu", NULL}, "tpu");
  /* refused before minutes of measurement, not after them */
  usage_error((const char *[]){"task", "efficiency", "--arch", "ssd", "--ctx", "64", "--out", "/nonexistent-dir/e.json", NULL},
              "its folder /nonexistent-dir does not exist");
  usage_error((const char *[]){"task", "efficiency", "--arch", "ssd", "--ctx", "64", "--md", "/dev/null/e.md", NULL},
              "cannot write --md /dev/null/e.md");
}

/* --device cuda without a usable GPU: one line saying why, nothing measured */
Test(efficiency, cuda_prefill_needs_a_gpu) {
  if (smx_gpu_count() > 0) cr_skip_test("a GPU is present");
  static cli_result r;
  run_cli(&r, (const char *[]){"task", "efficiency", "--arch", "h3", "--ctx", "16", "--device", "cuda", NULL});
  cr_assert_neq(r.status, 0, "stdout: %s", r.out);
  cr_assert_eq(r.err_lines, 1, "%s", r.err);
  cr_assert(strstr(r.err, smx_gpu_unavailable_reason()), "%s", r.err);
  cr_assert_eq(r.out[0], 0, "%s", r.out);
}

/* --device cuda: the prefill timed on the GPU, decode left empty with its reason */
Test(efficiency, cuda_prefill_on_the_gpu) {
  if (smx_gpu_count() == 0) cr_skip_test("no GPU: %s", smx_gpu_unavailable_reason());
  static cli_result r;
  char out[700];
  snprintf(out, sizeof out, "%s/eff.json", test_dir("efficiency-cuda"));
  run_cli(&r, (const char *[]){"task", "efficiency", "--arch", "attention,mixcon-1:7,jamba-1:7,mixtral", "--ctx", "64,256", "--d",
                               "64", "--heads", "2", "--mlp", "64", "--repetitions", "1", "--device", "cuda", "--out", out, NULL});
  cr_assert_eq(r.status, 0, "stderr: %s", r.err);
  cr_assert(strstr(r.out, "Prefill on the GPU"), "%s", r.out);
  json_error_t e;
  json_t *doc = json_load_file(out, 0, &e);
  cr_assert_not_null(doc, "%s", e.text);
  cr_assert_str_eq(json_string_value(json_object_get(doc, "device")), "cuda");
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(doc, "architectures"), i, a) {
    json_t *p = json_array_get(json_object_get(a, "points"), 1);
    cr_assert(json_number_value(json_object_get(p, "prefill_tokens_per_s")) > 0, "%s", json_string_value(json_object_get(a, "name")));
    cr_assert(json_is_null(json_object_get(p, "decode_tokens_per_s")));
    cr_assert(strstr(json_string_value(json_object_get(p, "decode_note")), "the decoder runs on the CPU only"));
    cr_assert(json_number_value(json_object_get(p, "state_bytes")) > 0);
  }
  json_decref(doc);
}
