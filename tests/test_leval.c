/* L-Eval scoring (tasks/leval_score.c, cli/cmd_task_leval.c): each metric and extraction rule on
 * hand-worked examples, whole files written to a temp dir, and the command's bad-input errors.
 * The expected values follow L-Eval's Evaluation/auto_eval.py, em.py, f1.py and google
 * rouge_score; each comment shows the arithmetic.
 *   build/tests/seqmix_tests --filter 'leval/\*'
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/leval.h"
#include "test_helpers.h"

#define TOL 1e-12

static void expect_str(char *got, const char *want) {
  cr_assert_not_null(got);
  cr_assert_str_eq(got, want);
  free(got);
}

Test(leval, normalize) {
  /* lower -> "the cat, a dog!  an apple"; punctuation -> "the cat a dog  an apple";
   * articles -> " cat   dog    apple"; spaces squeezed */
  expect_str(smx_leval_normalize_squad("The Cat, a dog!  AN apple"), "cat dog apple");
  /* whole words only: "theatre", "another", "a1" and "the_x" (underscore is a word character, but
   * '_' is punctuation and goes first, making "thex") stay */
  expect_str(smx_leval_normalize_squad("the theatre another a1 the_x"), "theatre another a1 thex");
  /* em.py's normalize_answer does not lowercase: "The" stays, "the" goes */
  expect_str(smx_leval_normalize_em("The cat of the year."), "The cat of year");
  expect_str(smx_leval_normalize_squad(" \t\n "), "");
  /* Unicode: lowercase beyond ASCII; U+00A0 (no-break space) splits like Python's str.split();
   * a curly quote is not a word character, so "“the" loses its article (re's \b) */
  expect_str(smx_leval_normalize_squad("ÉCOLE\xc2\xa0Été"), "école été");
  expect_str(smx_leval_normalize_squad("“the road”"), "“ road”");
  expect_str(smx_leval_lower("İ"), "i\xcc\x87"); /* Python: 'İ'.lower() == 'i̇' */
}

Test(leval, f1) {
  /* "cat sat on mat" vs "cat sat on hat": 3 common of 4 and 4 -> p = r = 3/4, F1 = 0.75 */
  cr_assert_float_eq(smx_leval_f1("the cat sat on the mat", "a cat sat on a hat"), 0.75, TOL);
  /* Counter overlap: pred {cat:2, dog:1}, gt {cat:1, dog:2, mouse:1} -> 1 + 1 = 2 common;
   * p = 2/3, r = 2/4, F1 = 2 (2/3)(1/2) / (2/3 + 1/2) = 4/7 */
  cr_assert_float_eq(smx_leval_f1("cat cat dog", "cat dog dog mouse"), 4.0 / 7.0, TOL);
  cr_assert_float_eq(smx_leval_f1("Paris!", "paris"), 1.0, TOL);
  cr_assert_float_eq(smx_leval_f1("london", "paris"), 0.0, TOL);
  cr_assert_float_eq(smx_leval_f1("", ""), 0.0, TOL); /* num_same == 0 -> 0, as f1.py */
  cr_assert_float_eq(smx_leval_f1("the", "a"), 0.0, TOL);
}

