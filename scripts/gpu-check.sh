#!/usr/bin/env bash
# Runs on a GPU host without .NET: unpacks the bundle from gpu-bundle.sh, then checks and times
# gpuae there, then times the PyTorch peer (bench/pytorch/lab1.py) on the same device in the same
# call, and tries OpenCL. Logs, peer.json and compare.json go to $OUT when it is set, else to
# ./gpu-check-<time>. The whole call keeps within --budget seconds (default 530, under 9 minutes):
# every peer variant gets a timeout, and variants the budget cannot fit are recorded as skipped.
#
#   scripts/gpu-check.sh ARCHIVE|GPUAE_DIR DATA_DIR [--accelerator cuda|opencl|cpu] [--limit N] [--epochs N]
#       [--steps N] [--budget S] [--peer-timeout S] [--compile-timeout S] [--no-peer] [--no-opencl] [--opencl-debs DIR] [--python PY]
#
# ARCHIVE is the bundle; a folder holding a built gpuae is used as it is (to try the script on a
# development machine, e.g. with --accelerator cpu --limit 2048 --epochs 1).
set -uo pipefail
usage="usage: $0 ARCHIVE|GPUAE_DIR DATA_DIR [--accelerator cuda|opencl|cpu] [--limit N] [--epochs N] [--steps N] [--budget S] [--peer-timeout S] [--compile-timeout S] [--no-peer] [--no-opencl] [--opencl-debs DIR] [--python PY]"
if [ $# -lt 2 ]; then
  echo "$usage" >&2
  exit 2
fi
began=$(date +%s)
archive=$1 data=$2
shift 2
accelerator=cuda limit="" limit_n="" epochs=50 steps=50 budget=530 peer_timeout=90 compile_timeout=150
peer=1 opencl=1 opencl_debs="" python=""
while [ $# -gt 0 ]; do
  case $1 in
    --accelerator) accelerator=$2; shift 2 ;;
    --limit) limit="--limit $2" limit_n=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --peer-timeout) peer_timeout=$2; shift 2 ;;
    --compile-timeout) compile_timeout=$2; shift 2 ;;
    --no-peer) peer=0; shift ;;
    --no-opencl) opencl=0; shift ;;
    --opencl-debs) opencl_debs=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    *) echo "gpu-check: unknown option $1" >&2; echo "$usage" >&2; exit 2 ;;
  esac
done
repo=$(cd "$(dirname "$0")/.." && pwd)
logs=${OUT:-gpu-check-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$logs"
exec > >(tee "$logs/gpu-check.log") 2>&1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -d "$archive" ]; then
  gpuae="$(cd "$archive" && pwd)/gpuae"
else
  tar -C "$work" -xf "$archive" || { echo "gpu-check: cannot unpack $archive"; exit 1; }
  gpuae="$work/gpuae-linux-x64/gpuae"
fi
[ -x "$gpuae" ] || { echo "gpu-check: no gpuae executable at $gpuae"; exit 1; }

# ILGPU opens the driver as libcuda.so; some hosts only have libcuda.so.1.
cudalib=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')
if [ -n "$cudalib" ]; then
  mkdir -p "$work/lib" && ln -sf "$cudalib" "$work/lib/libcuda.so"
  export LD_LIBRARY_PATH="$work/lib:${LD_LIBRARY_PATH:-}"
fi

verdict() { if [ "$1" -eq 0 ]; then echo ok; else echo "FAILED ($1)"; fi; }
# The first (top-level) value of a key in a JSON file; nested family figures come after it.
json() { grep -o "\"$2\": [0-9.eE+-]*" "$1" 2>/dev/null | head -n 1 | awk '{print $2}'; }
model_sha() { sha256sum "$1/model.safetensors" 2>/dev/null | cut -c1-16; }

step() { echo; echo "== $1"; }
# Seconds since $began, and what is left of the budget.
elapsed() { echo $(( $(date +%s) - began )); }
left() { echo $(( budget - $(elapsed) )); }
now() { date +%s.%N; }
span() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

