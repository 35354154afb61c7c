/* The file-backed tasks (tasks/lra_tsv.c, tasks/lra_files.c, tasks/bytes_corpus.c, tasks/task_data.c)
 * on small files written here in the released formats: LRA's ListOps and AAN TSVs, an aclImdb
 * tree, CIFAR-10 binary records with hand-computed grayscale values, a byte corpus; every bad input
 * (truncated, wrong columns, bad labels, empty, unreadable, missing) fails with one line; data=
 * parsing with commas and its format round trip. No real dataset is read.
 *   build/tests/seqmix_tests --filter lra_data/\*
 */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seqmix/tasks.h"
#include "test_helpers.h"

/* ---- scratch directory ---- */

static char tmp[256];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  chmod(p, 0700);
  return remove(p);
}

static void make_tmp(void) {
  const char *base = getenv("TMPDIR");
  snprintf(tmp, sizeof tmp, "%s/seqmix-lra-XXXXXX", base && *base ? base : "/tmp");
  cr_assert(mkdtemp(tmp), "mkdtemp %s", tmp);
}
static void drop_tmp(void) {
  if (tmp[0]) nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
TestSuite(lra_data, .init = make_tmp, .fini = drop_tmp);

static const char *at(const char *rel) {
  static char buf[4][512];
  static int k;
  char *p = buf[k++ & 3];
  snprintf(p, 512, "%s/%s", tmp, rel);
  return p;
}
static void mkdirs(const char *rel) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", tmp, rel);
  for (char *s = p + strlen(tmp) + 1; *s; s++)
    if (*s == '/') *s = 0, mkdir(p, 0755), *s = '/';
  mkdir(p, 0755);
}
static void put(const char *rel, const void *data, size_t n) {
  FILE *f = fopen(at(rel), "wb");
  cr_assert(f, "cannot write %s", rel);
  cr_assert_eq(fwrite(data, 1, n, f), n);
  fclose(f);
}
static void put_text(const char *rel, const char *s) { put(rel, s, strlen(s)); }

/* ---- configs and datasets ---- */

static smx_task_config cfg(const char *task, const char *spec) {
  const smx_task *t;
  cr_assert_eq(smx_task_lookup(task, &t), SMX_OK, "%s", smx_last_error());
  smx_task_config c;
  cr_assert_eq(smx_task_config_parse(t, spec, &c), SMX_OK, "%s %s: %s", task, spec, smx_last_error());
  return c;
}

typedef struct data {
  smx_task_config c;
  int64_t n, T;
  int32_t *in, *lb;
} data;

static smx_status try_gen(data *d, const char *task, const char *spec, smx_split split, uint64_t seed, int64_t n) {
  d->c = cfg(task, spec);
  d->n = n, d->T = smx_task_seq_len(&d->c);
  d->in = malloc((size_t)(n * d->T) * sizeof *d->in);
  d->lb = malloc((size_t)(n * d->T) * sizeof *d->lb);
  return smx_task_generate(&d->c, split, seed, n, d->in, d->lb);
}
static data gen(const char *task, const char *spec, smx_split split, uint64_t seed, int64_t n) {
  data d;
  cr_assert_eq(try_gen(&d, task, spec, split, seed, n), SMX_OK, "%s %s: %s", task, spec, smx_last_error());
  int64_t V = smx_task_vocab(&d.c);
  for (int64_t i = 0; i < n * d.T; i++) {
    cr_assert(d.in[i] >= 0 && d.in[i] < V, "%s: input %d outside [0, %lld)", task, d.in[i], (long long)V);
    cr_assert(d.lb[i] == SMX_IGNORE_LABEL || (d.lb[i] >= 0 && d.lb[i] < V), "%s: label %d", task, d.lb[i]);
  }
  return d;
}
static void drop(data *d) { free(d->in), free(d->lb); }

/* A failing generate: the status, and one error line that names `needle`. */
static void fails(smx_status want, const char *needle, const char *task, const char *spec, smx_split split, int64_t n) {
  data d;
  smx_clear_error();
  smx_status s = try_gen(&d, task, spec, split, 1, n);
  const char *e = smx_last_error();
  cr_assert_eq(s, want, "%s %s: status %s, want %s (%s)", task, spec, smx_status_name(s), smx_status_name(want), e);
  cr_assert(strstr(e, needle), "%s: error '%s' does not name '%s'", task, e, needle);
  cr_assert(!strchr(e, '\n'), "%s: error is not one line: %s", task, e);
  drop(&d);
}

