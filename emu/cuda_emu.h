/* The CUDA emulator's prelude: force-included (g++ -include) before every .cu file of a build
 * configured with -Demulate_cuda=true, after emu/cu_to_cc.py has turned its kernel launches into
 * smx_emu::launch(...) calls. With it the CUDA variants run on the host CPU, unchanged, so their
 * index math, fragment layouts, barriers and shuffles are checked against the references on a
 * machine with no GPU (docs/cuda-emulation.md):
 *
 *   meson setup build-emu -Demulate_cuda=true && ninja -C build-emu
 *   build-emu/seqmix check --op norm --variant cuda.rows --shape B=3,T=5,D=67
 *
 * Model: the blocks of a grid run one after another; each thread of a block is a fiber (ucontext)
 * that runs until it reaches a barrier (__syncthreads, a warp collective) or returns, so every
 * barrier and every shuffle has CUDA's meaning, and a barrier some threads never reach is reported.
 * What it cannot show: races between threads that a barrier does not order (fibers switch only at
 * barriers), timing, and anything about the real hardware's floating-point contraction. Timings are
 * refused (core/gpu_cuda.cu), so no number measured here can be taken for a GPU's.
 *
 * Shared memory: `__shared__` variables become static thread_local objects (one block runs at a
 * time per host thread); dynamic shared memory is a buffer per launch, filled with 0xff bytes (NaN
 * as floats) so reads of never-written shared memory show up in the results. */
#ifndef SEQMIX_EMU_CUDA_EMU_H
#define SEQMIX_EMU_CUDA_EMU_H

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <stdint.h>
#include <string.h>

#include <cmath>
#include <tuple>
#include <type_traits>
#include <utility>

#define SMX_CUDA_EMULATION 1

#undef __shared__
#define __shared__ static thread_local
#undef __launch_bounds__
#define __launch_bounds__(...)

namespace smx_emu {

/* ---- the scheduler (emu/scheduler.cc) ---------------------------------------------------------- */

/* the built-in variables of the running thread (plain uint3: no thread_local initialization) */
inline thread_local uint3 thread_idx, block_idx, block_dim, grid_dim;

/* One lane's part in a warp collective: its input and, after the collective, its output. */
struct lane_slot {
  uint64_t in, out;
  int src;          /* shuffles: the lane to read from */
  void *p[4];       /* fragments / addresses of collective matrix operations */
};
typedef void (*warp_combine_fn)(lane_slot *const slots[32], unsigned mask);

/* Blocks the calling thread until every lane of its warp named in `mask` has called it with the
 * same combine; the last one to arrive runs `combine` over all their slots, then all go on. */
void warp_collective(unsigned mask, warp_combine_fn combine, lane_slot *mine);
/* __syncthreads with a reduction: op 0 = plain barrier, 1 = or, 2 = and, 3 = count. */
int block_barrier(int op, int pred);
unsigned lane_id();
void *dynamic_smem();
[[noreturn]] void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct launch_config {
  dim3 grid, block;
  size_t smem;
};
/* emu/runtime.cc: the launch's error becomes cudaGetLastError's. The dynamic shared memory a
 * launch may ask for: 48 KiB, or the most cudaFuncSetAttribute gave any kernel (at most the H100's
 * 227 KiB); a rewritten launch does not name its kernel (template arguments are deduced at the
 * call), so forgetting the attribute is caught only while no kernel has been given more. */
void note_launch_error(int cuda_error);
size_t launch_smem_limit();
/* Runs `body` for every thread of every block (threads as fibers); returns a cudaError_t. */
int run_grid(const launch_config &cfg, void (*body)(void *), void *ctx);

/* `kernel<<<grid, block, smem, stream>>>(args)` becomes
 *   `smx_emu::launch(grid, block, smem, stream)([&]() { kernel(args); })`
 * (emu/cu_to_cc.py): every thread makes the call itself, so template arguments are deduced and
 * arguments convert exactly as in the launch. Launches are synchronous. */
struct launch {
  launch_config cfg;
  explicit launch(dim3 grid, dim3 block, size_t smem = 0, cudaStream_t stream = 0) : cfg{grid, block, smem} {
    (void)stream;
  }
  template <class Body> void operator()(Body &&body) {
    run_grid(cfg, [](void *p) { (*static_cast<typename std::remove_reference<Body>::type *>(p))(); }, &body);
  }
};

/* ---- warp shuffles ------------------------------------------------------------------------------ */

void combine_shuffle(lane_slot *const slots[32], unsigned mask);
void combine_ballot(lane_slot *const slots[32], unsigned mask);
void combine_none(lane_slot *const slots[32], unsigned mask);

template <class T> T shuffle_from(unsigned mask, T v, int src) {
  static_assert(sizeof(T) <= 8, "the emulator shuffles values of at most 8 bytes");
  lane_slot s{};
  memcpy(&s.in, &v, sizeof(T));
  s.src = src;
  warp_collective(mask, combine_shuffle, &s);
  T out;
  memcpy(&out, &s.out, sizeof(T));
  return out;
}

} // namespace smx_emu

