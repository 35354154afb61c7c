/* seqmix gate: a run against a baseline. Exit 0 pass, 1 regression, 2 bad input.
 *
 *   seqmix gate --baseline results/baselines/<hardware-id>/ci --current build/gate-run
 *   seqmix gate --baseline results/baselines/<hardware-id>/ci --current <run> --update-baseline
 *   seqmix gate --baseline results/baselines/<hardware-id>/ci --current <run> --confirm <second run>
 *
 * Timing, per benchmark present in both runs: the samples are the repetitions' times, or in
 * ratio mode (both runs made with `seqmix bench --ratio`) the repetitions' ratios to the
 * yardstick timed alternately in the same run. Verdict, with change = median(current) /
 * median(baseline) - 1, p the two-sided Mann–Whitney U p-value and m the minimum change (the
 * baseline suite's own, recorded in its bench.json, unless --min-change is given):
 *
 *   regressed  p < alpha and change > +m        improved   p < alpha and change < -m
 *   ambiguous  |change| > m but p >= alpha, or fewer than 9 repetitions on either side
 *   pass       otherwise (no significant change, or one smaller than m)
 *   missing    measured in the baseline, not in the current run (skipped: the reason is shown)
 *   new        measured only in the current run
 *   unconfirmed  regressed in the current run but not in the --confirm run (not a failure)
 *
 * --confirm names a second run of the same code, made after the first (ci/gate.sh makes one of the
 * ops that regressed): a timing regression counts only when the same benchmark regressed again
 * there. On the shared CI VMs a neighbour can slow one benchmark's nine repetitions alike (conba
 * cpu.scan fwd at L = 256: +52% at p = 0.01 with the code unchanged); a real slowdown shows in
 * both runs. A benchmark absent from the confirm run stays regressed.
 *
 * Correctness: a benchmark that errored in the current run, and every variant that failed its
 * check (check.json beside the current bench.json) is a regression. Runs from different hardware
 * ids are refused unless --cross-hardware is given: their times do not compare. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "results.h"
#include "seqmix/json_io.h"
#include "seqmix/stats.h"

#define MIN_REPETITIONS 9

typedef enum { V_PASS, V_REGRESSED, V_IMPROVED, V_AMBIGUOUS, V_MISSING, V_NEW, V_UNCONFIRMED, V_COUNT } verdict;
static const char *const verdict_names[V_COUNT] = {"pass",    "regressed", "improved",   "ambiguous",
                                                   "missing", "new",       "unconfirmed"};


static json_t *find_entry(json_t *bench, const char *name) {
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(bench, "benchmarks"), i, e) {
    if (!strcmp(S(e, "name"), name)) return e;
  }
  return NULL;
}

/* The samples of an entry: its ratios in ratio mode, else its times. */
static size_t samples(json_t *e, int ratio, double *out, size_t cap) {
  json_t *arr = json_object_get(e, ratio ? "ratios" : "times_s");
  size_t n = 0, i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if (json_is_number(v) && n < cap) out[n++] = json_number_value(v);
  }
  return n;
}

static int is_ok(json_t *e) { return e && !strcmp(S(e, "status"), "ok"); }

static void add_row(json_t *rows, int *counts, verdict v, const char *name, double base, double cur, double change,
                    double p, int nb, int nc, const char *why) {
  counts[v]++;
  json_array_append_new(rows, json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:i, s:i, s:s}", "verdict", verdict_names[v],
                                        "name", name, "baseline", base, "current", cur, "change", change, "p_value", p,
                                        "n_baseline", nb, "n_current", nc, "reason", why ? why : ""));
  char bs[24] = "-", cs[24] = "-", ch[16] = "-", ps[16] = "-";
  if (isfinite(base)) snprintf(bs, sizeof bs, "%.4g", base);
  if (isfinite(cur)) snprintf(cs, sizeof cs, "%.4g", cur);
  if (isfinite(change)) snprintf(ch, sizeof ch, "%+.1f%%", 100 * change);
  if (isfinite(p)) snprintf(ps, sizeof ps, "%.3g", p);
  printf("%-11s %-58s %10s %10s %8s %8s %2d/%-2d %s\n", verdict_names[v], name, bs, cs, ch, ps, nb, nc, why ? why : "");
}