/* An unreadable file: chmod 0 stops everyone but root, so under root the generate runs in a child
 * that has dropped to uid 65534 (the scratch tree is made traversable for it). */
static void fails_unreadable(const char *rel, const char *task, const char *spec, smx_split split, int64_t n) {
  chmod(at(rel), 0);
  if (geteuid() != 0) {
    fails(SMX_ERR_PARSE, "cannot read", task, spec, split, n);
  } else {
    chmod(tmp, 0755);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
      data d;
      if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
      smx_status s = try_gen(&d, task, spec, split, 1, n);
      _exit(s == SMX_ERR_PARSE && strstr(smx_last_error(), "cannot read") && !strchr(smx_last_error(), '\n') ? 0 : 1);
    }
    int ws = 0;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s: an unreadable %s is not one 'cannot read' line (child %d)",
              task, rel, ws);
  }
  chmod(at(rel), 0644);
}

/* ---- data= parsing ---- */

Test(lra_data, data_param_takes_the_rest_with_commas) {
  smx_task_config c = cfg("lra_listops", "L=50,data=/x/a,b=c,d");
  cr_assert_str_eq(c.data, "/x/a,b=c,d");
  cr_assert_eq(smx_task_get(&c, "L"), 50);
  char buf[2048];
  smx_task_config_format(&c, buf, sizeof buf);
  cr_assert_str_eq(buf, "L=50,val=0,data=/x/a,b=c,d");
  smx_task_config d = cfg("lra_listops", buf);
  cr_assert_str_eq(d.data, c.data);
  cr_assert_eq(memcmp(d.v, c.v, sizeof c.v), 0);
  c = cfg("lra_image", "data=/only, a path");
  cr_assert_str_eq(c.data, "/only, a path");
  smx_task_config_format(&c, buf, sizeof buf);
  cr_assert_str_eq(buf, "val=0,data=/only, a path");
  c = cfg("bytes", "L=8, data=rel/corpus.txt");
  cr_assert_str_eq(c.data, "rel/corpus.txt");
  /* no data: the formatting of every task is unchanged */
  c = cfg("lra_text", "");
  cr_assert_str_eq(c.data, "");
  smx_task_config_format(&c, buf, sizeof buf);
  cr_assert_str_eq(buf, "L=1000");
  c = cfg("mqar", "L=64");
  smx_task_config_format(&c, buf, sizeof buf);
  cr_assert(!strstr(buf, "data"), "%s", buf);
}

Test(lra_data, data_param_errors) {
  const smx_task *t;
  smx_task_config c;
  cr_assert_eq(smx_task_lookup("mqar", &t), SMX_OK);
  cr_assert_eq(smx_task_config_parse(t, "L=64,data=/x", &c), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "reads no data"), "%s", smx_last_error());
  cr_assert_eq(smx_task_lookup("bytes", &t), SMX_OK);
  cr_assert_eq(smx_task_config_parse(t, "L=8,data=", &c), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "needs a path"), "%s", smx_last_error());
  cr_assert_eq(smx_task_config_parse(t, "data=/x,L=8", &c), SMX_OK); /* L=8 is part of the path */
  cr_assert_str_eq(c.data, "/x,L=8");
  cr_assert_eq(smx_task_get(&c, "L"), 1024);
  char longp[1100];
  memset(longp, 'a', sizeof longp - 1), longp[sizeof longp - 1] = 0;
  memcpy(longp, "data=", 5);
  cr_assert_eq(smx_task_config_parse(t, longp, &c), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "too long"), "%s", smx_last_error());
}

