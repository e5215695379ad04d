#!/usr/bin/env bash
# run_benchmarks.sh: the Paramixer performance table of docs/PERFORMANCE.md, pmx against PyTorch,
# every row measured in this one run.
#
# Builds the benchmarks below in Release, then for every N, L, protocol
# and thread count runs, each in a fresh process (so peak RSS is that configuration's alone):
#   pmx        bench/bench_paramixer_step      training step (forward, backward, Adam) + forward
#   PyTorch    bench/torch_paramixer.py        the same model and step, same B, same threads,
#              with the allocator that was fastest in a pre-pass (glibc, jemalloc, tcmalloc via
#              LD_PRELOAD, whichever is installed)
#   attention  bench/bench_attention_step      the dense-attention baseline (L = 1, where it fits
#              in the time budget), and both at N = 16 .. 1024 to show where the two cross
#   budget     bench/bench_step_budget         the one-thread step at the smallest N, piece by
#              piece, against a fifth of PyTorch's step time from the same run
# Before the rows: the machine's bandwidth and FMA peak at 1 and 2 threads, and a correctness
# check of the PyTorch port against pmx's output and gradients on shared weights.
# Prints the table (load average with it) and writes every row as JSON.
#
#   bench/run_benchmarks.sh [--quick] [--reps 3] [--out results.json] [--build-dir DIR] [--no-torch]
#                           [--sizes "1024 4096"] [--allocator glibc|jemalloc|tcmalloc]
#   --quick: N = 1024 and 4096 only. --sizes: any list of N. --allocator: skip PyTorch's
#   allocator pre-pass and use this one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-bench"
OUT=""
REPS=3
QUICK=0
TORCH=1
SIZES=""
ALLOC=""
PY=/usr/bin/python3
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --reps) REPS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --build-dir) BUILD="$2"; shift ;;
    --no-torch) TORCH=0 ;;
    --sizes) SIZES="$2"; shift ;;
    --allocator) ALLOC="$2"; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run_benchmarks.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
OUT="${OUT:-$BUILD/bench_results.json}"

echo "== building benchmarks (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPMX_BUILD_APPS=OFF \
  -DPMX_BUILD_BENCH=ON > "$BUILD.cmake.log" 2>&1 || { cat "$BUILD.cmake.log"; exit 1; }
cmake --build "$BUILD" -j2 --target bench_paramixer_step bench_attention_step bench_step_budget > "$BUILD.build.log" 2>&1 \
  || { tail -40 "$BUILD.build.log"; exit 1; }
STEP="$BUILD/bench/bench_paramixer_step"
ATTN="$BUILD/bench/bench_attention_step"
BUDGET="$BUILD/bench/bench_step_budget"
TORCH_PY="$ROOT/bench/torch_paramixer.py"
if [ "$TORCH" = 1 ] && ! "$PY" -c "import torch" 2>/dev/null; then
  echo "== $PY cannot import torch (Debian: apt-get install python3-torch): PyTorch columns skipped"
  TORCH=0
fi

# Raw rows as they are measured (kept, so an interrupted run still has its numbers).
ROWS="$OUT.rows.jsonl"
: > "$ROWS"
trap 'rm -rf "${CHECK_DIR:-}"' EXIT
START=$(date +%s)

echo "== machine limits (load average $(cut -d' ' -f1-3 /proc/loadavg))"
for t in 1 2; do "$STEP" --peaks --threads "$t" | sed 's/^{/{"kind": "peaks", /' >> "$ROWS"; done

if [ "$TORCH" = 1 ]; then
  echo "== checking the PyTorch port against pmx on shared weights (N = 37, L = 2)"
  CHECK_DIR="$(mktemp -d)"
  for proto in chord cdil; do
    mkdir -p "$CHECK_DIR/$proto"
    "$STEP" --n 37 --batch 3 --layers 2 --protocol "$proto" --save-check "$CHECK_DIR/$proto" > /dev/null
    "$PY" "$TORCH_PY" --check "$CHECK_DIR/$proto" --protocol "$proto" \
      | sed 's/^{/{"kind": "check", /' >> "$ROWS" \
      || { echo "PyTorch port does not match pmx ($proto): the comparison would be meaningless" >&2; exit 1; }
  done

  echo "== choosing PyTorch's allocator by CPU time (N = 4096, L = 1, CHORD, 1 thread, train step)"
  BEST_ALLOC=glibc; BEST_LIB=""; BEST_MS=""
  for cand in glibc:"" jemalloc:/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \
              tcmalloc:/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4; do
    name="${cand%%:*}"; lib="${cand#*:}"
    if [ -n "$lib" ] && [ ! -e "$lib" ]; then echo "   $name: not installed"; continue; fi
    if [ -n "$ALLOC" ]; then
      if [ "$name" = "$ALLOC" ]; then BEST_ALLOC=$name; BEST_LIB=$lib; fi
      continue
    fi
    ms=$(PMX_BENCH_ALLOCATOR=$name LD_PRELOAD="$lib" "$PY" "$TORCH_PY" --n 4096 --batch 16 --threads 1 \
           --mode train --reps 2 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["train_cpu_ms"])')
    echo "   $name: $ms CPU ms/step"
    if [ -z "$BEST_MS" ] || "$PY" -c "import sys; sys.exit(0 if $ms < $BEST_MS else 1)"; then
      BEST_ALLOC=$name; BEST_LIB=$lib; BEST_MS=$ms
    fi
  done
  echo "   using $BEST_ALLOC"
