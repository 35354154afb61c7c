/* Sweep specs: the built-in presets, validation and expansion into run configs, and run configs
 * as training configurations (include/seqmix/sweep.h).
 *
 *   build/tests/seqmix_tests --filter sweep/'*'
 */
#include "seqmix/sweep.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The anchors' settings (reference/tasks.md §1.3-1.4, §2). Zoology's Figure 2: V = 8192, four
 * (L, N) points with their batch sizes, d in {64..512}, lr = logspace(-4, -2, 4), 64 epochs,
 * 100k/3k examples, cosine per epoch, weight decay 0.1, early stop above 0.99. safari's H3
 * synthetics: 2 layers, d = 32, MLP 4d, lr 5e-4, weight decay 0.1, batch 32, 5000/500 examples;
 * AR (V = 10, L = 20) 200 epochs with 10% linear warm-up then linear decay; induction head
 * (V = 20, L = 30) 400 epochs, cosine with 10% warm-up. Wonderful Matrices' MQAR figure (tasks.md
 * §1.7) gives only its grid (L in {256..2048} x d in {32..256}, N = L/8 as the issue fixes it,
 * attention, SSD with state 128, DMAttn; its Based line has no mixer here); vocabulary, examples,
 * epochs and learning rates are not published, so `paper-wm` takes Zoology's (V = 8192, 100k/3k,
 * 64 epochs, the same 4 learning rates, batch halving as L doubles: 65,536 tokens per step).
 * `quick` is sized for 2 CPU cores with `--jobs 2` (docs/sweeps.md says what was tried and why
 * these settings: V = 8192, d = 64, 2 epochs of 20k examples, lr {3e-3, 1e-2}, (L, N) = (32, 4)
 * and (48, 6), attention against ssd). `needle-grid` (docs/sweeps.md#needle-grid) trains passkey at
 * L = 64 with a uniform needle depth (in a trial, ssd at lr 1e-2 passed 0.99 test accuracy in the
 * second of these 3 epochs of 10k examples; attention with RoPE stayed near chance) and
 * evaluates every model at L = 64..512 x depth 0..100%; max_len 0 (RoPE attention, no learned
 * positions) so every length can be evaluated. `ruler-quick` trains each RULER-style task
 * (passkey, niah, vartrack, cwe, fwe) at L = 64 for the CPU: the quick accuracy per task and
 * mixer, scored also by exact match and RULER's string_match_all. needle-grid's model and budget
 * (no MLP, lr 1e-2, 3 epochs of 10k), with which ssd learns passkey there; in trials at L = 128
 * (lr 3e-3 or 1e-2) and with an MLP of 128 at L = 64, neither mixer passed chance on passkey. The LRA presets (docs/sweeps.md#lra) read the
 * class through the mean-pooling head; `lra-<task>-paper` is S4's recipe for that task
 * (reference/tasks.md §3.8: 6 layers, d = 256 (Image 512), AdamW with 10% warm-up and cosine decay,
 * weight decay 0.05, lr 0.01 (Pathfinder 0.004, Path-X 0.001), batch 32/16/64/50/64/16 and epochs
 * 40/32/20/200/200/50 for ListOps/Text/Retrieval/Image/Pathfinder/Path-X) on LRA's split sizes,
 * over attention (LRA's Transformer) and the causal sequence mixers; `lra-<task>-quick` is sized
 * for 2 CPU cores (2 layers, d = 64, shorter inputs, a few thousand examples). */
static const struct {
  const char *name, *summary, *json;
} presets[] = {
    {"quick", "MQAR for the CPU: V = 8192, (L, N) = (32, 4), (48, 6); attention and ssd; d = 64; two learning rates; 3 seeds",
     "{\"name\": \"quick\", \"task\": \"mqar\", \"points\": [\"V=8192,L=32,N=4\", \"V=8192,L=48,N=6\"], "
     "\"mixers\": [\"attention\", \"ssd\"], \"d\": [64], \"lr\": [0.003, 0.01], \"seeds\": [1, 2, 3], "
     "\"layers\": 2, \"heads\": 1, \"mlp\": 0, \"epochs\": 2, \"batch\": 64, \"n_train\": 20000, \"n_test\": 500, "
     "\"schedule\": \"cosine\", \"warmup\": 0, \"weight_decay\": 0.1, \"target\": 0.99}"},
    {"paper-zoology", "Zoology Figure 2: MQAR, V = 8192, (L, N) up to (512, 64), d = 64..512, 4 learning rates, 3 seeds",
     "{\"name\": \"paper-zoology\", \"task\": \"mqar\", \"points\": [{\"params\": \"V=8192,L=64,N=4\", \"batch\": 512}, "
     "{\"params\": \"V=8192,L=128,N=8\", \"batch\": 512}, {\"params\": \"V=8192,L=256,N=16\", \"batch\": 256}, "
     "{\"params\": \"V=8192,L=512,N=64\", \"batch\": 128}], \"mixers\": [\"attention\"], \"d\": [64, 128, 256, 512], "
     "\"lr\": [0.0001, 0.00046415888336127773, 0.0021544346900318843, 0.01], \"seeds\": [1, 2, 3], \"layers\": 2, "
     "\"heads\": 1, \"mlp\": 0, \"epochs\": 64, \"batch\": 512, \"n_train\": 100000, \"n_test\": 3000, "
     "\"schedule\": \"cosine\", \"warmup\": 0, \"weight_decay\": 0.1, \"target\": 0.99}"},
    {"paper-wm", "Wonderful Matrices MQAR grid: L = 256..2048, N = L/8, d = 32..256; attention, ssd (N = 128), dma; Zoology's settings",
     "{\"name\": \"paper-wm\", \"task\": \"mqar\", \"points\": [{\"params\": \"V=8192,L=256,N=32\", \"batch\": 256}, "
     "{\"params\": \"V=8192,L=512,N=64\", \"batch\": 128}, {\"params\": \"V=8192,L=1024,N=128\", \"batch\": 64}, "
     "{\"params\": \"V=8192,L=2048,N=256\", \"batch\": 32}], \"mixers\": [\"attention\", {\"mixer\": \"ssd\", "
     "\"options\": \"ssd.N=128\"}, \"dma\"], \"d\": [32, 64, 128, 256], "
     "\"lr\": [0.0001, 0.00046415888336127773, 0.0021544346900318843, 0.01], \"seeds\": [1, 2, 3], \"layers\": 2, "
     "\"heads\": 1, \"mlp\": 0, \"epochs\": 64, \"batch\": 256, \"n_train\": 100000, \"n_test\": 3000, "
     "\"schedule\": \"cosine\", \"warmup\": 0, \"weight_decay\": 0.1, \"target\": 0.99}"},
    {"paper-h3", "H3 Table 2: induction head (V = 20, L = 30) and associative recall (V = 10, L = 20), safari's recipe",
     "{\"name\": \"paper-h3\", \"task\": \"assoc_recall\", \"points\": [{\"task\": \"induction_head\", \"params\": "
     "\"V=20,L=30\", \"epochs\": 400, \"schedule\": \"warmup-cosine\"}, {\"task\": \"assoc_recall\", \"params\": "
     "\"V=10,L=20\", \"epochs\": 200, \"schedule\": \"warmup-linear\"}], \"mixers\": [\"attention\"], \"d\": [32], "
     "\"lr\": [0.0005], \"seeds\": [1, 2, 3], \"layers\": 2, \"heads\": 1, \"mlp\": 128, \"epochs\": 200, "
     "\"batch\": 32, \"n_train\": 5000, \"n_test\": 500, \"schedule\": \"warmup-linear\", \"warmup\": 0.1, "
     "\"weight_decay\": 0.1, \"target\": 1}"},
    {"rope-ssd", "Wonderful Matrices' RoPE in SSD: byte-level LM on ci/corpus.sh's text, attention+ssd hybrid without positions, RoPE on q/k, RoPE on q/k and C/B; L = 128, 512; 5 seeds",
     "{\"name\": \"rope-ssd\", \"task\": \"bytes\", \"points\": [{\"params\": \"L=128\", \"batch\": 32, \"n_train\": 3500, "
     "\"n_test\": 200}, {\"params\": \"L=512\", \"batch\": 8, \"n_train\": 875, \"n_test\": 50}], \"mixers\": "
     "[{\"mixer\": \"attention,ssd\", \"options\": \"ssd.rope=0\"}, {\"mixer\": \"attention,ssd\", \"options\": "
     "\"attention.rope=1,ssd.rope=0\"}, {\"mixer\": \"attention,ssd\", \"options\": \"attention.rope=1,ssd.rope=1\"}], "
     "\"d\": [64], \"lr\": [0.003], \"seeds\": [1, 2, 3, 4, 5], \"layers\": 4, \"heads\": 2, \"mlp\": 128, \"epochs\": 4, "
     "\"batch\": 32, \"n_train\": 3500, \"n_test\": 200, \"schedule\": \"warmup-cosine\", \"warmup\": 0.1, \"weight_decay\": 0.1, "
     "\"target\": 1}"},
    {"needle-grid", "passkey trained at L = 64 (uniform depth), evaluated at L = 64..512 x depth 0..100%; attention (RoPE), ssd, attention+ssd; 2 seeds; CPU-sized",
     "{\"name\": \"needle-grid\", \"task\": \"passkey\", \"points\": [\"L=64,depth=-1,D=5\"], \"mixers\": "
     "[{\"mixer\": \"attention\", \"options\": \"attention.rope=1\"}, \"ssd\", {\"mixer\": \"attention,ssd\", "
     "\"options\": \"attention.rope=1\"}], \"d\": [64], \"lr\": [0.01], \"seeds\": [1, 2], \"layers\": 2, "
     "\"heads\": 1, \"mlp\": 0, \"epochs\": 3, \"batch\": 32, \"n_train\": 10000, \"n_test\": 200, "
     "\"schedule\": \"cosine\", \"warmup\": 0, \"weight_decay\": 0.1, \"target\": 1, \"max_len\": 0, \"evals\": ["
     "\"L=64,depth=0\", \"L=64,depth=25\", \"L=64,depth=50\", \"L=64,depth=75\", \"L=64,depth=100\", "
     "\"L=128,depth=0\", \"L=128,depth=25\", \"L=128,depth=50\", \"L=128,depth=75\", \"L=128,depth=100\", "
     "\"L=256,depth=0\", \"L=256,depth=25\", \"L=256,depth=50\", \"L=256,depth=75\", \"L=256,depth=100\", "
     "\"L=512,depth=0\", \"L=512,depth=25\", \"L=512,depth=50\", \"L=512,depth=75\", \"L=512,depth=100\""
     "]}"},
    {"ruler-quick", "the RULER-style tasks for the CPU at L = 64: passkey, niah (2 keys), vartrack (2 hops), cwe, fwe; attention, ssd; d = 64; 2 seeds",
     "{\"name\": \"ruler-quick\", \"task\": \"passkey\", \"points\": [{\"task\": \"passkey\", \"params\": \"L=64,depth=-1,D=5\"}, "
     "{\"task\": \"niah\", \"params\": \"L=64,K=2,Q=1,vlen=4,keys=64\"}, {\"task\": \"vartrack\", \"params\": "
     "\"L=64,hops=2,names=64\"}, {\"task\": \"cwe\", \"params\": \"L=64,cw=4,vocab=256\"}, {\"task\": \"fwe\", "
     "\"params\": \"L=64,vocab=200\"}], \"mixers\": [\"attention\", \"ssd\"], \"d\": [64], \"lr\": [0.01], "
     "\"seeds\": [1, 2], \"layers\": 2, \"heads\": 1, \"mlp\": 0, \"epochs\": 3, \"batch\": 32, \"n_train\": 10000, "
     "\"n_test\": 200, \"schedule\": \"cosine\", \"warmup\": 0, \"weight_decay\": 0.1, \"target\": 1}"},
    {"lra-listops-quick", "ListOps for the CPU: trees of 31-119 tokens, 10k examples, 3 epochs; attention, ssd, h3, conba; d = 64, mean pool; 2 seeds",
     "{\"name\": \"lra-listops-quick\", \"task\": \"listops\", \"points\": [\"min_len=30,max_len=120\"], "
     "\"mixers\": [\"attention\", \"ssd\", \"h3\", \"conba\"], \"d\": [64], \"lr\": [0.003], \"seeds\": [1, 2], "
     "\"layers\": 2, \"heads\": 1, \"mlp\": 128, \"epochs\": 3, \"batch\": 32, \"n_train\": 10000, \"n_test\": 500, "
     "\"schedule\": \"cosine\", \"warmup\": 0, \"weight_decay\": 0.1, \"target\": 1, \"pool\": \"mean\"}"},
    {"lra-pathfinder-quick", "Pathfinder 32x32, easy (contour 6), for the CPU: 4k images, 2 epochs; attention, ssd, h3, conba; d = 64, mean pool; 2 seeds",
     "{\"name\": \"lra-pathfinder-quick\", \"task\": \"pathfinder\", \"points\": [\"size=32,contour=6\"], "
     "\"mixers\": [\"attention\", \"ssd\", \"h3\", \"conba\"], \"d\": [64], \"lr\": [0.003], \"seeds\": [1, 2], "
     "\"layers\": 2, \"heads\": 1, \"mlp\": 128, \"epochs\": 2, \"batch\": 32, \"n_train\": 4000, \"n_test\": 400, "
     "\"schedule\": \"cosine\", \"warmup\": 0, \"weight_decay\": 0.1, \"target\": 1, \"pool\": \"mean\"}"},
    {"lra-text-quick", "LRA Text (your aclImdb copy) for the CPU: 512 bytes, 5k reviews, 3 epochs; attention, ssd, h3, conba; d = 64, mean pool; 2 seeds",
     "{\"name\": \"lra-text-quick\", \"task\": \"lra_text\", \"points\": [\"L=512\"], \"mixers\": [\"attention\", \"ssd\", "
     "\"h3\", \"conba\"], \"d\": [64], \"lr\": [0.003], \"seeds\": [1, 2], \"layers\": 2, \"heads\": 1, \"mlp\": 128, "
     "\"epochs\": 3, \"batch\": 32, \"n_train\": 5000, \"n_test\": 1000, \"schedule\": \"cosine\", \"warmup\": 0, "
     "\"weight_decay\": 0.1, \"target\": 1, \"pool\": \"mean\"}"},
    {"lra-retrieval-quick", "LRA Retrieval (your AAN copy) for the CPU: 256 bytes per document, 5k pairs, 3 epochs; attention, ssd, h3, conba; d = 64, mean pool; 2 seeds",
     "{\"name\": \"lra-retrieval-quick\", \"task\": \"lra_retrieval\", \"points\": [\"L=256\"], "
     "\"mixers\": [\"attention\", \"ssd\", \"h3\", \"conba\"], \"d\": [64], \"lr\": [0.003], \"seeds\": [1, 2], "
     "\"layers\": 2, \"heads\": 1, \"mlp\": 128, \"epochs\": 3, \"batch\": 32, \"n_train\": 5000, \"n_test\": 1000, "
     "\"schedule\": \"cosine\", \"warmup\": 0, \"weight_decay\": 0.1, \"target\": 1, \"pool\": \"mean\"}"},
    {"lra-image-quick", "LRA Image (your CIFAR-10 copy) for the CPU: 10k images, 3 epochs; attention, ssd, h3, conba; d = 64, mean pool; 2 seeds",
     "{\"name\": \"lra-image-quick\", \"task\": \"lra_image\", \"points\": [\"val=0\"], \"mixers\": [\"attention\", "
     "\"ssd\", \"h3\", \"conba\"], \"d\": [64], \"lr\": [0.003], \"seeds\": [1, 2], \"layers\": 2, \"heads\": 1, "
     "\"mlp\": 128, \"epochs\": 3, \"batch\": 32, \"n_train\": 10000, \"n_test\": 1000, \"schedule\": \"cosine\", "
     "\"warmup\": 0, \"weight_decay\": 0.1, \"target\": 1, \"pool\": \"mean\"}"},
    {"lra-listops-paper", "ListOps, LRA's data (96k/2k, 500-2000 tokens) with S4's recipe: 6 layers, d = 256, lr 0.01, batch 32, 40 epochs; 5 mixers; 3 seeds",
     "{\"name\": \"lra-listops-paper\", \"task\": \"listops\", \"points\": [\"min_len=500,max_len=2000\"], "
     "\"mixers\": [\"attention\", \"ssd\", \"h3\", \"conba\", \"m2\"], \"d\": [256], \"lr\": [0.01], \"seeds\": [1, 2, 3], "
     "\"layers\": 6, \"heads\": 4, \"mlp\": 512, \"epochs\": 40, \"batch\": 32, \"n_train\": 96000, \"n_test\": 2000, "
     "\"schedule\": \"warmup-cosine\", \"warmup\": 0.1, \"weight_decay\": 0.05, \"target\": 1, \"pool\": \"mean\"}"},
    {"lra-text-paper", "LRA Text at 4K bytes (25k/25k) with S4's recipe: 6 layers, d = 256, lr 0.01, batch 16, 32 epochs; 5 mixers; 3 seeds",
     "{\"name\": \"lra-text-paper\", \"task\": \"lra_text\", \"points\": [\"L=4000\"], \"mixers\": [\"attention\", \"ssd\", "
     "\"h3\", \"conba\", \"m2\"], \"d\": [256], \"lr\": [0.01], \"seeds\": [1, 2, 3], \"layers\": 6, \"heads\": 4, "
     "\"mlp\": 512, \"epochs\": 32, \"batch\": 16, \"n_train\": 25000, \"n_test\": 25000, "
     "\"schedule\": \"warmup-cosine\", \"warmup\": 0.1, \"weight_decay\": 0.05, \"target\": 1, \"pool\": \"mean\"}"},
    {"lra-retrieval-paper", "LRA Retrieval, 2 x 4K bytes (147,086/17,437 pairs) with S4's recipe: 6 layers, d = 256, lr 0.01, batch 64, 20 epochs; 5 mixers; 3 seeds",
     "{\"name\": \"lra-retrieval-paper\", \"task\": \"lra_retrieval\", \"points\": [\"L=4000\"], "
     "\"mixers\": [\"attention\", \"ssd\", \"h3\", \"conba\", \"m2\"], \"d\": [256], \"lr\": [0.01], \"seeds\": [1, 2, 3], "
     "\"layers\": 6, \"heads\": 4, \"mlp\": 512, \"epochs\": 20, \"batch\": 64, \"n_train\": 147086, \"n_test\": 17437, "
     "\"schedule\": \"warmup-cosine\", \"warmup\": 0.1, \"weight_decay\": 0.05, \"target\": 1, \"pool\": \"mean\"}"},
    {"lra-image-paper", "LRA Image (45k/10k) with S4's recipe: 6 layers, d = 512, lr 0.01, batch 50, 200 epochs; 5 mixers; 3 seeds",
     "{\"name\": \"lra-image-paper\", \"task\": \"lra_image\", \"points\": [\"val=0\"], \"mixers\": [\"attention\", "
     "\"ssd\", \"h3\", \"conba\", \"m2\"], \"d\": [512], \"lr\": [0.01], \"seeds\": [1, 2, 3], \"layers\": 6, \"heads\": 4, "
     "\"mlp\": 1024, \"epochs\": 200, \"batch\": 50, \"n_train\": 45000, \"n_test\": 10000, "
     "\"schedule\": \"warmup-cosine\", \"warmup\": 0.1, \"weight_decay\": 0.05, \"target\": 1, \"pool\": \"mean\"}"},
    {"lra-pathfinder-paper", "Pathfinder 32x32, hard (contour 14; 160k/20k) with S4's recipe: 6 layers, d = 256, lr 0.004, batch 64, 200 epochs; 5 mixers; 3 seeds",
     "{\"name\": \"lra-pathfinder-paper\", \"task\": \"pathfinder\", \"points\": [\"size=32,contour=14\"], "
     "\"mixers\": [\"attention\", \"ssd\", \"h3\", \"conba\", \"m2\"], \"d\": [256], \"lr\": [0.004], \"seeds\": [1, 2, 3], "
     "\"layers\": 6, \"heads\": 4, \"mlp\": 512, \"epochs\": 200, \"batch\": 64, \"n_train\": 160000, "
     "\"n_test\": 20000, \"schedule\": \"warmup-cosine\", \"warmup\": 0.1, \"weight_decay\": 0.05, \"target\": 1, "
     "\"pool\": \"mean\"}"},
    {"lra-pathx-paper", "Path-X 128x128 (160k/20k) with S4's recipe: 6 layers, d = 256, lr 0.001, batch 16, 50 epochs; 5 mixers; 3 seeds",
     "{\"name\": \"lra-pathx-paper\", \"task\": \"pathx\", \"points\": [\"contour=14\"], \"mixers\": [\"attention\", "
     "\"ssd\", \"h3\", \"conba\", \"m2\"], \"d\": [256], \"lr\": [0.001], \"seeds\": [1, 2, 3], \"layers\": 6, "
     "\"heads\": 4, \"mlp\": 512, \"epochs\": 50, \"batch\": 16, \"n_train\": 160000, \"n_test\": 20000, "
     "\"schedule\": \"warmup-cosine\", \"warmup\": 0.1, \"weight_decay\": 0.05, \"target\": 1, \"pool\": \"mean\"}"},
};

int smx_sweep_preset_count(void) { return (int)(sizeof presets / sizeof presets[0]); }
const char *smx_sweep_preset_name(int i) { return i >= 0 && i < smx_sweep_preset_count() ? presets[i].name : NULL; }
const char *smx_sweep_preset_summary(int i) { return i >= 0 && i < smx_sweep_preset_count() ? presets[i].summary : NULL; }

smx_status smx_sweep_preset(const char *name, json_t **spec) {
  *spec = NULL;
  for (int i = 0; i < smx_sweep_preset_count(); i++)
    if (!strcmp(name, presets[i].name)) {
      json_error_t err;
      *spec = json_loads(presets[i].json, 0, &err);
      if (!*spec) return smx_fail(SMX_ERR_INVALID, "preset %s does not parse: %s", name, err.text);
      return SMX_OK;
    }
  char names[512];
  size_t o = 0;
  names[0] = 0;
  for (int i = 0; i < smx_sweep_preset_count() && o < sizeof names; i++)
    o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "", presets[i].name);
  return smx_fail(SMX_ERR_INVALID, "unknown sweep preset '%s' (presets: %s)", name, names);
}

/* Keys a spec may hold; `points` entries may override the per-run ones marked 1. */
static const struct {
  const char *key;
  int per_point;
} spec_keys[] = {{"name", 0},   {"task", 1},   {"points", 0},  {"mixers", 0},   {"d", 0},       {"lr", 0},
                 {"seeds", 0},  {"layers", 1}, {"heads", 1},   {"mlp", 1},      {"epochs", 1},  {"batch", 1},
                 {"n_train", 1}, {"n_test", 1}, {"schedule", 1}, {"warmup", 1}, {"weight_decay", 1}, {"target", 1},
                 {"channel", 1}, {"options", 1}, {"params", 2}, {"evals", 1}, {"max_len", 1}, {"pool", 1}};

static smx_status check_keys(const json_t *obj, int point) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    int ok = 0;
    for (size_t i = 0; i < sizeof spec_keys / sizeof spec_keys[0] && !ok; i++)
      ok = !strcmp(k, spec_keys[i].key) && (point ? spec_keys[i].per_point != 0 : spec_keys[i].per_point != 2);
    if (!ok) return smx_fail(SMX_ERR_INVALID, "sweep spec: unknown key '%s'%s", k, point ? " in a point" : "");
  }
  return SMX_OK;
}

