/* Ops, variants and the registry.
 *
 * An op is a mathematically defined operator with a forward and a backward (fftconv, ...). It
 * declares its integer parameters (with accepted ranges), its tensors (slots), the useful FLOP and
 * byte counts per configuration, and its reference in two precisions: the fp64 oracle (fp64
 * storage and accumulation: the spec the checks measure against) and the naive fp32 evaluation of
 * the same formula (what "the precision's own error" means in the tolerance rule, check.h).
 *
 * A variant computes an op on one device (`reference`, `cpu.fftw`, `cuda.cufft`). It says which
 * configurations it supports (unsupported = skipped with the reason, never failed), creates its
 * state once per configuration (plans, workspace), and runs a pass on tensors it is given.
 * Backward takes the forward's inputs plus the output gradient and must not rely on a previous
 * forward call: both passes are timed and checked on their own.
 *
 * Baselines are variants flagged `baseline`: library floors (a bare FFTW or cuFFT round trip)
 * that run in the same benchmark binary so speedups are ratios from one run; they are not checked
 * because they do not compute the op.
 *
 * kernels/registry.c lists every op and variant; tests, benchmarks and the CLI iterate it, so a
 * new variant is one file plus one line there.
 */
#ifndef SEQMIX_OP_H
#define SEQMIX_OP_H

#include <stddef.h>
#include <stdint.h>

#include "seqmix/device.h"
#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMX_MAX_PARAMS 12
#define SMX_MAX_TENSORS 40

typedef enum smx_pass { SMX_FWD = 0, SMX_BWD = 1 } smx_pass;
#define SMX_PASS_BIT(p) (1u << (p))
const char *smx_pass_name(smx_pass p); /* "fwd", "bwd" */

typedef enum smx_role {
  SMX_ROLE_INPUT,     /* forward input, differentiable */
  SMX_ROLE_OUTPUT,    /* forward output */
  SMX_ROLE_GRAD_OUT,  /* gradient of a forward output: an input of backward */
  SMX_ROLE_GRAD_IN,   /* gradient of a forward input: an output of backward */
} smx_role;

typedef struct smx_tensor_desc {
  const char *name; /* "u", "y", "dy", "du" */
  smx_role role;
  int of;           /* GRAD_OUT: the OUTPUT slot; GRAD_IN: the INPUT slot it differentiates; else -1 */
  /* OUTPUT slots only: 1 = the backward reads it too (attention's O and softmax log-sum-exp, which a
   * flash backward consumes instead of recomputing). The check hands backward the oracle's
   * values rounded to fp32; a benchmark runs the variant's own forward before timing backward. */
  int saved;
  /* 1 = stored in fp32 whatever the variant's dtype (a statistic such as the log-sum-exp, kept in
   * fp32 by every bf16 attention kernel). */
  int f32_always;
} smx_tensor_desc;

/* The storage type of every tensor a variant reads and writes. fp32 is the default; a bf16
 * variant gets its inputs rounded to bf16 (round to nearest even) by the harness and its outputs
 * widened back, and is checked against the naive reference evaluated on the same rounded inputs
 * with outputs rounded to bf16 (bf16 storage, fp32 arithmetic: what bf16 kernels do). */
typedef enum smx_dtype { SMX_F32 = 0, SMX_BF16 = 1 } smx_dtype;
const char *smx_dtype_name(smx_dtype d); /* "fp32", "bf16" */
size_t smx_dtype_size(smx_dtype d);      /* bytes per element */
uint16_t smx_f32_to_bf16(float x);       /* round to nearest even; NaN stays NaN */
float smx_bf16_to_f32(uint16_t b);

typedef struct smx_param_desc {
  const char *name; /* as in the papers: "B", "H", "L" */
  int64_t min, max, def;
  const char *doc;
} smx_param_desc;

struct smx_op;
typedef struct smx_config {
  const struct smx_op *op;
  int64_t v[SMX_MAX_PARAMS];
} smx_config;

/* The tolerance rule per output tensor (check.h): err <= k * err_naive + c * eps * max|ref|. */
typedef struct smx_tolerance {
  double k, c;
  const char *why;
} smx_tolerance;

typedef enum smx_suite { SMX_SUITE_CI = 0, SMX_SUITE_QUICK = 1, SMX_SUITE_PAPER = 2, SMX_SUITE_COUNT } smx_suite;
const char *smx_suite_name(smx_suite s);
smx_status smx_suite_parse(const char *name, smx_suite *out);

