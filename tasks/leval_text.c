/* L-Eval's text handling and per-answer metrics in C (include/seqmix/leval.h; docs/tasks.md
 * "L-Eval scoring"): UTF-8 decoding, Python's whitespace and lowercasing, SQuAD/EM normalisation,
 * exact match, F1 and ROUGE. The per-task answer extraction is tasks/leval_rules.c, scoring whole
 * sets and files tasks/leval_score.c; the helpers they share (tasks/leval_impl.h) are defined here.
 *
 *   build/tests/seqmix_tests --filter 'leval/@(normalize|f1|rouge|exact_match)'   (this file's)
 *   build/tests/seqmix_tests --filter 'leval/\*'   (all of L-Eval's)
 *
 * The authority for every rule is L-Eval's code (OpenLMLab/LEval at cd34b05):
 *   Evaluation/em.py         exact_match_score (A-D sets: 1 / 0.25; else float equality, else
 *                            lowercase space-free substring), normalize_answer without lowercasing;
 *   Evaluation/f1.py         SQuAD normalize_answer and token F1;
 *   Evaluation/rouge.py      google rouge_score (rouge/tokenize.py, rouge/rouge_scorer.py in
 *                            google-research/google-research), no stemmer.
 * Python's string semantics are reproduced on code points decoded from the UTF-8 bytes; bytes that
 * are not valid UTF-8 are carried through unchanged as single non-letter, non-space characters. */
#define _GNU_SOURCE
#include "seqmix/leval.h"

#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "tasks/leval_impl.h"

/* ------------------------------------------------------------------ growing strings */

void leval_sb_putn(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (n > SIZE_MAX / 4 - b->n) { /* cannot happen for real text; keeps the sizes below from overflowing */
    b->oom = 1;
    return;
  }
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

/* ------------------------------------------------------------------ code points */

/* Bytes that are not valid UTF-8 decode to U+DC80+byte (Python's surrogateescape) so that they
 * re-encode to themselves. */
#define BAD_BYTE_BASE 0xDC80u

size_t leval_u8_next(const char *s, size_t i, size_t n, uint32_t *cp) {
  const unsigned char *u = (const unsigned char *)s + i;
  size_t left = n - i;
  unsigned c = u[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (len == 0 || len > left) goto bad;
  uint32_t v = len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
  for (size_t k = 1; k < len; k++) {
    if ((u[k] & 0xC0) != 0x80) goto bad;
    v = v << 6 | (u[k] & 0x3F);
  }
  if ((len == 3 && (v < 0x800 || (v >= 0xD800 && v < 0xE000))) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)))
    goto bad;
  *cp = v;
  return len;
bad:
  *cp = BAD_BYTE_BASE + c;
  return 1;
}

static void sb_put_cp(sbuf *b, uint32_t cp) {
  char t[4];
  if (cp < 0x80) sb_putc(b, (char)cp);
  else if (cp >= BAD_BYTE_BASE && cp < BAD_BYTE_BASE + 0x100) sb_putc(b, (char)(cp - BAD_BYTE_BASE));
  else if (cp < 0x800) {
    t[0] = (char)(0xC0 | cp >> 6), t[1] = (char)(0x80 | (cp & 0x3F));
    leval_sb_putn(b, t, 2);
  } else if (cp < 0x10000) {
    t[0] = (char)(0xE0 | cp >> 12), t[1] = (char)(0x80 | (cp >> 6 & 0x3F)), t[2] = (char)(0x80 | (cp & 0x3F));
    leval_sb_putn(b, t, 3);
  } else {
    t[0] = (char)(0xF0 | cp >> 18), t[1] = (char)(0x80 | (cp >> 12 & 0x3F)), t[2] = (char)(0x80 | (cp >> 6 & 0x3F)),
    t[3] = (char)(0x80 | (cp & 0x3F));
    leval_sb_putn(b, t, 4);
  }
}

/* The C.UTF-8 locale's tables stand in for Python's Unicode database for non-ASCII lowercasing
 * and word characters; made once, never freed (one per process). */
