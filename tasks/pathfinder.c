/* Pathfinder and Path-X, the Long Range Arena image tasks: is there a path between the two marker
 * disks? docs/tasks.md#pathfinder. Tested by tests/test_pathfinder.c.
 *
 *   seqmix task gen --task pathfinder --n 4 --images /tmp/pf          # 32x32 (LRA's Pathfinder32)
 *   seqmix task gen --task pathfinder --param size=64,contour=9 --n 2 --images /tmp/pf
 *   seqmix task gen --task pathx --n 2 --images /tmp/px               # 128x128 (LRA's Path-X)
 *
 * The generator is drewlinsley/pathfinder's, which LRA ran with the parameters of
 * google-research/long-range-arena lra_benchmarks/data/pathfinder.py (Pathfinder32/64/128/256).
 * Per image (snakes2.py::from_wrapper): label ~ U{0,1}; a paddle margin from paddle_margin_list;
 * two target snakes (two_snakes) of contour_length paddles, started seed_distance apart
 * (initialize_two_seeds) and grown alternately (snakes.py::extend_snake), the whole image redrawn
 * when either cannot be completed; distractor snakes of distractor_length paddles and lone paddles
 * (make_many_snakes / make_snake / seed_snake), each dropped when it does not fit; then a marker disk
 * at the origin tip of one target snake and at the terminal tip of the same snake (label 1) or of
 * the other (label 0). Every paddle is a short line drawn at antialias_scale times the resolution
 * and Lanczos-downsampled (pathfinder_draw.c), its occupancy mask the line dilated by the margin.
 *
 * Tokens: the image's pixels in raster order as 0..255, then a classify token 256 (vocab 257), the
 * analogue of listops.c's classify token: the label at that position is the class as a token id,
 * 0 = the markers are on different snakes, 1 = on the same snake (a 2-way classification read from
 * the LM head); every other position is -100. T = size * size + 1. Randomness: seqmix's Philox
 * (task_rng.h), one stream per (split, example), so train and test images are disjoint draws. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pathfinder.h"
#include "task_impl.h"

enum { TOK_CLS = 256, VOCAB = 257 };
#define MAX_TWO_SNAKE_ATTEMPTS 5000 /* snakes2.py loops forever; LRA's sets need a handful */
#define REJECTION_TRIES 32

/* ---- parameter sets ---------------------------------------------------------------------- */

smx_status pf_params_lra(int size, int cl, pf_params *p) {
  if (cl != 6 && cl != 9 && cl != 14)
    return smx_fail(SMX_ERR_INVALID, "pathfinder: contour=%d is not one of LRA's contour lengths (accepted: 6, 9, 14)", cl);
  /* snakes2_wrapper.py::Args defaults, then LRA's customisation per size */
  pf_params d = {.size = size, .padding = 22, .paddle_length = 5, .thickness = 1.5, .margins = {4}, .n_margins = 1,
                 .aa = 4, .seed_distance = 27, .marker_radius = 3, .contour_length = cl, .continuity = 1.4,
                 .snake_contrast = 1.0, .paddle_contrast = 1.0, .max_target_contour_retrial = 4,
                 .max_distractor_contour_retrial = 4, .max_paddle_retrial = 2, .use_single_paddles = 1};
  /* distractor_length = contour_length / 3 and num_distractor_snakes = K / distractor_length are
   * Python 2 integer divisions in the original (14 / 3 = 4, 35 / 4 = 8). */
  d.distractor_length = cl / 3;
  int k;
  switch (size) {
  case 32:
    d.padding = 1, d.paddle_length = 2, d.thickness = 0.5, d.margins[0] = 1, d.marker_radius = 1.5, d.aa = 2;
    d.seed_distance = 7, d.continuity = 1.0, d.snake_contrast = 2, d.paddle_contrast = 0.75, k = 20;
    break;
  case 64:
    d.padding = 1, d.margins[0] = 1, d.seed_distance = 12, d.marker_radius = 2.5, d.thickness = 1, d.aa = 2;
    d.continuity = 1.8, d.snake_contrast = 0.8, k = 22;
    break;
  case 128:
    d.padding = 1, d.margins[0] = 2, d.margins[1] = 3, d.n_margins = 2, d.seed_distance = 20, d.marker_radius = 3;
    d.thickness = 1.5, d.aa = 2, d.continuity = 1.8, d.snake_contrast = 0.9, k = 35;
    break;
  case 256:
    d.margins[0] = 3, d.marker_radius = 5, d.thickness = 2, d.aa = 2, d.continuity = 1.8, d.snake_contrast = 1.0, k = 30;
    break;
  default:
    return smx_fail(SMX_ERR_INVALID, "pathfinder: size=%d is not one of LRA's sizes (accepted: 32, 64, 128, 256)", size);
  }
  d.num_distractor_snakes = k / d.distractor_length;
  *p = d;
  return SMX_OK;
}

/* ---- the renderer's state ------------------------------------------------------------------ */

