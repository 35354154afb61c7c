/* The CUDA emulator's cub::DeviceRadixSort (emu/cuda_emu.h): SortPairs as CUB defines it — a stable
 * sort of (key, value) pairs by bits [begin_bit, end_bit) of the key, signed keys with their sign
 * bit flipped first (CUB's bit twiddling) — on the host. A call with d_temp_storage == nullptr only
 * reports the temporary storage size, as in CUB. */
#ifndef SEQMIX_EMU_CUB_DEVICE_RADIX_SORT_CUH
#define SEQMIX_EMU_CUB_DEVICE_RADIX_SORT_CUH

#include <cuda_runtime.h>

#include <algorithm>
#include <type_traits>
#include <vector>

namespace cub {
struct DeviceRadixSort {
  template <class K, class V, class N>
  static cudaError_t SortPairs(void *d_temp_storage, size_t &temp_storage_bytes, const K *keys_in, K *keys_out,
                               const V *values_in, V *values_out, N num_items, int begin_bit = 0,
                               int end_bit = (int)sizeof(K) * 8, cudaStream_t stream = 0) {
    static_assert(std::is_integral<K>::value && sizeof(K) <= 8, "integer keys only");
    (void)stream;
    if (!d_temp_storage) {
      temp_storage_bytes = 256;
      return cudaSuccess;
    }
    typedef typename std::make_unsigned<K>::type U;
    auto bits = [&](K k) -> unsigned long long {
      U u = (U)k;
      if (std::is_signed<K>::value) u ^= (U)((U)1 << (sizeof(K) * 8 - 1));
      unsigned long long x = (unsigned long long)u >> begin_bit;
      int width = end_bit - begin_bit;
      return width >= 64 ? x : x & ((1ull << width) - 1);
    };
    std::vector<long long> order((size_t)num_items);
    for (long long i = 0; i < (long long)num_items; i++) order[(size_t)i] = i;
    std::stable_sort(order.begin(), order.end(), [&](long long a, long long b) { return bits(keys_in[a]) < bits(keys_in[b]); });
    std::vector<K> k((size_t)num_items);
    std::vector<V> v((size_t)num_items);
    for (size_t i = 0; i < order.size(); i++) k[i] = keys_in[order[i]], v[i] = values_in[order[i]];
    std::copy(k.begin(), k.end(), keys_out);
    std::copy(v.begin(), v.end(), values_out);
    return cudaSuccess;
  }
};
} // namespace cub

#endif
