#!/usr/bin/env bash
# Installs what GoodInit needs on Debian (run as root, or with sudo): the LLVM OpenMP runtime,
# zlib, libpng and libjpeg-turbo headers, Fashion-MNIST; and Python's safetensors/numpy, tensorboard
# and onnxruntime for the interop tests, and scikit-learn for scripts/digits_to_folder.py (the README's
# own-data example).
# Idempotent: does nothing that is already done.
#   scripts/setup.sh [--with-mpi]
# --with-mpi: also Open MPI (mpirun, headers) and the MPI build, .build/mpi/release/goodinit
# (its own scratch path, so the default build is not rebuilt without the trait).
set -euo pipefail
mpi=0
case "${1:-}" in
    "") ;;
    --with-mpi) mpi=1 ;;
    *) echo "usage: scripts/setup.sh [--with-mpi]" >&2; exit 64 ;;
esac
pkgs=(libomp-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev dataset-fashion-mnist)
if [ $mpi = 1 ]; then pkgs+=(openmpi-bin libopenmpi-dev); fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! python3 -c "import safetensors.numpy, numpy" >/dev/null 2>&1; then
    python3 -m pip install -q safetensors numpy >/dev/null 2>&1 \
        || echo "note: pip could not install safetensors (the Python interop test will be skipped)"
fi
if ! python3 -c "import tensorboard" >/dev/null 2>&1; then
    python3 -m pip install -q tensorboard >/dev/null 2>&1 \
        || echo "note: pip could not install tensorboard (the event-file reader test will be skipped)"
fi
if ! python3 -c "import onnxruntime" >/dev/null 2>&1; then
    python3 -m pip install -q onnxruntime >/dev/null 2>&1 \
        || echo "note: pip could not install onnxruntime (the ONNX export test will be skipped)"
fi
if ! python3 -c "import sklearn" >/dev/null 2>&1; then
    python3 -m pip install -q scikit-learn >/dev/null 2>&1 \
        || echo "note: pip could not install scikit-learn (scripts/digits_to_folder.py needs it)"
fi
echo "setup: libomp-dev, zlib1g-dev, libpng-dev, libjpeg62-turbo-dev, dataset-fashion-mnist installed"
if [ $mpi = 1 ]; then
    echo "setup: openmpi-bin, libopenmpi-dev installed"
    cd "$(dirname "$0")/.."
    swift build -c release --traits MPI --scratch-path .build/mpi
    echo "setup: MPI build at .build/mpi/release/goodinit (mpirun -np P .build/mpi/release/goodinit train ...)"
fi
