/* NVML through dlopen (see core/nvml.h). Only the three calls seqmix needs are declared here,
 * with the types of NVML's public ABI (nvmlDevice_t is an opaque pointer, return 0 = success). */
#include "nvml.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

typedef void *nvml_device;
typedef int (*nvml_init_fn)(void);
typedef int (*nvml_by_pci_fn)(const char *, nvml_device *);
typedef int (*nvml_clock_fn)(nvml_device, int, unsigned *);
typedef int (*nvml_reasons_fn)(nvml_device, unsigned long long *);

enum { NVML_CLOCK_SM = 1 };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static nvml_by_pci_fn by_pci;
static nvml_clock_fn clock_info;
static nvml_reasons_fn reasons;

static void load(void) {
  void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return;
  nvml_init_fn init = (nvml_init_fn)dlsym(h, "nvmlInit_v2");
  if (!init || init() != 0) return;
  by_pci = (nvml_by_pci_fn)dlsym(h, "nvmlDeviceGetHandleByPciBusId_v2");
  clock_info = (nvml_clock_fn)dlsym(h, "nvmlDeviceGetClockInfo");
  /* Renamed "clocks event reasons" in recent drivers; the old name is kept as an alias. */
  reasons = (nvml_reasons_fn)dlsym(h, "nvmlDeviceGetCurrentClocksEventReasons");
  if (!reasons) reasons = (nvml_reasons_fn)dlsym(h, "nvmlDeviceGetCurrentClocksThrottleReasons");
}

int smx_nvml_clocks(const char *pci_bus_id, unsigned *sm_mhz, unsigned long long *throttle_reasons) {
  pthread_once(&once, load);
  *sm_mhz = 0;
  *throttle_reasons = 0;
  if (!by_pci || !clock_info) return -1;
  nvml_device d = NULL;
  if (by_pci(pci_bus_id, &d) != 0) return -1;
  if (clock_info(d, NVML_CLOCK_SM, sm_mhz) != 0) return -1;
  if (reasons) reasons(d, throttle_reasons);
  return 0;
}
