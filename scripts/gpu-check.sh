#!/usr/bin/env bash
# Runs on a GPU host without .NET: unpacks the bundle from gpu-bundle.sh, then checks and times
# gpuae there (train, selftest, bench, determinism, graph replay against plain launches, fp32 and
# TF32 over seeds 0-2, one sweep against the same runs as separate train processes), then tries
# OpenCL, then times the PyTorch peer (bench/pytorch/lab1.py) on the same device in the same call.
# gpuae comes first because its figures matter most. Logs, peer.json and compare.json go to $OUT
# when it is set, else to ./gpu-check-<time>. The whole call keeps within --budget seconds
# (default 530, under 9 minutes): every step is skipped when its estimate no longer fits, every
# process gets a timeout, and compare.json is rewritten after each section, so a call cut short
# still leaves what it measured. A key of compare.json that could not be measured is null, and the
# log says why.
#
#   scripts/gpu-check.sh ARCHIVE|GPUAE_DIR DATA_DIR [--accelerator cuda|opencl|cpu] [--limit N] [--epochs N]
#       [--steps N] [--sweep-epochs N] [--sweep-grid K] [--budget S] [--peer-timeout S] [--compile-timeout S]
#       [--no-peer] [--no-opencl] [--opencl-debs DIR] [--python PY]
#
# The sweep check trains a K x K grid (learning rates x bottleneck sizes, K up to 5, default 5) for
# --sweep-epochs (default 3) on the same data as the rest (--limit or all of it).
# ARCHIVE is the bundle; a folder holding a built gpuae is used as it is (to try the script on a
# development machine, e.g. with --accelerator cpu --limit 2048 --epochs 1 --sweep-epochs 1 --sweep-grid 2).
set -uo pipefail
usage="usage: $0 ARCHIVE|GPUAE_DIR DATA_DIR [--accelerator cuda|opencl|cpu] [--limit N] [--epochs N] [--steps N] [--sweep-epochs N] [--sweep-grid K] [--budget S] [--peer-timeout S] [--compile-timeout S] [--no-peer] [--no-opencl] [--opencl-debs DIR] [--python PY]"
if [ $# -lt 2 ]; then
  echo "$usage" >&2
  exit 2
fi
began=$(date +%s)
archive=$1 data=$2
shift 2
accelerator=cuda limit="" limit_n="" epochs=50 steps=50 budget=530 peer_timeout=90 compile_timeout=150
sweep_epochs=3 sweep_grid=5 peer=1 opencl=1 opencl_debs="" python=""
while [ $# -gt 0 ]; do
  case $1 in
    --accelerator) accelerator=$2; shift 2 ;;
    --limit) limit="--limit $2" limit_n=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --sweep-epochs) sweep_epochs=$2; shift 2 ;;
    --sweep-grid) sweep_grid=$2; shift 2 ;;
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
if ! [[ $sweep_grid =~ ^[1-5]$ ]]; then
  echo "gpu-check: --sweep-grid takes 1 to 5, got $sweep_grid" >&2
  exit 2
fi
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

