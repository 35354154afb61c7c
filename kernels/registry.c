/* The registry: every op and its variants, in the order tests, benchmarks and the CLI list them.
 * A new variant is one file in kernels/<op>/ plus one line here. Variants whose code is CUDA are
 * listed only in CUDA builds; in CPU-only builds `seqmix list` says CUDA was not built. */
#include <stddef.h>

#include "reference/attention.h"
#include "reference/conba.h"
#include "reference/dma.h"
#include "reference/fftconv.h"
#include "reference/rope.h"
#include "reference/ssd.h"
#include "reference/cdmoe.h"
#include "reference/moe.h"
#include "reference/monarch.h"
#include "reference/hyena_filter.h"
#include "reference/longconv_kernel.h"
#include "reference/linear.h"
#include "reference/norm.h"
#include "reference/mlp.h"
#include "reference/embedding.h"
#include "reference/lm_head_ce.h"
#include "reference/adamw.h"
#include "reference/shortconv.h"
#include "reference/ssm_kernel.h"
#include "reference/ssmconv.h"
#include "smx_config.h"

extern const smx_variant smx_fftconv_cpu_fftw, smx_fftconv_baseline_fftw, smx_rope_cpu_table;
extern const smx_variant smx_fftconv_cpu_monarch_fft;
extern const smx_variant smx_attention_cpu_flash, smx_attention_decode_cpu_flash, smx_dma_cpu_sparse;
extern const smx_variant smx_ssd_cpu_scan, smx_ssd_cpu_chunked, smx_ssd_decode_cpu_step;
extern const smx_variant smx_conba_cpu_scan, smx_conba_decode_cpu_step;
#if SMX_HAVE_CUDA
extern const smx_variant smx_conba_cuda_scan, smx_conba_decode_cuda_step;
extern const smx_variant smx_ssd_cuda_chunked, smx_ssd_decode_cuda_step;
extern const smx_variant smx_fftconv_cuda_cufft, smx_fftconv_baseline_cufft, smx_rope_cuda_table;
extern const smx_variant smx_fftconv_cuda_flashconv, smx_fftconv_cuda_flashconv_bf16;
extern const smx_variant smx_attention_cuda_cublas, smx_attention_cuda_cublas_bf16, smx_dma_cuda_dense_bias,
    smx_dma_cuda_dense_bias_bf16, smx_attention_decode_cuda_flash, smx_attention_decode_cuda_flash_bf16,
    smx_attention_cuda_flash, smx_attention_cuda_flash_bf16, smx_dma_cuda_flash_sparse, smx_dma_cuda_flash_sparse_bf16;
extern const smx_variant smx_dma_bias_cuda_direct;
#endif

static const smx_variant *const fftconv_variants[] = {
    &smx_fftconv_reference,
    &smx_fftconv_cpu_fftw,
    &smx_fftconv_cpu_monarch_fft,
#if SMX_HAVE_CUDA
    &smx_fftconv_cuda_cufft,
    &smx_fftconv_cuda_flashconv,
    &smx_fftconv_cuda_flashconv_bf16,
#endif
    &smx_fftconv_baseline_fftw,
#if SMX_HAVE_CUDA
    &smx_fftconv_baseline_cufft,
#endif
    NULL,
};

static const smx_variant *const rope_variants[] = {
    &smx_rope_reference,
    &smx_rope_cpu_table,
#if SMX_HAVE_CUDA
    &smx_rope_cuda_table,
#endif
    NULL,
};

static const smx_variant *const attention_variants[] = {
    &smx_attention_reference,
    &smx_attention_cpu_flash,
#if SMX_HAVE_CUDA
    &smx_attention_cuda_cublas,
    &smx_attention_cuda_cublas_bf16,
    &smx_attention_cuda_flash,
    &smx_attention_cuda_flash_bf16,
#endif
    NULL,
};