static smx_status nonempty_array(const json_t *spec, const char *key, json_t **out) {
  *out = json_object_get(spec, key);
  if (!json_is_array(*out) || json_array_size(*out) == 0)
    return smx_fail(SMX_ERR_INVALID, "sweep spec: '%s' must be a non-empty list", key);
  return SMX_OK;
}

/* The value of a per-run setting: the point's, else the spec's. */
static json_t *setting(const json_t *spec, const json_t *point, const char *key) {
  json_t *v = json_is_object(point) ? json_object_get(point, key) : NULL;
  return v ? v : json_object_get(spec, key);
}

smx_status smx_sweep_expand(const json_t *spec, json_t **runs) {
  *runs = NULL;
  if (!json_is_object(spec)) return smx_fail(SMX_ERR_INVALID, "sweep spec: not a JSON object");
  smx_status s = check_keys(spec, 0);
  if (s != SMX_OK) return s;
  json_t *points, *mixers, *ds, *lrs, *seeds;
  if ((s = nonempty_array(spec, "points", &points)) != SMX_OK || (s = nonempty_array(spec, "mixers", &mixers)) != SMX_OK ||
      (s = nonempty_array(spec, "d", &ds)) != SMX_OK || (s = nonempty_array(spec, "lr", &lrs)) != SMX_OK ||
      (s = nonempty_array(spec, "seeds", &seeds)) != SMX_OK)
    return s;
  json_t *out = json_array();
  size_t pi, mi, di, li, si;
  json_t *p, *m, *d, *lr, *seed;
  json_array_foreach(points, pi, p) {
    if (!json_is_string(p) && !(json_is_object(p) && json_is_string(json_object_get(p, "params")))) {
      json_decref(out);
      return smx_fail(SMX_ERR_INVALID, "sweep spec: point %zu must be a parameter string or an object with \"params\"", pi + 1);
    }
    if (json_is_object(p) && (s = check_keys(p, 1)) != SMX_OK) {
      json_decref(out);
      return s;
    }
    json_array_foreach(mixers, mi, m) json_array_foreach(ds, di, d) json_array_foreach(lrs, li, lr)
        json_array_foreach(seeds, si, seed) {
      json_t *run = json_object();
      json_object_set_new(run, "params", json_string(json_is_string(p) ? json_string_value(p)
                                                                         : json_string_value(json_object_get(p, "params"))));
      if (json_is_object(m)) { /* {"mixer": "attention,conba*7", "channel": "none,moe", "options": "moe.E=8"} */
        const char *mk;
        json_t *mv;
        json_object_foreach(m, mk, mv) {
          if ((strcmp(mk, "mixer") && strcmp(mk, "channel") && strcmp(mk, "options")) || !json_is_string(mv)) {
            json_decref(run);
            json_decref(out);
            return smx_fail(SMX_ERR_INVALID, "sweep spec: a mixers entry object holds only the strings mixer, channel and options ('%s')", mk);
          }
          json_object_set(run, mk, mv);
        }
      } else {
        json_object_set(run, "mixer", m);
      }
      json_object_set(run, "d", d);
      json_object_set(run, "lr", lr);
      json_object_set(run, "seed", seed);
      static const char *const per_run[] = {"task",  "layers", "heads",    "mlp",    "epochs",       "batch",
                                            "n_train", "n_test", "schedule", "warmup", "weight_decay", "target"};
      for (size_t k = 0; k < sizeof per_run / sizeof per_run[0]; k++) {
        json_t *v = setting(spec, p, per_run[k]);
        if (!v) {
          json_decref(run);
          json_decref(out);
          return smx_fail(SMX_ERR_INVALID, "sweep spec: '%s' is missing", per_run[k]);
        }
        json_object_set(run, per_run[k], v);
      }
      /* optional: written only when set, so configs without them keep their identity (resume) */
      static const char *const optional[] = {"channel", "options", "evals", "max_len", "pool"};
      for (size_t k = 0; k < sizeof optional / sizeof optional[0]; k++) {
        json_t *v = setting(spec, p, optional[k]);
        if (v && !json_object_get(run, optional[k])) json_object_set(run, optional[k], v);
      }
      smx_train_config c;
      if ((s = smx_sweep_train_config(run, &c)) != SMX_OK) {
        json_decref(run);
        json_decref(out);
        return s;
      }
      json_array_append_new(out, run);
    }
  }
  *runs = out;
  return SMX_OK;
}