typedef struct margin_cache {
  int m, r;                /* margin; the extension radius paddle_length + margin */
  int n_samples;           /* get_coords_cmf's np.arange(0, 360, deg_per_pixel) */
  double *sin_r, *cos_r;   /* r * sin, r * cos of those angles */
  pf_paddle seed[360];     /* seed paddles by integer degree + 180 */
  /* Degrees whose seed structs are the same offsets share a class, and a class its availability:
   * the tails still free for it (a superset of the free ones once the mask has grown, re-checked
   * on use) and whether none is left. The mask only grows between seeds, so both stay valid for
   * the rest of an image (stamped with the image's number). */
  int cls[360], n_cls;
  struct seed_class {
    const pf_paddle *rep;
    int n_deg, dead, n_list;
    uint64_t stamp;
    int32_t *list;
  } *classes;
  int ext_side;            /* extension paddles by displacement, (2 r + 3)^2 slots */
  pf_paddle *ext;
  int *have_ext;
} margin_cache;

typedef struct placed { /* a paddle at (y, x): its window's centre pixel */
  const pf_paddle *pad;
  int y, x;
} placed;

typedef struct undo { int i; float v; } undo;

struct pf_ctx {
  pf_params p;
  int N;
  margin_cache mc[2];
  float *image, *mask, *layer[2], *markers;
  uint8_t *occ;  /* mask > 0.3: occupied for seed_snake's availability test */
  int raw_free;  /* pixels with mask <= 0.3 (seed_snake's stop_with_availability) */
  uint64_t image_no;
  float *mask0; /* the blank mask (padding border), made by the first reset */
  int raw_free0, init_ready;
  int dead_deg; /* degrees whose class has no tail left */
  undo *log;
  int n_log, cap_log, logging;
  placed *staged;
  int n_staged, cap_staged;
  /* get_coords_cmf scratch */
  int cand_cap;
  int (*cand)[2];
  double *cum, *cand_orient;
};

typedef struct snake {
  int py, px;     /* pivot */
  double theta;   /* last orientation */
  placed last;    /* the last segment, whose mask joins the occupancy when the next one is added */
  int head[2];
} snake;

static void cache_free(margin_cache *mc) {
  for (int i = 0; i < 360; i++) pf_paddle_free(&mc->seed[i]);
  for (int i = 0; i < mc->n_cls; i++) free(mc->classes[i].list);
  free(mc->classes);
  if (mc->ext)
    for (int i = 0; i < mc->ext_side * mc->ext_side; i++) pf_paddle_free(&mc->ext[i]);
  free(mc->ext), free(mc->have_ext), free(mc->sin_r), free(mc->cos_r);
}

void pf_ctx_free(pf_ctx *c) {
  if (!c) return;
  for (int i = 0; i < 2; i++) cache_free(&c->mc[i]);
  free(c->image), free(c->mask), free(c->layer[0]), free(c->layer[1]), free(c->markers), free(c->occ), free(c->mask0);
  free(c->log), free(c->staged), free(c->cand), free(c->cum), free(c->cand_orient);
  free(c);
}

static smx_status seed_cache(pf_ctx *c, margin_cache *mc);

smx_status pf_ctx_new(const pf_params *p, pf_ctx **out) {
  *out = NULL;
  pf_ctx *c = calloc(1, sizeof *c);
  if (!c) return smx_fail(SMX_ERR_NOMEM, "pathfinder: out of memory");
  c->p = *p;
  c->N = p->size * p->size;
  size_t N = (size_t)c->N;
  c->image = malloc(N * sizeof(float)), c->mask = malloc(N * sizeof(float)), c->markers = malloc(N * sizeof(float));
  c->layer[0] = malloc(N * sizeof(float)), c->layer[1] = malloc(N * sizeof(float)), c->occ = malloc(N);
  c->mask0 = malloc(N * sizeof(float));
  int ok = c->image && c->mask && c->markers && c->layer[0] && c->layer[1] && c->occ && c->mask0;
  for (int i = 0; i < p->n_margins && ok; i++) {
    margin_cache *mc = &c->mc[i];
    mc->m = p->margins[i];
    mc->r = p->paddle_length + mc->m;
    double dpp = 360.0 / (2 * mc->r * M_PI);
    mc->n_samples = (int)ceil(360.0 / dpp);
    mc->sin_r = malloc((size_t)mc->n_samples * sizeof(double));
    mc->cos_r = malloc((size_t)mc->n_samples * sizeof(double));
    mc->ext_side = 2 * mc->r + 3;
    mc->ext = calloc((size_t)mc->ext_side * mc->ext_side, sizeof *mc->ext);
    mc->have_ext = calloc((size_t)mc->ext_side * mc->ext_side, sizeof(int));
    if (!mc->sin_r || !mc->cos_r || !mc->ext || !mc->have_ext) {
      ok = 0;
      break;
    }
    for (int k = 0; k < mc->n_samples; k++) {
      double a = (k * dpp) * M_PI / 180;
      mc->sin_r[k] = mc->r * sin(a), mc->cos_r[k] = mc->r * cos(a);
    }
    if (mc->n_samples > c->cand_cap) c->cand_cap = mc->n_samples;
    smx_status s = seed_cache(c, mc);
    if (s != SMX_OK) {
      pf_ctx_free(c);
      return s;
    }
  }
  if (ok) { /* the undo log: every window of a distractor snake's paddles, the seed's included */
    int mmax = p->margins[p->n_margins - 1] > p->margins[0] ? p->margins[p->n_margins - 1] : p->margins[0];
    int S = 2 * (p->paddle_length + (int)ceil(p->thickness) + mmax) + 1;
    c->cap_log = (p->distractor_length + 1) * S * S;
    c->log = malloc((size_t)c->cap_log * sizeof *c->log);
    ok = c->log != NULL;
  }
  if (ok) {
    c->cand = malloc((size_t)c->cand_cap * sizeof *c->cand);
    c->cum = malloc((size_t)c->cand_cap * sizeof *c->cum);
    c->cand_orient = malloc((size_t)c->cand_cap * sizeof *c->cand_orient);
    ok = c->cand && c->cum && c->cand_orient;
  }
  if (!ok) {
    pf_ctx_free(c);
    return smx_fail(SMX_ERR_NOMEM, "pathfinder: out of memory for a %dx%d renderer", p->size, p->size);
  }
  *out = c;
  return SMX_OK;
}

