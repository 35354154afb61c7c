/* The task generators (tasks/): determinism, disjoint train/test streams, each published spec's
 * properties, a statistical check of MQAR's power-law query gaps, de-duplication, and one error
 * line for every bad parameter.
 *   build/tests/seqmix_tests --filter tasks/\*
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqmix/tasks.h"

typedef struct data {
  smx_task_config c;
  int64_t n, T, V;
  int32_t *in, *lb;
} data;

static smx_task_config cfg(const char *task, const char *spec) {
  const smx_task *t;
  cr_assert_eq(smx_task_lookup(task, &t), SMX_OK, "%s", smx_last_error());
  smx_task_config c;
  cr_assert_eq(smx_task_config_parse(t, spec, &c), SMX_OK, "%s %s: %s", task, spec, smx_last_error());
  return c;
}

static data gen(const char *task, const char *spec, smx_split split, uint64_t seed, int64_t n) {
  data d = {.c = cfg(task, spec), .n = n};
  d.T = smx_task_seq_len(&d.c);
  d.V = smx_task_vocab(&d.c);
  d.in = malloc((size_t)(n * d.T) * sizeof *d.in);
  d.lb = malloc((size_t)(n * d.T) * sizeof *d.lb);
  cr_assert_eq(smx_task_generate(&d.c, split, seed, n, d.in, d.lb), SMX_OK, "%s: %s", task, smx_last_error());
  for (int64_t i = 0; i < n * d.T; i++) {
    cr_assert(d.in[i] >= 0 && d.in[i] < d.V, "%s: input token %d outside [0, %lld)", task, d.in[i], (long long)d.V);
    cr_assert(d.lb[i] == SMX_IGNORE_LABEL || (d.lb[i] >= 0 && d.lb[i] < d.V), "%s: label %d", task, d.lb[i]);
  }
  return d;
}

static void drop(data *d) { free(d->in), free(d->lb); }

static int same(const data *a, const data *b, int64_t e, int64_t f) {
  return memcmp(a->in + e * a->T, b->in + f * b->T, (size_t)a->T * sizeof *a->in) == 0 &&
         memcmp(a->lb + e * a->T, b->lb + f * b->T, (size_t)a->T * sizeof *a->lb) == 0;
}

static const char *const all[][2] = {{"mqar", ""},           {"mqar", "random_non_queries=1"},
                                     {"induction_head", ""}, {"assoc_recall", ""},
                                     {"selective_copy", ""}, {"selective_copy_mamba", "L=512"},
                                     {"listops", "min_len=20,max_len=120"}, {"passkey", "L=64"},
                                     {"niah", "L=256,K=4,Q=2"}, {"niah", "L=256,K=2,NV=2,Q=2,haystack=1"},
                                     {"vartrack", "L=256,chains=2"}, {"cwe", "L=256"}, {"fwe", "L=256"}};
#define N_ALL (sizeof all / sizeof all[0])

Test(tasks, deterministic_and_seeded) {
  for (size_t k = 0; k < N_ALL; k++) {
    data a = gen(all[k][0], all[k][1], SMX_SPLIT_TRAIN, 7, 64), b = gen(all[k][0], all[k][1], SMX_SPLIT_TRAIN, 7, 64);
    data c = gen(all[k][0], all[k][1], SMX_SPLIT_TRAIN, 8, 64);
    for (int64_t e = 0; e < 64; e++) cr_assert(same(&a, &b, e, e), "%s: example %lld differs between runs", all[k][0], (long long)e);
    int differ = 0;
    for (int64_t e = 0; e < 64; e++) differ += !same(&a, &c, e, e);
    cr_assert_gt(differ, 32, "%s: seeds 7 and 8 give %d different examples of 64", all[k][0], differ);
    drop(&a), drop(&b), drop(&c);
  }
}

/* Tasks without de-duplication draw example e from its own counters: a longer dataset extends a
 * shorter one. */
Test(tasks, examples_do_not_depend_on_n) {
  const char *names[] = {"mqar", "selective_copy", "selective_copy_mamba"};
  for (int k = 0; k < 3; k++) {
    data a = gen(names[k], "", SMX_SPLIT_TEST, 3, 5), b = gen(names[k], "", SMX_SPLIT_TEST, 3, 9);
    for (int64_t e = 0; e < 5; e++) cr_assert(same(&a, &b, e, e), "%s: example %lld", names[k], (long long)e);
    drop(&a), drop(&b);
  }
}

/* Train and test read disjoint Philox streams: for the same seed, no test input sequence equals
 * a train input sequence (all these spaces are far larger than the samples), and example e of
 * the two splits differs. */
