#!/usr/bin/env bash
# Runs on a GPU host without .NET: unpacks the bundle from gpu-bundle.sh, then checks and times
# gpuae there. Logs and JSON go to $OUT when it is set, else to ./gpu-check-<time>.
#
#   scripts/gpu-check.sh ARCHIVE DATA_DIR [--accelerator cuda|opencl|cpu] [--limit N] [--epochs N]
set -uo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 ARCHIVE DATA_DIR [--accelerator cuda|opencl|cpu] [--limit N] [--epochs N]" >&2
  exit 2
fi
archive=$1 data=$2
shift 2
accelerator=cuda limit="" epochs=50 steps=50
while [ $# -gt 0 ]; do
  case $1 in
    --accelerator) accelerator=$2; shift 2 ;;
    --limit) limit="--limit $2"; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    *) echo "gpu-check: unknown option $1" >&2; exit 2 ;;
  esac
done
logs=${OUT:-gpu-check-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$logs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xf "$archive" || { echo "gpu-check: cannot unpack $archive" >&2; exit 1; }
gpuae="$work/gpuae-linux-x64/gpuae"

# ILGPU opens the driver as libcuda.so; some hosts only have libcuda.so.1.
cudalib=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')
[ -n "$cudalib" ] || cudalib=$(ls /usr/local/nvidia/lib64/libcuda.so.1 /usr/lib/x86_64-linux-gnu/libcuda.so.1 2>/dev/null | head -n 1)
if [ -n "$cudalib" ]; then
  mkdir -p "$work/lib" && ln -sf "$cudalib" "$work/lib/libcuda.so"
  export LD_LIBRARY_PATH="$work/lib:${LD_LIBRARY_PATH:-}"
fi

step() { echo; echo "== $1"; }
status_of() { if [ "$1" -eq 0 ]; then echo ok; else echo "FAILED ($1)"; fi; }

step "nvidia-smi, and the accelerators ILGPU sees"
{
  nvidia-smi 2>&1 || echo "nvidia-smi: not available"
  echo
  "$gpuae" devices 2>&1
} | tee "$logs/environment.txt"

step "selftest --accelerator $accelerator"
"$gpuae" selftest --accelerator "$accelerator" > "$logs/selftest.txt" 2>&1
selftest=$?
cat "$logs/selftest.txt"

step "bench --accelerator $accelerator --json"
"$gpuae" bench --accelerator "$accelerator" --steps "$steps" --json > "$logs/bench.json" 2> "$logs/bench.err"
bench=$?
cat "$logs/bench.json" "$logs/bench.err"

step "train --accelerator $accelerator --epochs $epochs $limit"
start=$(date +%s.%N)
# shellcheck disable=SC2086
"$gpuae" train --accelerator "$accelerator" --epochs "$epochs" $limit --data "$data" --out "$work/run" > "$logs/train.txt" 2>&1
train=$?
end=$(date +%s.%N)
cat "$logs/train.txt"
cp "$work/run/metrics.json" "$logs/metrics.json" 2>/dev/null
cp "$work/run/loss.png" "$logs/loss.png" 2>/dev/null

loop=$(grep -o '"seconds": [0-9.eE+-]*' "$logs/metrics.json" 2>/dev/null | awk '{s += $2} END {printf "%.3f", s}')
final=$(grep -o '"loss": [0-9.eE+-]*' "$logs/metrics.json" 2>/dev/null | tail -n 1 | awk '{print $2}')
ips=$(grep -o '"samples_per_second": [0-9.eE+-]*' "$logs/bench.json" 2>/dev/null | awk '{print $2}')
est=$(grep -o '"estimated_50_epoch_seconds": [0-9.eE+-]*' "$logs/bench.json" 2>/dev/null | awk '{print $2}')

step "summary"
{
  printf '%-28s %s\n' "selftest" "$(status_of $selftest)"
  printf '%-28s %s\n' "bench" "$(status_of $bench)"
  printf '%-28s %s\n' "bench images/s" "${ips:-?}"
  printf '%-28s %s\n' "bench 50-epoch estimate (s)" "${est:-?}"
  printf '%-28s %s\n' "train" "$(status_of $train)"
  printf '%-28s %s\n' "train process wall (s)" "$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}')"
  printf '%-28s %s\n' "training-loop wall (s)" "${loop:-?}"
  printf '%-28s %s\n' "final epoch loss" "${final:-?}"
} | tee "$logs/summary.txt"
[ $selftest -eq 0 ] && [ $bench -eq 0 ] && [ $train -eq 0 ]
