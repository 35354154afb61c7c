/* Wall-clock time for CPU benchmarks and progress messages. */
#ifndef SEQMIX_TIMER_H
#define SEQMIX_TIMER_H

#ifdef __cplusplus
extern "C" {
#endif

double smx_now(void); /* seconds, CLOCK_MONOTONIC */

#ifdef __cplusplus
}
#endif
#endif
