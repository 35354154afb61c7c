/* Status codes, JSON files (atomic writes; truncated, corrupt and foreign files), identifiers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "seqmix/hardware.h"
#include "seqmix/json_io.h"
#include "seqmix/status.h"
#include "test_helpers.h"

Test(status, messages_and_exit_codes) {
  smx_status s = smx_fail(SMX_ERR_INVALID, "L=%d is out of range", 0);
  cr_assert_eq(s, SMX_ERR_INVALID);
  cr_assert_str_eq(smx_last_error(), "L=0 is out of range");
  cr_assert_eq(smx_status_exit_code(SMX_OK), 0);
  cr_assert_eq(smx_status_exit_code(SMX_ERR_CHECK), 1);
  cr_assert_eq(smx_status_exit_code(SMX_ERR_BACKEND), 1);
  cr_assert_eq(smx_status_exit_code(SMX_ERR_INVALID), 2);
  cr_assert_eq(smx_status_exit_code(SMX_ERR_PARSE), 2);
  cr_assert_str_eq(smx_status_name(SMX_ERR_NO_DEVICE), "no device");
}

Test(json, atomic_write_then_read) {
  const char *dir = test_dir("json");
  char path[600];
  snprintf(path, sizeof path, "%s/a.json", dir);
  json_t *doc = smx_json_new_doc("bench");
  json_object_set_new(doc, "x", json_integer(3));
  cr_assert_eq(smx_json_write_atomic(path, doc), SMX_OK, "%s", smx_last_error());
  json_decref(doc);
  json_t *back = NULL;
  cr_assert_eq(smx_json_read_doc(path, "bench", &back), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(json_integer_value(json_object_get(back, "x")), 3);
  json_decref(back);
  /* no temporary file is left behind */
  char cmd[700];
  snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", dir);
  cr_assert_neq(system(cmd), 0, "a temporary file was left in %s", dir);
}

static smx_status read_text(const char *text, const char *kind) {
  const char *dir = test_dir("json-bad");
  char path[600];
  snprintf(path, sizeof path, "%s/bad.json", dir);
  write_text(path, text);
  json_t *doc = NULL;
  smx_status s = smx_json_read_doc(path, kind, &doc);
  cr_assert_null(doc);
  cr_assert(strstr(smx_last_error(), "bad.json") != NULL, "the message names the file: %s", smx_last_error());
  return s;
}

Test(json, truncated_corrupt_and_foreign_files_are_errors) {
  cr_assert_eq(read_text("{\"schema_version\": 1, \"kind\": \"bench\", \"benchm", "bench"), SMX_ERR_PARSE);
  cr_assert_eq(read_text("", "bench"), SMX_ERR_PARSE);
  cr_assert_eq(read_text("\x01\x02garbage", "bench"), SMX_ERR_PARSE);
  cr_assert_eq(read_text("[1, 2, 3]", "bench"), SMX_ERR_PARSE);
  cr_assert_eq(read_text("{\"kind\": \"bench\"}", "bench"), SMX_ERR_PARSE);
  cr_assert_eq(read_text("{\"schema_version\": 99, \"kind\": \"bench\"}", "bench"), SMX_ERR_PARSE);
  cr_assert(strstr(smx_last_error(), "99") != NULL);
  cr_assert_eq(read_text("{\"schema_version\": 1, \"kind\": \"check\"}", "bench"), SMX_ERR_PARSE);
  cr_assert_eq(read_text("{\"schema_version\": 1, \"schema_version\": 1, \"kind\": \"bench\"}", "bench"), SMX_ERR_PARSE);
}

Test(json, missing_file_is_io_error) {
  json_t *doc = NULL;
  cr_assert_eq(smx_json_read_doc("/nonexistent/dir/x.json", NULL, &doc), SMX_ERR_IO);
  cr_assert(strstr(smx_last_error(), "/nonexistent/dir/x.json") != NULL);
}

Test(ids, slug_hardware_and_run_id) {
  char out[64];
  smx_slugify("Intel Xeon Platinum 8480+", out, sizeof out);
  cr_assert_str_eq(out, "intel-xeon-platinum-8480");
  smx_slugify("NVIDIA H100 80GB HBM3", out, sizeof out);
  cr_assert_str_eq(out, "nvidia-h100-80gb-hbm3");
  smx_hardware hw;
  cr_assert_eq(smx_hardware_probe(&hw), SMX_OK, "%s", smx_last_error());
  cr_assert(hw.cpu_cores >= 1 && hw.threads_used >= 1 && hw.mem_total_bytes > 0);
  char expect_suffix[32];
  snprintf(expect_suffix, sizeof expect_suffix, "-%dc", hw.cpu_cores);
  if (hw.gpu_count == 0) cr_assert(strstr(hw.hardware_id, expect_suffix) != NULL, "id %s", hw.hardware_id);
  for (const char *p = hw.hardware_id; *p; p++) cr_assert(*p == '-' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
  char id[96];
  smx_run_id(id, sizeof id);
  cr_assert(strlen(id) > 17 && id[8] == 'T' && id[15] == 'Z' && id[16] == '-', "run id %s", id);
  json_t *j = smx_hardware_to_json(&hw);
  cr_assert_eq(json_integer_value(json_object_get(j, "schema_version")), SMX_SCHEMA_VERSION);
  cr_assert_str_eq(json_string_value(json_object_get(j, "hardware_id")), hw.hardware_id);
  cr_assert(json_is_array(json_object_get(j, "gpus")));
  json_decref(j);
}