Test(tasks, train_and_test_disjoint) {
  for (size_t k = 0; k < N_ALL; k++) {
    data tr = gen(all[k][0], all[k][1], SMX_SPLIT_TRAIN, 11, 400), te = gen(all[k][0], all[k][1], SMX_SPLIT_TEST, 11, 200);
    int leaks = 0;
    for (int64_t f = 0; f < te.n; f++)
      for (int64_t e = 0; e < tr.n; e++)
        leaks += memcmp(te.in + f * te.T, tr.in + e * tr.T, (size_t)te.T * sizeof *te.in) == 0;
    cr_assert_eq(leaks, 0, "%s: %d test inputs also occur in the train set", all[k][0], leaks);
    drop(&tr), drop(&te);
  }
}

Test(tasks, mqar_layout) {
  const int64_t V = 8192, L = 128, N = 8, C = 16;
  data d = gen("mqar", "V=8192,L=128,N=8", SMX_SPLIT_TRAIN, 5, 300);
  data noisy = gen("mqar", "V=8192,L=128,N=8,random_non_queries=1", SMX_SPLIT_TRAIN, 5, 300);
  cr_assert_eq(d.T, L);
  int64_t noise_zeros = 0, fillers = 0;
  for (int64_t e = 0; e < d.n; e++) {
    const int32_t *in = d.in + e * L, *lb = d.lb + e * L;
    for (int j = 0; j < N; j++) {
      int32_t k = in[2 * j], v = in[2 * j + 1];
      cr_assert(k >= 1 && k < V / 2, "key %d outside [1, V/2)", k);
      cr_assert(v >= V / 2 && v < V, "value %d outside [V/2, V)", v);
      for (int q = 0; q < j; q++) cr_assert(in[2 * q] != k && in[2 * q + 1] != v, "repeated key or value");
      int found = 0;
      for (int64_t t = C; t < L; t++)
        if (in[t] == k) {
          found++;
          cr_assert_eq((t - C) % 2, 0, "query key at odd offset %lld", (long long)(t - C));
          cr_assert_eq(lb[t], v, "label at the query of key %d is %d, expected its value %d", k, lb[t], v);
        }
      cr_assert_eq(found, 1, "key %d queried %d times", k, found);
    }
    int labelled = 0;
    for (int64_t t = 0; t < L; t++) {
      labelled += lb[t] != SMX_IGNORE_LABEL;
      if (t < C) cr_assert_eq(lb[t], SMX_IGNORE_LABEL);
      if (t >= C && lb[t] == SMX_IGNORE_LABEL) cr_assert_eq(in[t], 0, "filler is not 0 with random_non_queries=0");
      /* the noisy variant: same keys, values, queries and labels; only the 0 fillers change */
      const int32_t *nin = noisy.in + e * L, *nlb = noisy.lb + e * L;
      cr_assert_eq(nlb[t], lb[t]);
      if (in[t] != 0) cr_assert_eq(nin[t], in[t]);
      else fillers++, noise_zeros += nin[t] == 0;
    }
    cr_assert_eq(labelled, N);
  }
  /* fillers become uniform over [0, V): about fillers / V zeros remain */
  cr_assert_lt(noise_zeros, 10, "%lld of %lld fillers stayed 0", (long long)noise_zeros, (long long)fillers);
  drop(&d), drop(&noisy);
}

/* Chi-square upper tail at probability 1e-6 (Wilson-Hilferty), so a correct generator fails
 * this test about once in a million seeds while a wrong law fails it every time. */
static double chi2_crit(int dof) {
  double k = dof, z = 4.753;
  return k * pow(1 - 2 / (9 * k) + z * sqrt(2 / (9 * k)), 3);
}

/* Slot of the first drawn key (kv order = draw order) against p_g ∝ (g+1)^(a-1), in bins of
 * doubling width. With a = 0.01 the first four slots take ~28% of the mass over 112 slots;
 * a = 1 (uniform) is tested against its own law and against the power law. */
static double gap_chi2(const char *spec, double a_law, int n, double *first4) {
  const int L = 256, N = 16, C = 32, space = (L - C) / 2;
  data d = gen("mqar", spec, SMX_SPLIT_TRAIN, 2024, n);
  double p[112], Z = 0;
  for (int g = 0; g < space; g++) Z += p[g] = pow(g + 1.0, a_law - 1);
  const int edges[] = {0, 1, 2, 3, 4, 8, 16, 32, 64, 112};
  double obs[9] = {0}, expct[9] = {0};
  *first4 = 0;
  for (int e = 0; e < n; e++) {
    const int32_t *in = d.in + (int64_t)e * L;
    int g = -1;
    for (int t = C; t < L; t++)
      if (in[t] == in[0]) g = (t - C) / 2;
    cr_assert(g >= 0 && g < space);
    for (int b = 0; b < 9; b++)
      if (g >= edges[b] && g < edges[b + 1]) obs[b]++;
    *first4 += g < 4;
  }
  for (int b = 0; b < 9; b++)
    for (int g = edges[b]; g < edges[b + 1]; g++) expct[b] += n * p[g] / Z;
  double chi2 = 0;
  for (int b = 0; b < 9; b++) chi2 += (obs[b] - expct[b]) * (obs[b] - expct[b]) / expct[b];
  *first4 /= n;
  (void)N;
  drop(&d);
  return chi2;
}

