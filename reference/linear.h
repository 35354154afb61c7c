/* linear: the fully connected layer, PyTorch's nn.Linear layout.
 *   x (T, din), W (dout, din), b (dout) -> y (T, dout);  y = x W^T + b   (bias = 0: no b)
 *   backward: dx = dy W (T, din), dW = dy^T x (dout, din), db = sum_t dy[t] (dout)
 * Row-major in the order written. Slot and parameter indices shared by the reference and every
 * variant; the plain C entry point of the CPU variant is in include/seqmix/model_ops.h.
 *
 *   seqmix check --op linear */
#ifndef SEQMIX_REFERENCE_LINEAR_H
#define SEQMIX_REFERENCE_LINEAR_H

#include "seqmix/op.h"
#include "smx_config.h"

enum { LIN_X, LIN_W, LIN_B, LIN_Y, LIN_DY, LIN_DX, LIN_DW, LIN_DB, LIN_NSLOTS };
enum { LIN_T, LIN_DIN, LIN_DOUT, LIN_BIAS };

extern const smx_op smx_op_linear;
extern const smx_variant smx_linear_reference, smx_linear_cpu_blas;
#if SMX_HAVE_CUDA
extern const smx_variant smx_linear_cuda_cublas;
#define SMX_LINEAR_CUDA_VARIANTS &smx_linear_cuda_cublas,
#else
#define SMX_LINEAR_CUDA_VARIANTS
#endif

#endif
