/* Devices: the CPU is always there; CUDA is optional at build time (meson -Dcuda) and at run
 * time (no driver, no device, or SEQMIX_FORCE_CPU=1 -> CPU only, with a reason to print). */
#ifndef SEQMIX_DEVICE_H
#define SEQMIX_DEVICE_H

#include <stddef.h>

#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum smx_device { SMX_DEV_CPU = 0, SMX_DEV_CUDA = 1 } smx_device;

const char *smx_device_name(smx_device d);          /* "cpu", "cuda" */
smx_status smx_device_parse(const char *name, smx_device *out);

int smx_cuda_built(void);     /* 1 when this binary contains the CUDA variants */
/* 1 when they run on the CPU under the CUDA emulator (meson -Demulate_cuda=true): checks only, no
 * timings (docs/cuda-emulation.md) */
int smx_cuda_emulated(void);
int smx_gpu_count(void);      /* usable GPUs; probed once and cached */
/* NULL when a GPU is usable; otherwise why not ("built without CUDA", "no CUDA driver ..."). */
const char *smx_gpu_unavailable_reason(void);
/* SMX_OK when the device can run work now; else SMX_ERR_NO_DEVICE with the reason recorded. */
smx_status smx_device_ready(smx_device d);

typedef struct smx_gpu_info {
  char name[128];
  int sm_count;
  int cc_major, cc_minor;
  size_t total_mem, free_mem;
  int sm_clock_khz, mem_clock_khz, mem_bus_width_bits;
  size_t l2_bytes;
  int driver_version, runtime_version;
  int cublas_version, cufft_version;
  char pci_bus_id[32];
} smx_gpu_info;

smx_status smx_gpu_get_info(int dev, smx_gpu_info *out);

#ifdef __cplusplus
}
#endif
#endif
