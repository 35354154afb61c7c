/* seqmix check: every variant against the reference, forward and backward, on the op's check
 * shapes (awkward ones included) or one --shape; plus the finite-difference check of the
 * reference backward. Prints one line per (variant, shape) and writes check.json with --out.
 *
 *   seqmix check                                   # everything registered
 *   seqmix check --op fftconv --variant cpu.fftw --shape B=2,H=3,L=1031
 *   seqmix check --device cuda                     # the CUDA variants only (a GPU, or the emulator)
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "seqmix/check.h"
#include "seqmix/hardware.h"
#include "seqmix/json_io.h"

/* The reference backward is checked by finite differences on shapes up to this many direct
 * multiply-adds (it runs the fp64 forward twice per input). */
#define FD_MAX_COST 2e7
#define FD_TOLERANCE 1e-6

static double worst_ratio(const smx_check_outcome *o, smx_pass p) {
  double r = -1;
  for (int i = 0; i < o->n_rows; i++) {
    const smx_check_row *row = &o->rows[i];
    if (row->pass != p) continue;
    double q = row->bound > 0 ? row->err / row->bound : (row->err > 0 ? INFINITY : 0);
    if (row->nonfinite) q = INFINITY;
    if (q > r) r = q;
  }
  return r;
}

static void fmt_ratio(double r, char *buf, size_t n) {
  if (r < 0) snprintf(buf, n, "-");
  else if (r == INFINITY) snprintf(buf, n, "inf");
  else snprintf(buf, n, "%.3f", r);
}

static json_t *outcome_json(const smx_op *op, const smx_variant *v, const char *shape, const smx_check_outcome *o) {
  json_t *rows = json_array();
  for (int i = 0; i < o->n_rows; i++) {
    const smx_check_row *r = &o->rows[i];
    json_array_append_new(rows, json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:b, s:b, s:b, s:b}",
        "pass", smx_pass_name(r->pass), "tensor", r->tensor, "err", r->err, "err_naive", r->err_naive, "ref_max",
        r->ref_max, "floor_scale", r->scale, "bound", r->bound, "k", op->tolerance[r->slot].k, "c", op->tolerance[r->slot].c, "worst_index",
        (json_int_t)r->worst_index, "nonfinite", (json_int_t)r->nonfinite, "canary_ok", r->canary_ok, "inputs_intact",
        r->inputs_intact, "repeatable", r->repeatable, "passed", r->passed));
  }
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "op", op->name, "variant", v->name, "device",
                   smx_device_name(v->device), "shape", shape, "verdict", smx_verdict_name(o->verdict), "reason",
                   o->reason, "rows", rows);
}

