#!/usr/bin/env bash
# Installs what fedhpc needs on Debian 12 (only what is missing) and builds it
# with the given CMake preset (default: release). Safe to run again: a second
# run installs nothing and rebuilds only what changed.
# Usage: cmake/setup-debian.sh [preset]
set -euo pipefail
preset="${1:-release}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(
  g++ cmake ninja-build pkg-config ccache
  libtorch-dev libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
  libboost-program-options-dev libeigen3-dev zlib1g-dev
  libopenblas0-openmp libtcmalloc-minimal4 libgoogle-perftools-dev libblas3
  libgtest-dev libbenchmark-dev dataset-fashion-mnist clang libclang-rt-14-dev
  python3-matplotlib python3-h5py python3-sklearn python3-torch
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo_cmd=()
[[ $EUID -ne 0 ]] && sudo_cmd=(sudo)
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# LibTorch calls whatever libblas.so.3 the alternatives point at; pick
# OpenBLAS explicitly so every machine runs the same BLAS (the reference BLAS
# is ~5x slower and gives other bits). The OpenMP build shares LibTorch's
# libgomp thread pool; the pthread build adds its own spinning workers and was
# 1.6-2x slower at --threads 2 (benchmarks/RESULTS.md; equal at --threads 1).
# libblas3, the reference, stays installed only for the test of fedhpc's
# warning about it.
for lib in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
  name="${lib}-x86_64-linux-gnu"
  target="/usr/lib/x86_64-linux-gnu/openblas-openmp/${lib}"
  if [[ "$(readlink -f "/etc/alternatives/$name")" != "$(readlink -f "$target")" ]] ||
     update-alternatives --query "$name" | grep -q '^Status: auto'; then
    echo "== selecting OpenBLAS (OpenMP build) for ${lib}"
    "${sudo_cmd[@]}" update-alternatives --set "$name" "$target" >/dev/null
  fi
done

echo "== building (preset ${preset})"
cd "$root"
if [[ ! -f "build-${preset}/CMakeCache.txt" ]]; then
  cmake --preset "$preset" >/dev/null
fi
cmake --build --preset "$preset" -- -j"$(nproc)"
