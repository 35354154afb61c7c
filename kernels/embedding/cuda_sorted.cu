/* embedding variant `cuda.sorted`: the forward is one thread per output element (a gather). The
 * backward is deterministic without floating-point atomics: the positions are stably sorted by id
 * (CUB radix sort of (id, position) pairs, which keeps position order within an id), then for
 * every run of equal ids one thread per column sums dy over the run in position order and writes
 * the row; rows no position uses stay zero (a memset first). An id that is not an integer in
 * [0, V) cannot be reported without a host synchronisation, so it reads as a zero row and adds
 * nothing (the CPU variant refuses it).
 *
 *   seqmix check --op embedding --variant cuda.sorted      (needs a GPU; skipped otherwise)
 */
#include <cuda_runtime.h>
#include <stdlib.h>

extern "C" {
#include "reference/embedding.h"
}
#include "kernels/moe/cuda_moe_common.cuh"

namespace {

using moe_cuda::grid_for;

struct state {
  int64_t T, V, d;
  int *keys;               /* T: the ids as ints (V for an invalid id: sorted last, skipped) */
  int *order;              /* T: positions sorted by id */
  moe_cuda::sorter sort;
  int sort_made;
};

__device__ __forceinline__ int id_of(float f, int64_t V) {
  return (f >= 0.0f && f < (float)V && f == floorf(f)) ? (int)f : (int)V;
}

__global__ void k_gather(int64_t T, int64_t V, int64_t d, const float *ids, const float *table, float *y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < T * d; i += (int64_t)gridDim.x * blockDim.x) {
    int v = id_of(ids[i / d], V);
    y[i] = v < V ? table[(int64_t)v * d + i % d] : 0.0f;
  }
}

__global__ void k_keys(int64_t T, int64_t V, const float *ids, int *keys) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < T; i += (int64_t)gridDim.x * blockDim.x)
    keys[i] = id_of(ids[i], V);
}

/* blockIdx.y (grid-stride) over sorted positions, threads over columns: a run's first position
 * sums the run in position order */
__global__ void k_runs_sum(int64_t T, int64_t V, int64_t d, const int *skeys, const int *order, const float *dy,
                           float *dtable) {
  for (int64_t p = blockIdx.y; p < T; p += gridDim.y) {
    int v = skeys[p];
    if (v >= V || (p > 0 && skeys[p - 1] == v)) continue;
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < d; j += (int64_t)gridDim.x * blockDim.x) {
      float s = 0.0f;
      for (int64_t q = p; q < T && skeys[q] == v; q++) s += dy[(int64_t)order[q] * d + j];
      dtable[(int64_t)v * d + j] = s;
    }
  }
}

const char *unsupported(const smx_config *c) {
  return c->v[EMB_B] * c->v[EMB_L] > INT32_MAX ? "B*L above 2^31 - 1 positions (CUB sorts int counts)" : NULL;
}

void destroy(void *p) {
  state *s = (state *)p;
  if (!s) return;
  if (s->sort_made) moe_cuda::sorter_free(&s->sort);
  cudaFree(s->keys);
  cudaFree(s->order);
  free(s);
}

smx_status init(state *s, const smx_config *c) {
  s->T = c->v[EMB_B] * c->v[EMB_L];
  s->V = c->v[EMB_V];
  s->d = c->v[EMB_D];
  SMX_CUDA_CHECK(cudaMalloc(&s->keys, (size_t)s->T * sizeof(int)));
  SMX_CUDA_CHECK(cudaMalloc(&s->order, (size_t)s->T * sizeof(int)));
  s->sort_made = 1; /* sorter_free tolerates the NULL pointers of a failed init */
  return moe_cuda::sorter_init(&s->sort, (int)s->T, s->V + 1);
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  state *s = (state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "embedding cuda.sorted: cannot allocate state");
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
  return s->sort.temp_bytes + 4 * (size_t)s->T * sizeof(int);
}

smx_status run(void *p, smx_pass pass, void *const *tv) {
  state *s = (state *)p;
  float *const *t = (float *const *)tv;
  int64_t T = s->T, V = s->V, d = s->d;
  if (pass == SMX_FWD) {
    k_gather<<<grid_for(T * d), 256>>>(T, V, d, t[EMB_IDS], t[EMB_TABLE], t[EMB_Y]);
    SMX_CUDA_CHECK_LAUNCH();
    return SMX_OK;
  }
  SMX_CUDA_CHECK(cudaMemsetAsync(t[EMB_DTABLE], 0, (size_t)(V * d) * sizeof(float), 0));
  k_keys<<<grid_for(T), 256>>>(T, V, t[EMB_IDS], s->keys);
  SMX_CUDA_CHECK_LAUNCH();
  smx_status st = moe_cuda::sort_by_expert(&s->sort, s->keys, s->order);
  if (st != SMX_OK) return st;
  int64_t cols = (d + 127) / 128;
  dim3 grid((unsigned)(cols < 64 ? cols : 64), (unsigned)(T < 65535 ? T : 65535));
  k_runs_sum<<<grid, 128>>>(T, V, d, s->sort.keys_out, s->order, t[EMB_DY], t[EMB_DTABLE]);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_embedding_cuda_sorted = {
    "cuda.sorted",
    "gather forward; backward sorts positions by id (CUB, stable) and sums each id's run in position order: no atomics",
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
