#!/usr/bin/env bash
# Registers, shared memory, stack, spills, occupancy and the matrix products' inner-loop instruction
# mix of every kernel gpuae loads on CUDA, without a GPU: ILGPU compiles each kernel to PTX, NVIDIA's
# ptxas assembles it and cuobjdump disassembles it (src/KernelReport does that part).
#
#   scripts/kernel-report.sh [--arch sm_90] [--out DIR]   writes DIR/kernels.md, DIR/kernels.json and
#                                                         each kernel's .ptx and .sass (default DIR:
#                                                         docs/kernels/ARCH)
#   scripts/kernel-report.sh --fetch-only                 only makes sure ptxas and cuobjdump are there
#
# ptxas and cuobjdump are taken from the PATH, else from Debian's nvidia-cuda-toolkit package (non-free),
# downloaded into and unpacked under the cache folder ${XDG_CACHE_HOME:-$HOME/.cache}/gpuae/cuda; its
# tools need nothing else installed. Where apt has no non-free source this adds one, which needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=sm_90 out="" fetch_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=${2:?--arch needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --fetch-only) fetch_only=1; shift ;;
    *) echo "usage: scripts/kernel-report.sh [--arch sm_90] [--out DIR] | --fetch-only" >&2; exit 2 ;;
  esac
done
out=${out:-docs/kernels/$arch}

cache="${XDG_CACHE_HOME:-$HOME/.cache}/gpuae/cuda"
# Where the report tool and the tests look after the PATH (CudaTools.Find); keep the two in step.
unpacked="$cache/toolkit"

fetch_tools() {
  if command -v ptxas >/dev/null && command -v cuobjdump >/dev/null; then return 0; fi
  if [ -x "$unpacked/usr/bin/ptxas" ] && [ -x "$unpacked/usr/bin/cuobjdump" ]; then return 0; fi
  mkdir -p "$cache"
  local deb
  deb=$(ls "$cache"/nvidia-cuda-toolkit_*.deb 2>/dev/null | head -n 1 || true)
  if [ -z "$deb" ]; then
    if ! apt-cache show nvidia-cuda-toolkit >/dev/null 2>&1; then
      echo "kernel-report: adding Debian's contrib and non-free components for nvidia-cuda-toolkit" >&2
      cat > /etc/apt/sources.list.d/gpuae-non-free.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
      apt-get update -q >/dev/null
    fi
    # As root apt would hand the download to its _apt user, who cannot write into a private cache.
    local as_root=()
    [ "$(id -u)" -eq 0 ] && as_root=(-o APT::Sandbox::User=root)
    (cd "$cache" && apt-get download -q "${as_root[@]}" nvidia-cuda-toolkit >/dev/null)
    deb=$(ls "$cache"/nvidia-cuda-toolkit_*.deb | head -n 1)
  fi
  # Only the three tools, statically built apart from libc: a third of the package unpacked.
  rm -rf "$unpacked.partial"
  mkdir -p "$unpacked.partial"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$unpacked.partial" ./usr/bin/ptxas ./usr/bin/cuobjdump ./usr/bin/nvdisasm
  rm -rf "$unpacked"
  mv "$unpacked.partial" "$unpacked"
  echo "kernel-report: unpacked ptxas, $("$unpacked/usr/bin/ptxas" --version | grep release)" >&2
}

fetch_tools
[ "$fetch_only" -eq 1 ] && exit 0

dotnet build src/KernelReport -c Release -v q -nologo >/dev/null
dotnet run --project src/KernelReport -c Release --no-build -- --arch "$arch" --out "$out"
