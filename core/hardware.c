/* Hardware fingerprint, hardware id and run id (include/seqmix/hardware.h). */
#include "seqmix/hardware.h"

#include <ctype.h>
#include <fftw3.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "seqmix/json_io.h"
#include "smx_config.h"

const char *smx_build_revision(void);

const char *smx_git_revision(void) { return smx_build_revision(); }

void smx_slugify(const char *in, char *out, size_t n) {
  size_t o = 0;
  int dash = 0;
  for (const char *p = in; *p && o + 1 < n; p++) {
    if (isalnum((unsigned char)*p)) {
      if (dash && o > 0 && o + 2 < n) out[o++] = '-';
      out[o++] = (char)tolower((unsigned char)*p);
      dash = 0;
    } else {
      dash = 1;
    }
  }
  out[o] = 0;
}

/* "Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.00GHz" -> "Intel Xeon Platinum 8480+": the marks and
 * the nominal clock say nothing about which machine it is, and make ids longer. */
static void clean_cpu_model(const char *in, char *out, size_t n) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", in);
  char *at = strchr(buf, '@');
  if (at) *at = 0;
  static const char *drop[] = {"(R)", "(r)", "(TM)", "(tm)", " CPU", " Processor", NULL};
  for (int i = 0; drop[i]; i++) {
    char *p;
    while ((p = strstr(buf, drop[i])) != NULL) memmove(p, p + strlen(drop[i]), strlen(p + strlen(drop[i])) + 1);
  }
  size_t len = strlen(buf);
  while (len && isspace((unsigned char)buf[len - 1])) buf[--len] = 0;
  char *s = buf;
  while (isspace((unsigned char)*s)) s++;
  snprintf(out, n, "%s", s);
}

static void read_cpu_model(char *out, size_t n) {
  snprintf(out, n, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char *c = strchr(line, ':');
      if (c) {
        c++;
        line[strcspn(line, "\n")] = 0;
        clean_cpu_model(c, out, n);
      }
      break;
    }
  }
  fclose(f);
}

smx_status smx_hardware_probe(smx_hardware *hw) {
  memset(hw, 0, sizeof *hw);
  read_cpu_model(hw->cpu_model, sizeof hw->cpu_model);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  hw->cpu_cores = cores > 0 ? (int)cores : 1;
  hw->threads_used = omp_get_max_threads();
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) hw->mem_total_bytes = (size_t)pages * (size_t)page;
  if (gethostname(hw->hostname, sizeof hw->hostname - 1) != 0) snprintf(hw->hostname, sizeof hw->hostname, "unknown");
  snprintf(hw->fftw_version, sizeof hw->fftw_version, "%s", fftwf_version);
  snprintf(hw->openblas_config, sizeof hw->openblas_config, "%s", openblas_get_config());
  snprintf(hw->git_revision, sizeof hw->git_revision, "%s", smx_git_revision());

  hw->gpu_count = smx_gpu_count();
  if (hw->gpu_count > SMX_MAX_GPUS) hw->gpu_count = SMX_MAX_GPUS;
  const char *why = smx_gpu_unavailable_reason();
  snprintf(hw->gpu_unavailable, sizeof hw->gpu_unavailable, "%s", why ? why : "");
  for (int i = 0; i < hw->gpu_count; i++) {
    smx_status s = smx_gpu_get_info(i, &hw->gpus[i]);
    if (s != SMX_OK) return s;
  }

  char cpu_slug[128], id[192];
  smx_slugify(hw->cpu_model, cpu_slug, sizeof cpu_slug);
  snprintf(id, sizeof id, "%s-%dc", cpu_slug[0] ? cpu_slug : "cpu", hw->cpu_cores);
  if (hw->gpu_count > 0) {
    char gpu_slug[128];
    smx_slugify(hw->gpus[0].name, gpu_slug, sizeof gpu_slug);
    size_t len = strlen(id);
    snprintf(id + len, sizeof id - len, "-%s-x%d", gpu_slug, hw->gpu_count);
  }
  snprintf(hw->hardware_id, sizeof hw->hardware_id, "%s", id);
  return SMX_OK;
}

json_t *smx_hardware_to_json(const smx_hardware *hw) {
  json_t *gpus = json_array();
  for (int i = 0; i < hw->gpu_count; i++) {
    const smx_gpu_info *g = &hw->gpus[i];
    char cc[16];
    snprintf(cc, sizeof cc, "%d.%d", g->cc_major, g->cc_minor);
    json_array_append_new(gpus, json_pack("{s:s, s:s, s:i, s:I, s:I, s:i, s:i, s:i, s:I, s:i, s:i, s:i, s:i, s:s}",
        "name", g->name, "compute_capability", cc, "sm_count", g->sm_count,
        "memory_bytes", (json_int_t)g->total_mem, "l2_bytes", (json_int_t)g->l2_bytes,
        "sm_clock_khz", g->sm_clock_khz, "mem_clock_khz", g->mem_clock_khz,
        "mem_bus_width_bits", g->mem_bus_width_bits, "free_memory_bytes", (json_int_t)g->free_mem,
        "driver_version", g->driver_version, "runtime_version", g->runtime_version,
        "cublas_version", g->cublas_version, "cufft_version", g->cufft_version,
        "pci_bus_id", g->pci_bus_id));
  }
  json_t *libs = json_pack("{s:s, s:s, s:s, s:s, s:b}", "fftw", hw->fftw_version, "openblas",
                           hw->openblas_config, "jansson", SMX_JANSSON_VERSION, "google_benchmark",
                           SMX_BENCHMARK_VERSION, "cuda_built", smx_cuda_built());
  return json_pack("{s:i, s:s, s:s, s:i, s:i, s:I, s:s, s:i, s:o, s:s, s:o, s:s, s:s, s:s}",
      "schema_version", SMX_SCHEMA_VERSION, "hardware_id", hw->hardware_id, "cpu_model", hw->cpu_model,
      "cpu_cores", hw->cpu_cores, "threads_used", hw->threads_used,
      "memory_bytes", (json_int_t)hw->mem_total_bytes, "hostname", hw->hostname,
      "gpu_count", hw->gpu_count, "gpus", gpus, "gpu_unavailable", hw->gpu_unavailable,
      "libraries", libs, "git_revision", hw->git_revision, "seqmix_version", SMX_VERSION,
      "build_type", SMX_BUILD_TYPE);
}

void smx_run_id(char *out, size_t n) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  char rev[40];
  snprintf(rev, sizeof rev, "%s", smx_git_revision());
  for (char *p = rev; *p; p++)
    if (!isalnum((unsigned char)*p)) *p = '-';
  snprintf(out, n, "%s-%s", stamp, rev);
}
