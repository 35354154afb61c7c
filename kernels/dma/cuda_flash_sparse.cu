/* dma variants `cuda.flash_sparse` (fp32) and `cuda.flash_sparse.bf16` (bf16 storage): Dynamic
 * Mask Attention as FlashAttention-2 with the bias added to the scores and the key selection as a
 * per-key row interval (reference/dma.h), forward and backward, with the kernels of
 * kernels/attention/cuda_flash.cuh in DMA mode. Each pass first computes keep_until on the GPU
 * (smx_dma_keep_until_cuda, kernels/dma/cuda_select.cu) and its maximum per 32 keys, which lets
 * the kernels skip key tiles that no row of a query tile keeps (forward) and bound the query rows
 * a key tile reaches (backward): work follows the kept pairs, not L^2 / 2. Head dims 32, 64, 128.
 *
 *   seqmix check --op dma --variant cuda.flash_sparse        (needs a GPU; skipped otherwise)
 *   seqmix check --op dma --variant cuda.flash_sparse.bf16
 *
 * Workspace: keep_until B*Hkv*L int32, its per-granule maximum B*Hkv*ceil(L/32) int32,
 * D = <dO, O> B*H*L floats, and for bf16 the fp32 dQ accumulator B*L*H*P floats.
 */
#include <stdlib.h>

extern "C" {
#include "reference/dma.h"
}
#include "kernels/attention/cuda_flash.cuh"
#include "kernels/dma/cuda_select.h"

