/* The DMA key selection on the GPU (cuda_select.h): keep_until for every (batch, KV head) row of
 * the bias, the same integers as the CPU's heap algorithm smx_dma_keep_until() (reference/dma.h).
 *
 * Key j' beats key j when bias[j'] > bias[j], or they are equal and j' > j. Counting beaters
 * directly gives both selections without a heap:
 *   row (select 0):    c0 = #{j' < j beating j} = #{j' < j : bias[j'] > bias[j]}. Row i keeps j while
 *                      c0 + #{j < j' <= i : bias[j'] >= bias[j]} < w, a count that only grows with i,
 *                      so keep_until[j] = j when c0 >= w, else the position of the (w - c0)-th later
 *                      key with bias >= bias[j], or L when there are fewer.
 *   shared (select 1): keep_until[j] = L when #{all j' beating j} < w, else j.
 * Brute force, O(L^2) comparisons per row (5e8 at L = 32K, a few ms): one thread per key j, the
 * bias row staged through shared memory one block-sized tile at a time, so every comparison is a
 * broadcast shared-memory read. Tiles are aligned with the block's keys, so only the block's own
 * tile needs the index test. Values are compared as float (bf16 widens exactly), as on the CPU.
 *
 *   seqmix check --op dma --variant cuda.dense_bias        (exercises it; needs a GPU)
 */
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/dma/cuda_select.h"
#include "reference/dma.h"
#include "cuda_check.h"

namespace {

constexpr int SEL_THREADS = 256; /* keys per block, and the tile length */

__device__ __forceinline__ float bias_f32(float x) { return x; }
__device__ __forceinline__ float bias_f32(__nv_bfloat16 x) { return __bfloat162float(x); }

/* grid.x: key blocks of one row; grid.y: rows (grid-stride, so any number of rows fits). */
template <typename T, int SELECT>
__global__ void __launch_bounds__(SEL_THREADS)
    keep_until_kernel(const T *bias, int64_t rows, int L, int w, int32_t *keep_until) {
  __shared__ float tile[SEL_THREADS];
  const int j0 = blockIdx.x * SEL_THREADS, j = j0 + threadIdx.x;
  const bool valid = j < L;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const T *b = bias + row * L;
    const float x = valid ? bias_f32(b[j]) : 0.0f;

    /* Phase 1, beaters of j: before j (row: all that matter) or everywhere (shared). */
    int beaten = 0;
    const int end = SELECT == DMA_SELECT_ROW ? min(L, j0 + SEL_THREADS) : L;
    for (int t0 = 0; t0 < end; t0 += SEL_THREADS) {
      __syncthreads(); /* the previous tile (or row) has been read */
      if (t0 + (int)threadIdx.x < L) tile[threadIdx.x] = bias_f32(b[t0 + threadIdx.x]);
      __syncthreads();
      const int n = min(SEL_THREADS, L - t0);
      if (t0 + SEL_THREADS <= j0) { /* every key of the tile precedes j: it beats j only if larger */
        for (int k = 0; k < n; k++) beaten += tile[k] > x;
      } else if (t0 >= j0 + SEL_THREADS) { /* every key follows j: ties beat j too */
        for (int k = 0; k < n; k++) beaten += tile[k] >= x;
      } else { /* the block's own tile: the full rule (row selection counts only j' < j) */
        for (int k = 0; k < n; k++) {
          const int jp = t0 + k;
          if (SELECT == DMA_SELECT_ROW)
            beaten += jp < j && tile[k] > x;
          else
            beaten += tile[k] > x || (tile[k] == x && jp > j);
        }
      }
    }

    int result = j, need = 0;
    bool done = true;
    if (SELECT == DMA_SELECT_SHARED) {
      result = beaten < w ? L : j;
    } else if (beaten < w) { /* row: kept at i = j; find the row where the w-th beater arrives */
      result = L;
      need = w - beaten;
      done = false;
    }
    done = done || !valid;

    /* Phase 2 (row only): scan keys after j, in order, counting those with bias >= x. */
    for (int t0 = j0; t0 < L; t0 += SEL_THREADS) {
      if (!__syncthreads_or(!done)) break; /* also the barrier before the tile is overwritten */
      if (t0 + (int)threadIdx.x < L) tile[threadIdx.x] = bias_f32(b[t0 + threadIdx.x]);
      __syncthreads();
      if (!done) {
        const int n = min(SEL_THREADS, L - t0);
        for (int k = 0; k < n; k++) {
          const int jp = t0 + k;
          if (jp > j && tile[k] >= x && --need == 0) {
            result = jp;
            done = true;
            break;
          }
        }
      }
    }
    if (valid) keep_until[row * L + j] = result;
  }
}

template <typename T> void launch(const void *bias, int64_t rows, int L, int w, int select, int32_t *keep_until) {
  dim3 grid((unsigned)((L + SEL_THREADS - 1) / SEL_THREADS), (unsigned)(rows < 65535 ? rows : 65535));
  if (select == DMA_SELECT_ROW)
    keep_until_kernel<T, DMA_SELECT_ROW><<<grid, SEL_THREADS>>>((const T *)bias, rows, L, w, keep_until);
  else
    keep_until_kernel<T, DMA_SELECT_SHARED><<<grid, SEL_THREADS>>>((const T *)bias, rows, L, w, keep_until);
}

} // namespace

smx_status smx_dma_keep_until_cuda(const void *bias, smx_dtype dtype, int64_t BHkv, int64_t L, int64_t w, int select,
                                   int32_t *keep_until) {
  if (L > INT32_MAX)
    return smx_fail(SMX_ERR_INVALID, "dma selection: L=%lld does not fit the int32 keep_until", (long long)L);
  if (select != DMA_SELECT_ROW && select != DMA_SELECT_SHARED)
    return smx_fail(SMX_ERR_INVALID, "dma selection: select=%d (accepted: 0 = row, 1 = shared)", select);
  if (BHkv <= 0 || L <= 0) return SMX_OK;
  /* w >= L keeps everything in both selections (at most L - 1 beaters); clamping keeps w in int. */
  int wi = (int)(w < 0 ? 0 : (w > L ? L : w));
  if (dtype == SMX_BF16)
    launch<__nv_bfloat16>(bias, BHkv, (int)L, wi, select, keep_until);
  else
    launch<float>(bias, BHkv, (int)L, wi, select, keep_until);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}