fi

if [ "$QUICK" = 1 ]; then NS="1024 4096"; else NS="1024 4096 16384 32768"; fi
if [ -n "$SIZES" ]; then NS="$SIZES"; fi
# The same B on both sides; smaller at large N so one step stays within the time budget.
batch_for() { if [ "$1" -le 4096 ]; then echo 16; elif [ "$1" -le 16384 ]; then echo 4; else echo 2; fi; }

for n in $NS; do
  b=$(batch_for "$n")
  for layers in 1 2; do
    for proto in chord cdil; do
      for t in 1 2; do
        echo "== N = $n, B = $b, L = $layers, $proto, $t thread(s)   (load $(cut -d' ' -f1 /proc/loadavg))"
        "$STEP" --n "$n" --batch "$b" --layers "$layers" --protocol "$proto" --threads "$t" --reps "$REPS" \
          >> "$ROWS"
        if [ "$TORCH" = 1 ]; then
          PMX_BENCH_ALLOCATOR=$BEST_ALLOC LD_PRELOAD="$BEST_LIB" OMP_NUM_THREADS=$t "$PY" "$TORCH_PY" \
            --n "$n" --batch "$b" --layers "$layers" --protocol "$proto" --threads "$t" --reps "$REPS" >> "$ROWS"
        fi
      done
    done
  done
  # Attention is O(N^2): at N = 32768 one step would take minutes; it is left out there.
  if [ "$n" -le 16384 ]; then
    for t in 1 2; do
      echo "== attention N = $n, B = $b, $t thread(s)"
      "$ATTN" --n "$n" --batch "$b" --threads "$t" --reps 1 --mode train >> "$ROWS"
    done
  fi
done

