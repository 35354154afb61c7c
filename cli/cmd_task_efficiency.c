/* seqmix task efficiency: long-context efficiency per architecture (include/seqmix/efficiency.h):
 * prefill and decode tokens/s and the KV cache / state bytes per sequence against the context
 * length, and the longest context that fits a memory budget. docs/task_runner.md, "Long-context
 * efficiency".
 *
 *   seqmix task efficiency                                   # every architecture, 1K..64K, 120 s cap
 *   seqmix task efficiency --arch attention,mixcon-1:7 --ctx 4096,16384 --out eff.json --plots DIR
 *
 * Prints a Markdown table per measure on stdout and a progress line per point on stderr; --out
 * writes everything as JSON (kind "efficiency", written atomically); --plots draws prefill and
 * decode tokens/s and the state bytes against the context (PNG + SVG).
 *
 * --device cuda times the prefill on the GPU (the model's CUDA forward: flash attention, the
 * mixers' CUDA layers), to 256K tokens within the default limits; the decoder runs on the CPU
 * only, so a CUDA document's decode columns are empty and say why, and claim 9 (which needs both)
 * stays unjudged from it. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "seqmix/device.h"
#include "seqmix/efficiency.h"
#include "seqmix/hardware.h"
#include "seqmix/json_io.h"
#include "seqmix/model.h"

#define MAX_CTX 32
#define MAX_ARCH 16
#define BIG_CTX 262144 /* MixCon's 256K */

typedef struct point {
  int64_t ctx;
  double prefill_s, decode_s; /* NAN: not measured (see note) */
  double state_bytes;         /* NAN: the architecture does not decode */
  char prefill_note[96], decode_note[96];
} point;

typedef struct arch_run {
  const smx_eff_arch *a;
  smx_model_config mc;
  size_t params;
  point p[MAX_CTX];
  double state_big;     /* bytes at BIG_CTX */
  int64_t fits_budget;  /* longest context within the budget, -1 none, -2 not known */
} arch_run;

static int parse_list(const char *text, int64_t *v, int cap, int *n) {
  *n = 0;
  const char *p = text;
  while (*p) {
    char *end;
    errno = 0;
    long long x = strtoll(p, &end, 10);
    if (end == p || errno || x < 1 || x > (1LL << 24) || (*end && *end != ',') || *n == cap)
      return cli_error("seqmix task efficiency: --ctx '%s' must be up to %d comma-separated lengths in 1..16777216", text, cap);
    if (*n && x <= v[*n - 1]) return cli_error("seqmix task efficiency: --ctx lengths must increase ('%s')", text);
    v[(*n)++] = x;
    p = *end ? end + 1 : end;
  }
  return *n ? 0 : cli_error("seqmix task efficiency: --ctx is empty");
}

/* The prefill time at ctx predicted from the two last measured points (their growth exponent,
 * held in [1, 2]: linear for the recurrent and FFT kinds, quadratic for attention). */
static double predict(const point *p, int i) {
  int a = -1, b = -1;
  for (int k = i - 1; k >= 0 && b < 0; k--)
    if (isfinite(p[k].prefill_s)) {
      if (a < 0) a = k;
      else b = k;
    }
  if (a < 0) return 0;
  double e = 2;
  if (b >= 0 && p[b].prefill_s > 0) e = log(p[a].prefill_s / p[b].prefill_s) / log((double)p[a].ctx / (double)p[b].ctx);
  e = e < 1 ? 1 : e > 2 ? 2 : e;
  return p[a].prefill_s * pow((double)p[i].ctx / (double)p[a].ctx, e);
}

