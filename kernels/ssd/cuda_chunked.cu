/* ssd variant `cuda.chunked`: Mamba-2's chunked algorithm on CUDA cores in fp32, forward and
 * backward, with the kernels of cuda_ssd.cuh (which describes them and their numerics). Chunk
 * length Q = min(chunk, L) up to 256 (the last chunk may be short); any P, N, G. RoPE on B and C is
 * applied inside the kernels' loads from cos/sin tables made once in create() (fp64, rounded to
 * fp32). The backward recomputes the chunk-entry states itself (it never relies on a forward call),
 * and every reduction runs in a fixed order: two runs give identical bits.
 *
 *   seqmix check --op ssd --variant cuda.chunked        (needs a GPU; skipped otherwise)
 *   seqmix bench --op ssd --variant cuda.chunked --suite quick
 *
 * Workspace (create()): delta, d delta / d dt (B H L floats each), the fp64 prefix sums (B H L
 * doubles), chunk states and state gradients (2 B H nc P N floats), g = dy silu(z) (B L H P floats,
 * gate = 1), per-head dB', dC' (2 B L H N floats, G < H), chunk partial sums (3 B H nc doubles) and
 * the RoPE tables (L N floats).
 */
#include <stdlib.h>

extern "C" {
#include "reference/ssd.h"
#include "seqmix/buffer.h"
}
#include "cuda_check.h"
#include "kernels/ssd/cuda_ssd.cuh"

namespace {

using smx_ssd::args;
using smx_ssd::cdiv;
using smx_ssd::NT;
using smx_ssd::QMAX;
using smx_ssd::TILE;

struct chunked_state {
  ssd_dims d;
  int Q, nc;
  float *cs, *sn, *delta, *ddelta, *st, *dst, *g, *dBh, *dCh;
  double *cum, *part;
  size_t bytes;
};

const char *unsupported(const smx_config *c) {
  ssd_dims d = smx_ssd_dims(c);
  int64_t Q = d.chunk < d.L ? d.chunk : d.L;
  return Q > QMAX ? "cuda.chunked: min(chunk, L) > 256 (a chunk's fp64 prefix sums and per-row arrays live in one "
                    "block's shared memory, one scan thread per row)"
                  : NULL;
}

void destroy(void *p) {
  chunked_state *s = (chunked_state *)p;
  if (!s) return;
  void *all[] = {s->cs, s->sn, s->delta, s->ddelta, s->st, s->dst, s->g, s->dBh, s->dCh, s->cum, s->part};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) cudaFree(all[i]);
  free(s);
}

template <typename T> smx_status take(chunked_state *s, T **p, size_t n) {
  SMX_CUDA_CHECK(cudaMalloc((void **)p, n * sizeof(T)));
  s->bytes += n * sizeof(T);
  return SMX_OK;
}

smx_status setup(chunked_state *s) {
  const ssd_dims &d = s->d;
  size_t rows = (size_t)(d.B * d.H * d.L), states = (size_t)(d.B * d.H * s->nc) * (size_t)(d.P * d.N);
  smx_status st = SMX_OK;
#define TAKE(ptr, n)                                                                                                   \
  do {                                                                                                                 \
    if (st == SMX_OK) st = take(s, &(ptr), (n));                                                                       \
  } while (0)
  TAKE(s->delta, rows);
  TAKE(s->ddelta, rows);
  TAKE(s->cum, rows);
  TAKE(s->st, states);
  TAKE(s->dst, states);
  TAKE(s->part, (size_t)(d.B * d.H * s->nc) * 3);
  if (d.gate) TAKE(s->g, (size_t)(d.B * d.L * d.H * d.P));
  if (d.H > d.G) {
    TAKE(s->dBh, (size_t)(d.B * d.L * d.H * d.N));
    TAKE(s->dCh, (size_t)(d.B * d.L * d.H * d.N));
  }
  if (d.rope) {
    size_t n = (size_t)(d.L * (d.N / 2));
    TAKE(s->cs, n);
    TAKE(s->sn, n);
    if (st != SMX_OK) return st;
    float *hc = (float *)smx_host_alloc(n * sizeof(float)), *hs = (float *)smx_host_alloc(n * sizeof(float));
    if (!hc || !hs) st = smx_fail(SMX_ERR_NOMEM, "cuda.chunked: cannot allocate the host RoPE tables");
    if (st == SMX_OK) {
      smx_ssd_rope_tables_f32(0, d.L, d.N, hc, hs);
      cudaError_t e = cudaMemcpy(s->cs, hc, n * sizeof(float), cudaMemcpyHostToDevice);
      if (e == cudaSuccess) e = cudaMemcpy(s->sn, hs, n * sizeof(float), cudaMemcpyHostToDevice);
      if (e != cudaSuccess) {
        (void)cudaGetLastError();
        st = smx_fail(smx_status_of(e), "cuda.chunked: uploading the RoPE tables failed: %s", cudaGetErrorString(e));
      }
    }
    smx_host_free(hc);
    smx_host_free(hs);
  }
#undef TAKE
  return st;
}

smx_status create(const smx_config *c, void **out) {
  *out = NULL;
  const char *why = unsupported(c);
  if (why) return smx_fail(SMX_ERR_UNSUPPORTED, "%s", why);
  chunked_state *s = (chunked_state *)calloc(1, sizeof *s);
  if (!s) return smx_fail(SMX_ERR_NOMEM, "cuda.chunked: cannot allocate state");
  s->d = smx_ssd_dims(c);
  s->Q = (int)(s->d.chunk < s->d.L ? s->d.chunk : s->d.L);
  s->nc = (int)((s->d.L + s->Q - 1) / s->Q);
  smx_status st = setup(s);
  if (st != SMX_OK) {
    destroy(s);
    return st;
  }
  *out = s;
  return SMX_OK;
}

