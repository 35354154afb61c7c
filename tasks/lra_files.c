/* Long Range Arena's Text and Image tasks from the datasets' own distributions: byte-level IMDB
 * from the aclImdb tree (lra_text) and sequential grayscale CIFAR-10 from the binary version
 * (lra_image), preprocessed as LRA's input pipelines do (google-research/long-range-arena
 * lra_benchmarks/text_classification/input_pipeline.py, lra_benchmarks/image/input_pipeline.py).
 * docs/tasks.md "Real LRA data and the byte corpus".
 *
 *   seqmix task gen --task lra_text --param L=1000,data=$HOME/aclImdb --n 1
 *   SEQMIX_DATA=~/data seqmix task gen --task lra_image --n 1 --split test
 *   build/tests/seqmix_tests --filter lra_data/\*
 *
 * Text: aclImdb/{train,test}/{neg,pos}/NNN_R.txt, one review per file (aclImdb/train/unsup is not
 * read); class neg 0, pos 1 as tfds imdb_reviews labels them. tfds strips the review's surrounding
 * whitespace; ByteTextEncoder maps byte b to b + 1 (0 = pad); LRA keeps the first max_length bytes.
 * Tokens: the review's first L bytes as b + 1, classify 257, padding 0; T = L + 1; the label at the
 * classify token is the class token 258 + class (class tokens never occur as inputs). LRA has no
 * validation split for IMDB (it validates on test); neither does this task.
 *
 * Image: cifar-10-batches-bin/data_batch_{1..5}.bin and test_batch.bin, records of a label byte
 * (0..9) and 3072 bytes (the R, G and B planes of 32x32, row-major). Grayscale as
 * tf.image.rgb_to_grayscale on uint8: in float32, x/255 per channel, 0.2989 R + 0.5870 G + 0.1140 B,
 * times 255.5 and truncated (convert_image_dtype back to uint8), so pure green 255 is 149, not 150.
 * Tokens: the 1024 pixels row by row as their value 0..255, classify 256; T = 1025; the label is
 * the class token 257 + class. Train = the first 90% of the training records in file order (45,000),
 * val = the last 10% (5,000), test = test_batch. tfds, which LRA reads, stores CIFAR-10 in its own
 * shuffled order, so LRA's train[:90%] is another 45,000 of the same 50,000. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "task_data.h"
#include "task_impl.h"

/* ---- Text (IMDB) ---- */

enum { TX_L };
enum { TX_PAD = 0, TX_BYTE = 1, TX_CLS = 257, TX_CLASS = 258, TX_VOCAB = 260 };
enum { TX_MAX_FILE = 16 << 20 }; /* a review is a few KB; a bigger file is not one */
static const char *const tx_dirs[] = {"train/neg", "train/pos", "test/neg", "test/pos"};

static int64_t tx_seq_len(const smx_task_config *c) { return task_int(c, TX_L) + 1; }
static int64_t tx_vocab(const smx_task_config *c) {
  (void)c;
  return TX_VOCAB;
}

static smx_status tx_check(const smx_task_config *c, const char *path) {
  char dir[SMX_TASK_DATA_MAX + 64];
  smx_status st = task_data_need(c, path, 1);
  for (int i = 0; st == SMX_OK && i < 4; i++)
    if ((st = task_data_join(dir, sizeof dir, path, tx_dirs[i])) == SMX_OK) st = task_data_need(c, dir, 1);
  return st;
}

typedef struct review_list {
  char **name; /* "neg/123_4.txt" relative to the split's directory */
  int *cls;
  int64_t n, cap;
} review_list;