Test(tasks, mqar_power_law_gaps) {
  double f4;
  double chi = gap_chi2("L=256,N=16", 0.01, 20000, &f4);
  cr_assert_lt(chi, chi2_crit(8), "a=0.01: chi2 %.1f over the gap histogram (8 dof, limit %.1f)", chi, chi2_crit(8));
  cr_assert_gt(f4, 0.25, "a=0.01: only %.3f of first queries in the first 4 slots", f4);
  double chi_u = gap_chi2("L=256,N=16,a=1", 1.0, 20000, &f4);
  cr_assert_lt(chi_u, chi2_crit(8), "a=1 (uniform): chi2 %.1f", chi_u);
  cr_assert_lt(f4, 0.06, "a=1: %.3f of first queries in the first 4 slots (uniform: 4/112)", f4);
  /* the test has power: uniform data are far outside the power law's acceptance region */
  double chi_wrong = gap_chi2("L=256,N=16,a=1", 0.01, 20000, &f4);
  cr_assert_gt(chi_wrong, 100 * chi2_crit(8), "uniform gaps pass as power-law: chi2 %.1f", chi_wrong);
}

Test(tasks, induction_head_spec) {
  const int V = 20, L = 30;
  data tr = gen("induction_head", "", SMX_SPLIT_TRAIN, 1, 500), te = gen("induction_head", "", SMX_SPLIT_TEST, 1, 500);
  cr_assert_eq(tr.T, L + 1);
  for (int s = 0; s < 2; s++) {
    data *d = s ? &te : &tr;
    for (int64_t e = 0; e < d->n; e++) {
      const int32_t *in = d->in + e * d->T, *lb = d->lb + e * d->T;
      cr_assert_eq(in[L], V - 2, "input does not end with '=>'");
      int n_trig = 0, p = -1;
      for (int t = 0; t < L; t++) {
        cr_assert_lt(in[t], V - 1, "'.' in an induction example");
        if (in[t] == V - 2) n_trig++, p = t;
      }
      cr_assert_eq(n_trig, 1, "%d triggers", n_trig);
      cr_assert(p >= 0 && p <= L - 3, "trigger at %d", p);
      cr_assert_eq(lb[L], in[p + 1], "the last label is not the token after the trigger");
      for (int t = 0; t < L; t++) cr_assert_eq(lb[t], s ? SMX_IGNORE_LABEL : in[t + 1], "label at %d", t);
      for (int64_t f = 0; f < e; f++) cr_assert(!same(d, d, e, f), "duplicate examples %lld and %lld", (long long)f, (long long)e);
    }
  }
  drop(&tr), drop(&te);
}

Test(tasks, assoc_recall_spec) {
  const char *specs[] = {"", "V=20,L=41"};
  for (int k = 0; k < 2; k++) {
    for (int s = 0; s < 2; s++) {
      data d = gen("assoc_recall", specs[k], s ? SMX_SPLIT_TEST : SMX_SPLIT_TRAIN, 2, 300);
      const int V = (int)d.V, K = (V - 2) / 2, P = (int)(d.T - 2) / 2;
      cr_assert_eq(d.T, 2 * P + 2);
      for (int64_t e = 0; e < d.n; e++) {
        const int32_t *in = d.in + e * d.T, *lb = d.lb + e * d.T;
        int32_t map[16];
        for (int q = 0; q < 16; q++) map[q] = -1;
        for (int j = 0; j < P; j++) {
          int32_t key = in[2 * j], v = in[2 * j + 1];
          cr_assert(key >= 0 && key < K, "key %d", key);
          cr_assert(v >= K && v < V - 2, "value %d", v);
          if (map[key] >= 0) cr_assert_eq(v, map[key], "key %d maps to %d and %d", key, map[key], v);
          map[key] = v;
        }
        cr_assert_eq(in[2 * P], V - 2, "no '=>' before the query");
        cr_assert(map[in[2 * P + 1]] >= 0, "query key %d did not occur", in[2 * P + 1]);
        cr_assert_eq(lb[d.T - 1], map[in[2 * P + 1]], "last label is not the query's value");
        for (int t = 0; t + 1 < d.T; t++) cr_assert_eq(lb[t], s ? SMX_IGNORE_LABEL : in[t + 1], "label at %d", t);
        for (int64_t f = 0; f < e; f++) cr_assert(!same(&d, &d, e, f), "duplicate examples");
      }
      drop(&d);
    }
  }
}

/* V=4, L=4: 2 regular tokens and 2 trigger positions give exactly 16 distinct sequences; 16
 * plain draws would almost surely repeat one, so getting all 16 shows the de-duplication. V=3
 * has one sequence: asking for two fails with one line instead of looping. */
