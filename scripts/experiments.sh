#!/usr/bin/env bash
# Runs the paper experiments one after another and copies each report (report.md, results.json,
# SVG plots) to docs/results/NAME/ (NAME-quick/ with --quick), with its wall time in
# docs/results/times.txt. The README's Results section is made from these folders.
# Usage: bash scripts/experiments.sh [--quick] [NAME ...]
#   default: all eight full presets over 5 seeds, about 2 h 50 min on 2 cores (he30 alone about 70 min);
#   --quick (2 seeds each): about 6 min.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=()
suffix=""
if [ "${1:-}" = "--quick" ]; then quick=(--quick); suffix="-quick"; shift; fi
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(zero-init xavier-mlp rbm bn-mnist he30 lsuv prelu resnet-init)
swift build -c release >/dev/null
mkdir -p docs/results runs
for n in "${names[@]}"; do
    out="runs/experiment-$n$suffix"
    start=$(date +%s)
    extra=()
    # plain30/22 train faster as 2 data-parallel workers of 1 thread than as 1 worker of 2 threads
    [ "$n" = he30 ] && extra=(--workers 2 --threads 1)
    .build/release/goodinit experiment "$n" "${quick[@]}" "${extra[@]}" --out "$out" | tee "$out.log"
    secs=$(( $(date +%s) - start ))
    dest="docs/results/$n$suffix"
    rm -rf "$dest" && mkdir -p "$dest"
    cp "$out"/report.md "$out"/results.json "$out"/*.svg "$dest/"
    echo "$n$suffix $secs s ($(date -u +%F))" >> docs/results/times.txt
done