Test(lra_data, seqmix_data_env_and_presence) {
  unsetenv("SEQMIX_DATA");
  smx_task_config c = cfg("lra_listops", "");
  cr_assert_eq(smx_task_data_present(&c), 0);
  cr_assert(strstr(smx_last_error(), "SEQMIX_DATA is not set"), "%s", smx_last_error());
  fails(SMX_ERR_IO, "data not present", "lra_listops", "", SMX_SPLIT_TRAIN, 1);
  setenv("SEQMIX_DATA", tmp, 1);
  cr_assert_eq(smx_task_data_present(&c), 0);
  cr_assert(strstr(smx_last_error(), "lra/listops"), "%s", smx_last_error());
  mkdirs("lra/listops");
  put_text("lra/listops/basic_train.tsv", "Source\tTarget\r\n[MAX 1 2 ]\t2\r\n");
  put_text("lra/listops/basic_val.tsv", "Source\tTarget\r\n[MAX 1 2 ]\t2\r\n");
  cr_assert_eq(smx_task_data_present(&c), 0);
  cr_assert(strstr(smx_last_error(), "basic_test.tsv"), "%s", smx_last_error());
  put_text("lra/listops/basic_test.tsv", "Source\tTarget\r\n[MAX 1 2 ]\t2\r\n");
  cr_assert_eq(smx_task_data_present(&c), 1);
  char path[2048];
  cr_assert_eq(smx_task_data_path(&c, path, sizeof path), SMX_OK);
  cr_assert_str_eq(path, at("lra/listops"));
  smx_task_config m = cfg("mqar", "");
  cr_assert_eq(smx_task_data_present(&m), 1); /* a generated task needs nothing */
  /* seqmix task list says which is present */
  cli_result r;
  const char *args[] = {"task", "list", NULL};
  run_cli(&r, args);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert(strstr(r.out, "present: "), "%s", r.out);
  cr_assert(strstr(r.out, "lra_image: data not present"), "%s", r.out);
  unsetenv("SEQMIX_DATA");
}

/* ---- ListOps: the synthetic task's trees, written as LRA's TSV, load back token for token ---- */

static const char *const op_names[] = {"[MIN", "[MAX", "[MED", "[SM"};

/* listops.py's to_string of the binary tree: an operator with children c1..ck is
 * ( ( ... ( ( OP c1 ) c2 ) ... ck ) ] ). Returns a malloc'ed string; *i walks the tokens. */
static char *lra_string(const int32_t *tok, int64_t *i) {
  int32_t t = tok[(*i)++];
  char *s = malloc(16);
  if (t >= 1 && t <= 10) {
    snprintf(s, 16, "%d", t - 1);
    return s;
  }
  cr_assert(t >= 11 && t <= 14, "token %d is not an operator", t);
  snprintf(s, 16, "%s", op_names[t - 11]);
  for (;;) {
    int close = tok[*i] == 15;
    char *child = close ? NULL : lra_string(tok, i);
    size_t n = strlen(s) + (child ? strlen(child) : 1) + 8;
    char *u = malloc(n);
    snprintf(u, n, "( %s %s )", s, child ? child : "]");
    free(s), free(child);
    s = u;
    if (close) {
      (*i)++;
      return s;
    }
  }
}

static void write_listops_tsv(const char *rel, const data *d) {
  FILE *f = fopen(at(rel), "wb");
  cr_assert(f);
  fprintf(f, "Source\tTarget\r\n"); /* Python's csv writer ends rows with \r\n */
  for (int64_t e = 0; e < d->n; e++) {
    const int32_t *in = d->in + e * d->T, *lb = d->lb + e * d->T;
    int64_t i = 0;
    char *s = lra_string(in, &i);
    cr_assert_eq(in[i], 16, "the classify token follows the tree");
    fprintf(f, "%s\t%d\r\n", s, lb[i] - 1);
    free(s);
  }
  fclose(f);
}

Test(lra_data, listops_tsv_matches_the_generator) {
  const int64_t n = 40;
  data tr = gen("listops", "min_len=20,max_len=100", SMX_SPLIT_TRAIN, 5, n);
  data te = gen("listops", "min_len=20,max_len=100", SMX_SPLIT_TEST, 5, n);
  mkdirs("lo");
  write_listops_tsv("lo/basic_train.tsv", &tr);
  write_listops_tsv("lo/basic_test.tsv", &te);
  write_listops_tsv("lo/basic_val.tsv", &te);
  char spec[600];
  snprintf(spec, sizeof spec, "L=99,data=%s", at("lo")); /* T = L + 1 = max_len */
  for (int sp = 0; sp < 2; sp++) {
    const data *want = sp ? &te : &tr;
    data got = gen("lra_listops", spec, sp ? SMX_SPLIT_TEST : SMX_SPLIT_TRAIN, 3, n);
    cr_assert_eq(got.T, want->T);
    /* the loader returns the split in a seed-determined order: match every row once */
    int used[64] = {0};
    for (int64_t e = 0; e < n; e++) {
      int64_t hit = -1;
      for (int64_t f = 0; f < n && hit < 0; f++)
        if (!used[f] && !memcmp(got.in + e * got.T, want->in + f * want->T, (size_t)got.T * sizeof *got.in) &&
            !memcmp(got.lb + e * got.T, want->lb + f * want->T, (size_t)got.T * sizeof *got.lb))
          hit = f;
      cr_assert_geq(hit, 0, "split %d: loaded example %lld is none of the generated ones", sp, (long long)e);
      used[hit] = 1;
    }
    drop(&got);
  }
  /* the order is the seed's; the same seed repeats it */
  data a = gen("lra_listops", spec, SMX_SPLIT_TRAIN, 3, n), b = gen("lra_listops", spec, SMX_SPLIT_TRAIN, 3, n);
  data c = gen("lra_listops", spec, SMX_SPLIT_TRAIN, 4, n);
  cr_assert_eq(memcmp(a.in, b.in, (size_t)(n * a.T) * sizeof *a.in), 0);
  cr_assert_neq(memcmp(a.in, c.in, (size_t)(n * a.T) * sizeof *a.in), 0);
  drop(&a), drop(&b), drop(&c), drop(&tr), drop(&te);
}