Test(tasks, dedup_exhausts_small_spaces) {
  data d = gen("induction_head", "V=4,L=4", SMX_SPLIT_TRAIN, 9, 16);
  for (int64_t e = 0; e < 16; e++)
    for (int64_t f = 0; f < e; f++) cr_assert(!same(&d, &d, e, f), "duplicates at %lld, %lld", (long long)f, (long long)e);
  drop(&d);
  smx_task_config c = cfg("induction_head", "V=3,L=3");
  int32_t in[8], lb[8];
  cr_assert_eq(smx_task_generate(&c, SMX_SPLIT_TRAIN, 1, 2, in, lb), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "only 1 distinct") != NULL, "%s", smx_last_error());
}

Test(tasks, selective_copy_mad_spec) {
  const int V = 16, L = 256, N = 16;
  data d = gen("selective_copy", "", SMX_SPLIT_TRAIN, 4, 200);
  cr_assert_eq(d.T, L);
  long gap_hist_last = 0;
  for (int64_t e = 0; e < d.n; e++) {
    const int32_t *in = d.in + e * L, *lb = d.lb + e * L;
    int32_t data_tok[16];
    int nd = 0, blanks = 0;
    for (int t = 0; t < L - N - 1; t++) {
      if (in[t] == V - 2) blanks++;
      else {
        cr_assert_lt(in[t], V - 2, "token %d in the data region", in[t]);
        cr_assert_lt(nd, N);
        data_tok[nd++] = in[t];
      }
    }
    cr_assert_eq(nd, N);
    cr_assert_eq(blanks, L - 2 * N - 1);
    cr_assert_eq(in[L - N - 1], V - 1, "no copy token");
    gap_hist_last += in[L - N - 2] == V - 2;
    for (int i = 0; i < N; i++) {
      cr_assert_eq(in[L - N + i], V - 2);
      cr_assert_eq(lb[L - N + i], data_tok[i], "label %d", i);
    }
    for (int t = 0; t < L - N; t++) cr_assert_eq(lb[t], SMX_IGNORE_LABEL);
  }
  /* MAD inserts blanks before data tokens only (numpy.insert at randint(0, N)) */
  cr_assert_eq(gap_hist_last, 0, "a blank sits between the last data token and the copy token");
  drop(&d);
}

Test(tasks, selective_copy_mamba_spec) {
  const int V = 16, L = 4096, N = 16;
  data d = gen("selective_copy_mamba", "", SMX_SPLIT_TEST, 4, 64);
  cr_assert_eq(d.T, L);
  double mean_pos = 0;
  for (int64_t e = 0; e < d.n; e++) {
    const int32_t *in = d.in + e * L, *lb = d.lb + e * L;
    int nd = 0;
    for (int t = 0; t < L - N; t++)
      if (in[t] != 0) {
        cr_assert(in[t] >= 1 && in[t] <= V - 2, "data token %d", in[t]);
        cr_assert_lt(nd, N);
        cr_assert_eq(lb[L - N + nd], in[t], "label %d is not data token %d", nd, nd);
        nd++;
        mean_pos += t;
      }
    cr_assert_eq(nd, N);
    for (int i = 0; i < N; i++) cr_assert_eq(in[L - N + i], V - 1);
    for (int t = 0; t < L - N; t++) cr_assert_eq(lb[t], SMX_IGNORE_LABEL);
  }
  /* positions uniform over the data region: mean (L-N-1)/2 = 2039.5, sd of the mean of 1024
   * uniforms ~ 1178/32 = 37; 8 sd */
  mean_pos /= (double)(d.n * N);
  cr_assert(fabs(mean_pos - 2039.5) < 300, "mean data position %.1f", mean_pos);
  drop(&d);
}

static void bad(const char *task, const char *spec, const char *needle) {
  smx_clear_error();
  const smx_task *t;
  smx_status s = smx_task_lookup(task, &t);
  if (s == SMX_OK) {
    smx_task_config c;
    s = smx_task_config_parse(t, spec, &c);
  }
  cr_assert_eq(s, SMX_ERR_INVALID, "%s %s accepted", task, spec);
  const char *m = smx_last_error();
  cr_assert(strchr(m, '\n') == NULL, "message is not one line: %s", m);
  cr_assert(strstr(m, needle) != NULL, "'%s' lacks '%s'", m, needle);
}

/* ListOps read back with an evaluator written from listops.py's semantics, independent of the
 * generator: the label at the classify token is the expression's value; tree lengths are strictly
 * inside the window; the four operators and the ten classes all occur; examples are distinct. */
typedef struct lo_parse {
  const int32_t *t;
  int64_t i, n;
} lo_parse;