/* seed_snake's struct = draw_line_n_mask(struct_shape (2(L+m)+1)^2, struct_head (L+m+1, L+m+1)):
 * the paddle's mask cropped to that window and cast to uint8, so only saturated pixels count;
 * cv2.dilate anchors it at the window's centre (L+m, L+m), hence the (1, 1) shift. */
static smx_status seed_struct(pf_ctx *c, margin_cache *mc, pf_paddle *pd) {
  int K = pd->K, S = 2 * K + 1, h = c->p.paddle_length + mc->m, n = 0;
  pd->struct_off = malloc((size_t)S * S * 2 * sizeof(int16_t));
  if (!pd->struct_off) return smx_fail(SMX_ERR_NOMEM, "pathfinder: out of memory");
  for (int a = 0; a < S; a++)
    for (int b = 0; b < S; b++) {
      int sy = h + 1 + a - K, sx = h + 1 + b - K;
      if (sy < 0 || sy > 2 * h || sx < 0 || sx > 2 * h || pd->mask[a * S + b] < 1.0f) continue;
      pd->struct_off[2 * n] = (int16_t)(a - K + 1), pd->struct_off[2 * n + 1] = (int16_t)(b - K + 1), n++;
    }
  pd->n_struct = n, pd->have_struct = 1;
  return SMX_OK;
}

/* Renders the 360 seed paddles of a margin and groups the degrees by struct. */
static smx_status seed_cache(pf_ctx *c, margin_cache *mc) {
  mc->classes = calloc(360, sizeof *mc->classes);
  if (!mc->classes) return smx_fail(SMX_ERR_NOMEM, "pathfinder: out of memory");
  for (int i = 0; i < 360; i++) {
    pf_paddle *pd = &mc->seed[i];
    smx_status s = pf_paddle_render(pd, c->p.paddle_length, c->p.thickness, mc->m, c->p.aa, (i - 180) * M_PI / 180);
    if (s == SMX_OK) s = seed_struct(c, mc, pd);
    if (s != SMX_OK) return s;
    int k = 0;
    for (; k < mc->n_cls; k++) {
      const pf_paddle *q = mc->classes[k].rep;
      if (q->n_struct == pd->n_struct && memcmp(q->struct_off, pd->struct_off, 2 * sizeof(int16_t) * (size_t)pd->n_struct) == 0)
        break;
    }
    if (k == mc->n_cls) mc->classes[mc->n_cls++].rep = pd;
    mc->classes[k].n_deg++;
    mc->cls[i] = k;
  }
  return SMX_OK;
}

static double flip_by_pi(double o) { return o < 0 ? o + M_PI : o - M_PI; }

static const pf_paddle *ext_paddle(pf_ctx *c, margin_cache *mc, int dy, int dx, double orient, smx_status *st) {
  int i = (dy + mc->r + 1) * mc->ext_side + (dx + mc->r + 1);
  if (!mc->have_ext[i]) {
    /* extend_snake draws from the new head back towards the pivot: flip_by_pi(new_orientation) */
    if ((*st = pf_paddle_render(&mc->ext[i], c->p.paddle_length, c->p.thickness, mc->m, c->p.aa, flip_by_pi(orient))))
      return NULL;
    mc->have_ext[i] = 1;
  }
  return &mc->ext[i];
}

/* ---- occupancy and layers ---------------------------------------------------------------- */

static void set_mask(pf_ctx *c, int i, float v) {
  /* cap_log covers a whole distractor snake's windows (pf_ctx_new), so the log never overflows */
  if (c->logging && c->n_log < c->cap_log) c->log[c->n_log++] = (undo){i, c->mask[i]};
  int was = c->mask[i] > 0.3f, now = v > 0.3f;
  c->mask[i] = v;
  c->occ[i] = (uint8_t)now;
  c->raw_free -= now - was;
}