# The one-thread step at the smallest N, piece by piece, against a fifth of PyTorch's step time
# from the rows above: what the 5x target would need (docs/PERFORMANCE.md).
BUDGET_TXT="$OUT.budget.txt"
: > "$BUDGET_TXT"
n0=$(echo $NS | tr ' ' '\n' | sort -n | head -1)
for proto in chord cdil; do
  echo "== budget: N = $n0, L = 1, $proto, 1 thread"
  torch_ms=0
  if [ "$TORCH" = 1 ]; then
    torch_ms=$("$PY" -c 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(next((r["train_ms_min"] for r in rows if r.get("impl") == "torch" and r["n"] == int(sys.argv[2])
            and r["layers"] == 1 and r["protocol"] == sys.argv[3] and r["threads"] == 1), 0))' "$ROWS" "$n0" "$proto")
  fi
  "$BUDGET" --n "$n0" --batch "$(batch_for "$n0")" --protocol "$proto" --threads 1 --reps 12 \
    --torch-ms "$torch_ms" > "$BUDGET_TXT.part"
  grep -v '^{' "$BUDGET_TXT.part" >> "$BUDGET_TXT"
  grep '^{' "$BUDGET_TXT.part" >> "$ROWS"
  rm -f "$BUDGET_TXT.part"
done

# Where the dense-attention baseline and Paramixer cross: both at L = 1, B = 16, from short
# sequences up (attention's cost grows as N^2, Paramixer's as N log N; at small N both are
# dominated by their per-token MLPs). The fastest step on both sides, as in the main table.
for n in 16 32 64 128 256 512 1024; do
  reps=$REPS; if [ "$n" -le 256 ] && [ "$reps" -lt 5 ]; then reps=5; fi  # sub-ms steps: more reps
  for t in 1 2; do
    echo "== crossing: N = $n, B = 16, $t thread(s)"
    "$STEP" --n "$n" --batch 16 --layers 1 --protocol chord --threads "$t" --reps "$reps" --mode train \
      | sed 's/^{/{"kind": "crossing", /' >> "$ROWS"
    "$ATTN" --n "$n" --batch 16 --threads "$t" --reps "$reps" --mode train \
      | sed 's/^{/{"kind": "crossing", /' >> "$ROWS"
  done
done

ELAPSED=$(( $(date +%s) - START ))
"$PY" - "$ROWS" "$OUT" "$ELAPSED" <<'EOF'
import json, math, os, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
out, elapsed = sys.argv[2], int(sys.argv[3])
peaks = {r["threads"]: r for r in rows if r.get("kind") == "peaks"}
main = [r for r in rows if r.get("kind") != "crossing"]
pmx = {(r["n"], r["layers"], r["protocol"], r["threads"]): r for r in main if r.get("impl") == "pmx"}
tch = {(r["n"], r["layers"], r["protocol"], r["threads"]): r for r in main if r.get("impl") == "torch"}
att = {(r["n"], r["threads"]): r for r in main if r.get("impl") == "attention"}
cross_p = {(r["n"], r["threads"]): r for r in rows if r.get("kind") == "crossing" and r["impl"] == "pmx"}
cross_a = {(r["n"], r["threads"]): r for r in rows if r.get("kind") == "crossing" and r["impl"] == "attention"}
with open("/proc/loadavg") as f:
    load = " ".join(f.read().split()[:3])
print()
for t, p in sorted(peaks.items()):
    print("machine, %d thread(s): bandwidth %.1f GB/s, fp32 FMA peak %.1f GFLOP/s (load %s when measured)"
          % (t, p["bandwidth_gbs"], p["peak_gflops"], p["load"]))
for r in rows:
    if r.get("kind") == "check":
        print("PyTorch port vs pmx, %s: max relative error %.2e over %d tensors (output, loss, all gradients)"
              % (r["protocol"], r["max_rel_err"], r["tensors"]))
alloc = next((r["allocator"] for r in rows if r.get("impl") == "torch"), "-")
print("train ms = the fastest timed step, wall clock (the least disturbed by other load); cpu ms = median CPU"
      " time of a step, all threads (excludes waiting for a core on a loaded machine); PyTorch allocator: %s" % alloc)
print("speedup = PyTorch / pmx (> 1: pmx faster); GF/s %pk = achieved fwd+bwd GFLOP/s, % of the FMA peak at"
      " that thread count\n")
hdr = ("%6s %3s %2s %-5s %2s | %8s %7s %7s %7s %6s %4s %6s | %8s %7s %7s %6s | %6s %6s %6s %5s | %8s"
       % ("N", "B", "L", "proto", "th", "train ms", "cpu ms", "fwd ms", "samp/s", "GF/s", "%pk", "RSS", "train ms",
          "cpu ms", "fwd ms", "RSS", "train", "cpu", "fwd", "RSS", "attn ms"))
print("%s | %s | %s | %s |" % (" " * 22, "pmx".ljust(54), "PyTorch".ljust(31), "speedup, RSS pmx/torch".ljust(27)))
print(hdr)
print("-" * len(hdr))
table = []
for key in sorted(pmx):
    n, layers, proto, t = key
    p, q = pmx[key], tch.get(key)
    gf = 3 * p["fwd_flops"] / (p["train_ms_min"] * 1e-3) * 1e-9
    pk = peaks.get(t, {}).get("peak_gflops", float("nan"))
    a = att.get((n, t)) if layers == 1 and proto == "chord" else None
    row = dict(n=n, batch=p["batch"], layers=layers, protocol=proto, threads=t,
               pmx_train_ms=p["train_ms_min"], pmx_train_ms_median=p["train_ms"], pmx_fwd_ms=p["fwd_ms_min"],
               pmx_samples_per_s=p["batch"] / (p["train_ms_min"] * 1e-3), pmx_gflops=gf,
               pmx_peak_fraction=gf / pk, pmx_rss_mib=p["rss_mib"], fwd_flops=p["fwd_flops"])
    line = "%6d %3d %2d %-5s %2d | %8.1f %7.1f %7.1f %7.1f %6.1f %3.0f%% %6.0f |" % (
        n, p["batch"], layers, proto, t, p["train_ms_min"], p["train_cpu_ms"], p["fwd_ms_min"],
        row["pmx_samples_per_s"], gf, 100 * gf / pk, p["rss_mib"])
    row["pmx_train_cpu_ms"] = p["train_cpu_ms"]
    if q:
        row.update(torch_train_ms=q["train_ms_min"], torch_train_ms_median=q["train_ms"],
                   torch_fwd_ms=q["fwd_ms_min"], torch_rss_mib=q["rss_mib"],
                   speedup_train=q["train_ms_min"] / p["train_ms_min"], speedup_fwd=q["fwd_ms_min"] / p["fwd_ms_min"],
                   rss_ratio=p["rss_mib"] / q["rss_mib"], torch_allocator=q["allocator"],
                   torch_train_cpu_ms=q["train_cpu_ms"], speedup_train_cpu=q["train_cpu_ms"] / p["train_cpu_ms"])
        line += " %8.1f %7.1f %7.1f %6.0f | %5.1fx %5.1fx %5.1fx %5.2f |" % (
            q["train_ms_min"], q["train_cpu_ms"], q["fwd_ms_min"], q["rss_mib"], row["speedup_train"],
            row["speedup_train_cpu"], row["speedup_fwd"], row["rss_ratio"])
    else:
        line += " %8s %7s %7s %6s | %6s %6s %6s %5s |" % ("-", "-", "-", "-", "-", "-", "-", "-")
    if a:
        row.update(attention_train_ms=a["train_ms"], attention_rss_mib=a["rss_mib"])
        line += " %8.1f" % a["train_ms"]
    print(line)
    table.append(row)
print("-" * len(hdr))
print("attn ms: dense-attention Transformer (d = 32, 4 heads, ff 64, L = 1), same B, one timed step, shown on"
      " the L = 1 CHORD rows")
# Growth of the per-sample step time against N log2 N, from the smallest to the largest N.
ns = sorted({k[0] for k in pmx})
if len(ns) > 1:
    lo, hi = ns[0], ns[-1]
    bound = (hi * math.log2(hi)) / (lo * math.log2(lo))
    print("\nper-sample step time growth N = %d -> %d (target: <= N log2 N growth = %.1f)" % (lo, hi, bound))
    for (n, layers, proto, t) in sorted(k for k in pmx if k[0] == lo):
        a, b = pmx.get((lo, layers, proto, t)), pmx.get((hi, layers, proto, t))
        if a and b:
            g = (b["train_ms_min"] / b["batch"]) / (a["train_ms_min"] / a["batch"])
            print("  L = %d %-5s %d thread(s): %6.1f  (%s)" % (layers, proto, t, g, "ok" if g <= bound else "over"))
print("\n2-thread scaling (train ms 1 thread / 2 threads):")
for (n, layers, proto, t) in sorted(k for k in pmx if k[3] == 1):
    two = pmx.get((n, layers, proto, 2))
    if two:
        s = pmx[(n, layers, proto, 1)]["train_ms_min"] / two["train_ms_min"]
        sq = ""
        if (n, layers, proto, 1) in tch and (n, layers, proto, 2) in tch:
            sq = ", PyTorch %.2f" % (tch[(n, layers, proto, 1)]["train_ms_min"] / tch[(n, layers, proto, 2)]["train_ms_min"])
        print("  N = %5d L = %d %-5s: pmx %.2f%s" % (n, layers, proto, s, sq))
crossing = []
if cross_p:
    print("\nParamixer (CHORD, L = 1) against the dense-attention Transformer (L = 1), B = 16, fastest step ms,"
          " Paramixer/attention (attention / Paramixer):")
    for t in sorted({k[1] for k in cross_p}):
        ns_t = sorted(n for (n, tt) in cross_p if tt == t and (n, tt) in cross_a)
        cells, first = [], None
        for n in ns_t:
            pm, at = cross_p[(n, t)]["train_ms_min"], cross_a[(n, t)]["train_ms_min"]
            cells.append("N=%d %.3g/%.3g (%.1fx)" % (n, pm, at, at / pm))
            crossing.append(dict(n=n, threads=t, paramixer_train_ms=pm, attention_train_ms=at))
            if first is None and at > pm:
                first = n
        print("  %d thread(s): %s" % (t, ", ".join(cells)))
        if first is None:
            print("  %d thread(s): attention is faster at every N measured" % t)
        elif first == ns_t[0]:
            print("  %d thread(s): Paramixer is faster from the shortest N measured (%d) on: no crossing above it" % (t, first))
        else:
            print("  %d thread(s): the two cross between N = %d and %d" % (t, ns_t[ns_t.index(first) - 1], first))
budget = open(out + ".budget.txt").read() if os.path.exists(out + ".budget.txt") else ""
if budget.strip():
    print("\nThe one-thread step piece by piece (bench/bench_step_budget: each piece alone on hot buffers, in"
          " cache, at the FMA peak) against a fifth of PyTorch's step:")
    print(budget.rstrip())
print("\nload average at the end: %s; run took %d s" % (load, elapsed))
with open(out, "w") as f:
    json.dump({"load_average_end": load, "elapsed_s": elapsed, "peaks": list(peaks.values()),
               "rows": table, "crossing": crossing, "budget": [r for r in rows if r.get("kind") == "budget"],
               "raw": rows}, f, indent=1)
print("rows written to %s" % out)
EOF
