/* bench.json -> plot tables (CSV) -> gnuplot PNG + SVG, for `seqmix plot` and the report.
 *
 * For each op, pass and group of shapes that differ only in the op's sweep parameter (L), with at
 * least two points: time vs L per variant and baseline; speedup vs L of each variant over the
 * reference and over the library baseline of its device (ratios of times from the same run); and
 * achieved bandwidth vs L against the measured copy peak. Scripts are in plots/ (or
 * $SEQMIX_PLOTS_DIR). */
#include <inttypes.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "seqmix/hardware.h"
#include "seqmix/json_io.h"
#include "reference/attention.h"
#include "seqmix/op.h"
#include "smx_config.h"

extern char **environ;

#define MAX_X 64
#define MAX_V 16

typedef struct series {
  char variant[96]; /* "cpu.fftw", or "cpu.fftw @ <run label>" when several runs share a figure */
  char base[48];    /* the variant's own name */
  int run;          /* which run (compare) */
  int baseline;
  int peer; /* PyTorch measured beside seqmix (peers.json): computes the op, is no seqmix variant */
  char device[8];
  double t[MAX_X], bw[MAX_X];
} series;

typedef struct group {
  char op[32], pass[8], key[160], sweep[16];
  int64_t x[MAX_X];
  int nx;
  series s[MAX_V];
  int ns;
} group;

const char *plots_script_dir(void) {
  const char *d = getenv("SEQMIX_PLOTS_DIR");
  return d && *d ? d : SMX_SOURCE_DIR "/plots";
}

/* The group key: the shape's parameters other than the sweep one, in order ("B=4,H=16,gelu=0"). */
static void group_key(json_t *params, const char *sweep, char *out, size_t n) {
  size_t o = 0;
  out[0] = 0;
  const char *k;
  json_t *v;
  json_object_foreach(params, k, v) {
    if (strcmp(k, sweep) == 0) continue;
    o += (size_t)snprintf(out + o, o < n ? n - o : 0, "%s%s=%" JSON_INTEGER_FORMAT, o ? "," : "", k, json_integer_value(v));
    if (o >= n) break;
  }
}

static group *find_group(group *gs, int *ng, int cap, const char *op, const char *pass, const char *key) {
  for (int i = 0; i < *ng; i++)
    if (!strcmp(gs[i].op, op) && !strcmp(gs[i].pass, pass) && !strcmp(gs[i].key, key)) return &gs[i];
  if (*ng == cap) return NULL;
  group *g = &gs[(*ng)++];
  memset(g, 0, sizeof *g);
  snprintf(g->op, sizeof g->op, "%s", op);
  snprintf(g->pass, sizeof g->pass, "%s", pass);
  snprintf(g->key, sizeof g->key, "%s", key);
  for (int s = 0; s < MAX_V; s++)
    for (int x = 0; x < MAX_X; x++) g->s[s].t[x] = g->s[s].bw[x] = NAN;
  return g;
}

static int x_index(group *g, int64_t x) {
  for (int i = 0; i < g->nx; i++)
    if (g->x[i] == x) return i;
  if (g->nx == MAX_X) return -1;
  int i = g->nx++;
  /* keep sorted: shift larger values up */
  while (i > 0 && g->x[i - 1] > x) {
    g->x[i] = g->x[i - 1];
    for (int s = 0; s < MAX_V; s++) {
      g->s[s].t[i] = g->s[s].t[i - 1];
      g->s[s].bw[i] = g->s[s].bw[i - 1];
    }
    i--;
  }
  g->x[i] = x;
  for (int s = 0; s < MAX_V; s++) g->s[s].t[i] = g->s[s].bw[i] = NAN;
  return i;
}

static series *find_series(group *g, const char *variant, int baseline, int peer, const char *device) {
  for (int i = 0; i < g->ns; i++)
    if (!strcmp(g->s[i].variant, variant)) return &g->s[i];
  if (g->ns == MAX_V) return NULL;
  series *s = &g->s[g->ns++];
  snprintf(s->variant, sizeof s->variant, "%s", variant);
  snprintf(s->device, sizeof s->device, "%s", device);
  s->baseline = baseline;
  s->peer = peer;
  return s;
}

static int is_bf16(const char *name) {
  size_t n = strlen(name);
  return n > 5 && !strcmp(name + n - 5, ".bf16");
}