static locale_t utf8_loc;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static void utf8_init(void) {
  utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  if (!utf8_loc) utf8_loc = newlocale(LC_CTYPE_MASK, "C.utf8", (locale_t)0);
}
static locale_t uloc(void) {
  pthread_once(&utf8_once, utf8_init);
  return utf8_loc;
}

static int is_bad(uint32_t c) { return c >= BAD_BYTE_BASE && c < BAD_BYTE_BASE + 0x100; }

/* re's \w for str patterns: alphanumeric or '_'. Without the locale, any non-ASCII character counts
 * as a letter (right for letters, wrong for non-ASCII punctuation such as curly quotes). */
static int py_word(uint32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (is_bad(c)) return 0;
  locale_t l = uloc();
  return l ? iswalnum_l((wint_t)c, l) != 0 : 1;
}

static void put_lower(sbuf *b, uint32_t c) {
  if (c >= 'A' && c <= 'Z') sb_putc(b, (char)(c + 32));
  else if (c < 0x80 || is_bad(c)) sb_put_cp(b, c);
  else if (c == 0x130) { /* Python's only one-to-many lowercase: LATIN CAPITAL I WITH DOT ABOVE */
    sb_putc(b, 'i');
    sb_put_cp(b, 0x307);
  } else {
    locale_t l = uloc();
    sb_put_cp(b, l ? (uint32_t)towlower_l((wint_t)c, l) : c);
  }
}

char *smx_leval_lower(const char *s) {
  sbuf b = {0};
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    uint32_t c;
    i += leval_u8_next(s, i, n, &c);
    put_lower(&b, c);
  }
  return sb_done(&b);
}

span *leval_split_ws(const char *s, int64_t *count) {
  size_t n = strlen(s), cap = 16;
  int64_t k = 0;
  span *v = malloc(cap * sizeof *v);
  if (!v) return NULL;
  size_t start = 0;
  int in = 0;
  for (size_t i = 0; i <= n;) {
    uint32_t c = ' ';
    size_t len = i < n ? leval_u8_next(s, i, n, &c) : 1;
    int sp = i == n || py_space(c);
    if (!sp && !in) start = i, in = 1;
    if (sp && in) {
      if ((size_t)k == cap) {
        span *w = realloc(v, (cap *= 2) * sizeof *v);
        if (!w) {
          free(v);
          return NULL;
        }
        v = w;
      }
      v[k++] = (span){start, i - start};
      in = 0;
    }
    i += len;
  }
  *count = k;
  return v;
}

/* " ".join(s.split()) */
static char *squeeze_ws(const char *s) {
  int64_t k;
  span *t = leval_split_ws(s, &k);
  if (!t) return NULL;
  sbuf b = {0};
  for (int64_t i = 0; i < k; i++) {
    if (i) sb_putc(&b, ' ');
    leval_sb_putn(&b, s + t[i].off, t[i].len);
  }
  free(t);
  return sb_done(&b);
}

/* s.strip() */
char *leval_strip_ws(const char *s) {
  size_t n = strlen(s), a = 0, e = 0;
  int seen = 0;
  for (size_t i = 0; i < n;) {
    uint32_t c;
    size_t len = leval_u8_next(s, i, n, &c);
    if (!py_space(c)) {
      if (!seen) a = i, seen = 1;
      e = i + len;
    }
    i += len;
  }
  sbuf b = {0};
  if (seen) leval_sb_putn(&b, s + a, e - a);
  return sb_done(&b);
}

/* ------------------------------------------------------------------ normalisation */

/* Python's string.punctuation: the ASCII bytes never occur inside a multi-byte UTF-8 sequence, so
 * dropping them byte by byte is the same as dropping the characters. */
static int py_punct(unsigned char c) { return c && c < 0x80 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c); }

/* re.sub(r"\b(a|an|the)\b", " ", text): a match can only be a whole run of word characters that is
 * exactly a, an or the (the \b before it needs a non-word character or the start). */
