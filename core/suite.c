/* Benchmark suite names: ci (seconds, CPU), quick (minutes, the CPU default), paper (the papers'
 * shapes, for GPUs). */
#include <string.h>

#include "seqmix/op.h"

static const char *const names[SMX_SUITE_COUNT] = {"ci", "quick", "paper"};

const char *smx_suite_name(smx_suite s) { return (unsigned)s < SMX_SUITE_COUNT ? names[s] : "?"; }

smx_status smx_suite_parse(const char *name, smx_suite *out) {
  for (int i = 0; i < SMX_SUITE_COUNT; i++)
    if (strcmp(name, names[i]) == 0) {
      *out = (smx_suite)i;
      return SMX_OK;
    }
  return smx_fail(SMX_ERR_INVALID, "unknown suite '%s' (accepted: ci, quick, paper)", name);
}
