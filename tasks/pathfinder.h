/* Pathfinder / Path-X (Long Range Arena): the snake renderer shared by tasks/pathfinder.c and
 * tasks/pathfinder_draw.c, and the per-image entry point the tests read layers from. Private to
 * tasks/ and tests/test_pathfinder.c. docs/tasks.md#pathfinder gives the spec.
 *
 * The generator follows drewlinsley/pathfinder snakes2.py (from_wrapper, two_snakes,
 * initialize_two_seeds) and snakes.py (make_many_snakes, make_snake, seed_snake, extend_snake,
 * get_coords_cmf, draw_line_n_mask); the parameter sets are the docstrings of
 * google-research/long-range-arena lra_benchmarks/data/pathfinder.py (Pathfinder32/64/128/256). */
#ifndef SEQMIX_PATHFINDER_H
#define SEQMIX_PATHFINDER_H

#include <stdint.h>

#include "seqmix/status.h"
#include "task_rng.h"

/* The tasks (registered in tasks/tasks.c). */
extern const smx_task smx_task_pathfinder;
extern const smx_task smx_task_pathx;

/* One LRA parameter set (snakes2_wrapper.py's Args after LRA's customisation). */
typedef struct pf_params {
  int size;          /* window_size (square) */
  int padding;       /* occupied border of the mask */
  int paddle_length; /* L */
  double thickness;  /* paddle_thickness; thickness * aa must be an integer */
  int margins[2], n_margins; /* paddle_margin_list, one drawn per image */
  int aa;            /* antialias_scale */
  int seed_distance;
  double marker_radius;
  int contour_length, distractor_length, num_distractor_snakes;
  double continuity;
  double snake_contrast, paddle_contrast; /* one-element snake_contrast_list, paddle_contrast_list */
  int max_target_contour_retrial, max_distractor_contour_retrial, max_paddle_retrial;
  int use_single_paddles;
} pf_params;

/* LRA's Pathfinder{32,64,128,256} set with contour_length cl (6, 9 or 14); distractor counts use
 * Python 2's integer division (distractor_length = cl // 3, num = 20 // distractor_length, ...). */
smx_status pf_params_lra(int size, int cl, pf_params *p);

/* A paddle as draw_line_n_mask renders it: a (2K+1)^2 window, K = L + ceil(thickness) + margin,
 * whose centre pixel sits on the paddle's start coordinate. line: intensity in [0, 1] before the
 * contrast; mask: the paddle dilated by the margin (the occupancy it adds), in [0, 1]. */
typedef struct pf_paddle {
  int K;
  float *line, *mask;
  /* seed_snake's head-centric struct: the offsets (dy, dx) at which the mask is saturated, shifted
   * by (1, 1) as snakes2.py's struct_head = length + margin + 1 shifts them. Filled on demand. */
  int n_struct, have_struct;
  int16_t *struct_off;
} pf_paddle;

/* Renders a paddle of length L (pixels) from the window centre along orientation (radians, y down
 * as in snakes.py's translate_coord). Allocates p's buffers; pf_paddle_free releases them. */
smx_status pf_paddle_render(pf_paddle *p, int L, double thickness, int margin, int aa, double orientation);
void pf_paddle_free(pf_paddle *p);

/* snakes2.py's draw_circle: a disk of radius r drawn at aa times the resolution, centred on
 * (cy, cx), Lanczos-downsampled to the size x size image; max-combined into img (values in [0, 1]). */
void pf_draw_marker(float *img, int size, int cy, int cx, double r, int aa);

/* Pillow's resampling weights (ImagingResample, Lanczos with support 3): for output pixel o of a
 * in_size -> out_size resize, writes the first input index to *first and returns the tap count;
 * w must hold at least 6 * ceil(in_size / out_size) + 2 entries. */
int pf_lanczos_weights(int in_size, int out_size, int o, double *w, int *first);

/* One generated image and the layers the tests check. */
typedef struct pf_image {
  int size, label;
  uint8_t *pixels;   /* size*size, the example's tokens */
  float *target[2];  /* each target snake's own layer */
  float *markers;    /* the two marker disks */
  int origin_snake;  /* the snake whose origin tip carries a marker */
  int origin_tip[2][2], terminal_tip[2][2]; /* per snake, (y, x) */
  int attempts;      /* two_snakes attempts until both target snakes were complete */
} pf_image;

/* A renderer: a parameter set and its paddle caches (per margin: the 360 seed orientations and the
 * extension displacements on the circle), reused across the images of a dataset. */
typedef struct pf_ctx pf_ctx;
smx_status pf_ctx_new(const pf_params *p, pf_ctx **out);
void pf_ctx_free(pf_ctx *c);
/* Draws one image from r. img's buffers are allocated by the first call and reused (free with
 * pf_image_free). */
smx_status pf_generate_image(pf_ctx *c, task_rng *r, pf_image *img);
void pf_image_free(pf_image *img);

#endif