static void remove_articles(sbuf *b, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    uint32_t c;
    size_t len = leval_u8_next(s, i, n, &c);
    if (!py_word(c)) {
      leval_sb_putn(b, s + i, len);
      i += len;
      continue;
    }
    size_t j = i;
    while (j < n) {
      size_t l2 = leval_u8_next(s, j, n, &c);
      if (!py_word(c)) break;
      j += l2;
    }
    size_t w = j - i;
    if ((w == 1 && s[i] == 'a') || (w == 2 && !strncmp(s + i, "an", 2)) || (w == 3 && !strncmp(s + i, "the", 3)))
      sb_putc(b, ' ');
    else leval_sb_putn(b, s + i, w);
    i = j;
  }
}

static char *normalize(const char *s, int lower) {
  char *low = lower ? smx_leval_lower(s) : strdup(s);
  if (!low) return NULL;
  size_t k = 0;
  for (size_t i = 0; low[i]; i++)
    if (!py_punct((unsigned char)low[i])) low[k++] = low[i];
  low[k] = 0;
  sbuf b = {0};
  remove_articles(&b, low);
  free(low);
  char *art = sb_done(&b);
  if (!art) return NULL;
  char *out = squeeze_ws(art);
  free(art);
  return out;
}

char *smx_leval_normalize_squad(const char *s) { return normalize(s, 1); }
char *smx_leval_normalize_em(const char *s) { return normalize(s, 0); }

/* ------------------------------------------------------------------ exact match (em.py) */

/* Python's float(str) for ASCII text: surrounding whitespace, sign, digits with single '_' between
 * them, fraction, exponent, inf/infinity/nan. Non-ASCII digits (which Python also accepts) fail. */
static int py_float(const char *s, double *out) {
  char *t = leval_strip_ws(s);
  if (!t) return 0;
  char *clean = malloc(strlen(t) + 1);
  int ok = 0;
  if (!clean) goto done;
  const char *p = t;
  size_t k = 0;
  if (*p == '+' || *p == '-') clean[k++] = *p++;
  const char *words[] = {"infinity", "inf", "nan"};
  for (int w = 0; w < 3; w++)
    if (strcasecmp(p, words[w]) == 0) {
      clean[k] = 0;
      strcat(clean, words[w]);
      *out = strtod(clean, NULL);
      ok = 1;
      goto done;
    }
  int digits = 0;
  /* digitpart := digit (["_"] digit)* ; returns the digits copied, or -1 on a misplaced '_' */
#define DIGITPART()                                                                                   \
  do {                                                                                                \
    int nd = 0;                                                                                       \
    while ((*p >= '0' && *p <= '9') || (*p == '_' && nd > 0 && p[1] >= '0' && p[1] <= '9')) {         \
      if (*p != '_') clean[k++] = *p, nd++;                                                           \
      p++;                                                                                            \
    }                                                                                                 \
    digits = nd;                                                                                      \
  } while (0)
  DIGITPART();
  int int_digits = digits;
  int frac_digits = 0;
  if (*p == '.') {
    clean[k++] = *p++;
    DIGITPART();
    frac_digits = digits;
  }
  if (int_digits + frac_digits == 0) goto done;
  if (*p == 'e' || *p == 'E') {
    clean[k++] = *p++;
    if (*p == '+' || *p == '-') clean[k++] = *p++;
    DIGITPART();
    if (digits == 0) goto done;
  }
#undef DIGITPART
  if (*p) goto done;
  clean[k] = 0;
  *out = strtod(clean, NULL);
  ok = 1;
done:
  free(clean);
  free(t);
  return ok;
}

/* s.lower().replace(" ", "") */
static char *lower_nospace(const char *s) {
  char *l = smx_leval_lower(s);
  if (!l) return NULL;
  size_t k = 0;
  for (size_t i = 0; l[i]; i++)
    if (l[i] != ' ') l[k++] = l[i];
  l[k] = 0;
  return l;
}

double smx_leval_em(const char *pred, const char *gt) {
  char *ng = smx_leval_normalize_em(gt);
  if (!ng) return 0;
  int options = 1; /* em.py's flag == False: the reference is made of the letters A-D only */
  for (size_t i = 0; ng[i]; i++)
    if (!strchr("ABCD", ng[i])) options = 0;
  double res = 0;
  if (options) {
    char *np = smx_leval_normalize_em(pred);
    if (np) {
      if (strcmp(np, ng) == 0) res = 1;
      else {
        int subset = 1; /* set(np) <= set(ng); an empty prediction is a subset, as in Python */
        for (size_t i = 0; np[i]; i++)
          if (!strchr(ng, np[i])) subset = 0;
        if (subset) res = 0.25;
      }
      free(np);
    }
  } else {
    double a, b;
    if (py_float(pred, &a) && py_float(gt, &b)) res = a == b;
    else {
      char *g = lower_nospace(gt), *p = lower_nospace(pred);
      if (g && p && strstr(p, g)) res = 1;
      free(g), free(p);
    }
  }
  free(ng);
  return res;
}