static smx_status get_int(const json_t *run, const char *key, int64_t lo, int64_t hi, int64_t *out) {
  json_t *v = json_object_get(run, key);
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return smx_fail(SMX_ERR_INVALID, "sweep run: '%s' must be an integer in %lld..%lld", key, (long long)lo, (long long)hi);
  *out = json_integer_value(v);
  return SMX_OK;
}

static smx_status get_real(const json_t *run, const char *key, double lo, double hi, double *out) {
  json_t *v = json_object_get(run, key);
  if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
    return smx_fail(SMX_ERR_INVALID, "sweep run: '%s' must be a number in %g..%g", key, lo, hi);
  *out = json_number_value(v);
  return SMX_OK;
}

/* "evals": ["L=512,depth=0", ...], each overriding the run's task parameters, into this thread's
 * buffer (sweep.h: valid until the thread's next call). */
static smx_status run_evals(const json_t *run, smx_train_config *c) {
  static _Thread_local smx_task_config buf[SMX_TRAIN_MAX_EVALS];
  json_t *ev = json_object_get(run, "evals"), *v;
  if (!ev) return SMX_OK;
  if (!json_is_array(ev) || json_array_size(ev) == 0 || json_array_size(ev) > SMX_TRAIN_MAX_EVALS)
    return smx_fail(SMX_ERR_INVALID, "sweep run: 'evals' must be a list of 1..%d parameter strings", SMX_TRAIN_MAX_EVALS);
  size_t i;
  json_array_foreach(ev, i, v) {
    if (!json_is_string(v)) return smx_fail(SMX_ERR_INVALID, "sweep run: evals entry %zu is not a parameter string", i + 1);
    smx_status s = smx_train_eval_parse(&c->task, json_string_value(v), &buf[i]);
    if (s != SMX_OK) return s;
  }
  c->evals = buf, c->n_evals = (int)json_array_size(ev);
  return SMX_OK;
}

