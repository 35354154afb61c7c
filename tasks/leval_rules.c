/* L-Eval's per-task answer extraction in C (include/seqmix/leval.h; docs/tasks.md "L-Eval
 * scoring"): the rule a task's file name picks, and what each rule takes from a prediction and a
 * reference before the metric (tasks/leval_text.c) compares them; the names of rules and metrics.
 * Scoring a whole set is tasks/leval_score.c.
 *
 *   build/tests/seqmix_tests --filter 'leval/@(multiple_choice|math_code_judge|rules_by_name)'   (this file's)
 *   build/tests/seqmix_tests --filter 'leval/\*'   (all of L-Eval's)
 *
 * The authority for every rule is L-Eval's code (OpenLMLab/LEval at cd34b05):
 *   Evaluation/auto_eval.py  the per-file branches (a substring of the file name, in its order) and
 *                            their answer extraction: process_output_mc, process_gt_mc (quality,
 *                            tpo; coursera with several letters), process_math (gsm100),
 *                            process_output_code, process_gt_code (codeU), process_output_judge,
 *                            process_gt_judge (sci_fi).
 * Python's string semantics are reproduced on code points decoded from the UTF-8 bytes (see
 * tasks/leval_text.c). */
#define _GNU_SOURCE
#include "seqmix/leval.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/leval_impl.h"

/* ------------------------------------------------------------------ answer extraction (auto_eval.py) */

static int is_abcd(uint32_t c) { return c >= 'A' && c <= 'D'; }

/* ''.join(sorted(set(letters))) for letters drawn from A-D */
static char *sorted_set(const char *letters) {
  sbuf b = {0};
  for (char c = 'A'; c <= 'D'; c++)
    if (strchr(letters, c)) sb_putc(&b, c);
  return sb_done(&b);
}

char *smx_leval_mc_output(const char *response, int coursera) {
  size_t n = strlen(response);
  int blank = 1;
  for (size_t i = 0; i < n;) {
    uint32_t c;
    i += leval_u8_next(response, i, n, &c);
    if (!py_space(c)) blank = 0;
  }
  if (blank) return strdup("None");
  if (strstr("ABCD", response)) return strdup(response); /* `response in "ABCD"` */
  if (!coursera)
    for (size_t i = 0; i < n; i++)
      if (is_abcd((unsigned char)response[i])) return strndup(response + i, 1);
  /* coursera (or no A-D at all): the leading run of A-D letters */
  size_t lead = 0;
  while (lead < n && is_abcd((unsigned char)response[lead])) lead++;
  char first[8] = {0};
  if (lead > 1) {
    char *run = strndup(response, lead);
    if (!run) return NULL;
    char *r = sorted_set(run);
    free(run);
    return r;
  }
  if (lead == 1) first[0] = response[0];
  /* response[lead:].split("Question")[0] */
  const char *rest = response + lead, *q = strstr(rest, "Question");
  size_t rn = q ? (size_t)(q - rest) : strlen(rest);
  /* re.findall(r"\s*[A-Z](?=[\s.)])"): every capital followed by whitespace, '.' or ')'; only
   * their A-D letters survive re.sub(r'[^A-D]', '') */
  sbuf letters = {0};
  sb_puts(&letters, first);
  for (size_t i = 0; i < rn;) {
    uint32_t c;
    size_t len = leval_u8_next(rest, i, rn, &c);
    if (c >= 'A' && c <= 'Z' && i + 1 < rn) {
      uint32_t nx;
      leval_u8_next(rest, i + 1, rn, &nx);
      if ((py_space(nx) || nx == '.' || nx == ')') && is_abcd(c)) sb_putc(&letters, (char)c);
    }
    i += len;
  }
  char *ls = sb_done(&letters);
  if (!ls) return NULL;
  char *cleaned = sorted_set(ls);
  free(ls);
  if (!cleaned) return NULL;
  if (!cleaned[0]) {
    /* the first run of A-D letters anywhere (kept in its order, not sorted) */
    free(cleaned);
    size_t a = 0;
    while (a < rn && !is_abcd((unsigned char)rest[a])) a++;
    size_t e = a;
    while (e < rn && is_abcd((unsigned char)rest[e])) e++;
    cleaned = strndup(rest + a, e - a);
    if (!cleaned) return NULL;
  }
  if (!cleaned[0]) {
    free(cleaned);
    return strdup("A");
  }
  return cleaned;
}

