#!/usr/bin/env bash
# callgrind_step.sh: what one training step of the adding-problem Paramixer executes, counted by
# callgrind (instructions, and misses of its simulated L1 / last-level caches), pmx and PyTorch.
#
# Unlike timings, these counts do not depend on what else runs on the machine. Valgrind 3.19 has
# no AVX-512, so both sides run their AVX2 code here (pmx picks its path from CPUID, which
# valgrind reports without AVX-512; so do PyTorch's kernels).
# callgrind counts the whole process, so each side is profiled twice (1 and 3 timed steps after
# one warm-up step) and bench/callgrind_groups.py prints the difference / 2, by category.
#
#   bench/callgrind_step.sh [--n 1024] [--batch 16] [--layers 1] [--protocol chord] [--build-dir build]
#                           [--no-torch] [--out DIR]
# Takes ~5 minutes for pmx and ~15 for PyTorch on 2 cores at the defaults (valgrind is ~50-100x
# slower than the real step, and PyTorch's import alone runs a billion instructions).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build"
N=1024 BATCH=16 LAYERS=1 PROTOCOL=chord TORCH=1 OUT=""
PY=/usr/bin/python3
while [ $# -gt 0 ]; do
  case "$1" in
    --n) N="$2"; shift ;;
    --batch) BATCH="$2"; shift ;;
    --layers) LAYERS="$2"; shift ;;
    --protocol) PROTOCOL="$2"; shift ;;
    --build-dir) BUILD="$2"; shift ;;
    --no-torch) TORCH=0 ;;
    --out) OUT="$2"; shift ;;
    *) echo "callgrind_step.sh: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
command -v valgrind >/dev/null || { echo "callgrind_step.sh: valgrind is missing: apt-get install valgrind" >&2; exit 1; }
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target bench_paramixer_step >/dev/null
ARGS=(--n "$N" --batch "$BATCH" --layers "$LAYERS" --protocol "$PROTOCOL" --mode train --warmup 1 --threads 1)

# Runs "$@" under callgrind with 1 and with 3 timed steps, side by side, into $OUT/<tag>.r{1,3}.out;
# PRELOAD (may be empty) goes to the profiled process as LD_PRELOAD.
profile() {
  local tag="$1"; shift
  for r in 1 3; do
    env ${PRELOAD:+LD_PRELOAD="$PRELOAD"} OMP_NUM_THREADS=1 valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file="$OUT/$tag.r$r.out" \
      "$@" "${ARGS[@]}" --reps "$r" >"$OUT/$tag.r$r.log" 2>&1 &
  done
  wait
  for r in 1 3; do
    [ -s "$OUT/$tag.r$r.out" ] && grep -q '"impl"' "$OUT/$tag.r$r.log" ||
      { echo "callgrind_step.sh: the $tag run with $r steps failed, see $OUT/$tag.r$r.log" >&2; exit 1; }
  done
}

PRELOAD=""
echo "== pmx, N = $N, B = $BATCH, L = $LAYERS, $PROTOCOL, training step, 1 thread (AVX2 path under valgrind)"
profile pmx "$BUILD/bench/bench_paramixer_step"
python3 "$ROOT/bench/callgrind_groups.py" "$OUT/pmx.r1.out" "$OUT/pmx.r3.out"

if [ "$TORCH" = 1 ] && "$PY" -c "import torch" 2>/dev/null; then
  # libhwy (loaded with PyTorch's dependencies) reads the time stamp counter with RDTSCP in its
  # start-up code, an instruction valgrind 3.19 does not decode; a stand-in for that one function
  # lets the process start. It is only a timer resolution and not used by the step.
  echo 'namespace hwy { namespace platform { unsigned long TimerResolution() { return 1; } } }' >"$OUT/hwy_shim.cpp"
  g++ -shared -fPIC -O2 "$OUT/hwy_shim.cpp" -o "$OUT/libhwy_shim.so"
  echo
  echo "== PyTorch $("$PY" -c 'import torch; print(torch.__version__)'), the same step (bench/torch_paramixer.py)"
  PRELOAD="$OUT/libhwy_shim.so"
  profile torch "$PY" "$ROOT/bench/torch_paramixer.py"
  python3 "$ROOT/bench/callgrind_groups.py" "$OUT/torch.r1.out" "$OUT/torch.r3.out"
fi
echo "callgrind files in $OUT (callgrind_annotate or kcachegrind to browse)"