/* Whether series b is a yardstick of variant v in the speedup figure: its device's library
 * baseline, or its device's PyTorch peer of v's dtype (any of the device's peers when the group has
 * none of that dtype). */
static int yardstick_of(const group *g, const series *v, const series *b) {
  if (strcmp(b->device, v->device)) return 0;
  if (b->baseline) return 1;
  if (!b->peer) return 0;
  int want = is_bf16(v->base);
  for (int i = 0; i < g->ns; i++)
    if (g->s[i].peer && !strcmp(g->s[i].device, v->device) && is_bf16(g->s[i].base) == want)
      return is_bf16(b->base) == want;
  return 1;
}

static void cell(FILE *f, double v) {
  if (isfinite(v)) fprintf(f, ",%.6g", v);
  else fprintf(f, ",NaN");
}

smx_status cli_gnuplot(const char *script, const char *vars) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", plots_script_dir(), script);
  char *argv[] = {"gnuplot", "-e", (char *)vars, path, NULL};
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return smx_fail(SMX_ERR_IO, "cannot run gnuplot (install gnuplot-nox): %s", strerror(rc));
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return smx_fail(SMX_ERR_IO, "gnuplot failed on %s (%s)", path, vars);
  return SMX_OK;
}

/* The time table: the sweep value, then each series' median time (NaN where not measured). */
static smx_status write_time_csv(const group *g, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) return smx_fail(SMX_ERR_IO, "cannot write %s", path);
  fprintf(f, "%s", g->sweep);
  for (int s = 0; s < g->ns; s++) fprintf(f, ",%s", g->s[s].variant);
  fprintf(f, "\n");
  for (int x = 0; x < g->nx; x++) {
    fprintf(f, "%" PRId64, g->x[x]);
    for (int s = 0; s < g->ns; s++) cell(f, g->s[s].t[x]);
    fprintf(f, "\n");
  }
  fclose(f);
  return SMX_OK;
}

/* Writes one CSV and renders it twice (PNG, SVG). */
static smx_status render(const char *dir, const group *g, const char *kind, const char *script, const char *ylabel_extra,
                         const char *csv_path, int ncol, const char *hw_id, plot_file *pf) {
  char base[600], title[400], vars[2600];
  char key_slug[160];
  smx_slugify(g->key, key_slug, sizeof key_slug);
  snprintf(base, sizeof base, "%s/%s_%s_%s_%s", dir, g->op, g->pass, key_slug, kind);
  snprintf(title, sizeof title, "%s %s %s — %s", g->op, g->pass, g->key, hw_id);
  snprintf(pf->op, sizeof pf->op, "%s", g->op);
  snprintf(pf->pass, sizeof pf->pass, "%s", g->pass);
  snprintf(pf->group, sizeof pf->group, "%s", g->key);
  snprintf(pf->kind, sizeof pf->kind, "%s", kind);
  const char *ext[2] = {"png", "svg"};
  char *dst[2] = {pf->png, pf->svg};
  for (int e = 0; e < 2; e++) {
    snprintf(dst[e], sizeof pf->png, "%s.%s", base, ext[e]);
    snprintf(vars, sizeof vars, "dir='%s'; in='%s'; out='%s'; title='%s'; xlabel='%s'; ncol=%d%s", plots_script_dir(),
             csv_path, dst[e], title, g->sweep, ncol, ylabel_extra);
    smx_status s = cli_gnuplot(script, vars);
    if (s != SMX_OK) return s;
  }
  return SMX_OK;
}

/* Adds the bench file's measured entries to the groups; with a label, series are "variant @ label"
 * so several runs can share one figure. */
