/* lm_head_ce variant `cuda.gather`: the labelled positions are compacted on the device (CUB
 * DeviceSelect::Flagged, stable: position order), and the row count n stays on the device: the
 * logits GEMM, dx and dW run as the moe segmented GEMM kernels (kernels/moe/cuda_moe_common.cuh),
 * which read their row count from device memory, so nothing waits for the host (the benchmark
 * timer holds the stream while work is queued). Per labelled row one block computes the
 * log-sum-exp (fixed-order block reductions) and, backward, dz = (softmax - onehot) dloss / n in
 * place of the logits. The loss is the mean of the row losses, summed by one block in a fixed
 * order: repeatable, no atomics. A label that is neither -100 nor an integer in [0, V) cannot be
 * reported without a host synchronisation, so it counts as ignored (the CPU variant refuses it).
 * Workspace: the logits of all T positions (T V floats), the worst case of n. The trainer's
 * questions after a pass (the loss of a backward run, the argmax of a forward run) are answered
 * from this state by smx_lm_head_ce_cuda_gather_loss / _argmax (include/seqmix/model_ops_cuda.h).
 *
 *   seqmix check --op lm_head_ce --variant cuda.gather      (needs a GPU; skipped otherwise)
 */
#include <cuda_runtime.h>
#include <math.h>
#include <stdlib.h>

#include <cub/device/device_select.cuh>

extern "C" {
#include "reference/lm_head_ce.h"
#include "seqmix/model_ops_cuda.h"
}
#include "kernels/moe/cuda_moe_common.cuh"

namespace {

using moe_cuda::block_sum;
using moe_cuda::grid_for;
using moe_cuda::segs;
using moe_cuda::TILE;

constexpr int NT = 256;

struct state {
  int64_t T, d, V;
  int *iota, *flags, *idx, *n; /* T, T, T, 1 */
  float *xg, *z, *rl;          /* T d, T V, T */
  void *temp;
  size_t temp_bytes;
};

__device__ __forceinline__ bool labelled(float f, int64_t V) { return f >= 0.0f && f < (float)V && f == floorf(f); }

__global__ void k_flags(int64_t T, int64_t V, const float *labels, int *flags, int *iota) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < T; i += (int64_t)gridDim.x * blockDim.x) {
    flags[i] = labelled(labels[i], V);
    iota[i] = (int)i;
  }
}

__global__ void k_gather(int64_t T, int64_t d, const int *n, const int *idx, const float *x, float *xg) {
  int64_t lim = (int64_t)*n * d;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < lim; i += (int64_t)gridDim.x * blockDim.x)
    xg[i] = x[(int64_t)idx[i / d] * d + i % d];
}

__global__ void k_scatter(int64_t d, const int *n, const int *idx, const float *dxg, float *dx) {
  int64_t lim = (int64_t)*n * d;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < lim; i += (int64_t)gridDim.x * blockDim.x)
    dx[(int64_t)idx[i / d] * d + i % d] = dxg[i];
}

__device__ float block_max(float v, float *sh) {
  for (int o = 16; o; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
  int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
  __syncthreads();
  if (l == 0) sh[w] = v;
  __syncthreads();
  if (w == 0) {
    float r = l < nw ? sh[l] : -INFINITY;
    for (int o = 16; o; o >>= 1) r = fmaxf(r, __shfl_down_sync(0xffffffffu, r, o));
    if (l == 0) sh[32] = r;
  }
  __syncthreads();
  return sh[32];
}

/* One block per labelled row: the row loss; grad: dz = (softmax - onehot) dloss / n in place. */
__global__ void k_rows(int64_t V, const int *n, const int *idx, const float *labels, float *z, float *rl,
                       const float *dloss, int grad) {
  __shared__ float sh[33];
  int rows = *n;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float *zr = z + r * V;
    float m = -INFINITY;
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x) m = fmaxf(m, zr[v]);
    m = block_max(m, sh);
    float s = 0.0f;
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x) s += expf(zr[v] - m);
    float lse = m + logf(block_sum(s, sh));
    int64_t lab = (int64_t)labels[idx[r]];
    if (threadIdx.x == 0) rl[r] = lse - zr[lab];
    __syncthreads(); /* zr[lab] is read before any thread overwrites the row */
    if (grad) {
      float scale = dloss[0] / (float)rows;
      for (int64_t v = threadIdx.x; v < V; v += blockDim.x) zr[v] = (expf(zr[v] - lse) - (v == lab ? 1.0f : 0.0f)) * scale;
    }
  }
}