# The first thing gpuae does on this host is the run a user would start: train with the defaults
# (checkpoints included), timed from outside as a whole process; then the same again.
step "train (first process on this host) --accelerator $accelerator --epochs $epochs $limit"
start=$(now)
# shellcheck disable=SC2086
"$gpuae" train --accelerator "$accelerator" --epochs "$epochs" $limit --data "$data" --out "$work/first"
train_first=$?
first_process=$(span "$start" "$(now)")
echo "process wall: $first_process s"

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

step "train (second process) --accelerator $accelerator --epochs $epochs $limit"
start=$(now)
# shellcheck disable=SC2086
"$gpuae" train --accelerator "$accelerator" --epochs "$epochs" $limit --data "$data" --out "$work/run"
train=$?
process=$(span "$start" "$(now)")
echo "process wall: $process s"
cp "$work/run/metrics.json" "$work/run/loss.png" "$logs/" 2>/dev/null

step "evaluate the trained model on the test set"
"$gpuae" evaluate --accelerator "$accelerator" --model "$work/run/model.safetensors" --data "$data" --json > "$logs/evaluate.json"
evaluate=$?
cat "$logs/evaluate.json"

step "determinism and resume (3 and 2+2 epochs on up to 8192 images)"
short_limit=$(( ${limit_n:-8192} < 8192 ? ${limit_n:-8192} : 8192 ))
short() { "$gpuae" train --accelerator "$accelerator" --limit "$short_limit" --data "$data" "$@" > /dev/null; }
short --epochs 3 --out "$work/a" && short --epochs 3 --out "$work/b" \
  && short --epochs 2 --out "$work/c" && "$gpuae" train --resume "$work/c" --epochs 4 --accelerator "$accelerator" --data "$data" > /dev/null \
  && short --epochs 4 --out "$work/d"
repeat=$?
same_seed=$([ -n "$(model_sha "$work/a")" ] && [ "$(model_sha "$work/a")" = "$(model_sha "$work/b")" ] && echo identical || echo DIFFERENT)
resumed=$([ -n "$(model_sha "$work/c")" ] && [ "$(model_sha "$work/c")" = "$(model_sha "$work/d")" ] && echo identical || echo DIFFERENT)
echo "same seed twice: $same_seed ($(model_sha "$work/a") / $(model_sha "$work/b"))"
echo "2 epochs + resume to 4 vs 4: $resumed ($(model_sha "$work/c") / $(model_sha "$work/d"))"

