/* seqmix task: the synthetic tasks.
 *
 *   seqmix task list                                   # tasks, parameters (defaults, ranges), sources
 *   seqmix task gen --task mqar --n 4 --seed 1 --param L=64,N=4,V=8192 [--split test]
 *   seqmix task gen --task pathfinder --n 8 --images /tmp/pf   # image tasks: one PGM file each
 *
 * `gen` prints generated examples as text for a person to read: per example, rows of positions
 * with the input token and, under it, the label ('.' where the label is -100, no loss). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "seqmix/json_io.h"
#include "seqmix/model.h"
#include "seqmix/tasks.h"

#define GEN_MAX_N 1000
#define GEN_COLS 16

static int task_list(int argc, char **argv) {
  int help = 0;
  const cli_opt opts[] = {{0}};
  if (cli_parse("task list", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("task list", "", "Lists the synthetic tasks, their parameters (default [range]) and the code they follow.", opts);
    return 0;
  }
  for (int i = 0; i < smx_task_count(); i++) {
    const smx_task *t = smx_task_at(i);
    printf("%s — %s\n  source: %s\n  parameters:\n", t->name, t->summary, t->source);
    for (int p = 0; p < t->n_params; p++)
      printf("    %-20s %-8.10g [%.10g..%.10g]  %s\n", t->params[p].name, t->params[p].def, t->params[p].min, t->params[p].max,
             t->params[p].help);
    if (t->data_layout) { /* a file-backed task: where its data is looked for, and whether it is there */
      smx_task_config c;
      smx_task_config_parse(t, NULL, &c);
      char path[SMX_TASK_DATA_MAX + 64];
      int present = smx_task_data_present(&c) && smx_task_data_path(&c, path, sizeof path) == SMX_OK;
      printf("  data: %s, in data=PATH or $SEQMIX_DATA/%s\n    %s%s\n", t->data_layout, t->data_subdir,
             present ? "present: " : "", present ? path : smx_last_error());
    }
    printf("\n");
  }
  return 0;
}

static int digits(int64_t x) {
  int d = 1;
  for (; x >= 10; x /= 10) d++;
  return d;
}

static void print_example(int64_t e, const int32_t *in, const int32_t *lb, int64_t T, int w) {
  printf("example %" PRId64 "\n", e);
  for (int64_t c0 = 0; c0 < T; c0 += GEN_COLS) {
    int64_t c1 = c0 + GEN_COLS < T ? c0 + GEN_COLS : T;
    printf("  pos  ");
    for (int64_t t = c0; t < c1; t++) printf(" %*" PRId64, w, t);
    printf("\n  input");
    for (int64_t t = c0; t < c1; t++) printf(" %*d", w, in[t]);
    printf("\n  label");
    for (int64_t t = c0; t < c1; t++) {
      if (lb[t] == SMX_IGNORE_LABEL) printf(" %*s", w, ".");
      else printf(" %*d", w, lb[t]);
    }
    printf("\n");
  }
}

/* An image task's example as a binary PGM (P5), DIR/<task>_<split>_<i>_label<k>.pgm, written
 * atomically (temp + rename) so a viewer never sees half a file. k: the last labelled position's
 * label (the class at the classify token). */
static smx_status write_pgm(const char *dir, const smx_task_config *c, smx_split split, int64_t e, const int32_t *in,
                            const int32_t *lb, int64_t T, char *path, size_t path_n) {
  int64_t w, h;
  c->task->image_dims(c, &w, &h);
  int k = -1;
  for (int64_t t = 0; t < T; t++)
    if (lb[t] != SMX_IGNORE_LABEL) k = lb[t];
  snprintf(path, path_n, "%s/%s_%s_%" PRId64 "_label%d.pgm", dir, c->task->name, smx_split_name(split), e, k);
  char head[64];
  int hn = snprintf(head, sizeof head, "P5\n%" PRId64 " %" PRId64 "\n255\n", w, h);
  size_t len = (size_t)hn + (size_t)(w * h);
  char *buf = malloc(len);
  if (!buf) return smx_fail(SMX_ERR_NOMEM, "out of memory for a %" PRId64 "x%" PRId64 " image", w, h);
  memcpy(buf, head, (size_t)hn);
  for (int64_t i = 0; i < w * h; i++) buf[hn + i] = (char)(unsigned char)(in[i] < 0 ? 0 : in[i] > 255 ? 255 : in[i]);
  smx_status s = smx_write_file_atomic(path, buf, len);
  free(buf);
  return s;
}