Test(leval, rouge) {
  smx_leval_rouge_f r;
  /* ref "the cat sat on the mat", pred "the cat lay on the mat" (6 tokens each):
   * R1: the 2 + cat + on + mat = 5 common -> 5/6; R2: the-cat, on-the, the-mat of 5 -> 3/5;
   * RL: LCS "the cat on the mat" = 5 -> 5/6 */
  cr_assert_eq(smx_leval_rouge("the cat lay on the mat", "the cat sat on the mat", &r), SMX_OK);
  cr_assert_float_eq(r.rouge1, 5.0 / 6.0, TOL);
  cr_assert_float_eq(r.rouge2, 3.0 / 5.0, TOL);
  cr_assert_float_eq(r.rougeL, 5.0 / 6.0, TOL);
  /* ref "a b c d", pred "b a c": R1 p = 3/3, r = 3/4 -> 6/7; R2: {ab, bc, cd} vs {ba, ac} -> 0;
   * RL: LCS 2 ("a c") -> p = 2/3, r = 2/4 -> 4/7 */
  cr_assert_eq(smx_leval_rouge("b a c", "a b c d", &r), SMX_OK);
  cr_assert_float_eq(r.rouge1, 6.0 / 7.0, TOL);
  cr_assert_float_eq(r.rouge2, 0.0, TOL);
  cr_assert_float_eq(r.rougeL, 4.0 / 7.0, TOL);
  /* tokenizer: lowercase, non-[a-z0-9] are separators (é too: "café" -> "caf"), no stemming */
  cr_assert_eq(smx_leval_rouge("Hello, WORLD!! 42x café", "hello world 42x caf", &r), SMX_OK);
  cr_assert_float_eq(r.rouge1, 1.0, TOL);
  cr_assert_float_eq(r.rougeL, 1.0, TOL);
  cr_assert_eq(smx_leval_rouge("cats", "cat", &r), SMX_OK);
  cr_assert_float_eq(r.rouge1, 0.0, TOL);
  cr_assert_eq(smx_leval_rouge("", "cat", &r), SMX_OK);
  cr_assert_float_eq(r.rouge1 + r.rouge2 + r.rougeL, 0.0, TOL);
}

Test(leval, exact_match) {
  /* reference made of A-D letters: equal -> 1, a subset of its letters -> 0.25 (coursera) */
  cr_assert_float_eq(smx_leval_em("A", "A"), 1.0, TOL);
  cr_assert_float_eq(smx_leval_em("AB", "ABD"), 0.25, TOL);
  cr_assert_float_eq(smx_leval_em("AE", "ABD"), 0.0, TOL);
  cr_assert_float_eq(smx_leval_em("B", "A"), 0.0, TOL);
  /* otherwise numbers compare as floats, else the lowercased, space-free reference must occur in
   * the prediction */
  cr_assert_float_eq(smx_leval_em("18.0", "18"), 1.0, TOL);
  cr_assert_float_eq(smx_leval_em(" 1_000 ", "1e3"), 1.0, TOL);
  cr_assert_float_eq(smx_leval_em("19", "18"), 0.0, TOL);
  cr_assert_float_eq(smx_leval_em("The topic is Space Tourism", "space tourism"), 1.0, TOL);
  cr_assert_float_eq(smx_leval_em("space", "space tourism"), 0.0, TOL);
}

Test(leval, multiple_choice) {
  expect_str(smx_leval_mc_output("The answer is B.", 0), "B"); /* the first capital A-D */
  expect_str(smx_leval_mc_output(" \n", 0), "None");
  expect_str(smx_leval_mc_output("AB", 1), "AB");  /* `response in "ABCD"` */
  expect_str(smx_leval_mc_output("BDA", 1), "ABD"); /* a leading run, sorted */
  /* capitals followed by a space, '.' or ')' */
  expect_str(smx_leval_mc_output("The answers are B and D.", 1), "BD");
  expect_str(smx_leval_mc_output("Options (C) and (A) Question 2 B.", 1), "AC");
  /* L-Eval's quirk: the leading "A" of "Answer" is taken, and "C" at the very end has nothing after
   * it for the lookahead */
  expect_str(smx_leval_mc_output("Answer: C", 1), "A");
  expect_str(smx_leval_mc_output("none of them", 0), "A"); /* no letter at all: the guess "A" */
  expect_str(smx_leval_mc_output("xx BAD", 1), "BAD");    /* the last resort keeps the run's order */
  expect_str(smx_leval_mc_gt("BD (both)"), "BD");
  expect_str(smx_leval_mc_gt(""), "A");
}

