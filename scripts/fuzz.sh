#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (AddressSanitizer, coverage) and runs each in turn.
#   scripts/fuzz.sh [--seconds N] [--runs N] [--keep-going] [target...]
# Targets: idx gzip cifar safetensors modelfile npz image (default: all). Each runs until N seconds
# (default 60) or N executions, whichever comes first, and prints its executions, time,
# coverage and findings. A finding (crash, timeout, out of memory, leak) is saved in
# Fuzz/findings/<target>/ and makes the script exit 1. libFuzzer stops at the first finding;
# --keep-going runs it in fork mode past known ones (each crash still saved and counted).
# Replay a finding with a plain build:
#   swift run goodinit-fuzz <target> Fuzz/findings/<target>/crash-…
# The growing corpus lives in .build-fuzz/corpus/<target>, seeded from Fuzz/corpus/<target>
# (regenerate the seeds with Fuzz/make_corpus.py), so repeated runs carry on where they stopped.
# On a shared machine run it under the build lock: flock /tmp/goodinit-build.lock bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."

all=(idx gzip cifar safetensors modelfile npz image)
seconds=60
runs=-1
keep_going=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --keep-going) keep_going=1; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
    [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target $t (${all[*]})" >&2; exit 2; }
done

# libFuzzer without its main(): SwiftPM links executables with --defsym main=<module>_main, which
# clashes with libFuzzer's own main, so Fuzz/Sources/Entry.swift calls LLVMFuzzerRunDriver itself.
# Hence coverage flags instead of -sanitize=fuzzer, and the runtime archive named by hand
# (plus the C++ library it needs); the driver symbol is exported because Entry.swift finds it with dlsym.
toolchain=$(dirname "$(readlink -f "$(command -v swiftc)")")/..
runtime=$toolchain/lib/swift/clang/lib/linux/libclang_rt.fuzzer_no_main-$(uname -m).a
[ -f "$runtime" ] || { echo "fuzz.sh: no libFuzzer runtime at $runtime" >&2; exit 2; }
scratch=.build-fuzz
mkdir -p "$scratch/logs"
echo "fuzz.sh: building goodinit-fuzz (release, AddressSanitizer + libFuzzer coverage)"
build_start=$SECONDS
swift build -c release --product goodinit-fuzz --scratch-path "$scratch" \
    -Xswiftc -DGOODINIT_FUZZ -Xswiftc -sanitize=address \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,trace-cmp,pc-table \
    -Xcc -fsanitize=fuzzer-no-link,address \
    -Xlinker "$runtime" -Xlinker -lstdc++ \
    -Xlinker --undefined=LLVMFuzzerRunDriver -Xlinker --export-dynamic-symbol=LLVMFuzzerRunDriver \
    >"$scratch/build.log" 2>&1 || { tail -n 40 "$scratch/build.log" >&2; echo "fuzz.sh: build failed" >&2; exit 1; }
bin=$scratch/release/goodinit-fuzz
echo "fuzz.sh: built in $((SECONDS - build_start)) s"

# The Swift runtime's own crash backtracer reads process memory in ways ASan reports as a second
# crash, hiding the first; with it off, libFuzzer and ASan print the (symbolized) stack.
export SWIFT_BACKTRACE=enable=no
[ -x "$toolchain/bin/llvm-symbolizer" ] && export ASAN_SYMBOLIZER_PATH=$toolchain/bin/llvm-symbolizer
found=0
for t in "${targets[@]}"; do
    work=$scratch/corpus/$t
    findings=Fuzz/findings/$t
    mkdir -p "$work" "$findings"
    opts=(-max_total_time="$seconds" -runs="$runs" -print_final_stats=1 -artifact_prefix="$findings/"
          -timeout=10 -rss_limit_mb=2048)
    case $t in
        cifar) opts+=(-max_len=8192) ;;   # room for two 3,073-byte records
        modelfile) opts+=(-dict=Fuzz/modelfile.dict) ;;
        image) opts+=(-max_len=16384) ;;   # room for a small image
        # ZIPFoundation's Archive(url:) leaks its path's C string (32 bytes per archive, in its own
        # code); leak checks off here so the fuzzer reaches the npz reader's real findings
        npz) opts+=(-max_len=16384 -detect_leaks=0) ;;   # (and ASan's at-exit check below)
    esac
    # Fork mode has no final stats, so executions come from its last status line instead.
    [ "$keep_going" -eq 0 ] || opts+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    log=$scratch/logs/$t.log
    before=$(ls "$findings" | wc -l)
    start=$SECONDS
    status=0
    leaks=1; [ "$t" != npz ] || leaks=0
    ASAN_OPTIONS=detect_leaks=$leaks GOODINIT_FUZZ_TARGET=$t "$bin" "${opts[@]}" "$work" "Fuzz/corpus/$t" \
        >"$log" 2>&1 || status=$?
    elapsed=$((SECONDS - start))
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
    [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*' || true)
    new=$(( $(ls "$findings" | wc -l) - before ))
    printf '%-12s %10s executions in %4d s (%s/s), coverage %s, corpus %d files, findings %d\n' \
        "$t:" "${execs:-?}" "$elapsed" "$(( ${execs:-0} / (elapsed > 0 ? elapsed : 1) ))" "${cov:-?}" \
        "$(ls "$work" | wc -l)" "$new"
    if [ "$status" -ne 0 ] || [ "$new" -gt 0 ]; then
        found=1
        echo "  finding (exit $status), log $log:"
        grep -m 1 -E 'ERROR: (AddressSanitizer|libFuzzer)|Fatal error|SUMMARY' "$log" | sed 's/^/    /' || true
        grep -E 'Test unit written to' "$log" | sed 's/^/    /' || true
        # The top frames of the first stack, in Swift's names (fork mode logs no stacks).
        swift demangle --simplified <"$log" | grep -E '^ +#[0-9]+ 0x' \
            | grep -v -e __sanitizer -e 'fuzzer::' -e 'libc\.so' -e asan_ | head -n 8 \
            | sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in /      /' | cut -c1-150 || true
    fi
done
exit "$found"