static constexpr int warpSize = 32;
#define threadIdx (smx_emu::thread_idx)
#define blockIdx (smx_emu::block_idx)
#define blockDim (smx_emu::block_dim)
#define gridDim (smx_emu::grid_dim)

inline void __syncthreads() { smx_emu::block_barrier(0, 0); }
inline int __syncthreads_or(int p) { return smx_emu::block_barrier(1, p); }
inline int __syncthreads_and(int p) { return smx_emu::block_barrier(2, p); }
inline int __syncthreads_count(int p) { return smx_emu::block_barrier(3, p); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  smx_emu::lane_slot s{};
  smx_emu::warp_collective(mask, smx_emu::combine_none, &s);
}
inline void __threadfence() {}
inline void __threadfence_block() {}

/* the source lane of each shuffle, as the PTX ISA defines shfl.sync for a segment of `width` */
template <class T> T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  int lane = (int)smx_emu::lane_id(), base = lane & ~(width - 1);
  return smx_emu::shuffle_from(mask, v, base + (src & (width - 1)));
}
template <class T> T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  int lane = (int)smx_emu::lane_id(), base = lane & ~(width - 1), s = lane ^ lane_mask;
  return smx_emu::shuffle_from(mask, v, (s & ~(width - 1)) == base ? s : lane);
}
template <class T> T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  int lane = (int)smx_emu::lane_id(), in_seg = lane & (width - 1);
  return smx_emu::shuffle_from(mask, v, in_seg + (int)delta < width ? lane + (int)delta : lane);
}
template <class T> T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  int lane = (int)smx_emu::lane_id(), in_seg = lane & (width - 1);
  return smx_emu::shuffle_from(mask, v, in_seg >= (int)delta ? lane - (int)delta : lane);
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  smx_emu::lane_slot s{};
  s.in = pred != 0;
  smx_emu::warp_collective(mask, smx_emu::combine_ballot, &s);
  return (unsigned)s.out;
}
inline int __any_sync(unsigned mask, int pred) { return (__ballot_sync(mask, pred) & mask) != 0; }
inline int __all_sync(unsigned mask, int pred) { return (__ballot_sync(mask, pred) & mask) == mask; }
inline unsigned __activemask() { return 0xffffffffu; }

/* ---- atomics: one host thread runs a grid and fibers switch only at barriers ----------------- */

template <class T> T atomicAdd(T *p, T v) {
  T old = *p;
  *p = old + v;
  return old;
}
template <class T> T atomicMax(T *p, T v) {
  T old = *p;
  *p = old > v ? old : v;
  return old;
}
template <class T> T atomicMin(T *p, T v) {
  T old = *p;
  *p = old < v ? old : v;
  return old;
}
template <class T> T atomicExch(T *p, T v) {
  T old = *p;
  *p = v;
  return old;
}
template <class T> T atomicCAS(T *p, T cmp, T v) {
  T old = *p;
  if (old == cmp) *p = v;
  return old;
}

/* cuda_runtime.h's overload for kernels, which it declares only for nvcc */
template <class... P> cudaError_t cudaFuncSetAttribute(void (*f)(P...), cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void *>(f), attr, value);
}

/* CUDA's min and max overloads, for any pair of arithmetic types (as the usual conversions) */
template <class A, class B> inline typename std::common_type<A, B>::type min(A a, B b) {
  typedef typename std::common_type<A, B>::type T;
  return (T)a < (T)b ? (T)a : (T)b;
}
template <class A, class B> inline typename std::common_type<A, B>::type max(A a, B b) {
  typedef typename std::common_type<A, B>::type T;
  return (T)a > (T)b ? (T)a : (T)b;
}

/* ---- intrinsics ------------------------------------------------------------------------------- */

