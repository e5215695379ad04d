"""Writes the PyTorch golden files that tests/test_safetensors.cpp loads.

Run with a Python that has torch (on the dev machine: /usr/bin/python3 tests/make_golden_safetensors.py).
The `safetensors` package is not required: the files are written by hand following the format
(8-byte little-endian header length, JSON header padded with spaces to 8 bytes, raw
little-endian data), the same way safetensors.torch.save_file lays them out.

  tests/data/torch_linear.safetensors     torch.nn.Linear(3, 2) with torch.manual_seed(0):
                                          "weight" (2, 3) F32, "bias" (2,) F32, metadata
  tests/data/torch_linear_io.safetensors  "input" (4, 3) F32, "output" (4, 2) F32 = layer(input),
                                          plus F64 / I64 / 0-d / empty tensors and an escaped
                                          metadata string, to cover the reader
"""
import json
import os
import struct

import torch

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
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")  # ensure_ascii: \u escapes
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    os.makedirs(out_dir, exist_ok=True)

    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2)
    x = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.25, -1.5], [3.0, 1.0, 2.0], [-0.75, 0.5, 0.125]])
    with torch.no_grad():
        y = layer(x)

    save(os.path.join(out_dir, "torch_linear.safetensors"), dict(layer.state_dict()),
         {"producer": "torch " + torch.__version__, "layer": "Linear(3, 2)"})
    save(os.path.join(out_dir, "torch_linear_io.safetensors"),
         {"input": x, "output": y,
          "f64": torch.arange(5, dtype=torch.float64) / 3,
          "i64": torch.tensor([[-1, 0], [2**40, -2**62]], dtype=torch.int64),
          "scalar": torch.tensor(7, dtype=torch.int64),
          "empty": torch.zeros(0, 3)},
         {"note": "quote \" backslash \\ newline \n e-acute \u00e9 clef \U0001d11e"})

    torch.set_printoptions(precision=8)
    print("weight =", layer.weight.data)
    print("bias   =", layer.bias.data)
    print("output =", y)


if __name__ == "__main__":
    main()