static int lo_cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* the value at t[i], advancing i; -1 on a malformed expression */
static int lo_eval(lo_parse *p) {
  if (p->i >= p->n) return -1;
  int32_t tok = p->t[p->i++];
  if (tok >= 1 && tok <= 10) return tok - 1;
  if (tok < 11 || tok > 14) return -1;
  int v[64], k = 0;
  while (p->i < p->n && p->t[p->i] != 15) {
    if (k == 64 || (v[k++] = lo_eval(p)) < 0) return -1;
  }
  if (p->i >= p->n || k < 2) return -1;
  p->i++; /* the closing X */
  int r = v[0];
  if (tok == 11) for (int j = 1; j < k; j++) r = v[j] < r ? v[j] : r;
  if (tok == 12) for (int j = 1; j < k; j++) r = v[j] > r ? v[j] : r;
  if (tok == 14) { for (int j = 1; j < k; j++) r += v[j]; r %= 10; }
  if (tok == 13) {
    qsort(v, (size_t)k, sizeof *v, lo_cmp);
    r = (int)(k % 2 ? (double)v[k / 2] : ((double)v[k / 2 - 1] + (double)v[k / 2]) / 2.0); /* int(np.median) */
  }
  return r;
}

static void listops_check(const char *spec, int64_t lo, int64_t hi, int64_t n) {
  data d = gen("listops", spec, SMX_SPLIT_TRAIN, 5, n);
  cr_assert_eq(d.T, hi);
  cr_assert_eq(d.V, 17);
  int ops[4] = {0}, classes[10] = {0};
  for (int64_t e = 0; e < n; e++) {
    const int32_t *in = d.in + e * d.T, *lb = d.lb + e * d.T;
    int64_t cls = 0;
    while (cls < d.T && in[cls] != 16) cls++;
    cr_assert(cls > lo && cls < hi, "example %lld: tree length %lld outside (%lld, %lld)", (long long)e, (long long)cls,
              (long long)lo, (long long)hi);
    for (int64_t t = cls + 1; t < d.T; t++) cr_assert_eq(in[t], 0, "example %lld: no padding at %lld", (long long)e, (long long)t);
    for (int64_t t = 0; t < d.T; t++)
      if (t != cls) cr_assert_eq(lb[t], SMX_IGNORE_LABEL, "example %lld: a label at %lld", (long long)e, (long long)t);
    for (int64_t t = 0; t < cls; t++)
      if (in[t] >= 11 && in[t] <= 14) ops[in[t] - 11]++;
    lo_parse p = {in, 0, cls};
    int v = lo_eval(&p);
    cr_assert(v >= 0 && p.i == cls, "example %lld is not one well-formed expression", (long long)e);
    cr_assert_eq(lb[cls], 1 + v, "example %lld: label %d, the expression's value is %d", (long long)e, lb[cls] - 1, v);
    classes[v]++;
    for (int64_t f = 0; f < e; f++)
      cr_assert(memcmp(in, d.in + f * d.T, (size_t)d.T * sizeof *in) != 0, "examples %lld and %lld are equal", (long long)f,
                (long long)e);
  }
  for (int k = 0; k < 4; k++) cr_assert_gt(ops[k], 0, "operator %d never occurs", k);
  for (int k = 0; k < 10; k++) cr_expect_gt(classes[k], 0, "class %d never occurs in %lld examples", k, (long long)n);
  drop(&d);
}

Test(tasks, listops_spec) {
  listops_check("min_len=20,max_len=120", 20, 120, 600);
  listops_check("", 500, 2000, 40); /* LRA's window */
}

/* passkey and niah read back: the needles found in the context, the answers the labels ask for,
 * and where the depth puts them. Tokens (tasks/needle.c): digits 1..10, NEEDLE 11, IS 12, Q 13,
 * noise 14..21, keys from 22. */
Test(tasks, passkey_spec) {
  const int64_t L = 64, D = 5, F = L - 2 * D - 2, n = 2000;
  data d = gen("passkey", "L=64", SMX_SPLIT_TRAIN, 9, n);
  double mean_pre = 0;
  for (int64_t e = 0; e < n; e++) {
    const int32_t *in = d.in + e * L, *lb = d.lb + e * L;
    int64_t a = 0;
    while (a < L && in[a] != 11) a++;
    cr_assert(a < L - D - 1 && in[a + D + 1] == 11, "example %lld: no NEEDLE d1..d5 NEEDLE", (long long)e);
    for (int64_t t = 0; t < a; t++) cr_assert_eq(in[t], 14 + t % 8, "example %lld: prefix noise at %lld", (long long)e, (long long)t);
    mean_pre += (double)a;
    int64_t q = L - D;
    cr_assert_eq(in[q], 13, "example %lld: Q at %lld", (long long)e, (long long)q);
    for (int64_t j = 0; j < D; j++) {
      cr_assert(in[a + 1 + j] >= 1 && in[a + 1 + j] <= 10);
      cr_assert_eq(lb[q + j], in[a + 1 + j], "example %lld: answer digit %lld", (long long)e, (long long)j);
      if (j > 0) cr_assert_eq(in[q + j], in[a + j], "example %lld: teacher-forced digit %lld", (long long)e, (long long)j);
    }
    for (int64_t t = 0; t < q; t++) cr_assert_eq(lb[t], SMX_IGNORE_LABEL);
  }
  mean_pre /= (double)n; /* uniform on 0..F: mean F/2, sd F/sqrt(12) per draw */
  cr_assert(fabs(mean_pre - F / 2.0) < 4 * (F / sqrt(12.0)) / sqrt((double)n), "mean prefix %.2f, F/2 = %.1f", mean_pre, F / 2.0);
  drop(&d);
  for (int k = 0; k <= 2; k++) { /* depth 0, 50, 100: the needle at round(depth F / 100) */
    char spec[64];
    snprintf(spec, sizeof spec, "L=64,depth=%d", 50 * k);
    data g = gen("passkey", spec, SMX_SPLIT_TEST, 2, 3);
    for (int64_t e = 0; e < 3; e++) cr_assert_eq(g.in[e * L + (int64_t)llround(0.5 * k * F)], 11, "%s example %lld", spec, (long long)e);
    drop(&g);
  }
}

