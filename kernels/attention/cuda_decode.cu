/* attention_decode variants `cuda.flash` (fp32) and `cuda.flash.bf16`: flash-decoding. One query
 * token per (batch, head) against S cached keys is too little work for one block per head, so the
 * cache is split into chunks handled by different blocks (split-KV):
 *   1. decode_partial: block (b, h, chunk) walks its chunk in tiles of DEC_TILE positions; each
 *      warp computes the scores scale <q, k_s> of DEC_PER_WARP positions (lanes over P), then
 *      threads own one output channel p each and fold the tile into a running (max m, sum l,
 *      unnormalized acc[p]) with online-softmax rescaling. When P < 256 the block runs 256/P such
 *      thread groups over interleaved positions and merges them at the end. The chunk's
 *      (m, l, acc) go to an fp32 workspace.
 *   2. decode_combine: per (b, h), o = sum_c acc_c exp(m_c - M) / sum_c l_c exp(m_c - M), M = max m_c.
 * The number of chunks is chosen in create() so that about one wave of blocks fills the GPU
 * (DEC_BLOCKS_PER_SM blocks of 256 threads per SM), with whole tiles per chunk. GQA: head h reads
 * KV head h / (H / Hkv). Scores, softmax and accumulation are fp32 for both storage types.
 *
 *   seqmix check --op attention_decode --variant cuda.flash        (needs a GPU; skipped otherwise)
 *   seqmix check --op attention_decode --variant cuda.flash.bf16
 */
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdlib.h>

extern "C" {
#include "reference/attention.h"
}
#include "cuda_check.h"

namespace {

constexpr int DEC_THREADS = 256; /* also the largest head dimension: one thread per output channel */
constexpr int DEC_TILE = 64;     /* positions scored per step; chunks are multiples of it */
constexpr int DEC_WARPS = DEC_THREADS / 32, DEC_PER_WARP = DEC_TILE / DEC_WARPS;
constexpr int DEC_BLOCKS_PER_SM = 4; /* residency the register bound guarantees; one wave = SMs x this */

__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ float from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) { return __float2bfloat16(x); }

struct decode_state {
  int64_t B, S, H, Hkv, P, chunk, nchunks;
  smx_dtype dtype;
  float *part; /* m (B*H*nchunks), l (B*H*nchunks), acc (B*H*nchunks*P) */
};

/* block x = (b*H + h) * nchunks + c */
template <typename T>
__global__ void __launch_bounds__(DEC_THREADS, DEC_BLOCKS_PER_SM)
    decode_partial(const T *q, const T *k, const T *v, float *part_m, float *part_l, float *part_acc, int64_t S,
                   int64_t H, int64_t Hkv, int P, int64_t chunk, int64_t nchunks, float scale) {
  __shared__ float qs[DEC_THREADS], sc[DEC_TILE];
  __shared__ float gm[DEC_THREADS], gl[DEC_THREADS], ga[DEC_THREADS];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid / 32;
  const int64_t bh = blockIdx.x / nchunks, c = blockIdx.x % nchunks;
  const int64_t b = bh / H, g = (bh % H) / (H / Hkv), row = Hkv * P; /* row: stride between positions */
  const T *kb = k + (b * S * Hkv + g) * P, *vb = v + (b * S * Hkv + g) * P;
  for (int e = tid; e < P; e += DEC_THREADS) qs[e] = to_f32(q[bh * P + e]);

  const int groups = DEC_THREADS / P, grp = tid / P, p = tid % P;
  const bool active = grp < groups;
  float m = -INFINITY, l = 0.0f, acc = 0.0f;
  const int64_t s0 = c * chunk, s1 = s0 + chunk < S ? s0 + chunk : S;
  for (int64_t t0 = s0; t0 < s1; t0 += DEC_TILE) {
    const int n = s1 - t0 < DEC_TILE ? (int)(s1 - t0) : DEC_TILE;
    __syncthreads(); /* q is loaded; the previous tile's scores are consumed */
    /* warp w scores positions w, w + DEC_WARPS, ...: the loads of all of them are issued before
     * the shuffle reductions, which would otherwise serialize one position at a time */
    float d[DEC_PER_WARP];
#pragma unroll
    for (int u = 0; u < DEC_PER_WARP; u++) d[u] = 0.0f;
    for (int e = lane; e < P; e += 32) {
      const float qe = qs[e];
#pragma unroll
      for (int u = 0; u < DEC_PER_WARP; u++) {
        const int r = warp + u * DEC_WARPS;
        if (r < n) d[u] += qe * to_f32(kb[(t0 + r) * row + e]);
      }
    }
#pragma unroll
    for (int u = 0; u < DEC_PER_WARP; u++) {
      for (int o = 16; o > 0; o >>= 1) d[u] += __shfl_xor_sync(0xffffffffu, d[u], o);
      const int r = warp + u * DEC_WARPS;
      if (lane == 0 && r < n) sc[r] = scale * d[u];
    }
    __syncthreads();
    if (active) {
#pragma unroll 4
      for (int r = grp; r < n; r += groups) {
        float x = sc[r], vv = to_f32(vb[(t0 + r) * row + p]);
        if (x > m) { /* new max: rescale what is there (m = -inf at first: factor 0) */
          float f = expf(m - x);
          l = l * f + 1.0f;
          acc = acc * f + vv;
          m = x;
        } else {
          float e = expf(x - m);
          l += e;
          acc += e * vv;
        }
      }
    }
  }

  /* Merge the groups. Only the highest-numbered groups can have seen no position (a chunk shorter
   * than the group count: m = -inf, l = acc = 0, weight exp(-inf) = 0); group 0 always saw one, so
   * M is finite. */
  if (active) {
    ga[tid] = acc;
    if (p == 0) {
      gm[grp] = m;
      gl[grp] = l;
    }
  }
  __syncthreads();
  if (tid < P) {
    float M = gm[0];
    for (int k2 = 1; k2 < groups; k2++) M = fmaxf(M, gm[k2]);
    float L = 0.0f, A = 0.0f;
    for (int k2 = 0; k2 < groups; k2++) {
      float f = expf(gm[k2] - M);
      L += gl[k2] * f;
      A += ga[k2 * P + tid] * f;
    }
    part_acc[blockIdx.x * (int64_t)P + tid] = A;
    if (tid == 0) {
      part_m[blockIdx.x] = M;
      part_l[blockIdx.x] = L;
    }
  }
}

