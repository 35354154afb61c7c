/* seqmix task train: one training run of the task runner's model on a synthetic task, with the
 * per-epoch progress on stderr and the result as one JSON line on stdout.
 *   seqmix task train --task mqar --param L=64,N=4,V=8192 --d 64 --lr 1e-3 --epochs 8
 *   seqmix task train --task passkey --param L=256 --max-len 0 --options attention.rope=1 \
 *       --eval 'L=512,depth=0;L=512,depth=50;L=1024,depth=100'
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "seqmix/hardware.h"
#include "seqmix/train.h"

const char *smx_build_revision(void);

int task_train(int argc, char **argv) {
  const char *name = NULL, *spec = NULL, *d_s = "64", *layers_s = "2", *heads_s = "1", *mlp_s = NULL, *lr_s = "1e-3",
             *wd_s = "0.1", *epochs_s = "16", *batch_s = "64", *ntr_s = "20000", *nte_s = "1000", *seed_s = "1",
             *target_s = "0.99", *sched_s = "cosine", *warm_s = "0.1", *threads_s = "0",
             *device_s = "cpu", *mixer_s = "attention", *channel_s = NULL, *options_s = "",
             *eval_s = NULL, *max_len_s = NULL, *pool_s = NULL;
  int help = 0, quiet = 0;
  const cli_opt opts[] = {
      {"task", "NAME", "the task (seqmix task list)", &name, NULL},
      {"param", "K=V,...", "task parameters, e.g. L=64,N=4,V=8192", &spec, NULL},
      {"d", "N", "model width (default 64)", &d_s, NULL},
      {"layers", "N", "blocks (default 2)", &layers_s, NULL},
      {"mixer", "PATTERN", "sequence mixer per layer, cycled: attention, dma, ssd, h3, m2, conba or a list such as attention,conba*7 (default attention; seqmix task mixers)", &mixer_s, NULL},
      {"channel", "PATTERN", "channel mixer per layer, cycled: none, mlp, moe, cdmoe or a list such as none,moe (default: mlp with --mlp, else none)", &channel_s, NULL},
      {"options", "K=V,...", "mixer options, e.g. ssd.N=16,ssd.rope=1,moe.E=8 (seqmix task mixers lists them)", &options_s, NULL},
      {"heads", "N", "attention and dma heads (default 1, as Zoology)", &heads_s, NULL},
      {"mlp", "F", "add a SwiGLU MLP of hidden width F to each block (default: none, as Zoology's sweeps)", &mlp_s, NULL},
      {"lr", "X", "peak learning rate (default 1e-3)", &lr_s, NULL},
      {"weight-decay", "X", "AdamW weight decay on matrices and embeddings (default 0.1)", &wd_s, NULL},
      {"schedule", "S", "cosine (Zoology: per epoch), warmup-linear or warmup-cosine (safari's AR and induction head, per step) or constant", &sched_s, NULL},
      {"warmup", "X", "share of the steps spent warming up, for the warmup schedules (default 0.1)", &warm_s, NULL},
      {"epochs", "N", "at most this many epochs (default 16)", &epochs_s, NULL},
      {"batch", "N", "sequences per step (default 64)", &batch_s, NULL},
      {"n-train", "N", "training examples (default 20000)", &ntr_s, NULL},
      {"n-test", "N", "test examples (default 1000)", &nte_s, NULL},
      {"seed", "S", "data, initialization and shuffling seed (default 1)", &seed_s, NULL},
      {"target", "X", "stop once test accuracy exceeds X (default 0.99; 1 = never)", &target_s, NULL},
      {"threads", "N", "OpenMP threads (default 0: all; results repeat bit for bit at a fixed count)", &threads_s, NULL},
      {"device", "D", "cpu (default) or cuda: where the model trains (CUDA: the mixers listed by seqmix task mixers)", &device_s, NULL},
      {"pool", "HEAD", "what the head reads: none (the final norm at each position, default) or mean (its running mean over the sequence: a classification label at the last token reads the mean of the whole sequence)", &pool_s, NULL},
      {"max-len", "N", "learned positions for N tokens; 0: none (default: the task's length for attention-only models, else none)", &max_len_s, NULL},
      {"eval", "P;P;...", "after training, also evaluate on these task parameters (each overrides --param's, e.g. 'L=512,depth=0;L=512,depth=50')", &eval_s, NULL},
      {"quiet", NULL, "no per-epoch progress", NULL, &quiet},
      {0}};
  if (cli_parse("task train", argc, argv, opts, &help)) return SMX_EXIT_USAGE;
  if (help) {
    cli_usage("task train", "--task NAME [--param K=V,...] [--d N] [--lr X] [--epochs N] ...",
              "Trains the task runner's model (embedding, pre-norm blocks of the chosen mixers, tied LM head;\n"
              "include/seqmix/model.h) on the task with AdamW on the CPU or the GPU, evaluates after every epoch with\n"
              "Zoology's accuracy rule, stops early at the target, and prints one JSON line: the\n"
              "configuration, accuracy, loss curve, wall time, tokens/s and time to the target.", opts);
    return 0;
  }
  if (!name) return cli_error("seqmix task train: --task NAME is required (see seqmix task list)");
  smx_train_config c;
  smx_train_defaults(&c);
  const smx_task *t;
  smx_status s = smx_task_lookup(name, &t);
  if (s != SMX_OK) return cli_fail(s);
  if ((s = smx_task_config_parse(t, spec, &c.task)) != SMX_OK) return cli_fail(s);
  static smx_task_config evals[SMX_TRAIN_MAX_EVALS];
  int n_evals = 0;
  if (eval_s && (s = smx_train_evals_parse(&c.task, eval_s, evals, SMX_TRAIN_MAX_EVALS, &n_evals)) != SMX_OK) return cli_fail(s);
  c.evals = n_evals ? evals : NULL, c.n_evals = n_evals;
  long d, layers, heads, mlp = 0, epochs, batch, ntr, nte, seed, threads, max_len = -1;
  double lr, wd, target, warm;
  if (cli_int("d", d_s, 1, 8192, &d) || cli_int("layers", layers_s, 1, 64, &layers) || cli_int("heads", heads_s, 1, 8192, &heads) ||
      (mlp_s && cli_int("mlp", mlp_s, 1, 65536, &mlp)) || cli_int("epochs", epochs_s, 1, SMX_TRAIN_MAX_EPOCHS, &epochs) ||
      cli_int("batch", batch_s, 1, 65536, &batch) || cli_int("n-train", ntr_s, 1, 1 << 24, &ntr) ||
      cli_int("n-test", nte_s, 1, 1 << 24, &nte) || cli_int("seed", seed_s, 0, 0x7fffffffffffffffL, &seed) ||
      cli_double("warmup", warm_s, 0, 0.99, &warm) || cli_int("threads", threads_s, 0, 1024, &threads) || cli_double("lr", lr_s, 1e-9, 10, &lr) ||
      cli_double("weight-decay", wd_s, 0, 10, &wd) || cli_double("target", target_s, 0, 1, &target) ||
      (max_len_s && cli_int("max-len", max_len_s, 0, 16777216, &max_len)))
    return SMX_EXIT_USAGE;
  c.model.max_len = max_len;
  if (pool_s && (s = smx_model_pool_parse(pool_s, &c.model.pool)) != SMX_OK) return cli_fail(s);
  if (smx_lr_schedule_parse(sched_s, &c.schedule) != SMX_OK)
    return cli_error("--schedule %s is not a schedule (accepted: cosine, warmup-linear, warmup-cosine, constant)", sched_s);
  c.model.d = d, c.model.layers = layers, c.model.heads = heads;
  if (!channel_s) channel_s = mlp ? "mlp" : "none";
  if (strlen(mixer_s) >= sizeof c.model.mixer || strlen(channel_s) >= sizeof c.model.channel || strlen(options_s) >= sizeof c.model.options)
    return cli_error("--mixer, --channel or --options is too long");
  snprintf(c.model.mixer, sizeof c.model.mixer, "%s", mixer_s);
  snprintf(c.model.channel, sizeof c.model.channel, "%s", channel_s);
  snprintf(c.model.options, sizeof c.model.options, "%s", options_s);
  c.model.d_ff = mlp ? mlp : 4 * d;
  if ((s = smx_model_pattern_check(mixer_s, 0, layers)) != SMX_OK || (s = smx_model_pattern_check(channel_s, 1, layers)) != SMX_OK ||
      (s = smx_model_options_check(options_s)) != SMX_OK)
    return cli_fail(s);
  c.lr = (float)lr, c.weight_decay = (float)wd, c.target_acc = target >= 1 ? 2 : target;
  c.epochs = epochs, c.batch = batch, c.n_train = ntr, c.n_test = nte, c.seed = (uint64_t)seed, c.warmup = warm;
  c.progress = quiet ? NULL : stderr;
  c.threads = (int)threads;
  if ((s = smx_device_parse(device_s, &c.model.device)) != SMX_OK) return cli_fail(s);
  smx_hardware hw;
  if ((s = smx_hardware_probe(&hw)) != SMX_OK) return cli_fail(s);
  char params[256];
  smx_task_config_format(&c.task, params, sizeof params);
  static smx_train_result r;
  if ((s = smx_train(&c, &r)) != SMX_OK) return cli_fail(s);
  json_t *j = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:I, s:I, s:I, s:I}, s:{s:f, s:f, s:s, s:I, s:I, s:I, s:I, s:I}, "
                        "s:o, s:{s:f, s:f, s:f, s:f}, s:I, s:s, s:s, s:s}",
                        "task", t->name, "params", params, "model", "mixer", mixer_s, "channel", channel_s, "options", options_s, "d", (json_int_t)d, "layers",
                        (json_int_t)layers, "heads", (json_int_t)heads, "mlp", (json_int_t)mlp, "train", "lr", lr,
                        "weight_decay", wd, "schedule", sched_s, "epochs", (json_int_t)epochs, "batch", (json_int_t)batch,
                        "n_train", (json_int_t)ntr, "n_test", (json_int_t)nte, "seed", (json_int_t)seed, "metrics",
                        smx_train_metrics_json(&r), "time", "wall_s", r.wall_s, "train_s", r.train_s, "tokens_per_s", r.tokens_per_s,
                        "time_to_target_s", r.time_to_target_s, "threads", (json_int_t)(threads ? threads : hw.threads_used),
                        "hardware_id", hw.hardware_id, "revision", smx_build_revision(), "device", device_s);
  /* written only when given, so the line keeps its form without them */
  if (j && max_len_s) json_object_set_new(json_object_get(j, "model"), "max_len", json_integer(max_len));
  if (j && pool_s) json_object_set_new(json_object_get(j, "model"), "pool", json_string(pool_s));
  if (j && eval_s) json_object_set_new(j, "eval", json_string(eval_s));
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  if (!text) {
    json_decref(j);
    return cli_error("seqmix task train: cannot format the result");
  }
  printf("%s\n", text);
  free(text);
  json_decref(j);
  return 0;
}
