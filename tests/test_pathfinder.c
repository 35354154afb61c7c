/* Pathfinder and Path-X (tasks/pathfinder.c): determinism and disjoint splits, the token layout
 * (pixels, classify token, the class label there), balanced labels, and, on the renderer's own
 * layers, that the markers sit on the snakes' tips and that the marked tips are joined by one
 * snake exactly when the label says so; the PGM files of `task gen --images`; bad parameters.
 *   build/tests/seqmix_tests --filter pathfinder/\*
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tasks/pathfinder.h"
#include "seqmix/tasks.h"
#include "test_helpers.h"

typedef struct data {
  smx_task_config c;
  int64_t n, T;
  int32_t *in, *lb;
} data;

static data gen(const char *task, const char *spec, smx_split split, uint64_t seed, int64_t n) {
  const smx_task *t;
  data d = {.n = n};
  cr_assert_eq(smx_task_lookup(task, &t), SMX_OK, "%s", smx_last_error());
  cr_assert_eq(smx_task_config_parse(t, spec, &d.c), SMX_OK, "%s", smx_last_error());
  d.T = smx_task_seq_len(&d.c);
  d.in = malloc((size_t)(n * d.T) * sizeof *d.in);
  d.lb = malloc((size_t)(n * d.T) * sizeof *d.lb);
  cr_assert_eq(smx_task_generate(&d.c, split, seed, n, d.in, d.lb), SMX_OK, "%s", smx_last_error());
  return d;
}

static void drop(data *d) { free(d->in), free(d->lb); }

Test(pathfinder, deterministic_and_split_disjoint) {
  data a = gen("pathfinder", "", SMX_SPLIT_TRAIN, 3, 6), b = gen("pathfinder", "", SMX_SPLIT_TRAIN, 3, 6);
  data c = gen("pathfinder", "", SMX_SPLIT_TEST, 3, 6), d = gen("pathfinder", "", SMX_SPLIT_TRAIN, 4, 6);
  size_t bytes = (size_t)(a.n * a.T) * sizeof *a.in;
  cr_assert(memcmp(a.in, b.in, bytes) == 0 && memcmp(a.lb, b.lb, bytes) == 0, "same seed gave different images");
  for (int64_t e = 0; e < a.n; e++)
    for (int64_t f = 0; f < a.n; f++) {
      cr_assert(memcmp(a.in + e * a.T, c.in + f * a.T, (size_t)a.T * sizeof *a.in) != 0, "train %ld = test %ld", (long)e, (long)f);
      cr_assert(memcmp(a.in + e * a.T, d.in + f * a.T, (size_t)a.T * sizeof *a.in) != 0, "seed 3 = seed 4");
    }
  /* example e does not depend on n */
  data e = gen("pathfinder", "", SMX_SPLIT_TRAIN, 3, 2);
  cr_assert(memcmp(a.in, e.in, (size_t)(2 * a.T) * sizeof *a.in) == 0);
  drop(&a), drop(&b), drop(&c), drop(&d), drop(&e);
}

Test(pathfinder, layout_and_balanced_labels) {
  data d = gen("pathfinder", "", SMX_SPLIT_TRAIN, 11, 200);
  cr_assert_eq(d.T, 32 * 32 + 1);
  cr_assert_eq(smx_task_vocab(&d.c), 257);
  int ones = 0;
  for (int64_t e = 0; e < d.n; e++) {
    const int32_t *in = d.in + e * d.T, *lb = d.lb + e * d.T;
    int bright = 0, dark = 0;
    for (int64_t t = 0; t < d.T - 1; t++) {
      cr_assert(in[t] >= 0 && in[t] <= 255, "pixel %d", in[t]);
      cr_assert_eq(lb[t], SMX_IGNORE_LABEL, "label at pixel %ld", (long)t);
      bright += in[t] >= 200, dark += in[t] == 0;
    }
    cr_assert(bright > 10 && dark > 30, "example %ld: %d bright, %d black pixels", (long)e, bright, dark);
    cr_assert_eq(in[d.T - 1], 256, "the classify token closes the sequence");
    cr_assert(lb[d.T - 1] == 0 || lb[d.T - 1] == 1, "class %d", lb[d.T - 1]);
    ones += lb[d.T - 1];
  }
  /* Binomial(200, 1/2): 100 +- 7; 65..135 is 5 sigma */
  cr_assert(ones >= 65 && ones <= 135, "%d of 200 labels are 1", ones);
  drop(&d);
}

/* Pixels of layer over thr reachable from (y, x), stepping up to `gap` pixels (Chebyshev) so the
 * dashes of one snake (paddles 2 margins apart) join. Marks seen[]; returns 0 if the start is dark. */