static int update_baseline(const char *baseline, const char *current) {
  json_t *bench = NULL, *check = NULL;
  smx_status s = load_bench(current, &bench);
  if (s != SMX_OK) return cli_fail(s);
  struct stat st;
  int is_dir = stat(current, &st) == 0 && S_ISDIR(st.st_mode);
  char cpath[4200];
  snprintf(cpath, sizeof cpath, "%s/check.json", current);
  if (is_dir && smx_file_exists(cpath) && (s = load_check(current, &check)) != SMX_OK) {
    json_decref(bench);
    return cli_fail(s);
  }
  /* the baseline is a directory like a run's: bench.json (+ check.json) */
  char path[4200];
  if ((s = smx_mkdir_p(baseline)) == SMX_OK) {
    snprintf(path, sizeof path, "%s/bench.json", baseline);
    s = smx_json_write_atomic(path, bench);
  }
  if (s == SMX_OK && check) {
    snprintf(path, sizeof path, "%s/check.json", baseline);
    s = smx_json_write_atomic(path, check);
  }
  json_decref(bench);
  json_decref(check);
  if (s != SMX_OK) return cli_fail(s);
  printf("gate: baseline %s updated from %s\n", baseline, current);
  return 0;
}

int cmd_gate(int argc, char **argv) {
  const char *baseline = NULL, *current = NULL, *confirm = NULL, *min_change_s = NULL, *alpha_s = NULL, *mode_s = "auto", *out = NULL;
  int cross = 0, update = 0, help = 0;
  const cli_opt opts[] = {
      {"baseline", "PATH", "the baseline: a run directory or its bench.json (e.g. results/baselines/<hw-id>/ci)",
       &baseline, NULL},
      {"current", "PATH", "the run to judge: a run directory (with check.json, if any) or its bench.json", &current,
       NULL},
      {"confirm", "PATH", "a second run of the same code: a timing regression counts only if it regressed there too",
       &confirm, NULL},
      {"min-change", "F", "smallest relative change that counts (default: the baseline suite's, ci 0.40, quick 0.10, "
                          "paper 0.05)", &min_change_s, NULL},
      {"alpha", "P", "significance level of the Mann-Whitney U test (default 0.05)", &alpha_s, NULL},
      {"mode", "M", "auto (ratio when both runs have ratios), time or ratio", &mode_s, NULL},
      {"cross-hardware", NULL, "compare runs from different hardware ids anyway", NULL, &cross},
      {"out", "FILE", "where the verdicts go as JSON (default: gate.json beside the current bench.json)", &out, NULL},
      {"update-baseline", NULL, "make the current run the baseline (written atomically) instead of judging it", NULL,
       &update},
      {0}};
  if (cli_parse("gate", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("gate", "--baseline PATH --current PATH [--confirm PATH] [--min-change F] [--alpha P] [--mode auto|time|ratio]",
              "Judges a run against a baseline: per benchmark a Mann-Whitney U test over the repetitions (>= 9)\n"
              "and a minimum relative change; verdicts pass / regressed / improved / ambiguous / missing / new\n"
              "(/ unconfirmed: regressed, but not again in the --confirm run).\n"
              "Failed checks and benchmarks that errored are regressions. Exit 0 pass, 1 regression, 2 bad input.",
              opts);
    return 0;
  }
  if (!baseline || !current) return cli_error("seqmix gate: --baseline PATH and --current PATH are required");
  if (update) return update_baseline(baseline, current);
  double min_change = -1, alpha = 0.05;
  if (min_change_s && cli_double("min-change", min_change_s, 0, 10, &min_change)) return SMX_EXIT_USAGE;
  if (alpha_s && cli_double("alpha", alpha_s, 1e-6, 0.5, &alpha)) return SMX_EXIT_USAGE;
  if (strcmp(mode_s, "auto") && strcmp(mode_s, "time") && strcmp(mode_s, "ratio"))
    return cli_error("--mode %s: accepted: auto, time, ratio", mode_s);

  json_t *base = NULL, *cur = NULL, *check = NULL;
  smx_status s = load_bench(baseline, &base);
  if (s != SMX_OK) return cli_fail(s);
  if ((s = load_bench(current, &cur)) != SMX_OK) {
    json_decref(base);
    return cli_fail(s);
  }
  struct stat st;
  char cpath[4200];
  snprintf(cpath, sizeof cpath, "%s/check.json", current);
  if (stat(current, &st) == 0 && S_ISDIR(st.st_mode) && smx_file_exists(cpath) &&
      (s = load_check(current, &check)) != SMX_OK) {
    json_decref(base);
    json_decref(cur);
    return cli_fail(s);
  }
  json_t *conf = NULL;
  if (confirm && (s = load_bench(confirm, &conf)) != SMX_OK) {
    json_decref(base);
    json_decref(cur);
    json_decref(check);
    return cli_fail(s);
  }
  int rc = 0;
  const char *hb = S(json_object_get(base, "hardware"), "hardware_id"), *hc = S(json_object_get(cur, "hardware"), "hardware_id");
  int ratio = !strcmp(S(base, "mode"), "ratio") && !strcmp(S(cur, "mode"), "ratio");
  if (strcmp(hb, hc) != 0 && !cross) {
    rc = cli_error("seqmix gate: the baseline is from hardware '%s', the current run from '%s'; their times do not "
                   "compare (pass --cross-hardware to compare anyway)", hb, hc);
  } else if (!strcmp(mode_s, "ratio") && !ratio) {
    rc = cli_error("seqmix gate: --mode ratio needs both runs made with `seqmix bench --ratio` (baseline mode '%s', "
                   "current mode '%s')", S(base, "mode"), S(cur, "mode"));
  }
  if (!rc && conf && strcmp(S(json_object_get(conf, "hardware"), "hardware_id"), hc) != 0) {
    rc = cli_error("seqmix gate: the --confirm run is from hardware '%s', the current run from '%s'",
                   S(json_object_get(conf, "hardware"), "hardware_id"), hc);
  } else if (!rc && conf && ratio && strcmp(S(conf, "mode"), "ratio") != 0) {
    rc = cli_error("seqmix gate: the --confirm run was not made with `seqmix bench --ratio` (mode '%s') and the "
                   "runs it confirms were", S(conf, "mode"));
  }
  if (!strcmp(mode_s, "time")) ratio = 0;
  if (min_change < 0) { /* the suite's own threshold, recorded in the baseline */
    json_t *m = json_object_get(base, "gate_min_change");
    min_change = json_is_number(m) ? json_number_value(m) : 0.05;
  }
  /* names must overlap, or this is the wrong baseline */
  int common = 0;
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(cur, "benchmarks"), i, e) {
    if (find_entry(base, S(e, "name"))) common++;
  }
  if (!rc && common == 0)
    rc = cli_error("seqmix gate: no benchmark name is in both runs (baseline suite '%s', current suite '%s'): wrong "
                   "baseline?", S(base, "suite"), S(cur, "suite"));
  if (rc) {
    json_decref(base);
    json_decref(cur);
    json_decref(check);
    json_decref(conf);
    return rc;
  }

  printf("gate: %s mode, alpha %g, minimum change %.1f%%; baseline %s (%s), current %s (%s)\n",
         ratio ? "ratio" : "time", alpha, 100 * min_change, baseline, hb, current, hc);
  printf("%-11s %-58s %10s %10s %8s %8s %5s %s\n", "verdict", "benchmark", ratio ? "base ratio" : "base s",
         ratio ? "cur ratio" : "cur s", "change", "p", "n", "");
  json_t *rows = json_array();
  int counts[V_COUNT] = {0};
  double xb[1024], xc[1024];
  json_array_foreach(json_object_get(base, "benchmarks"), i, e) {
    if (!is_ok(e)) continue;
    const char *name = S(e, "name");
    json_t *c = find_entry(cur, name);
    if (!c || !strcmp(S(c, "status"), "skipped")) {
      add_row(rows, counts, V_MISSING, name, NAN, NAN, NAN, NAN, 0, 0, c ? S(c, "reason") : "not in the current run");
      continue;
    }
    if (!is_ok(c)) {
      add_row(rows, counts, V_REGRESSED, name, NAN, NAN, NAN, NAN, 0, 0, S(c, "reason"));
      continue;
    }
    size_t nb = samples(e, ratio, xb, 1024), nc = samples(c, ratio, xc, 1024);
    double mb = smx_median(xb, nb), mc = smx_median(xc, nc), change = mc / mb - 1;
    if (nb < MIN_REPETITIONS || nc < MIN_REPETITIONS) {
      char why[96];
      snprintf(why, sizeof why, "too few repetitions (need %d)", MIN_REPETITIONS);
      add_row(rows, counts, V_AMBIGUOUS, name, mb, mc, change, NAN, (int)nb, (int)nc, why);
      continue;
    }
    smx_mwu t;
    smx_mann_whitney_u(xc, nc, xb, nb, &t);
    verdict v = V_PASS;
    const char *why = NULL;
    char confirm_why[128];
    if (t.p_value < alpha && change > min_change) {
      v = V_REGRESSED;
      if (conf) { /* the second run decides whether this was the code or a neighbour */
        json_t *c2 = find_entry(conf, name);
        size_t n2 = is_ok(c2) ? samples(c2, ratio, xc, 1024) : 0;
        if (n2 >= MIN_REPETITIONS) {
          smx_mwu t2;
          smx_mann_whitney_u(xc, n2, xb, nb, &t2);
          double change2 = smx_median(xc, n2) / mb - 1;
          int again = t2.p_value < alpha && change2 > min_change;
          snprintf(confirm_why, sizeof confirm_why, "%s: %+.1f%% (p %.3g) in the second run",
                   again ? "confirmed" : "not confirmed", 100 * change2, t2.p_value);
          why = confirm_why;
          if (!again) v = V_UNCONFIRMED;
        } else {
          why = "not in the second run (or too few repetitions there): stands";
        }
      }
    } else if (t.p_value < alpha && change < -min_change) v = V_IMPROVED;
    else if (fabs(change) > min_change) {
      v = V_AMBIGUOUS;
      why = "a large change, but not significant";
    }
    add_row(rows, counts, v, name, mb, mc, change, t.p_value, (int)nb, (int)nc, why);
  }
  json_array_foreach(json_object_get(cur, "benchmarks"), i, e) {
    json_t *b = find_entry(base, S(e, "name"));
    if (!is_ok(b) && is_ok(e)) add_row(rows, counts, V_NEW, S(e, "name"), NAN, NAN, NAN, NAN, 0, 0, NULL);
    else if (!b && !is_ok(e) && strcmp(S(e, "status"), "skipped"))
      add_row(rows, counts, V_REGRESSED, S(e, "name"), NAN, NAN, NAN, NAN, 0, 0, S(e, "reason"));
  }
  int check_failures = 0;
  if (check) {
    json_array_foreach(json_object_get(check, "results"), i, e) {
      if (strcmp(S(e, "verdict"), "FAIL")) continue;
      char name[256], why[400];
      snprintf(name, sizeof name, "check %s/%s %s", S(e, "op"), S(e, "variant"), S(e, "shape"));
      snprintf(why, sizeof why, "check failed: %s", S(e, "reason"));
      add_row(rows, counts, V_REGRESSED, name, NAN, NAN, NAN, NAN, 0, 0, why);
      check_failures++;
    }
    if (json_integer_value(json_object_get(json_object_get(check, "summary"), "fd_failed")) > 0) {
      add_row(rows, counts, V_REGRESSED, "check: reference backward vs finite differences", NAN, NAN, NAN, NAN, 0, 0,
              "finite-difference check failed");
      check_failures++;
    }
  }
  int regression = counts[V_REGRESSED] > 0;
  char unconfirmed[48] = "";
  if (conf) snprintf(unconfirmed, sizeof unconfirmed, ", %d unconfirmed", counts[V_UNCONFIRMED]);
  printf("gate: %d pass, %d regressed, %d improved, %d ambiguous, %d missing, %d new%s -> %s\n", counts[V_PASS],
         counts[V_REGRESSED], counts[V_IMPROVED], counts[V_AMBIGUOUS], counts[V_MISSING], counts[V_NEW], unconfirmed,
         regression ? "REGRESSION" : "pass");

  json_t *doc = smx_json_new_doc("gate");
  json_object_set_new(doc, "mode", json_string(ratio ? "ratio" : "time"));
  json_object_set_new(doc, "alpha", json_real(alpha));
  json_object_set_new(doc, "min_change", json_real(min_change));
  json_object_set_new(doc, "min_repetitions", json_integer(MIN_REPETITIONS));
  json_object_set_new(doc, "baseline", json_pack("{s:s, s:s, s:s}", "path", baseline, "hardware_id", hb, "run_id",
                                                 S(base, "run_id")));
  json_object_set_new(doc, "current", json_pack("{s:s, s:s, s:s}", "path", current, "hardware_id", hc, "run_id",
                                                S(cur, "run_id")));
  if (conf)
    json_object_set_new(doc, "confirm", json_pack("{s:s, s:s}", "path", confirm, "run_id", S(conf, "run_id")));
  json_t *summary = json_object();
  for (int v = 0; v < V_COUNT; v++) json_object_set_new(summary, verdict_names[v], json_integer(counts[v]));
  json_object_set_new(summary, "check_failures", json_integer(check_failures));
  json_object_set_new(doc, "summary", summary);
  json_object_set_new(doc, "verdict", json_string(regression ? "regression" : "pass"));
  json_object_set_new(doc, "rows", rows);
  char opath[4200];
  if (!out) {
    if (stat(current, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(opath, sizeof opath, "%s/gate.json", current);
    else {
      snprintf(opath, sizeof opath, "%s", current);
      char *slash = strrchr(opath, '/');
      if (slash) snprintf(slash + 1, sizeof opath - (size_t)(slash + 1 - opath), "gate.json");
      else snprintf(opath, sizeof opath, "gate.json");
    }
    out = opath;
  }
  s = smx_json_write_atomic(out, doc);
  json_decref(doc);
  json_decref(base);
  json_decref(cur);
  json_decref(check);
  json_decref(conf);
  if (s != SMX_OK) return cli_fail(s);
  return regression ? SMX_EXIT_FAIL : SMX_EXIT_OK;
}
