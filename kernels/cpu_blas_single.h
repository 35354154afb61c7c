/* OpenBLAS on the calling thread for the length of a CPU kernel whose OpenMP loops do the
 * parallelism, then restored: this OpenBLAS is the pthreads build, and its own threads started
 * from inside an OpenMP loop oversubscribe the cores.
 *   int saved = smx_blas_single_begin();  ...GEMMs inside omp loops...  smx_blas_single_end(saved);
 */
#ifndef SEQMIX_KERNELS_CPU_BLAS_SINGLE_H
#define SEQMIX_KERNELS_CPU_BLAS_SINGLE_H

#include <cblas.h>

static inline int smx_blas_single_begin(void) {
  int saved = openblas_get_num_threads();
  openblas_set_num_threads(1);
  return saved;
}

static inline void smx_blas_single_end(int saved) { openblas_set_num_threads(saved); }

#endif