Test(lra_data, listops_tokens_truncation_and_val) {
  mkdirs("lo");
  put_text("lo/basic_train.tsv", "Source\tTarget\r\n( ( ( [SM 3 ) 4 ) ] )\t7\r\n");
  put_text("lo/basic_val.tsv", "Source\tTarget\n( ( [MED 5 ) ] )\t5\n");
  put_text("lo/basic_test.tsv", "Source\tTarget\n( ( ( [MIN 1 ) ( ( [MAX 2 ) ] ) ) ] )\t1\n");
  char spec[600];
  snprintf(spec, sizeof spec, "L=8,data=%s", at("lo"));
  data d = gen("lra_listops", spec, SMX_SPLIT_TRAIN, 1, 1);
  const int32_t want[9] = {14, 4, 5, 15, 16, 0, 0, 0, 0};
  cr_assert_eq(d.T, 9);
  cr_assert_eq(memcmp(d.in, want, sizeof want), 0);
  for (int t = 0; t < 9; t++) cr_assert_eq(d.lb[t], t == 4 ? 8 : SMX_IGNORE_LABEL, "label at %d", t);
  drop(&d);
  d = gen("lra_listops", spec, SMX_SPLIT_TEST, 1, 1);
  const int32_t want_test[6] = {11, 2, 12, 3, 15, 15};
  cr_assert_eq(memcmp(d.in, want_test, sizeof want_test), 0);
  drop(&d);
  snprintf(spec, sizeof spec, "L=8,val=1,data=%s", at("lo"));
  d = gen("lra_listops", spec, SMX_SPLIT_TEST, 1, 1);
  cr_assert_eq(d.in[0], 13);
  cr_assert_eq(d.lb[3], 6);
  drop(&d);
  /* LRA keeps the first max_length tokens: L=3 cuts the expression, the classify token follows */
  snprintf(spec, sizeof spec, "L=3,data=%s", at("lo"));
  d = gen("lra_listops", spec, SMX_SPLIT_TRAIN, 1, 1);
  const int32_t cut[4] = {14, 4, 5, 16};
  cr_assert_eq(memcmp(d.in, cut, sizeof cut), 0);
  cr_assert_eq(d.lb[3], 8);
  drop(&d);
  fails(SMX_ERR_INVALID, "fewer than n=2", "lra_listops", spec, SMX_SPLIT_TRAIN, 2);
}

