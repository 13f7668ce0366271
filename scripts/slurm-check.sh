#!/usr/bin/env bash
# The sweep's shards on a real Slurm. Starts a one-node Slurm on this machine (Debian's slurm-wlm and
# munge, each daemon started by hand under a temporary folder, no systemd), submits the job file of
# docs/SWEEPS.md, read from that page, as a job array with a small grid, merges the shards, and checks
# the merge against the same sweep run unsharded: the same rows (timings aside) and every run's
# model.safetensors byte-equal. Then it cancels one array task mid-run with scancel, resubmits it, and
# checks that it resumed from its checkpoint and that the merge is still equal.
#
#   scripts/slurm-check.sh            the check (as root: slurmd runs jobs as their user)
#   scripts/slurm-check.sh --install  only install slurm-wlm and munge where they are missing
#
# The check installs them too where they are missing. GPUAE (default: the Release build of src/Cli,
# built first) is the command that runs gpuae; the jobs find it on their PATH as `gpuae`, as a user's
# installed tool. Ends with "slurm: N shards, M runs merged, all equal" and exit 0; exits 1 on any
# difference or failure, and 77 with the reason on stderr where Slurm cannot be started here. Every
# daemon it started is stopped by its PID, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

skip() { echo "slurm-check: skipped: $*" >&2; exit 77; }
fail() { echo "slurm-check: FAILED: $*" >&2; exit 1; }
say() { echo "slurm-check: $* (${SECONDS} s)"; }

installed() { for c in slurmctld slurmd sbatch munged; do command -v "$c" >/dev/null || return 1; done; }

install_slurm() {
  installed && return 0
  [ "$(id -u)" = 0 ] || skip "slurm-wlm and munge are not installed, and installing them needs root"
  command -v apt-get >/dev/null || skip "slurm-wlm and munge are not installed, and there is no apt-get to install them"
  echo "slurm-check: installing slurm-wlm and munge"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge; } >/dev/null \
    || fail "apt-get install slurm-wlm munge"
  installed || fail "slurm-wlm and munge were installed but their commands are not on PATH"
}

[ "$(uname -s)" = Linux ] || skip "Slurm runs on Linux only"
[ "$(id -u)" = 0 ] || skip "needs root: slurmd runs every job as the user who submitted it"
install_slurm
[ "${1:-}" = --install ] && exit 0

# Small enough for CI: 4 runs of 2 epochs on 256 generated images, in 2 shards of 2 runs.
shards=2
limit=256
sweep_options=(--accelerator cpu --limit "$limit" --batch 64 --epochs 2 --bottleneck 2,4 --seeds 0-1)

state=$(mktemp -d "${TMPDIR:-/tmp}/gpuae-slurm.XXXXXX")
pids=()
keep=0

