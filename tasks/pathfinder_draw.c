/* Pathfinder's rasteriser: paddles and marker disks drawn at antialias_scale times the resolution
 * and Lanczos-downsampled, as drewlinsley/pathfinder snakes.py::draw_line_n_mask and
 * snakes2.py::draw_circle do with PIL (ImageDraw.line, Image.resize(LANCZOS)) and cv2.dilate.
 * docs/tasks.md#pathfinder; tested by tests/test_pathfinder.c
 * (build/tests/seqmix_tests --filter pathfinder/\*).
 *
 * Where it departs from PIL (pixel parity is not the aim, the process is):
 * - a 1-pixel line is a DDA line (PIL: Bresenham); a wider line fills the pixels whose centres lie
 *   in the quadrilateral Pillow's ImagingDrawWideLine builds (offsets ROUND_UP and ROUND_DOWN of
 *   (width - 1) / 2 either side), where Pillow runs its polygon scan converter;
 * - the two Lanczos passes keep floats in between (Pillow's 8-bit path rounds after the first);
 *   the result is rounded to 8 bits as scipy.misc.imresize (the scipy of LRA's day) returned it,
 *   so line and mask values are multiples of 1/255 in [0, 1] before the contrast. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pathfinder.h"

static double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= M_PI;
  return sin(x) / x;
}

static double lanczos3(double x) { return (x >= -3.0 && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0; }

/* Pillow's precompute_coeffs (src/libImaging/Resample.c) for one output pixel. */
int pf_lanczos_weights(int in_size, int out_size, int o, double *w, int *first) {
  double scale = (double)in_size / out_size, fs = scale < 1.0 ? 1.0 : scale, support = 3.0 * fs;
  double center = (o + 0.5) * scale, sum = 0.0;
  int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
  if (lo < 0) lo = 0;
  if (hi > in_size) hi = in_size;
  for (int x = lo; x < hi; x++) sum += w[x - lo] = lanczos3((x - center + 0.5) / fs);
  if (sum != 0.0)
    for (int x = lo; x < hi; x++) w[x - lo] /= sum;
  *first = lo;
  return hi - lo;
}

static int max_taps(int in_size, int out_size) { return 6 * ((in_size + out_size - 1) / out_size) + 4; }

static float to_u8_unit(double v) { /* an 8-bit resize result, as a value in [0, 1] */
  v = nearbyint(v);
  return (float)((v < 0 ? 0 : v > 255 ? 255 : v) / 255.0);
}

/* src (n x n, values 0 or 255) resized to m x m with Lanczos, as 8-bit values over 255. */
static smx_status resize_u8(const uint8_t *src, int n, int m, float *dst) {
  int taps = max_taps(n, m);
  double *tmp = malloc((size_t)n * m * sizeof *tmp), *w = malloc((size_t)m * taps * sizeof *w);
  int *first = malloc((size_t)m * sizeof *first), *cnt = malloc((size_t)m * sizeof *cnt);
  if (!tmp || !w || !first || !cnt) {
    free(tmp), free(w), free(first), free(cnt);
    return smx_fail(SMX_ERR_NOMEM, "pathfinder: cannot allocate a %dx%d paddle", n, n);
  }
  for (int o = 0; o < m; o++) cnt[o] = pf_lanczos_weights(n, m, o, w + (size_t)o * taps, &first[o]);
  for (int y = 0; y < n; y++) /* horizontal pass: n rows of m */
    for (int o = 0; o < m; o++) {
      double s = 0;
      for (int k = 0; k < cnt[o]; k++) s += w[(size_t)o * taps + k] * src[(size_t)y * n + first[o] + k];
      tmp[(size_t)y * m + o] = s;
    }
  for (int o = 0; o < m; o++) /* vertical pass */
    for (int x = 0; x < m; x++) {
      double s = 0;
      for (int k = 0; k < cnt[o]; k++) s += w[(size_t)o * taps + k] * tmp[(size_t)(first[o] + k) * m + x];
      dst[(size_t)o * m + x] = to_u8_unit(s);
    }
  free(tmp), free(w), free(first), free(cnt);
  return SMX_OK;
}