Test(lra_data, listops_bad_files) {
  mkdirs("lo");
  char spec[600];
  snprintf(spec, sizeof spec, "data=%s", at("lo"));
  fails(SMX_ERR_IO, "basic_train.tsv", "lra_listops", spec, SMX_SPLIT_TRAIN, 1); /* empty directory */
  put_text("lo/basic_train.tsv", "Source\tTarget\n[MAX 1 2 ]\t2\textra\n");
  fails(SMX_ERR_PARSE, "basic_train.tsv:2: 3 tab-separated columns, expected 2", "lra_listops", spec, SMX_SPLIT_TRAIN, 1);
  put_text("lo/basic_train.tsv", "Source\tTarget\n[MAX 1 2 ]\t12\n");
  fails(SMX_ERR_PARSE, "Target '12' is not a digit", "lra_listops", spec, SMX_SPLIT_TRAIN, 1);
  put_text("lo/basic_train.tsv", "Source\tTarget\n[MAX 1 2 ]\t\n");
  fails(SMX_ERR_PARSE, "is not a digit", "lra_listops", spec, SMX_SPLIT_TRAIN, 1);
  put_text("lo/basic_train.tsv", "Input\tOutput\n[MAX 1 2 ]\t2\n");
  fails(SMX_ERR_PARSE, "header", "lra_listops", spec, SMX_SPLIT_TRAIN, 1);
  put_text("lo/basic_train.tsv", "Source\tTarget\n[FIRST 1 2 ]\t1\n");
  fails(SMX_ERR_PARSE, "token '[FIRST'", "lra_listops", spec, SMX_SPLIT_TRAIN, 1);
  put_text("lo/basic_train.tsv", "");
  fails(SMX_ERR_PARSE, "holds no rows", "lra_listops", spec, SMX_SPLIT_TRAIN, 1);
  put_text("lo/basic_train.tsv", "Source\tTarget\n");
  fails(SMX_ERR_PARSE, "holds no rows", "lra_listops", spec, SMX_SPLIT_TRAIN, 1);
  put_text("lo/basic_train.tsv", "Source\tTarget\n[MAX 1 2 ]\t2\n");
  fails_unreadable("lo/basic_train.tsv", "lra_listops", spec, SMX_SPLIT_TRAIN, 1);
  mkdirs("lo/basic_test.tsv"); /* a directory where a file should be */
  fails(SMX_ERR_IO, "is not a file", "lra_listops", spec, SMX_SPLIT_TEST, 1);
}

/* ---- Retrieval (AAN) ---- */

Test(lra_data, aan_pairs) {
  mkdirs("aan");
  put_text("aan/new_aan_pairs.train.tsv", "1.0\tP1\tP2\tabc\txy\n0\tP3\tP4\t\t\xff\n");
  put_text("aan/new_aan_pairs.eval.tsv", "0.0\tP1\tP2\tq\tr\n");
  put_text("aan/new_aan_pairs.test.tsv", "1\tP1\tP2\tlonger text\tz\n");
  char spec[600];
  snprintf(spec, sizeof spec, "L=4,data=%s", at("aan"));
  data d = gen("lra_retrieval", spec, SMX_SPLIT_TRAIN, 1, 2);
  cr_assert_eq(d.T, 10);
  const int32_t a[10] = {'a' + 1, 'b' + 1, 'c' + 1, 257, 'x' + 1, 'y' + 1, 258, 0, 0, 0};
  const int32_t b[10] = {257, 0xff + 1, 258, 0, 0, 0, 0, 0, 0, 0};
  for (int e = 0; e < 2; e++) {
    const int32_t *in = d.in + e * 10, *lb = d.lb + e * 10;
    int first = in[0] == 'a' + 1;
    cr_assert_eq(memcmp(in, first ? a : b, sizeof a), 0, "example %d", e);
    int cls = first ? 6 : 2;
    for (int t = 0; t < 10; t++) cr_assert_eq(lb[t], t == cls ? 259 + first : SMX_IGNORE_LABEL);
  }
  drop(&d);
  d = gen("lra_retrieval", spec, SMX_SPLIT_TEST, 1, 1); /* each document cut to L bytes */
  const int32_t c[10] = {'l' + 1, 'o' + 1, 'n' + 1, 'g' + 1, 257, 'z' + 1, 258, 0, 0, 0};
  cr_assert_eq(memcmp(d.in, c, sizeof c), 0);
  cr_assert_eq(d.lb[6], 260);
  drop(&d);
  snprintf(spec, sizeof spec, "L=4,val=1,data=%s", at("aan"));
  d = gen("lra_retrieval", spec, SMX_SPLIT_TEST, 1, 1);
  cr_assert_eq(d.in[0], 'q' + 1);
  cr_assert_eq(d.lb[3], 259);
  drop(&d);

  put_text("aan/new_aan_pairs.train.tsv", "1\tP1\tP2\tabc\n");
  fails(SMX_ERR_PARSE, "new_aan_pairs.train.tsv:1: 4 tab-separated columns, expected 5", "lra_retrieval", spec,
        SMX_SPLIT_TRAIN, 1);
  put_text("aan/new_aan_pairs.train.tsv", "1\tP1\tP2\ta\tb\n2\tP1\tP2\ta\tb\n");
  fails(SMX_ERR_PARSE, ":2: label '2' is not 0 or 1", "lra_retrieval", spec, SMX_SPLIT_TRAIN, 1);
  put_text("aan/new_aan_pairs.train.tsv", "yes\tP1\tP2\ta\tb\n");
  fails(SMX_ERR_PARSE, "label 'yes'", "lra_retrieval", spec, SMX_SPLIT_TRAIN, 1);
}

