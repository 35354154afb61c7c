/* CLOCK_MONOTONIC in seconds (include/seqmix/timer.h). */
#include "seqmix/timer.h"

#include <time.h>

double smx_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
