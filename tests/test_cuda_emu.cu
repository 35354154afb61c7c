/* The CUDA emulator's own semantics (emu/, docs/cuda-emulation.md), in a build configured with
 * -Demulate_cuda=true: shuffles by the PTX ISA's source-lane rules, ballots and block reductions,
 * barriers, WMMA TF32 against a direct product, ldmatrix + mma.sync bf16 composed the way CUTLASS and
 * FlashAttention compose them, cp.async landing only at its wait, launch errors, and the misuse a GPU
 * would hang on stopping the process. Written as a .cu file: it goes through emu/cu_to_cc.py.
 *
 *   build-emu/tests/seqmix_tests --filter 'cuda_emu/*'
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

#include <vector>

namespace {

template <class T> T *dev_alloc(size_t n) {
  T *p = nullptr;
  cr_assert_eq(cudaMalloc(&p, n * sizeof(T)), cudaSuccess);
  return p;
}

/* out[k * 64 + tid]: k = 0 xor 5, 1 down 3 (width 8), 2 up 2 (width 16), 3 idx 5 (width 4), 4 idx 33 */
__global__ void shuffles(int *out) {
  int v = 100 + (int)threadIdx.x;
  out[0 * 64 + threadIdx.x] = __shfl_xor_sync(0xffffffffu, v, 5);
  out[1 * 64 + threadIdx.x] = __shfl_down_sync(0xffffffffu, v, 3, 8);
  out[2 * 64 + threadIdx.x] = __shfl_up_sync(0xffffffffu, v, 2, 16);
  out[3 * 64 + threadIdx.x] = __shfl_sync(0xffffffffu, v, 5, 4);
  out[4 * 64 + threadIdx.x] = __shfl_sync(0xffffffffu, v, 33);
}

__global__ void votes(unsigned *out) {
  int odd = threadIdx.x & 1, small = threadIdx.x < 40;
  out[threadIdx.x] = __ballot_sync(0xffffffffu, odd);
  out[64 + threadIdx.x] = (unsigned)__any_sync(0xffffffffu, threadIdx.x == 63);
  out[128 + threadIdx.x] = (unsigned)__all_sync(0xffffffffu, small);
  out[192 + threadIdx.x] = (unsigned)__syncthreads_count(small);
  out[256 + threadIdx.x] = (unsigned)__syncthreads_or(threadIdx.x == 17);
  out[320 + threadIdx.x] = (unsigned)__syncthreads_and(small);
}

/* every thread reads what the others wrote before the barrier, in both directions */
__global__ void barrier_order(int *out) {
  __shared__ int s[256];
  s[threadIdx.x] = (int)threadIdx.x * 3;
  __syncthreads();
  int got = s[blockDim.x - 1 - threadIdx.x];
  __syncthreads();
  s[threadIdx.x] = got + 1;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x] + (int)blockIdx.x * 1000;
}

using namespace nvcuda;
/* C (16 x 16, row-major) = A (16 x 8, row-major) B (8 x 16, col-major) */
__global__ void wmma_tf32(const float *A, const float *B, float *C) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> b;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> c;
  wmma::fill_fragment(c, 0.5f);
  wmma::load_matrix_sync(a, A, 8);
  wmma::load_matrix_sync(b, B, 8);
  wmma::mma_sync(c, a, b, c);
  wmma::store_matrix_sync(C, c, 16, wmma::mem_row_major);
}

/* D (16 x 8, fp32) = A (16 x 16 bf16, row-major, in shared memory through ldmatrix.x4: lane l points
 * at row l % 16, column 8 (l / 16)) times B (16 x 8 bf16; fragment b0 = B[2t..2t+1][g],
 * b1 = B[2t+8..2t+9][g] built from registers) */
__global__ void mma_bf16(const __nv_bfloat16 *A, const __nv_bfloat16 *B, float *D) {
  __shared__ __align__(16) __nv_bfloat16 sa[16 * 16];
  for (int i = threadIdx.x; i < 256; i += 32) sa[i] = A[i];
  __syncwarp();
  int l = (int)threadIdx.x, g = l / 4, t = l % 4;
  uint32_t a[4];
  smx_emu::ldmatrix_x4(a, sa + (l % 16) * 16 + (l / 16) * 8, false);
  auto pack = [](__nv_bfloat16 lo, __nv_bfloat16 hi) {
    return (uint32_t)__bfloat16_as_ushort(lo) | (uint32_t)__bfloat16_as_ushort(hi) << 16;
  };
  uint32_t b0 = pack(B[(2 * t) * 8 + g], B[(2 * t + 1) * 8 + g]);
  uint32_t b1 = pack(B[(2 * t + 8) * 8 + g], B[(2 * t + 9) * 8 + g]);
  float c[4] = {0, 0, 0, 0};
  smx_emu::mma_m16n8k16_bf16(c, a, b0, b1);
  D[g * 8 + 2 * t] = c[0];
  D[g * 8 + 2 * t + 1] = c[1];
  D[(g + 8) * 8 + 2 * t] = c[2];
  D[(g + 8) * 8 + 2 * t + 1] = c[3];
}

