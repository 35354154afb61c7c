/* What the L-Eval scorer's files (tasks/leval_text.c, leval_rules.c, leval_score.c) share: a
 * growing string, UTF-8 decoding and Python's whitespace. Internal to tasks/; the API is
 * include/seqmix/leval.h. The functions are defined in tasks/leval_text.c. */
#ifndef SEQMIX_TASKS_LEVAL_IMPL_H
#define SEQMIX_TASKS_LEVAL_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ growing strings */

typedef struct sbuf {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;

/* Appends n bytes (kept NUL-terminated); on failure sets oom and ignores later writes. */
void leval_sb_putn(sbuf *b, const char *s, size_t n);
static inline void sb_putc(sbuf *b, char c) { leval_sb_putn(b, &c, 1); }
static inline void sb_puts(sbuf *b, const char *s) { leval_sb_putn(b, s, strlen(s)); }
/* Returns the string (never NULL unless out of memory; "" for nothing written). */
static inline char *sb_done(sbuf *b) {
  if (b->oom) {
    free(b->p);
    return NULL;
  }
  if (!b->p) return calloc(1, 1);
  return b->p;
}

/* ------------------------------------------------------------------ code points */

/* Decodes the code point at s[i] (i < n) into *cp and returns its length in bytes. Bytes that are
 * not valid UTF-8 decode to U+DC80+byte (Python's surrogateescape), one byte each. */
size_t leval_u8_next(const char *s, size_t i, size_t n, uint32_t *cp);

/* Python's str.isspace(), the whitespace of str.split(), str.strip() and re's \s. */
static inline int py_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Tokens of Python's str.split() (runs of non-whitespace), as byte ranges of s. */
typedef struct span {
  size_t off, len;
} span;

/* s.split(): a malloc'd array of *count spans (the caller frees it), or NULL when out of memory. */
span *leval_split_ws(const char *s, int64_t *count);
/* s.strip(): a malloc'd string, or NULL when out of memory. */
char *leval_strip_ws(const char *s);

#endif