static void collect(group *gs, int *ngp, int cap, json_t *bench, const char *label, int run) {
  int ng = *ngp;
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(bench, "benchmarks"), i, e) {
    const char *status = json_string_value(json_object_get(e, "status"));
    if (!status || strcmp(status, "ok") != 0) continue;
    const char *opn = json_string_value(json_object_get(e, "op"));
    const char *pass = json_string_value(json_object_get(e, "pass"));
    const char *var = json_string_value(json_object_get(e, "variant"));
    const char *dev = json_string_value(json_object_get(e, "device"));
    json_t *params = json_object_get(e, "params");
    const smx_op *op = opn ? smx_op_find(opn) : NULL;
    if (!op || !pass || !var || !dev || !json_is_object(params)) continue;
    const char *sweep = op->sweep_param ? op->sweep_param : "L";
    json_t *xv = json_object_get(params, sweep);
    if (!json_is_integer(xv)) continue;
    char key[160];
    group_key(params, sweep, key, sizeof key);
    group *g = find_group(gs, &ng, cap, opn, pass, key);
    if (!g) continue;
    snprintf(g->sweep, sizeof g->sweep, "%s", sweep);
    int xi = x_index(g, json_integer_value(xv));
    char sname[96];
    /* a peer's variant name is the same on every device ("torch.fft"): the series name says which */
    int peer = json_is_true(json_object_get(e, "peer"));
    char vname[64];
    snprintf(vname, sizeof vname, peer ? "%s (peer on %s)" : "%s", var, dev); /* no comma: CSV */
    if (label) snprintf(sname, sizeof sname, "%s @ %s", vname, label);
    else snprintf(sname, sizeof sname, "%s", vname);
    series *s = find_series(g, sname, json_is_true(json_object_get(e, "baseline")), peer, dev);
    if (xi < 0 || !s) continue;
    snprintf(s->base, sizeof s->base, "%s", var);
    s->run = run;
    s->t[xi] = json_number_value(json_object_get(e, "median_s"));
    s->bw[xi] = json_number_value(json_object_get(e, "bytes_per_s")) * 1e-9;
  }

  *ngp = ng;
}

/* The key of g restricted to the parameters `other` op has ("B=1,H=2,w=64" -> "B=1,H=2" for attention). */
static void shared_key(const char *key, const smx_op *other, char *out, size_t n) {
  size_t o = 0;
  out[0] = 0;
  char buf[160];
  snprintf(buf, sizeof buf, "%s", key);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char name[32];
    size_t len = strcspn(tok, "=");
    snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), tok);
    if (smx_config_param_index(other, name) < 0) continue;
    o += (size_t)snprintf(out + o, o < n ? n - o : 0, "%s%s", o ? "," : "", tok);
  }
}

/* The series a declared speedup pair compares g's `subject` with, and the group it lies in. */
static const series *pair_partner(group *gs, int ng, const group *g, const char *pair, const char *subject,
                                  const group **pg) {
  const char *colon = strchr(pair, ':');
  if (!colon || strncmp(pair, subject, (size_t)(colon - pair)) || subject[colon - pair]) return NULL;
  const char *partner = colon + 1, *slash = strchr(partner, '/');
  const group *target = g;
  if (slash) {
    char op_name[32];
    snprintf(op_name, sizeof op_name, "%.*s", (int)(slash - partner), partner);
    const smx_op *other = smx_op_find(op_name);
    if (!other) return NULL;
    /* both keys restricted to the parameters the two ops share (attention's Hkv is not ssd's) */
    const smx_op *mine = smx_op_find(g->op);
    char want[160], theirs[160];
    shared_key(g->key, other, want, sizeof want);
    target = NULL;
    for (int i = 0; i < ng && !target && mine; i++) {
      if (strcmp(gs[i].op, op_name) || strcmp(gs[i].pass, g->pass)) continue;
      shared_key(gs[i].key, mine, theirs, sizeof theirs);
      if (!strcmp(theirs, want)) target = &gs[i];
    }
    partner = slash + 1;
  }
  for (int s = 0; target && s < target->ns; s++)
    if (!strcmp(target->s[s].variant, partner)) {
      *pg = target;
      return &target->s[s];
    }
  return NULL;
}

/* The partner's time at g's x-th sweep value (NAN where it was not measured). */
static double partner_time(const group *pg, const series *ps, int64_t x) {
  for (int i = 0; i < pg->nx; i++)
    if (pg->x[i] == x) return ps->t[i];
  return NAN;
}

/* A configuration from a bench entry's parameters (NULL when they do not parse). */
static int config_of(const smx_op *op, json_t *params, smx_config *c) {
  char spec[400];
  size_t o = 0;
  const char *k;
  json_t *v;
  spec[0] = 0;
  json_object_foreach(params, k, v) o += (size_t)snprintf(spec + o, o < sizeof spec ? sizeof spec - o : 0, "%s%s=%" JSON_INTEGER_FORMAT,
                                                           o ? "," : "", k, json_integer_value(v));
  return o < sizeof spec && smx_config_parse(op, spec, c) == SMX_OK;
}

