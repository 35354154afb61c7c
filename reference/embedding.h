/* embedding: the token embedding lookup.
 *   ids (B, L) token ids in [0, V), table (V, d) -> y (B, L, d);  y[b,l] = table[ids[b,l]]
 *   backward: dtable[v] = sum over the positions with ids = v of dy[b,l]  (a scatter-add; rows no
 *   token uses are zero)
 * The op framework's tensors are fp32, so ids travel as floats holding exact integers (exact
 * below 2^24; V is limited to 2^24): shape_input draws them uniformly from [0, V), and ids have no
 * gradient slot (finite differences perturb only the table). The plain C entry points
 * (include/seqmix/model_ops.h) take int32 ids. Every variant sums a row's contributions in
 * position order, so dtable is deterministic. Slot and parameter indices shared by the reference
 * and every variant.
 *
 *   seqmix check --op embedding */
#ifndef SEQMIX_REFERENCE_EMBEDDING_H
#define SEQMIX_REFERENCE_EMBEDDING_H

#include "seqmix/op.h"
#include "smx_config.h"

enum { EMB_IDS, EMB_TABLE, EMB_Y, EMB_DY, EMB_DTABLE, EMB_NSLOTS };
enum { EMB_B, EMB_L, EMB_V, EMB_D };

extern const smx_op smx_op_embedding;
extern const smx_variant smx_embedding_reference, smx_embedding_cpu_gather;
#if SMX_HAVE_CUDA
extern const smx_variant smx_embedding_cuda_sorted;
#define SMX_EMBEDDING_CUDA_VARIANTS &smx_embedding_cuda_sorted,
#else
#define SMX_EMBEDDING_CUDA_VARIANTS
#endif

#endif
