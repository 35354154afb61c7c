/* A registered op's variant used as a model layer (internal to tasks/): the variant's state is
 * created once for the layer's shape, and each call hands it tensor pointers by slot (the slot
 * enums of reference/<op>.h). Slots the caller leaves NULL get a zeroed buffer the layer owns
 * (outputs nobody reads, such as a final state; output gradients that are zero), so the model
 * wires only what it uses; for a CUDA variant the pointers and owned buffers are on the device.
 * This is the code `seqmix check` verifies, run by the model.
 */
#ifndef SEQMIX_TASKS_OP_LAYER_H
#define SEQMIX_TASKS_OP_LAYER_H

#include "seqmix/op.h"

typedef struct op_layer {
  const smx_op *op;
  const smx_variant *v;
  smx_config cfg;
  void *state;
  void *own[SMX_MAX_TENSORS];
  void *t[SMX_MAX_TENSORS]; /* set by the caller before run; NULL: the owned buffer */
} op_layer;

/* op and variant by name, spec "B=2,L=64,..." (missing parameters take their defaults). One
 * error line when the op, variant or configuration is refused (including the variant's own
 * "unsupported" reason). */
smx_status op_layer_create(op_layer *l, const char *op, const char *variant, const char *spec);
size_t op_layer_numel(const op_layer *l, int slot);
/* The owned buffer of a slot (allocated and zeroed on first use), e.g. to read an output. */
float *op_layer_own(op_layer *l, int slot);
/* Sets parameter `param` (the op's parameter index) to v and recreates the variant's state for the
 * new configuration (nothing when v is already set): decode steps whose position or cache length
 * is a parameter (ssd_decode's pos, attention_decode's S, rope's offset). Range, the op's limits
 * and the variant's support are checked (one error line); owned buffers whose size changes are
 * freed (made again on next use). */
smx_status op_layer_set(op_layer *l, int param, int64_t v);
/* Runs the pass; then clears t[] so each call states its pointers. */
smx_status op_layer_run(op_layer *l, smx_pass p);
void op_layer_destroy(op_layer *l);

#endif
