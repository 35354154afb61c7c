/* monarch variant `cuda.bmm`: each block-diagonal factor as one cuBLAS strided-batched sgemm over
 * its blocks, the whole batch at once (the peers' BlockdiagButterflyMultiply, two torch.bmm).
 * As in cpu.blockdiag (whose comment explains the layouts), the middle permutation P^T is folded
 * into leading dimensions and strides: R's batched GEMM writes h as [l][r][b] (block r at offset
 * r B, leading dimension k B), exactly the operand L's batched GEMM reads as block l at l k B. The
 * outer P is a tiled shared-memory transpose (GEMM outputs need unit stride along one of their
 * own dimensions; y has it along the block index). Fixed-order cuBLAS GEMMs (no split-K
 * atomics), so results are repeatable.
 *
 *   seqmix check --op monarch --variant cuda.bmm        (needs a GPU; skipped otherwise)
 *   seqmix bench --op monarch --variant cuda.bmm --suite paper
 */
#include <stdlib.h>

extern "C" {
#include "reference/monarch.h"
}
#include "kernels/monarch/cuda_monarch.cuh"

namespace {

struct bmm_state {
  int64_t B, n, p, k;
  cublasHandle_t blas;
  int have_blas;
  float *W1, *W2, *G1; /* B x n each: h [l][r][b]; L's output or dy gathered [l][b][s]; dh [l][r][b] */
  size_t bytes;
};

void destroy(void *p) {
  bmm_state *s = (bmm_state *)p;
  if (!s) return;
  if (s->have_blas) cublasDestroy(s->blas);
  cudaFree(s->W1);
  cudaFree(s->W2);
  cudaFree(s->G1);
  free(s);
}

smx_status setup(bmm_state *s) {
  smx_status st = monarch::blas_init(&s->blas);
  if (st != SMX_OK) return st;
  s->have_blas = 1;
  size_t one = (size_t)(s->B * s->n) * sizeof(float);
  SMX_CUDA_CHECK(cudaMalloc(&s->W1, one));
  SMX_CUDA_CHECK(cudaMalloc(&s->W2, one));
  SMX_CUDA_CHECK(cudaMalloc(&s->G1, one));
  s->bytes = 3 * one;
  return SMX_OK;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  bmm_state *s = (bmm_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.bmm: cannot allocate state");
  s->B = c->v[MONARCH_B];
  s->n = c->v[MONARCH_N];
  s->p = smx_monarch_p(c);
  s->k = s->n / s->p;
  smx_status st = setup(s);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) { return ((const bmm_state *)p)->bytes; }

/* W1[l][r][b] = sum_j R[r, l, j] x[b, r p + j]: batch r, C (p x B) = R_r (p x p) x_r^T */
smx_status apply_R(bmm_state *s, const float *x, const float *R) {
  int64_t B = s->B, p = s->p, k = s->k, n = s->n;
  return monarch::gemm(s->blas, false, true, p, B, p, R, p, p * p, x, n, p, 0.0f, s->W1, k * B, B, k);
}

smx_status forward(bmm_state *s, const float *x, const float *R, const float *L, float *y) {
  int64_t B = s->B, p = s->p, k = s->k;
  smx_status st = apply_R(s, x, R);
  if (st != SMX_OK) return st;
  /* W2[l][b][s] = sum_r W1[l][r][b] L[l, s, r]: batch l, C (B x k) = W1_l^T L_l^T */
  st = monarch::gemm(s->blas, true, true, B, k, k, s->W1, B, k * B, L, k, k * k, 0.0f, s->W2, k, B * k, p);
  if (st != SMX_OK) return st;
  return monarch::launch_permute(true, s->W2, y, B, p, k);
}

smx_status backward(bmm_state *s, const float *x, const float *R, const float *L, const float *dy, float *dx, float *dR,
                    float *dL) {
  int64_t B = s->B, p = s->p, k = s->k, n = s->n;
  smx_status st = monarch::launch_permute(false, dy, s->W2, B, p, k); /* W2 = D2[l][b][s] */
  if (st != SMX_OK) return st;
  if ((st = apply_R(s, x, R)) != SMX_OK) return st;
  /* dL[l, s, r] = sum_b D2[l][b][s] W1[l][r][b]: batch l, C (k x k) = D2_l^T W1_l^T */
  st = monarch::gemm(s->blas, true, true, k, k, B, s->W2, k, B * k, s->W1, B, k * B, 0.0f, dL, k, k * k, p);
  if (st != SMX_OK) return st;
  /* G1[l][r][b] = sum_s L[l, s, r] D2[l][b][s]: batch l, C (k x B) = L_l^T D2_l^T */
  st = monarch::gemm(s->blas, true, true, k, B, k, L, k, k * k, s->W2, k, B * k, 0.0f, s->G1, B, k * B, p);
  if (st != SMX_OK) return st;
  /* dR[r, l, j] = sum_b G1[l][r][b] x[b, r p + j]: batch r, C (p x p) = G1_r (p x B, ld k B) x_r */
  st = monarch::gemm(s->blas, false, false, p, p, B, s->G1, k * B, B, x, n, p, 0.0f, dR, p, p * p, k);
  if (st != SMX_OK) return st;
  /* dx[b, r p + j] = sum_l G1[l][r][b] R[r, l, j]: batch r, C (B x p, ld n) = G1_r^T R_r */
  return monarch::gemm(s->blas, true, false, B, p, p, s->G1, k * B, B, R, p, p * p, 0.0f, dx, n, p, k);
}

smx_status run(void *p, smx_pass pass, void *const *tv) {
  bmm_state *s = (bmm_state *)p;
  float *const *t = (float *const *)tv;
  if (pass == SMX_FWD) return forward(s, t[MONARCH_X], t[MONARCH_R], t[MONARCH_L], t[MONARCH_Y]);
  return backward(s, t[MONARCH_X], t[MONARCH_R], t[MONARCH_L], t[MONARCH_DY], t[MONARCH_DX], t[MONARCH_DR],
                  t[MONARCH_DL]);
}

} // namespace

extern "C" const smx_variant smx_monarch_cuda_bmm = {
    "cuda.bmm",
    "two cuBLAS strided-batched sgemms (one per factor, batched over blocks); the middle permutation in the strides",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    NULL,
    create,
    destroy,
    workspace_bytes,
    run,
    SMX_F32,
};
