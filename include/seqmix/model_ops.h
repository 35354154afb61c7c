/* Plain C entry points of the model ops' CPU kernels (fp32, row-major), for code that composes
 * layers and trains models. The registered `cpu.*` variants of these ops are thin wrappers over
 * these functions, so what `seqmix check` verifies is what a caller gets. The math, shapes and
 * tolerances of each op are in docs/ops/<op>.md and reference/<op>.h.
 *
 * Conventions: sizes are positive; every function validates its sizes and pointers and returns
 * SMX_ERR_INVALID with one line (smx_last_error) instead of computing garbage. Output pointers
 * may be NULL where a comment says so (the gradient is then not computed). Results are bitwise
 * repeatable at a fixed thread count (OpenMP and OpenBLAS threads). Caller-owned workspaces make
 * the functions allocation-free, so a training loop allocates once.
 */
#ifndef SEQMIX_MODEL_OPS_H
#define SEQMIX_MODEL_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- linear: y = x W^T + b;  x (T, din), W (dout, din), b (dout) or NULL ---- */
smx_status smx_linear_fwd_cpu(int64_t T, int64_t din, int64_t dout, const float *x, const float *w, const float *b,
                              float *y);
/* dx = dy W, dW = dy^T x, db = column sums of dy; each of dx, dw, db may be NULL. */
smx_status smx_linear_bwd_cpu(int64_t T, int64_t din, int64_t dout, const float *x, const float *w, const float *dy,
                              float *dx, float *dw, float *db);

/* ---- layernorm and rmsnorm over the last dim of x (T, d); mean, rstd (T) saved for backward ---- */
smx_status smx_layernorm_fwd_cpu(int64_t T, int64_t d, float eps, const float *x, const float *w, const float *b,
                                 float *y, float *mean, float *rstd);
/* dx, dw, db may each be NULL */
smx_status smx_layernorm_bwd_cpu(int64_t T, int64_t d, const float *x, const float *w, const float *mean,
                                 const float *rstd, const float *dy, float *dx, float *dw, float *db);
smx_status smx_rmsnorm_fwd_cpu(int64_t T, int64_t d, float eps, const float *x, const float *w, float *y, float *rstd);
/* dx, dw may each be NULL */
smx_status smx_rmsnorm_bwd_cpu(int64_t T, int64_t d, const float *x, const float *w, const float *rstd, const float *dy,
                               float *dx, float *dw);

/* ---- mlp (GLU): a = x Wg^T, u = x Wu^T, h = act(a) u, y = h Wd^T; x (T, d), Wg, Wu (F, d), Wd (d, F) ---- */
typedef enum smx_act { SMX_ACT_SILU = 0, SMX_ACT_GELU = 1 } smx_act; /* SwiGLU; GeGLU (erf GELU) */
/* a, u (T, F): written, kept for the backward; h (T, F): scratch. */
smx_status smx_mlp_fwd_cpu(int64_t T, int64_t d, int64_t F, smx_act act, const float *x, const float *wg, const float *wu,
                           const float *wd, float *y, float *a, float *u, float *h);
/* a, u: the forward's; work: 2 T F floats; dx, dwg, dwu, dwd may each be NULL. */
smx_status smx_mlp_bwd_cpu(int64_t T, int64_t d, int64_t F, smx_act act, const float *x, const float *wg, const float *wu,
                           const float *wd, const float *a, const float *u, const float *dy, float *dx, float *dwg,
                           float *dwu, float *dwd, float *work);

/* ---- embedding: y[t] = table[ids[t]]; ids (T) in [0, V), table (V, d), y (T, d) ---- */
smx_status smx_embedding_fwd_cpu(int64_t T, int64_t V, int64_t d, const int32_t *ids, const float *table, float *y);
/* dtable (V, d) = (accumulate ? dtable : 0) + the scatter-add of dy, each row summed in position
 * order (deterministic at any thread count); accumulate = 1 adds to a tied LM head's gradient. */
smx_status smx_embedding_bwd_cpu(int64_t T, int64_t V, int64_t d, const int32_t *ids, const float *dy, float *dtable,
                                 int accumulate);

/* ---- lm_head_ce: tied LM head + cross-entropy at labelled positions only (reference/lm_head_ce.h) ----
 * x (T, d), W (V, d) (the embedding table), labels (T): a class in [0, V) or -100 (ignored).
 * loss = mean over the n labelled positions of lse - z[label] (0 when n = 0). Only the labelled
 * rows are multiplied by W. work: smx_lm_head_ce_workspace_bytes(T, d, V) bytes (labelled rows go in chunks of 256:
 * 4 (2T + r + 2rd + rV) bytes, r = min(T, 256)). */
size_t smx_lm_head_ce_workspace_bytes(int64_t T, int64_t d, int64_t V);
/* pred (T) or NULL: the argmax class at labelled positions (ties: the lower class), -1 elsewhere */
smx_status smx_lm_head_ce_fwd_cpu(int64_t T, int64_t d, int64_t V, const float *x, const float *w, const int32_t *labels,
                                  float *loss, int32_t *pred, void *work);
/* the gradients of dloss * loss: dx (T, d) (zero rows at ignored positions), dW (V, d)
 * (accumulate = 1 adds to dW: the tied embedding's gradient); dx or dw may be NULL */
smx_status smx_lm_head_ce_bwd_cpu(int64_t T, int64_t d, int64_t V, const float *x, const float *w, const int32_t *labels,
                                  float dloss, float *dx, float *dw, int accumulate, void *work);
/* both with one logits GEMM (dloss = 1): what a training step calls */
smx_status smx_lm_head_ce_fwd_bwd_cpu(int64_t T, int64_t d, int64_t V, const float *x, const float *w,
                                      const int32_t *labels, float *loss, int32_t *pred, float *dx, float *dw,
                                      int accumulate, void *work);

/* ---- adamw: one AdamW step, PyTorch semantics (reference/adamw.h) ---- */
typedef struct smx_adamw_hparams {
  float lr, beta1, beta2, eps, weight_decay;
} smx_adamw_hparams;
/* step >= 1 (the bias corrections' exponent); outputs may be the inputs (an in-place update). */
smx_status smx_adamw_step_cpu(int64_t n, int64_t step, const smx_adamw_hparams *h, const float *p, const float *g,
                              const float *m, const float *v, float *p_out, float *m_out, float *v_out);

#ifdef __cplusplus
}
#endif
#endif
