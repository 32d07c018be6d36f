#!/usr/bin/env bash
# Training over MPI ranks, end to end: P = 2 and 4 ranks (shared memory and TCP only) give the bits
# of one process; a run stopped by SIGTERM to one rank resumes with another P to the same bits; a
# configuration mismatch, a dead rank, a command that does not run over ranks and a build without
# MPI all end the job with a clear error instead of hanging. ~1.5 min on 2 cores.
#   scripts/mpi-tests.sh [MPI_BINARY [DEFAULT_BINARY]]
# MPI_BINARY: `swift build -c release --traits MPI --scratch-path .build/mpi` (scripts/setup.sh
# --with-mpi); DEFAULT_BINARY (a build without the trait) only for the last test. Needs Open MPI's
# mpirun, python3 and Fashion-MNIST (scripts/setup.sh).
set -euo pipefail
bin=$(realpath "${1:-.build/mpi/release/goodinit}")
plain=${2:-.build/release/goodinit}
work=$(mktemp -d "${TMPDIR:-/tmp}/goodinit-mpi.XXXXXX")
# CI runs as root; more ranks than cores is the point here
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun --oversubscribe)
# 4 chunks of 32 per batch (P = 4 gets one each); cnn-small has batch norm, so its statistics cross ranks
cfg=(train --model cnn-small --init he-normal --batch-size 128 --chunk 32 --train-limit 2048 --test-limit 500
     --log-every 4 --threads 1 --lr 0.01)
out=$work/out   # every run writes here: the checkpoint embeds the configuration, --out included
failures=0

pass() { echo "PASS $1 ($(( SECONDS - t0 )) s)"; }
fail() { echo "FAIL $1 ($(( SECONDS - t0 )) s): $2"; failures=$((failures + 1)); }

# keep OUT_NAME LOG: moves the run's folder aside as $work/OUT_NAME and its output into it
keep() { mv "$out" "$work/$1"; mv "$2" "$work/$1/output.txt"; }

# differs A B: prints why two run folders differ (nothing when they agree): checkpoint bytes,
# metrics.jsonl without its timing fields, summary.json's results. A run resumed mid-epoch reports that
# epoch's whole average too (the checkpoint keeps the epoch's running sums).
differs() {
    cmp -s "$1/checkpoint.safetensors" "$2/checkpoint.safetensors" || echo "checkpoint.safetensors differs"
    python3 - "$1" "$2" <<'PY'
import json, sys
def metrics(d):
    rs = [json.loads(l) for l in open(d + "/metrics.jsonl") if l.strip()]
    return [{k: v for k, v in r.items() if k not in ("images_per_second", "seconds")} for r in rs]
def summary(d):
    s = json.load(open(d + "/summary.json"))
    return {k: s.get(k) for k in ("steps", "epochs", "finalTrainLoss", "testAccuracy", "testLoss")}
a, b = sys.argv[1:3]
if metrics(a) != metrics(b): print("metrics.jsonl differs")
if summary(a) != summary(b): print(f"summary.json differs: {summary(a)} vs {summary(b)}")
PY
}

# rank_pid RANK: the pid of that rank of the job writing to $out (ranks carry OMPI_COMM_WORLD_RANK)
rank_pid() {
    local p
    for p in /proc/[0-9]*; do
        tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -qF -- "--out $out" || continue
        tr '\0' '\n' 2>/dev/null < "$p/environ" | grep -qx "OMPI_COMM_WORLD_RANK=$1" && { echo "${p#/proc/}"; return; }
    done
}

