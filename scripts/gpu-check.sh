#!/usr/bin/env bash
# Runs on a GPU host without .NET: unpacks the bundle from gpu-bundle.sh, then checks and times
# gpuae there. Logs and JSON go to $OUT when it is set, else to ./gpu-check-<time>.
#
#   scripts/gpu-check.sh ARCHIVE DATA_DIR [--accelerator cuda|opencl|cpu] [--limit N] [--epochs N] [--steps N]
set -uo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 ARCHIVE DATA_DIR [--accelerator cuda|opencl|cpu] [--limit N] [--epochs N] [--steps N]" >&2
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
exec > >(tee "$logs/gpu-check.log") 2>&1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xf "$archive" || { echo "gpu-check: cannot unpack $archive"; exit 1; }
gpuae="$work/gpuae-linux-x64/gpuae"

# ILGPU opens the driver as libcuda.so; some hosts only have libcuda.so.1.
cudalib=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')
if [ -n "$cudalib" ]; then
  mkdir -p "$work/lib" && ln -sf "$cudalib" "$work/lib/libcuda.so"
  export LD_LIBRARY_PATH="$work/lib:${LD_LIBRARY_PATH:-}"
fi

step() { echo; echo "== $1"; }
verdict() { if [ "$1" -eq 0 ]; then echo ok; else echo "FAILED ($1)"; fi; }
# The first (top-level) value of a key in a JSON file; nested family figures come after it.
json() { grep -o "\"$2\": [0-9.eE+-]*" "$1" 2>/dev/null | head -n 1 | awk '{print $2}'; }
model_sha() { sha256sum "$1/model.safetensors" 2>/dev/null | cut -c1-16; }

step "nvidia-smi, and the accelerators ILGPU sees"
nvidia-smi 2>&1 || echo "nvidia-smi: not available"
"$gpuae" devices

step "selftest --accelerator $accelerator"
"$gpuae" selftest --accelerator "$accelerator"
selftest=$?

step "bench --accelerator $accelerator --steps $steps --json"
"$gpuae" bench --accelerator "$accelerator" --steps "$steps" --json > "$logs/bench.json"
bench=$?
cat "$logs/bench.json"

step "train --accelerator $accelerator --epochs $epochs $limit"
start=$(date +%s.%N)
# shellcheck disable=SC2086
"$gpuae" train --accelerator "$accelerator" --epochs "$epochs" $limit --data "$data" --out "$work/run"
train=$?
end=$(date +%s.%N)
cp "$work/run/metrics.json" "$work/run/loss.png" "$logs/" 2>/dev/null

step "evaluate the trained model on the test set"
"$gpuae" evaluate --accelerator "$accelerator" --model "$work/run/model.safetensors" --data "$data" --json > "$logs/evaluate.json"
evaluate=$?
cat "$logs/evaluate.json"

step "determinism and resume (3 and 2+2 epochs on 8192 images)"
short() { "$gpuae" train --accelerator "$accelerator" --limit 8192 --data "$data" "$@" > /dev/null; }
short --epochs 3 --out "$work/a" && short --epochs 3 --out "$work/b" \
  && short --epochs 2 --out "$work/c" && "$gpuae" train --resume "$work/c" --epochs 4 --accelerator "$accelerator" --data "$data" > /dev/null \
  && short --epochs 4 --out "$work/d"
repeat=$?
same_seed=$([ -n "$(model_sha "$work/a")" ] && [ "$(model_sha "$work/a")" = "$(model_sha "$work/b")" ] && echo identical || echo DIFFERENT)
resumed=$([ -n "$(model_sha "$work/c")" ] && [ "$(model_sha "$work/c")" = "$(model_sha "$work/d")" ] && echo identical || echo DIFFERENT)
echo "same seed twice: $same_seed ($(model_sha "$work/a") / $(model_sha "$work/b"))"
echo "2 epochs + resume to 4 vs 4: $resumed ($(model_sha "$work/c") / $(model_sha "$work/d"))"

loop=$(grep -o '"seconds": [0-9.eE+-]*' "$logs/metrics.json" 2>/dev/null | awk '{s += $2} END {printf "%.3f", s}')
step "summary"
{
  printf '%-30s %s\n' "selftest" "$(verdict $selftest)"
  printf '%-30s %s\n' "bench" "$(verdict $bench)"
  printf '%-30s %s\n' "bench images/s" "$(json "$logs/bench.json" samples_per_second)"
  printf '%-30s %s\n' "bench GFLOP/s" "$(json "$logs/bench.json" gflops)"
  printf '%-30s %s\n' "bench 50-epoch estimate (s)" "$(json "$logs/bench.json" estimated_50_epoch_seconds)"
  printf '%-30s %s\n' "train" "$(verdict $train)"
  printf '%-30s %s\n' "train process wall (s)" "$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}')"
  printf '%-30s %s\n' "training-loop wall (s)" "${loop:-?}"
  printf '%-30s %s\n' "final epoch loss" "$(grep -o '"loss": [0-9.eE+-]*' "$logs/metrics.json" 2>/dev/null | tail -n 1 | awk '{print $2}')"
  printf '%-30s %s\n' "test MSE (evaluate)" "$(json "$logs/evaluate.json" test_mse)"
  printf '%-30s %s\n' "same seed twice" "$same_seed"
  printf '%-30s %s\n' "2 + resume to 4 vs 4 epochs" "$resumed"
} | tee "$logs/summary.txt"
[ $selftest -eq 0 ] && [ $bench -eq 0 ] && [ $train -eq 0 ] && [ $evaluate -eq 0 ] && [ $repeat -eq 0 ] \
  && [ "$same_seed" = identical ] && [ "$resumed" = identical ]
