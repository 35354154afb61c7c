/* The figures of a scored sweep (sweep_plot.h): tab-separated data per panel, a gnuplot script per
 * figure written beside them (rerunnable: gnuplot -e "out='acc_vs_d.svg'" acc_vs_d.gp), PNG + SVG
 * through gnuplot with the style of plots/common.gp; H3's Table 2 in Markdown; and, for runs
 * evaluated on a grid of lengths and needle depths, heat maps of exact match with their Markdown.
 *
 *   seqmix sweep plot --in results.jsonl --out DIR
 *   build/tests/seqmix_tests --filter sweep_score/'*'
 */
#include "sweep_plot.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "seqmix/json_io.h"

extern char **environ;

#define MAX_LINES 32  /* mixers (lines) per figure */
#define MAX_PANELS 32 /* task points per figure */
#define MAX_DS 32
#define MAX_EPOCHS 4096

/* A figure's lines (mixer labels, disambiguated across d) and panels (task, params). */
typedef struct layout {
  char line[MAX_LINES][600];
  int n_lines;
  size_t panel_first[MAX_PANELS]; /* a group of each panel */
  int n_panels;
  int *line_of, *panel_of; /* per group; -1 when it did not fit */
} layout;

static void layout_free(layout *l) {
  free(l->line_of), free(l->panel_of);
}

static smx_status make_layout(const smx_sweep_scores *s, layout *l) {
  memset(l, 0, sizeof *l);
  l->line_of = malloc((s->n + 1) * sizeof *l->line_of);
  l->panel_of = malloc((s->n + 1) * sizeof *l->panel_of);
  if (!l->line_of || !l->panel_of) {
    layout_free(l);
    return smx_fail(SMX_ERR_NOMEM, "cannot allocate the sweep figures");
  }
  for (size_t i = 0; i < s->n; i++) {
    const smx_group_score *g = &s->g[i];
    char name[600], extra[300];
    smx_group_extra(s, i, 1, extra, sizeof extra);
    snprintf(name, sizeof name, "%s%s%s%s", g->label, extra[0] ? " [" : "", extra, extra[0] ? "]" : "");
    l->line_of[i] = -1;
    for (int k = 0; k < l->n_lines && l->line_of[i] < 0; k++)
      if (!strcmp(l->line[k], name)) l->line_of[i] = k;
    if (l->line_of[i] < 0 && l->n_lines < MAX_LINES) {
      snprintf(l->line[l->n_lines], sizeof l->line[0], "%s", name);
      l->line_of[i] = l->n_lines++;
    }
    l->panel_of[i] = -1;
    for (int p = 0; p < l->n_panels && l->panel_of[i] < 0; p++) {
      const smx_group_score *h = &s->g[l->panel_first[p]];
      if (!strcmp(g->task, h->task) && !strcmp(g->params, h->params)) l->panel_of[i] = p;
    }
    if (l->panel_of[i] < 0 && l->n_panels < MAX_PANELS) {
      l->panel_first[l->n_panels] = i;
      l->panel_of[i] = l->n_panels++;
    }
  }
  return SMX_OK;
}

/* A gnuplot single-quoted string: a quote is written twice. */
static void gp_str(FILE *f, const char *s) {
  fputc('\'', f);
  for (; *s; s++) {
    if (*s == '\'') fputc('\'', f);
    fputc(*s, f);
  }
  fputc('\'', f);
}

/* A TSV cell: no tab or newline inside. */
static void tsv_text(FILE *f, const char *s) {
  for (; *s; s++) fputc(*s == '\t' || *s == '\n' ? ' ' : *s, f);
}

/* The rest of a header row: per line its mean, min and max columns. */
static void tsv_line_columns(FILE *f, const layout *l) {
  for (int k = 0; k < l->n_lines; k++)
    for (int c = 0; c < 3; c++) {
      fputc('\t', f);
      tsv_text(f, l->line[k]);
      fputs(c == 0 ? "" : c == 1 ? " min" : " max", f);
    }
  fputc('\n', f);
}

static void tsv_num(FILE *f, double v) {
  if (isfinite(v)) fprintf(f, "\t%.6g", v);
  else fprintf(f, "\tNaN");
}

/* Runs gnuplot on script with out='path'. 1 when gnuplot is not installed. */
static smx_status gnuplot_render(const char *script, const char *out, int *missing) {
  char *expr = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&expr, &len);
  if (!f) return smx_fail(SMX_ERR_NOMEM, "cannot run gnuplot");
  fputs("out=", f);
  gp_str(f, out);
  fclose(f);
  char *argv[] = {"gnuplot", "-e", expr, (char *)script, NULL};
  pid_t pid;
  int rc = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
  if (rc != 0) {
    free(expr);
    if (rc == ENOENT) {
      *missing = 1;
      return SMX_OK;
    }
    return smx_fail(SMX_ERR_IO, "cannot run gnuplot: %s", strerror(rc));
  }
  int status = 0;
  int waited = waitpid(pid, &status, 0);
  free(expr);
  if (waited < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return smx_fail(SMX_ERR_IO, "gnuplot failed on %s (drawing %s)", script, out);
  return SMX_OK;
}

