/* dma variants `cuda.dense_bias` (fp32) and `cuda.dense_bias.bf16`: "SDPA with a dense bias", the
 * baseline flash-sparse-attn measures itself against. The key selection (smx_dma_keep_until_cuda)
 * is expanded into a dense (B, H, L, L) fp32 additive mask, M[b,h,i,j] = bias[b, h/(H/Hkv), j] on
 * kept keys (j <= i < keep_until[j]) and -inf elsewhere, written straight into the score buffer;
 * the score GEMM then adds scale Q K^T to it (beta = 1), and the rest is the unfused attention of
 * cuda.cublas (cuda_unfused.cuh). The backward rebuilds the mask (it must not rely on the
 * forward), runs the unfused backward with dS kept in fp32, and reduces dS over query rows and
 * the heads of each KV group into dbias, in a fixed order (deterministic).
 *
 *   seqmix check --op dma --variant cuda.dense_bias        (needs a GPU; skipped otherwise)
 *   seqmix check --op dma --variant cuda.dense_bias.bf16
 *   seqmix bench --op dma --variant cuda.dense_bias --suite paper
 */
#include <stdlib.h>

extern "C" {
#include "reference/dma.h"
}
#include "kernels/attention/cuda_unfused.cuh"
#include "kernels/dma/cuda_select.h"

namespace {

const double MAX_WORKSPACE = 1099511627776.0; /* 2^40 bytes: no device holds more */
constexpr int DBIAS_ROWS = 256;               /* query rows per partial sum of dbias */

struct dense_state {
  unfused u;
  int64_t w, nchunk;
  int select;
  int32_t *keep; /* (B, Hkv, L) keep_until */
  float *part;   /* (B, Hkv, nchunk, L): dbias partial sums over DBIAS_ROWS query rows */
};

/* Row r = (b*H + h)*L + i of the score buffer gets M[b,h,i,:]. */
template <typename T>
__global__ void __launch_bounds__(UNFUSED_ROW_THREADS)
    dense_mask(const T *bias, const int32_t *keep, float *s, int64_t H, int64_t Hkv, int64_t L, int64_t rows) {
  const int64_t G = H / Hkv;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    int64_t i = r % L, bh = r / L, b = bh / H, h = bh % H;
    int64_t bg = b * Hkv + h / G;
    const T *br = bias + bg * L;
    const int32_t *kr = keep + bg * L;
    float *sr = s + r * L;
    for (int64_t j = threadIdx.x; j < L; j += UNFUSED_ROW_THREADS)
      sr[j] = j <= i && i < kr[j] ? unfused_f32(br[j]) : -INFINITY;
  }
}

/* part[bg, c, j] = sum over the heads h of group g (in order) and the query rows i of chunk c
 * (i >= j, in order) of dS[b, h, i, j]. Threads of a warp take consecutive j: coalesced rows. */
__global__ void dbias_partial(const float *ds, float *part, int64_t H, int64_t Hkv, int64_t L, int64_t nchunk,
                              int64_t n) {
  const int64_t G = H / Hkv;
  for (int64_t x = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; x < n; x += (int64_t)gridDim.x * blockDim.x) {
    int64_t j = x % L, t = x / L, c = t % nchunk, bg = t / nchunk, b = bg / Hkv, g = bg % Hkv;
    int64_t i0 = c * DBIAS_ROWS > j ? c * DBIAS_ROWS : j, i1 = (c + 1) * DBIAS_ROWS < L ? (c + 1) * DBIAS_ROWS : L;
    float acc = 0.0f;
    for (int64_t hl = 0; hl < G; hl++) {
      const float *col = ds + ((b * H + g * G + hl) * L) * L + j;
      for (int64_t i = i0; i < i1; i++) acc += col[i * L];
    }
    part[x] = acc;
  }
}

/* dbias[bg, j] = sum over chunks c (in order) of part[bg, c, j] */
template <typename T> __global__ void dbias_finish(const float *part, T *dbias, int64_t L, int64_t nchunk, int64_t n) {
  for (int64_t x = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; x < n; x += (int64_t)gridDim.x * blockDim.x) {
    int64_t j = x % L, bg = x / L;
    const float *p = part + bg * nchunk * L + j;
    float acc = 0.0f;
    for (int64_t c = 0; c < nchunk; c++) acc += p[c * L];
    dbias[x] = unfused_from_f32<T>(acc);
  }
}

double workspace_of(const smx_config *c, smx_dtype dt) {
  int64_t B = c->v[DMA_B], L = c->v[DMA_L], Hkv = c->v[DMA_HKV];
  double nchunk = (double)((L + DBIAS_ROWS - 1) / DBIAS_ROWS);
  return unfused_bytes(B, L, c->v[DMA_H], Hkv, c->v[DMA_P], dt) + 4.0 * B * Hkv * L * (1.0 + nchunk);
}

const char *unsupported_f32(const smx_config *c) {
  /* one head's L x L matrix goes through cuBLAS's 32-bit dimension products */
  if ((double)c->v[DMA_L] * (double)c->v[DMA_L] > 2147483647.0) return "cuda.dense_bias: L*L exceeds 2^31 - 1 (L <= 46340)";
  return workspace_of(c, SMX_F32) > MAX_WORKSPACE ? "cuda.dense_bias: the B*H*L*L score and mask buffers exceed 2^40 bytes" : NULL;
}

