/* linear variant `cpu.blas`: the three GEMMs through OpenBLAS, split over the OpenMP threads
 * (kernels/cpu_sgemm_par.h: in a model the next op's OpenMP loop follows at once, and OpenBLAS's
 * own pthreads would stall it), the bias and its gradient as plain loops (the column sums of dy in row order, so db is bitwise
 * repeatable whatever the thread count). The registered variant is a thin wrapper over
 * smx_linear_fwd_cpu / smx_linear_bwd_cpu (include/seqmix/model_ops.h).
 *
 *   seqmix check --op linear --variant cpu.blas
 */
#include <string.h>

#include "kernels/cpu_sgemm_par.h"
#include "reference/linear.h"
#include "seqmix/model_ops.h"

static smx_status check_args(const char *fn, int64_t T, int64_t K, int64_t N) {
  const int64_t lim = (int64_t)1 << 31;
  if (T < 1 || K < 1 || N < 1 || T * K > lim || T * N > lim || K * N > lim)
    return smx_fail(SMX_ERR_INVALID, "%s: T=%lld, din=%lld, dout=%lld must be positive with every tensor at most 2^31 elements",
                    fn, (long long)T, (long long)K, (long long)N);
  return SMX_OK;
}

smx_status smx_linear_fwd_cpu(int64_t T, int64_t K, int64_t N, const float *x, const float *w, const float *b, float *y) {
  smx_status s = check_args("smx_linear_fwd_cpu", T, K, N);
  if (s != SMX_OK) return s;
  if (!x || !w || !y) return smx_fail(SMX_ERR_INVALID, "smx_linear_fwd_cpu: x, w and y must not be NULL");
  /* y starts as the broadcast bias, then the GEMM accumulates onto it (beta = 1) */
  if (b)
    for (int64_t t = 0; t < T; t++) memcpy(y + t * N, b, (size_t)N * sizeof(float));
  smx_sgemm_par(CblasNoTrans, CblasTrans, (int)T, (int)N, (int)K, 1.0f, x, (int)K, w, (int)K,
              b ? 1.0f : 0.0f, y, (int)N);
  return SMX_OK;
}

smx_status smx_linear_bwd_cpu(int64_t T, int64_t K, int64_t N, const float *x, const float *w, const float *dy, float *dx,
                              float *dw, float *db) {
  smx_status s = check_args("smx_linear_bwd_cpu", T, K, N);
  if (s != SMX_OK) return s;
  if (!dy || (dx && !w) || (dw && !x))
    return smx_fail(SMX_ERR_INVALID, "smx_linear_bwd_cpu: dy, and w for dx, x for dW, must not be NULL");
  if (dx) /* (T, dout) (dout, din) */
    smx_sgemm_par(CblasNoTrans, CblasNoTrans, (int)T, (int)K, (int)N, 1.0f, dy, (int)N, w, (int)K, 0.0f,
                dx, (int)K);
  if (dw) /* (dout, T) (T, din) */
    smx_sgemm_par(CblasTrans, CblasNoTrans, (int)N, (int)K, (int)T, 1.0f, dy, (int)N, x, (int)K, 0.0f,
                dw, (int)K);
  if (db) {
    memset(db, 0, (size_t)N * sizeof(float));
    for (int64_t t = 0; t < T; t++)
      for (int64_t n = 0; n < N; n++) db[n] += dy[t * N + n];
  }
  return SMX_OK;
}

static smx_status run(void *state, smx_pass p, void *const *tv) {
  const smx_config *c = state;
  float *const *t = (float *const *)tv;
  int64_t T = c->v[LIN_T], K = c->v[LIN_DIN], N = c->v[LIN_DOUT];
  int bias = (int)c->v[LIN_BIAS];
  if (p == SMX_FWD) return smx_linear_fwd_cpu(T, K, N, t[LIN_X], t[LIN_W], bias ? t[LIN_B] : NULL, t[LIN_Y]);
  return smx_linear_bwd_cpu(T, K, N, t[LIN_X], t[LIN_W], t[LIN_DY], t[LIN_DX], t[LIN_DW], bias ? t[LIN_DB] : NULL);
}

const smx_variant smx_linear_cpu_blas = {
    .name = "cpu.blas",
    .summary = "OpenBLAS sgemm for y, dx and dW; bias and its column sums as loops",
    .device = SMX_DEV_CPU,
    .passes = SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    .create = smx_state_copy_config,
    .destroy = smx_state_free,
    .workspace_bytes = smx_state_no_workspace,
    .run = run,
};