static void revert_log(pf_ctx *c) {
  while (c->n_log > 0) {
    undo u = c->log[--c->n_log];
    int was = c->mask[u.i] > 0.3f, now = u.v > 0.3f;
    c->mask[u.i] = u.v;
    c->occ[u.i] = (uint8_t)now;
    c->raw_free -= now - was;
  }
}

/* The rows [*a0, *a1) and columns [*b0, *b1) of a paddle's (2K+1)^2 square placed at (y, x) that
 * fall inside the n x n frame. */
static void square_in_frame(placed q, int n, int *a0, int *a1, int *b0, int *b1) {
  int K = q.pad->K, S = 2 * K + 1;
  *a0 = q.y - K < 0 ? K - q.y : 0, *a1 = q.y - K + S > n ? n - (q.y - K) : S;
  *b0 = q.x - K < 0 ? K - q.x : 0, *b1 = q.x - K + S > n ? n - (q.x - K) : S;
}

/* mask = np.maximum(mask, m_im) for a paddle placed at (y, x) */
static void add_mask(pf_ctx *c, placed q) {
  int K = q.pad->K, S = 2 * K + 1, n = c->p.size, a0, a1, b0, b1;
  square_in_frame(q, n, &a0, &a1, &b0, &b1);
  for (int a = a0; a < a1; a++)
    for (int b = b0; b < b1; b++) {
      int i = (q.y - K + a) * n + q.x - K + b;
      float v = q.pad->mask[a * S + b];
      if (v > c->mask[i]) set_mask(c, i, v);
    }
}

/* image = np.maximum(image, contrast * l_im) */
static void add_line(const pf_ctx *c, float *img, placed q, double contrast) {
  int K = q.pad->K, S = 2 * K + 1, n = c->p.size, a0, a1, b0, b1;
  square_in_frame(q, n, &a0, &a1, &b0, &b1);
  for (int a = a0; a < a1; a++)
    for (int b = b0; b < b1; b++) {
      int i = (q.y - K + a) * n + q.x - K + b;
      float v = (float)(contrast * q.pad->line[a * S + b]);
      if (v > img[i]) img[i] = v;
    }
}

/* extend_snake's acceptance: np.max(mask + m_im) < 1.8 */
static int fits(const pf_ctx *c, placed q) {
  int K = q.pad->K, S = 2 * K + 1, n = c->p.size;
  for (int a = 0; a < S; a++) {
    int y = q.y - K + a;
    if (y < 0 || y >= n) continue;
    for (int b = 0; b < S; b++) {
      int x = q.x - K + b;
      if (x >= 0 && x < n && c->mask[y * n + x] + q.pad->mask[a * S + b] >= 1.8f) return 0;
    }
  }
  return 1;
}

static smx_status stage(pf_ctx *c, placed q) {
  if (c->n_staged == c->cap_staged) {
    int cap = c->cap_staged ? 2 * c->cap_staged : 64;
    placed *g = realloc(c->staged, (size_t)cap * sizeof *g);
    if (!g) return smx_fail(SMX_ERR_NOMEM, "pathfinder: out of memory");
    c->staged = g, c->cap_staged = cap;
  }
  c->staged[c->n_staged++] = q;
  return SMX_OK;
}

/* ---- seeding (seed_snake, initialize_two_seeds) ------------------------------------------ */

/* A tail at p is available when the mask dilated by the head-centric struct ("lined" with an
 * occupied border of width bw) is <= 0.3 there: no struct offset lands on an occupied pixel.
 * cv2.dilate ignores offsets that leave the image. */
static int available(const pf_ctx *c, const pf_paddle *pd, int p, int bw) {
  int n = c->p.size, y = p / n, x = p % n;
  for (int k = 0; k < pd->n_struct; k++) {
    int qy = y + pd->struct_off[2 * k], qx = x + pd->struct_off[2 * k + 1];
    if (qy < 0 || qy >= n || qx < 0 || qx >= n) continue;
    if (qy < bw || qy >= n - bw || qx < bw || qx >= n - bw || c->occ[qy * n + qx]) return 0;
  }
  return 1;
}

/* A uniform draw from the available tails (np.nonzero + randint in the original): first by
 * rejection, which is uniform over the same set, then from the exact set when rejection keeps
 * missing, so "none available" is decided exactly. With a class (distractors), the exact set is
 * kept: built by one scan, then only re-checked, since it can only shrink within an image.
 * Returns -1 when there is none. */