char *smx_leval_mc_gt(const char *gt) {
  int64_t k;
  span *t = leval_split_ws(gt, &k);
  if (!t) return NULL;
  sbuf b = {0};
  /* response.split()[0] with its non-A-D characters removed; "A" when nothing is left (L-Eval's
   * random guess; an all-blank reference, where Python raises IndexError, also gives "A") */
  if (k > 0)
    for (size_t i = 0; i < t[0].len; i++)
      if (is_abcd((unsigned char)gt[t[0].off + i])) sb_putc(&b, gt[t[0].off + i]);
  free(t);
  if (!b.oom && b.n == 0) sb_putc(&b, 'A');
  return sb_done(&b);
}

/* str.isdigit() on ASCII; Unicode digits (which Python also counts) are not. */
static int is_digit(char c) { return c >= '0' && c <= '9'; }

char *smx_leval_math(const char *response) {
  size_t n = strlen(response);
  const char *ret = NULL;
  size_t ret_len = 0;
  /* re.search(r'The answer is (\S+)') */
  for (const char *p = strstr(response, "The answer is "); p; p = strstr(p + 1, "The answer is ")) {
    size_t i = (size_t)(p - response) + 14, e = i;
    while (e < n) {
      uint32_t c;
      size_t len = leval_u8_next(response, e, n, &c);
      if (py_space(c)) break;
      e += len;
    }
    if (e > i) {
      ret = response + i, ret_len = e - i;
      break;
    }
  }
  if (!ret) {
    /* response.split('\n\n')[0].split(' '), from the last piece back: the first holding a digit */
    const char *pp = strstr(response, "\n\n");
    size_t m = pp ? (size_t)(pp - response) : n, end = m, i = m;
    for (;;) {
      if (i == 0 || response[i - 1] == ' ') { /* the piece [i, end) */
        int digit = 0;
        for (size_t j = i; j < end; j++) digit |= is_digit(response[j]);
        if (digit) {
          ret = response + i, ret_len = end - i;
          break;
        }
        if (i == 0) break;
        end = i - 1;
      }
      i--;
    }
  }
  sbuf b = {0};
  for (size_t i = 0; ret && i < ret_len; i++) {
    if (is_digit(ret[i])) sb_putc(&b, ret[i]);
    if (ret[i] == '.') break;
  }
  return sb_done(&b);
}

/* Python's str.replace(old, new): all non-overlapping occurrences, left to right. Frees s. */
static char *replace_all(char *s, const char *old, const char *rep) {
  if (!s) return NULL;
  size_t lo = strlen(old);
  sbuf b = {0};
  const char *p = s, *q;
  while ((q = strstr(p, old))) {
    leval_sb_putn(&b, p, (size_t)(q - p));
    sb_puts(&b, rep);
    p = q + lo;
  }
  sb_puts(&b, p);
  free(s);
  return sb_done(&b);
}

char *smx_leval_code_gt(const char *gt) {
  /* re.sub(r'\s+', ' ', response) */
  sbuf b = {0};
  size_t n = strlen(gt);
  int in_space = 0;
  for (size_t i = 0; i < n;) {
    uint32_t c;
    size_t len = leval_u8_next(gt, i, n, &c);
    if (py_space(c)) {
      if (!in_space) sb_putc(&b, ' ');
      in_space = 1;
    } else {
      leval_sb_putn(&b, gt + i, len);
      in_space = 0;
    }
    i += len;
  }
  char *s = sb_done(&b);
  s = replace_all(s, ",", "");
  s = replace_all(s, "'", "");
  s = replace_all(s, "\\", "");
  s = replace_all(s, ".0", "");
  s = replace_all(s, "] [", "][");
  s = replace_all(s, "[ [", "[[");
  s = replace_all(s, "] ]", "]]");
  return s;
}

