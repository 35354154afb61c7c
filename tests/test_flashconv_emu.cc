/* A host emulation of fftconv's cuda.flashconv device code (kernels/fftconv/cuda_flashconv.cuh),
 * compiled by the host C++ compiler in CUDA builds: every block runs with one thread (barriers
 * are no-ops, the thread-stride loops cover everything), so this checks the kernels' index math —
 * the Monarch stages, the digit-reversed spectrum, the outer stage through global memory, the
 * packing of two rows per complex row, gates, GELU, dk and dD — against a direct O(L^2) sum in
 * double, with no GPU. It cannot see races or launch errors: the GPU check does that.
 * The outer-stage path (N = 32K and 64K on a GPU) is exercised here with small inner lengths.
 *
 *   build/tests/seqmix_tests --filter 'flashconv_emu/kernels_match_direct_sums'
 */
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <criterion/criterion.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace {
struct emu_dim {
  unsigned x, y, z;
};
emu_dim threadIdx = {0, 0, 0}, blockIdx = {0, 0, 0}, blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
inline void __syncthreads() {}
float2 *smx_fc_emulated_smem;
} // namespace

#undef __launch_bounds__
#define __launch_bounds__(x)
#include "kernels/fftconv/cuda_flashconv.cuh"


namespace {

/* An inner length NI < N forces the outer stage (RO = N / NI). */
geometry test_geometry(int N, int NI) {
  geometry g{};
  g.N = N;
  g.NI = NI;
  g.RO = N / NI;
  g.G = g.RO == 1 && N <= SLOTS_ELEMS ? (int)(SLOTS_ELEMS / N) : 1;
  int m = 0;
  while ((1 << m) < NI) m++;
  while (m >= 4) {
    g.radix[g.n_stages++] = 16;
    m -= 4;
  }
  if (m > 0) g.radix[g.n_stages++] = 1 << m;
  return g;
}

double urand(uint32_t &s) {
  s = s * 1664525u + 1013904223u;
  return (s >> 8) / 8388608.0 - 1.0;
}
double gelu(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double gelu_grad(double x) {
  return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) * 0.39894228040143267794;
}

/* Storage: fp32 or bf16 (inputs rounded to bf16 before the direct sums, so the comparison
 * measures the kernels' arithmetic and the rounding of their outputs). */
float to_float(float x) { return x; }
float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> T from_float(float x);
template <> float from_float<float>(float x) { return x; }
template <> __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16(x); }

/* max |got - want| / max |want| over y, du, dk, dD (and dpre, dpost) */
template <typename T>
double emulate(int B, int H, int L, int gelu_on, int gates, int N, int NI) {
  geometry g = test_geometry(N, NI);
  uint32_t seed = 12345u + (uint32_t)(B * 7 + H * 13 + L);
  size_t n = (size_t)B * H * L;
  std::vector<float> u(n), k((size_t)H * L), D(H), pre(n), post(n), dy(n);
  for (std::vector<float> *v : {&u, &k, &D, &pre, &post, &dy})
    for (float &x : *v) x = to_float(from_float<T>((float)urand(seed)));
  auto store = [](const std::vector<float> &v) {
    std::vector<T> o(v.size());
    for (size_t i = 0; i < v.size(); i++) o[i] = from_float<T>(v[i]);
    return o;
  };
  std::vector<T> tu = store(u), tk = store(k), tD = store(D), tpre = store(pre), tpost = store(post), tdy = store(dy);
  std::vector<T> ty(n), tdu(n), tdk((size_t)H * L), tdD(H), tdpre(n), tdpost(n);
  std::vector<float2> tw(N);
  for (int m = 0; m < N; m++) {
    double a = -6.283185307179586476925 * m / N;
    tw[m] = make_float2((float)std::cos(a), (float)std::sin(a));
  }
  size_t smem_elems = (size_t)(g.RO == 1 ? g.G * N : NI);
  std::vector<float2> kf((size_t)H * N), work(N), zv((size_t)g.G * N), gbuf((size_t)g.G * N), acc(N), smem(smem_elems);
  smx_fc_emulated_smem = smem.data();
  int64_t pairs = (B + 1) / 2;
  const T *P = gates ? tpre.data() : nullptr, *Q = gates ? tpost.data() : nullptr;
  kernel_spectrum<T>(g, tk.data(), H, L, tw.data(), kf.data());
  forward_kernel<T>(g, B, H, L, pairs, gelu_on, tu.data(), tD.data(), P, Q, tw.data(), kf.data(), work.data(), ty.data());
  backward_kernel<T>(g, B, H, L, pairs, gelu_on, tu.data(), tD.data(), P, Q, tdy.data(), tw.data(), kf.data(),
                     work.data(), zv.data(), gbuf.data(), acc.data(), tdu.data(), tdk.data(), tdD.data(),
                     gates ? tdpre.data() : nullptr, gates ? tdpost.data() : nullptr);
  auto load = [](const std::vector<T> &v) {
    std::vector<float> o(v.size());
    for (size_t i = 0; i < v.size(); i++) o[i] = to_float(v[i]);
    return o;
  };
  std::vector<float> y = load(ty), du = load(tdu), dk = load(tdk), dD = load(tdD), dpre = load(tdpre),
                     dpost = load(tdpost);
  double worst = 0, scale = 0;
  auto see = [&](double got, double want) {
    worst = std::fmax(worst, std::fabs(got - want));
    scale = std::fmax(scale, std::fabs(want));
  };
  std::vector<double> dk_ref((size_t)H * L, 0.0), dD_ref(H, 0.0);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++) {
      size_t r = ((size_t)b * H + h) * L;
      std::vector<double> v(L), z(L), gr(L);
      for (int t = 0; t < L; t++) v[t] = gates ? (double)pre[r + t] * u[r + t] : u[r + t];
      for (int t = 0; t < L; t++) {
        double s = (double)D[h] * v[t];
        for (int j = 0; j <= t; j++) s += (double)k[(size_t)h * L + j] * v[t - j];
        z[t] = s;
      }
      for (int t = 0; t < L; t++) {
        double a = gelu_on ? gelu(z[t]) : z[t];
        see(y[r + t], gates ? post[r + t] * a : a);
        if (gates) see(dpost[r + t], dy[r + t] * a);
        gr[t] = dy[r + t] * (gates ? post[r + t] : 1.0) * (gelu_on ? gelu_grad(z[t]) : 1.0);
      }
      for (int s = 0; s < L; s++) {
        double dv = (double)D[h] * gr[s];
        for (int t = s; t < L; t++) dv += gr[t] * k[(size_t)h * L + t - s];
        see(du[r + s], gates ? pre[r + s] * dv : dv);
        if (gates) see(dpre[r + s], u[r + s] * dv);
      }
      for (int j = 0; j < L; j++)
        for (int t = j; t < L; t++) dk_ref[(size_t)h * L + j] += gr[t] * v[t - j];
      for (int t = 0; t < L; t++) dD_ref[h] += gr[t] * v[t];
    }
  for (size_t i = 0; i < dk_ref.size(); i++) see(dk[i], dk_ref[i]);
  for (int h = 0; h < H; h++) see(dD[h], dD_ref[h]);
  return worst / (scale > 0 ? scale : 1);
}

} // namespace

