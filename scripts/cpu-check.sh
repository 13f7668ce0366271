#!/usr/bin/env bash
# The CPU target, measured side by side in one run: one full-data epoch of `gpuae train` on ILGPU's
# CPU accelerator against one epoch of the PyTorch peer (bench/pytorch/lab1.py) on 2 CPU threads,
# back to back on the same machine. Also records gpuae's peak resident memory (/usr/bin/time -v).
#
#   scripts/cpu-check.sh DATA_DIR [OUT_DIR]
#
# GPUAE (default: dotnet run --project src/Cli -c Release --) is how gpuae is started; PYTHON
# (default: python3) must have torch. Prints a JSON summary and keeps the raw logs in OUT_DIR.
#
# The peer must be PyTorch at its best on this CPU: Debian's python3-torch calls whatever
# libblas.so.3 the system selects, which is the slow reference BLAS unless an optimised one is
# installed (apt-get install libopenblas0-pthread). The peer runs without the OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE overrides some machines set, so OpenBLAS picks its own kernels. machine.txt
# records the BLAS it used.
set -euo pipefail
data=${1:?usage: scripts/cpu-check.sh DATA_DIR [OUT_DIR]}
out=${2:-cpu-check-$(date +%Y%m%d-%H%M%S)}
gpuae=${GPUAE:-dotnet run --project src/Cli -c Release --}
python=${PYTHON:-python3}
mkdir -p "$out"
[ -x /usr/bin/time ] || { echo "cpu-check: needs /usr/bin/time (Debian package 'time')" >&2; exit 2; }
"$python" -c 'import torch' 2>/dev/null || { echo "cpu-check: $python has no torch" >&2; exit 2; }

# Build first, so the timed process is the training and not the compiler.
[ "${GPUAE+set}" ] || dotnet build src/Cli -c Release -v q >/dev/null
echo "uptime before: $(uptime)" > "$out/machine.txt"
/usr/bin/time -v $gpuae train --accelerator cpu --epochs 1 --data "$data" --out "$out/gpuae-run" --no-progress \
  > "$out/gpuae.log" 2> "$out/gpuae.time"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$python" -c 'import torch; print("torch", torch.__version__); print([l.strip() for l in torch.__config__.show().splitlines() if "BLAS" in l or "capability" in l])' >> "$out/machine.txt"
readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 >> "$out/machine.txt" 2>/dev/null || true
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$python" bench/pytorch/lab1.py --device cpu --threads 2 --epochs 1 --data "$data" \
  > "$out/peer.json" 2> "$out/peer.log"
echo "uptime after: $(uptime)" >> "$out/machine.txt"

"$python" - "$out" <<'PY'
import json, re, sys, os
out = sys.argv[1]
metrics = json.load(open(os.path.join(out, "gpuae-run", "metrics.json")))
peer = json.load(open(os.path.join(out, "peer.json")))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(os.path.join(out, "gpuae.time")).read()).group(1))
g, p = metrics["epochs"][0]["seconds"], peer["epoch_seconds"][0]
summary = {"gpuae_cpu_epoch_s": g, "torch_cpu_epoch_s": p, "ratio": round(g / p, 2), "target_ratio": 15,
           "gpuae_peak_rss_kb": rss, "gpuae_loss": metrics["epochs"][0]["loss"], "torch_loss": peer.get("final_train_loss")}
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