static void measure(arch_run *r, int n_ctx, int reps, int64_t tokens, double limit) {
  int on_gpu = r->mc.device == SMX_DEV_CUDA;
  for (int i = 0; i < n_ctx; i++) {
    point *p = &r->p[i];
    size_t sb = 0;
    p->state_bytes = smx_model_state_bytes(&r->mc, p->ctx, &sb) == SMX_OK ? (double)sb : NAN;
    double guess = predict(r->p, i);
    smx_status s;
    if (guess > limit) {
      snprintf(p->prefill_note, sizeof p->prefill_note, "skipped: ~%.0f s predicted > %.0f s", guess, limit);
    } else if ((s = smx_eff_prefill(&r->mc, p->ctx, reps, &p->prefill_s)) != SMX_OK) {
      snprintf(p->prefill_note, sizeof p->prefill_note, "%s", s == SMX_ERR_NOMEM ? "out of memory" : smx_last_error());
    }
    if (isnan(p->state_bytes)) snprintf(p->decode_note, sizeof p->decode_note, "no decode step");
    else if (on_gpu) snprintf(p->decode_note, sizeof p->decode_note, "the decoder runs on the CPU only (--device cpu)");
    else if ((s = smx_eff_decode(&r->mc, p->ctx, tokens, &p->decode_s)) != SMX_OK)
      snprintf(p->decode_note, sizeof p->decode_note, "%s", s == SMX_ERR_NOMEM ? "out of memory" : smx_last_error());
    smx_clear_error();
    fprintf(stderr, "  %-11s ctx %7lld  prefill %10.1f tok/s  decode %10.1f tok/s\n", r->a->name, (long long)p->ctx,
            isfinite(p->prefill_s) ? (double)p->ctx / p->prefill_s : NAN, isfinite(p->decode_s) ? 1.0 / p->decode_s : NAN);
    if (p->prefill_note[0]) fprintf(stderr, "              prefill: %s\n", p->prefill_note);
    if (p->decode_note[0]) fprintf(stderr, "              decode: %s\n", p->decode_note);
  }
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *to_json(const arch_run *runs, int n_arch, int n_ctx, const smx_eff_shape *sh, int reps, int64_t tokens,
                       double budget, const smx_hardware *hw, smx_device dev) {
  json_t *doc = smx_json_new_doc("efficiency");
  if (!doc) return NULL;
  json_object_set_new(doc, "hardware_id", json_string(hw->hardware_id));
  json_object_set_new(doc, "threads", json_integer(hw->threads_used));
  json_object_set_new(doc, "device", json_string(smx_device_name(dev))); /* claim 9 is judged on "cuda" documents */
  json_object_set_new(doc, "shape", json_pack("{s:I, s:I, s:I, s:I, s:I}", "vocab", (json_int_t)sh->vocab, "d", (json_int_t)sh->d,
                                              "layers", (json_int_t)sh->layers, "heads", (json_int_t)sh->heads, "d_ff",
                                              (json_int_t)sh->d_ff));
  json_object_set_new(doc, "prefill_repetitions", json_integer(reps));
  json_object_set_new(doc, "decode_tokens", json_integer(tokens));
  json_object_set_new(doc, "budget_bytes", json_real(budget));
  json_t *arr = json_array();
  for (int a = 0; a < n_arch; a++) {
    const arch_run *r = &runs[a];
    json_t *pts = json_array();
    for (int i = 0; i < n_ctx; i++) {
      const point *p = &r->p[i];
      json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "ctx", (json_int_t)p->ctx, "prefill_s", num_or_null(p->prefill_s),
                            "prefill_tokens_per_s", num_or_null((double)p->ctx / p->prefill_s), "decode_s_per_token",
                            num_or_null(p->decode_s), "decode_tokens_per_s", num_or_null(1.0 / p->decode_s), "state_bytes",
                            num_or_null(p->state_bytes));
      if (p->prefill_note[0]) json_object_set_new(o, "prefill_note", json_string(p->prefill_note));
      if (p->decode_note[0]) json_object_set_new(o, "decode_note", json_string(p->decode_note));
      json_array_append_new(pts, o);
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o}", "name", r->a->name, "summary", r->a->summary, "mixer",
                          r->mc.mixer, "channel", r->mc.channel, "options", r->mc.options, "params", (json_int_t)r->params,
                          "state_bytes_at_256k", num_or_null(r->state_big), "max_context_in_budget",
                          r->fits_budget == -2 ? json_null() : json_integer(r->fits_budget), "points", pts);
    json_array_append_new(arr, o);
  }
  json_object_set_new(doc, "architectures", arr);
  return doc;
}

static void table(FILE *f, const arch_run *runs, int n_arch, int n_ctx, const char *what) {
  fprintf(f, "\n%s\n\n| architecture |", what);
  for (int i = 0; i < n_ctx; i++) fprintf(f, " %lld |", (long long)runs[0].p[i].ctx);
  fprintf(f, "\n|---|");
  for (int i = 0; i < n_ctx; i++) fprintf(f, "---:|");
  fprintf(f, "\n");
  for (int a = 0; a < n_arch; a++) {
    fprintf(f, "| %s |", runs[a].a->name);
    for (int i = 0; i < n_ctx; i++) {
      const point *p = &runs[a].p[i];
      double v = !strcmp(what, "Prefill tokens/s") ? (double)p->ctx / p->prefill_s
                 : !strcmp(what, "Decode tokens/s") ? 1.0 / p->decode_s
                                                    : p->state_bytes / (1024.0 * 1024.0);
      if (isfinite(v)) fprintf(f, " %.4g |", v);
      else fprintf(f, " – |");
    }
    fprintf(f, "\n");
  }
}