size_t workspace_bytes(const void *p) { return ((const chunked_state *)p)->bytes; }

/* Launch sizes: the grids are 1-D; none exceeds 2^31 - 1 blocks within the op's size limits
 * (B L H P <= 2^31, B H P N <= 2^31). */
unsigned blocks(int64_t n) { return (unsigned)n; }

smx_status run(void *p, smx_pass pass, void *const *tv) {
  chunked_state *s = (chunked_state *)p;
  const ssd_dims &d = s->d;
  float *const *t = (float *const *)tv;
  args a = {};
  a.x = t[SSD_X];
  a.dt = t[SSD_DT];
  a.A = t[SSD_A];
  a.Bm = t[SSD_BM];
  a.Cm = t[SSD_CM];
  a.D = t[SSD_D];
  a.z = t[SSD_Z];
  a.dt_bias = t[SSD_DTBIAS];
  a.h0 = t[SSD_H0];
  a.cs = s->cs;
  a.sn = s->sn;
  a.delta = s->delta;
  a.cum = s->cum;
  a.st = s->st;
  a.B = (int)d.B;
  a.L = (int)d.L;
  a.H = (int)d.H;
  a.P = (int)d.P;
  a.G = (int)d.G;
  a.N = (int)d.N;
  a.Q = s->Q;
  a.nc = s->nc;
  a.hpg = (int)(d.H / d.G);
  a.rope = d.rope;
  a.gate = d.gate;
  a.init = d.init;
  a.softplus = d.softplus;
  const int64_t chunks = d.B * d.H * s->nc, npt = cdiv(a.P, TILE), nnt = cdiv(a.N, TILE), ntt = cdiv(a.Q, TILE);
  const int64_t PN = d.P * d.N, pass_blocks = d.B * d.H * ((PN + NT - 1) / NT);

  if (pass == SMX_FWD) {
    a.y = t[SSD_Y];
    a.hT = t[SSD_HT];
    smx_ssd::k_cumsum<<<blocks(chunks), NT>>>(a);
    SMX_CUDA_CHECK_LAUNCH();
    smx_ssd::k_chunk_state<false><<<blocks(chunks * npt * nnt), NT>>>(a);
    SMX_CUDA_CHECK_LAUNCH();
    smx_ssd::k_state_pass<false><<<blocks(pass_blocks), NT>>>(a);
    SMX_CUDA_CHECK_LAUNCH();
    smx_ssd::k_chunk_scan<false><<<blocks(chunks * ntt * npt), NT>>>(a);
    SMX_CUDA_CHECK_LAUNCH();
    return SMX_OK;
  }

  a.dy = t[SSD_DY];
  a.dhT = t[SSD_DHT];
  a.dx = t[SSD_DX];
  a.ddt = t[SSD_DDT];
  a.dA = t[SSD_DA];
  a.dBm = t[SSD_DBM];
  a.dCm = t[SSD_DCM];
  a.dD = t[SSD_DD];
  a.dz = t[SSD_DZ];
  a.ddt_bias = t[SSD_DDTBIAS];
  a.dh0 = t[SSD_DH0];
  a.ddelta = s->ddelta;
  a.dst = s->dst;
  a.g = s->g;
  a.part = s->part;
  /* one head per group: the per-head sums are the outputs themselves */
  a.dBh = d.H > d.G ? s->dBh : t[SSD_DBM];
  a.dCh = d.H > d.G ? s->dCh : t[SSD_DCM];
  a.hT = NULL; /* the entry states are what the backward needs */
  smx_ssd::k_cumsum<<<blocks(chunks), NT>>>(a);
  SMX_CUDA_CHECK_LAUNCH();
  smx_ssd::k_chunk_state<false><<<blocks(chunks * npt * nnt), NT>>>(a);
  SMX_CUDA_CHECK_LAUNCH();
  smx_ssd::k_state_pass<false><<<blocks(pass_blocks), NT>>>(a);
  SMX_CUDA_CHECK_LAUNCH();
  if (d.gate) {
    smx_ssd::k_chunk_scan<true><<<blocks(chunks * ntt * npt), NT>>>(a);
    SMX_CUDA_CHECK_LAUNCH();
  }
  smx_ssd::k_chunk_state<true><<<blocks(chunks * npt * nnt), NT>>>(a);
  SMX_CUDA_CHECK_LAUNCH();
  smx_ssd::k_state_pass<true><<<blocks(pass_blocks), NT>>>(a);
  SMX_CUDA_CHECK_LAUNCH();
  smx_ssd::k_bwd_chunk<<<blocks(chunks), NT>>>(a);
  SMX_CUDA_CHECK_LAUNCH();
  if (d.H > d.G || d.rope) {
    const int64_t n = d.B * d.L * d.G * (d.rope ? d.N / 2 : d.N);
    smx_ssd::k_dbc<<<blocks((n + NT - 1) / NT), NT>>>(a);
    SMX_CUDA_CHECK_LAUNCH();
  }
  smx_ssd::k_params<<<blocks((d.H + 127) / 128), 128>>>(a);
  SMX_CUDA_CHECK_LAUNCH();
  return SMX_OK;
}

} // namespace

extern "C" const smx_variant smx_ssd_cuda_chunked = {
    "cuda.chunked",
    "Mamba-2's chunked algorithm in fused fp32 CUDA kernels (chunk <= 256): fp64 decay prefix sums, RoPE in the "
    "B/C loads, deterministic backward",
    SMX_DEV_CUDA,
    0,
    SMX_PASS_BIT(SMX_FWD) | SMX_PASS_BIT(SMX_BWD),
    unsupported,
    create,
    destroy,
    workspace_bytes,
    run,
    SMX_F32,
};
