#!/usr/bin/env python3
"""PyTorch peers timed beside a seqmix benchmark run: the same ops, at the same shapes, on the same device.

    python3 bench/peers/torch_peers.py --self-test               # the peers against direct sums, then exit
    python3 bench/peers/torch_peers.py RUN_DIR [--device cuda|cpu] [--ops fftconv,monarch,attention]
                                       [--repetitions N] [--min-time S]

RUN_DIR holds the bench.json that `seqmix bench` or `seqmix suite` wrote. For every shape of the chosen ops
that run measured on the chosen device, this times the PyTorch formulation of the op and writes
RUN_DIR/peers.json (atomically), which `seqmix report`, `seqmix plot` and `seqmix compare` read beside
bench.json: the peer rows join the tables and figures (as "torch.fft (peer)"), the speedup figures gain
"variant vs peer" series, and claims 1 and 2 are judged from them (docs/peers.md).

The peers (docs/peers.md says why each is the fair yardstick):
  fftconv/torch.fft  H3's fftconv_ref: rfft of the rows zero-padded to 2L, product with rfft(k), irfft,
                     + D*v and GELU; FlashFFTConv's pre/post gates around it when the shape has gates=1.
  monarch/torch.bmm  M2's fast Monarch multiply (BlockdiagButterflyMultiply of HazyResearch/fly and m2):
                     two torch.bmm over the blocks with the transposes between them.
Backward passes are torch.autograd over the same graph (the forward is recorded once and its graph kept,
so the time is the backward alone, like seqmix's bwd pass).

Every shape is validated before it is timed: the fp32 peer against the same formula in fp64 on the same
device, at the shape's L or n on a slice of its batch (tolerances in TOL below); --self-test first checks the fp64 formulas themselves against direct
sums written from docs/ops/fftconv.md and docs/ops/monarch.md. Timing follows seqmix's runner: each call
timed alone (CUDA events, L2 flushed with a write of twice its size, launch gaps hidden behind a GPU
spin where torch has one; perf_counter on the CPU), repetitions of enough calls to fill --min-time,
the median of the repetitions' means. FLOP and byte counts are copied from the seqmix rows, so rates
compare across seqmix variants and peers.
"""
import argparse
import datetime
import json
import math
import os
import sys
import time

# Largest relative error, max|peer - fp64| / max|fp64|, allowed per output. fp32 FFTs of size N round at
# about eps*log2(N) (< 3e-6 up to N = 2^21); the bound leaves 30x for the gates and the GELU. The Monarch
# sums are p- then k-term dot products of fp32 (at most 2*128 terms at n = 16384).
TOL = {
    "fftconv": {"y": 1e-4, "du": 1e-4, "dk": 1e-4, "dD": 1e-4, "dpre": 1e-4, "dpost": 1e-4},
    "monarch": {"y": 1e-4, "dx": 1e-4, "dR": 1e-4, "dL": 1e-4},
    # softmax rows of up to L terms in fp32; the backward's dS sums cancel (docs/ops/attention.md)
    "attention": {"y": 1e-4, "dq": 1e-3, "dk": 1e-3, "dv": 1e-4},
}
# bf16 storage (eps 2^-8): a sanity bound on the peer, not a tolerance seqmix's variants meet
TOL_BF16 = 5e-2
SELF_TEST_TOL = 1e-10  # fp64 formulas against fp64 direct sums


def fail(msg):
    print(f"torch_peers: {msg}", file=sys.stderr)
    sys.exit(2)


try:
    import torch
    import torch.nn.functional as F
except ImportError:
    fail("PyTorch is not installed here (pip install torch); no peers measured")


# ---------------------------------------------------------------------------------------------------------
# The ops, as PyTorch computes them


def fftconv_torch(u, k, D, pre, post, gelu):
    """H3's fftconv_ref (rfft/irfft at N = 2L, D skip, GELU) inside FlashFFTConv's gates."""
    L = u.shape[-1]
    n = 2 * L
    v = u * pre if pre is not None else u
    k_f = torch.fft.rfft(k, n=n)
    v_f = torch.fft.rfft(v, n=n)
    z = torch.fft.irfft(v_f * k_f, n=n)[..., :L] + v * D.unsqueeze(-1)
    a = F.gelu(z) if gelu else z
    return a * post if post is not None else a