int run_check(const check_args *a) {
  const smx_op *only = NULL;
  smx_status s = smx_resolve_filters(a->op, a->variant, a->shape, &only);
  if (s != SMX_OK) return cli_fail(s);
  smx_device dev = SMX_DEV_CPU;
  if (a->device && (s = smx_device_parse(a->device, &dev)) != SMX_OK) return cli_fail(s);

  json_t *results = json_array(), *fds = json_array();
  int passed = 0, failed = 0, skipped = 0, fd_failed = 0, fd_skipped = 0;
  printf("%-8s %-16s %-28s %9s %9s  %s\n", "op", "variant", "shape", "fwd", "bwd", "verdict (err/bound per pass)");
  for (int i = 0; i < smx_op_count(); i++) {
    const smx_op *op = smx_op_at(i);
    if (only && op != only) continue;
    const char *one[] = {a->shape, NULL};
    const char *const *shapes = a->shape ? one : op->check_shapes;
    for (const char *const *sp = shapes; *sp; sp++) {
      smx_config c;
      if ((s = smx_config_parse(op, *sp, &c)) != SMX_OK) return cli_fail(s);
      char shape[160];
      smx_config_format(&c, shape, sizeof shape);
      smx_check_case *cc = NULL;
      if ((s = smx_check_case_new(&c, a->seed, &cc)) != SMX_OK) return cli_fail(s);
      for (int vi = 0; vi < smx_variant_count(op); vi++) {
        const smx_variant *v = smx_variant_at(op, vi);
        if (v->baseline) continue;
        if (a->variant && strcmp(a->variant, v->name) != 0) continue;
        if (a->device && v->device != dev) continue;
        smx_check_outcome o;
        if ((s = smx_check_variant(cc, v, &o)) != SMX_OK) {
          smx_check_case_free(cc);
          return cli_fail(s);
        }
        char fr[16], br[16];
        fmt_ratio(worst_ratio(&o, SMX_FWD), fr, sizeof fr);
        fmt_ratio(worst_ratio(&o, SMX_BWD), br, sizeof br);
        if (o.verdict != SMX_SKIP || a->verbose)
          printf("%-8s %-16s %-28s %9s %9s  %s%s%s\n", op->name, v->name, shape, fr, br, smx_verdict_name(o.verdict),
                 o.reason[0] ? ": " : "", o.reason);
        if (a->verbose)
          for (int r = 0; r < o.n_rows; r++)
            printf("    %s %-3s err %.3e  naive %.3e  max|ref| %.3e  floor scale %.3e  bound %.3e\n",
                   smx_pass_name(o.rows[r].pass), o.rows[r].tensor, o.rows[r].err, o.rows[r].err_naive,
                   o.rows[r].ref_max, o.rows[r].scale, o.rows[r].bound);
        passed += o.verdict == SMX_PASS;
        failed += o.verdict == SMX_FAIL;
        skipped += o.verdict == SMX_SKIP;
        json_array_append_new(results, outcome_json(op, v, shape, &o));
      }
      smx_check_case_free(cc);
      int want_fd = !a->no_fd && (!a->variant || strcmp(a->variant, "reference") == 0) &&
                    (!a->device || dev == SMX_DEV_CPU) &&
                    (!op->reference_cost || op->reference_cost(&c, SMX_BWD) <= FD_MAX_COST);
      if (want_fd) {
        double rel = 0;
        char detail[256];
        s = smx_check_fd(&c, a->seed, &rel, detail, sizeof detail);
        if (s == SMX_ERR_UNSUPPORTED) { /* a selection a perturbation would move: said, not counted */
          if (a->verbose)
            printf("%-8s %-16s %-28s finite differences: skipped (%s)\n", op->name, "reference", shape, detail);
          json_array_append_new(fds, json_pack("{s:s, s:s, s:s, s:s}", "op", op->name, "shape", shape, "status",
                                               "skipped", "detail", detail));
          fd_skipped++;
          continue;
        }
        if (s != SMX_OK) return cli_fail(s);
        int ok = rel <= FD_TOLERANCE;
        fd_failed += !ok;
        if (!ok || a->verbose)
          printf("%-8s %-16s %-28s finite differences: worst relative error %.2e (%s) %s\n", op->name, "reference",
                 shape, rel, detail, ok ? "pass" : "FAIL");
        json_array_append_new(fds, json_pack("{s:s, s:s, s:s, s:f, s:f, s:s, s:b}", "op", op->name, "shape", shape,
                                             "status", "checked", "worst_rel", rel, "tolerance", FD_TOLERANCE, "detail", detail, "passed",
                                             ok));
      }
    }
  }
  size_t n_fd = json_array_size(fds) - (size_t)fd_skipped;
  printf("check: %d passed, %d failed, %d skipped; reference backward vs finite differences: %zu shapes, %d failed",
         passed, failed, skipped, n_fd, fd_failed);
  if (fd_skipped) printf(", %d not applicable", fd_skipped);
  printf("\n");
  if (skipped && !a->verbose) printf("(skipped variants and their reasons: seqmix check --verbose, or seqmix list)\n");
  int code = (failed || fd_failed) ? SMX_EXIT_FAIL : SMX_EXIT_OK;
  if (a->out) {
    smx_hardware hw;
    if ((s = smx_hardware_probe(&hw)) != SMX_OK) return cli_fail(s);
    json_t *doc = smx_json_new_doc("check");
    json_object_set_new(doc, "run_id", json_string(a->run_id ? a->run_id : ""));
    json_object_set_new(doc, "seed", json_integer((json_int_t)a->seed));
    json_object_set_new(doc, "hardware", smx_hardware_to_json(&hw));
    json_object_set_new(doc, "summary", json_pack("{s:i, s:i, s:i, s:i, s:i}", "passed", passed, "failed", failed,
                                                  "skipped", skipped, "fd_shapes", (int)n_fd, "fd_failed", fd_failed));
    json_object_set_new(doc, "results", results);
    json_object_set_new(doc, "finite_differences", fds);
    s = smx_json_write_atomic(a->out, doc);
    json_decref(doc);
    if (s != SMX_OK) return cli_fail(s);
  } else {
    json_decref(results);
    json_decref(fds);
  }
  return code;
}

int cmd_check(int argc, char **argv) {
  check_args a = {0};
  const char *seed = NULL;
  int help = 0;
  const cli_opt opts[] = {
      {"op", "NAME", "only this op", &a.op, NULL},
      {"variant", "NAME", "only this variant", &a.variant, NULL},
      {"device", "cpu|cuda", "only the variants of this device", &a.device, NULL},
      {"shape", "SPEC", "one shape, e.g. B=2,H=3,L=1031 (needs --op); default: the op's check shapes", &a.shape, NULL},
      {"seed", "N", "Philox seed for the inputs (default 1)", &seed, NULL},
      {"out", "FILE", "also write the results as JSON (written atomically)", &a.out, NULL},
      {"no-fd", NULL, "skip the finite-difference check of the reference backward", NULL, &a.no_fd},
      {"verbose", NULL, "print every tensor's error, bound, and skipped variants", NULL, &a.verbose},
      {0}};
  if (cli_parse("check", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("check", "[--op NAME] [--variant NAME] [--device cpu|cuda] [--shape SPEC] [--seed N] [--out FILE]",
              "Checks every variant against the fp64 reference, forward and backward:\n"
              "  err(variant) <= k * err(naive fp32) + c * FLT_EPSILON * max|ref|   per output tensor,\n"
              "plus NaN/Inf, canaries around every tensor, unchanged inputs and (CPU) bitwise repeatability.\n"
              "Variants that cannot run here are skipped with the reason. Exit 1 when any check fails.", opts);
    return 0;
  }
  a.seed = 1;
  if (seed) {
    long v;
    if (cli_int("seed", seed, 0, 0x7fffffffL, &v)) return SMX_EXIT_USAGE;
    a.seed = (unsigned long long)v;
  }
  return run_check(&a);
}
