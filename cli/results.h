/* Reading a run directory's result files, with every field plot and report rely on checked:
 * a missing, truncated, corrupt or foreign file is one error line, never a crash. */
#ifndef SEQMIX_CLI_RESULTS_H
#define SEQMIX_CLI_RESULTS_H

#include <jansson.h>

#include "seqmix/status.h"

smx_status load_bench(const char *run_dir, json_t **out); /* <run>/bench.json */
smx_status load_check(const char *run_dir, json_t **out); /* <run>/check.json */

#endif