smx_status smx_sweep_train_config(const json_t *run, smx_train_config *c) {
  smx_train_defaults(c);
  const char *task = json_string_value(json_object_get(run, "task")), *params = json_string_value(json_object_get(run, "params"));
  const char *mixer = json_string_value(json_object_get(run, "mixer")), *sched = json_string_value(json_object_get(run, "schedule"));
  if (!task || !params || !mixer || !sched) return smx_fail(SMX_ERR_INVALID, "sweep run: task, params, mixer and schedule must be strings");
  const smx_task *t;
  smx_status s = smx_task_lookup(task, &t);
  if (s != SMX_OK) return s;
  if ((s = smx_task_config_parse(t, params, &c->task)) != SMX_OK) return s;
  json_t *chan = json_object_get(run, "channel"), *opts = json_object_get(run, "options");
  if ((chan && !json_is_string(chan)) || (opts && !json_is_string(opts)))
    return smx_fail(SMX_ERR_INVALID, "sweep run: channel and options must be strings");
  if (strlen(mixer) >= sizeof c->model.mixer || (chan && strlen(json_string_value(chan)) >= sizeof c->model.channel) ||
      (opts && strlen(json_string_value(opts)) >= sizeof c->model.options))
    return smx_fail(SMX_ERR_INVALID, "sweep run: mixer, channel or options string is too long");
  if ((s = smx_lr_schedule_parse(sched, &c->schedule)) != SMX_OK) return s;
  int64_t d = 0, layers = 0, heads = 0, mlp = 0, epochs = 0, batch = 0, ntr = 0, nte = 0, seed = 0;
  double lr = 0, warm = 0, wd = 0, target = 0;
  if ((s = get_int(run, "d", 1, 8192, &d)) || (s = get_int(run, "layers", 1, 64, &layers)) ||
      (s = get_int(run, "heads", 1, 8192, &heads)) || (s = get_int(run, "mlp", 0, 65536, &mlp)) ||
      (s = get_int(run, "epochs", 1, SMX_TRAIN_MAX_EPOCHS, &epochs)) || (s = get_int(run, "batch", 1, 65536, &batch)) ||
      (s = get_int(run, "n_train", 1, 1 << 24, &ntr)) || (s = get_int(run, "n_test", 1, 1 << 24, &nte)) ||
      (s = get_int(run, "seed", 0, INT64_MAX, &seed)) || (s = get_real(run, "lr", 1e-9, 10, &lr)) ||
      (s = get_real(run, "warmup", 0, 0.99, &warm)) || (s = get_real(run, "weight_decay", 0, 10, &wd)) ||
      (s = get_real(run, "target", 0, 1, &target)))
    return s;
  if (d % heads) return smx_fail(SMX_ERR_INVALID, "sweep run: heads %lld must divide d = %lld", (long long)heads, (long long)d);
  c->model.d = d, c->model.layers = layers, c->model.heads = heads;
  snprintf(c->model.mixer, sizeof c->model.mixer, "%s", mixer);
  snprintf(c->model.channel, sizeof c->model.channel, "%s", chan ? json_string_value(chan) : mlp ? "mlp" : "none");
  snprintf(c->model.options, sizeof c->model.options, "%s", opts ? json_string_value(opts) : "");
  c->model.d_ff = mlp ? mlp : 4 * d;
  if ((s = smx_model_pattern_check(c->model.mixer, 0, layers)) != SMX_OK ||
      (s = smx_model_pattern_check(c->model.channel, 1, layers)) != SMX_OK || (s = smx_model_options_check(c->model.options)) != SMX_OK)
    return s;
  c->epochs = epochs, c->batch = batch, c->n_train = ntr, c->n_test = nte, c->seed = (uint64_t)seed;
  c->lr = (float)lr, c->warmup = warm, c->weight_decay = (float)wd, c->target_acc = target >= 1 ? 2 : target;
  json_t *ml = json_object_get(run, "max_len");
  if (ml && (s = get_int(run, "max_len", 0, 16777216, &c->model.max_len)) != SMX_OK) return s;
  json_t *pool = json_object_get(run, "pool");
  if (pool && !json_is_string(pool)) return smx_fail(SMX_ERR_INVALID, "sweep run: 'pool' must be a string (none, mean)");
  if (pool && (s = smx_model_pool_parse(json_string_value(pool), &c->model.pool)) != SMX_OK) return s;
  return run_evals(run, c);
}