/* re.split(r'\s+', s): the pieces between whitespace runs; a leading or trailing run gives an
 * empty piece, and "" gives one empty piece. */
static span *split_regex_ws(const char *s, int64_t *count) {
  size_t n = strlen(s), cap = 16, start = 0, i = 0;
  int64_t k = 0;
  span *v = malloc(cap * sizeof *v);
  if (!v) return NULL;
  for (;;) {
    size_t ws = i, len; /* the next whitespace run [ws, j) */
    uint32_t c;
    while (ws < n) {
      len = leval_u8_next(s, ws, n, &c);
      if (py_space(c)) break;
      ws += len;
    }
    if ((size_t)k + 1 >= cap) {
      span *w = realloc(v, (cap *= 2) * sizeof *v);
      if (!w) {
        free(v);
        return NULL;
      }
      v = w;
    }
    v[k++] = (span){start, ws - start};
    if (ws == n) break;
    size_t j = ws;
    while (j < n) {
      len = leval_u8_next(s, j, n, &c);
      if (!py_space(c)) break;
      j += len;
    }
    start = i = j;
  }
  *count = k;
  return v;
}

char *smx_leval_code_output(const char *response, const char *gt) {
  int64_t gt_len;
  span *gs = leval_split_ws(gt, &gt_len);
  if (!gs) return NULL;
  free(gs);
  char *s = smx_leval_code_gt(response);
  const char *drop[] = {"will be", "of the code", "is", "would be", "the value of", "the result of", "printed"};
  for (int i = 0; i < 7; i++) s = replace_all(s, drop[i], "");
  if (!s) return NULL;
  const char *from = s;
  int final = 0;
  for (const char *q = strstr(s, "the final output"); q; q = strstr(q + 1, "the final output"))
    from = q + 16, final = 1; /* response.split("the final output")[-1] */
  int64_t k;
  span *pc = split_regex_ws(from, &k);
  if (!pc) {
    free(s);
    return NULL;
  }
  int64_t keep = gt_len + 3, a = 0, e = k;
  if (final) e = keep < k ? keep : k; /* [:(gt_len+3)] */
  else a = k > keep ? k - keep : 0;   /* [-(gt_len+3):] */
  sbuf b = {0};
  for (int64_t i = a; i < e; i++) {
    if (i > a) sb_putc(&b, ' ');
    leval_sb_putn(&b, from + pc[i].off, pc[i].len);
  }
  free(pc);
  free(s);
  return sb_done(&b);
}

/* process_gt_judge: lower(); split("[fact:"); loyalty = [0].strip(), fact = [1][:-1].strip() */
static smx_status judge_split(const char *text, int need_fact, char **loyalty, char **fact) {
  *loyalty = *fact = NULL;
  char *low = smx_leval_lower(text);
  if (!low) return smx_fail(SMX_ERR_NOMEM, "out of memory");
  char *m = strstr(low, "[fact:");
  if (!m && need_fact) {
    free(low);
    return smx_fail(SMX_ERR_PARSE, "a sci_fi reference must read '<True|False> [fact: <True|False>]'");
  }
  char *f = NULL;
  if (m) {
    char *body = m + 6, *next = strstr(body, "[fact:");
    size_t len = next ? (size_t)(next - body) : strlen(body);
    /* [:-1] drops the last character (a code point) */
    size_t cut = len;
    while (cut > 0 && ((unsigned char)body[cut - 1] & 0xC0) == 0x80) cut--;
    if (cut > 0) cut--;
    char *raw = strndup(body, cut);
    f = raw ? leval_strip_ws(raw) : NULL;
    free(raw);
    *m = 0;
  } else f = strdup("");
  char *l = leval_strip_ws(low);
  free(low);
  if (!l || !f) {
    free(l), free(f);
    return smx_fail(SMX_ERR_NOMEM, "out of memory");
  }
  *loyalty = l, *fact = f;
  return SMX_OK;
}

