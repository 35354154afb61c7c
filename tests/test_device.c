/* Devices and buffers: CPU always; the GPU path runs where a GPU is present and is skipped with the
 * probe's reason elsewhere. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "seqmix/buffer.h"
#include "seqmix/device.h"
#include "seqmix/philox.h"

Test(device, cpu_always_ready_and_gpu_reason_when_absent) {
  cr_assert_eq(smx_device_ready(SMX_DEV_CPU), SMX_OK);
  if (smx_gpu_count() == 0) {
    const char *why = smx_gpu_unavailable_reason();
    cr_assert_not_null(why);
    cr_assert(strlen(why) > 5);
    cr_assert_eq(smx_device_ready(SMX_DEV_CUDA), SMX_ERR_NO_DEVICE);
    cr_assert(strstr(smx_last_error(), why) != NULL);
  } else {
    cr_assert_null(smx_gpu_unavailable_reason());
  }
  smx_device d;
  cr_assert_eq(smx_device_parse("cuda", &d), SMX_OK);
  cr_assert_eq(d, SMX_DEV_CUDA);
  cr_assert_eq(smx_device_parse("tpu", &d), SMX_ERR_INVALID);
}

static void force_cpu(void) { setenv("SEQMIX_FORCE_CPU", "1", 1); }

Test(device, force_cpu_env, .init = force_cpu) {
  cr_assert_eq(smx_gpu_count(), 0);
  cr_assert_str_eq(smx_gpu_unavailable_reason(), "SEQMIX_FORCE_CPU is set");
}

Test(buffer, reserve_grows_only_and_bounds_are_checked) {
  smx_buffer b = {0};
  cr_assert_eq(smx_buffer_reserve(&b, SMX_DEV_CPU, 1000), SMX_OK);
  void *first = b.ptr;
  cr_assert_eq((uintptr_t)first % 64, 0);
  cr_assert_eq(smx_buffer_reserve(&b, SMX_DEV_CPU, 500), SMX_OK);
  cr_assert_eq(b.ptr, first, "a smaller reserve must reuse the buffer");
  cr_assert_eq(smx_buffer_reserve(&b, SMX_DEV_CPU, 5000), SMX_OK);
  cr_assert_geq(b.bytes, 5000);
  char src[16] = "0123456789abcdef", dst[16];
  cr_assert_eq(smx_buffer_write(&b, 10, src, 16), SMX_OK);
  cr_assert_eq(smx_buffer_read(dst, &b, 10, 16), SMX_OK);
  cr_assert_arr_eq(dst, src, 16);
  cr_assert_eq(smx_buffer_write(&b, b.bytes - 8, src, 16), SMX_ERR_INVALID);
  smx_buffer_free(&b);
  cr_assert_null(b.ptr);
}

Test(buffer, gpu_alloc_without_gpu_is_a_clean_error) {
  if (smx_gpu_count() > 0) cr_skip_test("a GPU is present");
  smx_buffer b = {0};
  cr_assert_eq(smx_buffer_alloc(&b, SMX_DEV_CUDA, 64), SMX_ERR_NO_DEVICE);
  cr_assert_null(b.ptr);
}

Test(gpu, philox_fill_matches_cpu) {
  if (smx_gpu_count() == 0) cr_skip_test("no GPU: %s", smx_gpu_unavailable_reason());
  const size_t n = 100003;
  smx_buffer b = {0};
  cr_assert_eq(smx_buffer_alloc(&b, SMX_DEV_CUDA, n * sizeof(float)), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_gpu_fill_uniform(b.ptr, n, 77, 5, -2.0f, 3.0f), SMX_OK, "%s", smx_last_error());
  float *got = malloc(n * sizeof(float));
  cr_assert_eq(smx_buffer_read(got, &b, 0, n * sizeof(float)), SMX_OK, "%s", smx_last_error());
  for (size_t i = 0; i < n; i++) {
    float want = smx_philox_uniform(77, 5, i, -2.0f, 3.0f);
    cr_assert(memcmp(&got[i], &want, sizeof want) == 0, "element %zu: GPU %.9g, CPU %.9g", i, got[i], want);
  }
  free(got);
  smx_buffer_free(&b);
}

Test(gpu, info_and_timer) {
  if (smx_gpu_count() == 0) cr_skip_test("no GPU: %s", smx_gpu_unavailable_reason());
  smx_gpu_info info;
  cr_assert_eq(smx_gpu_get_info(0, &info), SMX_OK, "%s", smx_last_error());
  cr_assert(info.sm_count > 0 && info.total_mem > 0 && info.name[0]);
  smx_gpu_timer *t = NULL;
  if (smx_cuda_emulated()) { /* kernels run on the CPU: timings are refused, never made up */
    cr_assert_eq(smx_gpu_timer_create(&t), SMX_ERR_UNSUPPORTED);
    cr_assert_null(t);
    cr_assert(strstr(smx_last_error(), "emulator"), "%s", smx_last_error());
    cr_assert(strstr(info.name, "emulator"), "%s", info.name);
    return;
  }
  cr_assert_eq(smx_gpu_timer_create(&t), SMX_OK, "%s", smx_last_error());
  double s = -1;
  cr_assert_eq(smx_gpu_timer_start(t), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_gpu_timer_stop(t, &s), SMX_OK, "%s", smx_last_error());
  cr_assert(s >= 0 && s < 0.5, "an empty timed region took %g s: the stream was not released", s);
  smx_gpu_timer_destroy(t);
}