static void niah_check(const char *spec, int64_t L, int64_t K, int64_t NV, int64_t Q, int64_t klen, int64_t vlen, int64_t n) {
  data d = gen("niah", spec, SMX_SPLIT_TRAIN, 4, n);
  const int64_t nl = 2 + klen + vlen;
  for (int64_t e = 0; e < n; e++) {
    const int32_t *in = d.in + e * L, *lb = d.lb + e * L;
    int64_t q0 = 0;
    while (q0 < L && in[q0] != 13) q0++;
    cr_assert(q0 < L, "%s example %lld: no question", spec, (long long)e);
    int64_t t = q0, asked = 0;
    while (t < L) {
      cr_assert_eq(in[t], 13, "%s example %lld: question layout at %lld", spec, (long long)e, (long long)t);
      const int32_t *key = in + t + 1;
      int64_t is = t + 1 + klen, found = 0;
      cr_assert_eq(in[is], 12);
      /* the key's needles before the questions, in position order: their values are the answer */
      int64_t pos = is;
      for (int64_t s = 0; s + nl <= q0; s++) {
        if (in[s] != 11 || memcmp(in + s + 1, key, (size_t)klen * sizeof *key) != 0 || in[s + 1 + klen] != 12) continue;
        for (int64_t j = 0; j < vlen; j++, pos++) {
          cr_assert_eq(lb[pos], in[s + 2 + klen + j], "%s example %lld: answer at %lld", spec, (long long)e, (long long)pos);
          if (pos > is) cr_assert_eq(in[pos], lb[pos - 1], "%s example %lld: teacher forcing at %lld", spec, (long long)e, (long long)pos);
        }
        found++;
        s += nl - 1;
      }
      cr_assert_eq(found, NV, "%s example %lld: the asked key has %lld needles, not NV = %lld", spec, (long long)e, (long long)found,
                   (long long)NV);
      t = pos;
      asked++;
    }
    cr_assert_eq(asked, Q, "%s example %lld: %lld questions", spec, (long long)e, (long long)asked);
    for (int64_t u = 0; u < q0 + 1 + klen; u++) cr_assert_eq(lb[u], SMX_IGNORE_LABEL);
    int64_t needles = 0;
    for (int64_t u = 0; u < q0; u++) needles += in[u] == 11;
    if (strstr(spec, "haystack=1") == NULL) cr_assert_eq(needles, K * NV, "%s example %lld: %lld needles", spec, (long long)e, (long long)needles);
  }
  drop(&d);
}

Test(tasks, niah_spec) {
  niah_check("L=256", 256, 1, 1, 1, 2, 7, 200);                                  /* RULER single */
  niah_check("L=512,K=4,Q=4", 512, 4, 1, 4, 2, 7, 100);                          /* multiquery */
  niah_check("L=512,NV=4", 512, 1, 4, 1, 2, 7, 100);                             /* multivalue */
  niah_check("L=512,K=4,haystack=1", 512, 4, 1, 1, 2, 7, 100);                   /* multikey, needle haystack */
  niah_check("L=128,K=3,NV=2,Q=2,klen=1,vlen=3,keys=16,haystack=1", 128, 3, 2, 2, 1, 3, 300);
  /* depth 0 and 100: the needle first after the padding, last before the questions */
  data a = gen("niah", "L=256,depth=0", SMX_SPLIT_TRAIN, 1, 4), b = gen("niah", "L=256,depth=100", SMX_SPLIT_TRAIN, 1, 4);
  for (int64_t e = 0; e < 4; e++) {
    int64_t s = 0;
    while (a.in[e * 256 + s] == 0) s++;
    cr_assert_eq(a.in[e * 256 + s], 11, "depth 0: example %lld starts with noise", (long long)e);
    int64_t q = 0;
    while (b.in[e * 256 + q] != 13) q++;
    cr_assert_eq(b.in[e * 256 + q - 11], 11, "depth 100: example %lld's needle is not last", (long long)e);
  }
  drop(&a), drop(&b);
}

/* vartrack read back: follow the chain from the asked value through the statements in the context
 * (VAR 11, EQ 12, Q 13, IS 12 in the question); the labels must name it in order. */