/* ------------------------------------------------------------------ F1 (f1.py) */

typedef struct tok {
  const char *p;
  size_t n;
} tok;

static int tok_cmp(const void *a, const void *b) {
  const tok *x = a, *y = b;
  size_t m = x->n < y->n ? x->n : y->n;
  int c = memcmp(x->p, y->p, m);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

static tok *tokens_of(const char *s, int64_t *k) {
  span *sp = leval_split_ws(s, k);
  if (!sp) return NULL;
  tok *t = malloc((size_t)(*k ? *k : 1) * sizeof *t);
  if (t)
    for (int64_t i = 0; i < *k; i++) t[i] = (tok){s + sp[i].off, sp[i].len};
  free(sp);
  return t;
}

/* sum over tokens of min(count in a, count in b): Counter(a) & Counter(b), on sorted arrays */
static int64_t common_count(tok *a, int64_t na, tok *b, int64_t nb) {
  qsort(a, (size_t)na, sizeof *a, tok_cmp);
  qsort(b, (size_t)nb, sizeof *b, tok_cmp);
  int64_t i = 0, j = 0, same = 0;
  while (i < na && j < nb) {
    int c = tok_cmp(&a[i], &b[j]);
    if (c < 0) i++;
    else if (c > 0) j++;
    else same++, i++, j++;
  }
  return same;
}

double smx_leval_f1(const char *pred, const char *gt) {
  char *np = smx_leval_normalize_squad(pred), *ng = smx_leval_normalize_squad(gt);
  double f1 = 0;
  int64_t kp = 0, kg = 0;
  tok *tp = np ? tokens_of(np, &kp) : NULL, *tg = ng ? tokens_of(ng, &kg) : NULL;
  if (tp && tg) {
    int64_t same = common_count(tp, kp, tg, kg);
    if (same > 0) {
      double precision = 1.0 * (double)same / (double)kp, recall = 1.0 * (double)same / (double)kg;
      f1 = (2 * precision * recall) / (precision + recall);
    }
  }
  free(tp), free(tg), free(np), free(ng);
  return f1;
}

/* ------------------------------------------------------------------ ROUGE (rouge_score) */

/* rouge/tokenize.py: text.lower(); re.sub(r"[^a-z0-9]+", " "); split; keep ^[a-z0-9]+$ tokens. The
 * tokens are the runs of [a-z0-9] in the lowercased text; the only non-ASCII characters whose
 * Python lowercase holds an ASCII letter are U+0130 ("i" + U+0307) and KELVIN SIGN U+212A ("k"). */
static char *rouge_text(const char *s) {
  sbuf b = {0};
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    uint32_t c;
    i += leval_u8_next(s, i, n, &c);
    if (c >= 'A' && c <= 'Z') sb_putc(&b, (char)(c + 32));
    else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) sb_putc(&b, (char)c);
    else if (c == 0x130) sb_puts(&b, "i ");
    else if (c == 0x212A) sb_putc(&b, 'k');
    else sb_putc(&b, ' ');
  }
  return sb_done(&b);
}

typedef struct itok {
  tok t;
  int64_t pos; /* index in the joined list: ref tokens first, then pred tokens */
} itok;
static int itok_cmp(const void *a, const void *b) { return tok_cmp(&((const itok *)a)->t, &((const itok *)b)->t); }
static int u64_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static double fmeasure(double precision, double recall) {
  return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
}

