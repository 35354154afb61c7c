/* Decoding for the sequence mixer `conba` (tasks/mixer_conba.c; the hooks of tasks/mixer.h).
 *
 * The layer is the op `conba`, and its single-token step is the op `conba_decode` (reference/conba.h):
 * a step runs `conba_decode cpu.step` on the B new tokens with the layer's weights (its tensors are
 * the op's weight slots, in the same order), the conv window (E, K-1) of W_in x (oldest first,
 * zeros before the first token) and the scan state h (E, N) of each sequence; with delay = 1 the
 * op's readout uses h_{t-1} (its input state) as the delayed term. Windows and states are updated
 * out of place into second buffers and swapped; the count below is one copy. State per sequence:
 * E (K - 1) + E N floats, E = expand d.
 *
 *   build/tests/seqmix_tests --filter model_decode/'*'
 */
#include <stdio.h>
#include <string.h>

#include "reference/conba.h"
#include "seqmix/buffer.h"
#include "tasks/mixer.h"
#include "tasks/mixer_decode.h"
#include "tasks/op_layer.h"

enum { O_EXPAND, O_N, O_K, O_DELAY, O_SCALING, O_FEEDBACK }; /* the kind's option order (tasks/mixer_conba.c) */

typedef struct conba_dec {
  mixer_shape s;
  int64_t E, N, K, max_ctx, pos;
  op_layer step;
  float *conv, *conv2, *h, *h2; /* (B, E, K-1), (B, E, N), and the buffers a step writes */
} conba_dec;

void mixer_conba_decode_destroy(void *p) {
  conba_dec *c = p;
  if (!c) return;
  op_layer_destroy(&c->step);
  float *b[] = {c->conv, c->conv2, c->h, c->h2};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) smx_host_free(b[i]);
  smx_host_free(c);
}

smx_status mixer_conba_decode_create(const mixer_shape *s, int64_t max_ctx, void **out) {
  *out = NULL;
  if (max_ctx < 1) return smx_fail(SMX_ERR_INVALID, "conba: decode context %lld must be >= 1", (long long)max_ctx);
  conba_dec *c = smx_host_alloc(sizeof *c);
  if (!c) return smx_fail(SMX_ERR_NOMEM, "conba: cannot allocate the decoder");
  c->s = *s, c->max_ctx = max_ctx;
  c->E = (int64_t)s->opt[O_EXPAND] * s->d, c->N = (int64_t)s->opt[O_N], c->K = (int64_t)s->opt[O_K];
  size_t win = (size_t)(s->B * c->E * (c->K - 1)), st = (size_t)(s->B * c->E * c->N);
  smx_status r = mixer_alloc("conba decode", &c->conv, win, &c->conv2, win, &c->h, st, &c->h2, st, (float **)NULL);
  char spec[MIXER_SPEC_LEN];
  snprintf(spec, sizeof spec, "B=%lld,d=%lld,expand=%d,N=%d,K=%d,delay=%d,scaling=%d,feedback=%d", (long long)s->B,
           (long long)s->d, (int)s->opt[O_EXPAND], (int)s->opt[O_N], (int)s->opt[O_K], (int)s->opt[O_DELAY],
           (int)s->opt[O_SCALING], (int)s->opt[O_FEEDBACK]);
  if (r == SMX_OK) r = op_layer_create(&c->step, "conba_decode", "cpu.step", spec);
  if (r == SMX_OK && op_layer_numel(&c->step, CONBAD_H_IN) != st)
    r = smx_fail(SMX_ERR_INVALID, "conba: the conba_decode op's state size differs from the decoder's");
  if (r != SMX_OK) {
    mixer_conba_decode_destroy(c);
    return r;
  }
  *out = c;
  return SMX_OK;
}

void mixer_conba_decode_reset(void *p) {
  conba_dec *c = p;
  memset(c->conv, 0, (size_t)(c->s.B * c->E * (c->K - 1)) * sizeof(float));
  memset(c->h, 0, (size_t)(c->s.B * c->E * c->N) * sizeof(float));
  c->pos = 0;
}

/* the cache rows below pos keep what they hold; recurrent state zeroed (mixer.h, decode_seek) */
void mixer_conba_decode_seek(void *p, int64_t pos) {
  mixer_conba_decode_reset(p);
  ((conba_dec *)p)->pos = pos;
}

smx_status mixer_conba_decode_step(void *p, float *const *w, const float *x, float *y) {
  conba_dec *c = p;
  if (c->pos >= c->max_ctx)
    return smx_fail(SMX_ERR_INVALID, "conba: the decoder is full (%lld tokens per sequence)", (long long)c->max_ctx);
  op_layer *o = &c->step;
  o->t[CONBAD_X] = (float *)x;
  for (int i = 0; i < CW_COUNT; i++) o->t[CONBAD_W0 + i] = w[i];
  o->t[CONBAD_CONV_IN] = c->conv, o->t[CONBAD_H_IN] = c->h, o->t[CONBAD_O] = y;
  o->t[CONBAD_CONV_OUT] = c->conv2, o->t[CONBAD_H_OUT] = c->h2;
  smx_status s = op_layer_run(o, SMX_FWD);
  if (s != SMX_OK) return s;
  float *t = c->conv;
  c->conv = c->conv2, c->conv2 = t;
  t = c->h, c->h = c->h2, c->h2 = t;
  c->pos++;
  return SMX_OK;
}

size_t mixer_conba_decode_state_bytes(const mixer_shape *s, int64_t ctx) {
  (void)ctx;
  int64_t E = (int64_t)s->opt[O_EXPAND] * s->d;
  return (size_t)(E * ((int64_t)s->opt[O_K] - 1 + (int64_t)s->opt[O_N])) * sizeof(float);
}
