/* Sweeps of training runs (tasks/sweep.c): a JSON spec expands into a grid of runs, each one
 * training configuration (include/seqmix/train.h); `seqmix sweep run` trains the runs its results
 * file (include/seqmix/results_store.h) does not hold yet.
 *
 * A spec (presets are built in: seqmix sweep presets):
 *   {"name": "paper-zoology", "task": "mqar",
 *    "points": ["V=8192,L=64,N=4", {"params": "V=8192,L=256,N=16", "batch": 256}],
 *    "mixers": ["attention"], "d": [64, 128], "lr": [1e-4, 1e-3], "seeds": [1, 2, 3],
 *    "layers": 2, "heads": 1, "mlp": 0, "epochs": 64, "batch": 512, "n_train": 100000,
 *    "n_test": 3000, "schedule": "cosine", "warmup": 0, "weight_decay": 0.1, "target": 0.99}
 * Lists are grid axes (order: points, mixers, d, lr, seeds); a point may override batch, n_train
 * and n_test. A mixers entry is a sequence-mixer pattern ("attention", "attention,ssd") or an
 * object {"mixer": "attention,conba*7", "channel": "none,moe", "options": "moe.E=8"}; "channel" and
 * "options" may also be spec-wide keys (include/seqmix/model.h: patterns and options). "evals" (a
 * list of task parameter strings evaluated after training: include/seqmix/train.h), "max_len"
 * (learned positions; 0: none) and "pool" ("none" or "mean": what the head reads,
 * include/seqmix/model.h) may be spec-wide or per point; like channel and options they enter
 * a run's config only when set. Each run's config is a flat JSON object of everything that defines it; its result
 * line holds the deterministic metrics, and "meta" the times, threads, hardware and revision.
 *
 *   seqmix sweep run --preset quick --out results/sweeps/quick.jsonl
 */
#ifndef SEQMIX_SWEEP_H
#define SEQMIX_SWEEP_H

#include <jansson.h>
#include <stddef.h>

#include "seqmix/status.h"
#include "seqmix/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The built-in specs: "quick", "paper-zoology", "paper-wm", "paper-h3", "rope-ssd", "needle-grid",
 * "ruler-quick",
 * and per LRA task "lra-<task>-quick" (CPU-sized) and "lra-<task>-paper" (S4's recipes) for
 * listops, text, retrieval, image, pathfinder (quick and paper) and pathx (paper). */
int smx_sweep_preset_count(void);
const char *smx_sweep_preset_name(int i);
const char *smx_sweep_preset_summary(int i);
/* The preset's spec (caller decrefs), or one error line naming the presets. */
smx_status smx_sweep_preset(const char *name, json_t **spec);

/* Validates a spec (unknown keys, wrong types, empty axes and bad values: one line naming the key)
 * and expands it: *runs is a JSON array of run configs (caller decrefs), in grid order. */
smx_status smx_sweep_expand(const json_t *spec, json_t **runs);

/* A run config (an element of the expansion) as a training configuration. Its "evals" (a list of
 * parameter strings, each overriding the run's task parameters: smx_train_eval_parse) set
 * c->evals to a buffer of the calling thread, valid until that thread's next call. */
smx_status smx_sweep_train_config(const json_t *run, smx_train_config *c);

#ifdef __cplusplus
}
#endif
#endif
