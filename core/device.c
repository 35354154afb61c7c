/* Device discovery: the CPU always; a GPU when CUDA was built in, a driver and a device answer,
 * and SEQMIX_FORCE_CPU is not set. The probe runs once per process. */
#include "seqmix/device.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "smx_config.h"

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int gpu_count;
static char gpu_reason[256];

static void probe(void) {
  const char *force = getenv("SEQMIX_FORCE_CPU");
  if (force && *force && strcmp(force, "0") != 0) {
    snprintf(gpu_reason, sizeof gpu_reason, "SEQMIX_FORCE_CPU is set");
    gpu_count = 0;
    return;
  }
  gpu_count = smx_gpu_probe(gpu_reason, sizeof gpu_reason);
  if (gpu_count <= 0) gpu_count = 0;
}

const char *smx_device_name(smx_device d) { return d == SMX_DEV_CUDA ? "cuda" : "cpu"; }

smx_status smx_device_parse(const char *name, smx_device *out) {
  if (strcmp(name, "cpu") == 0) { *out = SMX_DEV_CPU; return SMX_OK; }
  if (strcmp(name, "cuda") == 0) { *out = SMX_DEV_CUDA; return SMX_OK; }
  return smx_fail(SMX_ERR_INVALID, "unknown device '%s' (accepted: cpu, cuda)", name);
}

int smx_cuda_built(void) { return SMX_HAVE_CUDA; }

int smx_cuda_emulated(void) { return smx_gpu_emulated(); }

int smx_gpu_count(void) {
  pthread_once(&probe_once, probe);
  return gpu_count;
}

const char *smx_gpu_unavailable_reason(void) {
  pthread_once(&probe_once, probe);
  return gpu_count > 0 ? NULL : gpu_reason;
}

smx_status smx_device_ready(smx_device d) {
  if (d == SMX_DEV_CPU) return SMX_OK;
  if (smx_gpu_count() > 0) return SMX_OK;
  return smx_fail(SMX_ERR_NO_DEVICE, "no usable GPU: %s", smx_gpu_unavailable_reason());
}

smx_status smx_gpu_get_info(int dev, smx_gpu_info *out) {
  memset(out, 0, sizeof *out);
  smx_status s = smx_device_ready(SMX_DEV_CUDA);
  if (s != SMX_OK) return s;
  if (dev < 0 || dev >= smx_gpu_count())
    return smx_fail(SMX_ERR_INVALID, "GPU index %d is out of range (0..%d)", dev, smx_gpu_count() - 1);
  return smx_gpu_info_query(dev, out);
}
