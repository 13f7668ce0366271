#!/usr/bin/env bash
# Times README.md's first command as a new user meets it: a fresh clone of COMMIT and an empty NuGet
# cache (NUGET_PACKAGES and NuGet's HTTP cache in a new temporary folder, so every package comes from
# the feed). The install goes into a temporary --tool-path rather than --global, so this machine's own
# tools stay untouched; the command is otherwise the README's. Then the installed gpuae trains 512
# images for one epoch on the CPU accelerator, writing loss.png with the installed SkiaSharp natives.
#
#   scripts/first-install-time.sh COMMIT [DATA_DIR]
#
# Run from a clone; DATA_DIR (default: ../shared/data/mnist beside it, else gpuae's own fetch) holds
# MNIST. Prints what it measured, with no path of this machine in it, for committing under docs/.
set -euo pipefail
commit=${1:?usage: scripts/first-install-time.sh COMMIT [DATA_DIR]}
repo=$(cd "$(dirname "$0")/.." && pwd)
data=${2:-$repo/../shared/data/mnist}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NUGET_PACKAGES="$work/nuget-packages" NUGET_HTTP_CACHE_PATH="$work/nuget-http-cache"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

git clone -q --no-checkout "$repo" "$work/clone"
git -C "$work/clone" checkout -q "$commit"
cd "$work/clone"
echo "commit: $(git rev-parse --short HEAD) ($(git log -1 --format=%s | cut -c1-80))"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(nproc) cores, $(dotnet --version) SDK; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

seconds() { local start=$1; echo "$(( $(date +%s%N) / 1000000 - start ))" | awk '{ printf "%.1f", $1 / 1000 }'; }
now() { echo $(( $(date +%s%N) / 1000000 )); }

start=$(now)
dotnet pack src/Cli -c Release -o artifacts > "$work/pack.log" 2>&1 || { tail -n 30 "$work/pack.log"; exit 1; }
pack=$(seconds "$start")
middle=$(now)
dotnet tool install --tool-path "$work/tools" --add-source artifacts gpuae > "$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
install=$(seconds "$middle")
total=$(seconds "$start")
echo "first command: $total s (dotnet pack $pack s, dotnet tool install $install s)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "packages in artifacts:"
for p in artifacts/*.nupkg; do printf '  %-32s %6.1f MB\n' "$(basename "$p")" "$(stat -c %s "$p" | awk '{ print $1 / 1e6 }')"; done
echo "NuGet cache after the command: $(du -sm "$NUGET_PACKAGES" | cut -f1) MB; installed tool: $(du -sm "$work/tools" | cut -f1) MB"

mkdir "$work/run"
cd "$work/run"
data_option=()
[ -d "$data" ] && data_option=(--data "$data")
"$work/tools/gpuae" --version
if ! "$work/tools/gpuae" train --accelerator cpu --limit 512 --epochs 1 --no-progress "${data_option[@]}" > "$work/train.log" 2>&1; then
  echo "the installed gpuae failed to train:"; tail -n 20 "$work/train.log" | sed "s|$work/||g"; exit 1
fi
grep -E '^epoch|^wrote' "$work/train.log"
[ -f "$(ls -d runs/*/ | head -n 1)loss.png" ] && echo "loss.png written by the installed tool"
