/* seqmix info: the hardware fingerprint (as text, or as the JSON stored with every result). */
#include <stdio.h>

#include "cli.h"
#include "seqmix/hardware.h"
#include "seqmix/json_io.h"
#include "smx_config.h"

int cmd_info(int argc, char **argv) {
  int json = 0, id = 0, help = 0;
  const cli_opt opts[] = {{"json", NULL, "print the fingerprint as JSON", NULL, &json},
                          {"id", NULL, "print only the hardware id (the name of this machine's baseline directory)", NULL, &id},
                          {0}};
  if (cli_parse("info", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("info", "[--json | --id]", "Prints this machine's hardware fingerprint: CPU, memory, threads, GPUs (or why none "
                                  "is usable), library versions, git revision, hardware id.", opts);
    return 0;
  }
  smx_hardware hw;
  smx_status s = smx_hardware_probe(&hw);
  if (s != SMX_OK) return cli_fail(s);
  if (id) {
    printf("%s\n", hw.hardware_id);
    return 0;
  }
  if (json) {
    json_t *j = smx_hardware_to_json(&hw);
    json_dumpf(j, stdout, JSON_INDENT(2));
    printf("\n");
    json_decref(j);
    return 0;
  }
  printf("seqmix %s (git %s, %s build)\n", SMX_VERSION, hw.git_revision, SMX_BUILD_TYPE);
  printf("hardware id   %s\n", hw.hardware_id);
  printf("cpu           %s, %d logical cores, %d threads used\n", hw.cpu_model, hw.cpu_cores, hw.threads_used);
  printf("memory        %.1f GiB\n", (double)hw.mem_total_bytes / (1 << 30));
  printf("cuda          %s\n", smx_cuda_built() ? "built (archs " SMX_CUDA_ARCHS ")" : "not built");
  if (hw.gpu_count == 0) printf("gpu           none usable: %s\n", hw.gpu_unavailable);
  for (int i = 0; i < hw.gpu_count; i++) {
    const smx_gpu_info *g = &hw.gpus[i];
    printf("gpu %d         %s, sm_%d%d, %d SMs, %.1f GiB, %d MHz SM / %d MHz memory, L2 %zu KiB, driver %d, "
           "runtime %d, cuBLAS %d, cuFFT %d\n",
           i, g->name, g->cc_major, g->cc_minor, g->sm_count, (double)g->total_mem / (1 << 30), g->sm_clock_khz / 1000,
           g->mem_clock_khz / 1000, g->l2_bytes >> 10, g->driver_version, g->runtime_version, g->cublas_version,
           g->cufft_version);
  }
  printf("fftw          %s\n", hw.fftw_version);
  printf("openblas      %s\n", hw.openblas_config);
  printf("libraries     jansson %s, Google Benchmark %s\n", SMX_JANSSON_VERSION, SMX_BENCHMARK_VERSION);
  return 0;
}