static int write_csv(const char *path, const arch_run *runs, int n_arch, int n_ctx, int which) {
  FILE *f = fopen(path, "w");
  if (!f) return cli_error("seqmix task efficiency: cannot write %s: %s", path, strerror(errno));
  fprintf(f, "context");
  for (int a = 0; a < n_arch; a++) fprintf(f, ",%s", runs[a].a->name);
  fprintf(f, "\n");
  for (int i = 0; i < n_ctx; i++) {
    fprintf(f, "%lld", (long long)runs[0].p[i].ctx);
    for (int a = 0; a < n_arch; a++) {
      const point *p = &runs[a].p[i];
      double v = which == 0 ? (double)p->ctx / p->prefill_s : which == 1 ? 1.0 / p->decode_s : p->state_bytes;
      if (isfinite(v)) fprintf(f, ",%.6g", v);
      else fprintf(f, ",NaN");
    }
    fprintf(f, "\n");
  }
  return fclose(f) ? cli_error("seqmix task efficiency: cannot write %s", path) : 0;
}

/* Draws into dir (created before measuring); its "wrote" lines go to stderr: stdout holds only the tables. */
static int plots(const char *dir, const arch_run *runs, int n_arch, int n_ctx, const char *hw) {
  static const char *const name[3] = {"prefill", "decode", "state"};
  static const char *const title[3] = {"prefill tokens/s (one sequence)", "decode tokens/s (one sequence)",
                                       "KV cache and state bytes per sequence"};
  static const char *const script[3] = {"tokens_vs_L.gp", "tokens_vs_L.gp", "state_vs_context.gp"};
  for (int w = 0; w < 3; w++) {
    char csv[1200], out[1200], vars[4000];
    snprintf(csv, sizeof csv, "%s/efficiency_%s.csv", dir, name[w]);
    int rc = write_csv(csv, runs, n_arch, n_ctx, w);
    if (rc) return rc;
    for (int e = 0; e < 2; e++) {
      snprintf(out, sizeof out, "%s/efficiency_%s.%s", dir, name[w], e ? "svg" : "png");
      snprintf(vars, sizeof vars, "dir='%s'; in='%s'; out='%s'; title='%s — %s'; xlabel='context (tokens)'; ncol=%d",
               plots_script_dir(), csv, out, title[w], hw, n_arch + 1);
      smx_status s = cli_gnuplot(script[w], vars);
      if (s != SMX_OK) return cli_fail(s);
      fprintf(stderr, "wrote %s\n", out);
    }
  }
  return 0;
}