static const smx_variant *const attention_decode_variants[] = {
    &smx_attention_decode_reference,
    &smx_attention_decode_cpu_flash,
#if SMX_HAVE_CUDA
    &smx_attention_decode_cuda_flash,
    &smx_attention_decode_cuda_flash_bf16,
#endif
    NULL,
};

static const smx_variant *const dma_variants[] = {
    &smx_dma_reference,
    &smx_dma_cpu_sparse,
#if SMX_HAVE_CUDA
    &smx_dma_cuda_dense_bias,
    &smx_dma_cuda_dense_bias_bf16,
    &smx_dma_cuda_flash_sparse,
    &smx_dma_cuda_flash_sparse_bf16,
#endif
    NULL,
};

static const smx_variant *const dma_bias_variants[] = {
    &smx_dma_bias_reference,
#if SMX_HAVE_CUDA
    &smx_dma_bias_cuda_direct,
#endif
    NULL,
};

static const smx_variant *const ssd_variants[] = {
    &smx_ssd_reference,
    &smx_ssd_cpu_scan,
    &smx_ssd_cpu_chunked,
#if SMX_HAVE_CUDA
    &smx_ssd_cuda_chunked,
#endif
    NULL,
};

static const smx_variant *const ssd_decode_variants[] = {
    &smx_ssd_decode_reference,
    &smx_ssd_decode_cpu_step,
#if SMX_HAVE_CUDA
    &smx_ssd_decode_cuda_step,
#endif
    NULL,
};

static const smx_variant *const moe_variants[] = {&smx_moe_reference, &smx_moe_cpu_loop, &smx_moe_cpu_grouped, SMX_MOE_CUDA_VARIANTS NULL};
static const smx_variant *const moe_router_variants[] = {&smx_moe_router_reference, &smx_moe_router_cpu_dense, SMX_MOE_ROUTER_CUDA_VARIANTS NULL};
static const smx_variant *const cdmoe_variants[] = {&smx_cdmoe_reference, &smx_cdmoe_cpu_pk, SMX_CDMOE_CUDA_VARIANTS NULL};
static const smx_variant *const cdmoe_router_variants[] = {&smx_cdmoe_router_reference, &smx_cdmoe_router_cpu_pk, SMX_CDMOE_ROUTER_CUDA_VARIANTS NULL};

static const smx_variant *const linear_variants[] = {&smx_linear_reference, &smx_linear_cpu_blas, SMX_LINEAR_CUDA_VARIANTS NULL};

static const smx_variant *const layernorm_variants[] = {&smx_layernorm_reference, &smx_layernorm_cpu_rows, SMX_LAYERNORM_CUDA_VARIANTS NULL};
static const smx_variant *const rmsnorm_variants[] = {&smx_rmsnorm_reference, &smx_rmsnorm_cpu_rows, SMX_RMSNORM_CUDA_VARIANTS NULL};
static const smx_variant *const mlp_variants[] = {&smx_mlp_reference, &smx_mlp_cpu_blas, SMX_MLP_CUDA_VARIANTS NULL};
static const smx_variant *const embedding_variants[] = {&smx_embedding_reference, &smx_embedding_cpu_gather, SMX_EMBEDDING_CUDA_VARIANTS NULL};
static const smx_variant *const lm_head_ce_variants[] = {&smx_lm_head_ce_reference, &smx_lm_head_ce_cpu_gather, SMX_LM_HEAD_CE_CUDA_VARIANTS NULL};
static const smx_variant *const adamw_variants[] = {&smx_adamw_reference, &smx_adamw_cpu_fused, SMX_ADAMW_CUDA_VARIANTS NULL};

static const smx_variant *const conba_variants[] = {
    &smx_conba_reference,
    &smx_conba_cpu_scan,
#if SMX_HAVE_CUDA
    &smx_conba_cuda_scan,
#endif
    NULL,
};

static const smx_variant *const conba_decode_variants[] = {
    &smx_conba_decode_reference,
    &smx_conba_decode_cpu_step,
#if SMX_HAVE_CUDA
    &smx_conba_decode_cuda_step,
#endif
    NULL,
};