/* ImageDraw.line from (c, c) to (hy, hx) with the given width on a B x B canvas. */
static void draw_line(uint8_t *im, int B, int c, int hy, int hx, int width) {
  int dy = hy - c, dx = hx - c;
  if (width <= 1) {
    int n = abs(dy) > abs(dx) ? abs(dy) : abs(dx);
    for (int i = 0; i <= n; i++) {
      int y = c + (n ? (int)lround((double)i * dy / n) : 0), x = c + (n ? (int)lround((double)i * dx / n) : 0);
      if (y >= 0 && y < B && x >= 0 && x < B) im[y * B + x] = 255;
    }
    return;
  }
  /* Pillow's ImagingDrawWideLine: the quadrilateral reaches ROUND_UP((w-1)/2) to one side of the
   * line and ROUND_DOWN((w-1)/2) to the other, square ends at both points. */
  double len = hypot(dx, dy), small = (width - 1) / 2.0;
  double up = floor(small + 0.5), down = ceil(small - 0.5), eps = 1e-9;
  for (int y = 0; y < B; y++)
    for (int x = 0; x < B; x++) {
      double py = y - c, px = x - c;
      double t = (px * dx + py * dy) / len, s = (-px * dy + py * dx) / len;
      if (t >= -eps && t <= len + eps && s >= -down - eps && s <= up + eps) im[y * B + x] = 255;
    }
}

smx_status pf_paddle_render(pf_paddle *p, int L, double thickness, int margin, int aa, double orientation) {
  memset(p, 0, sizeof *p);
  int K = L + (int)ceil(thickness) + margin, S = 2 * K + 1, B = 2 * K * aa + 1, c = K * aa;
  int width = (int)lround(thickness * aa), R = margin * aa;
  /* snakes.py's translate_coord rounds up: int(np.ceil(coord + dist * sin/cos)) */
  int hy = (int)ceil(c + (double)L * aa * sin(orientation)), hx = (int)ceil(c + (double)L * aa * cos(orientation));
  uint8_t *line = calloc((size_t)B * B, 1), *mask = calloc((size_t)B * B, 1);
  p->K = K;
  p->line = malloc((size_t)S * S * sizeof *p->line);
  p->mask = malloc((size_t)S * S * sizeof *p->mask);
  if (!line || !mask || !p->line || !p->mask) {
    free(line), free(mask), pf_paddle_free(p);
    return smx_fail(SMX_ERR_NOMEM, "pathfinder: cannot allocate a paddle");
  }
  draw_line(line, B, c, hy, hx, width);
  /* the mask: cv2.dilate of the drawn line by generate_dilation_struct(margin * aa), a disk */
  for (int y = 0; y < B; y++)
    for (int x = 0; x < B; x++) {
      if (!line[y * B + x]) continue;
      for (int a = -R; a <= R; a++)
        for (int b = -R; b <= R; b++) {
          int yy = y + a, xx = x + b;
          if (a * a + b * b <= R * R && yy >= 0 && yy < B && xx >= 0 && xx < B) mask[yy * B + xx] = 255;
        }
    }
  smx_status s = resize_u8(line, B, S, p->line);
  if (s == SMX_OK) s = resize_u8(mask, B, S, p->mask);
  free(line), free(mask);
  if (s != SMX_OK) pf_paddle_free(p);
  return s;
}

void pf_paddle_free(pf_paddle *p) {
  free(p->line), free(p->mask), free(p->struct_off);
  memset(p, 0, sizeof *p);
}

void pf_draw_marker(float *img, int size, int cy, int cx, double r, int aa) {
  int n = size * aa, taps = max_taps(n, size), span = (int)ceil(r) + 4;
  double wy[64], wx[64], rr = (r * aa) * (r * aa);
  if (taps > 64) return; /* aa <= 8: never for LRA's sets (aa = 2) */
  for (int oy = cy - span; oy <= cy + span; oy++) {
    if (oy < 0 || oy >= size) continue;
    int fy, ny = pf_lanczos_weights(n, size, oy, wy, &fy);
    for (int ox = cx - span; ox <= cx + span; ox++) {
      if (ox < 0 || ox >= size) continue;
      int fx, nx = pf_lanczos_weights(n, size, ox, wx, &fx);
      double s = 0;
      /* draw_circle's grid: blown pixel i sits at i - coordinate * aa from the centre */
      for (int a = 0; a < ny; a++) {
        double y = fy + a - (double)cy * aa, row = 0;
        for (int b = 0; b < nx; b++) {
          double x = fx + b - (double)cx * aa;
          if (x * x + y * y <= rr) row += wx[b];
        }
        s += wy[a] * row;
      }
      float v = to_u8_unit(s * 255.0);
      float *d = &img[(size_t)oy * size + ox];
      if (v > *d) *d = v;
    }
  }
}
