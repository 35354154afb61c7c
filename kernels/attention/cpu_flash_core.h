/* The CPU flash-attention core shared by attention `cpu.flash` and dma `cpu.sparse`: tiles of 64
 * query rows against the keys they can see, gathered 64 at a time (K transposed, so the score and
 * output loops vectorize over keys and over P), online softmax, fp32 throughout.
 *
 * With a keep-until selection (dma) a query tile gathers only the keys kept for at least one of its
 * rows, {j < i1 : keep[j] > i0}: at most w + 64 keys, so the work is O(L w P) instead of O(L^2 P).
 *
 * Determinism: the forward writes each row from one thread. The backward gives every thread its
 * own dk/dv/dbias partial sums for one (batch, KV head) at a time, assigns query tiles to threads
 * statically, and adds the partials in thread order: bitwise repeatable at a fixed thread count. */
#ifndef SEQMIX_KERNELS_ATTENTION_CPU_FLASH_CORE_H
#define SEQMIX_KERNELS_ATTENTION_CPU_FLASH_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "seqmix/status.h"

typedef struct cpu_flash_shape {
  int64_t B, L, H, Hkv, P;
  int with_bias; /* dma: a (B, Hkv, L) bias and keep-until selection */
} cpu_flash_shape;

typedef struct cpu_flash cpu_flash;

smx_status cpu_flash_create(const cpu_flash_shape *s, cpu_flash **out);
void cpu_flash_destroy(cpu_flash *f);
size_t cpu_flash_workspace_bytes(const cpu_flash *f);
/* keep: (B, Hkv, L) keep-until intervals (reference/dma.h), NULL with bias NULL for attention. */
void cpu_flash_fwd(cpu_flash *f, const float *q, const float *k, const float *v, const float *bias,
                   const int32_t *keep, float *o, float *lse);
void cpu_flash_bwd(cpu_flash *f, const float *q, const float *k, const float *v, const float *bias,
                   const int32_t *keep, const float *o, const float *lse, const float *dout, float *dq, float *dk,
                   float *dv, float *dbias);

/* One chunk of flash-decoding for one sequence (attention_decode cpu.flash, the model's dma
 * decoder): n cached rows, row r of K at k + r * row_stride with KV head g at + g * P (V likewise),
 * each row read once, whole, for all H query heads (q: H x P; head h reads KV head h / group);
 * score = scale <q_h, k_r> (+ bias[h * bias_stride + r] when bias is not NULL). s: H x cap scratch
 * (n <= cap). Writes head h's partial (output, max, sum: P + 2 floats) at parts + h * part_stride. */
void cpu_flash_decode_chunk(const float *q, const float *k, const float *v, int64_t row_stride, int64_t n, int64_t H,
                            int64_t group, int64_t P, float scale, const float *bias, int64_t bias_stride, float *s,
                            int64_t cap, float *parts, int64_t part_stride);
/* Flash-decoding's combine (attention_decode cpu.flash, the model's dma decoder): nc chunks of
 * P + 2 floats each (the chunk's unnormalised output, its max score, its sum of weights) merged in
 * chunk order into the normalised output row out (P). */
void cpu_flash_decode_combine(const float *parts, int64_t nc, int64_t P, float *out);

#endif