/* ---- Text (aclImdb) ---- */

Test(lra_data, imdb_tree) {
  mkdirs("aclImdb/train/neg"), mkdirs("aclImdb/train/pos"), mkdirs("aclImdb/train/unsup");
  mkdirs("aclImdb/test/neg"), mkdirs("aclImdb/test/pos");
  char spec[600];
  snprintf(spec, sizeof spec, "L=6,data=%s", at("aclImdb"));
  fails(SMX_ERR_IO, "data not present: no *.txt reviews", "lra_text", spec, SMX_SPLIT_TRAIN, 1); /* empty tree */
  put_text("aclImdb/train/neg/0_2.txt", "  Bad.\n");
  put_text("aclImdb/train/pos/0_9.txt", "Great film, loved it<br />");
  put_text("aclImdb/train/pos/1_8.txt", "\t\r\n ");
  put_text("aclImdb/train/pos/notes.md", "not a review");
  put_text("aclImdb/train/unsup/0_0.txt", "unlabelled");
  put_text("aclImdb/test/neg/0_1.txt", "meh");
  put_text("aclImdb/test/pos/0_7.txt", "ok");
  data d = gen("lra_text", spec, SMX_SPLIT_TRAIN, 2, 3);
  cr_assert_eq(d.T, 7);
  int seen = 0;
  for (int e = 0; e < 3; e++) {
    const int32_t *in = d.in + e * 7, *lb = d.lb + e * 7;
    if (in[0] == 'B' + 1) { /* stripped, bytes + 1, classify, padding */
      const int32_t w[7] = {'B' + 1, 'a' + 1, 'd' + 1, '.' + 1, 257, 0, 0};
      cr_assert_eq(memcmp(in, w, sizeof w), 0);
      cr_assert_eq(lb[4], 258);
      seen |= 1;
    } else if (in[0] == 'G' + 1) { /* cut to L = 6 bytes */
      const int32_t w[7] = {'G' + 1, 'r' + 1, 'e' + 1, 'a' + 1, 't' + 1, ' ' + 1, 257};
      cr_assert_eq(memcmp(in, w, sizeof w), 0);
      cr_assert_eq(lb[6], 259);
      seen |= 2;
    } else { /* all whitespace: empty review */
      cr_assert_eq(in[0], 257);
      cr_assert_eq(lb[0], 259);
      seen |= 4;
    }
    for (int t = 0; t < 7; t++) cr_assert(lb[t] == SMX_IGNORE_LABEL || in[t] == 257);
  }
  cr_assert_eq(seen, 7, "every review once (not the unsup one, not notes.md)");
  drop(&d);
  d = gen("lra_text", spec, SMX_SPLIT_TEST, 2, 2);
  int sum = 0;
  for (int t = 0; t < 14; t++) sum += d.lb[t] == SMX_IGNORE_LABEL ? 0 : d.lb[t];
  cr_assert_eq(sum, 258 + 259, "meh (neg) and ok (pos)");
  drop(&d);
  fails(SMX_ERR_INVALID, "the train split has 3 examples", "lra_text", spec, SMX_SPLIT_TRAIN, 4);
  fails_unreadable("aclImdb/test/pos/0_7.txt", "lra_text", spec, SMX_SPLIT_TEST, 2);
  fails_unreadable("aclImdb/test/pos", "lra_text", spec, SMX_SPLIT_TEST, 2); /* a directory it cannot list */
}

/* ---- Image (CIFAR-10 binary) ---- */

enum { REC = 3073 };

/* A record whose label is `label` and whose first pixels have the colours below; the last pixel's
 * red channel carries `tag` so a test can tell records apart. */
static void record(unsigned char *r, int label, int tag) {
  memset(r, 0, REC);
  r[0] = (unsigned char)label;
  static const unsigned char rgb[][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}, {100, 100, 100},
                                         {10, 20, 30}, {0, 0, 0}};
  for (int p = 0; p < 7; p++)
    for (int ch = 0; ch < 3; ch++) r[1 + ch * 1024 + p] = rgb[p][ch];
  r[1 + 1023] = (unsigned char)tag;
}

