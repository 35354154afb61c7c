/* The CUDA emulator's cub::DeviceSelect (emu/cuda_emu.h): Flagged as CUB defines it — the items
 * whose flag is nonzero, in order, and their count — on the host. A call with
 * d_temp_storage == nullptr only reports the temporary storage size, as in CUB. */
#ifndef SEQMIX_EMU_CUB_DEVICE_SELECT_CUH
#define SEQMIX_EMU_CUB_DEVICE_SELECT_CUH

#include <cuda_runtime.h>

namespace cub {
struct DeviceSelect {
  template <class T, class F, class O, class C, class N>
  static cudaError_t Flagged(void *d_temp_storage, size_t &temp_storage_bytes, const T *in, const F *flags, O *out,
                             C *num_selected, N num_items, cudaStream_t stream = 0) {
    (void)stream;
    if (!d_temp_storage) {
      temp_storage_bytes = 256;
      return cudaSuccess;
    }
    C n = 0;
    for (N i = 0; i < num_items; i++)
      if (flags[i]) out[n++] = in[i];
    *num_selected = n;
    return cudaSuccess;
  }
};
} // namespace cub

#endif