/* rouge_scorer._score_ngrams on n-grams coded as integers */
static double rouge_n(const int64_t *ref, int64_t nr, const int64_t *pred, int64_t np_, int n, uint64_t vocab,
                      int *oom) {
  int64_t cr = nr >= n ? nr - n + 1 : 0, cp = np_ >= n ? np_ - n + 1 : 0;
  uint64_t *a = malloc((size_t)(cr ? cr : 1) * sizeof *a), *b = malloc((size_t)(cp ? cp : 1) * sizeof *b);
  if (!a || !b) {
    free(a), free(b);
    *oom = 1;
    return 0;
  }
  for (int64_t i = 0; i < cr; i++) a[i] = n == 1 ? (uint64_t)ref[i] : (uint64_t)ref[i] * vocab + (uint64_t)ref[i + 1];
  for (int64_t i = 0; i < cp; i++)
    b[i] = n == 1 ? (uint64_t)pred[i] : (uint64_t)pred[i] * vocab + (uint64_t)pred[i + 1];
  qsort(a, (size_t)cr, sizeof *a, u64_cmp);
  qsort(b, (size_t)cp, sizeof *b, u64_cmp);
  int64_t i = 0, j = 0, inter = 0;
  while (i < cr && j < cp) {
    if (a[i] < b[j]) i++;
    else if (a[i] > b[j]) j++;
    else inter++, i++, j++;
  }
  free(a), free(b);
  double precision = (double)inter / (double)(cp > 1 ? cp : 1), recall = (double)inter / (double)(cr > 1 ? cr : 1);
  return fmeasure(precision, recall);
}

/* rouge_scorer._score_lcs: LCS length by the DP table, one row at a time */
static double rouge_l(const int64_t *ref, int64_t nr, const int64_t *pred, int64_t np_, int *oom) {
  if (nr == 0 || np_ == 0) return 0;
  int64_t *row = calloc((size_t)np_ + 1, sizeof *row);
  if (!row) {
    *oom = 1;
    return 0;
  }
  for (int64_t i = 1; i <= nr; i++) {
    int64_t diag = 0; /* table[i-1][j-1] */
    for (int64_t j = 1; j <= np_; j++) {
      int64_t up = row[j];
      row[j] = ref[i - 1] == pred[j - 1] ? diag + 1 : (up > row[j - 1] ? up : row[j - 1]);
      diag = up;
    }
  }
  int64_t lcs = row[np_];
  free(row);
  return fmeasure((double)lcs / (double)np_, (double)lcs / (double)nr);
}

smx_status smx_leval_rouge(const char *pred, const char *ref, smx_leval_rouge_f *out) {
  *out = (smx_leval_rouge_f){0, 0, 0};
  char *tr = rouge_text(ref), *tp = rouge_text(pred);
  int64_t kr = 0, kp = 0;
  tok *vr = tr ? tokens_of(tr, &kr) : NULL, *vp = tp ? tokens_of(tp, &kp) : NULL;
  int64_t total = kr + kp;
  itok *all = vr && vp ? malloc((size_t)(total ? total : 1) * sizeof *all) : NULL;
  int64_t *ids = all ? malloc((size_t)(total ? total : 1) * sizeof *ids) : NULL;
  int oom = !ids;
  if (!oom) {
    /* token -> integer id, so n-grams and the LCS compare integers */
    for (int64_t i = 0; i < kr; i++) all[i] = (itok){vr[i], i};
    for (int64_t i = 0; i < kp; i++) all[kr + i] = (itok){vp[i], kr + i};
    qsort(all, (size_t)total, sizeof *all, itok_cmp);
    int64_t id = -1;
    for (int64_t i = 0; i < total; i++) {
      if (i == 0 || tok_cmp(&all[i].t, &all[i - 1].t) != 0) id++;
      ids[all[i].pos] = id;
    }
    uint64_t vocab = (uint64_t)id + 1;
    out->rouge1 = rouge_n(ids, kr, ids + kr, kp, 1, vocab, &oom);
    out->rouge2 = rouge_n(ids, kr, ids + kr, kp, 2, vocab, &oom);
    out->rougeL = rouge_l(ids, kr, ids + kr, kp, &oom);
  }
  free(ids), free(all), free(vr), free(vp), free(tr), free(tp);
  return oom ? smx_fail(SMX_ERR_NOMEM, "out of memory computing ROUGE") : SMX_OK;
}
