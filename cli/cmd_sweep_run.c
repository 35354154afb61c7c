/* seqmix sweep run / presets: train every run of a sweep spec that its results file does not hold
 * yet, appending one JSON line per finished run (include/seqmix/sweep.h, results_store.h).
 *
 *   seqmix sweep presets
 *   seqmix sweep run --preset quick --out results/sweeps/quick.jsonl [--shard 0/2] [--threads N]
 *   seqmix sweep run --preset quick --out q.jsonl --jobs 2     # two worker processes, 1 thread each
 *   seqmix sweep run --spec my_sweep.json --out my_sweep.jsonl --dry-run
 *   seqmix sweep run --preset paper-wm --out wm_gpu.jsonl --device cuda
 *
 * --device cuda trains on the GPU (the mixers with a CUDA path: seqmix task mixers); the device is
 * recorded in each line's "meta", not in the run's key, so a sweep on another device goes to
 * another results file.
 * --jobs N runs N worker processes side by side (the small task models use one core far better
 * than two: a 2-layer d = 64 attention model trains at the same tokens/s on 1 or 2 threads). The
 * workers are this binary re-executed with --job J/N: each takes every N-th run still to do and
 * appends to OUT.jobJ (one writer per file); when they finish, the parent merges the job files into
 * OUT and deletes them. Job files left by an interrupted sweep are merged before the next start,
 * so nothing is lost or run twice. Processes rather than fork(): a forked child of a process that
 * has run an OpenMP region cannot use OpenMP again (libgomp's pool does not survive fork).
 */
#define _GNU_SOURCE /* fopencookie: the workers' tagged progress stream */
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "seqmix/hardware.h"
#include "seqmix/results_store.h"
#include "seqmix/sweep.h"
#include "seqmix/timer.h"

const char *smx_build_revision(void);
extern char **environ;

#define MAX_JOBS 64

/* A worker's progress stream: every line goes to stderr behind the worker's tag, in one write(2)
 * (atomic on a pipe up to PIPE_BUF), so the workers' epoch lines stay whole and say whose they are. */
typedef struct tagged_stream {
  const char *tag;
  int at_line_start;
} tagged_stream;

static ssize_t tagged_write(void *cookie, const char *buf, size_t n) {
  tagged_stream *t = cookie;
  char line[4096];
  size_t i = 0;
  while (i < n) {
    size_t len = 0, end = i;
    while (end < n && buf[end] != '\n') end++;
    if (end < n) end++; /* the newline goes with its line */
    if (t->at_line_start) len = (size_t)snprintf(line, sizeof line, "%s", t->tag);
    size_t take = end - i < sizeof line - len ? end - i : sizeof line - len;
    memcpy(line + len, buf + i, take);
    len += take;
    if (write(STDERR_FILENO, line, len) < 0) return -1;
    t->at_line_start = line[len - 1] == '\n';
    i += take;
  }
  return (ssize_t)n;
}

static FILE *tagged_stderr(tagged_stream *t) {
  FILE *f = fopencookie(t, "w", (cookie_io_functions_t){.write = tagged_write});
  if (f) setvbuf(f, NULL, _IOLBF, 0);
  return f;
}

/* Merges every OUT.job* file into OUT and deletes it: what workers left, finished or interrupted. */
static int merge_job_files(const char *out) {
  char pattern[4200];
  snprintf(pattern, sizeof pattern, "%s.job[0-9]*", out);
  glob_t g;
  if (glob(pattern, 0, NULL, &g) != 0) return 0; /* none */
  size_t runs = 0, dups = 0, conflicts = 0;
  smx_status s = smx_results_merge(out, (const char *const *)g.gl_pathv, (int)g.gl_pathc, stderr, &runs, &dups, &conflicts);
  int rc = 0;
  if (s != SMX_OK) rc = cli_fail(s);
  else if (conflicts) rc = cli_error("seqmix sweep run: %zu runs in %s.job* conflict with %s (kept the first)", conflicts, out, out);
  else
    for (size_t i = 0; i < g.gl_pathc; i++) unlink(g.gl_pathv[i]);
  globfree(&g);
  return rc;
}

