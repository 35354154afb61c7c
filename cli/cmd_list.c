/* seqmix list: ops with their parameters and tensors, variants with device and availability. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "seqmix/op.h"

static const char *role_name(smx_role r) {
  switch (r) {
  case SMX_ROLE_INPUT: return "input";
  case SMX_ROLE_OUTPUT: return "output";
  case SMX_ROLE_GRAD_OUT: return "output grad";
  case SMX_ROLE_GRAD_IN: return "input grad";
  }
  return "?";
}

int cmd_list(int argc, char **argv) {
  const char *op_name = NULL;
  int help = 0;
  const cli_opt opts[] = {{"op", "NAME", "only this op", &op_name, NULL}, {0}};
  if (cli_parse("list", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("list", "[--op NAME]", "Lists the registered ops (parameters with accepted ranges, tensors, benchmark "
                                     "suites) and their variants, with whether each can run on this machine.", opts);
    return 0;
  }
  const smx_op *only = NULL;
  if (op_name) {
    smx_status s = smx_op_lookup(op_name, &only);
    if (s != SMX_OK) return cli_fail(s);
  }
  if (!smx_cuda_built()) printf("(this build has no CUDA variants: configured without CUDA)\n\n");
  for (int i = 0; i < smx_op_count(); i++) {
    const smx_op *op = smx_op_at(i);
    if (only && op != only) continue;
    printf("%s — %s\n  parameters:", op->name, op->summary);
    for (int p = 0; p < op->n_params; p++)
      printf(" %s=%" PRId64 " [%" PRId64 "..%" PRId64 "]", op->params[p].name, op->params[p].def, op->params[p].min,
             op->params[p].max);
    printf("\n  tensors:");
    for (int t = 0; t < op->n_tensors; t++)
      printf(" %s (%s)%s", op->tensors[t].name, role_name(op->tensors[t].role), t + 1 < op->n_tensors ? "," : "");
    printf("\n  suites:");
    for (int s = 0; s < SMX_SUITE_COUNT; s++) {
      int n = 0;
      for (const char *const *sp = op->suite_shapes[s]; sp && *sp; sp++) n++;
      printf(" %s (%d shapes)", smx_suite_name((smx_suite)s), n);
    }
    printf("\n  variants:\n");
    smx_config def;
    smx_config_parse(op, "", &def);
    for (int v = 0; v < smx_variant_count(op); v++) {
      const smx_variant *var = smx_variant_at(op, v);
      const char *why = smx_variant_skip_reason(var, &def);
      printf("    %-18s %-4s %-9s %s\n", var->name, smx_device_name(var->device), why ? "skipped" : "available",
             var->summary);
      if (why) printf("    %-18s      reason: %s\n", "", why);
    }
    printf("\n");
  }
  return 0;
}
