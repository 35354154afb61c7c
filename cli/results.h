/* Reading a run directory's result files, with every field plot and report rely on checked:
 * a missing, truncated, corrupt or foreign file is one error line, never a crash. */
#ifndef SEQMIX_CLI_RESULTS_H
#define SEQMIX_CLI_RESULTS_H

#include <jansson.h>

#include "seqmix/status.h"

/* `run` is a run directory (its bench.json / check.json) or the file itself. */
smx_status load_bench(const char *run, json_t **out);
/* load_bench, and the rows of the run's peers.json (PyTorch measured beside seqmix:
 * bench/peers/torch_peers.py), when there is one, appended: each has "peer": true. A peers file of
 * another run, or a corrupt one, is an error. For reading, plotting and comparing; the gate judges
 * seqmix's own rows only and uses load_bench. */
smx_status load_bench_peers(const char *run, json_t **out);
/* Field accessors for files load_bench/load_check have validated: "" and 0 when absent. */
static inline const char *S(json_t *o, const char *k) {
  const char *v = json_string_value(json_object_get(o, k));
  return v ? v : "";
}
static inline double N(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

smx_status load_check(const char *run, json_t **out);

#endif