# wait_for_step LOG: until the first progress line (training started, stop handlers installed)
wait_for_step() {
    local i
    for i in $(seq 1200); do grep -aq 'step [0-9]*/' "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

# signal_when_training SIG LOG WHO: once LOG shows training, sends SIG to WHO (rank1: rank 1 of the job
# writing to $out; mpirun: the launcher under the background job $job); prints why not if it could not
signal_when_training() {
    local pid=""
    if wait_for_step "$2"; then
        if [ "$3" = mpirun ]; then pid=$(pgrep -P "$job" mpirun || true); else pid=$(rank_pid 1); fi
    fi
    if [ -n "$pid" ]; then kill "-$1" "$pid"; else echo "training did not start or $3 not found"; fi
}

# no_ranks_left: every rank of the job writing to $out has ended
no_ranks_left() { [ -z "$(rank_pid 0)" ] && [ -z "$(rank_pid 1)" ]; }

echo "mpi-tests: $bin, work in $work"

# 1. P ranks give one process's bits: shared memory (Open MPI's default transports) and TCP only
t0=$SECONDS
"$bin" "${cfg[@]}" --steps 12 --out "$out" > "$work/log" 2>&1 </dev/null
keep ref "$work/log"
pass "reference: 1 process, 12 steps"
for run in "2 sm" "4 sm" "2 tcp" "4 tcp"; do
    read -r p net <<< "$run"; t0=$SECONDS; name="P=$p over $net"
    mca=(); [ "$net" = tcp ] && mca=(--mca btl tcp,self)
    rm -rf "$out"; rc=0; timeout 120 "${mpi[@]}" -np "$p" "${mca[@]}" "$bin" "${cfg[@]}" --steps 12 --out "$out" \
        > "$work/log" 2>&1 </dev/null || rc=$?
    if [ $rc != 0 ]; then fail "$name" "exit $rc (output: $work/log)"; continue; fi
    keep "np$p-$net" "$work/log"
    why=$(differs "$work/ref" "$work/np$p-$net")
    # only rank 0 prints the result
    dones=$(grep -c '^done:' "$work/np$p-$net/output.txt" || true)
    [ "$dones" = 1 ] || why+=" 'done:' printed $dones times"
    if [ -z "$why" ]; then pass "$name: same bits as 1 process"; else fail "$name" "$why"; fi
done

# 2. SIGTERM to one rank stops every rank at a step boundary with one checkpoint; resuming it with
# another P (4, and 1) ends on the bits of the uninterrupted run. 24 steps (across an epoch's end):
# the signal lands well before the end.
t0=$SECONDS
"$bin" "${cfg[@]}" --steps 24 --out "$out" > "$work/log" 2>&1 </dev/null
keep ref24 "$work/log"
pass "reference: 1 process, 24 steps"
t0=$SECONDS
timeout 120 "${mpi[@]}" -np 2 "$bin" "${cfg[@]}" --steps 24 --out "$out" > "$work/log" 2>&1 </dev/null &
job=$!
why=$(signal_when_training TERM "$work/log" rank1)
rc=0; wait $job || rc=$?
stops=$(grep -ac 'stopped by signal at step' "$work/log" || true)
step=$(grep -ao 'stopped by signal at step [0-9]*' "$work/log" | head -1 | grep -o '[0-9]*$' || true)
if [ -n "$why" ]; then :
elif [ $rc != 0 ]; then why="exit $rc"
elif [ "$stops" != 1 ]; then why="'stopped by signal' printed $stops times"
elif [ ! -f "$out/checkpoint.safetensors" ]; then why="no checkpoint"
elif [ "$step" -ge 24 ]; then why="the signal came too late: stopped at step $step of 24"
fi
if [ -n "$why" ]; then
    fail "SIGTERM to rank 1 of 2" "$why (output: $work/log)"
else
    keep stopped "$work/log"
    pass "SIGTERM to rank 1 of 2: every rank stopped at step $step, exit 0, one checkpoint"
    for p in 4 1; do
        t0=$SECONDS; rm -rf "$out"; cp -r "$work/stopped" "$out"; rm "$out/output.txt"
        launch=("$bin"); [ "$p" -gt 1 ] && launch=("${mpi[@]}" -np "$p" "$bin")
        rc=0; timeout 120 "${launch[@]}" "${cfg[@]}" --steps 24 --out "$out" --resume "$out/checkpoint.safetensors" \
            > "$work/log" 2>&1 </dev/null || rc=$?
        if [ $rc != 0 ]; then fail "resume with P=$p" "exit $rc (output: $work/log)"; continue; fi
        keep "resumed$p" "$work/log"
        why=$(differs "$work/ref24" "$work/resumed$p")
        if [ -z "$why" ]; then pass "resume at step $step with P=$p: same bits as the uninterrupted run"
        else fail "resume at step $step with P=$p" "$why"; fi
    done
fi

# 2b. SIGUSR1 to mpirun (which forwards it to every rank, unlike SIGINT/SIGTERM that it follows with
# SIGKILL a second later): every rank stops at one step boundary, exit 0, one checkpoint
t0=$SECONDS; rm -rf "$out"
timeout 120 "${mpi[@]}" -np 2 "$bin" "${cfg[@]}" --steps 24 --out "$out" > "$work/log" 2>&1 </dev/null &
job=$!
why=$(signal_when_training USR1 "$work/log" mpirun)
rc=0; wait $job || rc=$?
stops=$(grep -ac 'stopped by signal at step' "$work/log" || true)
if [ -n "$why" ]; then :
elif [ $rc != 0 ]; then why="exit $rc"
elif [ "$stops" != 1 ]; then why="'stopped by signal' printed $stops times"
elif [ ! -f "$out/checkpoint.safetensors" ]; then why="no checkpoint"
fi
if [ -z "$why" ]; then pass "SIGUSR1 to mpirun: every rank stopped at one step, exit 0, one checkpoint"
else fail "SIGUSR1 to mpirun" "$why (output: $work/log)"; fi
mv "$work/log" "$work/usr1.txt"; rm -rf "$out"

# each rank's output in its own files (DIR/1/rank.R/stderr): mpirun may print its "job aborted" banner
# in the middle of a line the ranks' output it forwards
# 3. Ranks started with different arguments (rank 1 gets another --lr): an error naming lr, no hang
t0=$SECONDS
other_lr='if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exec "$0" "$@" --lr 0.02; fi; exec "$0" "$@"'
rc=0; timeout 60 "${mpi[@]}" -np 2 --output-filename "$work/mismatch-ranks" sh -c "$other_lr" \
    "$bin" "${cfg[@]}" --steps 12 --out "$out" \
    > "$work/mismatch.txt" 2>&1 </dev/null || rc=$?
if [ $rc = 0 ] || [ $rc = 124 ]; then fail "config mismatch" "exit $rc (output: $work/mismatch.txt)"
elif ! grep -q 'another configuration than rank 0 (settings.optimizer.lr: 0.01 on rank 0, 0.02 there)' "$work/mismatch-ranks/1/rank.0/stderr"; then
    fail "config mismatch" "no message naming lr (output: $work/mismatch.txt)"
else pass "config mismatch: exit $rc, names lr"; fi
rm -rf "$out"

# 3b. A divergence (a NaN injected before the 4th step) over 2 ranks: exit 1, reported once (by rank 0), and the
# same diverged record as one process
t0=$SECONDS; why=""
for p in 1 2; do
    launch=("$bin"); [ $p -gt 1 ] && launch=("${mpi[@]}" -np $p --output-filename "$work/nan-ranks" "$bin")
    rc=0; timeout 60 "${launch[@]}" "${cfg[@]}" --steps 12 --inject-nan-at-step 3 --out "$out" \
        > "$work/nan$p.txt" 2>&1 </dev/null || rc=$?
    [ $rc = 1 ] || why+=" P=$p exit $rc"
    mv "$out/metrics.jsonl" "$work/nan$p.jsonl" 2>/dev/null || why+=" P=$p no metrics.jsonl"
    rm -rf "$out"
done
reports=$(cat "$work"/nan-ranks/1/rank.*/std* | grep -c 'non-finite value at step 4' || true)
[ "$reports" = 1 ] || why+=" reported $reports times by 2 ranks"
python3 - "$work/nan1.jsonl" "$work/nan2.jsonl" <<'PY' || why+=" metrics differ"
import json, sys
rows = [[{k: v for k, v in json.loads(l).items() if k not in ("images_per_second", "seconds")}
         for l in open(f) if l.strip()] for f in sys.argv[1:]]
sys.exit(0 if rows[0] == rows[1] and rows[0] and rows[0][-1]["type"] == "diverged" else 1)
PY
if [ -z "$why" ]; then pass "divergence over 2 ranks: exit 1, reported once, the one-process record"
else fail "divergence over 2 ranks" "$why (output: $work/nan2.txt)"; fi

# 4. A rank killed mid-run: Open MPI ends the job (no rank left waiting in an exchange)
t0=$SECONDS
timeout 60 "${mpi[@]}" -np 2 "$bin" "${cfg[@]}" --steps 2000 --epochs 200 --out "$out" \
    > "$work/death.txt" 2>&1 </dev/null &
job=$!
why=$(signal_when_training KILL "$work/death.txt" rank1)
rc=0; wait $job || rc=$?
if [ -n "$why" ]; then :
elif [ $rc = 124 ]; then why="still running 60 s after the kill"
elif [ $rc = 0 ]; then why="exit 0"
fi
sleep 1
if ! no_ranks_left; then
    why+=" ranks left behind: $(rank_pid 0) $(rank_pid 1)"
    for r in $(rank_pid 0) $(rank_pid 1); do kill -KILL "$r" 2>/dev/null || true; done
fi
if [ -z "$why" ]; then pass "rank 1 killed: job ended, exit $rc"
else fail "rank 1 killed" "$why (output: $work/death.txt)"; fi
rm -rf "$out"

# 5. Commands that do not run over ranks refuse a multi-rank launch
for cmd in "eval --checkpoint $work/ref/checkpoint.safetensors --threads 1" \
           "init-stats --model cnn-small --threads 1"; do
    t0=$SECONDS; name="mpirun -np 2 goodinit ${cmd%% *}"
    rc=0; read -ra args <<< "$cmd"
    timeout 60 "${mpi[@]}" -np 2 "$bin" "${args[@]}" > "$work/log" 2>&1 </dev/null || rc=$?
    if [ $rc = 0 ] || [ $rc = 124 ]; then fail "$name" "exit $rc"
    elif ! grep -q 'run over ranks: start this command once' "$work/log"; then fail "$name" "no clear message"
    else pass "$name: refused, exit $rc"; fi
    mv "$work/log" "$work/${cmd%% *}-ranks.txt"
done

# 6. A build without MPI under mpirun says so instead of training P copies into one folder
t0=$SECONDS
if [ ! -x "$plain" ]; then
    echo "SKIP build without MPI: no $plain"
else
    rc=0; timeout 60 "${mpi[@]}" -np 2 "$(realpath "$plain")" "${cfg[@]}" --steps 12 --out "$out" \
        > "$work/nompi.txt" 2>&1 </dev/null || rc=$?
    if [ $rc = 0 ] || [ $rc = 124 ]; then fail "build without MPI" "exit $rc"
    elif ! grep -q 'built without MPI' "$work/nompi.txt"; then fail "build without MPI" "no clear message"
    elif [ -e "$out/checkpoint.safetensors" ]; then fail "build without MPI" "it trained anyway"
    else pass "build without MPI under mpirun -np 2: refused, exit $rc"; fi
fi

if [ $failures -gt 0 ]; then echo "mpi-tests: $failures FAILED (runs in $work)"; exit 1; fi
echo "mpi-tests: all passed"
rm -rf "$work"