static void write_cifar(const char *dir, int per_batch, int test_records) {
  unsigned char r[REC];
  char rel[128];
  mkdirs(dir);
  for (int b = 1; b <= 6; b++) {
    int n = b == 6 ? test_records : per_batch;
    if (b == 6) snprintf(rel, sizeof rel, "%s/test_batch.bin", dir);
    else snprintf(rel, sizeof rel, "%s/data_batch_%d.bin", dir, b);
    FILE *f = fopen(at(rel), "wb");
    cr_assert(f);
    for (int i = 0; i < n; i++) {
      int tag = b == 6 ? 200 + i : (b - 1) * per_batch + i; /* the record's index in the training set */
      record(r, tag % 10, tag);
      fwrite(r, 1, REC, f);
    }
    fclose(f);
  }
}

Test(lra_data, cifar_grayscale_and_splits) {
  write_cifar("cifar", 2, 3); /* 10 training records: train = the first 9, val = the last */
  char spec[600];
  snprintf(spec, sizeof spec, "data=%s", at("cifar"));
  data d = gen("lra_image", spec, SMX_SPLIT_TRAIN, 1, 9);
  cr_assert_eq(d.T, 1025);
  /* by hand, TF's float steps: trunc(255.5 * (0.2989 R + 0.5870 G + 0.1140 B) / 255)
   * red 76.37, green 149.98 (truncated, not rounded), blue 29.13, white 255.47, grey 100 100.19,
   * (10, 20, 30) 18.18, black 0 */
  const int32_t gray[7] = {76, 149, 29, 255, 100, 18, 0};
  int tags = 0;
  for (int e = 0; e < 9; e++) {
    const int32_t *in = d.in + e * 1025, *lb = d.lb + e * 1025;
    cr_assert_eq(memcmp(in, gray, sizeof gray), 0, "example %d: %d %d %d %d %d %d", e, in[0], in[1], in[2], in[3],
                 in[4], in[5]);
    cr_assert_eq(in[1024], 256);
    for (int t = 0; t < 1024; t++) cr_assert_eq(lb[t], SMX_IGNORE_LABEL);
    tags |= 1 << (lb[1024] - 257);
  }
  cr_assert_eq(tags, 0x1ff, "the train split holds records 0..8 (labels 0..8), not record 9");
  drop(&d);
  fails(SMX_ERR_INVALID, "the train split has 9 examples", "lra_image", spec, SMX_SPLIT_TRAIN, 10);
  snprintf(spec, sizeof spec, "val=1,data=%s", at("cifar"));
  d = gen("lra_image", spec, SMX_SPLIT_TEST, 1, 1);
  cr_assert_eq(d.lb[1024], 257 + 9, "val = the last training record");
  drop(&d);
  snprintf(spec, sizeof spec, "data=%s", at("cifar"));
  d = gen("lra_image", spec, SMX_SPLIT_TEST, 1, 3);
  int t3 = 0;
  for (int e = 0; e < 3; e++) t3 |= 1 << (d.lb[e * 1025 + 1024] - 257);
  cr_assert_eq(t3, 1 | 2 | 4, "test = test_batch's records 200..202");
  drop(&d);
}

Test(lra_data, cifar_bad_files) {
  write_cifar("cifar", 2, 3);
  char spec[600];
  snprintf(spec, sizeof spec, "data=%s", at("cifar"));
  unsigned char r[REC];
  record(r, 3, 0);
  put("cifar/test_batch.bin", r, REC - 1); /* truncated */
  fails(SMX_ERR_PARSE, "test_batch.bin is 3072 bytes, not a whole number of 3073-byte records", "lra_image", spec,
        SMX_SPLIT_TEST, 1);
  put("cifar/test_batch.bin", r, 0);
  fails(SMX_ERR_PARSE, "is 0 bytes", "lra_image", spec, SMX_SPLIT_TEST, 1);
  r[0] = 10;
  put("cifar/test_batch.bin", r, REC);
  fails(SMX_ERR_PARSE, "label 10, not 0..9", "lra_image", spec, SMX_SPLIT_TEST, 1);
  fails_unreadable("cifar/data_batch_2.bin", "lra_image", spec, SMX_SPLIT_TRAIN, 1);
  remove(at("cifar/data_batch_3.bin"));
  fails(SMX_ERR_IO, "data_batch_3.bin", "lra_image", spec, SMX_SPLIT_TRAIN, 1);
  smx_task_config c = cfg("lra_image", spec);
  cr_assert_eq(smx_task_data_present(&c), 0);
  snprintf(spec, sizeof spec, "data=%s", at("nowhere"));
  fails(SMX_ERR_IO, "data not present", "lra_image", spec, SMX_SPLIT_TRAIN, 1);
}

