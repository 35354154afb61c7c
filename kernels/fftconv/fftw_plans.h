/* A process-wide cache of single-row FFTW plans (real-to-complex and complex-to-real of length n),
 * made with FFTW_MEASURE once per length and executed with the new-array interface from many
 * threads (which FFTW allows; planning itself is not thread-safe, hence the lock). Arrays passed
 * to the plans must be 64-byte aligned, as smx_fftw_alloc() returns. */
#ifndef SEQMIX_FFTW_PLANS_H
#define SEQMIX_FFTW_PLANS_H

#include <fftw3.h>
#include <stddef.h>

#include "seqmix/status.h"

smx_status smx_fftw_plans(int n, fftwf_plan *r2c, fftwf_plan *c2r);
/* on = 1: plans made from now on use FFTW_ESTIMATE, whose choice depends only on n, so results
 * repeat bit for bit across processes (FFTW_MEASURE picks by timing, and two processes may pick
 * plans that round differently). Training turns it on; benchmarks keep the measured plans. */
void smx_fftw_deterministic(int on);
/* 64-byte aligned, zeroed; per-thread slices should be multiples of 16 floats so they stay aligned. */
void *smx_fftw_alloc(size_t bytes);
void smx_fftw_free(void *p);
/* Rounds a float count up so per-thread slices keep 64-byte alignment. */
static inline size_t smx_fftw_pad(size_t floats) { return (floats + 15) & ~(size_t)15; }

#endif