Test(leval, math_code_judge) {
  expect_str(smx_leval_math("3 + 4 = 7. The answer is 7."), "7");
  expect_str(smx_leval_math("The answer is $12.50 each"), "12");
  /* no "The answer is": the last space-separated piece (before a blank line) with a digit */
  expect_str(smx_leval_math("We get 1,234 apples\n\nlater 5"), "1234");
  expect_str(smx_leval_math("no digits here"), "");

  expect_str(smx_leval_code_gt("[[1, 2],\n [3, 4.0]]"), "[[1 2][3 4]]");
  /* gt has 3 words -> the last 6 pieces; "will be" dropped */
  expect_str(smx_leval_code_output("The output will be [1, 2, 3]", "[1, 2, 3]"), "The output [1 2 3]");
  /* after "the final output": the first 1 + 3 pieces of re.split(r'\s+'), a leading "" included */
  expect_str(smx_leval_code_output("x is 5 the final output is 7 and more words here", "7"), " 7 and more");
  cr_assert_float_eq(smx_leval_em("The output [1 2 3]", "[1 2 3]"), 1.0, TOL);

  char *l, *f;
  cr_assert_eq(smx_leval_judge_gt("True [fact: False]", &l, &f), SMX_OK);
  cr_assert_str_eq(l, "true");
  cr_assert_str_eq(f, "false");
  free(l), free(f);
  cr_assert_eq(smx_leval_judge_gt("True", &l, &f), SMX_ERR_PARSE);
  const char *pl, *pf;
  cr_assert_eq(smx_leval_judge_output("I think True. [fact: it is false]", &pl, &pf), SMX_OK);
  cr_assert_str_eq(pl, "true");
  cr_assert_str_eq(pf, "false");
  cr_assert_eq(smx_leval_judge_output("maybe", &pl, &pf), SMX_OK);
  cr_assert_str_eq(pl, "<error>");
  cr_assert_str_eq(pf, "<error>");
}

Test(leval, rules_by_name) {
  cr_assert_eq(smx_leval_rule_for_name("tpo"), SMX_LEVAL_RULE_MC);
  cr_assert_eq(smx_leval_rule_for_name("quality"), SMX_LEVAL_RULE_MC);
  cr_assert_eq(smx_leval_rule_for_name("coursera"), SMX_LEVAL_RULE_MC_MULTI);
  cr_assert_eq(smx_leval_rule_for_name("gsm100"), SMX_LEVAL_RULE_GSM);
  cr_assert_eq(smx_leval_rule_for_name("codeU"), SMX_LEVAL_RULE_CODE);
  cr_assert_eq(smx_leval_rule_for_name("topic_retrieval_longchat"), SMX_LEVAL_RULE_TOPIC);
  cr_assert_eq(smx_leval_rule_for_name("sci_fi"), SMX_LEVAL_RULE_JUDGE);
  cr_assert_eq(smx_leval_rule_for_name("news_summ"), SMX_LEVAL_RULE_PLAIN);
  smx_leval_metric m;
  cr_assert_eq(smx_leval_metric_parse("rouge", &m), SMX_OK);
  cr_assert_eq(m, SMX_LEVAL_ROUGE);
  cr_assert_eq(smx_leval_metric_parse("exam", &m), SMX_OK);
  cr_assert_eq(m, SMX_LEVAL_EM);
  cr_assert_eq(smx_leval_metric_parse("bleu", &m), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "unknown metric 'bleu'") != NULL);
}