/* loss = mean of the n row losses, one block, a fixed order */
__global__ void k_mean(const int *n, const float *rl, float *loss) {
  __shared__ float sh[33];
  int rows = *n;
  float s = 0.0f;
  for (int i = threadIdx.x; i < rows; i += blockDim.x) s += rl[i];
  s = block_sum(s, sh);
  if (threadIdx.x == 0) loss[0] = rows ? s / (float)rows : 0.0f;
}

/* One block per labelled row: the first index of the row's maximum (the CPU's tie rule). */
__global__ void k_argmax(int64_t V, const int *n, const int *idx, const float *z, float *pred) {
  __shared__ float shv[32];
  __shared__ int64_t shi[32];
  int rows = *n;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *zr = z + r * V;
    float bv = -INFINITY;
    int64_t bi = V;
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x)
      if (zr[v] > bv || (zr[v] == bv && v < bi)) bv = zr[v], bi = v;
    for (int o = 16; o; o >>= 1) {
      float ov = __shfl_down_sync(0xffffffffu, bv, o);
      int64_t oi = __shfl_down_sync(0xffffffffu, bi, o);
      if (ov > bv || (ov == bv && oi < bi)) bv = ov, bi = oi;
    }
    int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
    if (l == 0) shv[w] = bv, shi[w] = bi;
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int k = 1; k < nw; k++)
        if (shv[k] > bv || (shv[k] == bv && shi[k] < bi)) bv = shv[k], bi = shi[k];
      pred[idx[r]] = bi < V ? (float)bi : 0.0f; /* a row of NaNs: class 0, as no comparison holds */
    }
    __syncthreads();
  }
}

__global__ void k_fill(int64_t n, float value, float *x) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    x[i] = value;
}

const char *unsupported(const smx_config *c) {
  int64_t V = c->v[CE_V], d = c->v[CE_D];
  if (((V + TILE - 1) / TILE) * ((d + TILE - 1) / TILE) > 65535) return "V/64 x d/64 output tiles of dW above 65535";
  if (c->v[CE_T] > INT32_MAX) return "T above 2^31 - 1 positions (CUB selects int counts)";
  return NULL;
}

void destroy(void *p) {
  state *s = (state *)p;
  if (!s) return;
  cudaFree(s->iota);
  cudaFree(s->flags);
  cudaFree(s->idx);
  cudaFree(s->n);
  cudaFree(s->xg);
  cudaFree(s->z);
  cudaFree(s->rl);
  cudaFree(s->temp);
  free(s);
}

smx_status init(state *s, const smx_config *c) {
  s->T = c->v[CE_T];
  s->d = c->v[CE_D];
  s->V = c->v[CE_V];
  size_t T = (size_t)s->T;
  SMX_CUDA_CHECK(cudaMalloc(&s->iota, T * sizeof(int)));
  SMX_CUDA_CHECK(cudaMalloc(&s->flags, T * sizeof(int)));
  SMX_CUDA_CHECK(cudaMalloc(&s->idx, T * sizeof(int)));
  SMX_CUDA_CHECK(cudaMalloc(&s->n, sizeof(int)));
  SMX_CUDA_CHECK(cudaMalloc(&s->xg, T * (size_t)s->d * sizeof(float)));
  SMX_CUDA_CHECK(cudaMalloc(&s->z, T * (size_t)s->V * sizeof(float)));
  SMX_CUDA_CHECK(cudaMalloc(&s->rl, T * sizeof(float)));
  SMX_CUDA_CHECK(cub::DeviceSelect::Flagged(nullptr, s->temp_bytes, (const int *)nullptr, (const int *)nullptr,
                                            (int *)nullptr, (int *)nullptr, (int)s->T));
  SMX_CUDA_CHECK(cudaMalloc(&s->temp, s->temp_bytes ? s->temp_bytes : 1));
  return SMX_OK;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  state *s = (state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "lm_head_ce cuda.gather: cannot allocate state");
  smx_status st = init(s, c);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) {
  const state *s = (const state *)p;
  return s->temp_bytes + sizeof(float) * (size_t)s->T * (size_t)(4 + s->d + s->V + 1);
}