/* fp32 rounding of a few DFT stages: measured worst relative error 4.3e-7 (limit 1e-5). */
Test(flashconv_emu, kernels_match_direct_sums) {
  struct {
    int B, H, L, gelu, gates, N, NI;
  } cases[] = {
      {1, 1, 1, 0, 0, 256, 256},       {3, 2, 7, 1, 1, 256, 256},       {2, 3, 100, 0, 1, 256, 256},
      {5, 2, 128, 1, 0, 256, 256},     {1, 2, 129, 0, 0, 512, 512},     {3, 3, 300, 1, 1, 1024, 1024},
      {2, 1, 1031, 0, 1, 4096, 4096},  {1, 1, 2049, 1, 1, 8192, 8192},  {3, 1, 5000, 1, 1, 16384, 16384},
      /* the outer stage: radix 4 and 2 around inner sub-blocks */
      {3, 2, 100, 1, 1, 256, 64},      {2, 2, 200, 0, 1, 512, 128},     {1, 3, 60, 0, 0, 128, 64},
      {4, 1, 500, 1, 1, 1024, 256},    {3, 1, 3000, 0, 1, 8192, 2048},
  };
  for (auto &c : cases) {
    double rel = emulate<float>(c.B, c.H, c.L, c.gelu, c.gates, c.N, c.NI);
    cr_log_info("fp32 B=%d H=%d L=%d N=%d NI=%d: relative error %g", c.B, c.H, c.L, c.N, c.NI, rel);
    cr_assert_lt(rel, 1e-5, "B=%d H=%d L=%d gelu=%d gates=%d N=%d NI=%d: relative error %g", c.B, c.H, c.L, c.gelu,
                 c.gates, c.N, c.NI, rel);
  }
}

/* bf16 storage: inputs and outputs rounded to bf16 (2^-9 relative each), fp32 arithmetic inside:
 * measured worst 2.8e-3 of max|ref| (limit 8e-3). */
Test(flashconv_emu, bf16_storage_matches_direct_sums) {
  struct {
    int B, H, L, gelu, gates, N, NI;
  } cases[] = {
      {3, 2, 7, 1, 1, 256, 256}, {2, 3, 100, 0, 1, 256, 256}, {3, 3, 300, 1, 1, 1024, 1024}, {4, 1, 500, 1, 1, 1024, 256},
  };
  for (auto &c : cases) {
    double rel = emulate<__nv_bfloat16>(c.B, c.H, c.L, c.gelu, c.gates, c.N, c.NI);
    cr_log_info("bf16 B=%d H=%d L=%d N=%d NI=%d: relative error %g", c.B, c.H, c.L, c.N, c.NI, rel);
    cr_assert_lt(rel, 8e-3, "B=%d H=%d L=%d gelu=%d gates=%d N=%d NI=%d: relative error %g", c.B, c.H, c.L, c.gelu,
                 c.gates, c.N, c.NI, rel);
  }
}
