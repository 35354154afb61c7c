/* attention variants `cuda.cublas` (fp32) and `cuda.cublas.bf16`: the unfused GPU baseline. The
 * scores of every (batch, head) are materialized as an L x L fp32 matrix by cuBLAS, a row kernel
 * applies the causal softmax (and writes the log-sum-exp), and a second GEMM gives O; the
 * backward recomputes P from the scores and the saved lse and runs three more GEMMs. This is what
 * a framework's math attention path costs: O(L^2) memory traffic per head, against which the fused
 * kernels are measured. The shared machinery is in cuda_unfused.cuh.
 *
 *   seqmix check --op attention --variant cuda.cublas        (needs a GPU; skipped otherwise)
 *   seqmix check --op attention --variant cuda.cublas.bf16
 *   seqmix bench --op attention --variant cuda.cublas --suite quick
 */
#include <stdlib.h>

extern "C" {
#include "reference/attention.h"
}
#include "kernels/attention/cuda_unfused.cuh"

namespace {

/* Past this the L x L buffers could never be allocated; say so instead of trying. */
const double MAX_WORKSPACE = 1099511627776.0; /* 2^40 bytes */

double workspace_of(const smx_config *c, smx_dtype dt) {
  return unfused_bytes(c->v[ATTN_B], c->v[ATTN_L], c->v[ATTN_H], c->v[ATTN_HKV], c->v[ATTN_P], dt);
}

const char *unsupported_f32(const smx_config *c) {
  /* one head's L x L matrix goes through cuBLAS's 32-bit dimension products */
  if ((double)c->v[ATTN_L] * (double)c->v[ATTN_L] > 2147483647.0) return "cuda.cublas: L*L exceeds 2^31 - 1 (L <= 46340)";
  return workspace_of(c, SMX_F32) > MAX_WORKSPACE ? "cuda.cublas: the B*H*L*L score buffers exceed 2^40 bytes" : NULL;
}

const char *unsupported_bf16(const smx_config *c) {
  /* one head's L x L matrix goes through cuBLAS's 32-bit dimension products */
  if ((double)c->v[ATTN_L] * (double)c->v[ATTN_L] > 2147483647.0) return "cuda.cublas.bf16: L*L exceeds 2^31 - 1 (L <= 46340)";
  return workspace_of(c, SMX_BF16) > MAX_WORKSPACE ? "cuda.cublas.bf16: the B*H*L*L score buffers exceed 2^40 bytes" : NULL;
}

void destroy(void *p) {
  unfused *u = (unfused *)p;
  if (!u) return;
  unfused_release(u);
  free(u);
}

smx_status create_as(const smx_config *c, void **out, smx_dtype dt) {
  *out = NULL;
  unfused *u = (unfused *)calloc(1, sizeof *u);
  if (!u) return smx_fail(SMX_ERR_NOMEM, "cuda.cublas: cannot allocate state");
  smx_status st = unfused_init(u, c->v[ATTN_B], c->v[ATTN_L], c->v[ATTN_H], c->v[ATTN_HKV], c->v[ATTN_P], dt);
  if (st != SMX_OK) {
    destroy(u);
    return st;
  }
  *out = u;
  return SMX_OK;
}

smx_status create_f32(const smx_config *c, void **out) { return create_as(c, out, SMX_F32); }
smx_status create_bf16(const smx_config *c, void **out) { return create_as(c, out, SMX_BF16); }

size_t workspace_bytes(const void *p) {
  const unfused *u = (const unfused *)p;
  return (size_t)unfused_bytes(u->B, u->L, u->H, u->Hkv, u->P, u->dtype);
}

smx_status run(void *p, smx_pass pass, void *const *t) {
  unfused *u = (unfused *)p;
  smx_status st = unfused_scores(u, t[ATTN_Q], t[ATTN_K], 0.0f);
  if (st != SMX_OK) return st;
  if (pass == SMX_FWD) return unfused_forward(u, t[ATTN_V], t[ATTN_O], (float *)t[ATTN_LSE]);
  return unfused_backward(u, t[ATTN_Q], t[ATTN_K], t[ATTN_V], t[ATTN_DO],
                          t[ATTN_DQ], t[ATTN_DK], t[ATTN_DV], 0);
}

} // namespace

extern "C" const smx_variant smx_attention_cuda_cublas = {
    "cuda.cublas",
    "unfused: cuBLAS scores materialized per head (B*H*L*L fp32), causal softmax kernel, cuBLAS P V",
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

extern "C" const smx_variant smx_attention_cuda_cublas_bf16 = {
    "cuda.cublas.bf16",
    "unfused, bf16 GEMM operands with fp32 accumulation; scores, softmax and lse in fp32",
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
