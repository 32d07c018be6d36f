#!/usr/bin/env bash
# Runs tests under the sanitizers (issue 14) and exits non-zero on any report:
#   asan  the C kernel tests (CKernelsTests) under AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan  the multi-worker / determinism tests under ThreadSanitizer, with OpenMP on
#   scripts/sanitize.sh [asan] [tsan]        (default: both; each prints its wall time)
# Each has its own scratch folder (.build-asan, .build-tsan), so the normal .build stays as it is.
# On a shared machine run it under the build lock: flock /tmp/goodinit-build.lock bash scripts/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."

runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(asan tsan)
# The Swift runtime's crash backtracer reads memory in ways the sanitizers report as a crash of
# their own; with it off, the sanitizer's report is the one printed.
export SWIFT_BACKTRACE=enable=no
toolchain=$(dirname "$(readlink -f "$(command -v swiftc)")")/..
[ -x "$toolchain/bin/llvm-symbolizer" ] && export LLVM_SYMBOLIZER_PATH=$toolchain/bin/llvm-symbolizer

# The tests that run several Dispatch workers or OpenMP threads and compare their bits: whole
# networks and training runs for W workers x T threads, each kernel for 1-4 threads, the team sizes.
tsan_filter='determinismAcrossWorkersAndThreads|TrainTests/deterministic\(|threadCounts|ThreadBudgetTests'
tsan_filter+='|NetworkTests/gradientCheck|LayoutTests/sameBits|RanksTests/planSameBits|RanksTests/allReduce'

status=0
for run in "${runs[@]}"; do
    start=$SECONDS
    case $run in
        asan)
            # swiftc has no -sanitize=undefined on Linux (`swift test --sanitize=undefined` stops the
            # build), so UBSan goes to the C compiler only: the kernels, the code it is for.
            # UBSan only prints by default; halting makes a report fail the test run.
            # LeakSanitizer stays on for the kernels (they never allocate), with two known leaks
            # suppressed, one reason each:
            mkdir -p .build-asan
            cat >.build-asan/lsan.supp <<'SUPP'
# Buf never frees its buffers, on purpose (Tests/CKernelsTests/TestSupport.swift says why).
leak:TestSupport.swift
# XCTest's runner keeps its suite objects until exit (its pass is empty: the tests are swift-testing).
leak:libXCTest.so
SUPP
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 LSAN_OPTIONS=suppressions=.build-asan/lsan.supp \
                swift test --sanitize=address -Xcc -fsanitize=undefined --scratch-path .build-asan \
                --filter CKernelsTests || status=1
            ;;
        tsan)
            # libomp is not built with TSan, so TSan cannot see OpenMP's fork/join and barriers
            # and reports races between a parallel region and the code around it (242 such
            # reports for the kernels' threadCounts tests alone, e.g. ck_bn_partial_sums' team
            # reading what its caller wrote). LLVM's Archer (libarcher.so, in libomp-dev) is the
            # OMPT tool that tells TSan about them: with it those reports are gone and TSan checks
            # the OpenMP kernels and the Dispatch workers together, so OpenMP stays on here.
            archer=/usr/lib/llvm-14/lib/libarcher.so
            [ -f "$archer" ] || { echo "sanitize.sh: $archer missing (libomp-dev)" >&2; exit 2; }
            mkdir -p .build-tsan
            cat >.build-tsan/tsan.supp <<'SUPP'
# libomp keeps its thread pool until the process exits, so TSan calls those threads leaked.
thread:libomp.so
SUPP
            OMP_TOOL_LIBRARIES=$archer TSAN_OPTIONS=halt_on_error=1:suppressions=.build-tsan/tsan.supp \
                swift test --sanitize=thread --scratch-path .build-tsan --filter "$tsan_filter" || status=1
            ;;
        *) echo "sanitize.sh: unknown run $run (asan, tsan)" >&2; exit 2 ;;
    esac
    echo "sanitize.sh: $run took $((SECONDS - start)) s (status so far $status)"
done
exit "$status"