template <class T> inline T __ldg(const T *p) { return *p; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline void __sincosf(float x, float *s, float *c) { *s = sinf(x), *c = cosf(x); }
inline float __powf(float a, float b) { return powf(a, b); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline unsigned __float_as_uint(float x) {
  unsigned u;
  memcpy(&u, &x, 4);
  return u;
}
inline float __uint_as_float(unsigned u) {
  float x;
  memcpy(&x, &u, 4);
  return x;
}
inline int __float_as_int(float x) { return (int)__float_as_uint(x); }
inline float __int_as_float(int i) { return __uint_as_float((unsigned)i); }
inline long long __double_as_longlong(double x) {
  long long u;
  memcpy(&u, &x, 8);
  return u;
}
inline double __longlong_as_double(long long u) {
  double x;
  memcpy(&x, &u, 8);
  return x;
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; i++) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
long long clock64();
inline size_t __cvta_generic_to_shared(const void *p) { return (size_t)p; }

/* ---- WMMA (nvcuda::wmma) for the shapes seqmix uses: m16n16k8 TF32 ----------------------------- *
 * A fragment holds its matrix's elements in row-major order, lane l owning elements
 * [l num_elements, (l + 1) num_elements): the real layout is unspecified, and code that is correct
 * for any layout is correct here. mma_sync rounds its TF32 inputs as the tensor cores do
 * (truncation to 10 mantissa bits), multiplies exactly and accumulates in fp32. */
namespace nvcuda {
namespace wmma {
struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
namespace precision {
struct tf32 {};
} // namespace precision
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K> struct frag_shape;
template <int M, int N, int K> struct frag_shape<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K> struct frag_shape<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K> struct frag_shape<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

template <class Use, int M, int N, int K, class T, class Layout = void> struct fragment {
  static constexpr int rows = frag_shape<Use, M, N, K>::rows, cols = frag_shape<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols / 32;
  float x[num_elements];
};

inline float __float_to_tf32(float v) { /* cvt.rna.tf32.f32: nearest, ties away from zero */
  uint32_t u;
  memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & ~0x1fffu;
  float r;
  memcpy(&r, &u, 4);
  return r;
}

template <class Use, int M, int N, int K, class T, class Layout, class V>
void fill_fragment(fragment<Use, M, N, K, T, Layout> &f, V v) {
  for (int e = 0; e < f.num_elements; e++) f.x[e] = (float)v;
}

template <class Frag> void load_elements(Frag &f, const float *p, unsigned ld, bool col_major) {
  unsigned lane = smx_emu::lane_id();
  for (int e = 0; e < f.num_elements; e++) {
    int idx = (int)lane * f.num_elements + e, r = idx / Frag::cols, c = idx % Frag::cols;
    f.x[e] = col_major ? p[(size_t)c * ld + r] : p[(size_t)r * ld + c];
  }
}
template <class Use, int M, int N, int K, class T>
void load_matrix_sync(fragment<Use, M, N, K, T, col_major> &f, const float *p, unsigned ld) {
  load_elements(f, p, ld, true);
}
template <class Use, int M, int N, int K, class T>
void load_matrix_sync(fragment<Use, M, N, K, T, row_major> &f, const float *p, unsigned ld) {
  load_elements(f, p, ld, false);
}
template <int M, int N, int K>
void store_matrix_sync(float *p, const fragment<accumulator, M, N, K, float> &f, unsigned ld, layout_t layout) {
  unsigned lane = smx_emu::lane_id();
  for (int e = 0; e < f.num_elements; e++) {
    int idx = (int)lane * f.num_elements + e, r = idx / N, c = idx % N;
    if (layout == mem_col_major) p[(size_t)c * ld + r] = f.x[e];
    else p[(size_t)r * ld + c] = f.x[e];
  }
}

void combine_mma_tf32(smx_emu::lane_slot *const slots[32], unsigned mask);
template <int M, int N, int K, class LA, class LB>
void mma_sync(fragment<accumulator, M, N, K, float> &d, const fragment<matrix_a, M, N, K, precision::tf32, LA> &a,
              const fragment<matrix_b, M, N, K, precision::tf32, LB> &b,
              const fragment<accumulator, M, N, K, float> &c) {
  smx_emu::lane_slot s{};
  s.p[0] = d.x;
  s.p[1] = const_cast<float *>(a.x);
  s.p[2] = const_cast<float *>(b.x);
  s.p[3] = const_cast<float *>(c.x);
  s.in = ((uint64_t)M << 32) | ((uint64_t)N << 16) | (uint64_t)K;
  smx_emu::warp_collective(0xffffffffu, combine_mma_tf32, &s);
}
} // namespace wmma
} // namespace nvcuda

/* ---- PTX the kernels use through small wrappers (kernels/attention/cuda_flash.cuh) -------------- */
namespace smx_emu {
/* ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16 */
void ldmatrix_x4(uint32_t r[4], const void *row_address, bool trans);
/* cp.async.cg.shared.global 16 bytes (valid = false: zero-fill), commit_group, wait_group n. A copy
 * lands only when a wait_group covers its group, as late as the PTX ISA allows, so a kernel that
 * reads shared memory before waiting for it reads the 0xff filler instead. */
void cp_async16(void *dst, const void *src, bool valid);
void cp_async_commit();
void cp_async_wait(int n);
/* mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, c += a b */
void mma_m16n8k16_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1);
} // namespace smx_emu

#endif
