/* mlp: the GLU MLP (channel mixer) of Llama-style blocks, no biases:
 *   x (T, d), Wg, Wu (F, d), Wd (d, F):  a = x Wg^T, u = x Wu^T (T, F),  h = act(a) * u,  y = h Wd^T (T, d)
 *   act = SiLU (act=0, SwiGLU) or GELU in the erf form (act=1, GeGLU)
 *   backward: dh = dy Wd, da = dh u act'(a), du = dh act(a),
 *             dx = da Wg + du Wu,  dWg = da^T x,  dWu = du^T x,  dWd = dy^T h
 * Weights in nn.Linear's (out, in) layout. Slot and parameter indices shared by the reference and
 * every variant; the CPU entry points are in include/seqmix/model_ops.h.
 *
 *   seqmix check --op mlp */
#ifndef SEQMIX_REFERENCE_MLP_H
#define SEQMIX_REFERENCE_MLP_H

#include "seqmix/op.h"
#include "smx_config.h"

enum { MLP_X, MLP_WG, MLP_WU, MLP_WD, MLP_Y, MLP_DY, MLP_DX, MLP_DWG, MLP_DWU, MLP_DWD, MLP_NSLOTS };
enum { MLP_T, MLP_D, MLP_F, MLP_ACT };

extern const smx_op smx_op_mlp;
extern const smx_variant smx_mlp_reference, smx_mlp_cpu_blas;
#if SMX_HAVE_CUDA
extern const smx_variant smx_mlp_cuda_cublas;
#define SMX_MLP_CUDA_VARIANTS &smx_mlp_cuda_cublas,
#else
#define SMX_MLP_CUDA_VARIANTS
#endif

#endif
