"""Per-step instruction and simulated cache-miss counts from two callgrind runs, by category.

callgrind counts the whole process (start-up, model set-up, warm-up step), so bench/callgrind_step.sh
profiles the same command twice, once with 1 timed step and once with 3, and this script takes
the difference per function and divides by 2: what one steady-state training step costs.

  callgrind_groups.py ONE_STEP.out THREE_STEPS.out [--steps 2] [--top 12]

Prints the per-step totals (instructions, D1 and LL misses of callgrind's cache model), the
categories below, and the top functions. Uses callgrind_annotate (valgrind's own tool).
Run-time generated (JIT) code sits at different addresses in the two runs, so its rows among the
top functions are not differences; its category total is.
"""
import argparse
import re
import subprocess

EVENTS = "Ir,D1mr,D1mw,DLmr,DLmw"
# First matching pattern wins; checked against the function name and the object it lives in.
CATEGORIES = [
    ("f-MLP GEMM micro-kernels (pmx)", r"tile<|fmlp_small_gemm"),
    ("f-MLP other loops (pmx: bias, column sums, d_hid * GELU')", r"fmlp_backward|fmlp_forward"),
    ("GELU (erf, exp)", r"gelu|GeluKernel|\berf"),
    ("mixing kernels (pmx)", r"gather_rows|dot_rows|mix_forward|mix_backward"),
    ("GEMM (OpenBLAS / oneDNN / MKL)", r"sgemm|gemm|openblas|dnnl|mkl|jit_|brgemm"),
    ("element-wise and reductions (PyTorch ATen kernels)", r"at::native|vectorized_loop|basic_loop|cpu_kernel|Reduce|reduce"),
    ("memcpy / memset", r"memmove|memcpy|memset"),
    ("optimizer", r"adam|Adam"),
    ("allocator (malloc / free, caching allocator)", r"malloc|free|_int_|Allocator|alloc"),
    ("Python interpreter", r"_PyEval|_Py|Py[A-Z]|python3"),
    ("PyTorch dispatcher and autograd", r"c10::|torch::autograd|at::|torch::"),
    # Debian's libtorch_cpu has no symbols for its kernels: ATen's element-wise and reduction
    # loops (addcmul_, GELU, mul, sum, ...) land here under bare addresses.
    ("libtorch_cpu, unnamed (ATen CPU kernels)", r"libtorch_cpu"),
    ("run-time generated code (no object file: JIT kernels)", r"\[\?\?\?\]$"),
]

def add(a, b):
    return [x + y for x, y in zip(a, b)]


NUM = r"\s*(?:([\d,]+)(?:\s+\(\s*[\d.]+%\))?|(\.))"
LINE = re.compile(NUM * 5 + r"\s+(.*)")


def load(path):
    """{function: [Ir, D1mr, D1mw, DLmr, DLmw]} and the program totals."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--show=" + EVENTS, path],
                         capture_output=True, text=True, check=True).stdout
    rows, total = {}, None
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        vals = [int(m.group(2 * i + 1).replace(",", "")) if m.group(2 * i + 1) else 0 for i in range(5)]
        name = m.group(11)
        if "PROGRAM TOTALS" in name:
            total = vals
            continue
        rows[name] = add(rows.get(name, [0] * 5), vals)
    if total is None:
        raise SystemExit(f"callgrind_groups: no PROGRAM TOTALS line in callgrind_annotate's output of {path}")
    return rows, total


def main():
    p = argparse.ArgumentParser()
    p.add_argument("one")
    p.add_argument("three")
    p.add_argument("--steps", type=float, default=2.0, help="timed steps of THREE minus those of ONE")
    p.add_argument("--top", type=int, default=12)
    a = p.parse_args()
    r1, t1 = load(a.one)
    r3, t3 = load(a.three)
    per = {k: [(x - y) / a.steps for x, y in zip(r3.get(k, [0] * 5), r1.get(k, [0] * 5))] for k in set(r1) | set(r3)}
    tot = [(x - y) / a.steps for x, y in zip(t3, t1)]
    print(f"per step: {tot[0] / 1e6:.1f} M instructions, {(tot[1] + tot[2]) / 1e6:.2f} M D1 misses, "
          f"{(tot[3] + tot[4]) / 1e6:.3f} M LL misses (callgrind's cache model)")
    sums = {}
    for name, v in per.items():
        group = next((g for g, pat in CATEGORIES if re.search(pat, name)), "other")
        sums[group] = add(sums.get(group, [0] * 5), v)
    for g, v in sorted(sums.items(), key=lambda kv: -kv[1][0]):
        if abs(v[0]) < 5e4:  # a category this side does not have
            continue
        print(f"  {g:60s} {v[0] / 1e6:8.1f} M {100 * v[0] / tot[0]:5.1f} %   D1 miss {(v[1] + v[2]) / 1e6:6.2f} M"
              f"   LL miss {(v[3] + v[4]) / 1e6:6.3f} M")
    print("top functions:")
    for name, v in sorted(per.items(), key=lambda kv: -kv[1][0])[: a.top]:
        print(f"  {v[0] / 1e6:8.1f} M {100 * v[0] / tot[0]:5.1f} %  {name[:120]}")


if __name__ == "__main__":
    main()