smx_status run(void *p, smx_pass pass, void *const *tv) {
  state *s = (state *)p;
  float *const *t = (float *const *)tv;
  int64_t T = s->T, d = s->d, V = s->V;
  const float *labels = t[CE_LABELS];
  k_flags<<<grid_for(T), NT>>>(T, V, labels, s->flags, s->iota);
  SMX_CUDA_CHECK_LAUNCH();
  size_t tb = s->temp_bytes;
  SMX_CUDA_CHECK(cub::DeviceSelect::Flagged(s->temp, tb, s->iota, s->flags, s->idx, s->n, (int)T, (cudaStream_t)0));
  k_gather<<<grid_for(T * d), NT>>>(T, d, s->n, s->idx, t[CE_X], s->xg);
  SMX_CUDA_CHECK_LAUNCH();
  segs one = {nullptr, nullptr, nullptr, nullptr, s->n, 0};
  unsigned row_tiles = (unsigned)((T + TILE - 1) / TILE);
  /* z (n x V) = xg W^T: op(B) = W^T with W (V x d) */
  dim3 gz(row_tiles, (unsigned)((V + TILE - 1) / TILE));
  moe_cuda::k_seg_gemm<true><<<gz, 256>>>(one, (int)d, (int)V, 1.0f, s->xg, (int)d, t[CE_W], 0, (int)d, 0.0f, s->z, (int)V);
  SMX_CUDA_CHECK_LAUNCH();
  unsigned rows = (unsigned)(T < 65535 * 16 ? T : 65535 * 16);
  int grad = pass == SMX_BWD;
  k_rows<<<rows, NT>>>(V, s->n, s->idx, labels, s->z, s->rl, grad ? t[CE_DLOSS] : nullptr, grad);
  SMX_CUDA_CHECK_LAUNCH();
  if (!grad) {
    k_mean<<<1, 1024>>>(s->n, s->rl, t[CE_LOSS]);
    SMX_CUDA_CHECK_LAUNCH();
    return SMX_OK;
  }
  /* dW = dz^T xg first: it reads xg, which then takes dxg = dz W (n x d) before the scatter to dx */
  dim3 gw(1, (unsigned)(((V + TILE - 1) / TILE) * ((d + TILE - 1) / TILE)));
  moe_cuda::k_seg_wgrad<<<gw, 256>>>(one, (int)V, (int)d, s->z, (int)V, s->xg, (int)d, t[CE_DW], 0);
  SMX_CUDA_CHECK_LAUNCH();
  dim3 gx(row_tiles, (unsigned)((d + TILE - 1) / TILE));
  moe_cuda::k_seg_gemm<false><<<gx, 256>>>(one, (int)V, (int)d, 1.0f, s->z, (int)V, t[CE_W], 0, (int)d, 0.0f, s->xg,
                                           (int)d);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUDA_CHECK(cudaMemsetAsync(t[CE_DX], 0, (size_t)(T * d) * sizeof(float), 0));
  k_scatter<<<grid_for(T * d), NT>>>(d, s->n, s->idx, s->xg, t[CE_DX]);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" smx_status smx_lm_head_ce_cuda_gather_loss(void *p, float *loss) {
  state *s = (state *)p;
  k_mean<<<1, 1024>>>(s->n, s->rl, loss);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

extern "C" smx_status smx_lm_head_ce_cuda_gather_argmax(void *p, float *pred) {
  state *s = (state *)p;
  k_fill<<<grid_for(s->T), NT>>>(s->T, -1.0f, pred);
  SMX_CUDA_CHECK_LAUNCH();
  unsigned rows = (unsigned)(s->T < 65535 * 16 ? s->T : 65535 * 16);
  k_argmax<<<rows, NT>>>(s->V, s->n, s->idx, s->z, pred);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

extern "C" const smx_variant smx_lm_head_ce_cuda_gather = {
    "cuda.gather",
    "labelled rows compacted on the device (CUB), logits and gradients by segmented GEMMs reading n from the device",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    unsupported,
    create,
    destroy,
    workspace_bytes,
    run,
    SMX_F32,
};