/* The script's head: where it draws by default, the shared style, tab-separated data, the panels. */
static void script_head(FILE *f, const char *what, const char *base, int n_panels, const char *title) {
  int cols = n_panels < 4 ? n_panels : 4, rows = (n_panels + cols - 1) / cols;
  char path[720];
  fprintf(f, "# %s\n# Written by seqmix sweep plot; redraw with: gnuplot -e \"out='%s.svg'\" %s.gp\n", what, base, base);
  fprintf(f, "if (!exists('out')) out = ");
  snprintf(path, sizeof path, "%s.png", base);
  gp_str(f, path);
  int width = 40 + 380 * cols; /* at least wide enough for the figure's title over one panel */
  if (width < 760) width = 760;
  fprintf(f, "\nwidth = %d; height = %d; title = ''; xlabel = ''\nload ", width, 60 + 340 * rows);
  snprintf(path, sizeof path, "%s/common.gp", plots_script_dir());
  gp_str(f, path);
  fprintf(f, "\nset datafile separator tab\nset key inside right bottom noenhanced box opaque font ',9'\n");
  fprintf(f, "set multiplot layout %d,%d title ", rows, cols);
  gp_str(f, title);
  fprintf(f, " noenhanced font ',9'\n");
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Accuracy vs d_model: per panel the widths, per line mean, min and max. 0 figures when no point
 * has two widths. */
static smx_status acc_vs_d(const smx_sweep_scores *s, const layout *l, const char *dir, sweep_figure *fig, int *made) {
  *made = 0;
  int64_t ds[MAX_PANELS][MAX_DS];
  int nd[MAX_PANELS] = {0}, wide = 0;
  int64_t all[MAX_DS];
  int nall = 0;
  for (size_t i = 0; i < s->n; i++) {
    int p = l->panel_of[i];
    if (p < 0 || l->line_of[i] < 0) continue;
    int have = 0;
    for (int k = 0; k < nd[p]; k++) have |= ds[p][k] == s->g[i].d;
    if (!have && nd[p] < MAX_DS) ds[p][nd[p]++] = s->g[i].d;
    have = 0;
    for (int k = 0; k < nall; k++) have |= all[k] == s->g[i].d;
    if (!have && nall < MAX_DS) all[nall++] = s->g[i].d;
  }
  for (int p = 0; p < l->n_panels; p++) {
    qsort(ds[p], (size_t)nd[p], sizeof ds[p][0], cmp_i64);
    wide |= nd[p] >= 2;
  }
  if (!wide) return SMX_OK;
  qsort(all, (size_t)nall, sizeof all[0], cmp_i64);
  char base[600], path[700];
  snprintf(base, sizeof base, "%s/acc_vs_d", dir);
  snprintf(fig->name, sizeof fig->name, "acc_vs_d");
  snprintf(fig->title, sizeof fig->title,
           "test accuracy vs d_model at each point's best learning rate (bars: min..max over seeds)%s%s",
           s->hardware[0] ? " — " : "", s->hardware);
  /* the data: acc_vs_d_<panel>.tsv */
  for (int p = 0; p < l->n_panels; p++) {
    snprintf(path, sizeof path, "%s_%d.tsv", base, p + 1);
    FILE *f = fopen(path, "w");
    if (!f) return smx_fail(SMX_ERR_IO, "cannot write %s", path);
    fprintf(f, "d");
    tsv_line_columns(f, l);
    for (int x = 0; x < nd[p]; x++) {
      fprintf(f, "%lld", (long long)ds[p][x]);
      for (int k = 0; k < l->n_lines; k++) {
        const smx_group_score *g = NULL;
        for (size_t i = 0; i < s->n && !g; i++)
          if (l->panel_of[i] == p && l->line_of[i] == k && s->g[i].d == ds[p][x]) g = &s->g[i];
        tsv_num(f, g ? g->best.mean : NAN);
        tsv_num(f, g ? g->best.min : NAN);
        tsv_num(f, g ? g->best.max : NAN);
      }
      fputc('\n', f);
    }
    if (fclose(f) != 0) return smx_fail(SMX_ERR_IO, "cannot write %s", path);
  }
  /* the script */
  snprintf(fig->script, sizeof fig->script, "%s.gp", base);
  FILE *f = fopen(fig->script, "w");
  if (!f) return smx_fail(SMX_ERR_IO, "cannot write %s", fig->script);
  script_head(f, "Test accuracy vs d_model, one line per mixer, one panel per task point; error bars span min..max "
                 "over the seeds of each point's best learning rate.", base, l->n_panels, fig->title);
  fprintf(f, "set logscale x 2\nset format x '%%g'\nset xtics (");
  for (int k = 0; k < nall; k++) fprintf(f, "%s%lld", k ? ", " : "", (long long)all[k]);
  fprintf(f, ")\nset xrange [%g:%g]\nset yrange [0:1.05]\nset xlabel 'd_model'\nset ylabel 'test accuracy'\n",
          (double)all[0] / 1.4, (double)all[nall - 1] * 1.4);
  for (int p = 0; p < l->n_panels; p++) {
    const smx_group_score *g0 = &s->g[l->panel_first[p]];
    char ptitle[300];
    snprintf(ptitle, sizeof ptitle, "%s %s", g0->task, g0->params);
    fprintf(f, "set title ");
    gp_str(f, ptitle);
    fprintf(f, " noenhanced\nplot");
    int first = 1;
    for (int k = 0; k < l->n_lines; k++) {
      int has = 0;
      for (size_t i = 0; i < s->n && !has; i++) has = l->panel_of[i] == p && l->line_of[i] == k;
      if (!has) continue;
      fprintf(f, "%s ", first ? "" : ", \\\n    ");
      snprintf(path, sizeof path, "%s_%d.tsv", base, p + 1);
      gp_str(f, path);
      fprintf(f, " using 1:%d:%d:%d with yerrorlines %s %d title columnhead(%d)", 2 + 3 * k, 3 + 3 * k, 4 + 3 * k,
              k < 6 ? "ls" : "lt", k + 1, 2 + 3 * k);
      first = 0;
    }
    fprintf(f, "\n");
  }
  fprintf(f, "unset multiplot\n");
  if (fclose(f) != 0) return smx_fail(SMX_ERR_IO, "cannot write %s", fig->script);
  *made = 1;
  return SMX_OK;
}

/* An integer task parameter NAME=value out of "V=8192,L=32,N=4"; -1 when absent. */
static long long param_value(const char *params, const char *name) {
  size_t n = strlen(name);
  for (const char *p = params; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
    if (!strncmp(p, name, n) && p[n] == '=') return strtoll(p + n + 1, NULL, 10);
  return -1;
}

/* Accuracy vs sequence length L: one panel per (task, d), one line per mixer, x = the points' L
 * (labelled with their N where they have one). For sweeps with one width and several lengths —
 * the `quick` preset — where accuracy vs d has nothing to draw; 0 figures unless some panel has
 * two lengths. */
#define MAX_XS 64
static smx_status acc_vs_len(const smx_sweep_scores *s, const layout *l, const char *dir, sweep_figure *fig, int *made) {
  *made = 0;
  size_t pf[MAX_PANELS]; /* a group of each (task, d) panel */
  int np = 0, *panel = malloc((s->n + 1) * sizeof *panel), wide = 0;
  if (!panel) return smx_fail(SMX_ERR_NOMEM, "cannot allocate the sweep figures");
  long long xs[MAX_PANELS][MAX_XS], ns[MAX_PANELS][MAX_XS];
  int nx[MAX_PANELS] = {0};
  for (size_t i = 0; i < s->n; i++) {
    const smx_group_score *g = &s->g[i];
    long long L = param_value(g->params, "L");
    panel[i] = -1;
    if (L < 0 || l->line_of[i] < 0) continue;
    for (int p = 0; p < np && panel[i] < 0; p++)
      if (!strcmp(s->g[pf[p]].task, g->task) && s->g[pf[p]].d == g->d) panel[i] = p;
    if (panel[i] < 0 && np < MAX_PANELS) pf[np] = i, panel[i] = np++;
    int p = panel[i], have = 0;
    if (p < 0) continue;
    for (int k = 0; k < nx[p]; k++) have |= xs[p][k] == L;
    if (!have && nx[p] < MAX_XS) xs[p][nx[p]] = L, ns[p][nx[p]] = param_value(g->params, "N"), nx[p]++;
  }
  for (int p = 0; p < np; p++) { /* sort the lengths (with their N) */
    for (int a = 1; a < nx[p]; a++)
      for (int b = a; b > 0 && xs[p][b] < xs[p][b - 1]; b--) {
        long long t = xs[p][b];
        xs[p][b] = xs[p][b - 1], xs[p][b - 1] = t;
        t = ns[p][b], ns[p][b] = ns[p][b - 1], ns[p][b - 1] = t;
      }
    wide |= nx[p] >= 2;
  }
  smx_status st = SMX_OK;
  if (!wide) goto done;
  char base[600], path[700];
  snprintf(base, sizeof base, "%s/acc_vs_L", dir);
  snprintf(fig->name, sizeof fig->name, "acc_vs_L");
  snprintf(fig->title, sizeof fig->title,
           "test accuracy vs sequence length at the best learning rate (bars: min..max over seeds)%s%s",
           s->hardware[0] ? " — " : "", s->hardware);
  for (int p = 0; p < np; p++) {
    snprintf(path, sizeof path, "%s_%d.tsv", base, p + 1);
    FILE *f = fopen(path, "w");
    if (!f) {
      st = smx_fail(SMX_ERR_IO, "cannot write %s", path);
      goto done;
    }
    fprintf(f, "L\tlabel");
    tsv_line_columns(f, l);
    for (int x = 0; x < nx[p]; x++) {
      if (ns[p][x] >= 0) fprintf(f, "%lld\t%lld (N=%lld)", xs[p][x], xs[p][x], ns[p][x]);
      else fprintf(f, "%lld\t%lld", xs[p][x], xs[p][x]);
      for (int k = 0; k < l->n_lines; k++) {
        const smx_group_score *g = NULL; /* the best-scoring group of this mixer at this length */
        for (size_t i = 0; i < s->n; i++)
          if (panel[i] == p && l->line_of[i] == k && param_value(s->g[i].params, "L") == xs[p][x] &&
              (!g || s->g[i].best.mean > g->best.mean))
            g = &s->g[i];
        tsv_num(f, g ? g->best.mean : NAN);
        tsv_num(f, g ? g->best.min : NAN);
        tsv_num(f, g ? g->best.max : NAN);
      }
      fputc('\n', f);
    }
    if (fclose(f) != 0) {
      st = smx_fail(SMX_ERR_IO, "cannot write %s", path);
      goto done;
    }
  }
  snprintf(fig->script, sizeof fig->script, "%s.gp", base);
  FILE *f = fopen(fig->script, "w");
  if (!f) {
    st = smx_fail(SMX_ERR_IO, "cannot write %s", fig->script);
    goto done;
  }
  script_head(f, "Test accuracy vs sequence length L, one line per mixer, one panel per task and d_model; error "
                 "bars span min..max over the seeds of the best learning rate.", base, np, fig->title);
  fprintf(f, "set logscale x 2\nset yrange [0:1.05]\nset xlabel 'sequence length L (key-value pairs N)'\n"
             "set ylabel 'test accuracy'\n");
  for (int p = 0; p < np; p++) {
    const smx_group_score *g0 = &s->g[pf[p]];
    char ptitle[300];
    snprintf(ptitle, sizeof ptitle, "%s, d_model = %lld", g0->task, (long long)g0->d);
    fprintf(f, "set xrange [%g:%g]\nset title ", (double)xs[p][0] / 1.3, (double)xs[p][nx[p] - 1] * 1.3);
    gp_str(f, ptitle);
    fprintf(f, " noenhanced\nplot");
    int first = 1;
    for (int k = 0; k < l->n_lines; k++) {
      int has = 0;
      for (size_t i = 0; i < s->n && !has; i++) has = panel[i] == p && l->line_of[i] == k;
      if (!has) continue;
      fprintf(f, "%s ", first ? "" : ", \\\n    ");
      snprintf(path, sizeof path, "%s_%d.tsv", base, p + 1);
      gp_str(f, path);
      fprintf(f, " using 1:%d:%d:%d:xtic(2) with yerrorlines %s %d title columnhead(%d)", 3 + 3 * k, 4 + 3 * k,
              5 + 3 * k, k < 6 ? "ls" : "lt", k + 1, 3 + 3 * k);
      first = 0;
    }
    fprintf(f, "\n");
  }
  fprintf(f, "unset multiplot\n");
  if (fclose(f) != 0) st = smx_fail(SMX_ERR_IO, "cannot write %s", fig->script);
  else *made = 1;
done:
  free(panel);
  return st;
}

/* The d the loss curves are drawn at: the one with the most groups, the larger on a tie. */
static int64_t default_loss_d(const smx_sweep_scores *s) {
  int64_t best = -1;
  int best_n = 0;
  for (size_t i = 0; i < s->n; i++) {
    int n = 0;
    for (size_t j = 0; j < s->n; j++) n += s->g[j].d == s->g[i].d;
    if (n > best_n || (n == best_n && s->g[i].d > best)) best = s->g[i].d, best_n = n;
  }
  return best;
}

/* Training loss per epoch per line at one d: the mean over the best learning rate's seeds that ran
 * the epoch (a run stopped early at its target adds nothing after). */
static smx_status loss_curves(const smx_sweep_scores *s, const layout *l, const char *dir, int64_t d, sweep_figure *fig,
                              int *made) {
  *made = 0;
  char base[600], path[700];
  snprintf(base, sizeof base, "%s/loss_d%lld", dir, (long long)d);
  snprintf(fig->name, sizeof fig->name, "loss_d%lld", (long long)d);
  snprintf(fig->title, sizeof fig->title,
           "training loss per epoch at d_model = %lld (mean over the seeds of each mixer's best learning rate)%s%s",
           (long long)d, s->hardware[0] ? " — " : "", s->hardware);
  int panel_used[MAX_PANELS] = {0}, n_used = 0;
  for (size_t i = 0; i < s->n; i++)
    if (s->g[i].d == d && l->panel_of[i] >= 0 && l->line_of[i] >= 0 && !panel_used[l->panel_of[i]]++) n_used++;
  if (!n_used) return SMX_OK;
  int panel_no = 0;
  FILE *gp = NULL;
  snprintf(fig->script, sizeof fig->script, "%s.gp", base);
  smx_status st = SMX_OK;
  for (int p = 0; p < l->n_panels && st == SMX_OK; p++) {
    if (!panel_used[p]) continue;
    panel_no++;
    /* per line: the mean curve */
    snprintf(path, sizeof path, "%s_%d.tsv", base, panel_no);
    FILE *f = fopen(path, "w");
    if (!f) {
      st = smx_fail(SMX_ERR_IO, "cannot write %s", path);
      break;
    }
    int epochs = 0;
    for (size_t i = 0; i < s->n; i++) {
      if (l->panel_of[i] != p || s->g[i].d != d) continue;
      size_t j;
      json_t *r;
      json_array_foreach(s->g[i].runs, j, r) {
        int e = (int)json_array_size(json_object_get(json_object_get(r, "result"), "loss_curve"));
        if (e > epochs) epochs = e < MAX_EPOCHS ? e : MAX_EPOCHS;
      }
    }
    fprintf(f, "epoch");
    for (int k = 0; k < l->n_lines; k++) {
      fputc('\t', f);
      tsv_text(f, l->line[k]);
    }
    fputc('\n', f);
    /* one column per line, all lines (so the columns match the lines' numbers) */
    double *table = calloc((size_t)epochs * (size_t)(l->n_lines ? l->n_lines : 1), sizeof *table);
    int *has = calloc((size_t)(l->n_lines ? l->n_lines : 1), sizeof *has);
    if (!table || !has) {
      free(table), free(has);
      fclose(f);
      st = smx_fail(SMX_ERR_NOMEM, "cannot allocate the loss curves");
      break;
    }
    for (int k = 0; k < l->n_lines; k++) {
      const smx_group_score *g = NULL;
      for (size_t i = 0; i < s->n && !g; i++)
        if (l->panel_of[i] == p && l->line_of[i] == k && s->g[i].d == d) g = &s->g[i];
      for (int e = 0; e < epochs; e++) {
        double sum = 0;
        int n = 0;
        size_t j;
        json_t *r;
        if (g) json_array_foreach(g->runs, j, r) {
            json_t *v = json_array_get(json_object_get(json_object_get(r, "result"), "loss_curve"), (size_t)e);
            if (json_is_number(v)) sum += json_number_value(v), n++;
          }
        table[(size_t)e * (size_t)l->n_lines + (size_t)k] = n ? sum / n : NAN;
        has[k] |= n > 0;
      }
    }
    for (int e = 0; e < epochs; e++) {
      fprintf(f, "%d", e + 1);
      for (int k = 0; k < l->n_lines; k++) tsv_num(f, table[(size_t)e * (size_t)l->n_lines + (size_t)k]);
      fputc('\n', f);
    }
    free(table);
    if (fclose(f) != 0) st = smx_fail(SMX_ERR_IO, "cannot write %s", path);
    if (st != SMX_OK) {
      free(has);
      break;
    }
    if (!gp) {
      gp = fopen(fig->script, "w");
      if (!gp) {
        free(has);
        st = smx_fail(SMX_ERR_IO, "cannot write %s", fig->script);
        break;
      }
      script_head(gp, "Training loss per epoch, one line per mixer, one panel per task point, at one d_model: the mean "
                      "over the seeds of each mixer's best learning rate.", base, n_used, fig->title);
      fprintf(gp, "unset logscale x\nset format x '%%g'\nset logscale y\nset format y '%%g'\nset key right top\n"
                  "set xlabel 'epoch'\nset ylabel 'training loss'\n");
    }
    const smx_group_score *g0 = &s->g[l->panel_first[p]];
    char ptitle[300];
    snprintf(ptitle, sizeof ptitle, "%s %s", g0->task, g0->params);
    fprintf(gp, "set title ");
    gp_str(gp, ptitle);
    /* whole epochs on the axis; points only while they stay apart */
    fprintf(gp, " noenhanced\nset xtics %s\nplot", epochs <= 12 ? "1" : "autofreq");
    int first = 1;
    for (int k = 0; k < l->n_lines; k++) {
      if (!has[k]) continue;
      fprintf(gp, "%s ", first ? "" : ", \\\n    ");
      gp_str(gp, path);
      fprintf(gp, " using 1:%d with %s %s %d title columnhead(%d)", 2 + k, epochs <= 40 ? "linespoints" : "lines",
              k < 6 ? "ls" : "lt", k + 1, 2 + k);
      first = 0;
    }
    fprintf(gp, "\n");
    free(has);
  }
  if (gp) {
    fprintf(gp, "unset multiplot\n");
    if (fclose(gp) != 0 && st == SMX_OK) st = smx_fail(SMX_ERR_IO, "cannot write %s", fig->script);
    if (st == SMX_OK) *made = 1;
  }
  return st;
}

/* ---- tables of mixers x tasks (H3's Table 2, LRA's Table 1) ---- */

/* A table's row name for group i: its label, and what tells it apart from groups of other d. */
static void row_name(const smx_sweep_scores *s, size_t i, char *name, size_t n) {
  char extra[300];
  smx_group_extra(s, i, 1, extra, sizeof extra);
  snprintf(name, n, "%s%s%s%s", s->g[i].label, extra[0] ? " [" : "", extra, extra[0] ? "]" : "");
}

/* The rows (name, d) of the groups `in_table` takes, in score order, without repeats. */
static int table_rows(const smx_sweep_scores *s, int (*in_table)(const smx_group_score *), char names[64][600], int64_t ds[64]) {
  int rows = 0;
  for (size_t i = 0; i < s->n && rows < 64; i++) {
    if (!in_table(&s->g[i])) continue;
    char name[600];
    row_name(s, i, name, sizeof name);
    int dup = 0;
    for (int r = 0; r < rows; r++) dup |= !strcmp(names[r], name) && ds[r] == s->g[i].d;
    if (!dup) snprintf(names[rows], 600, "%s", name), ds[rows++] = s->g[i].d;
  }
  return rows;
}

/* "task `params`, ..." of the table's groups, each point once */
static void table_points(FILE *f, const smx_sweep_scores *s, int (*in_table)(const smx_group_score *)) {
  int shown = 0;
  for (size_t i = 0; i < s->n; i++) {
    const smx_group_score *g = &s->g[i];
    if (!in_table(g)) continue;
    int seen = 0;
    for (size_t j = 0; j < i; j++) seen |= !strcmp(s->g[j].task, g->task) && !strcmp(s->g[j].params, g->params);
    if (!seen) fprintf(f, "%s%s `%s`", shown++ ? ", " : "", g->task, g->params);
  }
}

static int h3_task(const smx_group_score *g) { return !strcmp(g->task, "induction_head") || !strcmp(g->task, "assoc_recall"); }

/* H3 Table 2, test accuracy in % (reference/tasks.md §2; from memory of the paper, marked †). */
static const struct {
  const char *model, *mixer;
  double ih, ar;
} h3_paper[] = {{"Random", NULL, 5.0, 25.0},     {"S4D", NULL, 35.6, 86.0},
                {"Gated State Spaces", NULL, 6.8, 78.0}, {"H3", "h3", 100.0, 99.8},
                {"Attention", "attention", 100.0, 100.0}};

static void h3_cell(FILE *f, const smx_group_score *g) {
  if (!g) {
    fprintf(f, " — |");
    return;
  }
  fprintf(f, " %.1f ± %.1f [%.1f, %.1f], n = %d%s |", 100 * g->best.mean, 100 * g->best.sd, 100 * g->best.min,
          100 * g->best.max, g->best.n, g->best.n < SMX_SCORE_MIN_SEEDS ? " (n < 3)" : "");
}

int sweep_h3_table(FILE *f, const smx_sweep_scores *s) {
  static const char *const tasks[2] = {"induction_head", "assoc_recall"};
  char names[64][600];
  int64_t ds[64];
  int rows = table_rows(s, h3_task, names, ds);
  if (!rows) return 0;
  fprintf(f, "Test accuracy (%%, last token) of 2-layer models at each mixer's best learning rate: mean ± sd [min, "
             "max] over seeds; the paper's H3 Table 2 beside († from memory of the paper, reference/tasks.md §2). "
             "Points: ");
  table_points(f, s, h3_task);
  fprintf(f, " (paper: induction head V = 20, L = 30; associative recall V = 10, L = 20).\n\n");
  fprintf(f, "| mixer | d | induction head | associative recall | paper: induction head | paper: associative recall |\n");
  fprintf(f, "|---|---|---|---|---|---|\n");
  for (int r = 0; r < rows; r++) {
    const smx_group_score *cell[2] = {NULL, NULL};
    for (size_t i = 0; i < s->n; i++) {
      const smx_group_score *g = &s->g[i];
      char name[600];
      row_name(s, i, name, sizeof name);
      if (g->d != ds[r] || strcmp(name, names[r])) continue;
      for (int t = 0; t < 2; t++)
        if (!strcmp(g->task, tasks[t]) && !cell[t]) cell[t] = g;
    }
    const char *mixer = (cell[0] ? cell[0] : cell[1])->mixer;
    fprintf(f, "| `%s` | %lld |", names[r], (long long)ds[r]);
    h3_cell(f, cell[0]);
    h3_cell(f, cell[1]);
    int known = 0;
    for (size_t k = 0; k < sizeof h3_paper / sizeof h3_paper[0]; k++)
      if (h3_paper[k].mixer && !strcmp(h3_paper[k].mixer, mixer)) {
        fprintf(f, " %.1f | %.1f |\n", h3_paper[k].ih, h3_paper[k].ar);
        known = 1;
      }
    if (!known) fprintf(f, " — | — |\n");
  }
  for (size_t k = 0; k < sizeof h3_paper / sizeof h3_paper[0]; k++) {
    int measured = 0;
    for (size_t i = 0; i < s->n && h3_paper[k].mixer; i++)
      measured |= !strcmp(s->g[i].mixer, h3_paper[k].mixer) &&
                  (!strcmp(s->g[i].task, tasks[0]) || !strcmp(s->g[i].task, tasks[1]));
    if (!measured)
      fprintf(f, "| %s (paper only) | | — | — | %.1f | %.1f |\n", h3_paper[k].model, h3_paper[k].ih, h3_paper[k].ar);
  }
  return rows;
}

/* ---- Long Range Arena: LRA's Table 1 in seqmix's terms ---- */

/* The LRA column of a task (0..5: ListOps, Text, Retrieval, Image, Pathfinder, Path-X), -1 for
 * another task. Pathfinder at size 128 is Path-X. */
static int lra_column(const smx_group_score *g) {
  if (!strcmp(g->task, "listops") || !strcmp(g->task, "lra_listops")) return 0;
  if (!strcmp(g->task, "lra_text")) return 1;
  if (!strcmp(g->task, "lra_retrieval")) return 2;
  if (!strcmp(g->task, "lra_image")) return 3;
  if (!strcmp(g->task, "pathx")) return 5;
  if (!strcmp(g->task, "pathfinder")) return param_value(g->params, "size") == 128 ? 5 : 4;
  return -1;
}

static int lra_task(const smx_group_score *g) { return lra_column(g) >= 0; }

/* Published test accuracies (%), reference/tasks.md §3.8; -1: failed or not reported. */
static const struct {
  const char *model, *source;
  double acc[6];
} lra_paper[] = {{"Random (chance)", "", {10, 50, 50, 10, 50, 50}},
                 {"Transformer", "LRA paper Table 1", {36.37, 64.27, 57.46, 42.44, 71.40, -1}},
                 {"Performer", "LRA README", {18.01, 65.40, 53.82, 42.77, 77.05, -1}},
                 {"S4", "S4 paper Table 4", {59.60, 86.82, 90.90, 88.65, 94.20, 96.35}},
                 {"S5", "S5 Table 1", {62.15, 89.31, 91.40, 88.00, 95.33, 98.58}},
                 {"Mega", "Mega Table 2", {63.14, 90.43, 91.25, 90.44, 96.01, 97.98}}};

int sweep_lra_table(FILE *f, const smx_sweep_scores *s) {
  static const char *const col[6] = {"ListOps", "Text", "Retrieval", "Image", "Pathfinder", "Path-X"};
  char names[64][600];
  int64_t ds[64];
  int rows = table_rows(s, lra_task, names, ds), used[6] = {0};
  if (!rows) return 0;
  for (size_t i = 0; i < s->n; i++)
    if (lra_task(&s->g[i])) used[lra_column(&s->g[i])] = 1;
  fprintf(f, "Test accuracy (%%) at each model's best learning rate: mean ± sd over seeds (n); the published numbers "
             "below (reference/tasks.md §3.8) are at LRA's full lengths and data with much larger training budgets, so "
             "they compare only with the `lra-*-paper` presets. Points: ");
  table_points(f, s, lra_task);
  fprintf(f, ".\n\n| model | d |");
  for (int c = 0; c < 6; c++)
    if (used[c]) fprintf(f, " %s |", col[c]);
  fprintf(f, "\n|---|---|");
  for (int c = 0; c < 6; c++)
    if (used[c]) fprintf(f, "---|");
  fprintf(f, "\n");
  for (int r = 0; r < rows; r++) {
    const smx_group_score *cell[6] = {NULL};
    for (size_t i = 0; i < s->n; i++) {
      const smx_group_score *g = &s->g[i];
      int c = lra_column(g);
      if (c < 0 || g->d != ds[r] || cell[c]) continue;
      char name[600];
      row_name(s, i, name, sizeof name);
      if (!strcmp(name, names[r])) cell[c] = g;
    }
    fprintf(f, "| `%s` | %lld |", names[r], (long long)ds[r]);
    for (int c = 0; c < 6; c++) {
      if (!used[c]) continue;
      if (!cell[c]) fprintf(f, " — |");
      else
        fprintf(f, " %.1f ± %.1f (%d) |", 100 * cell[c]->best.mean, 100 * cell[c]->best.sd, cell[c]->best.n);
    }
    fprintf(f, "\n");
  }
  for (size_t k = 0; k < sizeof lra_paper / sizeof lra_paper[0]; k++) {
    if (lra_paper[k].source[0]) fprintf(f, "| %s (paper: %s) | |", lra_paper[k].model, lra_paper[k].source);
    else fprintf(f, "| %s | |", lra_paper[k].model);
    for (int c = 0; c < 6; c++) {
      if (!used[c]) continue;
      if (lra_paper[k].acc[c] < 0) fprintf(f, " FAIL |");
      else fprintf(f, " %.2f |", lra_paper[k].acc[c]);
    }
    fprintf(f, "\n");
  }
  return rows;
}

/* ---- the evaluation grid: exact match by (L, depth), one heat map per group ---- */

#define MAX_GRID 16 /* lengths, depths */

typedef struct grid_axes {
  double L[MAX_GRID], depth[MAX_GRID];
  int nL, nd;
} grid_axes;

static void axis_add(double *xs, int *n, double x) {
  for (int k = 0; k < *n; k++)
    if (xs[k] == x) return;
  if (*n >= MAX_GRID) return;
  int k = (*n)++;
  for (; k > 0 && xs[k - 1] > x; k--) xs[k] = xs[k - 1];
  xs[k] = x;
}

/* The group's evaluations with a depth: per cell the mean over its seeds of exact_match (NaN where
 * none), and the seeds counted; 0 when the group has none. */
static int grid_cells(const smx_group_score *g, const grid_axes *ax, double mean[MAX_GRID][MAX_GRID], int n[MAX_GRID][MAX_GRID]) {
  double sum[MAX_GRID][MAX_GRID] = {{0}};
  int any = 0;
  memset(n, 0, sizeof(int) * MAX_GRID * MAX_GRID);
  size_t r, e;
  json_t *run, *ev;
  json_array_foreach(g->runs, r, run) json_array_foreach(json_object_get(json_object_get(run, "result"), "evals"), e, ev) {
    json_t *L = json_object_get(ev, "L"), *dep = json_object_get(ev, "depth"), *x = json_object_get(ev, "exact_match");
    if (!json_is_number(L) || !json_is_number(dep) || !json_is_number(x)) continue;
    for (int i = 0; i < ax->nL; i++)
      for (int j = 0; j < ax->nd; j++)
        if (ax->L[i] == json_number_value(L) && ax->depth[j] == json_number_value(dep))
          sum[i][j] += json_number_value(x), n[i][j]++, any = 1;
  }
  for (int i = 0; i < MAX_GRID; i++)
    for (int j = 0; j < MAX_GRID; j++) mean[i][j] = n[i][j] ? sum[i][j] / n[i][j] : NAN;
  return any;
}

static void depth_label(char *buf, size_t n, double depth) {
  if (depth < 0) snprintf(buf, n, "uniform");
  else snprintf(buf, n, "%g%%", depth);
}

/* A panel's title: the mixer label and what else tells the group apart (head), the trained task
 * point, d and the seeds (tail). */
static void grid_title(const smx_sweep_scores *s, size_t i, char *head, size_t hn, char *tail, size_t tn) {
  const smx_group_score *g = &s->g[i];
  char extra[300];
  smx_group_extra(s, i, 1, extra, sizeof extra);
  snprintf(head, hn, "%s%s%s%s", g->label, extra[0] ? " [" : "", extra, extra[0] ? "]" : "");
  snprintf(tail, tn, "trained %s %s, d = %lld, %d seed%s", g->task, g->params, (long long)g->d, g->best.n,
           g->best.n == 1 ? "" : "s");
}

/* needle_grid.{tsv per panel, gp, md}: for the groups whose runs hold evaluations with a depth
 * (train.h: the evaluation grid, the needle-grid preset), mean exact match over seeds by
 * (L, depth). 0 figures when no group has them. */
static smx_status needle_grid(const smx_sweep_scores *s, const char *dir, sweep_figure *fig, int *made) {
  *made = 0;
  grid_axes ax = {0};
  size_t panels[MAX_PANELS];
  int np = 0;
  for (size_t i = 0; i < s->n; i++) {
    int has = 0;
    size_t r, e;
    json_t *run, *ev;
    json_array_foreach(s->g[i].runs, r, run) json_array_foreach(json_object_get(json_object_get(run, "result"), "evals"), e, ev) {
      json_t *L = json_object_get(ev, "L"), *dep = json_object_get(ev, "depth");
      if (!json_is_number(L) || !json_is_number(dep)) continue;
      axis_add(ax.L, &ax.nL, json_number_value(L));
      axis_add(ax.depth, &ax.nd, json_number_value(dep));
      has = 1;
    }
    if (has && np < MAX_PANELS) panels[np++] = i;
  }
  if (!np) return SMX_OK;
  static double mean[MAX_GRID][MAX_GRID];
  static int cnt[MAX_GRID][MAX_GRID];
  char base[600], path[700], title[600], tail[400], lab[32];
  snprintf(base, sizeof base, "%s/needle_grid", dir);
  snprintf(fig->name, sizeof fig->name, "needle_grid");
  snprintf(fig->title, sizeof fig->title, "exact match by evaluation length and needle depth, mean over seeds at the best learning rate%s%s",
           s->hardware[0] ? " — " : "", s->hardware);
  /* the Markdown table of the same cells */
  char *md = NULL;
  size_t md_len = 0;
  FILE *m = open_memstream(&md, &md_len);
  if (!m) return smx_fail(SMX_ERR_NOMEM, "cannot write the needle grid");
  fprintf(m, "# Needle grid — exact match by length L and depth\n\nPer group (mixer and model config, at its best "
             "learning rate): the mean over seeds of the share of test examples whose whole answer is right, "
             "evaluated after training at each (L, depth) (docs/sweeps.md). — : not evaluated.\n");
  smx_status st = SMX_OK;
  for (int p = 0; p < np && st == SMX_OK; p++) {
    grid_cells(&s->g[panels[p]], &ax, mean, cnt);
    grid_title(s, panels[p], title, sizeof title, tail, sizeof tail);
    fprintf(m, "\n## %s — %s\n\n| depth \\ L |", title, tail);
    for (int i = 0; i < ax.nL; i++) fprintf(m, " %g |", ax.L[i]);
    fprintf(m, "\n|---|");
    for (int i = 0; i < ax.nL; i++) fprintf(m, "---:|");
    fputc('\n', m);
    for (int j = 0; j < ax.nd; j++) {
      depth_label(lab, sizeof lab, ax.depth[j]);
      fprintf(m, "| %s |", lab);
      for (int i = 0; i < ax.nL; i++)
        if (cnt[i][j]) fprintf(m, " %.3f |", mean[i][j]);
        else fprintf(m, " — |");
      fputc('\n', m);
    }
    snprintf(path, sizeof path, "%s_%d.tsv", base, p + 1);
    FILE *f = fopen(path, "w");
    if (!f) {
      st = smx_fail(SMX_ERR_IO, "cannot write %s", path);
      break;
    }
    /* one block per length (gnuplot's grid order for `with image`), NaN where not evaluated */
    fprintf(f, "L_index\tdepth_index\texact_match\tL\tdepth\tseeds\n");
    for (int i = 0; i < ax.nL; i++) {
      for (int j = 0; j < ax.nd; j++) {
        fprintf(f, "%d\t%d", i, j);
        tsv_num(f, mean[i][j]);
        fprintf(f, "\t%g\t%g\t%d\n", ax.L[i], ax.depth[j], cnt[i][j]);
      }
      fputc('\n', f);
    }
    if (fclose(f) != 0) st = smx_fail(SMX_ERR_IO, "cannot write %s", path);
  }
  fclose(m);
  if (st == SMX_OK) {
    snprintf(path, sizeof path, "%s.md", base);
    st = smx_write_file_atomic(path, md, md_len);
  }
  free(md);
  if (st != SMX_OK) return st;
  snprintf(fig->script, sizeof fig->script, "%s.gp", base);
  FILE *f = fopen(fig->script, "w");
  if (!f) return smx_fail(SMX_ERR_IO, "cannot write %s", fig->script);
  script_head(f, "Exact match (mean over seeds) by evaluation length L and needle depth, one heat map per mixer "
                 "and model config; cells not evaluated are left blank.", base, np, fig->title);
  fprintf(f, "unset logscale x\nset format x '%%g'\nunset grid\nunset key\nset xlabel 'evaluation length L'\n"
             "set ylabel 'needle depth'\nset cbrange [0:1]\nset cblabel 'exact match'\n"
             "set palette defined (0 '#f7fbff', 0.5 '#6baed6', 1 '#08306b')\n");
  fprintf(f, "set xrange [-0.5:%g]\nset yrange [-0.5:%g]\nset xtics (", ax.nL - 0.5, ax.nd - 0.5);
  for (int i = 0; i < ax.nL; i++) fprintf(f, "%s'%g' %d", i ? ", " : "", ax.L[i], i);
  fprintf(f, ")\nset ytics (");
  for (int j = 0; j < ax.nd; j++) { /* a tic label is a format: its % written twice */
    if (ax.depth[j] < 0) fprintf(f, "%s'uniform' %d", j ? ", " : "", j);
    else fprintf(f, "%s'%g%%%%' %d", j ? ", " : "", ax.depth[j], j);
  }
  fprintf(f, ")\n");
  for (int p = 0; p < np; p++) {
    grid_title(s, panels[p], title, sizeof title, tail, sizeof tail);
    fprintf(f, "set title ");
    gp_str(f, title);
    fprintf(f, ".\"\\n\".");
    gp_str(f, tail);
    fprintf(f, " noenhanced font ',8'\n");
    snprintf(path, sizeof path, "%s_%d.tsv", base, p + 1);
    fprintf(f, "plot ");
    gp_str(f, path);
    /* the value in each evaluated cell, white on the dark half of the palette */
    fprintf(f, " using 1:2:3 skip 1 with image, '' using 1:2:($6 > 0 ? sprintf('%%.2f', $3) : ''):($3 > 0.55 ? 0xffffff : 0x000000) "
               "skip 1 with labels tc rgb variable font ',9'\n");
  }
  fprintf(f, "unset multiplot\n");
  if (fclose(f) != 0) return smx_fail(SMX_ERR_IO, "cannot write %s", fig->script);
  *made = 1;
  return SMX_OK;
}

smx_status sweep_plots(const smx_sweep_scores *s, const char *dir, int64_t loss_d, sweep_figure figs[SWEEP_MAX_FIGURES], int *n_figs,
                       char *h3_md, size_t h3_n, char *lra_md, size_t lra_n, int *no_gnuplot) {
  *n_figs = 0;
  *no_gnuplot = 0;
  if (h3_n) h3_md[0] = 0;
  if (lra_n) lra_md[0] = 0;
  smx_status st = smx_mkdir_p(dir);
  if (st != SMX_OK) return st;
  if (loss_d <= 0) loss_d = default_loss_d(s);
  else {
    int found = 0;
    for (size_t i = 0; i < s->n; i++) found |= s->g[i].d == loss_d;
    if (!found) return smx_fail(SMX_ERR_INVALID, "no scored group has d = %lld", (long long)loss_d);
  }
  layout l;
  if ((st = make_layout(s, &l)) != SMX_OK) return st;
  int made = 0;
  memset(figs, 0, SWEEP_MAX_FIGURES * sizeof *figs);
  if ((st = acc_vs_d(s, &l, dir, &figs[*n_figs], &made)) == SMX_OK) {
    *n_figs += made;
    if ((st = acc_vs_len(s, &l, dir, &figs[*n_figs], &made)) == SMX_OK) {
      *n_figs += made;
      if ((st = loss_curves(s, &l, dir, loss_d, &figs[*n_figs], &made)) == SMX_OK) {
        *n_figs += made;
        if ((st = needle_grid(s, dir, &figs[*n_figs], &made)) == SMX_OK) *n_figs += made;
      }
    }
  }
  layout_free(&l);
  for (int k = 0; k < *n_figs && st == SMX_OK && !*no_gnuplot; k++) {
    char png[740], svg[740];
    snprintf(png, sizeof png, "%.*s.png", (int)strlen(figs[k].script) - 3, figs[k].script);
    snprintf(svg, sizeof svg, "%.*s.svg", (int)strlen(figs[k].script) - 3, figs[k].script);
    if ((st = gnuplot_render(figs[k].script, png, no_gnuplot)) == SMX_OK && !*no_gnuplot &&
        (st = gnuplot_render(figs[k].script, svg, no_gnuplot)) == SMX_OK) {
      snprintf(figs[k].png, sizeof figs[k].png, "%s", png);
      snprintf(figs[k].svg, sizeof figs[k].svg, "%s", svg);
    }
  }
  if (st != SMX_OK) return st;
  /* H3 Table 2 */
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return smx_fail(SMX_ERR_NOMEM, "cannot write the H3 table");
  fprintf(f, "# H3 Table 2 — induction head and associative recall\n\n");
  int rows = sweep_h3_table(f, s);
  fclose(f);
  if (rows) {
    char path[700];
    snprintf(path, sizeof path, "%s/h3_table2.md", dir);
    st = smx_write_file_atomic(path, text, len);
    if (st == SMX_OK && h3_n) snprintf(h3_md, h3_n, "%s", path);
  }
  free(text);
  if (st != SMX_OK) return st;
  /* LRA Table 1 */
  text = NULL, len = 0;
  if (!(f = open_memstream(&text, &len))) return smx_fail(SMX_ERR_NOMEM, "cannot write the LRA table");
  fprintf(f, "# Long Range Arena — test accuracy by task\n\n");
  rows = sweep_lra_table(f, s);
  fclose(f);
  if (rows) {
    char path[700];
    snprintf(path, sizeof path, "%s/lra_table.md", dir);
    st = smx_write_file_atomic(path, text, len);
    if (st == SMX_OK && lra_n) snprintf(lra_md, lra_n, "%s", path);
  }
  free(text);
  return st;
}