static int task_gen(int argc, char **argv) {
  const char *name = NULL, *spec = NULL, *n_s = "4", *seed_s = "1", *split_s = "train", *images = NULL;
  int help = 0;
  const cli_opt opts[] = {
      {"task", "NAME", "the task (seqmix task list)", &name, NULL},
      {"param", "K=V,...", "task parameters, e.g. L=64,N=4,V=8192 (others keep their defaults)", &spec, NULL},
      {"n", "N", "number of examples to print (default 4, at most 1000)", &n_s, NULL},
      {"seed", "S", "seed (default 1)", &seed_s, NULL},
      {"split", "SPLIT", "train or test: the splits use disjoint random streams and, for some tasks, different labels", &split_s, NULL},
      {"images", "DIR", "image tasks (pathfinder, pathx): write each example as DIR/<task>_<split>_<i>_label<k>.pgm and print the paths instead of the tokens", &images, NULL},
      {0}};
  if (cli_parse("task gen", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("task gen", "--task NAME [--param K=V,...] [--n N] [--seed S] [--split train|test] [--images DIR]",
              "Generates a task's examples and prints them as text: per example, rows of positions with the\n"
              "input token and under it the label ('.' = -100, no loss at that position). The same task,\n"
              "parameters, split, seed and n always print the same examples.", opts);
    return 0;
  }
  if (!name) return cli_error("seqmix task gen: --task NAME is required (see seqmix task list)");
  const smx_task *t;
  smx_status s = smx_task_lookup(name, &t);
  if (s != SMX_OK) return cli_fail(s);
  smx_task_config c;
  if ((s = smx_task_config_parse(t, spec, &c)) != SMX_OK) return cli_fail(s);
  long n, seed;
  if (cli_int("n", n_s, 1, GEN_MAX_N, &n) || cli_int("seed", seed_s, 0, 0x7fffffffffffffffL, &seed)) return SMX_EXIT_USAGE;
  smx_split split;
  if (strcmp(split_s, "train") == 0) split = SMX_SPLIT_TRAIN;
  else if (strcmp(split_s, "test") == 0) split = SMX_SPLIT_TEST;
  else return cli_error("--split %s is not a split (accepted: train, test)", split_s);
  if (images && !t->image_dims) return cli_error("seqmix task gen: --images: task %s is not an image task (image tasks: pathfinder, pathx)", t->name);
  if (images && (s = smx_mkdir_p(images)) != SMX_OK) return cli_fail(s);

  int64_t T = smx_task_seq_len(&c);
  if (T * n > (int64_t)1 << 26)
    return cli_error("seqmix task gen: %ld examples of %" PRId64 " tokens is too much to print (at most 2^26 tokens)", n, T);
  int32_t *in = malloc((size_t)(T * n) * sizeof *in), *lb = malloc((size_t)(T * n) * sizeof *lb);
  if (!in || !lb) {
    free(in), free(lb);
    return cli_error("seqmix task gen: out of memory for %ld examples of %" PRId64 " tokens", n, T);
  }
  if ((s = smx_task_generate(&c, split, (uint64_t)seed, n, in, lb)) != SMX_OK) {
    free(in), free(lb);
    return cli_fail(s);
  }
  char params[256];
  smx_task_config_format(&c, params, sizeof params);
  printf("# task %s (%s)\n# parameters %s; split %s; seed %ld; %ld examples of %" PRId64 " tokens; vocab %" PRId64 "\n"
         "# label '.' = -100 (no loss); a label is the token to predict at its position\n",
         t->name, t->source, params, smx_split_name(split), seed, n, T, smx_task_vocab(&c));
  if (images) {
    char path[4096];
    for (int64_t e = 0; e < n; e++) {
      if ((s = write_pgm(images, &c, split, e, in + e * T, lb + e * T, T, path, sizeof path)) != SMX_OK) {
        free(in), free(lb);
        return cli_fail(s);
      }
      printf("%s\n", path);
    }
    free(in), free(lb);
    return 0;
  }
  int w = digits(smx_task_vocab(&c) - 1);
  if (digits(T - 1) > w) w = digits(T - 1);
  for (int64_t e = 0; e < n; e++) print_example(e, in + e * T, lb + e * T, T, w);
  free(in), free(lb);
  return 0;
}

int cmd_task(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "gen") == 0) return task_gen(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "list") == 0) return task_list(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "train") == 0) return task_train(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "leval-score") == 0) return task_leval(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "efficiency") == 0) return task_efficiency(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "mixers") == 0) {
    smx_model_describe_mixers(stdout);
    return 0;
  }
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: seqmix task <subcommand> [options]\n\n"
           "The synthetic tasks: MQAR (Zoology), induction head and associative recall (H3), selective\n"
           "copying (MAD's and Mamba's forms), ListOps (Long Range Arena), passkey, RULER's needles,\n"
           "variable tracking and word extraction. docs/tasks.md gives each generator's spec.\n\n"
           "subcommands:\n"
           "  list     the tasks, their parameters (default [range]) and the code they follow\n"
           "  gen      print generated examples as text: --task NAME [--param K=V,...] [--n N] [--seed S]\n"
           "           [--split train|test]\n"
           "  train    train the task runner's model on a task and print the result as a JSON line\n"
           "  mixers   the model's sequence and channel mixers, their options and defaults\n"
           "  leval-score  score model outputs against an L-Eval JSONL file with L-Eval's metrics\n"
           "  efficiency   prefill and decode tokens/s and KV cache / state bytes vs context per architecture\n\n"
           "'seqmix task <subcommand> --help' describes each subcommand's options.\n");
    return 0;
  }
  if (argc < 2)
    return cli_error("seqmix task: give a subcommand (gen, list, train, mixers, leval-score, efficiency; see seqmix task --help)");
  return cli_error("seqmix task: unknown subcommand '%s' (subcommands: gen, list, train, mixers, leval-score, efficiency)", argv[1]);
}