def monarch_torch(x, R, Lf):
    """y = P L P^T R x as M2's two batched matmuls: R (k, p, p) on x's k chunks of p, the transpose, then
    L (p, k, k) on the l-th entry of every chunk, read out transposed (docs/ops/monarch.md)."""
    B, n = x.shape
    k, p = R.shape[0], R.shape[1]
    h = torch.bmm(x.reshape(B, k, p).transpose(0, 1), R.transpose(-1, -2))  # (k, B, p): h[r, b, l]
    h = h.permute(2, 1, 0)  # (p, B, k): h[l, b, r]
    y = torch.bmm(h, Lf.transpose(-1, -2))  # (p, B, k): y[l, b, s]
    return y.permute(1, 2, 0).reshape(B, n)  # y[b, s p + l]


def attention_torch(q, k, v):
    """Causal softmax attention with grouped-query heads through torch SDPA: q (B, L, H, P), k and v
    (B, L, Hkv, P), query head h reading KV head h // (H / Hkv) (SDPA's enable_gqa, seqmix's convention)."""
    H, Hkv = q.shape[2], k.shape[2]
    o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True,
                                       enable_gqa=H != Hkv)
    return o.transpose(1, 2)


def monarch_blocks(n, p):
    """seqmix's factorization: p = 0 picks the largest divisor of n not above sqrt(n)."""
    if p == 0:
        p = max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)
    if n % p:
        raise ValueError(f"monarch p = {p} must divide n = {n}")
    return n // p, p


# ---------------------------------------------------------------------------------------------------------
# Inputs and the per-op cases


class Case:
    """One (op, shape): inputs, the peer's forward, and the names of what the backward produces."""

    def __init__(self, op, params, device, dtype, gen):
        self.op = op
        if op == "fftconv":
            B, H, L = params["B"], params["H"], params["L"]
            gates, self.gelu = params.get("gates", 0), params.get("gelu", 0)
            r = lambda *s, scale=1.0: (torch.randn(*s, generator=gen, dtype=torch.float64) * scale).to(device, dtype)
            self.inputs = {"u": r(B, H, L), "k": r(H, L, scale=1 / math.sqrt(L)), "D": r(H)}
            if gates:
                self.inputs["pre"] = r(B, H, L)
                self.inputs["post"] = r(B, H, L)
            self.grad_names = {"u": "du", "k": "dk", "D": "dD", "pre": "dpre", "post": "dpost"}
            self.out_shape = (B, H, L)
        elif op == "monarch":
            B, n = params["B"], params["n"]
            k, p = monarch_blocks(n, params.get("p", 0))
            r = lambda *s, scale=1.0: (torch.randn(*s, generator=gen, dtype=torch.float64) * scale).to(device, dtype)
            self.inputs = {"x": r(B, n), "R": r(k, p, p, scale=1 / math.sqrt(p)), "L": r(p, k, k, scale=1 / math.sqrt(k))}
            self.grad_names = {"x": "dx", "R": "dR", "L": "dL"}
            self.out_shape = (B, n)
        elif op == "attention":
            B, L, H, Hkv, P = params["B"], params["L"], params["H"], params["Hkv"], params["P"]
            r = lambda *s: torch.randn(*s, generator=gen, dtype=torch.float64).to(device, dtype)
            self.inputs = {"q": r(B, L, H, P), "k": r(B, L, Hkv, P), "v": r(B, L, Hkv, P)}
            self.grad_names = {"q": "dq", "k": "dk", "v": "dv"}
            self.out_shape = (B, L, H, P)
        else:
            raise ValueError(op)

    def forward(self):
        i = self.inputs
        if self.op == "fftconv":
            return fftconv_torch(i["u"], i["k"], i["D"], i.get("pre"), i.get("post"), self.gelu)
        if self.op == "attention":
            return attention_torch(i["q"], i["k"], i["v"])
        return monarch_torch(i["x"], i["R"], i["L"])

    def cast(self, dtype):
        c = Case.__new__(Case)
        c.__dict__.update(self.__dict__)
        c.inputs = {k: v.detach().to(dtype) for k, v in self.inputs.items()}
        return c