int task_efficiency(int argc, char **argv) {
  const char *arch_s = NULL, *ctx_s = "1024,2048,4096,8192,16384,32768,65536", *d_s = "128", *layers_s = "8", *heads_s = "4",
             *mlp_s = "512", *tokens_s = "16", *reps_s = "3", *limit_s = "120", *budget_s = "80", *threads_s = "0", *out = NULL,
             *plot_dir = NULL, *md_path = NULL, *device_s = "cpu";
  int help = 0;
  const cli_opt opts[] = {
      {"arch", "LIST", "architectures, comma-separated (default: all; seqmix task efficiency --help lists them)", &arch_s, NULL},
      {"ctx", "LIST", "context lengths, increasing (default 1024,2048,...,65536)", &ctx_s, NULL},
      {"d", "N", "model width (default 128)", &d_s, NULL},
      {"layers", "N", "layers (default 8: MixCon's hybrid block)", &layers_s, NULL},
      {"heads", "N", "attention heads (default 4)", &heads_s, NULL},
      {"mlp", "F", "MLP and MoE width (default 512; MoE: 8 experts, top 2, F/2 each)", &mlp_s, NULL},
      {"decode-tokens", "N", "timed decode steps per point, median taken (default 16)", &tokens_s, NULL},
      {"repetitions", "N", "timed prefill passes per point, median taken (default 3)", &reps_s, NULL},
      {"prefill-limit", "S", "skip a prefill predicted to take longer than S seconds (default 120)", &limit_s, NULL},
      {"budget-gib", "G", "memory budget for the longest context in fp32 (default 80: one A800/H100)", &budget_s, NULL},
      {"threads", "N", "OpenMP threads (default 0: all; decode steps are small, so contention costs them most)",
       &threads_s, NULL},
      {"device", "D", "cpu (default) or cuda: where the prefill runs (the decoder runs on the CPU only: decode is measured with cpu)",
       &device_s, NULL},
      {"out", "FILE", "also write the results as JSON (written atomically)", &out, NULL},
      {"plots", "DIR", "draw prefill, decode and state against the context (PNG + SVG)", &plot_dir, NULL},
      {"md", "FILE", "write the Markdown tables to FILE (atomically) instead of standard output", &md_path, NULL},
      {0}};
  if (cli_parse("task efficiency", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    char desc[3000];
    size_t o = (size_t)snprintf(desc, sizeof desc,
                                "Measures, per architecture of the task runner's model, the prefill (one forward over\n"
                                "the context) and decode (one more token after it) throughput of one sequence, and the fp32\n"
                                "bytes of KV cache and state it holds, against the context length; and the longest context\n"
                                "whose state fits the budget beside the parameters. Architectures:\n");
    for (int i = 0; i < smx_eff_arch_count() && o < sizeof desc; i++)
      o += (size_t)snprintf(desc + o, sizeof desc - o, "  %-11s %s\n", smx_eff_arch_at(i)->name, smx_eff_arch_at(i)->summary);
    cli_usage("task efficiency", "[--arch LIST] [--ctx LIST] [--d N] [--layers N] [--out FILE] [--plots DIR] ...", desc, opts);
    return 0;
  }
  long d, layers, heads, mlp, tokens, reps, threads;
  double limit, budget_gib;
  if (cli_int("--d", d_s, 8, 8192, &d) || cli_int("--layers", layers_s, 1, 64, &layers) ||
      cli_int("--heads", heads_s, 1, 256, &heads) || cli_int("--mlp", mlp_s, 2, 65536, &mlp) ||
      cli_int("--decode-tokens", tokens_s, 1, 1024, &tokens) || cli_int("--repetitions", reps_s, 1, 101, &reps) ||
      cli_double("--prefill-limit", limit_s, 0, 1e6, &limit) || cli_double("--budget-gib", budget_s, 1e-3, 1e6, &budget_gib) ||
      cli_int("--threads", threads_s, 0, 4096, &threads))
    return SMX_EXIT_USAGE;
  smx_device dev;
  smx_status s;
  if ((s = smx_device_parse(device_s, &dev)) != SMX_OK) return cli_fail(s);
  if ((s = smx_device_ready(dev)) != SMX_OK) return cli_fail(s);
  if (threads > 0) omp_set_num_threads((int)threads);
  static arch_run runs[MAX_ARCH];
  int n_arch = 0, n_ctx = 0;
  int64_t ctx[MAX_CTX];
  if (parse_list(ctx_s, ctx, MAX_CTX, &n_ctx)) return SMX_EXIT_USAGE;
  smx_eff_shape sh = {256, d, layers, heads, mlp};
  char buf[512];
  snprintf(buf, sizeof buf, "%s", arch_s ? arch_s : "");
  for (int i = 0; i < (arch_s ? MAX_ARCH : smx_eff_arch_count()); i++) {
    const smx_eff_arch *a = NULL;
    if (arch_s) {
      char *tok = strtok(i ? NULL : buf, ",");
      if (!tok) break;
      if ((s = smx_eff_arch_lookup(tok, &a)) != SMX_OK) return cli_fail(s);
    } else {
      a = smx_eff_arch_at(i);
    }
    if (n_arch == MAX_ARCH) return cli_error("seqmix task efficiency: at most %d architectures", MAX_ARCH);
    arch_run *r = &runs[n_arch++];
    memset(r, 0, sizeof *r);
    r->a = a;
    if ((s = smx_eff_model_config(a, &sh, &r->mc)) != SMX_OK) return cli_fail(s);
    smx_model *m = NULL;
    if ((s = smx_model_create(&r->mc, 1, 1, &m)) != SMX_OK) return cli_fail(s); /* counted on the CPU */
    r->params = smx_model_param_count(m);
    smx_model_destroy(m);
    r->mc.device = dev;
    for (int k = 0; k < n_ctx; k++) r->p[k] = (point){ctx[k], NAN, NAN, NAN, "", ""};
  }
  if ((out && cli_check_writable("seqmix task efficiency", out, "--out")) ||
      (md_path && cli_check_writable("seqmix task efficiency", md_path, "--md")))
    return SMX_EXIT_USAGE;
  if (plot_dir && (s = smx_mkdir_p(plot_dir)) != SMX_OK) return cli_fail(s);
  smx_hardware hw;
  if ((s = smx_hardware_probe(&hw)) != SMX_OK) return cli_fail(s);
  if (threads > 0) hw.threads_used = (int)threads;
  double budget = budget_gib * 1024.0 * 1024.0 * 1024.0;
  fprintf(stderr, "seqmix task efficiency: %d architectures x %d contexts on %s, %s (d = %ld, %ld layers, %d threads)\n", n_arch,
          n_ctx, hw.hardware_id, dev == SMX_DEV_CUDA ? "prefill on the GPU" : "CPU", d, layers, hw.threads_used);
  for (int a = 0; a < n_arch; a++) {
    arch_run *r = &runs[a];
    measure(r, n_ctx, (int)reps, tokens, limit);
    size_t big = 0;
    r->state_big = smx_model_state_bytes(&r->mc, BIG_CTX, &big) == SMX_OK ? (double)big : NAN;
    r->fits_budget = -2;
    int64_t fit;
    if (smx_eff_max_context(&r->mc, r->params, budget, (int64_t)1 << 40, &fit) == SMX_OK) r->fits_budget = fit;
    smx_clear_error();
  }

  char *md_text = NULL;
  size_t md_len = 0;
  FILE *md = md_path ? open_memstream(&md_text, &md_len) : stdout;
  if (!md) return cli_error("seqmix task efficiency: out of memory for the tables");
  fprintf(md, "# Long-context efficiency on %s\n\nd = %ld, %ld layers, %ld heads, MLP/MoE width %ld, vocabulary 256, one sequence, "
         "fp32, %d threads; prefill: median of %ld forwards; decode: median of %ld steps after the context.\n",
         hw.hardware_id, d, layers, heads, mlp, hw.threads_used, reps, tokens);
  if (dev == SMX_DEV_CUDA)
    fprintf(md, "\nPrefill on the GPU (the model's CUDA forward); the decoder runs on the CPU only, so decode is not measured "
                "here (`seqmix task efficiency --device cpu` measures it).\n");
  table(md, runs, n_arch, n_ctx, "Prefill tokens/s");
  table(md, runs, n_arch, n_ctx, "Decode tokens/s");
  table(md, runs, n_arch, n_ctx, "KV cache and state, MiB per sequence");
  fprintf(md, "\nAt 256K tokens and within %.0f GiB (fp32 parameters + state):\n\n| architecture | parameters | state at 256K (MiB) | "
         "x attention's | longest context in budget |\n|---|---:|---:|---:|---:|\n",
         budget_gib);
  double attn_big = NAN;
  for (int a = 0; a < n_arch; a++)
    if (!strcmp(runs[a].a->name, "attention")) attn_big = runs[a].state_big;
  for (int a = 0; a < n_arch; a++) {
    const arch_run *r = &runs[a];
    fprintf(md, "| %s | %zu | ", r->a->name, r->params);
    if (isfinite(r->state_big)) fprintf(md, "%.1f | ", r->state_big / (1024.0 * 1024.0));
    else fprintf(md, "– (no decode) | ");
    if (isfinite(r->state_big) && isfinite(attn_big) && r->state_big > 0) fprintf(md, "%.3g | ", attn_big / r->state_big);
    else fprintf(md, "– | ");
    if (r->fits_budget == -2) fprintf(md, "– |\n");
    else if (r->fits_budget == (int64_t)1 << 40) fprintf(md, "unbounded (fixed state) |\n");
    else fprintf(md, "%lld |\n", (long long)r->fits_budget);
  }
  if (md_path) {
    fclose(md);
    s = smx_write_file_atomic(md_path, md_text, md_len);
    free(md_text);
    if (s != SMX_OK) return cli_fail(s);
  }
  int rc = 0;
  if (out) {
    json_t *doc = to_json(runs, n_arch, n_ctx, &sh, (int)reps, tokens, budget, &hw, dev);
    if (!doc) return cli_error("seqmix task efficiency: out of memory building %s", out);
    s = smx_json_write_atomic(out, doc);
    json_decref(doc);
    if (s != SMX_OK) return cli_fail(s);
  }
  if (plot_dir) rc = plots(plot_dir, runs, n_arch, n_ctx, hw.hardware_id);
  return rc;
}
