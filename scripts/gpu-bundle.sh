#!/usr/bin/env bash
# Builds a self-contained linux-x64 gpuae (no .NET needed on the target) and packs it into
# artifacts/gpuae-linux-x64.tar.xz; xz packs it a quarter smaller than gzip, under the 40 MB budget.
# Untrimmed: ILGPU compiles kernels from IL via reflection, and trimming would remove what it reads.
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/gpuae-linux-x64
rm -rf "$out" "$out".tar.*
dotnet publish src/Cli/Cli.csproj -c Release -r linux-x64 --self-contained true \
  -p:PublishTrimmed=false -p:DebugType=none -p:SatelliteResourceLanguages=en -o "$out" >&2
tar -C artifacts -cf - gpuae-linux-x64 | xz -9 -T0 > "$out.tar.xz"
size=$(stat -c %s "$out.tar.xz")
echo "$out.tar.xz ($size bytes)"
if [ "$size" -gt 40000000 ]; then
  echo "gpu-bundle: archive is over 40 MB" >&2
  exit 1
fi