def outputs(case, dy):
    """The forward's y and the backward's gradients (named as seqmix names its tensors)."""
    for t in case.inputs.values():
        t.requires_grad_(True)
    y = case.forward()
    names = list(case.inputs)
    grads = torch.autograd.grad(y, [case.inputs[k] for k in names], dy.to(y.dtype))
    out = {"y": y.detach()}
    out.update({case.grad_names[k]: g for k, g in zip(names, grads)})
    for t in case.inputs.values():
        t.requires_grad_(False)
    return out


def rel_err(a, b):
    scale = b.abs().max().item()
    return (a.double() - b).abs().max().item() / (scale if scale > 0 else 1.0)


def validate(case, gen):
    """The fp32 peer against its own formula in fp64, forward and backward. Returns (worst ratio to the
    tolerance, the tensor it was on)."""
    dy = torch.randn(*case.out_shape, generator=gen, dtype=torch.float64).to(next(iter(case.inputs.values())).device)
    got = outputs(case, dy)
    want = outputs(case.cast(torch.float64), dy)
    worst, where = 0.0, ""
    bf16 = next(iter(case.inputs.values())).dtype == torch.bfloat16
    for name, w in want.items():
        ratio = rel_err(got[name], w) / (TOL_BF16 if bf16 else TOL[case.op][name])
        if not ratio <= worst:  # NaN counts as the worst
            worst, where = ratio, name
    return worst, where


# ---------------------------------------------------------------------------------------------------------
# --self-test: the fp64 formulas against direct sums from the op definitions


def direct_fftconv(u, k, D, pre, post, gelu):
    B, H, L = u.shape
    v = u * pre if pre is not None else u
    z = torch.zeros_like(v)
    for t in range(L):
        # z[..., t] = sum_{j<=t} k[h, j] v[..., t - j] + D v[..., t]
        z[..., t] = (k[:, : t + 1].flip(-1) * v[..., : t + 1]).sum(-1) + D * v[..., t]
    a = z / 2 * (1 + torch.erf(z / math.sqrt(2))) if gelu else z
    return a * post if post is not None else a


def direct_monarch(x, R, Lf):
    k, p = R.shape[0], R.shape[1]
    n = k * p
    M = torch.zeros(n, n, dtype=x.dtype)
    for s in range(k):
        for l in range(p):
            for r in range(k):
                # M[s p + l, r p + j] = L[l, s, r] R[r, l, j]
                M[s * p + l, r * p : (r + 1) * p] = Lf[l, s, r] * R[r, l, :]
    return x @ M.T