static const smx_variant *const monarch_variants[] = {&smx_monarch_reference, &smx_monarch_cpu_blockdiag, SMX_MONARCH_CUDA_VARIANTS
                                                      &smx_monarch_baseline_openblas, SMX_MONARCH_CUDA_BASELINES NULL};

static const smx_variant *const hyena_filter_variants[] = {&smx_hyena_filter_reference, &smx_hyena_filter_cpu_blas,
                                                           SMX_HYENA_FILTER_CUDA_VARIANTS NULL};
static const smx_variant *const longconv_kernel_variants[] = {&smx_longconv_kernel_reference, &smx_longconv_kernel_cpu_omp,
                                                              SMX_LONGCONV_KERNEL_CUDA_VARIANTS NULL};
static const smx_variant *const shortconv_variants[] = {&smx_shortconv_reference, &smx_shortconv_cpu_direct, SMX_SHORTCONV_CUDA_VARIANTS NULL};
static const smx_variant *const ssm_kernel_variants[] = {&smx_ssm_kernel_reference, &smx_ssm_kernel_cpu_vandermonde, SMX_SSM_KERNEL_CUDA_VARIANTS NULL};
static const smx_variant *const ssmconv_variants[] = {&smx_ssmconv_reference, &smx_ssmconv_cpu_statepass, SMX_SSMCONV_CUDA_VARIANTS NULL};

typedef struct entry {
  const smx_op *op;
  const smx_variant *const *variants;
} entry;

static const entry table[] = {
    {&smx_op_fftconv, fftconv_variants},
    {&smx_op_rope, rope_variants},
    {&smx_op_attention, attention_variants},
    {&smx_op_attention_decode, attention_decode_variants},
    {&smx_op_dma, dma_variants},
    {&smx_op_dma_bias, dma_bias_variants},
    {&smx_op_ssd, ssd_variants},
    {&smx_op_ssd_decode, ssd_decode_variants},
    {&smx_op_conba, conba_variants},
    {&smx_op_conba_decode, conba_decode_variants},
    {&smx_op_moe, moe_variants},
    {&smx_op_moe_router, moe_router_variants},
    {&smx_op_cdmoe, cdmoe_variants},
    {&smx_op_cdmoe_router, cdmoe_router_variants},
    {&smx_op_monarch, monarch_variants},
    {&smx_op_hyena_filter, hyena_filter_variants},
    {&smx_op_longconv_kernel, longconv_kernel_variants},
    {&smx_op_linear, linear_variants},
    {&smx_op_layernorm, layernorm_variants},
    {&smx_op_rmsnorm, rmsnorm_variants},
    {&smx_op_mlp, mlp_variants},
    {&smx_op_embedding, embedding_variants},
    {&smx_op_lm_head_ce, lm_head_ce_variants},
    {&smx_op_adamw, adamw_variants},
    {&smx_op_shortconv, shortconv_variants},
    {&smx_op_ssm_kernel, ssm_kernel_variants},
    {&smx_op_ssmconv, ssmconv_variants},
};

int smx_op_count(void) { return (int)(sizeof table / sizeof table[0]); }
const smx_op *smx_op_at(int i) { return (i >= 0 && i < smx_op_count()) ? table[i].op : NULL; }

static const entry *entry_of(const smx_op *op) {
  for (int i = 0; i < smx_op_count(); i++)
    if (table[i].op == op) return &table[i];
  return NULL;
}

int smx_variant_count(const smx_op *op) {
  const entry *e = entry_of(op);
  int n = 0;
  if (e)
    while (e->variants[n]) n++;
  return n;
}

const smx_variant *smx_variant_at(const smx_op *op, int i) {
  const entry *e = entry_of(op);
  return (e && i >= 0 && i < smx_variant_count(op)) ? e->variants[i] : NULL;
}
