"""PyTorch side of the Paramixer benchmark: the adding-problem model of bench_paramixer_step, written
as a fair, fast port of the official code (github wiedersehne/Paramixer).

  * f_m and g are nn.Sequential(Linear, GELU (exact erf), Linear), wrapped as `network` so the
    state_dict names are the official ones (attention.{l}.fs.{m}.network.0.weight, ...), which
    are also pmx's: weights written by pmx's save_weights load strictly.
  * The mixing step out = V + sum_k W[:, :, k] * V[:, (i + o_k) mod N, :] is a custom
    autograd.Function: a shift is two in-place addcmul_ on views (out and dV), torch.roll only
    for the dW dot products; it saves only V and W (as pmx does), its backward is the
    shifted-gather transpose (docs/MIXER.md), and it never builds the (B, N*K, d) gather
    that torch_sparse.spmm / index_select + index_add_ would.
  * Residual around every factor, M = ceil(log2 N), CHORD or CDIL offsets as in kernels/mixing.h.

Modes (run with /usr/bin/python3; one configuration per process, so ru_maxrss is this one's):
  torch_paramixer.py --n 4096 --batch 16 --layers 1 --protocol chord --threads 1 --reps 5
      prints one JSON object: train_ms / fwd_ms (median), peak RSS, FLOPs as bench_paramixer_step
  torch_paramixer.py --check DIR [--protocol chord|cdil] [--double]
      loads DIR/weights.safetensors and DIR/io.safetensors written by
      `bench_paramixer_step --save-check DIR` and compares output, loss and every gradient;
      exits 1 on a mismatch
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import torch
from torch import nn

# ---- model -------------------------------------------------------------------------------------


def num_factors(n):
    return max(1, math.ceil(math.log2(n)))


def protocol_offsets(protocol, n, m, n_factors):
    if protocol == "chord":
        return [0] + [2 ** k for k in range(n_factors)]
    s = 2 ** m
    return [0, s, 2 * s, 3 * s, 4 * s, -s, -2 * s, -3 * s, -4 * s]


def shifted(v, o):
    """v[:, (i + o) mod N, :] for every i (o already reduced mod N)."""
    return v if o == 0 else torch.roll(v, shifts=-o, dims=1)


def add_shifted_(out, w_k, v, o):
    """out[:, i] += w_k[:, i] * v[:, (i + o) mod N] in place, as two strided addcmul_ on views
    (no (B, N, d) temporary: at large N every fresh temporary costs page faults)."""
    n = v.shape[1]
    if o == 0:
        out.addcmul_(v, w_k)
        return
    out[:, :n - o].addcmul_(v[:, o:], w_k[:, :n - o])
    out[:, n - o:].addcmul_(v[:, :o], w_k[:, n - o:])


class MixFunction(torch.autograd.Function):
    """out = (I + W) V for one circulant sparse factor; V (B, N, d), W (B, N, K)."""

    @staticmethod
    def forward(ctx, v, w, offsets):
        ctx.save_for_backward(v, w)
        ctx.offsets = offsets
        out = v.clone()
        for k, o in enumerate(offsets):
            add_shifted_(out, w[:, :, k:k + 1], v, o)
        return out

    @staticmethod
    def backward(ctx, d_out):
        v, w = ctx.saved_tensors
        d_out = d_out.contiguous()
        n = v.shape[1]
        d_v = d_w = None
        if ctx.needs_input_grad[1]:
            d_w = torch.empty_like(w)
            for k, o in enumerate(ctx.offsets):
                torch.sum(d_out * shifted(v, o), dim=-1, out=d_w[:, :, k])
        if ctx.needs_input_grad[0]:
            # dV[:, j] += W[:, j - o, k] dOut[:, j - o]: the transpose is the opposite shift.
            d_v = d_out.clone()
            for k, o in enumerate(ctx.offsets):
                w_k = w[:, :, k:k + 1]
                if o == 0:
                    d_v.addcmul_(d_out, w_k)
                    continue
                d_v[:, o:].addcmul_(d_out[:, :n - o], w_k[:, :n - o])
                d_v[:, :o].addcmul_(d_out[:, n - o:], w_k[:, n - o:])
        return d_v, d_w, None


class MLPBlock(nn.Module):
    def __init__(self, d_in, hidden, d_out):
        super().__init__()
        self.network = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_out))

    def forward(self, x):
        return self.network(x)


class ParamixerBlock(nn.Module):
    def __init__(self, n, d, h, protocol):
        super().__init__()
        m = num_factors(n)
        self.offsets = [[o % n for o in protocol_offsets(protocol, n, i, m)] for i in range(m)]
        k = len(self.offsets[0])
        self.g = MLPBlock(d, h, d)
        self.fs = nn.ModuleList([MLPBlock(d, h, k) for _ in range(m)])

    def forward(self, v_in, x):
        v = self.g(v_in)
        for f, offsets in zip(self.fs, self.offsets):
            v = MixFunction.apply(v, f(x), offsets)
        return v


class AddingParamixer(nn.Module):
    def __init__(self, n, d=32, h=32, layers=1, protocol="chord"):
        super().__init__()
        self.init_linear = nn.Linear(2, d)
        self.attention = nn.ModuleList([ParamixerBlock(n, d, h, protocol) for _ in range(layers)])
        self.final = nn.Linear(n * d, 1)

    def forward(self, values):
        x = self.init_linear(values)
        v = x
        for block in self.attention:
            v = block(v, x)
        return self.final(v.reshape(v.size(0), -1))


def forward_flops(model, n, batch, d=32, h=32):
    per_sample = 2 * n * 2 * d + 2 * n * d
    for block in model.attention:
        m, k = len(block.offsets), len(block.offsets[0])
        per_sample += 2 * m * n * (d * h + h * k) + 4 * n * d * h + 2 * m * n * k * d
    return per_sample * batch


# ---- safetensors (no dependency on the safetensors package) -----------------------------------

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def load_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen])
    data = blob[8 + hlen:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=DTYPES[info["dtype"]]) if e > b else \
            torch.empty(0, dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out


def check(directory, double, protocol):
    weights = load_safetensors(os.path.join(directory, "weights.safetensors"))
    io = load_safetensors(os.path.join(directory, "io.safetensors"))
    x, y = io["input"], io["target"]
    n = x.shape[1]
    layers = len({k.split(".")[1] for k in weights if k.startswith("attention.")})
    model = AddingParamixer(n, layers=layers, protocol=protocol)
    model.load_state_dict(weights, strict=True)
    if double:
        model.double()
        x, y = x.double(), y.double()
    out = model(x)
    loss = nn.functional.mse_loss(out, y)
    loss.backward()
    worst = 0.0
    pairs = [("output", out), ("loss", loss)] + [("grad." + k, p.grad) for k, p in model.named_parameters()]
    for name, t in pairs:
        ref = io[name].to(t.dtype)
        err = (t.detach() - ref).abs().max().item() / max(ref.abs().max().item(), 1e-30)
        worst = max(worst, err)
    tol = 1e-4
    print(json.dumps({"check": directory, "n": n, "layers": layers, "protocol": protocol, "tensors": len(pairs),
                      "max_rel_err": worst, "ok": worst < tol}))
    return 0 if worst < tol else 1


# ---- timing ------------------------------------------------------------------------------------


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = AddingParamixer(args.n, layers=args.layers, protocol=args.protocol)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)  # foreach (the default): PyTorch's fast path
    x = torch.rand(args.batch, args.n, 2)
    y = torch.rand(args.batch, 1)
    train_ms, fwd_ms, train_cpu_ms = [], [], []
    if args.mode != "forward":
        for s in range(args.warmup + args.reps):
            t, c = time.perf_counter(), time.process_time()
            loss = nn.functional.mse_loss(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if s >= args.warmup:
                train_ms.append((time.perf_counter() - t) * 1e3)
                train_cpu_ms.append((time.process_time() - c) * 1e3)
    rss_train = peak_rss_mib()
    if args.mode != "train":
        with torch.no_grad():
            for s in range(args.warmup + args.reps):
                t = time.perf_counter()
                model(x)
                if s >= args.warmup:
                    fwd_ms.append((time.perf_counter() - t) * 1e3)

    def med(v):
        return sorted(v)[len(v) // 2] if v else 0.0

    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(json.dumps({
        "impl": "torch", "n": args.n, "batch": args.batch, "layers": args.layers, "protocol": args.protocol,
        "threads": args.threads, "reps": args.reps, "params": sum(p.numel() for p in model.parameters()),
        "fwd_flops": forward_flops(model, args.n, args.batch), "train_ms": med(train_ms),
        "train_ms_min": min(train_ms) if train_ms else 0.0,
        "train_cpu_ms": med(train_cpu_ms), "fwd_ms": med(fwd_ms),
        "fwd_ms_min": min(fwd_ms) if fwd_ms else 0.0, "rss_train_mib": rss_train, "rss_mib": peak_rss_mib(),
        "load": load, "torch": torch.__version__, "allocator": os.environ.get("PMX_BENCH_ALLOCATOR", "glibc")}))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--protocol", choices=["chord", "cdil"], default="chord")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--mode", choices=["both", "train", "forward"], default="both")
    p.add_argument("--check", metavar="DIR")
    p.add_argument("--double", action="store_true", help="--check in float64 (from the float32 weights)")
    args = p.parse_args()
    if args.check:
        return check(args.check, args.double, args.protocol)
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