static int sample_tail(pf_ctx *c, task_rng *r, const pf_paddle *pd, int bw, struct seed_class *k, smx_status *st) {
  if (k && k->stamp == c->image_no) { /* re-check the kept set */
    int n = 0;
    for (int i = 0; i < k->n_list; i++)
      if (available(c, pd, k->list[i], bw)) k->list[n++] = k->list[i];
    k->n_list = n;
    return n ? k->list[task_rng_below(r, (uint32_t)n)] : -1;
  }
  for (int t = 0; t < REJECTION_TRIES; t++) {
    int p = (int)task_rng_below(r, (uint32_t)c->N);
    if (available(c, pd, p, bw)) return p;
  }
  if (k) {
    if (!k->list && !(k->list = malloc((size_t)c->N * sizeof *k->list))) {
      *st = smx_fail(SMX_ERR_NOMEM, "pathfinder: out of memory");
      return -1;
    }
    k->n_list = 0, k->stamp = c->image_no, k->dead = 0;
    for (int p = 0; p < c->N; p++)
      if (available(c, pd, p, bw)) k->list[k->n_list++] = p;
    return k->n_list ? k->list[task_rng_below(r, (uint32_t)k->n_list)] : -1;
  }
  int count = 0;
  for (int p = 0; p < c->N; p++) count += available(c, pd, p, bw);
  if (count == 0) return -1;
  int i = (int)task_rng_below(r, (uint32_t)count);
  for (int p = 0; p < c->N; p++)
    if (available(c, pd, p, bw) && i-- == 0) return p;
  return -1; /* not reached */
}

static int in_image(const pf_ctx *c, int y, int x) { return y >= 0 && y < c->p.size && x >= 0 && x < c->p.size; }

/* snakes.py::translate_coord: int(np.ceil(coord + dist * (sin, cos)(orientation))) */
static void translate(int y, int x, double o, double dist, int *oy, int *ox) {
  *oy = (int)ceil(y + dist * sin(o));
  *ox = (int)ceil(x + dist * cos(o));
}

typedef struct seed_out {
  const pf_paddle *pad;
  int tail[2], pivot[2];
  double theta;
} seed_out;

/* seed_snake (bw = 1, stop_with_availability = 0.01, dead orientations remembered) and the first
 * seed of initialize_two_seeds (bw = 2 * seed_distance). 1: placed; 0: failed. */
static int seed(pf_ctx *c, margin_cache *mc, task_rng *r, int bw, int distractor, seed_out *o, smx_status *st) {
  const int L = c->p.paddle_length;
  for (int trial = 0; trial <= c->p.max_paddle_retrial; trial++) {
    int deg = (int)task_rng_below(r, 360) - 180;
    double th = deg * M_PI / 180, rev = th + M_PI < M_PI ? th + M_PI : th - M_PI;
    if (distractor) {
      /* stop_with_availability: the mask itself (before dilation) nearly full */
      if ((double)c->raw_free / c->N < 0.01) return 0;
    }
    const pf_paddle *pd = &mc->seed[deg + 180];
    struct seed_class *k = distractor ? &mc->classes[mc->cls[deg + 180]] : NULL;
    /* the mask only grows between seeds, so a struct with no room stays without */
    if (k && k->stamp == c->image_no && k->dead) return 0;
    int p = sample_tail(c, r, pd, bw, k, st);
    if (p < 0) {
      if (k && !*st) k->dead = 1, c->dead_deg += k->n_deg;
      return 0; /* "Mask fully occupied after dilation": no further trial */
    }
    int ty = p / c->p.size, tx = p % c->p.size, hy, hx, vy, vx;
    translate(ty, tx, th, L, &hy, &hx);
    translate(hy, hx, rev, L + mc->m, &vy, &vx);
    if (!in_image(c, hy, hx) || !in_image(c, vy, vx)) continue; /* missampled seed */
    *o = (seed_out){pd, {ty, tx}, {vy, vx}, th};
    return 1;
  }
  return 0;
}

/* ---- extension (extend_snake, get_coords_cmf) -------------------------------------------- */

