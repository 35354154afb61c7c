/* The FFTW plan cache (fftw_plans.h). */
#include "fftw_plans.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct plan_entry {
  int n;
  unsigned flags;
  fftwf_plan r2c, c2r;
  struct plan_entry *next;
} plan_entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static plan_entry *cache;
static int deterministic; /* smx_fftw_deterministic(): FFTW_ESTIMATE whatever the environment says */

void smx_fftw_deterministic(int on) {
  pthread_mutex_lock(&lock);
  deterministic = on;
  pthread_mutex_unlock(&lock);
}

void *smx_fftw_alloc(size_t bytes) {
  size_t rounded = (bytes + 63) & ~(size_t)63;
  void *p = aligned_alloc(64, rounded ? rounded : 64);
  if (p) memset(p, 0, rounded ? rounded : 64);
  return p;
}

void smx_fftw_free(void *p) { free(p); }

static void free_cache(void) {
  pthread_mutex_lock(&lock);
  while (cache) {
    plan_entry *e = cache;
    cache = e->next;
    fftwf_destroy_plan(e->r2c);
    fftwf_destroy_plan(e->c2r);
    free(e);
  }
  fftwf_cleanup();
  pthread_mutex_unlock(&lock);
}

/* FFTW's planner effort: SEQMIX_FFTW_PLANNER = estimate | measure (default) | patient. */
static unsigned planner_flags(void) {
  if (deterministic) return FFTW_ESTIMATE;
  const char *e = getenv("SEQMIX_FFTW_PLANNER");
  if (e && !strcmp(e, "estimate")) return FFTW_ESTIMATE;
  if (e && !strcmp(e, "patient")) return FFTW_PATIENT;
  return FFTW_MEASURE;
}

smx_status smx_fftw_plans(int n, fftwf_plan *r2c, fftwf_plan *c2r) {
  static int registered;
  pthread_mutex_lock(&lock);
  if (!registered) {
    atexit(free_cache);
    registered = 1;
  }
  unsigned flags = planner_flags();
  for (plan_entry *e = cache; e; e = e->next)
    if (e->n == n && e->flags == flags) {
      *r2c = e->r2c;
      *c2r = e->c2r;
      pthread_mutex_unlock(&lock);
      return SMX_OK;
    }
  /* FFTW_MEASURE overwrites its arrays while planning, so plan on scratch buffers. */
  float *r = smx_fftw_alloc((size_t)n * sizeof(float));
  fftwf_complex *c = smx_fftw_alloc((size_t)(n / 2 + 1) * sizeof(fftwf_complex));
  plan_entry *e = calloc(1, sizeof *e);
  smx_status st = SMX_OK;
  if (!r || !c || !e) {
    st = smx_fail(SMX_ERR_NOMEM, "cannot allocate FFTW planning buffers for n=%d", n);
    free(e);
  } else {
    e->n = n, e->flags = flags;
    e->r2c = fftwf_plan_dft_r2c_1d(n, r, c, flags);
    e->c2r = fftwf_plan_dft_c2r_1d(n, c, r, flags);
    if (!e->r2c || !e->c2r) {
      st = smx_fail(SMX_ERR_BACKEND, "FFTW could not plan a real FFT of length %d", n);
      free(e);
    } else {
      e->next = cache;
      cache = e;
      *r2c = e->r2c;
      *c2r = e->c2r;
    }
  }
  smx_fftw_free(r);
  smx_fftw_free(c);
  pthread_mutex_unlock(&lock);
  return st;
}
