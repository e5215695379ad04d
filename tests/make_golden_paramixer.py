"""Writes the PyTorch golden files that tests/test_paramixer_interop.cpp loads: a port of the
official Paramixer model (github wiedersehne/Paramixer, paramixer.py / LRA/paramixer.py), its
weights under the official state_dict names, a fixed input, the output and loss gradients.

Run with a Python that has torch (on the dev machine: /usr/bin/python3 tests/make_golden_paramixer.py).
The `safetensors` package is not required: files are written by hand as in make_golden_safetensors.py.

The port keeps the official module tree, so state_dict() names are the official ones:
  init_linear.{weight,bias}            adding input, Linear(2, d)
  embedding.weight                     token input, Embedding(vocab, d)
  apc_embedding.weight                 position table (N, d)
  attention.{l}.g.network.{0,2}.*      g = Linear(d,h) -> GELU -> Linear(h,d)
  attention.{l}.fs.{m}.network.{0,2}.* f_m = Linear(d,h) -> GELU -> Linear(h,K)
  final.{weight,bias}                  FLATTEN head, Linear(N*d, classes)
Mixing is the official torch_sparse.spmm over the official (rows, cols) index lists, written
with index_select + index_add_ (what spmm does), so the slot order k of every row is the
official one: CHORD [i, i+1, i+2, i+4, ...], CDIL [i, i+s, .., i+4s, i-s, .., i-4s] (mod N).
Residual around every factor (V = W_m V + V, res_conn taken inside the loop), as paramixer.py and
LRA/paramixer.py do.

Where this port deliberately differs from the official code (documented, so strict loading works):
  * The official Paramixer always allocates `embedding` and `apc_embedding`, even for the adding
    problem, which never uses them. This port creates only the modules the model uses.
  * Synthetic-data-tasks/paramixer.py (the variant that ran the adding problem) also allocates an
    unused `attention.{l}.o` Linear(d, d, bias=False), takes M = floor(log2 N), and keeps the
    residual fixed at g(V_in) for all factors (V = W_m V + g(V_in)). This port follows the
    top-level and LRA code (M = ceil(log2 N), residual per factor), which is what pmx implements.
  * Dropout is omitted (all golden numbers are eval mode, where it is the identity).

Files (tests/data):
  paramixer_adding.safetensors      state_dict, F32: N = 13, input Linear(2, 8), CHORD, d = h = 8,
                                    L = 2, FLATTEN, classes 1
  paramixer_adding_io.safetensors   "input" (3, 13, 2), "target" (3, 1), "output" (3, 1), "loss" (),
                                    "grad.<name>" for every parameter (MSE loss), all F64
  paramixer_order.safetensors       state_dict, F32: vocab 6 + position table, CDIL, N = 16, d = 8,
                                    h = 4, L = 1, FLATTEN, classes 4
  paramixer_order_io.safetensors    "input" (3, 16) I64, "target" (3,) I64, "output" (3, 4), "loss" (),
                                    "grad.<name>" (cross-entropy), F64
The reference numbers are computed in float64 from the float32 weights (the weights are rounded
to float32 first), so a float64 pmx model must match to ~1e-12 and a float32 one to ~1e-5.
"""
import json
import math
import os
import struct

import torch
from torch import nn

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def save(path, tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        data = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


# ---- the official index lists (get_chord_indices_assym, get_dil_indices_assym) ----------------

def chord_indices(n_vec, n_link):
    rows = [i for i in range(n_vec) for _ in range(n_link)]
    cols = [c for i in range(n_vec) for c in [i] + [(i + 2 ** k) % n_vec for k in range(n_link - 1)]]
    return rows, cols


def dil_indices(n_vec, n_link, n_layer):
    half = (n_link - 1) // 2
    out = []
    for n in range(n_layer):
        s = 2 ** n
        rows = [r for r in range(n_vec) for _ in range(n_link)]
        cols = [c for i in range(n_vec)
                for c in [i] + [(i + k * s) % n_vec for k in range(1, 1 + half)]
                + [(i - k * s) % n_vec for k in range(1, 1 + half)]]
        out.append((rows, cols))
    return out


def spmm(rows, cols, values, n, v):
    """torch_sparse.spmm(index=[rows, cols], value=values (B, nnz), m=n, n=n, matrix=v (B, n, d))."""
    gathered = v.index_select(-2, cols) * values.unsqueeze(-1)          # (B, nnz, d)
    out = torch.zeros(v.shape[0], n, v.shape[2], dtype=v.dtype)
    return out.index_add_(-2, rows, gathered)


# ---- the official modules ----------------------------------------------------------------------

class MLPBlock(nn.Module):
    """MakeMLP([hidden, 'GELU'], in, out) wrapped as `network`: Linear -> GELU (exact) -> Linear."""

    def __init__(self, in_dim, hidden, out_dim):
        super().__init__()
        self.network = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))

    def forward(self, x):
        return self.network(x)


