/* Internal: NVML, loaded with dlopen when present (it ships with the driver, not the toolkit, and
 * linking it directly would stop the binary from starting on machines without a driver). */
#ifndef SEQMIX_CORE_NVML_H
#define SEQMIX_CORE_NVML_H

#include <stdint.h>

/* Current SM clock in MHz and the clocks-event (throttle) reason bitmask of the GPU with this PCI
 * bus id. Returns 0 on success, -1 when NVML is absent or does not answer. */
int smx_nvml_clocks(const char *pci_bus_id, unsigned *sm_mhz, unsigned long long *throttle_reasons);

#endif