Test(leval, score_lists) {
  smx_leval_result r = {0};
  /* topic: line i goes to group i % 3; lines 0 and 3 right, 1 and 2 wrong -> groups 100, 0, 0 and
   * the L-Eval score is their mean 33.3333 (the plain mean would be 50) */
  const char *tp[] = {"Art", "Food", "Music", "Space"}, *tr[] = {"art", "sport", "books", "space"};
  cr_assert_eq(smx_leval_score_lists(SMX_LEVAL_RULE_TOPIC, SMX_LEVAL_EM, tp, tr, NULL, 4, &r), SMX_OK);
  cr_assert_float_eq(r.group[0], 100.0, TOL);
  cr_assert_float_eq(r.group[1] + r.group[2], 0.0, TOL);
  cr_assert_float_eq(r.score, 100.0 / 3.0, 1e-12);
  /* sci_fi: loyalty 1, 1 -> 100; fact 0, 1 -> 50; score 75 */
  const char *jp[] = {"True [fact: True]", "false [fact: false]"}, *jr[] = {"True [fact: False]", "False [fact: False]"};
  cr_assert_eq(smx_leval_score_lists(SMX_LEVAL_RULE_JUDGE, SMX_LEVAL_EM, jp, jr, NULL, 2, &r), SMX_OK);
  cr_assert_float_eq(r.group[0], 100.0, TOL);
  cr_assert_float_eq(r.group[1], 50.0, TOL);
  cr_assert_float_eq(r.score, 75.0, TOL);
  cr_assert_eq(smx_leval_score_lists(SMX_LEVAL_RULE_JUDGE, SMX_LEVAL_F1, jp, jr, NULL, 2, &r), SMX_ERR_INVALID);
  /* ROUGE over the two pairs of the rouge test: means x100 are
   * R1 (500/6 + 600/7)/2, R2 (60 + 0)/2, RL (500/6 + 400/7)/2; all rounded to 4 digits */
  const char *rp[] = {"the cat lay on the mat", "b a c"}, *rr[] = {"the cat sat on the mat", "a b c d"};
  cr_assert_eq(smx_leval_score_lists(SMX_LEVAL_RULE_PLAIN, SMX_LEVAL_ROUGE, rp, rr, NULL, 2, &r), SMX_OK);
  double r1 = (500.0 / 6 + 600.0 / 7) / 2, r2 = 30, rl = (500.0 / 6 + 400.0 / 7) / 2;
  cr_assert_float_eq(r.rouge1, 84.5238, 1e-9); /* 84.52380952... */
  cr_assert_float_eq(r.rouge2, 30.0, 1e-9);
  cr_assert_float_eq(r.rougeL, 70.2381, 1e-9); /* 70.23809523... */
  cr_assert_float_eq(r.rouge_gmean, pow(r1 * r2 * rl, 1.0 / 3.0), 5e-5);
  cr_assert_float_eq(r.score, r.rouge_gmean, TOL);
  /* F1 x100: (0.75 + 4/7) / 2 = 66.0714 (66.07142857...) */
  const char *fp[] = {"the cat sat on the mat", "cat cat dog"}, *fr[] = {"a cat sat on a hat", "cat dog dog mouse"};
  cr_assert_eq(smx_leval_score_lists(SMX_LEVAL_RULE_PLAIN, SMX_LEVAL_F1, fp, fr, NULL, 2, &r), SMX_OK);
  cr_assert_float_eq(r.f1, 66.0714, 1e-9);
  /* gsm: "7" == "7", "12" != "13" -> 50 */
  const char *gp[] = {"so The answer is 7.", "The answer is 12"}, *gr[] = {"The answer is 7", "The answer is 13"};
  cr_assert_eq(smx_leval_score_lists(SMX_LEVAL_RULE_GSM, SMX_LEVAL_EM, gp, gr, NULL, 2, &r), SMX_OK);
  cr_assert_float_eq(r.exact_match, 50.0, TOL);
  cr_assert_eq(r.n_scored, 2);
}

/* ------------------------------------------------------------------ files and the command */