verdict() { case $1 in 0) echo ok ;; 124|137) echo "TIMEOUT ($1)" ;; *) echo "FAILED ($1)" ;; esac; }
# The first (top-level) value of a key in a JSON file; nested family figures come after it.
json() { grep -o "\"$2\": [0-9.eE+-]*" "$1" 2>/dev/null | head -n 1 | awk '{print $2}'; }
json_text() { grep -o "\"$2\": \"[^\"]*\"" "$1" 2>/dev/null | head -n 1 | cut -d'"' -f4; }
model_sha() { sha256sum "$1/model.safetensors" 2>/dev/null | cut -c1-16; }
# A run's training-loop seconds (its epochs' "seconds" summed) and its final epoch loss, from metrics.json.
loop_seconds() { grep -o '"seconds": [0-9.eE+-]*' "$1" 2>/dev/null | awk '{s += $2} END {if (NR) printf "%.3f", s}'; }
final_loss() { grep -o '"loss": [0-9.eE+-]*' "$1" 2>/dev/null | tail -n 1 | awk '{print $2}'; }
# Images trained per second of training loop over the runs of these metrics.json files together:
# each run's images times its epochs, over the sum of all their epoch seconds.
throughput() {
  awk '/"images":/ && !(FILENAME in images) {v = $2; gsub(/[^0-9]/, "", v); images[FILENAME] = v}
       /"seconds":/ {epochs[FILENAME]++; s += $2}
       END {for (f in epochs) n += images[f] * epochs[f]; if (s > 0) printf "%.0f", n / s}' "$@" 2>/dev/null
}
# timed_runs RC START DIR: "status|wall|rate" of runs started at START whose folders are under DIR;
# no wall unless all of them finished.
timed_runs() {
  local wall metrics
  wall=$(span "$2" "$(now)")
  [ "$1" -eq 0 ] || wall=""
  metrics=("$3"/*/metrics.json)
  printf '%s|%s|%s\n' "$(verdict "$1")" "$wall" "$([ -e "${metrics[0]}" ] && throughput "${metrics[@]}")"
}
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 > 0) printf "%.3f", a / b}'; }
mean() { [ $# -gt 0 ] && printf '%s\n' "$@" | awk '{s += $1} END {printf "%.6f", s / NR}'; }

# Seconds since $began, and what is left of the budget.
elapsed() { echo $(( $(date +%s) - began )); }
left() { echo $(( budget - $(elapsed) )); }
now() { date +%s.%N; }
span() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

# Each step prints its header, and when the next begins, how long it took.
step_name="" step_start="" step_times=()
end_step() {
  [ -n "$step_name" ] || return 0
  local took
  took=$(span "$step_start" "$(now)")
  echo "-- $took s ($(elapsed) s of the $budget s budget used)"
  step_times+=("$(printf '%8s  %s' "$took" "$step_name")")
  step_name=""
}
step() { end_step; step_name=$1; step_start=$(now); echo; echo "== $1"; }
# Kept back for the summary and compare.json, whatever else is skipped; a process the budget stops
# gets 5 s after its SIGTERM (gpuae checkpoints then) before it is killed.
reserve=15
# fits WHAT SECONDS: whether a step estimated at SECONDS still fits the budget; says so when not.
fits() {
  [ $(( $(left) - reserve )) -ge "$2" ] && return 0
  echo "$1: skipped, needs about $2 s and $(( $(left) - reserve )) s of the budget are free ($reserve s are kept for the summary)"
  return 1
}
# gpuae, stopped when the budget runs out so that the summary is still written.
gp() {
  local cap=$(( $(left) - reserve ))
  [ $cap -ge 5 ] || cap=5
  timeout -k 5 "$cap" "$gpuae" "$@"
}
# About how long one gpuae process takes on this host, for the estimates; measured as soon as one ran.
per_process=10
measured_process() { [ -n "$1" ] && per_process=$(awk -v s="$1" 'BEGIN {p = int(s) + 1; print (p < 3) ? 3 : p}'); }

# Why a compare.json key is null, for the log; set where the measurement failed or was skipped.
declare -A why

# The first thing gpuae does on this host is the run a user would start: train with the defaults
# (checkpoints included), timed from outside as a whole process; then the same again.
step "train (first process on this host) --accelerator $accelerator --epochs $epochs $limit"
start=$(now)
# shellcheck disable=SC2086
gp train --accelerator "$accelerator" --epochs "$epochs" $limit --data "$data" --out "$work/first"
train_first=$?
first_process=$(span "$start" "$(now)")
echo "process wall: $first_process s"
[ $train_first -eq 0 ] || why[gpuae_first_process_s]="the first train $(verdict $train_first)"
measured_process "$first_process"

step "nvidia-smi, and the accelerators ILGPU sees"
nvidia-smi 2>&1 || echo "nvidia-smi: not available"
gp devices

selftest=skipped
step "selftest --accelerator $accelerator"
if fits selftest $(( 3 * per_process )); then
  gp selftest --accelerator "$accelerator"
  selftest=$?
fi

# The TF32 product runs on the tensor cores only on CUDA: its rows against float64 come before any
# TF32 training below relies on it.
selftest_tf32=skipped
step "selftest --accelerator $accelerator --precision tf32"
if [ "$accelerator" != cuda ]; then
  echo "not run: TF32 is CUDA's alone"
elif fits "TF32 selftest" $(( 3 * per_process )); then
  gp selftest --accelerator "$accelerator" --precision tf32
  selftest_tf32=$?
fi

bench=skipped
step "bench --accelerator $accelerator --steps $steps --json"
if fits bench "$per_process"; then
  gp bench --accelerator "$accelerator" --steps "$steps" --json > "$logs/bench.json"
  bench=$?
  cat "$logs/bench.json"
fi
[ "$bench" = 0 ] || why[cuda_step_ms]="bench $([ "$bench" = skipped ] && echo skipped || verdict "$bench")"

train=skipped process=""
step "train (second process) --accelerator $accelerator --epochs $epochs $limit"
if fits "second train" "$per_process"; then
  start=$(now)
  # shellcheck disable=SC2086
  gp train --accelerator "$accelerator" --epochs "$epochs" $limit --data "$data" --out "$work/run"
  train=$?
  process=$(span "$start" "$(now)")
  echo "process wall: $process s"
  cp "$work/run/metrics.json" "$work/run/loss.png" "$logs/" 2>/dev/null
  [ $train -eq 0 ] && measured_process "$process"
fi
[ "$train" = 0 ] || why[gpuae_process_s]="the second train $([ "$train" = skipped ] && echo skipped || verdict "$train")"

evaluate=skipped
step "evaluate the trained model on the test set"
if [ "$train" = 0 ] && fits evaluate "$per_process"; then
  gp evaluate --accelerator "$accelerator" --model "$work/run/model.safetensors" --data "$data" --json > "$logs/evaluate.json"
  evaluate=$?
  cat "$logs/evaluate.json"
fi
[ "$evaluate" = 0 ] || why[gpuae_fp32_test_mse]="evaluate $([ "$evaluate" = skipped ] && echo "not run (no trained model or no budget)" || verdict "$evaluate")"
loop=$(loop_seconds "$logs/metrics.json")
test_mse=$(json "$logs/evaluate.json" test_mse)
[ -n "$loop" ] || why[gpuae_fp32_train_s]=${why[gpuae_process_s]:-"no epoch seconds in the second train's metrics.json"}

short_limit=$(( ${limit_n:-8192} < 8192 ? ${limit_n:-8192} : 8192 ))
short() { gp train --accelerator "$accelerator" --limit "$short_limit" --data "$data" "$@" > /dev/null; }
repeat=skipped same_seed="not run" resumed="not run"
step "determinism and resume (3 and 2+2 epochs on up to 8192 images)"
if fits determinism $(( 5 * per_process )); then
  short --epochs 3 --out "$work/a" && short --epochs 3 --out "$work/b" \
    && short --epochs 2 --out "$work/c" && gp train --resume "$work/c" --epochs 4 --accelerator "$accelerator" --data "$data" > /dev/null \
    && short --epochs 4 --out "$work/d"
  repeat=$?
  same_seed=$([ -n "$(model_sha "$work/a")" ] && [ "$(model_sha "$work/a")" = "$(model_sha "$work/b")" ] && echo identical || echo DIFFERENT)
  resumed=$([ -n "$(model_sha "$work/c")" ] && [ "$(model_sha "$work/c")" = "$(model_sha "$work/d")" ] && echo identical || echo DIFFERENT)
  echo "same seed twice: $same_seed ($(model_sha "$work/a") / $(model_sha "$work/b"))"
  echo "2 epochs + resume to 4 vs 4: $resumed ($(model_sha "$work/c") / $(model_sha "$work/d"))"
fi

# The captured CUDA graph must replay exactly the launches it recorded: the same short run with
# plain launches (--no-graphs) gives the same weights as the determinism step's first run.
graphs="not run"
step "graph replay vs plain launches (3 epochs on up to 8192 images, --no-graphs)"
if ! "$gpuae" train --help 2>/dev/null | grep -q -- '--no-graphs'; then
  echo "gpuae train has no --no-graphs flag in this build"
  graphs="not run (no --no-graphs flag)"
elif [ -z "$(model_sha "$work/a")" ]; then
  echo "the determinism step's first run is missing: nothing to compare with"
  graphs="not run (no graph run to compare with)"
elif fits "graph replay vs plain launches" "$per_process"; then
  short --epochs 3 --no-graphs --out "$work/plain"
  graphs=$([ -n "$(model_sha "$work/plain")" ] && [ "$(model_sha "$work/a")" = "$(model_sha "$work/plain")" ] && echo identical || echo DIFFERENT)
else
  graphs="not run (budget)"
fi
echo "graph replay vs plain launches: $graphs ($(model_sha "$work/a") / $(model_sha "$work/plain"))"

# ---------------------------------------------------------------- fp32 and TF32 over seeds 0-2
# Each seed trains the full --epochs and is evaluated on the test set; TF32's mean test MSE should
# stay within 2 % of fp32's. fp32 seed 0 is the second train above.
declare -A seed_loop seed_mse seed_why
seed_loop[fp32-0]=$loop seed_mse[fp32-0]=$test_mse
[ -n "$test_mse" ] || seed_why[fp32-0]="the second train or its evaluation did not finish"
# seed_run PRECISION SEED: train and evaluate one seed, filling seed_loop, seed_mse or seed_why.
seed_run() {
  local precision=$1 seed=$2 name=$1-$2 rc
  if ! fits "$precision seed $seed" $(( 2 * per_process )); then seed_why[$name]="skipped (budget)"; return; fi
  # shellcheck disable=SC2086
  gp train --accelerator "$accelerator" --epochs "$epochs" $limit --seed "$seed" --precision "$precision" \
    --data "$data" --out "$work/$name" --no-progress > "$logs/train-$name.txt" 2>&1
  rc=$?
  if [ $rc -ne 0 ]; then
    seed_why[$name]="train $(verdict $rc): $(tail -n 1 "$logs/train-$name.txt" | cut -c1-200)"
    echo "$precision seed $seed: ${seed_why[$name]}"
    return
  fi
  seed_loop[$name]=$(loop_seconds "$work/$name/metrics.json")
  gp evaluate --accelerator "$accelerator" --model "$work/$name/model.safetensors" --data "$data" --json > "$logs/evaluate-$name.json"
  rc=$?
  seed_mse[$name]=$(json "$logs/evaluate-$name.json" test_mse)
  [ -n "${seed_mse[$name]}" ] || seed_why[$name]="evaluate $(verdict $rc)"
  echo "$precision seed $seed: loop ${seed_loop[$name]} s, final loss $(final_loss "$work/$name/metrics.json"), test MSE ${seed_mse[$name]:-none (${seed_why[$name]})}"
}
# seeds_mean PRECISION: the mean test MSE over seeds 0-2, empty when a seed is missing.
seeds_mean() {
  local precision=$1 s values=()
  for s in 0 1 2; do
    [ -n "${seed_mse[$precision-$s]:-}" ] || { echo ""; return; }
    values+=("${seed_mse[$precision-$s]}")
  done
  mean "${values[@]}"
}
# seeds_missing PRECISION: which of seeds 0-2 have no test MSE, and why, each reason once.
seeds_missing() {
  local s
  for s in 0 1 2; do [ -n "${seed_mse[$1-$s]:-}" ] || printf '%s\t%s\n' "$s" "${seed_why[$1-$s]:-not run}"; done \
    | awk -F '\t' '{if (!($2 in seeds)) order[++n] = $2; seeds[$2] = seeds[$2] (seeds[$2] == "" ? "" : ",") $1}
                   END {for (i = 1; i <= n; i++) printf "%sseed%s %s: %s", (i > 1) ? "; " : "", index(seeds[order[i]], ",") ? "s" : "", seeds[order[i]], order[i]}'
}

step "fp32 seeds 1 and 2 (--epochs $epochs $limit), each evaluated on the test set"
for s in 1 2; do seed_run fp32 "$s"; done
step "tf32 seeds 0, 1 and 2 (--precision tf32 --epochs $epochs $limit), each evaluated on the test set"
for s in 0 1 2; do seed_run tf32 "$s"; done
fp32_mean=$(seeds_mean fp32) tf32_mean=$(seeds_mean tf32)
[ -n "$fp32_mean" ] || why[fp32_test_mse_seeds012]=$(seeds_missing fp32)
[ -n "$tf32_mean" ] || why[tf32_test_mse_seeds012]=$(seeds_missing tf32)
[ -n "${seed_loop[tf32-0]:-}" ] || why[gpuae_tf32_train_s]="tf32 seed 0: ${seed_why[tf32-0]:-not run}"
tf32_vs_fp32=""
if [ -n "$fp32_mean" ] && [ -n "$tf32_mean" ]; then
  tf32_vs_fp32=$(awk -v t="$tf32_mean" -v f="$fp32_mean" 'BEGIN {d = (t - f) / f * 100; printf "%+.2f %% (%s the 2 %% target)", d, (d <= 2 && d >= -2) ? "within" : "OUTSIDE"}')
fi
echo "test MSE over seeds 0-2: fp32 ${fp32_mean:-?}, tf32 ${tf32_mean:-?}; tf32 vs fp32: ${tf32_vs_fp32:-not measured}"

# ---------------------------------------------------------------- one sweep vs separate processes
# The same grid once as one sweep process and once as separate train processes, one after another.
# What a user waits for: the separate processes' wall over the sweep's. What the device does: images
# per training-loop second over the sweep's runs, against the same over the lone runs.
lrs=(0.0005 0.001 0.002 0.003 0.005) bottlenecks=(2 4 8 16 32)
lrs=("${lrs[@]:0:$sweep_grid}") bottlenecks=("${bottlenecks[@]:0:$sweep_grid}")
grid_runs=$(( sweep_grid * sweep_grid ))
sweep_wall="" lone_wall="" sweep_rate="" lone_rate="" sweep_status="not run" lone_status="not run"
step "sweep: $grid_runs runs (--lr ${lrs[*]} x --bottleneck ${bottlenecks[*]}), $sweep_epochs epochs each on ${limit_n:-all} images, one process"
[ "$sweep_epochs" = "$epochs" ] || echo "($sweep_epochs epochs instead of $epochs, so that the sweep and its $grid_runs separate processes fit the budget)"
if fits sweep $(( 2 * per_process + grid_runs * sweep_epochs * per_process / 20 )); then
  start=$(now)
  # shellcheck disable=SC2086
  gp sweep --accelerator "$accelerator" --lr "$(IFS=,; echo "${lrs[*]}")" --bottleneck "$(IFS=,; echo "${bottlenecks[*]}")" \
    --epochs "$sweep_epochs" $limit --data "$data" --out "$work/sweep" --no-progress > "$logs/sweep.txt" 2>&1
  rc=$?
  IFS='|' read -r sweep_status sweep_wall sweep_rate < <(timed_runs $rc "$start" "$work/sweep")
  tail -n 3 "$logs/sweep.txt"
  cp "$work/sweep/sweep.json" "$logs/" 2>/dev/null
  echo "sweep: $sweep_status, wall ${sweep_wall:-?} s, ${sweep_rate:-?} images per training-loop second"
else
  sweep_status="skipped (budget)"
fi

step "the same $grid_runs runs as separate train processes, one after another"
if [ "$sweep_status" != ok ]; then
  echo "not run: the sweep did not finish ($sweep_status)"
elif fits "separate processes" $(( grid_runs * per_process )); then
  start=$(now) rc=0
  for lr in "${lrs[@]}"; do
    for z in "${bottlenecks[@]}"; do
      # shellcheck disable=SC2086
      gp train --accelerator "$accelerator" --lr "$lr" --bottleneck "$z" --epochs "$sweep_epochs" $limit --data "$data" \
        --out "$work/lone/z$z-lr$lr" --no-progress > "$logs/lone.txt" 2>&1 || { rc=$?; tail -n 1 "$logs/lone.txt"; break 2; }
    done
  done
  IFS='|' read -r lone_status lone_wall lone_rate < <(timed_runs $rc "$start" "$work/lone")
  echo "separate processes: $lone_status, wall ${lone_wall:-?} s, ${lone_rate:-?} images per training-loop second"
else
  lone_status="skipped (budget)"
fi
sweep_user_time_ratio=$(ratio "$lone_wall" "$sweep_wall")
sweep_throughput_ratio=$(ratio "$sweep_rate" "$lone_rate")
[ -n "$sweep_user_time_ratio" ] || why[sweep_user_time_ratio]="sweep $sweep_status, separate processes $lone_status"
[ -n "$sweep_throughput_ratio" ] || why[sweep_throughput_ratio]="sweep $sweep_status, separate processes $lone_status"
echo "user-time ratio (separate processes / sweep): ${sweep_user_time_ratio:-?}; throughput ratio (sweep / lone runs): ${sweep_throughput_ratio:-?}"

# ---------------------------------------------------------------- compare.json
# Every compare.json carries exactly these keys, null where this call did not measure it. It is
# written after each section, so a call stopped from outside still leaves what it had measured.
compare_keys=(device gpuae_fp32_train_s gpuae_process_s gpuae_first_process_s gpuae_fp32_test_mse cuda_step_ms
  torch_eager_fp32_train_s torch_best_fp32_train_s torch_best_tf32_train_s torch_best_process_s
  opencl_selftest opencl_step_ms opencl_evidence gpuae_tf32_train_s tf32_test_mse_seeds012 fp32_test_mse_seeds012
  sweep_throughput_ratio sweep_user_time_ratio)
num() { [ -n "$1" ] && echo "$1" || echo null; }
jstr() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
declare -A peer_status peer_process
variants=()
opencl_selftest=null opencl_step_ms=null opencl_evidence=""
best() { # best KEY over variants matching PATTERN with status ok: the minimum
  local key=$1 pattern=$2 v val out=""
  for v in "${variants[@]}"; do
    [[ $v == $pattern ]] && [ "${peer_status[$v]:-}" = ok ] || continue
    if [ "$key" = process ]; then val=${peer_process[$v]}; else val=$(json "$logs/peer-$v.json" "$key"); fi
    [ -n "$val" ] && out=$(awk -v a="$out" -v b="$val" 'BEGIN {print (a == "" || b + 0 < a + 0) ? b : a}')
  done
  echo "$out"
}
step_s=$(json "$logs/bench.json" seconds_per_step)
cuda_step_ms=""
if [ "$accelerator" != cuda ]; then
  why[cuda_step_ms]="the accelerator is $accelerator"
elif [ -n "$step_s" ]; then
  cuda_step_ms=$(awk -v s="$step_s" 'BEGIN {printf "%.4f", s * 1e3}')
fi
device_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
[ -n "$device_name" ] || device_name=$(json_text "$logs/bench.json" device)
declare -A value
write_compare() {
  value=(
    [device]=$(jstr "$accelerator: ${device_name:-unknown}")
    [gpuae_fp32_train_s]=$(num "$loop")
    [gpuae_process_s]=$(num "$process")
    [gpuae_first_process_s]=$(num "$([ "$train_first" -eq 0 ] && echo "$first_process")")
    [gpuae_fp32_test_mse]=$(num "$test_mse")
    [cuda_step_ms]=$(num "$cuda_step_ms")
    [torch_eager_fp32_train_s]=$(num "$([ "${peer_status[eager-fp32]:-}" = ok ] && json "$logs/peer-eager-fp32.json" train_loop_seconds)")
    [torch_best_fp32_train_s]=$(num "$(best train_loop_seconds '*-fp32')")
    [torch_best_tf32_train_s]=$(num "$(best train_loop_seconds '*-tf32')")
    [torch_best_process_s]=$(num "$(best process '*')")
    [opencl_selftest]=$opencl_selftest
    [opencl_step_ms]=$opencl_step_ms
    [opencl_evidence]=$([ -n "$opencl_evidence" ] && jstr "$opencl_evidence" || echo null)
    [gpuae_tf32_train_s]=$(num "${seed_loop[tf32-0]:-}")
    [tf32_test_mse_seeds012]=$(num "$tf32_mean")
    [fp32_test_mse_seeds012]=$(num "$fp32_mean")
    [sweep_throughput_ratio]=$(num "$sweep_throughput_ratio")
    [sweep_user_time_ratio]=$(num "$sweep_user_time_ratio")
  )
  local key sep=""
  {
    echo "{"
    for key in "${compare_keys[@]}"; do
      printf '%s  "%s": %s' "$sep" "$key" "${value[$key]}"
      sep=$',\n'
    done
    echo
    echo "}"
  } > "$logs/compare.json"
}
write_compare

# ---------------------------------------------------------------- OpenCL
# ILGPU opens the unversioned libOpenCL.so. Use the ICD loader the host has, or one unpacked from
# Debian's ocl-icd-libopencl1 .deb carried beside this script (--opencl-debs); without a
# nvidia.icd registration, point the loader straight at NVIDIA's OpenCL library. The timeouts are
# short: OpenCL is a side check, and the PyTorch peer still has to fit after it.
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
  # ocl SECONDS ARGS...: gpuae on OpenCL, stopped after SECONDS or when the budget runs out.
  ocl() {
    local limit_s=$1 cap=$(( $(left) - reserve ))
    shift
    [ $cap -lt "$limit_s" ] && limit_s=$cap
    [ "$limit_s" -ge 5 ] || limit_s=5
    timeout -k 5 "$limit_s" "${ocl_env[@]}" "$gpuae" "$@"
  }

  step "selftest --accelerator opencl"
  if fits "OpenCL selftest" 30; then
    ocl 60 selftest --accelerator opencl > "$logs/opencl-selftest.txt" 2>&1
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
    if [ $ocl_rc -ne 0 ]; then
      why[opencl_step_ms]="the OpenCL selftest did not pass (exit $ocl_rc)"
    else
      step "train --accelerator opencl --epochs 2 $limit"
      ocl_train=skipped
      if fits "OpenCL train" 20; then
        # shellcheck disable=SC2086
        ocl 45 train --accelerator opencl --epochs 2 $limit --data "$data" --out "$work/ocl-run" --no-progress
        ocl_train=$?
        cp "$work/ocl-run/metrics.json" "$logs/opencl-metrics.json" 2>/dev/null
      fi
      step "bench --accelerator opencl --steps 20 --json"
      if fits "OpenCL bench" 20; then
        ocl 45 bench --accelerator opencl --steps 20 --json > "$logs/opencl-bench.json"
        rc=$?
        s=$(json "$logs/opencl-bench.json" seconds_per_step)
        [ -n "$s" ] && opencl_step_ms=$(awk -v s="$s" 'BEGIN {printf "%.4f", s * 1e3}')
        [ -n "$s" ] || why[opencl_step_ms]="OpenCL bench $(verdict $rc)"
      else
        why[opencl_step_ms]="OpenCL bench skipped (budget)"
      fi
      opencl_evidence="$opencl_evidence; 2-epoch train $([ "$ocl_train" = skipped ] && echo skipped || echo "exit $ocl_train"), final loss $(final_loss "$logs/opencl-metrics.json")"
    fi
  else
    for k in opencl_selftest opencl_step_ms opencl_evidence; do why[$k]="OpenCL skipped (budget)"; done
  fi
else
  for k in opencl_selftest opencl_step_ms opencl_evidence; do why[$k]="--no-opencl"; done
fi
write_compare

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
peer_why=""
if [ $peer -eq 0 ]; then
  peer_why="--no-peer"
elif [ -z "$python" ]; then
  peer_why="no python3 on this host"
fi
if [ -z "$peer_why" ]; then
  step "PyTorch peer ($peer_device): ${variants[*]}"
  if torch_version=$("$python" -c 'import torch; print(torch.__version__)' 2>&1); then
    echo "torch $torch_version"
  else
    peer_why="$python cannot import torch: $(echo "$torch_version" | tail -n 1 | cut -c1-200)"
  fi
fi
if [ -z "$peer_why" ]; then
  for v in "${variants[@]}"; do
    limit_s=$([ "${v%%-*}" = compile ] && echo "$compile_timeout" || echo "$peer_timeout")
    remaining=$(( $(left) - reserve ))
    if [ "$remaining" -lt 20 ]; then
      peer_status[$v]="skipped (budget)"
      echo "$v: skipped, $(left) s of the budget left"
      continue
    fi
    [ "$remaining" -lt "$limit_s" ] && limit_s=$remaining
    start=$(now)
    # shellcheck disable=SC2086
    timeout -k 5 "$limit_s" "$python" "$repo/bench/pytorch/lab1.py" --device "$peer_device" --variant "$v" --epochs "$epochs" \
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
  [ "${peer_status[eager-fp32]:-}" = ok ] || why[torch_eager_fp32_train_s]="eager-fp32 ${peer_status[eager-fp32]:-not run}"
  [ -n "$(best train_loop_seconds '*-fp32')" ] || why[torch_best_fp32_train_s]="no fp32 variant finished"
  [ -n "$(best train_loop_seconds '*-tf32')" ] || why[torch_best_tf32_train_s]="no tf32 variant finished$([ "$peer_device" = cpu ] && echo " (the CPU peer has none)")"
  [ -n "$(best process '*')" ] || why[torch_best_process_s]="no variant finished"
else
  echo "PyTorch peer: not run, $peer_why"
  for v in "${variants[@]}"; do peer_status[$v]="not run"; done
  for k in torch_eager_fp32_train_s torch_best_fp32_train_s torch_best_tf32_train_s torch_best_process_s; do why[$k]="PyTorch peer not run: $peer_why"; done
fi

# ---------------------------------------------------------------- peer.json and compare.json
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
write_compare

end_step
echo
echo "== summary"
{
  printf '%-32s %s\n' "selftest" "$([ "$selftest" = skipped ] && echo skipped || verdict "$selftest")"
  printf '%-32s %s\n' "selftest tf32" "$([ "$selftest_tf32" = skipped ] && echo skipped || verdict "$selftest_tf32")"
  printf '%-32s %s\n' "bench" "$([ "$bench" = skipped ] && echo skipped || verdict "$bench")"
  printf '%-32s %s\n' "bench images/s" "$(json "$logs/bench.json" samples_per_second)"
  printf '%-32s %s\n' "bench GFLOP/s" "$(json "$logs/bench.json" gflops)"
  printf '%-32s %s\n' "bench 50-epoch estimate (s)" "$(json "$logs/bench.json" estimated_50_epoch_seconds)"
  printf '%-32s %s\n' "bench step path" "$(json_text "$logs/bench.json" step_path | grep . || echo "(none in bench.json)")"
  printf '%-32s %s\n' "train (first, second)" "$(verdict "$train_first"), $([ "$train" = skipped ] && echo skipped || verdict "$train")"
  printf '%-32s %s\n' "same seed twice" "$same_seed"
  printf '%-32s %s\n' "2 + resume to 4 vs 4 epochs" "$resumed"
  printf '%-32s %s\n' "graph replay vs plain launches" "$graphs"
  printf '%-32s %s\n' "test MSE seeds 0-2 fp32 (mean)" "${fp32_mean:-null} (${seed_mse[fp32-0]:--} ${seed_mse[fp32-1]:--} ${seed_mse[fp32-2]:--})"
  printf '%-32s %s\n' "test MSE seeds 0-2 tf32 (mean)" "${tf32_mean:-null} (${seed_mse[tf32-0]:--} ${seed_mse[tf32-1]:--} ${seed_mse[tf32-2]:--})"
  printf '%-32s %s\n' "tf32 vs fp32 test MSE" "${tf32_vs_fp32:-not measured}"
  printf '%-32s %s\n' "tf32 seed 0 loop (s)" "${seed_loop[tf32-0]:--}"
  printf '%-32s %s\n' "sweep ($grid_runs runs, $sweep_epochs ep) wall (s)" "${sweep_wall:--} ($sweep_status); separate processes ${lone_wall:--} ($lone_status)"
  printf '%-32s %s\n' "sweep images/loop s" "${sweep_rate:--} (sweep), ${lone_rate:--} (lone runs)"
  printf '%-32s %s\n' "sweep user-time ratio" "${sweep_user_time_ratio:-null}"
  printf '%-32s %s\n' "sweep throughput ratio" "${sweep_throughput_ratio:-null}"
  printf '%-32s %s\n' "opencl selftest" "$opencl_selftest"
  echo
  printf '%-24s %-18s %10s %10s %12s %10s\n' "side by side ($epochs ep)" "status" "process s" "loop s" "train loss" "test MSE"
  printf '%-24s %-18s %10s %10s %12s %10s\n' "gpuae (first process)" "$(verdict "$train_first")" "$first_process" \
    "$(loop_seconds "$work/first/metrics.json")" "$(final_loss "$work/first/metrics.json")" "-"
  printf '%-24s %-18s %10s %10s %12s %10s\n' "gpuae" "$([ "$train" = skipped ] && echo skipped || verdict "$train")" "${process:--}" "${loop:-?}" \
    "$(final_loss "$logs/metrics.json")" "${test_mse:-?}"
  printf '%-24s %-18s %10s %10s %12s %10s\n' "gpuae tf32 seed 0" "${seed_why[tf32-0]:+not measured}" "-" "${seed_loop[tf32-0]:--}" \
    "$(final_loss "$work/tf32-0/metrics.json")" "${seed_mse[tf32-0]:--}"
  for v in "${variants[@]}"; do
    printf '%-24s %-18s %10s %10s %12s %10s\n' "torch $v" "${peer_status[$v]:-not run}" "${peer_process[$v]:--}" \
      "$(json "$logs/peer-$v.json" train_loop_seconds)" "$(json "$logs/peer-$v.json" final_train_loss)" "$(json "$logs/peer-$v.json" test_mse)"
  done
  echo
  echo "null in compare.json, and why:"
  for key in "${compare_keys[@]}"; do
    [ "${value[$key]}" = null ] && printf '  %-26s %s\n' "$key" "${why[$key]:-not measured}"
  done
  echo
  echo "steps (s):"
  printf '%s\n' "${step_times[@]}"
  echo "call took $(elapsed) s of a $budget s budget"
} | tee "$logs/summary.txt"
echo
cat "$logs/compare.json"
[ "$selftest" = 0 ] && [ "$bench" = 0 ] && [ "$train_first" -eq 0 ] && [ "$train" = 0 ] && [ "$evaluate" = 0 ] && [ "$repeat" = 0 ] \
  && { [ "$selftest_tf32" = 0 ] || [ "$selftest_tf32" = skipped ]; } \
  && [ "$same_seed" = identical ] && [ "$resumed" = identical ] && { [ "$graphs" = identical ] || [[ $graphs == "not run"* ]]; }
