/* monarch baseline `cublas.dense`: the dense cost Monarch exists to avoid on the GPU — one cuBLAS
 * sgemm of the B x n batch by the materialized n x n M (forward y = x M^T; backward dx = dy M and
 * the dense weight gradient dM = dy^T x), fp32 without TF32. M is built once in create() from
 * fixed random factors, so only the GEMMs are timed. Benchmarked beside the variants; never
 * checked (it has no R, L gradients).
 *
 *   seqmix bench --op monarch --variant cublas.dense --suite paper
 */
#include <stdlib.h>

extern "C" {
#include "gpu.h"
#include "reference/monarch.h"
}
#include "kernels/monarch/cuda_monarch.cuh"

namespace {

struct dense_state {
  int64_t B, n;
  cublasHandle_t blas;
  int have_blas;
  float *M, *dM, *factors;
  size_t bytes;
};

void destroy(void *p) {
  dense_state *s = (dense_state *)p;
  if (!s) return;
  if (s->have_blas) cublasDestroy(s->blas);
  cudaFree(s->M);
  cudaFree(s->dM);
  cudaFree(s->factors);
  free(s);
}

const char *unsupported(const smx_config *c) {
  /* cuBLAS's int element counts of one n x n matrix */
  return (double)c->v[MONARCH_N] * (double)c->v[MONARCH_N] > 2147483647.0 ? "cublas.dense: n^2 exceeds 2^31 - 1" : NULL;
}

smx_status setup(dense_state *s, const smx_config *c) {
  smx_status st = monarch::blas_init(&s->blas);
  if (st != SMX_OK) return st;
  s->have_blas = 1;
  int64_t p = smx_monarch_p(c), k = s->n / p, w = s->n * (p + k);
  size_t nn = (size_t)(s->n * s->n) * sizeof(float);
  SMX_CUDA_CHECK(cudaMalloc(&s->M, nn));
  SMX_CUDA_CHECK(cudaMalloc(&s->dM, nn));
  SMX_CUDA_CHECK(cudaMalloc(&s->factors, (size_t)w * sizeof(float)));
  s->bytes = 2 * nn;
  /* factors like the op's inputs (uniform in [-1, 1)), so M has the op's structure and scale */
  if ((st = smx_gpu_fill_uniform(s->factors, (size_t)w, 1, 0, -1.0f, 1.0f)) != SMX_OK) return st;
  monarch::build_dense<<<1024, 256>>>(s->factors, s->factors + s->n * p, s->M, p, k);
  SMX_CUDA_CHECK_LAUNCH();
  SMX_CUDA_CHECK(cudaDeviceSynchronize());
  return SMX_OK;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  dense_state *s = (dense_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cublas.dense: cannot allocate state");
  s->B = c->v[MONARCH_B];
  s->n = c->v[MONARCH_N];
  smx_status st = setup(s, c);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) { return ((const dense_state *)p)->bytes; }

smx_status run(void *p, smx_pass pass, void *const *tv) {
  dense_state *s = (dense_state *)p;
  float *const *t = (float *const *)tv;
  int64_t B = s->B, n = s->n;
  if (pass == SMX_FWD) return monarch::gemm(s->blas, false, true, B, n, n, t[MONARCH_X], n, 0, s->M, n, 0, 0.0f, t[MONARCH_Y], n, 0, 1);
  smx_status st = monarch::gemm(s->blas, false, false, B, n, n, t[MONARCH_DY], n, 0, s->M, n, 0, 0.0f, t[MONARCH_DX], n, 0, 1);
  if (st != SMX_OK) return st;
  return monarch::gemm(s->blas, true, false, n, n, B, t[MONARCH_DY], n, 0, t[MONARCH_X], n, 0, 0.0f, s->dM, n, 0, 1);
}

} // namespace

extern "C" const smx_variant smx_monarch_baseline_cublas = {
    "cublas.dense",
    "baseline: dense cuBLAS sgemm with the materialized n x n M (the cost Monarch avoids)",
    SMX_DEV_CUDA,
    1,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    unsupported,
    create,
    destroy,
    workspace_bytes,
    run,
    SMX_F32,
};