static void vartrack_check(const char *spec, int64_t L, int64_t hops, int64_t nlen, int64_t n) {
  data d = gen("vartrack", spec, SMX_SPLIT_TRAIN, 6, n);
  for (int64_t e = 0; e < n; e++) {
    const int32_t *in = d.in + e * L, *lb = d.lb + e * L;
    int64_t q = 0;
    while (q < L && in[q] != 13) q++;
    cr_assert(q + 6 < L && in[q + 6] == 12, "%s example %lld: no Q d1..d5 IS", spec, (long long)e);
    /* the statement assigning the value, then each statement assigning the previous name */
    int64_t at = -1;
    for (int64_t s = 0; s + 2 + nlen + 5 <= q; s++)
      if (in[s] == 11 && in[s + 1 + nlen] == 12 && !memcmp(in + s + 2 + nlen, in + q + 1, 5 * sizeof *in)) at = s;
    cr_assert(at >= 0, "%s example %lld: no statement assigns the asked value", spec, (long long)e);
    int64_t pos = q + 6;
    for (int64_t h = 0; h <= hops; h++) {
      const int32_t *name = in + at + 1;
      for (int64_t j = 0; j < nlen; j++, pos++) {
        cr_assert_eq(lb[pos], name[j], "%s example %lld: hop %lld name token %lld", spec, (long long)e, (long long)h, (long long)j);
        if (pos > q + 6) cr_assert_eq(in[pos], lb[pos - 1]);
      }
      if (h == hops) break;
      int64_t next = -1; /* VAR y EQ VAR name */
      for (int64_t s = 0; s + 3 + 2 * nlen <= q; s++)
        if (in[s] == 11 && in[s + 1 + nlen] == 12 && in[s + 2 + nlen] == 11 &&
            !memcmp(in + s + 3 + nlen, name, (size_t)nlen * sizeof *in))
          next = s;
      cr_assert(next > at, "%s example %lld: hop %lld has no later statement", spec, (long long)e, (long long)h + 1);
      at = next;
    }
    for (int64_t t = 0; t < q + 6; t++) cr_assert_eq(lb[t], SMX_IGNORE_LABEL);
  }
  drop(&d);
}

Test(tasks, vartrack_spec) {
  vartrack_check("L=256", 256, 4, 2, 200);
  vartrack_check("L=512,chains=3,hops=6", 512, 6, 2, 100);
  vartrack_check("L=96,hops=2,nlen=1,names=16", 96, 2, 1, 300);
}

/* cwe and fwe read back: count every word of the context; the labels must be the common words in
 * order of first occurrence (cwe), or the three most frequent real words by count (fwe). Tokens:
 * Q 1, noise 2, words from 3. */
static void count_words(const int32_t *in, int64_t q, int64_t V, int64_t *count) {
  memset(count, 0, (size_t)V * sizeof *count);
  for (int64_t t = 0; t < q; t++)
    if (in[t] >= 0 && in[t] < V) count[in[t]]++;
}

Test(tasks, cwe_spec) {
  const char *specs[] = {"L=256", "L=512,cw=10,freq_cw=30,freq_ucw=3", "L=64,cw=3,freq_cw=5,freq_ucw=2,vocab=40"};
  const int64_t Ls[] = {256, 512, 64}, cws[] = {10, 10, 3}, fcs[] = {6, 30, 5}, fus[] = {1, 3, 2};
  for (int k = 0; k < 3; k++) {
    data d = gen("cwe", specs[k], SMX_SPLIT_TRAIN, 3, 100);
    int64_t *count = malloc((size_t)d.V * sizeof *count);
    for (int64_t e = 0; e < 100; e++) {
      const int32_t *in = d.in + e * Ls[k], *lb = d.lb + e * Ls[k];
      int64_t q = Ls[k] - cws[k];
      cr_assert_eq(in[q], 1, "%s example %lld: no Q", specs[k], (long long)e);
      count_words(in, q, d.V, count);
      int64_t common = 0;
      for (int64_t w = 3; w < d.V; w++) {
        cr_assert(count[w] == 0 || count[w] == fcs[k] || count[w] == fus[k], "%s: word %lld appears %lld times", specs[k],
                  (long long)w, (long long)count[w]);
        common += count[w] == fcs[k];
      }
      cr_assert_eq(common, cws[k]);
      int64_t j = 0; /* the common words by first occurrence */
      for (int64_t t = 0; t < q && j < cws[k]; t++)
        if (in[t] >= 3 && count[in[t]] == fcs[k]) {
          cr_assert_eq(lb[q + j], in[t], "%s example %lld: answer %lld", specs[k], (long long)e, (long long)j);
          if (j > 0) cr_assert_eq(in[q + j], lb[q + j - 1]);
          count[in[t]] = -1, j++;
        }
      cr_assert_eq(j, cws[k]);
    }
    free(count);
    drop(&d);
  }
}