static void reviews_free(review_list *r) {
  for (int64_t i = 0; i < r->n; i++) free(r->name[i]);
  free(r->name), free(r->cls);
  memset(r, 0, sizeof *r);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Appends dir/sub's *.txt in name order (readdir's order is the file system's). */
static smx_status reviews_add(const smx_task_config *c, const char *dir, const char *sub, int cls, review_list *r) {
  char path[SMX_TASK_DATA_MAX + 64];
  smx_status st = task_data_join(path, sizeof path, dir, sub);
  if (st != SMX_OK || (st = task_data_need(c, path, 1)) != SMX_OK) return st;
  DIR *d = opendir(path);
  if (!d) return smx_fail(SMX_ERR_PARSE, "%s: cannot read the directory %s: %s", c->task->name, path, strerror(errno));
  int64_t first = r->n;
  for (struct dirent *e; st == SMX_OK && (e = readdir(d)) != NULL;) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0) continue;
    if (r->n == r->cap) {
      int64_t cap = r->cap ? 2 * r->cap : 1024;
      char **nm = realloc(r->name, (size_t)cap * sizeof *nm);
      if (nm) r->name = nm;
      int *cl = nm ? realloc(r->cls, (size_t)cap * sizeof *cl) : NULL;
      if (cl) r->cls = cl;
      if (!nm || !cl) {
        st = smx_fail(SMX_ERR_NOMEM, "%s: cannot list the reviews of %s", c->task->name, path);
        break;
      }
      r->cap = cap;
    }
    size_t need = strlen(sub) + 1 + len + 1;
    char *s = malloc(need);
    if (!s) {
      st = smx_fail(SMX_ERR_NOMEM, "%s: cannot list the reviews of %s", c->task->name, path);
      break;
    }
    snprintf(s, need, "%s/%s", sub, e->d_name);
    r->name[r->n] = s, r->cls[r->n++] = cls;
  }
  closedir(d);
  if (st == SMX_OK && r->n > first) qsort(r->name + first, (size_t)(r->n - first), sizeof *r->name, cmp_str);
  return st;
}

/* Reads a review, strips it as Python's bytes.strip() does, and writes its first L bytes. */
static smx_status tx_review(const smx_task_config *c, const char *path, int64_t L, int32_t *in, int64_t *len) {
  FILE *f;
  smx_status st = task_data_open(c, path, &f);
  if (st != SMX_OK) return st;
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || sb.st_size > TX_MAX_FILE) {
    fclose(f);
    return smx_fail(SMX_ERR_PARSE, "%s: %s: %s", c->task->name, path, "unreadable, or larger than 16 MiB (not a review)");
  }
  unsigned char *buf = malloc((size_t)sb.st_size + 1);
  if (!buf) {
    fclose(f);
    return smx_fail(SMX_ERR_NOMEM, "%s: cannot read %s", c->task->name, path);
  }
  size_t n = fread(buf, 1, (size_t)sb.st_size, f);
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return smx_fail(SMX_ERR_PARSE, "%s: cannot read %s: %s", c->task->name, path, strerror(errno));
  }
  size_t a = 0, b = n;
  const char *ws = " \t\n\r\v\f";
  while (a < b && buf[a] && strchr(ws, buf[a])) a++;
  while (b > a && buf[b - 1] && strchr(ws, buf[b - 1])) b--;
  int64_t k = (int64_t)(b - a) < L ? (int64_t)(b - a) : L;
  for (int64_t i = 0; i < k; i++) in[i] = TX_BYTE + buf[a + (size_t)i];
  free(buf);
  *len = k;
  return SMX_OK;
}