/* Grows s by one paddle. Lines go to layer (target snakes) or are staged (distractors). */
static int extend(pf_ctx *c, margin_cache *mc, task_rng *r, snake *s, float *layer, double contrast, smx_status *st) {
  const int n = c->p.size, m = mc->m;
  int py, px;
  translate(s->py, s->px, s->theta, c->p.paddle_length + 2 * m, &py, &px);
  /* candidates: the integer pixels on the circle of radius L + m around the new pivot */
  int nc = 0;
  for (int k = 0; k < mc->n_samples; k++) {
    double fy = py + mc->sin_r[k], fx = px + mc->cos_r[k];
    if (fy >= n || fy < 0 || fx >= n || fx < 0) continue;
    int y = (int)fy, x = (int)fx, j = nc; /* astype(int); np.unique keeps them sorted by (y, x) */
    while (j > 0 && (c->cand[j - 1][0] > y || (c->cand[j - 1][0] == y && c->cand[j - 1][1] > x))) j--;
    if (j > 0 && c->cand[j - 1][0] == y && c->cand[j - 1][1] == x) continue;
    memmove(c->cand + j + 1, c->cand + j, (size_t)(nc - j) * sizeof *c->cand);
    c->cand[j][0] = y, c->cand[j][1] = x, nc++;
  }
  if (nc == 0) return 0; /* dead-end while expanding */
  double total = 0;
  for (int k = 0; k < nc; k++) {
    int y = c->cand[k][0], x = c->cand[k][1];
    double o = atan2(y - py, x - px), d = fabs(o - s->theta);
    d = fmin(d, 2 * M_PI - d);
    d = fmin(d * c->p.continuity, 0.5 * M_PI);
    double w = fmax(cos(d), 0.0);
    w *= w;
    /* 1 - mask dilated by the small struct (a disk of radius margin) at the candidate */
    float dil = 0;
    for (int a = -m; a <= m; a++)
      for (int b = -m; b <= m; b++)
        if (a * a + b * b <= m * m && in_image(c, y + a, x + b) && c->mask[(y + a) * n + x + b] > dil)
          dil = c->mask[(y + a) * n + x + b];
    total += w * (1.0 - dil);
    c->cum[k] = total;
    c->cand_orient[k] = o;
  }
  if (total < 1e-4) return 0;
  for (int trial = 0; trial <= c->p.max_paddle_retrial; trial++) {
    double u = task_rng_unit(r) * total;
    int k = 0;
    while (k < nc - 1 && !(c->cum[k] > u)) k++;
    int y = c->cand[k][0], x = c->cand[k][1];
    const pf_paddle *pd = ext_paddle(c, mc, y - py, x - px, c->cand_orient[k], st);
    if (!pd) return 0;
    placed q = {pd, y, x};
    if (!fits(c, q)) continue; /* self-crossing: resample */
    if (layer) add_line(c, layer, q, contrast);
    else if ((*st = stage(c, q)) != SMX_OK) return 0;
    add_mask(c, s->last); /* mask = np.maximum(mask, last_segment_mask) */
    s->last = q;
    s->py = py, s->px = px, s->theta = c->cand_orient[k];
    s->head[0] = y, s->head[1] = x;
    return 1;
  }
  return 0;
}

/* ---- one image ----------------------------------------------------------------------------- */

/* A blank image: the mask's padding border occupied, all layers black. Runs once per two_snakes
 * attempt (hundreds per image at 64 and 128), so it copies a prepared mask. */
static void reset(pf_ctx *c) {
  const int n = c->p.size, pad = c->p.padding;
  const size_t N = (size_t)c->N;
  if (!c->init_ready) {
    c->raw_free0 = 0;
    for (int i = 0; i < c->N; i++) {
      int y = i / n, x = i % n, border = y < pad || y >= n - pad || x < pad || x >= n - pad;
      c->mask0[i] = border ? 1.0f : 0.0f;
      c->raw_free0 += !border;
    }
    c->init_ready = 1;
  }
  memcpy(c->mask, c->mask0, N * sizeof(float));
  for (size_t i = 0; i < N; i++) c->occ[i] = (uint8_t)(c->mask0[i] > 0.3f);
  c->raw_free = c->raw_free0;
  memset(c->layer[0], 0, N * sizeof(float));
  memset(c->layer[1], 0, N * sizeof(float));
  c->image_no++; /* forgets the classes' kept tails */
  c->dead_deg = 0;
  c->n_log = 0, c->logging = 0, c->n_staged = 0;
}

/* two_snakes + initialize_two_seeds. 1: both complete; 0: redraw. */
static int two_snakes(pf_ctx *c, margin_cache *mc, task_rng *r, snake s[2], int origin[2][2], smx_status *st) {
  const pf_params *p = &c->p;
  const double contrast = p->paddle_contrast * p->snake_contrast;
  seed_out a;
  reset(c);
  if (!seed(c, mc, r, 2 * p->seed_distance, 0, &a, st)) return 0;
  add_line(c, c->layer[0], (placed){a.pad, a.tail[0], a.tail[1]}, contrast);
  /* the second seed: seed_distance from the first tail at a uniform integer-degree angle, its own
   * orientation; neither the mask nor availability is consulted, only that head and pivot are inside */
  int ok = 0, t2[2], v2[2], deg2 = 0;
  for (int trial = 0; trial <= p->max_paddle_retrial && !ok; trial++) {
    deg2 = (int)task_rng_below(r, 360) - 180;
    double th = deg2 * M_PI / 180, rev = th + M_PI < M_PI ? th + M_PI : th - M_PI;
    double ang = task_rng_below(r, 360) * M_PI / 180;
    int hy, hx;
    t2[0] = (int)nearbyint(a.tail[0] + p->seed_distance * sin(ang)); /* np.round: half to even */
    t2[1] = (int)nearbyint(a.tail[1] + p->seed_distance * cos(ang));
    translate(t2[0], t2[1], th, p->paddle_length, &hy, &hx);
    translate(hy, hx, rev, p->paddle_length + mc->m, &v2[0], &v2[1]);
    ok = in_image(c, hy, hx) && in_image(c, v2[0], v2[1]);
  }
  if (!ok) return 0;
  const pf_paddle *b = &mc->seed[deg2 + 180];
  add_line(c, c->layer[1], (placed){b, t2[0], t2[1]}, contrast);
  s[0] = (snake){a.pivot[0], a.pivot[1], a.theta, {a.pad, a.tail[0], a.tail[1]}, {a.tail[0], a.tail[1]}};
  s[1] = (snake){v2[0], v2[1], deg2 * M_PI / 180, {b, t2[0], t2[1]}, {t2[0], t2[1]}};
  origin[0][0] = a.tail[0], origin[0][1] = a.tail[1], origin[1][0] = t2[0], origin[1][1] = t2[1];
  /* the seeds' masks are not in the mask yet: each joins when its snake's next paddle is added */
  for (int k = 1; k < p->contour_length; k++)
    for (int i = 0; i < 2; i++)
      if (!extend(c, mc, r, &s[i], c->layer[i], contrast, st)) return 0;
  /* two_snakes adds only the second snake's last segment (current_segment_masks[-1]); the first
   * snake's last paddle stays out of the mask, as in snakes2.py */
  add_mask(c, s[1].last);
  return 1;
}