def direct_attention(q, k, v):
    B, L, H, P = q.shape
    G = H // k.shape[2]
    o = torch.zeros_like(q)
    for b in range(B):
        for h in range(H):
            for i in range(L):
                # s_ij = <q_i, k_j> / sqrt(P) over visible keys j <= i, KV head h / (H / Hkv)
                s = (k[b, : i + 1, h // G] @ q[b, i, h]) / math.sqrt(P)
                w = torch.softmax(s, 0)
                o[b, i, h] = w @ v[b, : i + 1, h // G]
    return o


def self_test():
    gen = torch.Generator().manual_seed(7)
    cases = [("fftconv", dict(B=1, H=1, L=1)), ("fftconv", dict(B=2, H=3, L=7, gelu=1)),
             ("fftconv", dict(B=3, H=2, L=19, gelu=1, gates=1)), ("fftconv", dict(B=1, H=2, L=100, gates=1)),
             ("monarch", dict(B=3, n=1)), ("monarch", dict(B=2, n=12, p=3)), ("monarch", dict(B=2, n=12, p=4)),
             ("monarch", dict(B=5, n=60)), ("monarch", dict(B=1, n=64)),
             ("attention", dict(B=1, L=1, H=1, Hkv=1, P=4)), ("attention", dict(B=2, L=7, H=4, Hkv=2, P=8)),
             ("attention", dict(B=1, L=33, H=3, Hkv=1, P=16))]
    worst = 0.0
    for op, params in cases:
        c = Case(op, params, "cpu", torch.float64, gen)
        dy = torch.randn(*c.out_shape, generator=gen, dtype=torch.float64)
        got = outputs(c, dy)
        d = c.cast(torch.float64)  # the same inputs, for the direct sums
        i = d.inputs
        if op == "fftconv":
            d.forward = lambda i=i, c=c: direct_fftconv(i["u"], i["k"], i["D"], i.get("pre"), i.get("post"), c.gelu)
        elif op == "attention":
            d.forward = lambda i=i: direct_attention(i["q"], i["k"], i["v"])
        else:
            d.forward = lambda i=i: direct_monarch(i["x"], i["R"], i["L"])
        want = outputs(d, dy)
        for name, w in want.items():
            e = rel_err(got[name], w)
            worst = max(worst, e)
            if not e <= SELF_TEST_TOL:
                fail(f"self-test: {op} {params} {name}: the PyTorch formula differs from the direct sums by {e:.3g} "
                     f"(relative; allowed {SELF_TEST_TOL:g})")
    print(f"torch_peers: self-test passed: {len(cases)} shapes, forward and backward, worst relative error {worst:.2g}")


# ---------------------------------------------------------------------------------------------------------
# Timing


class Timer:
    def __init__(self, device):
        self.cuda = device == "cuda"
        if self.cuda:
            props = torch.cuda.get_device_properties(0)
            l2 = getattr(props, "L2_cache_size", 0) or (1 << 20)
            self.flush = torch.empty(2 * l2, dtype=torch.uint8, device="cuda")
            self.start, self.stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            # a spin of about 1 ms (at 2 GHz) while the host enqueues the call
            self.spin = getattr(torch.cuda, "_sleep", None)

    def once(self, fn):
        if not self.cuda:
            t0 = time.perf_counter()
            fn()
            return time.perf_counter() - t0
        self.flush.zero_()
        if self.spin:
            self.spin(2_000_000)
        self.start.record()
        fn()
        self.stop.record()
        self.stop.synchronize()
        return self.start.elapsed_time(self.stop) * 1e-3

    def measure(self, fn, repetitions, min_time):
        """Repetitions of the same number of calls, enough for the first to fill min_time; each call timed
        alone. Returns the repetitions' mean times and the calls per repetition."""
        fn()  # warm-up: plans, caches, lazy inits
        if self.cuda:
            torch.cuda.synchronize()
        first, total = [], 0.0
        while total < min_time or not first:
            first.append(self.once(fn))
            total += first[-1]
        iters = len(first)
        means = [total / iters]
        for _ in range(repetitions - 1):
            means.append(sum(self.once(fn) for _ in range(iters)) / iters)
        return means, iters


def median(xs):
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


# ---------------------------------------------------------------------------------------------------------
# The run


PEER_VARIANT = {"fftconv": "torch.fft", "monarch": "torch.bmm", "attention": "torch.sdpa"}
# the dtypes a peer is timed in: the seqmix rows' own (a bf16 row gets a bf16 peer, "<peer>.bf16")
PEER_DTYPES = {"fftconv": ("fp32",), "monarch": ("fp32",), "attention": ("fp32", "bf16")}
TORCH_DTYPE = {"fp32": torch.float32, "bf16": torch.bfloat16}
PEER_WHAT = {
    "torch.fft": "H3's fftconv_ref (torch.fft.rfft/irfft at N = 2L, fp32) inside FlashFFTConv's gates",
    "torch.bmm": "M2's bmm Monarch multiply (two torch.bmm over the blocks, fp32)",
    "torch.sdpa": "torch.nn.functional.scaled_dot_product_attention, causal, enable_gqa, whichever backend torch picks "
                  "(o only: no lse output); .bf16 with bf16 tensors",
}


def atomic_write_json(path, doc):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_bench(run_dir):
    path = os.path.join(run_dir, "bench.json") if os.path.isdir(run_dir) else run_dir
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    except ValueError as e:
        fail(f"{path} is not valid JSON ({e})")
    if not isinstance(doc, dict) or doc.get("kind") != "bench" or not isinstance(doc.get("benchmarks"), list):
        fail(f"{path} is not a seqmix bench.json")
    return path, doc


def cases_of(bench, ops, device):
    """The distinct (op, pass, shape) seqmix measured on `device`, with the op's FLOP and byte counts."""
    seen, out = set(), []
    for e in bench["benchmarks"]:
        if not isinstance(e, dict) or e.get("status") != "ok" or e.get("baseline") or e.get("peer"):
            continue
        if e.get("op") not in ops or e.get("device") != device or e.get("dtype", "fp32") not in PEER_DTYPES[e["op"]]:
            continue
        key = (e["op"], e["pass"], e["shape"], e.get("dtype", "fp32"))
        if key in seen:
            continue
        seen.add(key)
        out.append(e)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", nargs="?", help="the seqmix run directory (or its bench.json)")
    ap.add_argument("--device", choices=["cuda", "cpu"], help="default: cuda when torch sees a GPU, else cpu")
    ap.add_argument("--ops", default="fftconv,monarch,attention",
                    help="comma-separated (default fftconv,monarch,attention)")
    ap.add_argument("--repetitions", type=int, help="default: the run's own")
    ap.add_argument("--min-time", type=float, help="seconds per repetition; default: the run's own")
    ap.add_argument("--self-test", action="store_true", help="check the peers' formulas against direct sums and exit")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return
    if not a.run:
        fail("give the seqmix run directory (or --self-test)")
    ops = [o for o in a.ops.split(",") if o]
    for o in ops:
        if o not in PEER_VARIANT:
            fail(f"no PyTorch peer for op '{o}' (peers exist for: {', '.join(PEER_VARIANT)})")
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 products, as seqmix's cuBLAS calls (no TF32)
    torch.backends.cudnn.allow_tf32 = False
    if device == "cuda" and not torch.cuda.is_available():
        fail("--device cuda: torch sees no GPU here")
    path, bench = load_bench(a.run)
    reps = a.repetitions if a.repetitions is not None else int(bench.get("repetitions", 5))
    min_time = a.min_time if a.min_time is not None else float(bench.get("min_time_s", 0.1))
    if not 1 <= reps <= 100:
        fail(f"--repetitions {reps} is out of range (1..100)")
    if not 0 < min_time <= 60:
        fail(f"--min-time {min_time:g} is out of range (>0 .. 60 seconds)")
    hw = bench.get("hardware", {})
    if device == "cpu":
        torch.set_num_threads(max(1, int(hw.get("threads_used", os.cpu_count() or 1))))
    peaks = bench.get("peaks", {})
    pk_flops = peaks.get("gpu_flops" if device == "cuda" else "cpu_flops", 0) or 0
    pk_bw = peaks.get("gpu_bytes_per_s" if device == "cuda" else "cpu_bytes_per_s", 0) or 0

    todo = cases_of(bench, ops, device)
    if not todo:
        fail(f"{path} has no {', '.join(ops)} results on the {device}: nothing to measure a peer against")
    timer = Timer(device)
    gen = torch.Generator().manual_seed(1)
    rows = []
    for e in todo:
        op, pas, shape = e["op"], e["pass"], e["shape"]
        dt = e.get("dtype", "fp32")
        variant = PEER_VARIANT[op] + ("" if dt == "fp32" else "." + dt)
        row = {"name": f"{op}/{variant}/{pas}/{shape}", "op": op, "variant": variant, "device": device,
               "dtype": dt, "baseline": False, "peer": True, "pass": pas, "shape": shape, "params": e["params"],
               "flops": e.get("flops", 0), "bytes": e.get("bytes", 0), "note": "",
               "peer_version": f"pytorch {torch.__version__}"}
        try:
            case = Case(op, e["params"], device, TORCH_DTYPE[dt], gen)
            # every row is computed alike, so a slice of the batch (and of the channels) at the same
            # L or n validates the code path without the fp64 copy of a shape that fills the GPU
            small = dict(e["params"], B=min(e["params"]["B"], 2))
            if op == "fftconv":
                small["H"] = min(small["H"], 64)
            if op == "attention":  # whole KV groups: a slice of the query heads that keeps H / Hkv
                g = small["H"] // small["Hkv"]
                small["Hkv"] = min(small["Hkv"], 2)
                small["H"] = g * small["Hkv"]
            worst, where = validate(Case(op, small, device, TORCH_DTYPE[dt], gen), gen)
            row["max_err_over_tol"] = worst
            if not worst <= 1:
                row.update(status="error", reason=f"the peer's {where} is {worst:.3g}x its tolerance against fp64")
                rows.append(row)
                print(f"torch_peers: {row['name']}: {row['reason']}", file=sys.stderr)
                continue
            if pas == "fwd":
                def fn(case=case):
                    with torch.no_grad():
                        case.forward()
            else:
                ins = list(case.inputs.values())
                for t in ins:
                    t.requires_grad_(True)
                y = case.forward()
                dy = torch.randn(*case.out_shape, generator=gen).to(device, y.dtype)

                def fn(y=y, ins=ins, dy=dy):
                    torch.autograd.grad(y, ins, dy, retain_graph=True)
            if device == "cuda":
                torch.cuda.synchronize()
                base = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
            means, iters = timer.measure(fn, reps, min_time)
            if device == "cuda":
                row["workspace_bytes"] = torch.cuda.max_memory_allocated() - base
        except torch.cuda.OutOfMemoryError if hasattr(torch.cuda, "OutOfMemoryError") else MemoryError:
            row.update(status="skipped", reason="out of device memory for the PyTorch formulation")
            rows.append(row)
            continue
        finally:
            if device == "cuda":
                torch.cuda.empty_cache()
        med = median(means)
        mean = sum(means) / len(means)
        sd = math.sqrt(sum((t - mean) ** 2 for t in means) / (len(means) - 1)) if len(means) > 1 else 0.0
        row.update(status="ok", times_s=means, iterations=[iters] * len(means), median_s=med, mean_s=mean,
                   min_s=min(means), stddev_s=sd, cv=sd / mean if mean > 0 else 0.0,
                   flop_per_s=row["flops"] / med, bytes_per_s=row["bytes"] / med,
                   pct_peak_flops=100 * row["flops"] / med / pk_flops if pk_flops else 0.0,
                   pct_peak_bw=100 * row["bytes"] / med / pk_bw if pk_bw else 0.0)
        rows.append(row)
        print(f"torch_peers: {row['name']}: {med * 1e3:.4g} ms (cv {100 * row['cv']:.0f}%, "
              f"{iters} calls x {len(means)}; error {worst:.2g} of tolerance)")

    doc = {"schema_version": 1, "kind": "peers", "run_id": bench.get("run_id", ""),
           "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "peer": {"name": "pytorch", "version": torch.__version__, "device": device,
                    "device_name": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
                    "threads": torch.get_num_threads(), "cuda": torch.version.cuda or "", "what": PEER_WHAT},
           "repetitions": reps, "min_time_s": min_time, "tolerances": TOL, "benchmarks": rows}
    out = os.path.join(os.path.dirname(os.path.abspath(path)), "peers.json")
    # rows measured earlier for this run (another device, another op) stay unless measured again now
    new = {(r["op"], r["pass"], r["shape"], r["device"], r["dtype"]) for r in rows}
    try:
        with open(out) as f:
            old = json.load(f)
        if isinstance(old, dict) and old.get("kind") == "peers" and old.get("run_id") == doc["run_id"]:
            kept = [r for r in old.get("benchmarks", []) if isinstance(r, dict) and
                    (r.get("op"), r.get("pass"), r.get("shape"), r.get("device"), r.get("dtype")) not in new]
            doc["benchmarks"] = kept + rows
    except (OSError, ValueError):
        pass  # none yet, or unreadable: this measurement replaces it
    atomic_write_json(out, doc)
    ok = sum(r["status"] == "ok" for r in rows)
    print(f"torch_peers: {ok} of {len(rows)} peer benchmarks measured; results in {out}")
    sys.exit(0 if ok == len(rows) or all(r["status"] != "error" for r in rows) else 1)


if __name__ == "__main__":
    main()
