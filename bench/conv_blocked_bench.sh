#!/bin/sh
# Builds bench/conv_blocked_bench.c against the CKernels sources (the package's flags) and runs it
# under the shared benchmark lock. Options go to the binary: --threads T --batch N --reps R
# --isa avx2|avx512 --shapes C:K:HW,...  e.g. bench/conv_blocked_bench.sh --threads 1 --batch 128
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${TMPDIR:-/tmp}/conv_blocked_bench
omp=/usr/lib/llvm-14/lib
clang -O3 -ffp-contract=on -std=c11 -march=x86-64-v3 -fopenmp -idirafter "$omp/clang/14.0.6/include" \
    -I"$root/CKernels/include" "$root/bench/conv_blocked_bench.c" "$root"/CKernels/src/*.c \
    -L"$omp" -lomp -Wl,-rpath,"$omp" -lm -o "$bin"
exec flock /tmp/goodinit-build.lock "$bin" "$@"