const char *unsupported_bf16(const smx_config *c) {
  /* one head's L x L matrix goes through cuBLAS's 32-bit dimension products */
  if ((double)c->v[DMA_L] * (double)c->v[DMA_L] > 2147483647.0) return "cuda.dense_bias.bf16: L*L exceeds 2^31 - 1 (L <= 46340)";
  return workspace_of(c, SMX_BF16) > MAX_WORKSPACE ? "cuda.dense_bias.bf16: the B*H*L*L score and mask buffers exceed 2^40 bytes" : NULL;
}

void destroy(void *p) {
  dense_state *s = (dense_state *)p;
  if (!s) return;
  unfused_release(&s->u);
  cudaFree(s->keep);
  cudaFree(s->part);
  free(s);
}

smx_status alloc_selection(dense_state *s) {
  size_t row = (size_t)(s->u.B * s->u.Hkv * s->u.L);
  SMX_CUDA_CHECK(cudaMalloc(&s->keep, row * sizeof(int32_t)));
  SMX_CUDA_CHECK(cudaMalloc(&s->part, row * (size_t)s->nchunk * sizeof(float)));
  return SMX_OK;
}

smx_status create_as(const smx_config *c, void **out, smx_dtype dt) {
  *out = NULL;
  dense_state *s = (dense_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.dense_bias: cannot allocate state");
  s->w = c->v[DMA_W];
  s->select = (int)c->v[DMA_SELECT];
  s->nchunk = (c->v[DMA_L] + DBIAS_ROWS - 1) / DBIAS_ROWS;
  smx_status st = unfused_init(&s->u, c->v[DMA_B], c->v[DMA_L], c->v[DMA_H], c->v[DMA_HKV], c->v[DMA_P], dt);
  if (st == SMX_OK) st = alloc_selection(s);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

smx_status create_f32(const smx_config *c, void **out) { return create_as(c, out, SMX_F32); }
smx_status create_bf16(const smx_config *c, void **out) { return create_as(c, out, SMX_BF16); }

size_t workspace_bytes(const void *p) {
  const dense_state *s = (const dense_state *)p;
  const unfused *u = &s->u;
  size_t row = (size_t)(u->B * u->Hkv * u->L);
  return (size_t)unfused_bytes(u->B, u->L, u->H, u->Hkv, u->P, u->dtype) + row * sizeof(int32_t) +
         row * (size_t)s->nchunk * sizeof(float);
}

/* keep_until, the dense mask into the score buffer, then s = scale Q K^T + M. */
smx_status masked_scores(dense_state *s, const void *q, const void *k, const void *bias) {
  unfused *u = &s->u;
  smx_status st = smx_dma_keep_until_cuda(bias, u->dtype, u->B * u->Hkv, u->L, s->w, s->select, s->keep);
  if (st != SMX_OK) return st;
  int64_t rows = u->B * u->H * u->L;
  if (u->dtype == SMX_BF16)
    dense_mask<__nv_bfloat16><<<unfused_grid(rows, 1), UNFUSED_ROW_THREADS>>>((const __nv_bfloat16 *)bias, s->keep,
                                                                              u->s, u->H, u->Hkv, u->L, rows);
  else
    dense_mask<float>
        <<<unfused_grid(rows, 1), UNFUSED_ROW_THREADS>>>((const float *)bias, s->keep, u->s, u->H, u->Hkv, u->L, rows);
  SMX_CUDA_CHECK_LAUNCH();
  return unfused_scores(u, q, k, 1.0f);
}

smx_status bias_grad(dense_state *s, void *dbias) {
  unfused *u = &s->u;
  int64_t cols = u->B * u->Hkv * u->L, n = cols * s->nchunk;
  dbias_partial<<<unfused_grid(n, 256), 256>>>(u->dp, s->part, u->H, u->Hkv, u->L, s->nchunk, n);
  SMX_CUDA_CHECK_LAUNCH();
  if (u->dtype == SMX_BF16)
    dbias_finish<__nv_bfloat16>
        <<<unfused_grid(cols, 256), 256>>>(s->part, (__nv_bfloat16 *)dbias, u->L, s->nchunk, cols);
  else
    dbias_finish<float><<<unfused_grid(cols, 256), 256>>>(s->part, (float *)dbias, u->L, s->nchunk, cols);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

smx_status run(void *p, smx_pass pass, void *const *t) {
  dense_state *s = (dense_state *)p;
  smx_status st = masked_scores(s, t[DMA_Q], t[DMA_K], t[DMA_BIAS]);
  if (st != SMX_OK) return st;
  if (pass == SMX_FWD) return unfused_forward(&s->u, t[DMA_V], t[DMA_O], (float *)t[DMA_LSE]);
  st = unfused_backward(&s->u, t[DMA_Q], t[DMA_K], t[DMA_V], t[DMA_DO], t[DMA_DQ],
                        t[DMA_DK], t[DMA_DV], 1);
  if (st != SMX_OK) return st;
  return bias_grad(s, t[DMA_DBIAS]);
}

} // namespace

extern "C" const smx_variant smx_dma_cuda_dense_bias = {
    "cuda.dense_bias",
    "SDPA with a dense (B,H,L,L) fp32 bias/-inf mask from the GPU selection, unfused cuBLAS attention",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    unsupported_f32,
    create_f32,
    destroy,
    workspace_bytes,
    run,
    SMX_F32,
};

extern "C" const smx_variant smx_dma_cuda_dense_bias_bf16 = {
    "cuda.dense_bias.bf16",
    "dense-bias SDPA with bf16 GEMM operands (fp32 accumulation, scores, mask and softmax)",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    unsupported_bf16,
    create_bf16,
    destroy,
    workspace_bytes,
    run,
    SMX_BF16,
};
