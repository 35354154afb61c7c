/* attention variants `cuda.flash` (fp32) and `cuda.flash.bf16` (bf16 storage): FlashAttention-2,
 * forward and backward, with the kernels of cuda_flash.cuh (fp32: SIMT FMA, bf16: mma.sync tensor
 * cores with fp32 accumulation). Head dimensions 32, 64 and 128.
 *
 *   seqmix check --op attention --variant cuda.flash         (needs a GPU; skipped otherwise)
 *   seqmix check --op attention --variant cuda.flash.bf16
 *
 * Workspace: D = <dO, O> per row, B*H*L floats; for bf16 also the fp32 dQ accumulator,
 * B*L*H*P floats (the fp32 variant accumulates into dQ itself).
 */
#include <stdlib.h>

extern "C" {
#include "reference/attention.h"
}
#include "kernels/attention/cuda_flash.cuh"

namespace {

using smx_flash::bf16;

struct flash_state {
  int64_t B, L, H, Hkv, P;
  float *delta;  /* (B, H, L) */
  float *dq_acc; /* bf16 only: (B, L, H, P) */
};

const char *unsupported(const smx_config *c) {
  return smx_flash::supported_head_dim(c->v[ATTN_P]) ? NULL : "head dimension P must be 32, 64 or 128";
}

void destroy(void *p) {
  flash_state *s = (flash_state *)p;
  if (!s) return;
  cudaFree(s->delta);
  cudaFree(s->dq_acc);
  free(s);
}

template <typename T> smx_status setup(flash_state *s) {
  SMX_CUDA_CHECK(cudaMalloc(&s->delta, (size_t)(s->B * s->H * s->L) * sizeof(float)));
  if (!std::is_same<T, float>::value)
    SMX_CUDA_CHECK(cudaMalloc(&s->dq_acc, (size_t)(s->B * s->L * s->H * s->P) * sizeof(float)));
  return smx_flash::prepare<T, false>((int)s->P);
}

template <typename T> smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  flash_state *s = (flash_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.flash: cannot allocate state");
  s->B = c->v[ATTN_B];
  s->L = c->v[ATTN_L];
  s->H = c->v[ATTN_H];
  s->Hkv = c->v[ATTN_HKV];
  s->P = c->v[ATTN_P];
  smx_status st = setup<T>(s);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) {
  const flash_state *s = (const flash_state *)p;
  size_t n = (size_t)(s->B * s->H * s->L) * sizeof(float);
  if (s->dq_acc) n += (size_t)(s->B * s->L * s->H * s->P) * sizeof(float);
  return n;
}

template <typename T> smx_status run(void *p, smx_pass pass, void *const *t) {
  const flash_state *s = (const flash_state *)p;
  for (int i = 0; i < ATTN_NSLOTS; i++)
    if ((uintptr_t)t[i] % 16)
      return smx_fail(SMX_ERR_INVALID, "cuda.flash: tensor %d is not 16-byte aligned (cp.async needs it)", i);
  const int B = (int)s->B, P = (int)s->P;
  const float scale = 1.0f / sqrtf((float)s->P);
  if (pass == SMX_FWD) {
    smx_flash::fwd_args<T> a = {};
    a.q = (const T *)t[ATTN_Q];
    a.k = (const T *)t[ATTN_K];
    a.v = (const T *)t[ATTN_V];
    a.o = (T *)t[ATTN_O];
    a.lse = (float *)t[ATTN_LSE];
    a.L = (int)s->L;
    a.H = (int)s->H;
    a.Hkv = (int)s->Hkv;
    a.scale = scale;
    return smx_flash::forward<T, false>(a, B, P);
  }
  smx_flash::bwd_args<T> a = {};
  a.q = (const T *)t[ATTN_Q];
  a.k = (const T *)t[ATTN_K];
  a.v = (const T *)t[ATTN_V];
  a.dout = (const T *)t[ATTN_DO];
  a.lse = (const float *)t[ATTN_LSE];
  a.delta = s->delta;
  a.dq_acc = std::is_same<T, float>::value ? (float *)t[ATTN_DQ] : s->dq_acc;
  a.dk = (T *)t[ATTN_DK];
  a.dv = (T *)t[ATTN_DV];
  a.L = (int)s->L;
  a.H = (int)s->H;
  a.Hkv = (int)s->Hkv;
  a.scale = scale;
  return smx_flash::backward<T, false>(a, (const T *)t[ATTN_O], (T *)t[ATTN_DQ], B, P);
}

} // namespace

extern "C" const smx_variant smx_attention_cuda_flash = {
    "cuda.flash",
    "FlashAttention-2 in fp32 on CUDA cores: online softmax, K/V tiles double-buffered by cp.async, "
    "backward parallel over key tiles with dQ by atomics",
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

extern "C" const smx_variant smx_attention_cuda_flash_bf16 = {
    "cuda.flash.bf16",
    "FlashAttention-2 in bf16 on tensor cores (mma.sync m16n8k16, fp32 accumulation and softmax), "
    "fp32 log-sum-exp",
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