/* Bytes one sequence keeps between decode steps. attention_decode: its K and V cache (fp32); a
 * state-space decode op: every output but the token's own (its first output), i.e. the state it
 * hands to the next step. */
static double state_bytes_per_seq(const smx_config *c) {
  const smx_op *op = c->op;
  double n = 0;
  int first_out = 1;
  for (int s = 0; s < op->n_tensors; s++) {
    const smx_tensor_desc *t = &op->tensors[s];
    if (!strcmp(op->name, "attention_decode")) {
      if (!strcmp(t->name, "k") || !strcmp(t->name, "v")) n += (double)op->numel(c, s);
    } else if (t->role == SMX_ROLE_OUTPUT) {
      if (first_out) first_out = 0;
      else n += (double)op->numel(c, s);
    }
  }
  return 4.0 * n / (double)c->v[0]; /* every decode op's first parameter is the batch B */
}

/* The decode figures (claim 8): each attention_decode shape group's step time vs cache length S,
 * beside the state-space decode steps (ssd_decode, conba_decode ...) timed at the same batch, whose
 * cost does not grow with the context (flat lines); and the bytes kept per sequence vs context.
 * Two plots per attention_decode group that has at least two cache lengths. */
static smx_status decode_figures(group *gs, int ng, json_t *bench, const char *dir, const char *hw_id, plot_file *out,
                                 int *nf) {
  json_t *list = json_object_get(bench, "benchmarks");
  for (int gi = 0; gi < ng; gi++) {
    group *ga = &gs[gi];
    if (strcmp(ga->op, "attention_decode") || strcmp(ga->pass, "fwd") || ga->nx < 2) continue;
    int64_t B = -1;
    if (sscanf(ga->key, "B=%" SCNd64, &B) != 1) continue;
    group *g = calloc(1, sizeof *g), *m = calloc(1, sizeof *m);
    if (!g || !m) {
      free(g), free(m);
      return smx_fail(SMX_ERR_NOMEM, "cannot allocate the decode figure");
    }
    snprintf(g->op, sizeof g->op, "decode");
    snprintf(g->pass, sizeof g->pass, "fwd");
    snprintf(g->key, sizeof g->key, "%s", ga->key);
    snprintf(g->sweep, sizeof g->sweep, "context");
    g->nx = ga->nx;
    memcpy(g->x, ga->x, sizeof g->x);
    *m = *g;
    snprintf(m->op, sizeof m->op, "decode_state");
    /* attention's series as measured, and its cache bytes */
    for (int s = 0; s < ga->ns && g->ns < MAX_V; s++) {
      series *d = &g->s[g->ns++];
      *d = ga->s[s];
      snprintf(d->variant, sizeof d->variant, "attention_decode/%s", ga->s[s].variant);
    }
    smx_config ca;
    int have_ca = 0;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
      const char *st = json_string_value(json_object_get(e, "status")), *opn = json_string_value(json_object_get(e, "op"));
      const char *var = json_string_value(json_object_get(e, "variant")), *pass = json_string_value(json_object_get(e, "pass"));
      json_t *params = json_object_get(e, "params");
      if (!st || strcmp(st, "ok") || !opn || !var || !pass || strcmp(pass, "fwd")) continue;
      const smx_op *op = smx_op_find(opn);
      smx_config c;
      if (!op || !config_of(op, params, &c) || c.v[0] != B) continue;
      if (!strcmp(opn, "attention_decode")) {
        if (!have_ca) {
          char key[160];
          group_key(params, "S", key, sizeof key);
          if (!strcmp(key, ga->key)) ca = c, have_ca = 1;
        }
        continue;
      }
      size_t len = strlen(opn);
      if (len < 7 || strcmp(opn + len - 7, "_decode")) continue;
      /* one flat series per (op, variant): the first shape at this batch */
      char name[96];
      snprintf(name, sizeof name, "%s/%s", opn, var);
      int dup = 0;
      for (int s = 0; s < g->ns; s++) dup |= !strcmp(g->s[s].variant, name);
      if (dup || g->ns >= MAX_V) continue;
      series *d = &g->s[g->ns++];
      snprintf(d->variant, sizeof d->variant, "%s", name);
      snprintf(d->device, sizeof d->device, "%s", json_string_value(json_object_get(e, "device")) ?: "");
      double t = json_number_value(json_object_get(e, "median_s")), b = state_bytes_per_seq(&c);
      int have_op = 0;
      for (int s = 0; s < m->ns; s++) have_op |= !strncmp(m->s[s].variant, opn, len) && m->s[s].variant[len] == ' ';
      for (int x = 0; x < g->nx; x++) d->t[x] = t;
      if (!have_op && m->ns < MAX_V) {
        series *ms = &m->s[m->ns++];
        char key[160];
        group_key(params, "", key, sizeof key);
        for (char *q = key; *q; q++)
          if (*q == ',') *q = ' '; /* commas would split the CSV column */
        snprintf(ms->variant, sizeof ms->variant, "%s state (%.80s)", opn, key);
        for (int x = 0; x < m->nx; x++) ms->t[x] = b;
      }
    }
    smx_status st = SMX_OK;
    if (g->ns > ga->ns) { /* something to compare with */
      char key_slug[160], csv[4400];
      smx_slugify(g->key, key_slug, sizeof key_slug);
      snprintf(csv, sizeof csv, "%s/decode_fwd_%s_time.csv", dir, key_slug);
      if ((st = write_time_csv(g, csv)) == SMX_OK &&
          (st = render(dir, g, "time", "time_vs_L.gp", "", csv, g->ns + 1, hw_id, &out[*nf])) == SMX_OK)
        (*nf)++;
      if (st == SMX_OK && have_ca) {
        series *ms = &m->s[m->ns < MAX_V ? m->ns++ : MAX_V - 1];
        snprintf(ms->variant, sizeof ms->variant, "attention_decode KV cache");
        for (int x = 0; x < m->nx; x++) {
          smx_config c = ca;
          c.v[DECODE_S] = m->x[x];
          ms->t[x] = state_bytes_per_seq(&c);
        }
        snprintf(csv, sizeof csv, "%s/decode_state_fwd_%s_bytes.csv", dir, key_slug);
        if ((st = write_time_csv(m, csv)) == SMX_OK &&
            (st = render(dir, m, "bytes", "bytes_vs_L.gp", "", csv, m->ns + 1, hw_id, &out[*nf])) == SMX_OK)
          (*nf)++;
      }
    }
    free(g), free(m);
    if (st != SMX_OK) return st;
  }
  return SMX_OK;
}