static int flood(const float *layer, int n, int y, int x, float thr, int gap, uint8_t *seen) {
  memset(seen, 0, (size_t)n * n);
  if (y < 0 || y >= n || x < 0 || x >= n || layer[y * n + x] <= thr) return 0;
  int *stack = malloc((size_t)n * n * sizeof *stack), top = 0;
  stack[top++] = y * n + x;
  seen[y * n + x] = 1;
  while (top) {
    int p = stack[--top], py = p / n, px = p % n;
    for (int a = -gap; a <= gap; a++)
      for (int b = -gap; b <= gap; b++) {
        int qy = py + a, qx = px + b;
        if (qy < 0 || qy >= n || qx < 0 || qx >= n || seen[qy * n + qx] || layer[qy * n + qx] <= thr) continue;
        seen[qy * n + qx] = 1;
        stack[top++] = qy * n + qx;
      }
  }
  free(stack);
  return 1;
}

static int components(const float *layer, int n, float thr) {
  uint8_t *seen = calloc((size_t)n * n, 1), *all = calloc((size_t)n * n, 1);
  int k = 0;
  for (int p = 0; p < n * n; p++)
    if (layer[p] > thr && !all[p]) {
      flood(layer, n, p / n, p % n, thr, 1, seen);
      for (int q = 0; q < n * n; q++) all[q] |= seen[q];
      k++;
    }
  free(seen), free(all);
  return k;
}

static void check_layers(int size, int n_images) {
  pf_params p;
  cr_assert_eq(pf_params_lra(size, 14, &p), SMX_OK);
  pf_ctx *c;
  cr_assert_eq(pf_ctx_new(&p, &c), SMX_OK, "%s", smx_last_error());
  pf_image img = {0};
  uint8_t *seen = malloc((size_t)size * size);
  const int gap = 2 * p.margins[p.n_margins - 1] + 1;
  int two_blobs = 0;
  for (int e = 0; e < n_images; e++) {
    task_rng r;
    task_rng_init(&r, 5, SMX_SPLIT_TRAIN, 0, (uint64_t)e);
    cr_assert_eq(pf_generate_image(c, &r, &img), SMX_OK, "%s", smx_last_error());
    int o = img.origin_snake, other = 1 - o, n = size;
    /* each target snake is one dashed curve from its origin tip to its terminal tip */
    for (int s = 0; s < 2; s++) {
      cr_assert(flood(img.target[s], n, img.origin_tip[s][0], img.origin_tip[s][1], 0.2f, gap, seen),
                "image %d: snake %d's origin tip is dark on its layer", e, s);
      cr_assert(seen[img.terminal_tip[s][0] * n + img.terminal_tip[s][1]],
                "image %d: snake %d's tips are not joined on its layer", e, s);
    }
    /* the markers: disks at the marked origin tip and at the terminal tip the label names */
    const int *t = img.label ? img.terminal_tip[o] : img.terminal_tip[other];
    const int *oo = img.origin_tip[o];
    cr_assert(img.markers[oo[0] * n + oo[1]] > 0.9f && img.markers[t[0] * n + t[1]] > 0.9f, "image %d: marker missing", e);
    cr_assert(img.pixels[oo[0] * n + oo[1]] >= 229 && img.pixels[t[0] * n + t[1]] >= 229, "image %d: marker not in the image", e);
    int blobs = components(img.markers, n, 0.5f);
    cr_assert(blobs == 1 || blobs == 2, "image %d: %d marker blobs", e, blobs);
    two_blobs += blobs == 2;
    /* the label: is the second marker on the first marker's snake? */
    flood(img.target[o], n, oo[0], oo[1], 0.2f, gap, seen);
    if (img.label == 1) cr_assert(seen[t[0] * n + t[1]], "image %d: label 1 but the markers are not joined", e);
    else /* the snakes may pass within a pixel (snakes.py only keeps mask + m_im < 1.8), so "on the
            * other snake" is: brighter there on the other snake's layer than on the first's */
      cr_assert(img.target[other][t[0] * n + t[1]] > 0.2f && img.target[other][t[0] * n + t[1]] > img.target[o][t[0] * n + t[1]],
                "image %d: label 0 but the second marker is on the first marker's snake", e);
    /* distractors and lone paddles: far more lit pixels than the two targets have */
    int lit = 0, lit_targets = 0;
    for (int q = 0; q < n * n; q++) {
      lit += img.pixels[q] > 50;
      lit_targets += img.target[0][q] > 0.2f || img.target[1][q] > 0.2f;
    }
    cr_assert(lit > 2 * lit_targets, "image %d: %d lit pixels, %d on the targets: no distractors?", e, lit, lit_targets);
  }
  cr_assert(two_blobs >= n_images * 8 / 10, "only %d of %d images have two separate markers", two_blobs, n_images);
  free(seen);
  pf_image_free(&img);
  pf_ctx_free(c);
}

