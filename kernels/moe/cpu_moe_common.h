/* Pieces the CPU moe, moe_router and cdmoe variants share (the split sgemm is
 * kernels/cpu_sgemm_par.h): the router (GEMM, softmax, top-k, the sort by expert, the
 * load-balancing loss) and its backward, and the shared GLU expert forward and backward.
 * Formulas: reference/moe.h.
 *
 *   seqmix check --op moe        (cpu.loop, cpu.grouped use all of it; cdmoe's cpu.pk the shared GLU) */
#ifndef SEQMIX_KERNELS_MOE_CPU_MOE_COMMON_H
#define SEQMIX_KERNELS_MOE_CPU_MOE_COMMON_H

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "seqmix/status.h"

#include "kernels/cpu_sgemm_par.h"

static inline float moe_sigmoid(float a) { return 1.0f / (1.0f + expf(-a)); }

typedef struct moe_route {
  int64_t T, D, E, k;
  int renorm;
  float *p;        /* (T, E): logits, then probabilities; in backward the logits' gradient */
  int32_t *idx;    /* (T, k) selected experts, best first */
  float *g;        /* (T, k) gates */
  int64_t *start;  /* E + 1: selections grouped by expert */
  int32_t *order;  /* T k selections i = t k + j grouped by expert, in token order inside */
  int32_t *pos;    /* T k: where selection i sits in order */
  double *colsum;  /* E: the probabilities' column sums */
  float aux;
} moe_route;

smx_status moe_route_alloc(moe_route *r, int64_t T, int64_t D, int64_t E, int64_t k, int renorm);
void moe_route_free(moe_route *r);
size_t moe_route_bytes(const moe_route *r);
/* Logits, softmax, top-k, gates, the sort by expert and aux. */
void moe_route_fwd(moe_route *r, const float *x, const float *wr);
/* From dg (T, k; NULL = zero) and daux: dx (T, D) += dl wr^T, dwr = x^T dl. Needs moe_route_fwd first. */
void moe_route_bwd(moe_route *r, const float *x, const float *wr, const float *dg, float daux, float *dx, float *dwr);

/* The shared GLU of width S over all T tokens: y (+)= (silu(x sg) * (x su)) sd. Workspace a, b
 * (T, S) each. accumulate = 0 writes y. */
void moe_shared_fwd(int64_t T, int64_t D, int64_t S, const float *x, const float *sg, const float *su, const float *sd,
                    float *a, float *b, float *y, int accumulate);
/* Its backward: dsg, dsu, dsd written, dx (+)= ...; workspace a, b, h (T, S). */
void moe_shared_bwd(int64_t T, int64_t D, int64_t S, const float *x, const float *sg, const float *su, const float *sd,
                    const float *dy, float *a, float *b, float *h, float *dx, int accumulate, float *dsg, float *dsu,
                    float *dsd);

#endif