/* The versus figure: g's variants beside the other ops' variants its speedup pairs name, timed at
 * the same values of the shared parameters (cdmoe beside moe's loop and grouped layers, ssd beside
 * attention): the layers' times on one log scale, as the papers draw them. *made = 0 when g's op
 * names no other op. */
static smx_status versus_figure(group *gs, int ng, const group *g, const char *dir, const char *hw_id, plot_file *pf,
                                int *made) {
  *made = 0;
  const smx_op *op = smx_op_find(g->op);
  if (!op || !op->speedup_pairs) return SMX_OK;
  group *v = calloc(1, sizeof *v);
  if (!v) return smx_fail(SMX_ERR_NOMEM, "cannot allocate the versus figure");
  snprintf(v->op, sizeof v->op, "%s", g->op);
  snprintf(v->pass, sizeof v->pass, "%s", g->pass);
  snprintf(v->key, sizeof v->key, "%s", g->key);
  snprintf(v->sweep, sizeof v->sweep, "%s", g->sweep);
  v->nx = g->nx;
  memcpy(v->x, g->x, sizeof v->x);
  for (int s = 0; s < g->ns && v->ns < MAX_V; s++) {
    if (!strcmp(g->s[s].variant, "reference")) continue;
    series *d = &v->s[v->ns++];
    *d = g->s[s];
    snprintf(d->variant, sizeof d->variant, "%s/%s", g->op, g->s[s].variant);
  }
  int partners = 0;
  for (const char *const *pp = op->speedup_pairs; *pp && v->ns < MAX_V; pp++) {
    const char *colon = strchr(*pp, ':');
    if (!colon || !strchr(colon, '/')) continue;
    for (int s = 0; s < g->ns; s++) {
      const group *pg = NULL;
      const series *ps = pair_partner(gs, ng, g, *pp, g->s[s].variant, &pg);
      if (!ps) continue;
      int dup = 0;
      for (int k = 0; k < v->ns; k++) dup |= !strcmp(v->s[k].variant, colon + 1);
      if (dup || v->ns >= MAX_V) break;
      series *d = &v->s[v->ns++];
      *d = *ps;
      snprintf(d->variant, sizeof d->variant, "%s", colon + 1);
      for (int x = 0; x < v->nx; x++) d->t[x] = partner_time(pg, ps, v->x[x]);
      partners++;
      break;
    }
  }
  smx_status st = SMX_OK;
  if (partners) {
    char key_slug[160], csv[4400];
    smx_slugify(g->key, key_slug, sizeof key_slug);
    snprintf(csv, sizeof csv, "%s/%s_%s_%s_versus.csv", dir, g->op, g->pass, key_slug);
    if ((st = write_time_csv(v, csv)) == SMX_OK &&
        (st = render(dir, v, "versus", "time_vs_L.gp", "", csv, v->ns + 1, hw_id, pf)) == SMX_OK)
      *made = 1;
  }
  free(v);
  return st;
}