/* the transposed ldmatrix: register m of lane l holds (2 (l % 4) + {0, 1}, l / 4) of matrix m */
__global__ void ldmatrix_trans(const __nv_bfloat16 *M, uint32_t *out) {
  __shared__ __align__(16) __nv_bfloat16 s[4 * 64];
  for (int i = threadIdx.x; i < 256; i += 32) s[i] = M[i];
  __syncwarp();
  uint32_t r[4];
  int l = (int)threadIdx.x;
  smx_emu::ldmatrix_x4(r, s + (l / 8) * 64 + (l % 8) * 8, true);
  for (int m = 0; m < 4; m++) out[l * 4 + m] = r[m];
}

/* before the wait a cp.async destination still holds the filler; after it, the data */
__global__ void cp_async_lands_at_wait(const float *src, float *out) {
  __shared__ __align__(16) float s[4];
  if (threadIdx.x == 0) {
    s[0] = -1.0f;
    smx_emu::cp_async16(s, src, true);
    smx_emu::cp_async_commit();
    out[0] = s[0];
    smx_emu::cp_async_wait(0);
    out[1] = s[0];
    out[2] = s[3];
  }
}

__global__ void noop(int *p) {
  if (p) p[threadIdx.x] = 1;
}

__global__ void uses_dynamic_smem(float *out) {
  extern __shared__ float dyn[];
  dyn[threadIdx.x] = (float)threadIdx.x;
  __syncthreads();
  out[threadIdx.x] = dyn[31 - threadIdx.x];
}

/* one element past the end of its buffer */
__global__ void reads_past_the_end(const float *in, float *out, int n) {
  out[threadIdx.x] = in[threadIdx.x + (threadIdx.x == 31 ? n - 31 : 0)];
}

/* misuse: lanes 0-15 shuffle with the whole warp while lanes 16-31 wait at __syncthreads */
__global__ void split_warp_deadlock(int *out) {
  int v = (int)threadIdx.x;
  if (threadIdx.x < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
  else __syncthreads();
  out[threadIdx.x] = v;
}

/* misuse: a lane returns while the others shuffle with a mask naming it */
__global__ void shuffle_after_exit(int *out) {
  if (threadIdx.x == 7) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (int)threadIdx.x, 1);
}

float bf16_value(__nv_bfloat16 x) { return __bfloat162float(x); }

} // namespace

Test(cuda_emu, shuffles_follow_the_ptx_source_lane_rules) {
  int *d = dev_alloc<int>(5 * 64);
  shuffles<<<1, 64>>>(d);
  cr_assert_eq(cudaGetLastError(), cudaSuccess);
  for (int i = 0; i < 64; i++) {
    int lane = i % 32, warp0 = i - lane;
    int seg8 = lane & ~7, seg16 = lane & ~15, seg4 = lane & ~3;
    cr_assert_eq(d[i], 100 + warp0 + (lane ^ 5), "xor at %d", i);
    cr_assert_eq(d[64 + i], 100 + warp0 + ((lane - seg8) + 3 < 8 ? lane + 3 : lane), "down at %d", i);
    cr_assert_eq(d[128 + i], 100 + warp0 + ((lane - seg16) >= 2 ? lane - 2 : lane), "up at %d", i);
    cr_assert_eq(d[192 + i], 100 + warp0 + seg4 + 1, "idx width 4 at %d", i); /* 5 mod 4 */
    cr_assert_eq(d[256 + i], 100 + warp0 + 1, "idx 33 at %d", i);             /* 33 mod 32 */
  }
  cudaFree(d);
}