/* ---- the byte corpus ---- */

Test(lra_data, bytes_windows) {
  enum { N = 1000, L = 16 };
  unsigned char text[N];
  uint32_t x = 12345; /* an LCG's high bytes: any 17-byte window occurs once */
  for (int i = 0; i < N; i++) x = x * 1664525u + 1013904223u, text[i] = (unsigned char)(x >> 24);
  put("corpus.txt", text, N);
  setenv("SEQMIX_DATA", tmp, 1); /* the default: $SEQMIX_DATA/corpus.txt */
  data tr = gen("bytes", "L=16", SMX_SPLIT_TRAIN, 9, 200), te = gen("bytes", "L=16", SMX_SPLIT_TEST, 9, 200);
  cr_assert_eq(tr.T, L);
  cr_assert_eq(smx_task_vocab(&tr.c), 256);
  for (int sp = 0; sp < 2; sp++) {
    const data *d = sp ? &te : &tr;
    for (int64_t e = 0; e < d->n; e++) {
      const int32_t *in = d->in + e * L, *lb = d->lb + e * L;
      int start = -1;
      for (int s = 0; s + L < N && start < 0; s++) {
        int t = 0;
        while (t < L && in[t] == text[s + t] && lb[t] == text[s + t + 1]) t++;
        if (t == L) start = s;
      }
      cr_assert_geq(start, 0, "example %lld is no window of the file", (long long)e);
      if (sp) cr_assert(start >= 900 && start + L + 1 <= N, "test window at %d", start);
      else cr_assert(start + L + 1 <= 900, "train window at %d crosses the 90%% cut", start);
    }
  }
  data again = gen("bytes", "L=16", SMX_SPLIT_TRAIN, 9, 200), other = gen("bytes", "L=16", SMX_SPLIT_TRAIN, 10, 200);
  cr_assert_eq(memcmp(again.in, tr.in, (size_t)(200 * L) * sizeof *tr.in), 0);
  cr_assert_neq(memcmp(other.in, tr.in, (size_t)(200 * L) * sizeof *tr.in), 0);
  drop(&tr), drop(&te), drop(&again), drop(&other);
  /* the test part is 100 bytes: a window of 100 bytes does not fit (L + 1 = 101) */
  fails(SMX_ERR_INVALID, "shorter than one window of L+1 = 101 bytes", "bytes", "L=100", SMX_SPLIT_TEST, 1);
  data ok = gen("bytes", "L=99", SMX_SPLIT_TEST, 1, 3); /* one window fits each part exactly */
  for (int e = 0; e < 3; e++) cr_assert(ok.in[e * 99] == text[900] && ok.lb[e * 99 + 98] == text[999]);
  drop(&ok);
  ok = gen("bytes", "L=899", SMX_SPLIT_TRAIN, 1, 2);
  for (int e = 0; e < 2; e++) cr_assert(ok.in[e * 899] == text[0] && ok.lb[e * 899 + 898] == text[899]);
  drop(&ok);
  put("corpus.txt", text, 0);
  fails(SMX_ERR_PARSE, "is 0 bytes", "bytes", "L=8", SMX_SPLIT_TRAIN, 1);
  remove(at("corpus.txt"));
  fails(SMX_ERR_IO, "data not present", "bytes", "L=8", SMX_SPLIT_TRAIN, 1);
  unsetenv("SEQMIX_DATA");
}

/* The command line: a missing dataset is one error line and exit status 2. */
Test(lra_data, cli_missing_data) {
  cli_result r;
  char param[600];
  snprintf(param, sizeof param, "data=%s", at("none"));
  const char *args[] = {"task", "gen", "--task", "lra_image", "--param", param, "--n", "1", NULL};
  run_cli(&r, args);
  cr_assert_eq(r.status, 2, "%s", r.err);
  cr_assert_eq(r.err_lines, 1, "%s", r.err);
  cr_assert(strstr(r.err, "lra_image: data not present"), "%s", r.err);
}
