/* The DMA key selection (reference/dma.h) as keep-until intervals, with a binary heap of the kept
 * keys ordered weakest first. Row selection adds keys in order and evicts the weakest once more
 * than w are kept: the row at which a key is evicted ends its interval, and it never returns
 * (its rank only grows as keys arrive). Shared selection evicts down to w after all keys are in.
 * Key a is weaker than key b when bias[a] < bias[b], or the biases are equal and a < b (the more
 * recent key wins ties), the order every variant uses. */
#include "reference/dma.h"

#define DEFINE_SELECT(NAME, T)                                                                                       \
  static int NAME##_weaker(const T *bias, int32_t a, int32_t b) {                                                   \
    return bias[a] < bias[b] || (bias[a] == bias[b] && a < b);                                                      \
  }                                                                                                                  \
  static void NAME##_sift_down(const T *bias, int32_t *heap, int64_t n, int64_t i) {                                \
    for (;;) {                                                                                                       \
      int64_t l = 2 * i + 1, r = l + 1, m = i;                                                                       \
      if (l < n && NAME##_weaker(bias, heap[l], heap[m])) m = l;                                                     \
      if (r < n && NAME##_weaker(bias, heap[r], heap[m])) m = r;                                                     \
      if (m == i) return;                                                                                            \
      int32_t t = heap[i];                                                                                           \
      heap[i] = heap[m];                                                                                             \
      heap[m] = t;                                                                                                   \
      i = m;                                                                                                         \
    }                                                                                                                \
  }                                                                                                                  \
  static void NAME##_push(const T *bias, int32_t *heap, int64_t *n, int32_t key) {                                  \
    int64_t i = (*n)++;                                                                                              \
    heap[i] = key;                                                                                                   \
    while (i > 0 && NAME##_weaker(bias, heap[i], heap[(i - 1) / 2])) {                                               \
      int32_t t = heap[i];                                                                                           \
      heap[i] = heap[(i - 1) / 2];                                                                                   \
      heap[(i - 1) / 2] = t;                                                                                         \
      i = (i - 1) / 2;                                                                                               \
    }                                                                                                                \
  }                                                                                                                  \
  static int32_t NAME##_pop(const T *bias, int32_t *heap, int64_t *n) {                                             \
    int32_t top = heap[0];                                                                                           \
    heap[0] = heap[--*n];                                                                                            \
    NAME##_sift_down(bias, heap, *n, 0);                                                                             \
    return top;                                                                                                      \
  }                                                                                                                  \
  static void NAME(const T *bias, int64_t L, int64_t w, int select, int32_t *keep_until, int32_t *heap) {           \
    int64_t n = 0;                                                                                                   \
    for (int64_t j = 0; j < L; j++) keep_until[j] = (int32_t)L;                                                      \
    if (w >= L) return;                                                                                              \
    for (int64_t i = 0; i < L; i++) {                                                                                \
      NAME##_push(bias, heap, &n, (int32_t)i);                                                                       \
      if (select == DMA_SELECT_ROW && n > w) keep_until[NAME##_pop(bias, heap, &n)] = (int32_t)i;                    \
    }                                                                                                                \
    while (n > w) { /* shared: the weakest L - w keys are never kept */                                              \
      int32_t j = NAME##_pop(bias, heap, &n);                                                                        \
      keep_until[j] = j;                                                                                             \
    }                                                                                                                \
  }

DEFINE_SELECT(select_f32, float)
DEFINE_SELECT(select_f64, double)

void smx_dma_keep_until(const float *bias, int64_t L, int64_t w, int select, int32_t *keep_until, int32_t *heap) {
  select_f32(bias, L, w, select, keep_until, heap);
}

void smx_dma_keep_until_f64(const double *bias, int64_t L, int64_t w, int select, int32_t *keep_until,
                            int32_t *heap) {
  select_f64(bias, L, w, select, keep_until, heap);
}

double smx_dma_row_pairs(int64_t L, int64_t w) {
  /* rows i < w keep i + 1 keys, the rest w */
  int64_t m = L < w ? L : w;
  return 0.5 * (double)m * (double)(m + 1) + (double)(L - m) * (double)w;
}