Test(cuda_emu, votes_and_block_reductions) {
  unsigned *d = dev_alloc<unsigned>(6 * 64);
  votes<<<1, 64>>>(d);
  for (int i = 0; i < 64; i++) {
    cr_assert_eq(d[i], 0xaaaaaaaau);
    cr_assert_eq(d[64 + i], i >= 32 ? 1u : 0u, "any at %d", i);
    cr_assert_eq(d[128 + i], i < 32 ? 1u : 0u, "all at %d", i);
    cr_assert_eq(d[192 + i], 40u);
    cr_assert_eq(d[256 + i], 1u);
    cr_assert_eq(d[320 + i], 0u);
  }
  cudaFree(d);
}

Test(cuda_emu, barriers_order_shared_memory_across_blocks) {
  int *d = dev_alloc<int>(3 * 96);
  barrier_order<<<3, 96>>>(d);
  for (int b = 0; b < 3; b++)
    for (int i = 0; i < 96; i++) {
      int j = (i + 1) % 96; /* s[j] = got(j) + 1 = 3 (95 - j) + 1 */
      cr_assert_eq(d[b * 96 + i], 3 * (95 - j) + 1 + b * 1000, "block %d thread %d", b, i);
    }
  cudaFree(d);
}

Test(cuda_emu, wmma_tf32_matches_the_direct_product) {
  std::vector<float> A(128), B(128), C(256);
  for (int i = 0; i < 128; i++) A[i] = (float)(i % 7) - 3.0f, B[i] = 0.25f * (float)(i % 5);
  A[3] = 1.0f + 0x1p-20f; /* below TF32's 10 mantissa bits: the tensor cores drop it */
  float *a = dev_alloc<float>(128), *b = dev_alloc<float>(128), *c = dev_alloc<float>(256);
  cudaMemcpy(a, A.data(), 512, cudaMemcpyHostToDevice);
  cudaMemcpy(b, B.data(), 512, cudaMemcpyHostToDevice);
  wmma_tf32<<<1, 32>>>(a, b, c);
  cudaMemcpy(C.data(), c, 1024, cudaMemcpyDeviceToHost);
  A[3] = 1.0f;
  for (int i = 0; i < 16; i++)
    for (int j = 0; j < 16; j++) {
      double want = 0.5;
      for (int k = 0; k < 8; k++) want += (double)A[i * 8 + k] * B[j * 8 + k]; /* B col-major: (k, j) at j*8+k */
      cr_assert_eq(C[i * 16 + j], (float)want, "C[%d][%d] = %g, want %g", i, j, C[i * 16 + j], want);
    }
  cudaFree(a), cudaFree(b), cudaFree(c);
}

Test(cuda_emu, ldmatrix_and_mma_bf16_compose_to_the_product) {
  std::vector<__nv_bfloat16> A(256), B(128);
  for (int i = 0; i < 256; i++) A[i] = __float2bfloat16((float)((i * 7) % 11) - 5.0f);
  for (int i = 0; i < 128; i++) B[i] = __float2bfloat16(0.5f * (float)((i * 3) % 9) - 2.0f);
  __nv_bfloat16 *a = dev_alloc<__nv_bfloat16>(256), *b = dev_alloc<__nv_bfloat16>(128);
  float *d = dev_alloc<float>(128);
  cudaMemcpy(a, A.data(), 512, cudaMemcpyHostToDevice);
  cudaMemcpy(b, B.data(), 256, cudaMemcpyHostToDevice);
  mma_bf16<<<1, 32>>>(a, b, d);
  for (int i = 0; i < 16; i++)
    for (int j = 0; j < 8; j++) {
      double want = 0;
      for (int k = 0; k < 16; k++) want += (double)bf16_value(A[i * 16 + k]) * bf16_value(B[k * 8 + j]);
      cr_assert_eq(d[i * 8 + j], (float)want, "D[%d][%d] = %g, want %g", i, j, d[i * 8 + j], want);
    }
  cudaFree(a), cudaFree(b), cudaFree(d);
}

Test(cuda_emu, ldmatrix_trans_gives_the_transposed_pairs) {
  std::vector<__nv_bfloat16> M(256);
  for (int i = 0; i < 256; i++) M[i] = __float2bfloat16((float)i); /* exact in bf16 up to 256 */
  __nv_bfloat16 *m = dev_alloc<__nv_bfloat16>(256);
  uint32_t *out = dev_alloc<uint32_t>(128);
  cudaMemcpy(m, M.data(), 512, cudaMemcpyHostToDevice);
  ldmatrix_trans<<<1, 32>>>(m, out);
  for (int l = 0; l < 32; l++)
    for (int k = 0; k < 4; k++) {
      int row = 2 * (l % 4), col = l / 4;
      uint32_t r = out[l * 4 + k];
      float lo = __bfloat162float(__ushort_as_bfloat16((unsigned short)(r & 0xffff)));
      float hi = __bfloat162float(__ushort_as_bfloat16((unsigned short)(r >> 16)));
      cr_assert_eq(lo, (float)(k * 64 + row * 8 + col), "lane %d matrix %d low half", l, k);
      cr_assert_eq(hi, (float)(k * 64 + (row + 1) * 8 + col), "lane %d matrix %d high half", l, k);
    }
  cudaFree(m), cudaFree(out);
}

