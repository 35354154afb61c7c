/* CUDA entry points the task runner's model trains with (tasks/model_cuda.c), beside the CPU ones
 * of include/seqmix/model_ops.h. Pointers are device pointers; everything is queued on the legacy
 * default stream (core/gpu.h), so calls are ordered without synchronisation and nothing here waits
 * for the device. These exist only in a build with CUDA (SMX_HAVE_CUDA); callers check
 * smx_device_ready(SMX_DEV_CUDA) first.
 *
 * The registered variants wrap the same code: adamw `cuda.fused` calls smx_adamw_step_cuda, and the
 * lm_head_ce `cuda.gather` state answers the two questions a trainer asks after a pass (the loss
 * of a backward pass, the argmax of a forward one). The model's other layers run registered CUDA
 * variants through tasks/op_layer.h.
 */
#ifndef SEQMIX_MODEL_OPS_CUDA_H
#define SEQMIX_MODEL_OPS_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "seqmix/model_ops.h"
#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One AdamW step on the device, the same arithmetic as smx_adamw_step_cpu (bias corrections in
 * fp64 on the host, the update in fp32); outputs may be the inputs. */
smx_status smx_adamw_step_cuda(int64_t n, int64_t step, const smx_adamw_hparams *h, const float *p, const float *g,
                               const float *m, const float *v, float *p_out, float *m_out, float *v_out);

/* After a run of lm_head_ce `cuda.gather` (state: its create()'s): the mean loss of the labelled
 * rows into loss (one device float; the forward writes it itself, a backward pass does not). */
smx_status smx_lm_head_ce_cuda_gather_loss(void *state, float *loss);
/* After a forward run: pred (T device floats) = the argmax class at labelled positions (ties:
 * the lower class, as the CPU), -1 elsewhere. The backward pass overwrites the logits. */
smx_status smx_lm_head_ce_cuda_gather_argmax(void *state, float *pred);

/* Glue of the residual stream (tasks/model_cuda_glue.cu): y += x over n floats; dst = src. */
smx_status smx_cuda_add(float *y, const float *x, int64_t n);
smx_status smx_cuda_copy(float *dst, const float *src, int64_t n);
/* y += a x over n floats */
smx_status smx_cuda_axpy(int64_t n, float a, const float *x, float *y);
/* x (T, d) += pos[t mod L] (learned positions, pos (L, d)). */
smx_status smx_cuda_add_positions(int64_t T, int64_t L, int64_t d, const float *pos, float *x);
/* dpos (L, d) += the sum over sequences of dx (T, d), rows summed in sequence order (repeatable). */
smx_status smx_cuda_positions_grad(int64_t T, int64_t L, int64_t d, const float *dx, float *dpos);
/* The model's pool "mean" over B sequences of L rows of d: y_t = (1/(t+1)) sum_{s<=t} x_s, and its
 * backward in place, dy_s <- sum_{t>=s} dy_t / (t+1); one thread per (sequence, column), sums in
 * double in sequence order, as tasks/model.c does on the CPU. */
smx_status smx_cuda_running_mean_fwd(int64_t B, int64_t L, int64_t d, const float *x, float *y);
smx_status smx_cuda_running_mean_bwd(int64_t B, int64_t L, int64_t d, float *dy);

#ifdef __cplusplus
}
#endif
#endif