namespace {

using smx_flash::bf16;
using smx_flash::KEEP_GRANULE;

struct sparse_state {
  int64_t B, L, H, Hkv, P, W, select;
  int32_t *keep;     /* (B*Hkv, L) */
  int32_t *keep_max; /* (B*Hkv, ceil(L / KEEP_GRANULE)) */
  float *delta;      /* (B, H, L) */
  float *dq_acc;     /* bf16 only: (B, L, H, P) */
};

int64_t granules(int64_t L) { return (L + KEEP_GRANULE - 1) / KEEP_GRANULE; }

/* keep_max[row, gi] = the largest keep[row, j] over the kept keys j of granule gi (keep[j] > j),
 * 0 when none is kept: a key tile matters to query rows below it and to no others. */
__global__ void keep_granule_max(const int32_t *keep, int32_t *keep_max, int64_t L, int64_t ng, int64_t n) {
  const int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (e >= n) return;
  const int64_t row = e / ng, j0 = (e % ng) * KEEP_GRANULE, j1 = j0 + KEEP_GRANULE < L ? j0 + KEEP_GRANULE : L;
  int32_t m = 0;
  for (int64_t j = j0; j < j1; j++) {
    const int32_t u = keep[row * L + j];
    if (u > j && u > m) m = u;
  }
  keep_max[e] = m;
}

const char *unsupported(const smx_config *c) {
  return smx_flash::supported_head_dim(c->v[DMA_P]) ? NULL : "head dimension P must be 32, 64 or 128";
}

void destroy(void *p) {
  sparse_state *s = (sparse_state *)p;
  if (!s) return;
  cudaFree(s->keep);
  cudaFree(s->keep_max);
  cudaFree(s->delta);
  cudaFree(s->dq_acc);
  free(s);
}

template <typename T> smx_status setup(sparse_state *s) {
  SMX_CUDA_CHECK(cudaMalloc(&s->keep, (size_t)(s->B * s->Hkv * s->L) * sizeof(int32_t)));
  SMX_CUDA_CHECK(cudaMalloc(&s->keep_max, (size_t)(s->B * s->Hkv * granules(s->L)) * sizeof(int32_t)));
  SMX_CUDA_CHECK(cudaMalloc(&s->delta, (size_t)(s->B * s->H * s->L) * sizeof(float)));
  if (!std::is_same<T, float>::value)
    SMX_CUDA_CHECK(cudaMalloc(&s->dq_acc, (size_t)(s->B * s->L * s->H * s->P) * sizeof(float)));
  return smx_flash::prepare<T, true>((int)s->P);
}

template <typename T> smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  sparse_state *s = (sparse_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.flash_sparse: cannot allocate state");
  s->B = c->v[DMA_B];
  s->L = c->v[DMA_L];
  s->H = c->v[DMA_H];
  s->Hkv = c->v[DMA_HKV];
  s->P = c->v[DMA_P];
  s->W = c->v[DMA_W];
  s->select = c->v[DMA_SELECT];
  smx_status st = setup<T>(s);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) {
  const sparse_state *s = (const sparse_state *)p;
  size_t n = (size_t)(s->B * s->Hkv * (s->L + granules(s->L))) * sizeof(int32_t) +
             (size_t)(s->B * s->H * s->L) * sizeof(float);
  if (s->dq_acc) n += (size_t)(s->B * s->L * s->H * s->P) * sizeof(float);
  return n;
}

/* keep_until and its granule maxima from the bias; both passes call it (backward must not rely on
 * a previous forward). */
template <typename T> smx_status select_keys(const sparse_state *s, const void *bias) {
  const smx_dtype dt = std::is_same<T, float>::value ? SMX_F32 : SMX_BF16;
  smx_status st = smx_dma_keep_until_cuda(bias, dt, s->B * s->Hkv, s->L, s->W, (int)s->select, s->keep);
  if (st != SMX_OK) return st;
  const int64_t ng = granules(s->L), n = s->B * s->Hkv * ng;
  keep_granule_max<<<(unsigned)((n + 255) / 256), 256>>>(s->keep, s->keep_max, s->L, ng, n);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

template <typename T> smx_status run(void *p, smx_pass pass, void *const *t) {
  const sparse_state *s = (const sparse_state *)p;
  for (int i = 0; i < DMA_NSLOTS; i++)
    if ((uintptr_t)t[i] % 16)
      return smx_fail(SMX_ERR_INVALID, "cuda.flash_sparse: tensor %d is not 16-byte aligned (cp.async needs it)", i);
  smx_status st = select_keys<T>(s, t[DMA_BIAS]);
  if (st != SMX_OK) return st;
  const int B = (int)s->B, P = (int)s->P;
  const float scale = 1.0f / sqrtf((float)s->P);
  if (pass == SMX_FWD) {
    smx_flash::fwd_args<T> a = {};
    a.q = (const T *)t[DMA_Q];
    a.k = (const T *)t[DMA_K];
    a.v = (const T *)t[DMA_V];
    a.bias = (const T *)t[DMA_BIAS];
    a.keep = s->keep;
    a.keep_max = s->keep_max;
    a.o = (T *)t[DMA_O];
    a.lse = (float *)t[DMA_LSE];
    a.L = (int)s->L;
    a.H = (int)s->H;
    a.Hkv = (int)s->Hkv;
    a.scale = scale;
    return smx_flash::forward<T, true>(a, B, P);
  }
  smx_flash::bwd_args<T> a = {};
  a.q = (const T *)t[DMA_Q];
  a.k = (const T *)t[DMA_K];
  a.v = (const T *)t[DMA_V];
  a.dout = (const T *)t[DMA_DO];
  a.bias = (const T *)t[DMA_BIAS];
  a.keep = s->keep;
  a.keep_max = s->keep_max;
  a.lse = (const float *)t[DMA_LSE];
  a.delta = s->delta;
  a.dq_acc = std::is_same<T, float>::value ? (float *)t[DMA_DQ] : s->dq_acc;
  a.dk = (T *)t[DMA_DK];
  a.dv = (T *)t[DMA_DV];
  a.dbias = (T *)t[DMA_DBIAS];
  a.L = (int)s->L;
  a.H = (int)s->H;
  a.Hkv = (int)s->Hkv;
  a.scale = scale;
  return smx_flash::backward<T, true>(a, (const T *)t[DMA_O], (T *)t[DMA_DQ], B, P);
}

} // namespace

extern "C" const smx_variant smx_dma_cuda_flash_sparse = {
    "cuda.flash_sparse",
    "FlashAttention-2 in fp32 on CUDA cores with the bias in the scores and the key selection as "
    "per-key row intervals; key tiles no query row keeps are skipped",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    unsupported,
    create<float>,
    destroy,
    workspace_bytes,
    run<float>,
    SMX_F32,
};

extern "C" const smx_variant smx_dma_cuda_flash_sparse_bf16 = {
    "cuda.flash_sparse.bf16",
    "the same in bf16 on tensor cores (mma.sync m16n8k16, fp32 accumulation and softmax), fp32 "
    "log-sum-exp",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    unsupported,
    create<bf16>,
    destroy,
    workspace_bytes,
    run<bf16>,
    SMX_BF16,
};