Test(tasks, fwe_spec) {
  const char *specs[] = {"L=256", "L=1024,alpha=1.5", "L=64,vocab=20"};
  const int64_t Ls[] = {256, 1024, 64};
  for (int k = 0; k < 3; k++) {
    data d = gen("fwe", specs[k], SMX_SPLIT_TRAIN, 8, 100);
    int64_t *count = malloc((size_t)d.V * sizeof *count);
    for (int64_t e = 0; e < 100; e++) {
      const int32_t *in = d.in + e * Ls[k], *lb = d.lb + e * Ls[k];
      int64_t q = Ls[k] - 3;
      cr_assert_eq(in[q], 1, "%s example %lld: no Q", specs[k], (long long)e);
      count_words(in, q, d.V, count);
      cr_assert_gt(count[2], 0, "%s: no noise word (rank 1)", specs[k]);
      int64_t prev = count[2];
      for (int j = 0; j < 3; j++) { /* the j-th most frequent real word, strictly ahead of the rest */
        int64_t best = -1;
        for (int64_t w = 3; w < d.V; w++)
          if (count[w] > 0 && (best < 0 || count[w] > count[best])) best = w;
        cr_assert(best >= 0 && count[best] <= prev, "%s example %lld: rank %d", specs[k], (long long)e, j + 2);
        cr_assert_eq(lb[q + j], best, "%s example %lld: answer %d is %d, the word of rank %d is %lld", specs[k], (long long)e, j,
                     lb[q + j], j + 2, (long long)best);
        int64_t ties = 0;
        for (int64_t w = 3; w < d.V; w++) ties += count[w] == count[best];
        cr_assert_eq(ties, 1, "%s example %lld: %lld words share rank %d's count", specs[k], (long long)e, (long long)ties, j + 2);
        prev = count[best], count[best] = 0;
      }
    }
    free(count);
    drop(&d);
  }
}

Test(tasks, bad_parameters) {
  bad("nosuch", "", "unknown task 'nosuch' (known: mqar, induction_head, assoc_recall, selective_copy");
  bad("mqar", "X=1", "no parameter 'X' (parameters: V, L, N, a, random_non_queries)");
  bad("mqar", "L", "is not NAME=VALUE");
  bad("mqar", "L=6.5", "L=6.5 is not an integer");
  bad("mqar", "L=abc", "L=abc is not an integer");
  bad("mqar", "a=nan", "a=nan is not a number");
  bad("mqar", "N=0", "N=0 is out of range");
  bad("mqar", "a=0", "a=0 is out of range");
  bad("mqar", "L=66,L=68", "given twice");
  bad("mqar", "L=63", "L=63 must be even");
  bad("mqar", "V=64,L=64", "V=64 must exceed L=64");
  bad("mqar", "L=64,N=17", "need L >= 4N");
  bad("mqar", "random_non_queries=2", "out of range");
  bad("induction_head", "L=2", "L=2 is out of range");
  bad("induction_head", "V=2", "V=2 is out of range");
  bad("assoc_recall", "V=3", "V=3 is out of range");
  bad("selective_copy", "L=33,N=16", "must exceed 2N+1");
  bad("selective_copy_mamba", "L=31,N=16", "at least 2N");
  bad("selective_copy_mamba", "L=99999999999", "out of range");
  bad("listops", "min_len=100,max_len=101", "no length lies strictly between min_len=100 and max_len=101");
  bad("listops", "args=1", "args=1 is out of range");
  bad("passkey", "L=11", "L=11 is shorter than the needle and the answer (2D + 2 = 12 tokens)");
  bad("niah", "K=2,Q=3", "Q=3 queried keys is more than K=2 keys");
  bad("niah", "K=41", "41 needles need more than RULER's 40 depths");
  bad("niah", "L=20", "L=20 cannot hold 1 needles and the questions (21 tokens)");
  bad("niah", "keys=2,klen=1,K=1", "cannot give 1 distinct keys");
  bad("vartrack", "L=40", "L=40 cannot hold the statements and the question");
  bad("vartrack", "names=2,nlen=2", "cannot name 5 distinct variables");
  bad("cwe", "freq_cw=2,freq_ucw=2", "freq_cw=2 must exceed freq_ucw=2");
  bad("cwe", "L=40", "L=40 cannot hold 10 common words x 6");
  bad("cwe", "vocab=100", "distinct words are needed, vocab=100");
  bad("fwe", "L=20", "L=20 is too short for ranks 4 and 5 to differ");

  smx_task_config c = cfg("mqar", "");
  int32_t in[64], lb[64];
  cr_assert_eq(smx_task_generate(&c, SMX_SPLIT_TRAIN, 1, 0, in, lb), SMX_ERR_INVALID);
  cr_assert(strstr(smx_last_error(), "n=0 examples") != NULL, "%s", smx_last_error());
  cr_assert_eq(smx_task_generate(&c, (smx_split)5, 1, 1, in, lb), SMX_ERR_INVALID);
}
