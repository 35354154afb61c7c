/* seqmix sweep run / presets: train every run of a sweep spec that its results file does not hold
 * yet, appending one JSON line per finished run (include/seqmix/sweep.h, results_store.h).
 *
 *   seqmix sweep presets
 *   seqmix sweep run --preset quick --out results/sweeps/quick.jsonl [--shard 0/2] [--threads N]
 *   seqmix sweep run --spec my_sweep.json --out my_sweep.jsonl --dry-run
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "seqmix/hardware.h"
#include "seqmix/results_store.h"
#include "seqmix/sweep.h"
#include "seqmix/timer.h"

const char *smx_build_revision(void);

int sweep_presets(int argc, char **argv) {
  (void)argc, (void)argv;
  for (int i = 0; i < smx_sweep_preset_count(); i++) {
    json_t *spec = NULL, *runs = NULL;
    size_t n = 0;
    if (smx_sweep_preset(smx_sweep_preset_name(i), &spec) == SMX_OK && smx_sweep_expand(spec, &runs) == SMX_OK)
      n = json_array_size(runs);
    printf("%-14s %5zu runs  %s\n", smx_sweep_preset_name(i), n, smx_sweep_preset_summary(i));
    json_decref(spec);
    json_decref(runs);
  }
  return 0;
}

int sweep_run(int argc, char **argv) {
  const char *preset = NULL, *spec_path = NULL, *out = NULL, *shard_s = NULL, *threads_s = "0";
  int help = 0, dry = 0;
  const cli_opt opts[] = {
      {"preset", "NAME", "a built-in sweep (seqmix sweep presets)", &preset, NULL},
      {"spec", "FILE", "a sweep spec in JSON (include/seqmix/sweep.h gives the format)", &spec_path, NULL},
      {"out", "FILE", "the results file: one JSON line per finished run, appended (required)", &out, NULL},
      {"shard", "I/N", "only the runs whose key is I modulo N (I from 0): one machine's share", &shard_s, NULL},
      {"threads", "N", "OpenMP threads per run (default 0: all)", &threads_s, NULL},
      {"dry-run", NULL, "list the runs to do and exit", NULL, &dry},
      {0}};
  if (cli_parse("sweep run", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("sweep run", "(--preset NAME | --spec FILE) --out FILE [--shard I/N] [--threads N] [--dry-run]",
              "Expands the sweep into its runs and trains, in grid order, every run the results file does\n"
              "not hold yet; each finished run is appended as one JSON line (config, metrics, and in\n"
              "\"meta\" the wall time, tokens/s, threads, hardware id and git revision). Rerunning resumes.\n"
              "Progress on stderr: run i of n, then per epoch loss, test accuracy and ETA.", opts);
    return 0;
  }
  if (!!preset == !!spec_path) return cli_error("seqmix sweep run: give one of --preset NAME or --spec FILE");
  if (!out) return cli_error("seqmix sweep run: --out FILE is required");
  long threads;
  if (cli_int("threads", threads_s, 0, 1024, &threads)) return SMX_EXIT_USAGE;
  int si = 0, sn = 1;
  smx_status s;
  if (shard_s && (s = smx_shard_parse(shard_s, &si, &sn)) != SMX_OK) return cli_fail(s);
  json_t *spec = NULL, *runs = NULL;
  if (preset) {
    if ((s = smx_sweep_preset(preset, &spec)) != SMX_OK) return cli_fail(s);
  } else {
    json_error_t err;
    spec = json_load_file(spec_path, 0, &err);
    if (!spec) return cli_error("seqmix sweep run: %s: %s (line %d)", spec_path, err.text, err.line);
  }
  s = smx_sweep_expand(spec, &runs);
  json_decref(spec);
  if (s != SMX_OK) return cli_fail(s);
  smx_results done = {0};
  if ((s = smx_results_load(&done, out, 1, stderr)) != SMX_OK) {
    json_decref(runs);
    return cli_fail(s);
  }
  /* the runs this invocation owns and has not finished */
  size_t n = json_array_size(runs), todo = 0, finished = 0, others = 0;
  char *mine = calloc(n ? n : 1, 1);
  for (size_t i = 0; i < n; i++) {
    json_t *run = json_array_get(runs, i);
    char key[SMX_RUN_KEY_LEN + 1];
    if ((s = smx_run_key(run, key)) != SMX_OK) break;
    if (!smx_shard_owns(key, si, sn)) others++;
    else if (smx_results_find(&done, run)) finished++;
    else mine[i] = 1, todo++;
  }
  smx_results_free(&done);
  if (s != SMX_OK) {
    free(mine);
    json_decref(runs);
    return cli_fail(s);
  }
  fprintf(stderr, "seqmix sweep run: %zu runs: %zu finished in %s, %zu in other shards, %zu to do\n", n, finished, out,
          others, todo);
  smx_hardware hw;
  if (!dry && (s = smx_hardware_probe(&hw)) != SMX_OK) {
    free(mine);
    json_decref(runs);
    return cli_fail(s);
  }
  size_t k = 0;
  int rc = 0;
  double t0 = smx_now();
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (!mine[i]) continue;
    json_t *run = json_array_get(runs, i);
    char *text = json_dumps(run, JSON_COMPACT | JSON_SORT_KEYS);
    k++;
    if (dry) {
      printf("%s\n", text ? text : "?");
      free(text);
      continue;
    }
    double elapsed = smx_now() - t0;
    fprintf(stderr, "run %zu of %zu: %s\n", k, todo, text ? text : "?");
    if (k > 1) fprintf(stderr, "  (%.0f s so far, ETA %.0f s)\n", elapsed, elapsed / (double)(k - 1) * (double)(todo - k + 1));
    free(text);
    smx_train_config c;
    static smx_train_result r;
    if ((s = smx_sweep_train_config(run, &c)) == SMX_OK) {
      c.threads = (int)threads, c.progress = stderr;
      s = smx_train(&c, &r);
    }
    if (s != SMX_OK) {
      rc = cli_fail(s);
      break;
    }
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *result = smx_train_metrics_json(&r);
    json_t *meta = json_pack("{s:f, s:f, s:f, s:f, s:I, s:s, s:s, s:s}", "wall_s", r.wall_s, "train_s", r.train_s,
                             "tokens_per_s", r.tokens_per_s, "time_to_target_s", r.time_to_target_s, "threads",
                             (json_int_t)(threads ? threads : hw.threads_used), "hardware_id", hw.hardware_id,
                             "revision", smx_build_revision(), "finished", when);
    s = result && meta ? smx_results_append(out, run, result, meta, NULL)
                       : smx_fail(SMX_ERR_NOMEM, "cannot format the result of run %zu", k);
    json_decref(result);
    json_decref(meta);
    if (s != SMX_OK) rc = cli_fail(s);
    else fprintf(stderr, "  test accuracy %.4f (best %.4f) after %lld epochs, %.1f s\n", r.test_acc, r.best_acc,
                 (long long)r.epochs_run, r.wall_s);
  }
  free(mine);
  json_decref(runs);
  if (!rc && !dry) fprintf(stderr, "seqmix sweep run: %zu runs done; results in %s\n", k, out);
  return rc;
}
