/* layernorm and rmsnorm over the last dimension of x (T, d), eps = 1e-5 (PyTorch's LayerNorm
 * default, zoology's final norm):
 *   layernorm: mean_t = sum_i x[t,i] / d,  var_t = sum_i (x[t,i] - mean_t)^2 / d  (biased),
 *              rstd_t = 1 / sqrt(var_t + eps),  xhat = (x - mean) rstd,  y = xhat w + b
 *              backward (g = dy w): dx = rstd (g - mean_i(g) - xhat mean_i(g xhat)),
 *              dw = sum_t dy xhat,  db = sum_t dy
 *   rmsnorm:   rstd_t = 1 / sqrt(sum_i x[t,i]^2 / d + eps),  y = x rstd w
 *              backward: dx = rstd g - x rstd^3 mean_i(g x),  dw = sum_t dy x rstd
 * mean and rstd (T) are saved outputs: the backward reads them instead of recomputing (as
 * attention's backward reads its log-sum-exp); they carry no gradient. Slot and parameter indices
 * shared by the references and every variant; the CPU entry points are in include/seqmix/model_ops.h.
 *
 *   seqmix check --op layernorm; seqmix check --op rmsnorm */
#ifndef SEQMIX_REFERENCE_NORM_H
#define SEQMIX_REFERENCE_NORM_H

#include "seqmix/op.h"
#include "smx_config.h"

#define SMX_NORM_EPS 1e-5

enum { LN_X, LN_W, LN_B, LN_Y, LN_MEAN, LN_RSTD, LN_DY, LN_DX, LN_DW, LN_DB, LN_NSLOTS };
enum { RMS_X, RMS_W, RMS_Y, RMS_RSTD, RMS_DY, RMS_DX, RMS_DW, RMS_NSLOTS };
enum { NORM_T, NORM_D };

extern const smx_op smx_op_layernorm, smx_op_rmsnorm;
extern const smx_variant smx_layernorm_reference, smx_rmsnorm_reference;
extern const smx_variant smx_layernorm_cpu_rows, smx_rmsnorm_cpu_rows;
#if SMX_HAVE_CUDA
extern const smx_variant smx_layernorm_cuda_rows, smx_rmsnorm_cuda_rows;
#define SMX_LAYERNORM_CUDA_VARIANTS &smx_layernorm_cuda_rows,
#define SMX_RMSNORM_CUDA_VARIANTS &smx_rmsnorm_cuda_rows,
#else
#define SMX_LAYERNORM_CUDA_VARIANTS
#define SMX_RMSNORM_CUDA_VARIANTS
#endif

#endif