/* make_many_snakes: n snakes of nseg paddles, each retried up to max_trial times, then skipped. */
static smx_status many_snakes(pf_ctx *c, margin_cache *mc, task_rng *r, int n, int max_trial, int nseg) {
  const double contrast = c->p.snake_contrast; /* make_many_snakes is given snake_contrast_list */
  smx_status st = SMX_OK;
  for (int i = 0; i < n; i++) {
    for (int t = 0; t <= max_trial; t++) {
      /* every seed would fail from here on (the mask only grows): skip the draws */
      if (c->dead_deg == 360 || (double)c->raw_free / c->N < 0.01) return SMX_OK;
      seed_out a;
      if (!seed(c, mc, r, 1, 1, &a, &st)) {
        if (st) return st;
        continue;
      }
      snake s = {a.pivot[0], a.pivot[1], a.theta, {a.pad, a.tail[0], a.tail[1]}, {a.tail[0], a.tail[1]}};
      c->n_staged = 0, c->n_log = 0, c->logging = 1;
      int ok = (st = stage(c, s.last)) == SMX_OK;
      for (int k = 1; k < nseg && ok; k++) ok = extend(c, mc, r, &s, NULL, contrast, &st);
      c->logging = 0;
      if (st) return st;
      if (!ok) { /* make_snake returns the image and mask it was given */
        revert_log(c);
        continue;
      }
      add_mask(c, s.last);
      for (int k = 0; k < c->n_staged; k++) add_line(c, c->image, c->staged[k], contrast);
      break;
    }
  }
  return SMX_OK;
}

smx_status pf_generate_image(pf_ctx *c, task_rng *r, pf_image *img) {
  const pf_params *p = &c->p;
  if (!img->pixels || img->size != p->size) {
    pf_image_free(img);
    img->size = p->size;
    img->pixels = malloc((size_t)c->N);
    img->target[0] = malloc((size_t)c->N * sizeof(float));
    img->target[1] = malloc((size_t)c->N * sizeof(float));
    img->markers = malloc((size_t)c->N * sizeof(float));
    if (!img->pixels || !img->target[0] || !img->target[1] || !img->markers) {
      pf_image_free(img);
      return smx_fail(SMX_ERR_NOMEM, "pathfinder: out of memory for a %dx%d image", p->size, p->size);
    }
  }
  img->label = (int)task_rng_below(r, 2);
  margin_cache *mc = &c->mc[task_rng_below(r, (uint32_t)p->n_margins)];
  int m = mc->m;
  /* from_wrapper: base_num_paddles = 150 scaled by 1 / ((7.5 + 13 m + 4 m^2) / 123.5), truncated */
  int total = (int)(150 * (1.0 / ((7.5 + 13 * m + 4 * m * m) / 123.5)));
  snake s[2];
  int origin[2][2];
  smx_status st = SMX_OK;
  int attempts = 0;
  for (;;) {
    if (++attempts > MAX_TWO_SNAKE_ATTEMPTS)
      return smx_fail(SMX_ERR_INVALID, "pathfinder: no two complete target snakes in %d attempts (size=%d, contour=%d)",
                      MAX_TWO_SNAKE_ATTEMPTS, p->size, p->contour_length);
    if (two_snakes(c, mc, r, s, origin, &st)) break;
    if (st) return st;
  }
  img->attempts = attempts;
  memset(c->markers, 0, (size_t)c->N * sizeof(float));
  for (int i = 0; i < c->N; i++) c->image[i] = fmaxf(c->layer[0][i], c->layer[1][i]);
  if (p->num_distractor_snakes > 0 &&
      (st = many_snakes(c, mc, r, p->num_distractor_snakes, p->max_distractor_contour_retrial, p->distractor_length)))
    return st;
  int singles = total - 2 * p->contour_length - p->num_distractor_snakes * p->distractor_length;
  if (p->use_single_paddles && singles > 0 && (st = many_snakes(c, mc, r, singles, p->max_paddle_retrial, 1))) return st;
  /* markers: the origin tip of one snake and the terminal tip of the same (label 1) or the other */
  int o = (int)task_rng_below(r, 2), t = img->label ? o : 1 - o;
  pf_draw_marker(c->markers, p->size, origin[o][0], origin[o][1], p->marker_radius, p->aa);
  pf_draw_marker(c->markers, p->size, s[t].head[0], s[t].head[1], p->marker_radius, p->aa);
  for (int i = 0; i < c->N; i++) {
    /* pixelwise max, clipped to [0, 1] (contrasts above 1 saturate), as 8 bits */
    float v = fmaxf(c->image[i], c->markers[i]);
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    img->pixels[i] = (uint8_t)lrintf(v * 255.0f);
  }
  memcpy(img->target[0], c->layer[0], (size_t)c->N * sizeof(float));
  memcpy(img->target[1], c->layer[1], (size_t)c->N * sizeof(float));
  memcpy(img->markers, c->markers, (size_t)c->N * sizeof(float));
  img->origin_snake = o;
  for (int i = 0; i < 2; i++) {
    img->origin_tip[i][0] = origin[i][0], img->origin_tip[i][1] = origin[i][1];
    img->terminal_tip[i][0] = s[i].head[0], img->terminal_tip[i][1] = s[i].head[1];
  }
  return SMX_OK;
}

