#!/usr/bin/env bash
# Does a change keep training's bits? Runs eight short trainings (BN + LSUV + 2 workers, residual +
# Adam, maxout + warm-up/cosine, PReLU plain30-thin, BN MLP, vggish on synthetic data, augmentation
# + resume, eval) with two goodinit binaries and compares metrics.jsonl without its timing fields
# and the SHA-256 of every checkpoint tensor.
#   scripts/same-bits.sh OLD_BINARY NEW_BINARY [WORKDIR]
# Needs jq and python3 with safetensors (scripts/setup.sh installs it).
set -euo pipefail
old=$1 new=$2 work=${3:-$(mktemp -d)}

runs() {  # runs BINARY OUT
    local b=$1 o=$2 aug="--augment on" c="--train-limit 1024 --test-limit 300 --log-every 3"
    # the whole help first: grep -q would close the pipe early, and pipefail would count that as a miss
    local help; help=$("$b" train --help)
    [[ $help == *--no-augment* ]] && aug="--augment"
    mkdir -p "$o"
    "$b" train --model cnn-small --init lsuv --steps 24 --epochs 2 --batch-size 64 --chunk 16 --workers 2 \
        --threads 1 $c --out "$o/cnn" >/dev/null
    "$b" train --model resnet-small --init he-normal --optimizer adam --lr 0.001 --steps 20 --epochs 2 \
        --batch-size 64 --chunk 32 $c --out "$o/res" >/dev/null
    "$b" train --model fitnet-small --activation maxout --init orthogonal --schedule warmup:5,cosine --steps 18 \
        --epochs 2 --batch-size 64 $c --out "$o/fit" >/dev/null
    "$b" train --model plain30-thin --activation prelu --init xavier-normal --steps 12 --epochs 1 --batch-size 32 \
        --chunk 8 --workers 2 $c --out "$o/p30" >/dev/null
    "$b" train --model mlp-bn-sigmoid --init xavier-uniform --steps 30 --epochs 2 --batch-size 100 --chunk 25 $c \
        --out "$o/mlp" >/dev/null
    "$b" train --model vggish --data synthetic --init he-uniform --steps 6 --epochs 1 --batch-size 32 --chunk 16 $c \
        --out "$o/vgg" >/dev/null
    "$b" train --model mlp-deep --init lsuv --steps 12 --epochs 3 --batch-size 64 $c --out "$o/mlpd" $aug >/dev/null
    "$b" train --model mlp-deep --steps 20 --epochs 3 --batch-size 64 $c --out "$o/mlpd" \
        --resume "$o/mlpd/checkpoint.safetensors" >/dev/null
    "$b" eval --checkpoint "$o/cnn/checkpoint.safetensors" | grep -v -i 'second\|img/s' > "$o/eval.txt"
    for d in "$o"/*/; do
        jq -S -c 'del(.images_per_second, .seconds)' "$d/metrics.jsonl" > "$d/metrics.stable.jsonl"
        python3 - "$d" <<'PY'
import sys, hashlib
from safetensors.numpy import load_file
t = load_file(sys.argv[1] + "/checkpoint.safetensors")
open(sys.argv[1] + "/tensors.sha", "w").write(
    "".join(f"{k} {hashlib.sha256(v.tobytes()).hexdigest()}\n" for k, v in sorted(t.items())))
PY
    done
}

runs "$old" "$work/old"
runs "$new" "$work/new"
rc=0
for d in cnn res fit p30 mlp vgg mlpd; do
    cmp -s "$work/old/$d/metrics.stable.jsonl" "$work/new/$d/metrics.stable.jsonl" || { echo "DIFF metrics $d"; rc=1; }
    cmp -s "$work/old/$d/tensors.sha" "$work/new/$d/tensors.sha" || { echo "DIFF tensors $d"; rc=1; }
done
cmp -s "$work/old/eval.txt" "$work/new/eval.txt" || { echo "DIFF eval"; rc=1; }
[ $rc = 0 ] && echo "SAME (runs in $work)"
exit $rc
