/* rope variant `cuda.table`: the cos/sin tables of cpu.table (fp64 on the host, rounded to fp32,
 * uploaded once in create()), and one thread per rotated pair. Bandwidth-bound: 8 bytes moved per
 * element, the tables stay in L2 across the batch and heads.
 *
 *   seqmix check --op rope --variant cuda.table        (needs a GPU; skipped otherwise)
 */
#include <cuda_runtime.h>
#include <stdlib.h>

extern "C" {
#include "reference/rope.h"
#include "seqmix/buffer.h"
}
#include "cuda_check.h"

namespace {

struct table_state {
  int64_t B, L, H, P;
  float *cos_t, *sin_t; /* device, L x P/2 */
};

/* one thread per (token, head, pair); sign = +1 forward, -1 backward */
__global__ void rotate(const float *x, float *y, const float *co, const float *si, int64_t L, int64_t H, int64_t half,
                       int64_t pairs, float sign) {
  for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < pairs; j += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = j % half, row = j / half; /* row = (b * L + t) * H + h */
    int64_t t = (row / H) % L;
    const float *xr = x + row * 2 * half;
    float *yr = y + row * 2 * half;
    float c = co[t * half + i], s = sign * si[t * half + i];
    float x1 = xr[i], x2 = xr[i + half];
    yr[i] = x1 * c - x2 * s;
    yr[i + half] = x2 * c + x1 * s;
  }
}

void destroy(void *p) {
  table_state *s = (table_state *)p;
  if (!s) return;
  cudaFree(s->cos_t);
  cudaFree(s->sin_t);
  free(s);
}

smx_status upload_tables(table_state *s, const smx_config *c) {
  size_t n = (size_t)(s->L * (s->P / 2));
  float *hc = (float *)smx_host_alloc(n * sizeof(float)), *hs = (float *)smx_host_alloc(n * sizeof(float));
  smx_status st = (hc && hs) ? SMX_OK : smx_fail(SMX_ERR_NOMEM, "cuda.table: cannot allocate host tables");
  if (st == SMX_OK) {
    smx_rope_tables(c, hc, hs);
    cudaError_t e = cudaMalloc(&s->cos_t, n * sizeof(float));
    if (e == cudaSuccess) e = cudaMalloc(&s->sin_t, n * sizeof(float));
    if (e == cudaSuccess) e = cudaMemcpy(s->cos_t, hc, n * sizeof(float), cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(s->sin_t, hs, n * sizeof(float), cudaMemcpyHostToDevice);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      st = smx_fail(smx_status_of(e), "cuda.table: uploading the tables failed: %s", cudaGetErrorString(e));
    }
  }
  smx_host_free(hc);
  smx_host_free(hs);
  return st;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  table_state *s = (table_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.table: cannot allocate state");
  s->B = c->v[ROPE_B];
  s->L = c->v[ROPE_L];
  s->H = c->v[ROPE_H];
  s->P = c->v[ROPE_P];
  smx_status st = upload_tables(s, c);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) {
  const table_state *s = (const table_state *)p;
  return 2 * (size_t)(s->L * (s->P / 2)) * sizeof(float);
}

smx_status run(void *p, smx_pass pass, void *const *tv) {
  table_state *s = (table_state *)p;
  float *const *t = (float *const *)tv;
  int64_t half = s->P / 2, pairs = s->B * s->L * s->H * half;
  int64_t blocks = (pairs + 255) / 256;
  if (blocks > 65535 * 16) blocks = 65535 * 16;
  if (pass == SMX_FWD)
    rotate<<<(unsigned)blocks, 256>>>(t[ROPE_X], t[ROPE_Y], s->cos_t, s->sin_t, s->L, s->H, half, pairs, 1.0f);
  else
    rotate<<<(unsigned)blocks, 256>>>(t[ROPE_DY], t[ROPE_DX], s->cos_t, s->sin_t, s->L, s->H, half, pairs, -1.0f);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_rope_cuda_table = {
    "cuda.table",
    "one thread per rotated pair, cos/sin tables (fp64 on the host, fp32) uploaded once",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    NULL,
    create,
    destroy,
    workspace_bytes,
    run,
};