void pf_image_free(pf_image *img) {
  free(img->pixels), free(img->target[0]), free(img->target[1]), free(img->markers);
  memset(img, 0, sizeof *img);
}

/* ---- the tasks ----------------------------------------------------------------------------- */

enum { P_SIZE, P_CONTOUR };

static int pf_size(const smx_task_config *c) { return c->task->n_params == 2 ? (int)task_int(c, P_SIZE) : 128; }
static int pf_contour(const smx_task_config *c) { return (int)task_int(c, c->task->n_params == 2 ? P_CONTOUR : 0); }

static int64_t pf_seq_len(const smx_task_config *c) { return (int64_t)pf_size(c) * pf_size(c) + 1; }
static int64_t pf_vocab(const smx_task_config *c) {
  (void)c;
  return VOCAB;
}
static void pf_image_dims(const smx_task_config *c, int64_t *w, int64_t *h) { *w = *h = pf_size(c); }

static smx_status pf_validate(const smx_task_config *c) {
  pf_params p;
  return pf_params_lra(pf_size(c), pf_contour(c), &p);
}

static smx_status pf_generate(const smx_task_config *c, smx_split split, uint64_t seed, int64_t n, int32_t *inputs,
                              int32_t *labels) {
  pf_params p;
  smx_status s = pf_params_lra(pf_size(c), pf_contour(c), &p);
  if (s != SMX_OK) return s;
  pf_ctx *ctx;
  if ((s = pf_ctx_new(&p, &ctx)) != SMX_OK) return s;
  pf_image img = {0};
  const int64_t T = pf_seq_len(c), N = T - 1;
  for (int64_t e = 0; e < n && s == SMX_OK; e++) {
    task_rng r;
    task_rng_init(&r, seed, split, TASK_PART_EXAMPLE, (uint64_t)e);
    if ((s = pf_generate_image(ctx, &r, &img)) != SMX_OK) break;
    int32_t *in = inputs + e * T, *lb = labels + e * T;
    for (int64_t i = 0; i < N; i++) in[i] = img.pixels[i], lb[i] = SMX_IGNORE_LABEL;
    in[N] = TOK_CLS;
    lb[N] = img.label; /* the class as a token id: 0 = different snakes, 1 = same snake */
  }
  pf_image_free(&img);
  pf_ctx_free(ctx);
  return s;
}

const smx_task smx_task_pathfinder = {
    .name = "pathfinder",
    .summary = "Long Range Arena Pathfinder: are the two markers on the same dashed snake? Pixels as tokens, class (0/1) at a classify token",
    .source = "drewlinsley/pathfinder snakes2.py with lra_benchmarks/data/pathfinder.py's Pathfinder32/64/128/256 parameters",
    .n_params = 2,
    .params = {{"size", 32, 32, 256, 0, "image side: LRA's parameter set Pathfinder32, 64, 128 (= pathx) or 256"},
               {"contour", 14, 6, 14, 0, "target snake length in paddles: 14 (hard, LRA's), 9 (intermediate), 6 (easy)"}},
    .validate = pf_validate,
    .seq_len = pf_seq_len,
    .vocab = pf_vocab,
    .generate = pf_generate,
    .image_dims = pf_image_dims,
};

const smx_task smx_task_pathx = {
    .name = "pathx",
    .summary = "Long Range Arena Path-X: Pathfinder at 128x128 (16,384 pixel tokens), class (0/1) at a classify token",
    .source = "drewlinsley/pathfinder snakes2.py with lra_benchmarks/data/pathfinder.py's Pathfinder128 parameters",
    .n_params = 1,
    .params = {{"contour", 14, 6, 14, 0, "target snake length in paddles: 14 (hard, LRA's), 9 (intermediate), 6 (easy)"}},
    .validate = pf_validate,
    .seq_len = pf_seq_len,
    .vocab = pf_vocab,
    .generate = pf_generate,
    .image_dims = pf_image_dims,
};