smx_status smx_leval_judge_gt(const char *gt, char **loyalty, char **fact) { return judge_split(gt, 1, loyalty, fact); }

static const char *judge_word(const char *part) {
  int64_t k;
  span *t = leval_split_ws(part, &k);
  const char *r = "<error>";
  for (int64_t i = 0; t && i < k; i++) {
    char *w = strndup(part + t[i].off, t[i].len);
    if (!w) break;
    int tr = strstr(w, "true") != NULL, fa = strstr(w, "false") != NULL;
    free(w);
    if (tr || fa) {
      r = tr ? "true" : "false";
      break;
    }
  }
  free(t);
  return r;
}

smx_status smx_leval_judge_output(const char *pred, const char **loyalty, const char **fact) {
  char *l, *f;
  smx_status s = judge_split(pred, 0, &l, &f);
  if (s != SMX_OK) return s;
  *loyalty = judge_word(l);
  *fact = judge_word(f);
  free(l), free(f);
  return SMX_OK;
}

/* ------------------------------------------------------------------ names */

smx_leval_rule smx_leval_rule_for_name(const char *name) {
  /* auto_eval.py: with_option_tasks (coursera, quality, tpo), then gsm, codeU,
   * topic_retrieval_longchat, sci_fi, each `in args.pred_file` */
  if (strstr(name, "coursera")) return SMX_LEVAL_RULE_MC_MULTI;
  if (strstr(name, "quality") || strstr(name, "tpo")) return SMX_LEVAL_RULE_MC;
  if (strstr(name, "gsm")) return SMX_LEVAL_RULE_GSM;
  if (strstr(name, "codeU")) return SMX_LEVAL_RULE_CODE;
  if (strstr(name, "topic_retrieval_longchat")) return SMX_LEVAL_RULE_TOPIC;
  if (strstr(name, "sci_fi")) return SMX_LEVAL_RULE_JUDGE;
  return SMX_LEVAL_RULE_PLAIN;
}

const char *smx_leval_rule_name(smx_leval_rule r) {
  switch (r) {
  case SMX_LEVAL_RULE_PLAIN: return "plain";
  case SMX_LEVAL_RULE_MC: return "mc";
  case SMX_LEVAL_RULE_MC_MULTI: return "mc_multi";
  case SMX_LEVAL_RULE_GSM: return "gsm";
  case SMX_LEVAL_RULE_CODE: return "code";
  case SMX_LEVAL_RULE_TOPIC: return "topic";
  case SMX_LEVAL_RULE_JUDGE: return "judge";
  }
  return "?";
}

const char *smx_leval_metric_name(smx_leval_metric m) {
  switch (m) {
  case SMX_LEVAL_AUTO: return "auto";
  case SMX_LEVAL_EM: return "em";
  case SMX_LEVAL_F1: return "f1";
  case SMX_LEVAL_ROUGE: return "rouge";
  }
  return "?";
}

smx_status smx_leval_metric_parse(const char *name, smx_leval_metric *out) {
  if (!strcmp(name, "em") || !strcmp(name, "exam")) *out = SMX_LEVAL_EM;
  else if (!strcmp(name, "f1")) *out = SMX_LEVAL_F1;
  else if (!strcmp(name, "rouge")) *out = SMX_LEVAL_ROUGE;
  else return smx_fail(SMX_ERR_INVALID, "unknown metric '%s' (accepted: em, f1, rouge)", name);
  return SMX_OK;
}
