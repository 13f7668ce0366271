#!/usr/bin/env bash
# The second H200 call of 2026-12-04: the two rows that failed in the first, and each kernel's time
# in a training epoch under Nsight Compute. Usage: second.sh BUNDLE MNIST_DIR OCL_DEBS_DIR
set -uo pipefail
bundle=$1 data=$2 debs=$3
out=${OUT:-.}
w=$(mktemp -d)
tar -C "$w" -xf "$bundle"
g=$w/gpuae-linux-x64/gpuae
mkdir -p "$w/lib" "$w/ocl"
ln -sf "$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}')" "$w/lib/libcuda.so"
for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$w/ocl"; done
ln -sf "$(find "$w/ocl" -name 'libOpenCL.so.1*' | head -n 1)" "$w/lib/libOpenCL.so"
export LD_LIBRARY_PATH=$w/lib:${LD_LIBRARY_PATH:-}
step() { echo; echo "== $*"; }

step "selftest --accelerator cuda --precision tf32"
timeout 90 "$g" selftest --accelerator cuda --precision tf32; echo "exit $?"
step "selftest --accelerator opencl (PoCL on the CPU)"
timeout 90 "$g" selftest --accelerator opencl; echo "exit $?"
step "train --accelerator opencl --epochs 2"
timeout 120 "$g" train --accelerator opencl --epochs 2 --data "$data" --out "$w/ocl" --no-progress; echo "exit $?"
step "bench --accelerator opencl --steps 5"
timeout 90 "$g" bench --accelerator opencl --steps 5; echo "exit $?"
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
for p in fp32 tf32; do
  step "Nsight Compute: every kernel of a 1-epoch run on 8192 images at $p (graph nodes profiled one by one)"
  timeout 150 "$ncu" --clock-control none --metrics gpu__time_duration.sum --csv --log-file "$out/ncu-$p.csv" \
    "$g" train --accelerator cuda --precision $p --epochs 1 --limit 8192 --data "$data" --out "$w/n-$p" --no-progress
  echo "exit $?"
done
rm -rf "$w"
