/* The hardware fingerprint stored with every result: CPU, memory, threads used, GPUs, library
 * versions and the git revision — plus the identifiers DESIGN.md defines:
 *   hardware id  a slug of CPU model, core count, GPU name and count ("amd-epyc-2c",
 *                "intel-xeon-platinum-8480-16c-nvidia-h100-80gb-hbm3-x1");
 *   run id       UTC time plus the short git revision ("20261123T171500Z-1a2b3c4d5e6f"). */
#ifndef SEQMIX_HARDWARE_H
#define SEQMIX_HARDWARE_H

#include <jansson.h>
#include <stddef.h>

#include "seqmix/device.h"
#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMX_MAX_GPUS 8

typedef struct smx_hardware {
  char cpu_model[128];
  int cpu_cores;          /* online logical CPUs */
  int threads_used;       /* OpenMP threads seqmix runs with */
  size_t mem_total_bytes;
  int gpu_count;
  smx_gpu_info gpus[SMX_MAX_GPUS];
  char gpu_unavailable[256];
  char fftw_version[64];
  char openblas_config[256];
  char git_revision[64];
  char hostname[64];
  char hardware_id[192];
} smx_hardware;

smx_status smx_hardware_probe(smx_hardware *hw);
json_t *smx_hardware_to_json(const smx_hardware *hw);
/* A lower-case slug: letters and digits, runs of anything else folded to one '-'. */
void smx_slugify(const char *in, char *out, size_t n);
void smx_run_id(char *out, size_t n);
const char *smx_git_revision(void);

#ifdef __cplusplus
}
#endif
#endif