static smx_status tx_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  const int64_t L = task_int(c, TX_L), T = L + 1;
  char root[SMX_TASK_DATA_MAX + 64], dir[SMX_TASK_DATA_MAX + 64], path[SMX_TASK_DATA_MAX + 128];
  smx_status st = smx_task_data_path(c, root, sizeof root);
  if (st != SMX_OK || (st = task_data_need(c, root, 1)) != SMX_OK) return st;
  if ((st = task_data_join(dir, sizeof dir, root, split == SMX_SPLIT_TRAIN ? "train" : "test")) != SMX_OK) return st;
  review_list r = {0};
  if ((st = reviews_add(c, dir, "neg", 0, &r)) == SMX_OK) st = reviews_add(c, dir, "pos", 1, &r);
  if (st == SMX_OK && r.n == 0)
    st = smx_fail(SMX_ERR_IO, "%s: data not present: no *.txt reviews in %s/neg or %s/pos (%s)", c->task->name, dir, dir,
                  c->task->data_layout);
  int64_t *pick = NULL;
  if (st == SMX_OK) st = task_data_pick(c, split, seed, n, r.n, dir, &pick);
  for (int64_t k = 0; st == SMX_OK && k < n; k++) {
    int32_t *in = inputs + k * T, *lb = labels + k * T;
    int64_t len = 0;
    if ((st = task_data_join(path, sizeof path, dir, r.name[pick[k]])) != SMX_OK) break;
    if ((st = tx_review(c, path, L, in, &len)) != SMX_OK) break;
    in[len] = TX_CLS;
    for (int64_t t = len + 1; t < T; t++) in[t] = TX_PAD;
    for (int64_t t = 0; t < T; t++) lb[t] = SMX_IGNORE_LABEL;
    lb[len] = TX_CLASS + r.cls[pick[k]];
  }
  free(pick);
  reviews_free(&r);
  return st;
}

const smx_task smx_task_lra_text = {
    .name = "lra_text",
    .summary = "Long Range Arena Text: byte-level IMDB sentiment (aclImdb), read at a classify token",
    .source = "google-research/long-range-arena lra_benchmarks/text_classification/input_pipeline.py",
    .n_params = 1,
    .params = {{"L", 1000, 1, 1 << 20, 0, "bytes of a review kept (LRA's base config 1000, the paper 4000); T = L + 1"}},
    .seq_len = tx_seq_len,
    .vocab = tx_vocab,
    .generate = tx_generate,
    .data_layout = "aclImdb/{train,test}/{neg,pos}/*.txt (ai.stanford.edu/~amaas/data/sentiment)",
    .data_subdir = "aclImdb",
    .data_check = tx_check,
};

/* ---- Image (CIFAR-10) ---- */

enum { IM_VAL };
enum { IM_PIX = 1024, IM_REC = 1 + 3 * IM_PIX, IM_CLS = 256, IM_CLASS = 257, IM_VOCAB = 267 };
static const char *const im_files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                       "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};

static int64_t im_seq_len(const smx_task_config *c) {
  (void)c;
  return IM_PIX + 1;
}
static int64_t im_vocab(const smx_task_config *c) {
  (void)c;
  return IM_VOCAB;
}

static smx_status im_check(const smx_task_config *c, const char *path) {
  char file[SMX_TASK_DATA_MAX + 64];
  smx_status st = task_data_need(c, path, 1);
  for (int i = 0; st == SMX_OK && i < 6; i++)
    if ((st = task_data_join(file, sizeof file, path, im_files[i])) == SMX_OK) st = task_data_need(c, file, 0);
  return st;
}

/* tf.image.rgb_to_grayscale of one uint8 pixel, in TF's float32 steps */
static int im_gray(unsigned r, unsigned g, unsigned b) {
  const float scale = (float)(1.0 / 255.0);
  float fr = (float)r * scale, fg = (float)g * scale, fb = (float)b * scale;
  float gray = fr * 0.2989f;
  gray += fg * 0.5870f;
  gray += fb * 0.1140f;
  float x = gray * 255.5f;
  return x >= 255.0f ? 255 : (int)x;
}

typedef struct cifar_file {
  FILE *f;
  int64_t records;
  char path[SMX_TASK_DATA_MAX + 64];
} cifar_file;

static smx_status im_open(const smx_task_config *c, const char *dir, const char *name, cifar_file *cf) {
  smx_status st = task_data_join(cf->path, sizeof cf->path, dir, name);
  if (st != SMX_OK || (st = task_data_open(c, cf->path, &cf->f)) != SMX_OK) return st;
  struct stat sb;
  if (fstat(fileno(cf->f), &sb) != 0)
    return smx_fail(SMX_ERR_PARSE, "%s: cannot read %s: %s", c->task->name, cf->path, strerror(errno));
  if (sb.st_size == 0 || sb.st_size % IM_REC)
    return smx_fail(SMX_ERR_PARSE, "%s: %s is %lld bytes, not a whole number of %d-byte records (truncated?)",
                    c->task->name, cf->path, (long long)sb.st_size, IM_REC);
  cf->records = (int64_t)(sb.st_size / IM_REC);
  return SMX_OK;
}