# ---------------------------------------------------------------- OpenCL
# ILGPU opens the unversioned libOpenCL.so. Use the ICD loader the host has, or one unpacked from
# Debian's ocl-icd-libopencl1 .deb carried beside this script (--opencl-debs); without a
# nvidia.icd registration, point the loader straight at NVIDIA's OpenCL library.
opencl_selftest=null opencl_step_ms=null opencl_evidence=""
if [ $opencl -eq 1 ]; then
  step "OpenCL: ICD loader"
  ocl_env=()
  if [ -n "$opencl_debs" ] && ls "$opencl_debs"/ocl-icd-libopencl1_*.deb > /dev/null 2>&1; then
    for deb in "$opencl_debs"/ocl-icd-*.deb; do dpkg-deb -x "$deb" "$work/ocl" && echo "unpacked $(basename "$deb")"; done
    icd=$(find "$work/ocl" -name 'libOpenCL.so.1*' | head -n 1)
  else
    icd=$(ldconfig -p 2>/dev/null | awk '/libOpenCL\.so\.1 /{print $NF; exit}')
  fi
  if [ -n "${icd:-}" ]; then
    mkdir -p "$work/lib" && ln -sf "$icd" "$work/lib/libOpenCL.so" && ln -sf "$icd" "$work/lib/libOpenCL.so.1"
    export LD_LIBRARY_PATH="$work/lib:${LD_LIBRARY_PATH:-}"
    echo "ICD loader: $icd"
  else
    echo "ICD loader: none on this host and none carried"
  fi
  if ! ls /etc/OpenCL/vendors/*.icd > /dev/null 2>&1; then
    nvocl=$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl\.so\.1 /{print $NF; exit}')
    if [ -n "$nvocl" ]; then
      ocl_env=(env "OCL_ICD_FILENAMES=$nvocl")
      echo "no vendors/*.icd: OCL_ICD_FILENAMES=$nvocl"
    else
      echo "no vendors/*.icd and no libnvidia-opencl.so.1"
    fi
  else
    echo "vendors: $(ls /etc/OpenCL/vendors/)"
  fi

  step "selftest --accelerator opencl"
  timeout 120 "${ocl_env[@]}" "$gpuae" selftest --accelerator opencl > "$logs/opencl-selftest.txt" 2>&1
  ocl_rc=$?
  cat "$logs/opencl-selftest.txt"
  # pass: every check passed; fail: ILGPU ran kernels on OpenCL and some disagreed with the
  # reference; unavailable: no OpenCL device, or ILGPU could not use it (any other exit).
  if [ $ocl_rc -eq 0 ]; then
    opencl_selftest='"pass"'
  elif [ $ocl_rc -eq 1 ] && grep -q ' FAIL$' "$logs/opencl-selftest.txt"; then
    opencl_selftest='"fail"'
  else
    opencl_selftest='"unavailable"'
  fi
  opencl_evidence="selftest exit $ocl_rc: $(grep -v '^ .* ok$' "$logs/opencl-selftest.txt" | grep -v '^\s*$' | tail -n 4 | cut -c1-200 | tr '\n' ' ')"
  if [ $ocl_rc -eq 0 ]; then
    step "train --accelerator opencl --epochs 2 $limit"
    # shellcheck disable=SC2086
    timeout 120 "${ocl_env[@]}" "$gpuae" train --accelerator opencl --epochs 2 $limit --data "$data" --out "$work/ocl-run"
    ocl_train=$?
    cp "$work/ocl-run/metrics.json" "$logs/opencl-metrics.json" 2>/dev/null
    step "bench --accelerator opencl --steps 20 --json"
    timeout 120 "${ocl_env[@]}" "$gpuae" bench --accelerator opencl --steps 20 --json > "$logs/opencl-bench.json"
    s=$(json "$logs/opencl-bench.json" seconds_per_step)
    [ -n "$s" ] && opencl_step_ms=$(awk -v s="$s" 'BEGIN {printf "%.4f", s * 1e3}')
    opencl_evidence="$opencl_evidence; 2-epoch train exit $ocl_train, final loss $(grep -o '"loss": [0-9.eE+-]*' "$logs/opencl-metrics.json" 2>/dev/null | tail -n 1 | awk '{print $2}')"
  fi
fi

# ---------------------------------------------------------------- the PyTorch peer
# Each variant is its own process, timed from outside exactly as the gpuae train process above;
# compile variants go last and get longer, since a cold torch.compile takes minutes.
peer_device=$([ "$accelerator" = cpu ] && echo cpu || echo cuda)
if [ "$peer_device" = cuda ]; then
  variants=(eager-fp32 eager-tf32 graphs-fp32 graphs-tf32 compile-fp32 compile-tf32)
else
  variants=(eager-fp32)
fi
# The interpreter that has torch: --python, else python3 on the PATH.
[ -n "$python" ] || python=$(command -v python3 || true)
declare -A peer_status peer_process
if [ $peer -eq 1 ] && [ -n "$python" ]; then
  step "PyTorch peer ($peer_device): ${variants[*]}"
  "$python" -c 'import torch; print("torch", torch.__version__)' 2>&1 | tail -n 1
  for v in "${variants[@]}"; do
    limit_s=$([ "${v%%-*}" = compile ] && echo "$compile_timeout" || echo "$peer_timeout")
    remaining=$(( $(left) - 15 ))
    if [ "$remaining" -lt 20 ]; then
      peer_status[$v]="skipped (budget)"
      echo "$v: skipped, $(left) s of the budget left"
      continue
    fi
    [ "$remaining" -lt "$limit_s" ] && limit_s=$remaining
    start=$(now)
    # shellcheck disable=SC2086
    timeout "$limit_s" "$python" "$repo/bench/pytorch/lab1.py" --device "$peer_device" --variant "$v" --epochs "$epochs" \
      ${limit_n:+--limit $limit_n} --data "$data" > "$logs/peer-$v.json" 2> "$logs/peer-$v.err"
    rc=$?
    peer_process[$v]=$(span "$start" "$(now)")
    case $rc in
      0) peer_status[$v]=ok ;;
      124|137) peer_status[$v]="timeout (${limit_s} s)" ;;
      *) peer_status[$v]="failed ($rc)" ;;
    esac
    echo "$v: ${peer_status[$v]}, process ${peer_process[$v]} s, loop $(json "$logs/peer-$v.json" train_loop_seconds) s"
    [ $rc -eq 0 ] || tail -n 3 "$logs/peer-$v.err"
  done
elif [ $peer -eq 1 ]; then
  echo "PyTorch peer: no python3 on this host"
fi

# ---------------------------------------------------------------- peer.json and compare.json
num() { [ -n "$1" ] && echo "$1" || echo null; }
jstr() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
best() { # best KEY over variants matching PATTERN with status ok: the minimum
  local key=$1 pattern=$2 v val out=""
  for v in "${variants[@]}"; do
    [[ $v == $pattern ]] && [ "${peer_status[$v]:-}" = ok ] || continue
    if [ "$key" = process ]; then val=${peer_process[$v]}; else val=$(json "$logs/peer-$v.json" "$key"); fi
    [ -n "$val" ] && out=$(awk -v a="$out" -v b="$val" 'BEGIN {print (a == "" || b + 0 < a + 0) ? b : a}')
  done
  echo "$out"
}
{
  echo "{"
  echo "  \"device\": $(jstr "$peer_device"),"
  echo "  \"epochs\": $epochs,"
  echo "  \"images\": $(num "$limit_n"),"
  echo "  \"variants\": ["
  sep=""
  for v in "${variants[@]}"; do
    result=null
    [ -s "$logs/peer-$v.json" ] && result=$(cat "$logs/peer-$v.json")
    printf '%s    {"variant": %s, "status": %s, "process_s": %s, "result": %s}' "$sep" "$(jstr "$v")" \
      "$(jstr "${peer_status[$v]:-not run}")" "$(num "${peer_process[$v]:-}")" "$result"
    sep=$',\n'
  done
  echo
  echo "  ]"
  echo "}"
} > "$logs/peer.json"

loop=$(grep -o '"seconds": [0-9.eE+-]*' "$logs/metrics.json" 2>/dev/null | awk '{s += $2} END {if (NR) printf "%.3f", s}')
test_mse=$(json "$logs/evaluate.json" test_mse)
step_s=$(json "$logs/bench.json" seconds_per_step)
cuda_step_ms=""
[ "$accelerator" = cuda ] && [ -n "$step_s" ] && cuda_step_ms=$(awk -v s="$step_s" 'BEGIN {printf "%.4f", s * 1e3}')
device_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
[ -n "$device_name" ] || device_name=$(grep -o '"device": "[^"]*"' "$logs/bench.json" 2>/dev/null | head -n 1 | cut -d'"' -f4)
# Every compare.json carries exactly these keys, null where this call did not measure it.
cat > "$logs/compare.json" <<JSON
{
  "device": $(jstr "$accelerator: ${device_name:-unknown}"),
  "gpuae_fp32_train_s": $(num "$loop"),
  "gpuae_process_s": $(num "$process"),
  "gpuae_first_process_s": $(num "$first_process"),
  "gpuae_fp32_test_mse": $(num "$test_mse"),
  "cuda_step_ms": $(num "$cuda_step_ms"),
  "torch_eager_fp32_train_s": $(num "$([ "${peer_status[eager-fp32]:-}" = ok ] && json "$logs/peer-eager-fp32.json" train_loop_seconds)"),
  "torch_best_fp32_train_s": $(num "$(best train_loop_seconds '*-fp32')"),
  "torch_best_tf32_train_s": $(num "$(best train_loop_seconds '*-tf32')"),
  "torch_best_process_s": $(num "$(best process '*')"),
  "opencl_selftest": $opencl_selftest,
  "opencl_step_ms": $opencl_step_ms,
  "opencl_evidence": $([ -n "$opencl_evidence" ] && jstr "$opencl_evidence" || echo null),
  "gpuae_tf32_train_s": null,
  "tf32_test_mse_seeds012": null,
  "fp32_test_mse_seeds012": null
}
JSON

step "summary"
{
  printf '%-30s %s\n' "selftest" "$(verdict $selftest)"
  printf '%-30s %s\n' "bench" "$(verdict $bench)"
  printf '%-30s %s\n' "bench images/s" "$(json "$logs/bench.json" samples_per_second)"
  printf '%-30s %s\n' "bench GFLOP/s" "$(json "$logs/bench.json" gflops)"
  printf '%-30s %s\n' "bench 50-epoch estimate (s)" "$(json "$logs/bench.json" estimated_50_epoch_seconds)"
  printf '%-30s %s\n' "bench graph path" "$(grep -o '"graph_path": "[^"]*"' "$logs/bench.json" 2>/dev/null | cut -d'"' -f4)"
  printf '%-30s %s\n' "train (first, second)" "$(verdict $train_first), $(verdict $train)"
  printf '%-30s %s\n' "same seed twice" "$same_seed"
  printf '%-30s %s\n' "2 + resume to 4 vs 4 epochs" "$resumed"
  printf '%-30s %s\n' "opencl selftest" "$opencl_selftest"
  echo
  printf '%-24s %-18s %10s %10s %12s %10s\n' "side by side ($epochs ep)" "status" "process s" "loop s" "train loss" "test MSE"
  printf '%-24s %-18s %10s %10s %12s %10s\n' "gpuae (first process)" "$(verdict $train_first)" "$first_process" \
    "$(grep -o '"seconds": [0-9.eE+-]*' "$work/first/metrics.json" 2>/dev/null | awk '{s += $2} END {if (NR) printf "%.3f", s}')" \
    "$(grep -o '"loss": [0-9.eE+-]*' "$work/first/metrics.json" 2>/dev/null | tail -n 1 | awk '{print $2}')" "-"
  printf '%-24s %-18s %10s %10s %12s %10s\n' "gpuae" "$(verdict $train)" "$process" "${loop:-?}" \
    "$(grep -o '"loss": [0-9.eE+-]*' "$logs/metrics.json" 2>/dev/null | tail -n 1 | awk '{print $2}')" "${test_mse:-?}"
  for v in "${variants[@]}"; do
    printf '%-24s %-18s %10s %10s %12s %10s\n' "torch $v" "${peer_status[$v]:-not run}" "${peer_process[$v]:--}" \
      "$(json "$logs/peer-$v.json" train_loop_seconds)" "$(json "$logs/peer-$v.json" final_train_loss)" "$(json "$logs/peer-$v.json" test_mse)"
  done
  echo
  echo "call took $(elapsed) s of a $budget s budget"
} | tee "$logs/summary.txt"
echo
cat "$logs/compare.json"
[ $selftest -eq 0 ] && [ $bench -eq 0 ] && [ $train_first -eq 0 ] && [ $train -eq 0 ] && [ $evaluate -eq 0 ] && [ $repeat -eq 0 ] \
  && [ "$same_seed" = identical ] && [ "$resumed" = identical ]