/* Runs `jobs` workers (this binary with --job J/N) and waits for all; returns the first failure. */
static int run_workers(const char *preset, const char *spec_path, const char *out, const char *shard_s, long threads,
                       int jobs) {
  pid_t pids[MAX_JOBS];
  char job[32], thr[32];
  snprintf(thr, sizeof thr, "%ld", threads);
  int started = 0, rc = 0;
  for (int j = 0; j < jobs; j++) {
    snprintf(job, sizeof job, "%d/%d", j, jobs);
    char *av[16];
    int n = 0;
    av[n++] = "seqmix", av[n++] = "sweep", av[n++] = "run";
    av[n++] = preset ? "--preset" : "--spec", av[n++] = (char *)(preset ? preset : spec_path);
    av[n++] = "--out", av[n++] = (char *)out, av[n++] = "--job", av[n++] = job, av[n++] = "--threads", av[n++] = thr;
    if (shard_s) av[n++] = "--shard", av[n++] = (char *)shard_s;
    av[n] = NULL;
    int e = posix_spawn(&pids[j], "/proc/self/exe", NULL, NULL, av, environ);
    if (e) {
      rc = cli_error("seqmix sweep run: cannot start worker %d: %s", j, strerror(e));
      break;
    }
    started++;
  }
  for (int j = 0; j < started; j++) {
    int st = 0;
    while (waitpid(pids[j], &st, 0) < 0 && errno == EINTR) {
    }
    if (!rc && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
      rc = WIFEXITED(st) ? WEXITSTATUS(st) : cli_error("seqmix sweep run: worker %d was killed by signal %d", j, WTERMSIG(st));
  }
  return rc;
}

int sweep_presets(int argc, char **argv) {
  (void)argc, (void)argv;
  int width = 0; /* the longest name, so the columns line up */
  for (int i = 0; i < smx_sweep_preset_count(); i++)
    if ((int)strlen(smx_sweep_preset_name(i)) > width) width = (int)strlen(smx_sweep_preset_name(i));
  for (int i = 0; i < smx_sweep_preset_count(); i++) {
    json_t *spec = NULL, *runs = NULL;
    size_t n = 0;
    if (smx_sweep_preset(smx_sweep_preset_name(i), &spec) == SMX_OK && smx_sweep_expand(spec, &runs) == SMX_OK)
      n = json_array_size(runs);
    printf("%-*s %5zu runs  %s\n", width, smx_sweep_preset_name(i), n, smx_sweep_preset_summary(i));
    json_decref(spec);
    json_decref(runs);
  }
  return 0;
}

int sweep_run(int argc, char **argv) {
  const char *preset = NULL, *spec_path = NULL, *out = NULL, *shard_s = NULL, *threads_s = NULL, *jobs_s = "1",
             *job_s = NULL, *device_s = "cpu";
  int help = 0, dry = 0;
  const cli_opt opts[] = {
      {"preset", "NAME", "a built-in sweep (seqmix sweep presets)", &preset, NULL},
      {"spec", "FILE", "a sweep spec in JSON (include/seqmix/sweep.h gives the format)", &spec_path, NULL},
      {"out", "FILE", "the results file: one JSON line per finished run, appended (required)", &out, NULL},
      {"shard", "I/N", "only the runs whose key is I modulo N (I from 0): one machine's share", &shard_s, NULL},
      {"threads", "N", "OpenMP threads per run (default 0: all; 1 with --jobs above 1)", &threads_s, NULL},
      {"jobs", "N", "worker processes side by side, each with its share of the runs (default 1)", &jobs_s, NULL},
      {"job", "J/N", "internal: be worker J of N (appends to OUT.jobJ)", &job_s, NULL},
      {"device", "D", "cpu (default) or cuda: where the models train", &device_s, NULL},
      {"dry-run", NULL, "list the runs to do and exit", NULL, &dry},
      {0}};
  if (cli_parse("sweep run", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("sweep run", "(--preset NAME | --spec FILE) --out FILE [--shard I/N] [--jobs N] [--threads N] [--device D] [--dry-run]",
              "Expands the sweep into its runs and trains, in grid order, every run the results file does\n"
              "not hold yet; each finished run is appended as one JSON line (config, metrics, and in\n"
              "\"meta\" the wall time, tokens/s, threads, hardware id and git revision). Rerunning resumes.\n"
              "Progress on stderr: run i of n, then per epoch loss, test accuracy and ETA (with --jobs,\n"
              "each line behind its worker's [job J/N] tag).",
              opts);
    return 0;
  }
  if (!!preset == !!spec_path) return cli_error("seqmix sweep run: give one of --preset NAME or --spec FILE");
  if (!out) return cli_error("seqmix sweep run: --out FILE is required");
  long threads, jobs;
  if (cli_int("jobs", jobs_s, 1, MAX_JOBS, &jobs)) return SMX_EXIT_USAGE;
  if (cli_int("threads", threads_s ? threads_s : (jobs > 1 ? "1" : "0"), 0, 1024, &threads)) return SMX_EXIT_USAGE;
  int si = 0, sn = 1, ji = 0, jn = 1;
  smx_status s;
  if (shard_s && (s = smx_shard_parse(shard_s, &si, &sn)) != SMX_OK) return cli_fail(s);
  if (job_s && (s = smx_shard_parse(job_s, &ji, &jn)) != SMX_OK) return cli_fail(s);
  if (job_s && jobs > 1) return cli_error("seqmix sweep run: --job and --jobs exclude each other");
  /* A worker ends with its parent: killed alone, the parent would leave workers training on, and
   * the next `sweep run` would start a second writer on the same job file. Its finished runs are
   * in OUT.jobJ already and are merged at the next start. */
  if (job_s && prctl(PR_SET_PDEATHSIG, SIGTERM) == 0 && getppid() == 1)
    return cli_error("seqmix sweep run: worker %s: its parent is gone", job_s);
  smx_device device;
  if ((s = smx_device_parse(device_s, &device)) != SMX_OK) return cli_fail(s);
  if (device == SMX_DEV_CUDA && jobs > 1)
    return cli_error("seqmix sweep run: --jobs above 1 would share one GPU; give each GPU its own --shard I/N instead");
  char job_out[4200];
  snprintf(job_out, sizeof job_out, "%s.job%d", out, ji);
  if (!dry && cli_check_writable("seqmix sweep run", out, "--out")) return SMX_EXIT_USAGE;
  /* a new sweep run first takes in what interrupted workers left */
  if (!job_s && !dry) {
    int mrc = merge_job_files(out);
    if (mrc) return mrc;
  }
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
  /* the runs this invocation owns and has not finished; a worker takes every jn-th of them */
  size_t n = json_array_size(runs), todo = 0, finished = 0, others = 0, open = 0;
  char *mine = calloc(n ? n : 1, 1);
  for (size_t i = 0; i < n; i++) {
    json_t *run = json_array_get(runs, i);
    char key[SMX_RUN_KEY_LEN + 1];
    if ((s = smx_run_key(run, key)) != SMX_OK) break;
    if (!smx_shard_owns(key, si, sn)) others++;
    else if (smx_results_find(&done, run)) finished++;
    else if (open++ % (size_t)jn == (size_t)ji) mine[i] = 1, todo++;
  }
  smx_results_free(&done);
  if (s != SMX_OK) {
    free(mine);
    json_decref(runs);
    return cli_fail(s);
  }
  if (!job_s)
    fprintf(stderr, "seqmix sweep run: %zu runs: %zu finished in %s, %zu in other shards, %zu to do%s\n", n, finished,
            out, others, todo, jobs > 1 && !dry ? " (split over the workers)" : "");
  if (jobs > 1 && !dry) {
    free(mine);
    json_decref(runs);
    if (!todo) return 0;
    int rc = run_workers(preset, spec_path, out, shard_s, threads, (int)jobs);
    int mrc = merge_job_files(out);
    if (!rc && !mrc) fprintf(stderr, "seqmix sweep run: %zu runs done by %ld workers; results in %s\n", todo, jobs, out);
    return rc ? rc : mrc;
  }
  char tag[32] = "";
  if (job_s) snprintf(tag, sizeof tag, "[job %d/%d] ", ji, jn);
  smx_hardware hw;
  if (!dry && (s = smx_hardware_probe(&hw)) != SMX_OK) {
    free(mine);
    json_decref(runs);
    return cli_fail(s);
  }
  size_t k = 0;
  int rc = 0;
  double t0 = smx_now();
  tagged_stream ts = {tag, 1};
  FILE *progress = job_s && !dry ? tagged_stderr(&ts) : stderr;
  if (!progress) progress = stderr;
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
    fprintf(stderr, "%srun %zu of %zu: %s\n", tag, k, todo, text ? text : "?");
    if (k > 1)
      fprintf(stderr, "%s  (%.0f s so far, ETA %.0f s)\n", tag, elapsed, elapsed / (double)(k - 1) * (double)(todo - k + 1));
    free(text);
    smx_train_config c;
    static smx_train_result r;
    if ((s = smx_sweep_train_config(run, &c)) == SMX_OK) {
      c.threads = (int)threads, c.progress = progress;
      c.model.device = device;
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
    json_t *meta = json_pack("{s:f, s:f, s:f, s:f, s:I, s:s, s:s, s:s, s:s}", "wall_s", r.wall_s, "train_s", r.train_s,
                             "tokens_per_s", r.tokens_per_s, "time_to_target_s", r.time_to_target_s, "threads",
                             (json_int_t)(threads ? threads : hw.threads_used), "hardware_id", hw.hardware_id,
                             "revision", smx_build_revision(), "finished", when, "device", device_s);
    s = result && meta ? smx_results_append(job_s ? job_out : out, run, result, meta, NULL)
                       : smx_fail(SMX_ERR_NOMEM, "cannot format the result of run %zu", k);
    json_decref(result);
    json_decref(meta);
    if (s != SMX_OK) rc = cli_fail(s);
    else fprintf(stderr, "%s  test accuracy %.4f (best %.4f) after %lld epochs, %.1f s\n", tag, r.test_acc, r.best_acc,
                 (long long)r.epochs_run, r.wall_s);
  }
  free(mine);
  json_decref(runs);
  if (progress != stderr) fclose(progress);
  if (!rc && !dry) fprintf(stderr, "%sseqmix sweep run: %zu runs done; results in %s\n", tag, k, job_s ? job_out : out);
  return rc;
}