static smx_status im_record(const smx_task_config *c, cifar_file *cf, int64_t r, int32_t *in, int32_t *lb) {
  unsigned char rec[IM_REC];
  if (fseeko(cf->f, (off_t)(r * IM_REC), SEEK_SET) != 0 || fread(rec, 1, IM_REC, cf->f) != IM_REC)
    return smx_fail(SMX_ERR_PARSE, "%s: %s: cannot read record %lld", c->task->name, cf->path, (long long)r);
  if (rec[0] > 9)
    return smx_fail(SMX_ERR_PARSE, "%s: %s: record %lld has label %d, not 0..9", c->task->name, cf->path, (long long)r,
                    rec[0]);
  for (int p = 0; p < IM_PIX; p++) in[p] = im_gray(rec[1 + p], rec[1 + IM_PIX + p], rec[1 + 2 * IM_PIX + p]);
  in[IM_PIX] = IM_CLS;
  for (int t = 0; t < IM_PIX; t++) lb[t] = SMX_IGNORE_LABEL;
  lb[IM_PIX] = IM_CLASS + rec[0];
  return SMX_OK;
}

static smx_status im_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  const int64_t T = IM_PIX + 1;
  char dir[SMX_TASK_DATA_MAX + 64];
  smx_status st = smx_task_data_path(c, dir, sizeof dir);
  if (st != SMX_OK || (st = task_data_need(c, dir, 1)) != SMX_OK) return st;
  int test = split == SMX_SPLIT_TEST && !task_int(c, IM_VAL);
  int first = test ? 5 : 0, nfiles = test ? 1 : 5;
  cifar_file cf[5];
  memset(cf, 0, sizeof cf);
  int64_t total = 0, base = 0, count;
  for (int i = 0; i < nfiles && st == SMX_OK; i++)
    if ((st = im_open(c, dir, im_files[first + i], &cf[i])) == SMX_OK) total += cf[i].records;
  /* the training records split 90/10 into train and val (tfds "train[:90%]", "train[90%:]") */
  int64_t n_train = total * 9 / 10;
  if (test) count = total;
  else if (split == SMX_SPLIT_TRAIN) count = n_train;
  else base = n_train, count = total - n_train;
  int64_t *pick = NULL;
  if (st == SMX_OK) st = task_data_pick(c, split, seed, n, count, dir, &pick);
  for (int64_t k = 0; st == SMX_OK && k < n; k++) {
    int64_t r = base + pick[k];
    int i = 0;
    while (r >= cf[i].records) r -= cf[i++].records;
    st = im_record(c, &cf[i], r, inputs + k * T, labels + k * T);
  }
  free(pick);
  for (int i = 0; i < nfiles; i++)
    if (cf[i].f) fclose(cf[i].f);
  return st;
}

const smx_task smx_task_lra_image = {
    .name = "lra_image",
    .summary = "Long Range Arena Image: CIFAR-10 class from 1024 grayscale pixels, read at a classify token",
    .source = "google-research/long-range-arena lra_benchmarks/image/input_pipeline.py",
    .n_params = 1,
    .params = {{"val", 0, 0, 1, 0, "1: the test split is the last 10% of the training records instead of test_batch"}},
    .seq_len = im_seq_len,
    .vocab = im_vocab,
    .generate = im_generate,
    .data_layout = "cifar-10-batches-bin/data_batch_{1..5}.bin, test_batch.bin (CIFAR-10 binary version)",
    .data_subdir = "cifar-10-batches-bin",
    .data_check = im_check,
};