# scancel first, since a job's slurmstepd outlives slurmd; then the daemons, newest first.
stop_all() {
  local status=$? pid i
  if [ "${#pids[@]}" -gt 1 ]; then
    scancel --quiet --full --user=root 2>/dev/null || true
    for _ in $(seq 100); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in "$state"/*.log "$state"/submit/*.out; do
      [ -f "$log" ] && { echo "--- $log (last lines)"; tail -n 20 "$log"; } >&2
    done
    echo "slurm-check: logs kept in $state" >&2
  elif [ "$keep" = 0 ]; then
    rm -rf "$state"
  fi
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# gpuae on the jobs' PATH.
if [ -z "${GPUAE:-}" ]; then
  dotnet build src/Cli -c Release -v q -nologo >/dev/null || fail "dotnet build src/Cli"
  GPUAE="$repo/src/Cli/bin/Release/net10.0/gpuae"
fi
mkdir -p "$state/bin"
printf '#!/bin/sh\nexec %s "$@"\n' "$GPUAE" > "$state/bin/gpuae"
chmod +x "$state/bin/gpuae"
export PATH="$state/bin:$PATH"

# MNIST-shaped IDX files: a bright ring on black per image, labels 0-9 in turn.
make_idx() {
  LC_ALL=C awk -v seed="$1" -v n="$2" -v images="$3" -v labels="$4" '
    function be32(v) { printf "%c%c%c%c", int(v / 16777216) % 256, int(v / 65536) % 256, int(v / 256) % 256, v % 256 > file }
    BEGIN {
      srand(seed)
      file = images; be32(2051); be32(n); be32(28); be32(28)
      for (k = 0; k < n; k++) {
        cx = 8 + rand() * 12; cy = 8 + rand() * 12; r = 3 + rand() * 6; w = 1 + rand() * 1.5
        for (y = 0; y < 28; y++) for (x = 0; x < 28; x++) {
          d = sqrt((x - cx) ^ 2 + (y - cy) ^ 2) - r; if (d < 0) d = -d
          v = 255 * (1 - d / w); if (v < 0) v = 0
          printf "%c", int(v) > file
        }
      }
      file = labels; be32(2049); be32(n)
      for (k = 0; k < n; k++) printf "%c", k % 10 > file
    }'
}
data="$state/data"
mkdir -p "$data"
make_idx 1 "$limit" "$data/train-images-idx3-ubyte" "$data/train-labels-idx1-ubyte"
make_idx 2 100 "$data/t10k-images-idx3-ubyte" "$data/t10k-labels-idx1-ubyte"
sweep_options+=(--data "$data")

mkdir -p "$state/submit"
# The job file, exactly as docs/SWEEPS.md shows it: the bash block that starts with "# sweep.sbatch".
awk '/^```bash$/ { block = ""; inside = 1; next }
     inside && /^```$/ { if (block ~ /^#!\/bin\/bash\n# sweep\.sbatch/) printf "%s", block; inside = 0; next }
     inside { block = block $0 "\n" }' docs/SWEEPS.md > "$state/submit/sweep.sbatch"
[ -s "$state/submit/sweep.sbatch" ] || fail "docs/SWEEPS.md has no bash block starting with '# sweep.sbatch'"

free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

# munge: its own key and socket, so nothing of the host's is used or changed.
mkdir -m 700 "$state/munge"
head -c 1024 /dev/urandom > "$state/munge/munge.key"
chmod 400 "$state/munge/munge.key"
socket="$state/munge/munge.socket"
munged --foreground --force --socket="$socket" --key-file="$state/munge/munge.key" \
  --pid-file="$state/munge/munged.pid" --seed-file="$state/munge/munged.seed" --log-file="$state/munged.log" > "$state/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
munge -n -S "$socket" | unmunge -S "$socket" >/dev/null || fail "munged does not answer on $socket"

node=$(hostname -s)
cpus=$(nproc)
export SLURM_CONF="$state/slurm.conf"
cat > "$SLURM_CONF" <<EOF
ClusterName=gpuae-check
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$state/slurmctld
SlurmdSpoolDir=$state/slurmd
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
# A merge whose shards failed is cancelled rather than left pending for ever.
DependencyParameters=kill_invalid_depend
# Finished jobs stay visible to scontrol for the whole check.
MinJobAge=3600
# scancel's SIGTERM makes gpuae checkpoint after its current batch; SIGKILL follows only after this.
KillWait=30
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=check Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
mkdir -p "$state/slurmctld" "$state/slurmd"
slurmctld -D -i > "$state/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N "$node" > "$state/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ "$(sinfo -h -n "$node" -o %T 2>/dev/null)" = idle ] && break; sleep 0.2; done
[ "$(sinfo -h -n "$node" -o %T 2>/dev/null)" = idle ] || fail "the node did not come up idle: $(sinfo -h -N 2>&1 || true)"
say "one-node Slurm up ($node, $cpus CPUs)"

# Every state of the job (one per array task), once none of them is pending or running.
finished_states() {
  local id=$1 states
  for _ in $(seq 3000); do
    states=$(scontrol -o show job "$id" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort | uniq | tr '\n' ' ')
    if ! grep -qE 'PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|RESIZING' <<< "$states"; then
      echo "${states% }"
      return
    fi
    sleep 0.2
  done
  fail "job $id still not finished after 10 minutes: $states"
}

runs_of() { sed -n 's/^      "run": "\(.*\)",$/\1/p' "$1/sweep.json"; }
without_timings() { grep -v '"[a-z_]*seconds":' "$1/sweep.json"; }

# The merged sweep equals the unsharded one: same rows but timings, same weights byte for byte.
compare() {
  local dir=$1 run
  diff <(without_timings "$state/unsharded") <(without_timings "$dir") >&2 || fail "$dir/sweep.json differs from the unsharded sweep's"
  for run in $(runs_of "$state/unsharded"); do
    cmp "$state/unsharded/$run/model.safetensors" "$dir/$run/model.safetensors" >&2 || fail "$run: model.safetensors differs"
  done
}

cd "$state/submit"

# The reference: the same sweep, unsharded, outside Slurm.
gpuae sweep "${sweep_options[@]}" --out "$state/unsharded" > "$state/unsharded.log" 2>&1 || fail "the unsharded sweep failed"
runs=$(runs_of "$state/unsharded" | wc -l)
[ "$runs" -eq 4 ] || fail "the unsharded sweep has $runs runs, not 4"
say "unsharded sweep done, $runs runs"

# As docs/SWEEPS.md submits it: the array, then the merge once every task has succeeded.
out="$state/sharded"
jobid=$(sbatch --parsable --array=1-$shards sweep.sbatch $shards "${sweep_options[@]}" --out "$out")
merge=$(sbatch --parsable --dependency=afterok:"$jobid" --wrap "gpuae sweep --merge '$out' --out '$out'")
st=$(finished_states "$merge")
[ "$st" = COMPLETED ] || fail "merge job $merge: $st"
st=$(finished_states "$jobid")
[ "$st" = COMPLETED ] || fail "array job $jobid: $st"
compare "$out"
say "$shards shards merged, all runs equal to the unsharded sweep"

# A task cancelled mid-run: scancel task 1 once its first run has written its first checkpoint. Shard i
# takes every N-th run of the canonical order from the i-th on, the order of sweep.json's rows.
out="$state/cancelled"
task=1
first=$(runs_of "$state/unsharded" | head -n 1)
jobid=$(sbatch --parsable --array=1-$shards sweep.sbatch $shards "${sweep_options[@]}" --out "$out")
for _ in $(seq 3000); do [ -f "$out/$first/checkpoint.safetensors" ] && break; sleep 0.1; done
[ -f "$out/$first/checkpoint.safetensors" ] || fail "$first never wrote a checkpoint"
scancel "${jobid}_$task"
st=$(finished_states "${jobid}_$task")
[ "$st" = CANCELLED ] || fail "task $task: $st, not CANCELLED"
finished_states "$jobid" > /dev/null
log="gpuae-sweep-${jobid}_$task.out"
grep -q "the one in flight checkpointed" "$log" || fail "cancelled task $task did not checkpoint a run in flight: $(tail -n 3 "$log")"
[ ! -f "$out/$first/model.safetensors" ] || fail "$first finished before scancel reached it"

# Resubmitted as docs/SWEEPS.md says: the same arguments, the task's own number.
again=$(sbatch --parsable --array="$task" sweep.sbatch $shards "${sweep_options[@]}" --out "$out")
st=$(finished_states "$again")
[ "$st" = COMPLETED ] || fail "resubmitted task $again: $st"
log="gpuae-sweep-${again}_$task.out"
grep -q '(1 resumed from checkpoints)' "$log" || fail "the resubmitted task did not resume its run: $(grep 'sweep:' "$log")"
merge=$(sbatch --parsable --wrap "gpuae sweep --merge '$out' --out '$out'")
st=$(finished_states "$merge")
[ "$st" = COMPLETED ] || fail "merge job $merge: $st"
compare "$out"
say "task $task cancelled mid-run, resubmitted, resumed from its checkpoint, merged equal"

echo "slurm: $shards shards, $runs runs merged, all equal"
