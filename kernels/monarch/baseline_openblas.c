/* monarch baseline `openblas.dense`: what Monarch exists to avoid — the same n x n matrix applied
 * densely, one OpenBLAS sgemm of the B x n batch by the materialized M (forward: y = x M^T;
 * backward: dx = dy M and the dense weight gradient dM = dy^T x). M is built once in create()
 * from fixed random factors, so the timed work is the GEMMs alone. Benchmarked beside the
 * variants so "speedup over dense" is a ratio from one run; never checked (it has no R, L
 * gradients to compare).
 *
 *   seqmix bench --op monarch --variant openblas.dense --suite quick
 */
#include <cblas.h>
#include <stdlib.h>

#include "reference/monarch.h"
#include "seqmix/buffer.h"
#include "seqmix/philox.h"

typedef struct dense_state {
  int64_t B, n;
  float *M, *dM;
  size_t bytes;
} dense_state;

static void destroy(void *p) {
  dense_state *s = p;
  if (!s) return;
  smx_host_free(s->M);
  smx_host_free(s->dM);
  free(s);
}

static smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  dense_state *s = calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "openblas.dense: cannot allocate state");
  s->B = c->v[MONARCH_B];
  s->n = c->v[MONARCH_N];
  int64_t p = smx_monarch_p(c), k = s->n / p;
  size_t nn = (size_t)(s->n * s->n), w = (size_t)(s->n * (p + k));
  s->bytes = 2 * nn * sizeof(float);
  s->M = smx_host_alloc(nn * sizeof(float));
  s->dM = smx_host_alloc(nn * sizeof(float));
  float *f = malloc(w * sizeof(float));
  if (!s->M || !s->dM || !f) {
    free(f);
    destroy(s);
    return smx_fail(SMX_ERR_NOMEM, "openblas.dense: cannot allocate two %lld x %lld matrices", (long long)c->v[MONARCH_N],
                    (long long)c->v[MONARCH_N]);
  }
  /* factors like the op's inputs (uniform in [-1, 1)), so M has the op's structure and scale */
  for (size_t i = 0; i < w; i++) f[i] = smx_philox_uniform(1, 0, (uint64_t)i, -1.0f, 1.0f);
  smx_monarch_dense_f32(k, p, f, f + (size_t)(s->n * p), s->M);
  free(f);
  *out = s;
  return SMX_OK;
}

static size_t workspace_bytes(const void *p) { return ((const dense_state *)p)->bytes; }

static smx_status run(void *p, smx_pass pass, void *const *tv) {
  dense_state *s = p;
  float *const *t = (float *const *)tv;
  int B = (int)s->B, n = (int)s->n;
  if (pass == SMX_FWD) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n, n, 1.0f, t[MONARCH_X], n, s->M, n, 0.0f, t[MONARCH_Y], n);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, n, n, 1.0f, t[MONARCH_DY], n, s->M, n, 0.0f, t[MONARCH_DX], n);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, B, 1.0f, t[MONARCH_DY], n, t[MONARCH_X], n, 0.0f, s->dM, n);
  }
  return SMX_OK;
}

const smx_variant smx_monarch_baseline_openblas = {
    .name = "openblas.dense",
    .summary = "baseline: dense OpenBLAS sgemm with the materialized n x n M (the cost Monarch avoids)",
    .device = SMX_DEV_CPU,
    .baseline = 1,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = create,
    .destroy = destroy,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
