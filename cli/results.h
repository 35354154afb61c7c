/* Reading a run directory's result files, with every field plot and report rely on checked:
 * a missing, truncated, corrupt or foreign file is one error line, never a crash. */
#ifndef SEQMIX_CLI_RESULTS_H
#define SEQMIX_CLI_RESULTS_H

#include <jansson.h>

#include "seqmix/status.h"

/* `run` is a run directory (its bench.json / check.json) or the file itself. */
smx_status load_bench(const char *run, json_t **out);
/* Field accessors for files load_bench/load_check have validated: "" and 0 when absent. */
static inline const char *S(json_t *o, const char *k) {
  const char *v = json_string_value(json_object_get(o, k));
  return v ? v : "";
}
static inline double N(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

smx_status load_check(const char *run, json_t **out);

#endif