typedef struct smx_op {
  const char *name;
  const char *summary;
  int n_params;
  const smx_param_desc *params;
  int n_tensors;
  const smx_tensor_desc *tensors;
  /* Cross-parameter limits (tensor sizes); records one line and returns SMX_ERR_INVALID. */
  smx_status (*validate)(const smx_config *c);
  size_t (*numel)(const smx_config *c, int slot);
  double (*flops)(const smx_config *c, smx_pass p); /* useful work, the same for every variant */
  double (*bytes)(const smx_config *c, smx_pass p); /* compulsory traffic: tensors read + written once */
  /* References: t[slot] points at numel(slot) values; reads the pass's inputs, writes its outputs. */
  void (*oracle_f64)(const smx_config *c, smx_pass p, double *const *t);
  void (*naive_f32)(const smx_config *c, smx_pass p, float *const *t);
  /* Per slot; used for OUTPUT and GRAD_IN slots. */
  const smx_tolerance *tolerance;
  /* The magnitude the floor term c * eps * scale multiplies, for outputs whose natural error scale
   * is not max|ref| (a reduction that cancels: its error follows sum|terms|, not |sum|). Returns
   * a negative number for slots that use max|ref|; NULL = max|ref| everywhere. */
  double (*floor_scale)(const smx_config *c, int slot, double *const *oracle);
  /* Shapes the checks run (NULL-terminated "B=1,H=1,L=1" specs, awkward ones included) and the
   * benchmark suites; paper_note says how the paper suite differs from the paper, if it does. */
  const char *const *check_shapes;
  const char *const *suite_shapes[SMX_SUITE_COUNT];
  /* Multiply-adds of the direct reference, so benchmarks can leave out reference runs that would
   * take minutes (they say so in the results); NULL = always affordable. */
  double (*reference_cost)(const smx_config *c, smx_pass p);
  const char *sweep_param; /* the x axis of scaling plots ("L") */
  const char *shrink_param; /* halved when a benchmark shape does not fit in device memory ("B") */
  const char *paper_note;
  /* Post-processes the uniform [-1, 1) values drawn for an input slot (in place) where the op
   * needs another distribution or a case noise would miss (ties in a top-k); the check, the
   * finite differences and the benchmarks all apply it. NULL = the uniform values as drawn. */
  void (*shape_input)(const smx_config *c, int slot, float *values, size_t n);
  /* Why finite differences cannot check this configuration's backward (a selection that a
   * perturbation would change), or NULL. */
  const char *(*fd_unusable)(const smx_config *c);
  /* Speedups the plots draw beside "over the reference" and "over the library baseline":
   * NULL-terminated "subject:partner" variant pairs, the partner optionally "op/variant" of another
   * op timed at the same values of the parameters the two ops share ("cuda.flash_sparse:attention/cuda.flash"). */
  const char *const *speedup_pairs;
  /* 1 = the plots add tokens per second (B * L / time) vs L: layers people compare by throughput. */
  int plot_tokens_per_s;
  /* Bytes of the layer's learned parameters at this configuration (fp32), shown beside each
   * benchmark point where the sweep is over model size (experts); NULL: not shown. */
  double (*param_bytes)(const smx_config *c);
  /* Parameters smx_config_format leaves out while they hold their default (NULL-terminated names,
   * or NULL): a parameter added to an op after results were recorded (fftconv's gates) keeps the
   * names of existing benchmarks and committed baselines. */
  const char *const *quiet_defaults;
} smx_op;

typedef struct smx_variant {
  const char *name; /* "<device>.<method>", or "reference" */
  const char *summary;
  smx_device device;
  int baseline;     /* 1 = a library floor: benchmarked beside the op, never checked */
  unsigned passes;  /* SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD) */
  /* NULL when the configuration is supported, else the reason (static storage). */
  const char *(*unsupported)(const smx_config *c);
  smx_status (*create)(const smx_config *c, void **state);
  void (*destroy)(void *state);
  size_t (*workspace_bytes)(const void *state);
  /* t[slot] are device pointers (host pointers for CPU variants). */
  smx_status (*run)(void *state, smx_pass p, void *const *t);
  smx_dtype dtype; /* storage type of every tensor but the f32_always ones (SMX_F32 unless set) */
} smx_variant;

/* ---- the registry (kernels/registry.c) ---- */
int smx_op_count(void);
const smx_op *smx_op_at(int i);
const smx_op *smx_op_find(const char *name);
int smx_variant_count(const smx_op *op);
const smx_variant *smx_variant_at(const smx_op *op, int i);
const smx_variant *smx_variant_find(const smx_op *op, const char *name);
/* Looks an op up by name, or records "unknown op 'x' (known: a, b)" and returns SMX_ERR_INVALID. */
smx_status smx_op_lookup(const char *name, const smx_op **out);
smx_status smx_variant_lookup(const smx_op *op, const char *name, const smx_variant **out);
/* The --op / --variant / --shape filters of check and bench: looks the op up (NULL = all ops),
 * requires --op for --shape and parses it, and requires the variant to exist somewhere in scope. */
smx_status smx_resolve_filters(const char *op, const char *variant, const char *shape, const smx_op **only);
/* Why this variant cannot run this configuration here (built without CUDA, no GPU, shape), or NULL. */
const char *smx_variant_skip_reason(const smx_variant *v, const smx_config *c);

/* ---- configurations (core/config.c) ---- */
/* Parses "B=4,H=8,L=1000" (missing parameters take their defaults); validates ranges and the
 * op's cross-parameter limits. Unknown names, repeats, non-numbers and out-of-range values get
 * one line naming the value and what is accepted. */
smx_status smx_config_parse(const smx_op *op, const char *spec, smx_config *out);
void smx_config_format(const smx_config *c, char *buf, size_t n); /* "B=4,H=8,L=1000,gelu=0" */
/* 0 for a parameter the op lists in quiet_defaults while it holds its default (left out of names
 * and of the params object of results), else 1. */
int smx_config_param_shown(const smx_config *c, int i);
int smx_config_param_index(const smx_op *op, const char *name);   /* -1 when absent */
int64_t smx_config_get(const smx_config *c, const char *name);
/* The values every harness gives an input slot: Philox uniform [-1, 1) (stream = slot), then the
 * op's shape_input. The check, the finite differences and the benchmarks all call this. */
void smx_input_values(const smx_config *c, uint64_t seed, int slot, float *out, size_t n);
size_t smx_config_bytes(const smx_config *c);                     /* fp32 bytes of all tensors */
/* For variants whose whole state is their configuration (the references): create/destroy/workspace. */
smx_status smx_state_copy_config(const smx_config *c, void **state);
void smx_state_free(void *state);
size_t smx_state_no_workspace(const void *state);

#ifdef __cplusplus
}
#endif
#endif