/* block bh: o[bh, p] from the nchunks partials (each chunk is non-empty: m_c finite) */
template <typename T>
__global__ void decode_combine(const float *part_m, const float *part_l, const float *part_acc, T *o, int64_t nchunks,
                               int P) {
  const int64_t bh = blockIdx.x;
  const float *m = part_m + bh * nchunks, *l = part_l + bh * nchunks, *acc = part_acc + bh * nchunks * P;
  float M = -INFINITY;
  for (int64_t c = 0; c < nchunks; c++) M = fmaxf(M, m[c]);
  float L = 0.0f;
  for (int64_t c = 0; c < nchunks; c++) L += l[c] * expf(m[c] - M);
  for (int p = threadIdx.x; p < P; p += blockDim.x) {
    float A = 0.0f;
    for (int64_t c = 0; c < nchunks; c++) A += acc[c * P + p] * expf(m[c] - M);
    o[bh * P + p] = from_f32<T>(A / L);
  }
}

const char *unsupported(const smx_config *c) {
  return c->v[DECODE_P] > DEC_THREADS ? "cuda.flash: head dimension P > 256 (one thread per output channel)" : NULL;
}

void destroy(void *p) {
  decode_state *s = (decode_state *)p;
  if (!s) return;
  cudaFree(s->part);
  free(s);
}

/* Chunks: enough blocks for one wave, whole tiles per chunk, no empty chunk. */
smx_status plan_and_alloc(decode_state *s) {
  int dev = 0, sms = 0;
  SMX_CUDA_CHECK(cudaGetDevice(&dev));
  SMX_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  int64_t heads = s->B * s->H, want = ((int64_t)sms * DEC_BLOCKS_PER_SM + heads - 1) / heads;
  int64_t chunk = (s->S + want - 1) / want;
  chunk = (chunk + DEC_TILE - 1) / DEC_TILE * DEC_TILE;
  s->chunk = chunk;
  s->nchunks = (s->S + chunk - 1) / chunk;
  SMX_CUDA_CHECK(cudaMalloc(&s->part, (size_t)(heads * s->nchunks * (s->P + 2)) * sizeof(float)));
  return SMX_OK;
}

smx_status create_as(const smx_config *c, void **out, smx_dtype dt) {
  *out = NULL;
  decode_state *s = (decode_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.flash: cannot allocate state");
  s->B = c->v[DECODE_B];
  s->S = c->v[DECODE_S];
  s->H = c->v[DECODE_H];
  s->Hkv = c->v[DECODE_HKV];
  s->P = c->v[DECODE_P];
  s->dtype = dt;
  smx_status st = plan_and_alloc(s);
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
  const decode_state *s = (const decode_state *)p;
  return (size_t)(s->B * s->H * s->nchunks * (s->P + 2)) * sizeof(float);
}

template <typename T> smx_status decode(decode_state *s, void *const *t) {
  int64_t heads = s->B * s->H, blocks = heads * s->nchunks;
  float *pm = s->part, *pl = pm + blocks, *pacc = pl + blocks;
  float scale = (float)(1.0 / sqrt((double)s->P));
  decode_partial<T><<<(unsigned)blocks, DEC_THREADS>>>((const T *)t[DECODE_Q], (const T *)t[DECODE_K],
                                                       (const T *)t[DECODE_V], pm, pl, pacc, s->S, s->H, s->Hkv,
                                                       (int)s->P, s->chunk, s->nchunks, scale);
  SMX_CUDA_CHECK_LAUNCH();
  int threads = (int)((s->P + 31) / 32 * 32);
  decode_combine<T><<<(unsigned)heads, threads>>>(pm, pl, pacc, (T *)t[DECODE_O], s->nchunks, (int)s->P);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

smx_status run(void *p, smx_pass pass, void *const *t) {
  decode_state *s = (decode_state *)p;
  if (pass != SMX_FWD) return smx_fail(SMX_ERR_UNSUPPORTED, "cuda.flash: attention_decode has no backward");
  return s->dtype == SMX_BF16 ? decode<__nv_bfloat16>(s, t) : decode<float>(s, t);
}

} // namespace

extern "C" const smx_variant smx_attention_decode_cuda_flash = {
    "cuda.flash",
    "flash-decoding: the cache split into chunks over blocks (online softmax per chunk), then a combine kernel",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD),
    unsupported,
    create_f32,
    destroy,
    workspace_bytes,
    run,
    SMX_F32,
};

extern "C" const smx_variant smx_attention_decode_cuda_flash_bf16 = {
    "cuda.flash.bf16",
    "flash-decoding on bf16 q, K, V and o; scores, softmax and accumulation in fp32",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD),
    unsupported,
    create_bf16,
    destroy,
    workspace_bytes,
    run,
    SMX_BF16,
};
