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