smx_status make_plots(const char *run_dir, json_t *bench, plot_file **files, int *n_files) {
  *files = NULL;
  *n_files = 0;
  enum { CAP = 256 };
  group *gs = calloc(CAP, sizeof *gs);
  if (!gs) return smx_fail(SMX_ERR_NOMEM, "cannot allocate plot groups");
  int ng = 0;
  collect(gs, &ng, CAP, bench, NULL, 0);

  char dir[4200];
  snprintf(dir, sizeof dir, "%s/plots", run_dir);
  smx_status st = smx_mkdir_p(dir);
  const char *hw_id = json_string_value(json_object_get(json_object_get(bench, "hardware"), "hardware_id"));
  json_t *peaks = json_object_get(bench, "peaks");
  double cpu_peak = json_number_value(json_object_get(peaks, "cpu_bytes_per_s")) * 1e-9;
  double gpu_peak = json_number_value(json_object_get(peaks, "gpu_bytes_per_s")) * 1e-9;
  plot_file *out = calloc((size_t)ng * 8 + 1, sizeof *out); /* time, tokens, speedup, versus, bandwidth, decode pair */
  if (!out) st = smx_fail(SMX_ERR_NOMEM, "cannot allocate the plot list");
  int nf = 0;
  for (int gi = 0; gi < ng && st == SMX_OK; gi++) {
    group *g = &gs[gi];
    if (g->nx < 2) continue; /* a single point is not a curve */
    char csv[4400];
    char key_slug[160];
    smx_slugify(g->key, key_slug, sizeof key_slug);

    /* time */
    snprintf(csv, sizeof csv, "%s/%s_%s_%s_time.csv", dir, g->op, g->pass, key_slug);
    if ((st = write_time_csv(g, csv)) != SMX_OK) break;
    FILE *f;
    if ((st = render(dir, g, "time", "time_vs_L.gp", "", csv, g->ns + 1, hw_id ? hw_id : "", &out[nf])) != SMX_OK) break;
    nf++;

    /* tokens per second, for the layers compared by throughput */
    const smx_op *tok_op = smx_op_find(g->op);
    int64_t batch = -1;
    if (tok_op && tok_op->plot_tokens_per_s && !strcmp(g->sweep, "L") && sscanf(g->key, "B=%" SCNd64, &batch) == 1) {
      snprintf(csv, sizeof csv, "%s/%s_%s_%s_tokens.csv", dir, g->op, g->pass, key_slug);
      FILE *tf = fopen(csv, "w");
      if (!tf) { st = smx_fail(SMX_ERR_IO, "cannot write %s", csv); break; }
      fprintf(tf, "%s", g->sweep);
      for (int s = 0; s < g->ns; s++)
        if (!g->s[s].baseline) fprintf(tf, ",%s", g->s[s].variant);
      fprintf(tf, "\n");
      int ncol = 0;
      for (int s = 0; s < g->ns; s++) ncol += !g->s[s].baseline;
      for (int x = 0; x < g->nx; x++) {
        fprintf(tf, "%" PRId64, g->x[x]);
        for (int s = 0; s < g->ns; s++)
          if (!g->s[s].baseline) cell(tf, (double)batch * (double)g->x[x] / g->s[s].t[x]);
        fprintf(tf, "\n");
      }
      fclose(tf);
      if ((st = render(dir, g, "tokens", "tokens_vs_L.gp", "", csv, ncol + 1, hw_id ? hw_id : "", &out[nf])) != SMX_OK) break;
      nf++;
    }

    /* speedup: each variant over the reference, over its device's baseline and PyTorch peer, and
     * over the partners the op declares */
    const smx_op *op = smx_op_find(g->op);
    const series *ref = NULL;
    for (int s = 0; s < g->ns; s++)
      if (!strcmp(g->s[s].variant, "reference")) ref = &g->s[s];
    snprintf(csv, sizeof csv, "%s/%s_%s_%s_speedup.csv", dir, g->op, g->pass, key_slug);
    f = fopen(csv, "w");
    if (!f) { st = smx_fail(SMX_ERR_IO, "cannot write %s", csv); break; }
    int ncols = 0;
    fprintf(f, "%s", g->sweep);
    for (int s = 0; s < g->ns; s++) {
      const series *v = &g->s[s];
      if (v->baseline || v->peer || v == ref) continue;
      if (ref) { fprintf(f, ",%s vs reference", v->variant); ncols++; }
      for (int b = 0; b < g->ns; b++)
        if (yardstick_of(g, v, &g->s[b])) {
          fprintf(f, ",%s vs %s", v->variant, g->s[b].variant);
          ncols++;
        }
      for (const char *const *pp = op ? op->speedup_pairs : NULL; pp && *pp; pp++) {
        const group *pg = NULL;
        if (pair_partner(gs, ng, g, *pp, v->variant, &pg)) {
          fprintf(f, ",%s vs %s", v->variant, strchr(*pp, ':') + 1);
          ncols++;
        }
      }
    }
    fprintf(f, "\n");
    for (int x = 0; x < g->nx; x++) {
      fprintf(f, "%" PRId64, g->x[x]);
      for (int s = 0; s < g->ns; s++) {
        const series *v = &g->s[s];
        if (v->baseline || v->peer || v == ref) continue;
        if (ref) cell(f, ref->t[x] / v->t[x]);
        for (int b = 0; b < g->ns; b++)
          if (yardstick_of(g, v, &g->s[b])) cell(f, g->s[b].t[x] / v->t[x]);
        for (const char *const *pp = op ? op->speedup_pairs : NULL; pp && *pp; pp++) {
          const group *pg = NULL;
          const series *ps = pair_partner(gs, ng, g, *pp, v->variant, &pg);
          if (ps) cell(f, partner_time(pg, ps, g->x[x]) / v->t[x]);
        }
      }
      fprintf(f, "\n");
    }
    fclose(f);
    if (ncols > 0) {
      if ((st = render(dir, g, "speedup", "speedup.gp", "", csv, ncols + 1, hw_id ? hw_id : "", &out[nf])) != SMX_OK) break;
      nf++;
    }

    int made = 0;
    if ((st = versus_figure(gs, ng, g, dir, hw_id ? hw_id : "", &out[nf], &made)) != SMX_OK) break;
    nf += made;

    /* bandwidth of the variants (baselines do not compute the op, so the op's bytes do not apply) */
    snprintf(csv, sizeof csv, "%s/%s_%s_%s_bandwidth.csv", dir, g->op, g->pass, key_slug);
    f = fopen(csv, "w");
    if (!f) { st = smx_fail(SMX_ERR_IO, "cannot write %s", csv); break; }
    ncols = 0;
    int has_cpu = 0, has_gpu = 0;
    fprintf(f, "%s", g->sweep);
    for (int s = 0; s < g->ns; s++)
      if (!g->s[s].baseline) {
        fprintf(f, ",%s", g->s[s].variant);
        ncols++;
        has_cpu |= !strcmp(g->s[s].device, "cpu");
        has_gpu |= !strcmp(g->s[s].device, "cuda");
      }
    fprintf(f, "\n");
    for (int x = 0; x < g->nx; x++) {
      fprintf(f, "%" PRId64, g->x[x]);
      for (int s = 0; s < g->ns; s++)
        if (!g->s[s].baseline) cell(f, g->s[s].bw[x]);
      fprintf(f, "\n");
    }
    fclose(f);
    char extra[128];
    snprintf(extra, sizeof extra, "; cpu_peak=%g; gpu_peak=%g", has_cpu ? cpu_peak : 0.0, has_gpu ? gpu_peak : 0.0);
    if ((st = render(dir, g, "bandwidth", "bandwidth.gp", extra, csv, ncols + 1, hw_id ? hw_id : "", &out[nf])) != SMX_OK)
      break;
    nf++;
  }
  if (st == SMX_OK) st = decode_figures(gs, ng, bench, dir, hw_id ? hw_id : "", out, &nf);
  free(gs);
  if (st != SMX_OK) {
    free(out);
    return st;
  }
  *files = out;
  *n_files = nf;
  return SMX_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Several runs side by side (seqmix compare): time vs L per variant and run, and grouped bars of
 * each variant's time per run at the largest L every run measured. */
smx_status make_compare_plots(const char *out_dir, json_t **benches, const char **labels, int n, plot_file **files,
                              int *n_files) {
  *files = NULL;
  *n_files = 0;
  enum { CAP = 256 };
  group *gs = calloc(CAP, sizeof *gs);
  plot_file *out = calloc(2 * CAP + 1, sizeof *out);
  if (!gs || !out) {
    free(gs);
    free(out);
    return smx_fail(SMX_ERR_NOMEM, "cannot allocate plot groups");
  }
  int ng = 0;
  for (int r = 0; r < n; r++) collect(gs, &ng, CAP, benches[r], labels[r], r);
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/plots", out_dir);
  smx_status st = smx_mkdir_p(dir);
  int nf = 0;
  for (int gi = 0; gi < ng && st == SMX_OK; gi++) {
    group *g = &gs[gi];
    char csv[4400], key_slug[160];
    smx_slugify(g->key, key_slug, sizeof key_slug);
    if (g->nx >= 2) {
      snprintf(csv, sizeof csv, "%s/%s_%s_%s_time.csv", dir, g->op, g->pass, key_slug);
      if ((st = write_time_csv(g, csv)) != SMX_OK) break;
      if ((st = render(dir, g, "time", "time_vs_L.gp", "", csv, g->ns + 1, "compare", &out[nf])) != SMX_OK) break;
      nf++;
    }
    /* bars at the largest L at which every run has a value */
    int xbest = -1;
    for (int x = 0; x < g->nx; x++) {
      int have[16] = {0}, all = 1;
      for (int s = 0; s < g->ns; s++)
        if (isfinite(g->s[s].t[x]) && g->s[s].run < 16) have[g->s[s].run] = 1;
      for (int r = 0; r < n && r < 16; r++) all &= have[r];
      if (all) xbest = x;
    }
    if (xbest < 0 || n < 2) continue;
    snprintf(csv, sizeof csv, "%s/%s_%s_%s_bars.csv", dir, g->op, g->pass, key_slug);
    FILE *f = fopen(csv, "w");
    if (!f) { st = smx_fail(SMX_ERR_IO, "cannot write %s", csv); break; }
    fprintf(f, "variant");
    for (int r = 0; r < n; r++) fprintf(f, ",%s", labels[r]);
    fprintf(f, "\n");
    for (int s = 0; s < g->ns; s++) {
      int first = 1; /* one row per variant name, in first-seen order */
      for (int p = 0; p < s; p++) first &= strcmp(g->s[p].base, g->s[s].base) != 0;
      if (!first) continue;
      fprintf(f, "%s", g->s[s].base);
      for (int r = 0; r < n; r++) {
        double t = NAN;
        for (int q = 0; q < g->ns; q++)
          if (g->s[q].run == r && !strcmp(g->s[q].base, g->s[s].base)) t = g->s[q].t[xbest];
        cell(f, t);
      }
      fprintf(f, "\n");
    }
    fclose(f);
    group at = *g;
    snprintf(at.key, sizeof at.key, "%s%s%s=%" PRId64, g->key, g->key[0] ? "," : "", g->sweep, g->x[xbest]);
    snprintf(at.sweep, sizeof at.sweep, "variant");
    if ((st = render(dir, &at, "bars", "bars.gp", "", csv, n + 1, "compare", &out[nf])) != SMX_OK) break;
    nf++;
  }
  free(gs);
  if (st != SMX_OK) {
    free(out);
    return st;
  }
  *files = out;
  *n_files = nf;
  return SMX_OK;
}
