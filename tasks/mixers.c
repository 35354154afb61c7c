/* The mixer kinds of the task runner's model (tasks/mixer.h), option parsing ("ssd.N=16") and
 * per-layer patterns ("attention,conba*7", cycled over the layers).
 *
 *   seqmix task mixers        # the kinds, their options and defaults
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/mixer.h"

extern const mixer_kind mixer_attention, mixer_dma, mixer_ssd, mixer_h3, mixer_m2, mixer_conba;
extern const mixer_kind mixer_mlp, mixer_moe, mixer_cdmoe;

/* sequence mixers, then channel mixers: the order `seqmix task mixers` lists them */
static const mixer_kind *const kinds[] = {&mixer_attention, &mixer_dma, &mixer_ssd, &mixer_h3, &mixer_m2,
                                          &mixer_conba, &mixer_mlp, &mixer_moe, &mixer_cdmoe};

int mixer_kind_count(void) { return (int)(sizeof kinds / sizeof kinds[0]); }
const mixer_kind *mixer_kind_at(int i) { return i >= 0 && i < mixer_kind_count() ? kinds[i] : NULL; }

const mixer_kind *mixer_kind_find(const char *name) {
  for (int i = 0; i < mixer_kind_count(); i++)
    if (!strcmp(kinds[i]->name, name)) return kinds[i];
  return NULL;
}

static void known_names(int channel, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = 0;
  if (channel) o += (size_t)snprintf(buf, n, "none");
  for (int i = 0; i < mixer_kind_count() && o < n; i++)
    if (kinds[i]->channel == channel) o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "", kinds[i]->name);
}

smx_status mixer_pattern_expand(const char *pattern, int channel, int layers, const mixer_kind **out) {
  const char *family = channel ? "channel mixer" : "sequence mixer";
  const mixer_kind *seq[64];
  int n = 0;
  char known[256];
  known_names(channel, known, sizeof known);
  if (!pattern || !*pattern) pattern = channel ? "none" : "attention";
  const char *p = pattern;
  while (*p) {
    const char *e = p;
    while (*e && *e != ',' && *e != '*') e++;
    char name[32];
    size_t len = (size_t)(e - p);
    if (len == 0 || len >= sizeof name)
      return smx_fail(SMX_ERR_INVALID, "%s pattern '%s': empty or overlong name", family, pattern);
    memcpy(name, p, len), name[len] = 0;
    long rep = 1;
    if (*e == '*') {
      char *end;
      errno = 0;
      rep = strtol(e + 1, &end, 10);
      if (end == e + 1 || errno || rep < 1 || rep > 64 || (*end && *end != ','))
        return smx_fail(SMX_ERR_INVALID, "%s pattern '%s': a repeat count after '*' must be 1..64", family, pattern);
      e = end;
    }
    const mixer_kind *k = NULL;
    if (!(channel && !strcmp(name, "none"))) {
      k = mixer_kind_find(name);
      if (!k || k->channel != channel)
        return smx_fail(SMX_ERR_INVALID, "%s '%s' is not known (known: %s)", family, name, known);
    }
    for (long r = 0; r < rep; r++) {
      if (n >= 64) return smx_fail(SMX_ERR_INVALID, "%s pattern '%s' names more than 64 layers", family, pattern);
      seq[n++] = k;
    }
    p = *e == ',' ? e + 1 : e;
    if (*e == ',' && !*p) return smx_fail(SMX_ERR_INVALID, "%s pattern '%s' ends with ','", family, pattern);
  }
  if (layers % n)
    return smx_fail(SMX_ERR_INVALID, "%s pattern '%s' has %d entries, which do not divide the %d layers", family, pattern, n,
                    layers);
  for (int l = 0; l < layers; l++) out[l] = seq[l % n];
  return SMX_OK;
}

/* Walks "kind.name=value" entries; calls fn for each. */
typedef smx_status (*entry_fn)(const char *kind, const char *name, const char *value, void *ctx);
static smx_status each_entry(const char *options, entry_fn fn, void *ctx) {
  if (!options || !*options) return SMX_OK;
  const char *p = options;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char item[96];
    if (len == 0 || len >= sizeof item) return smx_fail(SMX_ERR_INVALID, "mixer options '%s': empty or overlong entry", options);
    memcpy(item, p, len), item[len] = 0;
    char *dot = strchr(item, '.'), *eq = strchr(item, '=');
    if (!dot || !eq || dot > eq || dot == item || eq == dot + 1 || !eq[1])
      return smx_fail(SMX_ERR_INVALID, "mixer option '%s' is not kind.name=value (e.g. ssd.N=16)", item);
    *dot = 0, *eq = 0;
    smx_status s = fn(item, dot + 1, eq + 1, ctx);
    if (s != SMX_OK) return s;
    p = e ? e + 1 : p + len;
  }
  return SMX_OK;
}

static const mixer_opt *find_opt(const mixer_kind *k, const char *name, int *index) {
  for (int i = 0; i < k->n_opts; i++)
    if (!strcmp(k->opts[i].name, name)) {
      if (index) *index = i;
      return &k->opts[i];
    }
  return NULL;
}

static smx_status opt_value(const mixer_kind *k, const mixer_opt *o, const char *value, double *out) {
  char *end;
  errno = 0;
  double v = strtod(value, &end);
  if (end == value || *end || errno || !isfinite(v) || v < o->min || v > o->max || (o->integer && v != floor(v)))
    return smx_fail(SMX_ERR_INVALID, "mixer option %s.%s=%s: expected %s in %g..%g (%s)", k->name, o->name, value,
                    o->integer ? "an integer" : "a number", o->min, o->max, o->doc);
  *out = v;
  return SMX_OK;
}

static smx_status known_entry(const char *kind, const char *name, const char *value, void *ctx) {
  (void)ctx;
  const mixer_kind *k = mixer_kind_find(kind);
  if (!k) return smx_fail(SMX_ERR_INVALID, "mixer option %s.%s: no mixer is called '%s' (seqmix task mixers)", kind, name, kind);
  const mixer_opt *o = find_opt(k, name, NULL);
  if (!o) {
    char list[256] = "";
    size_t n = 0;
    for (int i = 0; i < k->n_opts && n < sizeof list; i++) n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", k->opts[i].name);
    return smx_fail(SMX_ERR_INVALID, "mixer option %s.%s is not an option of %s (options: %s)", kind, name, kind, k->n_opts ? list : "none");
  }
  double v;
  return opt_value(k, o, value, &v);
}

smx_status mixer_options_validate(const char *options) { return each_entry(options, known_entry, NULL); }

typedef struct fill_ctx {
  const mixer_kind *k;
  mixer_shape *s;
} fill_ctx;

static smx_status fill_entry(const char *kind, const char *name, const char *value, void *ctx) {
  fill_ctx *f = ctx;
  if (strcmp(kind, f->k->name)) return SMX_OK;
  int i;
  const mixer_opt *o = find_opt(f->k, name, &i);
  if (!o) return known_entry(kind, name, value, NULL);
  return opt_value(f->k, o, value, &f->s->opt[i]);
}

smx_status mixer_options_parse(const mixer_kind *k, const char *options, mixer_shape *s) {
  for (int i = 0; i < MIXER_MAX_OPTS; i++) s->opt[i] = i < k->n_opts ? k->opts[i].def : 0;
  fill_ctx f = {k, s};
  return each_entry(options, fill_entry, &f);
}