Test(cuda_emu, cp_async_lands_only_at_its_wait) {
  float *src = dev_alloc<float>(4), *out = dev_alloc<float>(3);
  float h[4] = {1.5f, 2.5f, 3.5f, 4.5f};
  cudaMemcpy(src, h, 16, cudaMemcpyHostToDevice);
  cp_async_lands_at_wait<<<1, 32>>>(src, out);
  float got[3];
  cudaMemcpy(got, out, 12, cudaMemcpyDeviceToHost);
  cr_assert_eq(got[0], -1.0f, "read before the wait: %g", got[0]);
  cr_assert_eq(got[1], 1.5f);
  cr_assert_eq(got[2], 4.5f);
  cudaFree(src), cudaFree(out);
}

Test(cuda_emu, launch_errors_are_cuda_errors) {
  (void)cudaGetLastError();
  noop<<<1, 2048>>>(nullptr);
  cr_assert_eq(cudaGetLastError(), cudaErrorInvalidConfiguration);
  noop<<<0, 32>>>(nullptr);
  cr_assert_eq(cudaGetLastError(), cudaErrorInvalidConfiguration);
  cr_assert_eq(cudaGetLastError(), cudaSuccess, "cudaGetLastError clears the error");
  float *out = dev_alloc<float>(32);
  uses_dynamic_smem<<<1, 32, 100 * 1024>>>(out); /* over 48 KiB without the attribute */
  cr_assert_eq(cudaGetLastError(), cudaErrorInvalidValue);
  cr_assert_eq(cudaFuncSetAttribute(uses_dynamic_smem, cudaFuncAttributeMaxDynamicSharedMemorySize, 100 * 1024),
               cudaSuccess);
  uses_dynamic_smem<<<1, 32, 100 * 1024>>>(out);
  cr_assert_eq(cudaGetLastError(), cudaSuccess);
  float h[32];
  cudaMemcpy(h, out, sizeof h, cudaMemcpyDeviceToHost);
  for (int i = 0; i < 32; i++) cr_assert_eq(h[i], (float)(31 - i));
  cr_assert_eq(cudaFuncSetAttribute(uses_dynamic_smem, cudaFuncAttributeMaxDynamicSharedMemorySize, 300 * 1024),
               cudaErrorInvalidValue, "beyond the 227 KiB an H100 block can have");
  cudaFree(out);
}

Test(cuda_emu, fresh_device_memory_reads_as_nan) {
  float *p = dev_alloc<float>(8), h[8];
  cudaMemcpy(h, p, sizeof h, cudaMemcpyDeviceToHost);
  for (int i = 0; i < 8; i++) cr_assert(h[i] != h[i], "element %d is %g", i, h[i]);
  cudaFree(p);
}

Test(cuda_emu, a_split_warp_deadlock_stops_the_process, .signal = SIGABRT) {
  int *d = dev_alloc<int>(32);
  split_warp_deadlock<<<1, 32>>>(d);
}

Test(cuda_emu, a_shuffle_naming_a_returned_lane_stops_the_process, .signal = SIGABRT) {
  int *d = dev_alloc<int>(32);
  shuffle_after_exit<<<1, 32>>>(d);
}

#if defined(__SANITIZE_ADDRESS__)
/* ci/emulate-cuda.sh's build: AddressSanitizer sees a kernel's out-of-bounds read (device memory is
 * an exact-size allocation), as compute-sanitizer's memcheck would on a GPU */
Test(cuda_emu, an_out_of_bounds_read_in_a_kernel_is_reported, .signal = SIGABRT) {
  __sanitizer_set_death_callback(abort); /* whatever ASAN_OPTIONS say */
  float *in = dev_alloc<float>(32), *out = dev_alloc<float>(32);
  reads_past_the_end<<<1, 32>>>(in, out, 32);
}
#endif