Test(pathfinder, markers_and_connectivity_32) { check_layers(32, 60); }
Test(pathfinder, markers_and_connectivity_128, .timeout = 120) { check_layers(128, 6); }

Test(pathfinder, pathx_and_sizes) {
  data d = gen("pathx", "", SMX_SPLIT_TEST, 1, 1);
  cr_assert_eq(d.T, 128 * 128 + 1);
  cr_assert_eq(d.in[d.T - 1], 256);
  data e = gen("pathfinder", "size=128", SMX_SPLIT_TEST, 1, 1);
  cr_assert(memcmp(d.in, e.in, (size_t)d.T * sizeof *d.in) == 0, "pathx differs from pathfinder size=128");
  data f = gen("pathfinder", "size=64,contour=6", SMX_SPLIT_TRAIN, 1, 2);
  cr_assert_eq(f.T, 64 * 64 + 1);
  pf_params p;
  cr_assert_eq(pf_params_lra(32, 14, &p), SMX_OK);
  cr_assert(p.distractor_length == 4 && p.num_distractor_snakes == 5, "Python 2 divisions: 14 / 3 = 4, 20 / 4 = 5");
  cr_assert_eq(pf_params_lra(128, 14, &p), SMX_OK);
  cr_assert(p.num_distractor_snakes == 8 && p.n_margins == 2 && p.seed_distance == 20, "Pathfinder128: 35 / 4 = 8");
  drop(&d), drop(&e), drop(&f);
}

Test(pathfinder, pgm_round_trip) {
  const char *dir = test_dir("pathfinder_pgm");
  cli_result *r = malloc(sizeof *r);
  run_cli(r, (const char *[]){"task", "gen", "--task", "pathfinder", "--n", "3", "--seed", "9", "--split", "test", "--images", dir, NULL});
  cr_assert_eq(r->status, 0, "stderr: %s", r->err);
  data d = gen("pathfinder", "", SMX_SPLIT_TEST, 9, 3);
  for (int e = 0; e < 3; e++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/pathfinder_test_%d_label%d.pgm", dir, e, d.lb[e * d.T + d.T - 1]);
    cr_assert(strstr(r->out, path) != NULL, "output lacks %s: %s", path, r->out);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s missing", path);
    int w = 0, h = 0, mx = 0;
    cr_assert_eq(fscanf(f, "P5 %d %d %d", &w, &h, &mx), 3);
    fgetc(f); /* the single whitespace after the header */
    cr_assert(w == 32 && h == 32 && mx == 255);
    unsigned char px[32 * 32];
    cr_assert_eq(fread(px, 1, sizeof px, f), sizeof px);
    cr_assert_eq(fgetc(f), EOF, "trailing bytes");
    fclose(f);
    for (int i = 0; i < 32 * 32; i++) cr_assert_eq(px[i], d.in[e * d.T + i], "pixel %d of image %d", i, e);
  }
  drop(&d);
  free(r);
}

static void bad(const char *const *args, const char *needle) {
  cli_result *r = malloc(sizeof *r);
  run_cli(r, args);
  cr_assert_eq(r->status, 2, "exit %d, stderr: %s", r->status, r->err);
  cr_assert_eq(r->err_lines, 1, "expected one error line, got: %s", r->err);
  cr_assert(strstr(r->err, needle) != NULL, "stderr '%s' lacks '%s'", r->err, needle);
  free(r);
}

Test(pathfinder, bad_parameters) {
  bad((const char *[]){"task", "gen", "--task", "pathfinder", "--param", "size=48", NULL}, "size=48 is not one of LRA's sizes");
  bad((const char *[]){"task", "gen", "--task", "pathfinder", "--param", "size=512", NULL}, "size=512 is out of range");
  bad((const char *[]){"task", "gen", "--task", "pathfinder", "--param", "contour=7", NULL}, "contour=7 is not one of");
  bad((const char *[]){"task", "gen", "--task", "pathx", "--param", "size=32", NULL}, "no parameter 'size'");
  bad((const char *[]){"task", "gen", "--task", "mqar", "--images", "/tmp", NULL}, "not an image task");
  const smx_task *t;
  smx_task_config c;
  cr_assert_eq(smx_task_lookup("pathfinder", &t), SMX_OK);
  cr_assert_neq(smx_task_config_parse(t, "contour=10", &c), SMX_OK);
  cr_assert(strchr(smx_last_error(), '\n') == NULL, "one line: %s", smx_last_error());
}