class AttentionModule(nn.Module):
    def __init__(self, d, n, protocol, h):
        super().__init__()
        self.n = n
        self.n_W = math.ceil(math.log2(n))
        self.protocol = protocol
        if protocol == "dil":
            self.n_links = 9
            self.indices = [tuple(torch.tensor(a) for a in rc) for rc in dil_indices(n, 9, self.n_W)]
        else:
            self.n_links = self.n_W + 1
            rc = tuple(torch.tensor(a) for a in chord_indices(n, self.n_links))
            self.indices = [rc] * self.n_W
        self.fs = nn.ModuleList([MLPBlock(d, h, self.n_links) for _ in range(self.n_W)])
        self.g = MLPBlock(d, h, d)

    def forward(self, V, data):
        V = self.g(V)
        for m in range(self.n_W):
            res_conn = V
            W = self.fs[m](data)
            rows, cols = self.indices[m]
            V = spmm(rows, cols, W.reshape(W.size(0), W.size(1) * W.size(2)), self.n, V)
            V = V + res_conn
        return V


class Paramixer(nn.Module):
    def __init__(self, n, d, h, layers, classes, protocol, vocab=0, input_features=0, apc=False):
        super().__init__()
        self.n = n
        if input_features:
            self.init_linear = nn.Linear(input_features, d)
        else:
            self.embedding = nn.Embedding(vocab, d)
        self.apc = apc
        if apc:
            self.apc_embedding = nn.Embedding(n, d)
        self.attention = nn.ModuleList([AttentionModule(d, n, protocol, h) for _ in range(layers)])
        self.final = nn.Linear(n * d, classes)

    def forward(self, data):
        data = self.init_linear(data) if hasattr(self, "init_linear") else self.embedding(data)
        if self.apc:
            positions = torch.arange(0, self.n).expand(data.size(0), self.n)
            data = data + self.apc_embedding(positions)
        V = data
        for block in self.attention:
            V = block(V, data)
        return self.final(V.view(V.size(0), -1))


def golden(name, model, x, target, loss_fn, out_dir):
    model.eval()
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}  # float32, as saved
    model.double()
    x_in = x.double() if x.is_floating_point() else x
    y = model(x_in)
    loss = loss_fn(y, target)
    model.zero_grad()
    loss.backward()
    io = {"input": x_in, "target": target, "output": y.detach(), "loss": loss.detach()}
    for k, p in model.named_parameters():
        io["grad." + k] = p.grad.detach()
    meta = {"producer": "torch " + torch.__version__, "script": "tests/make_golden_paramixer.py"}
    save(os.path.join(out_dir, "paramixer_%s.safetensors" % name), weights, meta)
    save(os.path.join(out_dir, "paramixer_%s_io.safetensors" % name), io, meta)
    print(name, "loss =", loss.item(), "output =", y.detach().flatten().tolist())
    print("  keys:", sorted(weights))


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_printoptions(precision=10)

    # (a) adding-style: N = 13 (not a power of two: offsets 8 wrap), two blocks sharing X.
    torch.manual_seed(1)
    model = Paramixer(n=13, d=8, h=8, layers=2, classes=1, protocol="chord", input_features=2)
    B, N = 3, 13
    x = torch.zeros(B, N, 2)
    x[..., 0] = 1 - 2 * torch.rand(B, N)
    for b, (p1, p2) in enumerate([(0, 12), (3, 7), (5, 6)]):
        x[b, p1, 1] = x[b, p2, 1] = 1
    target = (0.5 + (x[..., 0] * x[..., 1]).sum(1, keepdim=True) / 4).double()
    golden("adding", model, x, target, nn.functional.mse_loss, out_dir)

    # (b) temporal-order-style tokens with a position table, CDIL (colliding slots at m = 3).
    torch.manual_seed(2)
    model = Paramixer(n=16, d=8, h=4, layers=1, classes=4, protocol="dil", vocab=6, apc=True)
    tokens = torch.randint(0, 4, (3, 16))
    tokens[0, 2], tokens[0, 9] = 4, 5
    tokens[1, 0], tokens[1, 15] = 5, 5
    tokens[2, 7], tokens[2, 8] = 4, 4
    labels = torch.tensor([1, 3, 0])
    golden("order", model, tokens, labels, nn.functional.cross_entropy, out_dir)


if __name__ == "__main__":
    main()
