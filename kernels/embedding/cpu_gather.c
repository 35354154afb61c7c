/* embedding variant `cpu.gather`: row copies (OpenMP over positions); the backward scatter-add
 * gives each thread a contiguous range of vocabulary rows, and every thread walks all positions in
 * order adding the ones whose id falls in its range, so a row's sum is always taken in position
 * order: bitwise the same result at any thread count, no atomics. A thin wrapper over
 * smx_embedding_fwd_cpu / smx_embedding_bwd_cpu (include/seqmix/model_ops.h), which take int32
 * ids; the wrapper converts the op's float ids (exact integers) once per call.
 *
 *   seqmix check --op embedding --variant cpu.gather
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "reference/embedding.h"
#include "seqmix/buffer.h"
#include "seqmix/model_ops.h"

static smx_status check_args(const char *fn, int64_t T, int64_t V, int64_t d, const int32_t *ids) {
  if (T < 1 || V < 1 || d < 1 || T * d > ((int64_t)1 << 31) || V * d > ((int64_t)1 << 31) || V > INT32_MAX)
    return smx_fail(SMX_ERR_INVALID, "%s: T=%lld, V=%lld, d=%lld must be positive with every tensor at most 2^31 elements",
                    fn, (long long)T, (long long)V, (long long)d);
  if (!ids) return smx_fail(SMX_ERR_INVALID, "%s: ids is NULL", fn);
  for (int64_t t = 0; t < T; t++)
    if (ids[t] < 0 || ids[t] >= V)
      return smx_fail(SMX_ERR_INVALID, "%s: ids[%lld] = %d is outside [0, V=%lld)", fn, (long long)t, (int)ids[t],
                      (long long)V);
  return SMX_OK;
}

smx_status smx_embedding_fwd_cpu(int64_t T, int64_t V, int64_t d, const int32_t *ids, const float *table, float *y) {
  smx_status s = check_args("smx_embedding_fwd_cpu", T, V, d, ids);
  if (s != SMX_OK) return s;
  if (!table || !y) return smx_fail(SMX_ERR_INVALID, "smx_embedding_fwd_cpu: table and y must not be NULL");
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; t++) memcpy(y + t * d, table + (int64_t)ids[t] * d, (size_t)d * sizeof(float));
  return SMX_OK;
}

smx_status smx_embedding_bwd_cpu(int64_t T, int64_t V, int64_t d, const int32_t *ids, const float *dy, float *dtable,
                                 int accumulate) {
  smx_status s = check_args("smx_embedding_bwd_cpu", T, V, d, ids);
  if (s != SMX_OK) return s;
  if (!dy || !dtable) return smx_fail(SMX_ERR_INVALID, "smx_embedding_bwd_cpu: dy and dtable must not be NULL");
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), me = omp_get_thread_num();
    int64_t v0 = V * me / nt, v1 = V * (me + 1) / nt;
    if (!accumulate) memset(dtable + v0 * d, 0, (size_t)((v1 - v0) * d) * sizeof(float));
    for (int64_t t = 0; t < T; t++) {
      int64_t v = ids[t];
      if (v < v0 || v >= v1) continue;
      float *row = dtable + v * d;
      const float *g = dy + t * d;
      for (int64_t i = 0; i < d; i++) row[i] += g[i];
    }
  }
  return SMX_OK;
}

/* ---- the registered variant: float ids converted to int32 into a workspace ---- */

typedef struct emb_state {
  smx_config c;
  int32_t *ids; /* B L */
} emb_state;

static void destroy(void *p) {
  emb_state *s = p;
  if (!s) return;
  smx_host_free(s->ids);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  emb_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "embedding cpu.gather: cannot allocate state");
  s->c = *c;
  size_t T = (size_t)(c->v[EMB_B] * c->v[EMB_L]);
  s->ids = smx_host_alloc(T * sizeof(int32_t));
  if (!s->ids) {
    free(s);
    return smx_fail(SMX_ERR_NOMEM, "embedding cpu.gather: cannot allocate %zu bytes of ids", T * sizeof(int32_t));
  }
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) {
  const emb_state *s = p;
  return (size_t)(s->c.v[EMB_B] * s->c.v[EMB_L]) * sizeof(int32_t);
}

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  emb_state *s = p;
  float *const *t = (float *const *)tv;
  int64_t T = s->c.v[EMB_B] * s->c.v[EMB_L], V = s->c.v[EMB_V], d = s->c.v[EMB_D];
  const float *f = t[EMB_IDS];
  for (int64_t i = 0; i < T; i++) {
    if (!(f[i] >= 0 && f[i] < (float)V && f[i] == floorf(f[i])))
      return smx_fail(SMX_ERR_INVALID, "embedding: ids[%lld] = %g is not an integer in [0, V=%lld)", (long long)i,
                      (double)f[i], (long long)V);
    s->ids[i] = (int32_t)f[i];
  }
  if (pass == SMX_FWD) return smx_embedding_fwd_cpu(T, V, d, s->ids, t[EMB_TABLE], t[EMB_Y]);
  return smx_embedding_bwd_cpu(T, V, d, s->ids, t[EMB_DY], t[EMB_DTABLE], 0);
}

const smx_variant smx_embedding_cpu_gather = {
    .name = "cpu.gather",
    .summary = "row copies; scatter-add with vocabulary rows split among threads, each row summed in position order",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