static const char *path_in(const char *dir, const char *name) {
  static char buf[4][1024];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

/* tpo: record 1 has two queries (A, C), record 2 one (B) */
#define TPO_DATA                                                                                                  \
  "{\"input\": \"doc 1\", \"instructions\": [\"q1\", \"q2\"], \"outputs\": [\"A\", \"C\"], \"source\": \"s\", " \
  "\"evaluation\": \"exam\"}\n"                                                                                  \
  "\n"                                                                                                           \
  "{\"input\": \"doc 2\", \"instructions\": [\"q3\"], \"outputs\": [\"B\"], \"source\": \"s\", \"evaluation\": \"exam\"}\n"

Test(leval, score_files) {
  const char *d = test_dir("leval_files");
  write_text(path_in(d, "tpo.jsonl"), TPO_DATA);
  /* "A" right, "The answer is D" -> D wrong, "(B)" -> B right: 2/3 */
  write_text(path_in(d, "p1.jsonl"), "\"A\"\n\"The answer is D\"\n\"(B)\"\n");
  smx_leval_result r;
  cr_assert_eq(smx_leval_score_files(path_in(d, "tpo.jsonl"), path_in(d, "p1.jsonl"), NULL, SMX_LEVAL_AUTO, &r), SMX_OK,
               "%s", smx_last_error());
  cr_assert_str_eq(r.task, "tpo");
  cr_assert_eq(r.rule, SMX_LEVAL_RULE_MC);
  cr_assert_eq(r.metric, SMX_LEVAL_EM);
  cr_assert_eq(r.n_records, 2);
  cr_assert_eq(r.n_scored, 3);
  cr_assert_float_eq(r.exact_match, 66.6667, 1e-9);
  /* L-Eval's Predictions format: the first key holding "_pred", with "gt" checked against the data */
  write_text(path_in(d, "tpo.pred.jsonl"),
             "{\"query\": \"q1\", \"gt\": \"A\", \"m_pred\": \"A\", \"evaluation\": \"exam\"}\n"
             "{\"query\": \"q2\", \"gt\": \"C\", \"m_pred\": \"C\", \"evaluation\": \"exam\"}\n"
             "{\"query\": \"q3\", \"gt\": \"B\", \"m_pred\": \"D\", \"evaluation\": \"exam\"}\n");
  cr_assert_eq(smx_leval_score_files(path_in(d, "tpo.jsonl"), path_in(d, "tpo.pred.jsonl"), NULL, SMX_LEVAL_AUTO, &r),
               SMX_OK, "%s", smx_last_error());
  cr_assert_float_eq(r.exact_match, 66.6667, 1e-9);
  /* the same answers scored by F1 with the plain rule (--metric f1 --task other): SQuAD's
   * normalisation turns "A" into "a", an article, so "A" vs "A" has no tokens and scores 0;
   * "C" vs "C" 1, "D" vs "B" 0 -> 33.3333 */
  cr_assert_eq(smx_leval_score_files(path_in(d, "tpo.jsonl"), path_in(d, "tpo.pred.jsonl"), "other", SMX_LEVAL_F1, &r),
               SMX_OK, "%s", smx_last_error());
  cr_assert_eq(r.rule, SMX_LEVAL_RULE_PLAIN);
  cr_assert_float_eq(r.f1, 33.3333, 1e-9);

  /* records judged by LLM or human are skipped; predictions may cover the scored queries or all */
  write_text(path_in(d, "qa.jsonl"),
             "{\"input\": \"d\", \"instructions\": [\"a\"], \"outputs\": [\"the red fox\"], \"evaluation\": \"f1\"}\n"
             "{\"input\": \"d\", \"instructions\": [\"b\"], \"outputs\": [\"ignored\"], \"evaluation\": \"LLM\"}\n"
             "{\"input\": \"d\", \"instructions\": [\"c\"], \"outputs\": [\"blue\"], \"evaluation\": \"f1\"}\n");
  /* "a red fox" vs "the red fox": 2/2 tokens -> 1; "green" vs "blue" -> 0; F1 50 */
  write_text(path_in(d, "qa_scored.jsonl"), "{\"prediction\": \"a red fox\"}\n{\"prediction\": \"green\"}\n");
  write_text(path_in(d, "qa_all.jsonl"), "\"a red fox\"\n\"whatever\"\n\"green\"\n");
  cr_assert_eq(smx_leval_score_files(path_in(d, "qa.jsonl"), path_in(d, "qa_scored.jsonl"), NULL, SMX_LEVAL_AUTO, &r),
               SMX_OK, "%s", smx_last_error());
  cr_assert_eq(r.metric, SMX_LEVAL_F1);
  cr_assert_eq(r.n_queries, 3);
  cr_assert_eq(r.n_scored, 2);
  cr_assert_float_eq(r.f1, 50.0, TOL);
  cr_assert_eq(smx_leval_score_files(path_in(d, "qa.jsonl"), path_in(d, "qa_all.jsonl"), NULL, SMX_LEVAL_AUTO, &r), SMX_OK,
               "%s", smx_last_error());
  cr_assert_float_eq(r.f1, 50.0, TOL);
}

static void expect_file_error(const char *data, const char *pred, const char *task, smx_leval_metric m, smx_status want,
                              const char *needle) {
  smx_leval_result r;
  smx_status s = smx_leval_score_files(data, pred, task, m, &r);
  cr_assert_eq(s, want, "status %d, error: %s", s, smx_last_error());
  cr_assert(strstr(smx_last_error(), needle) != NULL, "'%s' lacks '%s'", smx_last_error(), needle);
  cr_assert(strchr(smx_last_error(), '\n') == NULL, "two lines: %s", smx_last_error());
}

Test(leval, score_files_errors) {
  const char *d = test_dir("leval_errors");
  char data[1024];
  snprintf(data, sizeof data, "%s", path_in(d, "tpo.jsonl"));
  write_text(data, TPO_DATA);
  write_text(path_in(d, "p3.jsonl"), "\"A\"\n\"B\"\n\"C\"\n");
  expect_file_error(path_in(d, "nosuch.jsonl"), path_in(d, "p3.jsonl"), NULL, SMX_LEVAL_AUTO, SMX_ERR_IO, "cannot read the data file");
  expect_file_error(data, path_in(d, "nosuch.jsonl"), NULL, SMX_LEVAL_AUTO, SMX_ERR_IO, "cannot read the predictions file");
  write_text(path_in(d, "bad.jsonl"), "\"A\"\n{not json\n\"C\"\n");
  expect_file_error(data, path_in(d, "bad.jsonl"), NULL, SMX_LEVAL_AUTO, SMX_ERR_PARSE, "line 2 is not JSON");
  write_text(path_in(d, "p2.jsonl"), "\"A\"\n\"B\"\n");
  expect_file_error(data, path_in(d, "p2.jsonl"), NULL, SMX_LEVAL_AUTO, SMX_ERR_PARSE, "has 2 predictions but");
  write_text(path_in(d, "empty.jsonl"), "\n  \n");
  expect_file_error(data, path_in(d, "empty.jsonl"), NULL, SMX_LEVAL_AUTO, SMX_ERR_PARSE, "is empty");
  expect_file_error(path_in(d, "empty.jsonl"), path_in(d, "p3.jsonl"), NULL, SMX_LEVAL_AUTO, SMX_ERR_PARSE, "is empty");
  write_text(path_in(d, "noout.jsonl"), "{\"input\": \"d\", \"instructions\": [\"q\"], \"evaluation\": \"exam\"}\n");
  expect_file_error(path_in(d, "noout.jsonl"), path_in(d, "p3.jsonl"), NULL, SMX_LEVAL_AUTO, SMX_ERR_PARSE,
                    "line 1: the record lacks \"outputs\"");
  write_text(path_in(d, "gt.jsonl"), "{\"gt\": \"A\", \"m_pred\": \"A\"}\n{\"gt\": \"B\", \"m_pred\": \"B\"}\n"
                                     "{\"gt\": \"C\", \"m_pred\": \"C\"}\n");
  expect_file_error(data, path_in(d, "gt.jsonl"), NULL, SMX_LEVAL_AUTO, SMX_ERR_PARSE, "line 2: its \"gt\" differs");
  write_text(path_in(d, "nokey.jsonl"), "{\"text\": \"A\"}\n{\"text\": \"B\"}\n{\"text\": \"C\"}\n");
  expect_file_error(data, path_in(d, "nokey.jsonl"), NULL, SMX_LEVAL_AUTO, SMX_ERR_PARSE, "no \"prediction\"");
  write_text(path_in(d, "llm.jsonl"), "{\"input\": \"d\", \"instructions\": [\"q\"], \"outputs\": [\"o\"], \"evaluation\": \"LLM\"}\n");
  expect_file_error(path_in(d, "llm.jsonl"), path_in(d, "p3.jsonl"), NULL, SMX_LEVAL_AUTO, SMX_ERR_PARSE, "no query to score");
  expect_file_error(data, path_in(d, "p3.jsonl"), "topic_retrieval_longchat", SMX_LEVAL_ROUGE, SMX_ERR_INVALID,
                    "exact match only");
}

static cli_result cr;

static void cli_error_case(const char *const *args, const char *needle) {
  run_cli(&cr, args);
  cr_assert_eq(cr.status, 2, "exit %d, stderr: %s", cr.status, cr.err);
  cr_assert_eq(cr.err_lines, 1, "expected one error line, got: %s", cr.err);
  cr_assert(strncmp(cr.err, "seqmix: error: ", 15) == 0, "stderr: %s", cr.err);
  cr_assert(strstr(cr.err, needle) != NULL, "stderr '%s' lacks '%s'", cr.err, needle);
}

Test(leval, cli) {
  const char *d = test_dir("leval_cli");
  char data[1024], pred[1024], out[1024], bad[1024];
  snprintf(data, sizeof data, "%s", path_in(d, "tpo.jsonl"));
  snprintf(pred, sizeof pred, "%s", path_in(d, "pred.jsonl"));
  snprintf(out, sizeof out, "%s", path_in(d, "score.json"));
  snprintf(bad, sizeof bad, "%s", path_in(d, "bad.jsonl"));
  write_text(data, TPO_DATA);
  write_text(pred, "\"A\"\n\"The answer is D\"\n\"(B)\"\n");
  run_cli(&cr, (const char *[]){"task", "leval-score", "--data", data, "--pred", pred, "--out", out, NULL});
  cr_assert_eq(cr.status, 0, "stderr: %s", cr.err);
  cr_assert(strstr(cr.out, "leval tpo (rule mc, metric em): exact_match 66.6667 over 3 queries") != NULL, "%s", cr.out);
  json_error_t je;
  json_t *doc = json_load_file(out, 0, &je);
  cr_assert_not_null(doc, "%s", je.text);
  cr_assert_str_eq(json_string_value(json_object_get(doc, "kind")), "leval_score");
  cr_assert_eq(json_integer_value(json_object_get(doc, "scored")), 3);
  cr_assert_str_eq(json_string_value(json_object_get(doc, "data_file")), data);
  cr_assert_float_eq(json_real_value(json_object_get(json_object_get(doc, "scores"), "exact_match")), 66.6667, 1e-9);
  cr_assert_float_eq(json_real_value(json_object_get(doc, "leval_score")), 66.6667, 1e-9);
  json_decref(doc);

  run_cli(&cr, (const char *[]){"task", "leval-score", "--data", data, "--pred", pred, "--metric", "rouge", "--task", "x", NULL});
  cr_assert_eq(cr.status, 0, "stderr: %s", cr.err);
  cr_assert(strstr(cr.out, "rouge1 66.6667 rouge2 0.0000 rougeL 66.6667 geometric_mean 0.0000 over 3 queries") != NULL,
            "%s", cr.out);
  run_cli(&cr, (const char *[]){"task", "leval-score", "--help", NULL});
  cr_assert_eq(cr.status, 0);
  cr_assert(strstr(cr.out, "--metric") != NULL, "%s", cr.out);

  write_text(bad, "\"A\"\n[1, 2\n");
  cli_error_case((const char *[]){"task", "leval-score", "--pred", pred, NULL}, "--data FILE is required");
  cli_error_case((const char *[]){"task", "leval-score", "--data", data, NULL}, "--pred FILE is required");
  cli_error_case((const char *[]){"task", "leval-score", "--data", data, "--pred", pred, "--metric", "bleu", NULL},
                 "unknown metric 'bleu' (accepted: em, f1, rouge)");
  cli_error_case((const char *[]){"task", "leval-score", "--data", pred, "--pred", pred, NULL}, "the record is not a JSON object");
  cli_error_case((const char *[]){"task", "leval-score", "--data", data, "--pred", bad, NULL}, "line 2 is not JSON");
  cli_error_case((const char *[]){"task", "leval-score", "--data", data, "--pred", "/nonexistent/p.jsonl", NULL},
                 "cannot read the predictions file");
}
