#!/usr/bin/env bash
# Checks that AVX-512 code lives only in the AVX-512 kernel variants: the functions whose names end
# in _avx512 (reached only when CPUID and the OS report AVX-512). Anything else with an EVEX-only
# instruction could run on an AVX2-only machine and die with SIGILL. The bf16 instructions
# (VDPBF16PS, VCVTNE[2]PS2BF16: AVX512-BF16, reached only when CPUID has it) count as AVX-512 too;
# AMX tile instructions may appear only in functions whose names end in _amx.
# Usage: scripts/check_isa.sh [binary]   (default .build/release/goodinit)
set -euo pipefail
bin=${1:-.build/release/goodinit}
[ -x "$bin" ] || { echo "check_isa: $bin not found (swift build -c release first)" >&2; exit 2; }
# EVEX-only: zmm, mask registers, embedded broadcast, xmm/ymm16-31, AVX-512-only mnemonics.
report=$(objdump -d --no-show-raw-insn "$bin" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = substr($2, 2, length($2) - 3); next }
    /^ +[0-9a-f]+:\t/ {
        split($0, part, "\t"); insn = part[2]; split(insn, w, " "); op = w[1]
        if (insn ~ /zmm|%k[0-7]|\{1to|[xy]mm(1[6-9]|2[0-9]|3[01])/ ||
            op ~ /^(vpternlog|vperm[it]2|vrndscale|vscalef|vgetexp|vgetmant|vfixupimm|vrange|vreduce)/ ||
            op ~ /^(vpcompress|vpexpand|vblendm|valign|vpro[lr]|vpmullq|vpabsq)/ ||
            op ~ /^(kmov|kand|kor|kxor|knot|kshift|ktest|kortest)/ ||
            op ~ /(32x4|64x2|32x8|64x4)$/ ||
            op ~ /^(vdpbf16ps|vcvtne2ps2bf16|vcvtneps2bf16)/)
            count[fn]++
        if (op ~ /^(tdp|tile|ldtilecfg|sttilecfg)/) amx[fn]++
    }
    END { for (f in count) print count[f], f; for (f in amx) print amx[f], f, "amx" }' | sort -k2)
bad=$(printf '%s\n' "$report" | awk '(NF == 2 && $2 !~ /_avx512$/) || (NF == 3 && $2 !~ /_amx$/)')
printf '%s\n' "$report" | awk 'NF == 2 { printf "  %-28s %5d AVX-512 instructions\n", $2, $1 }
                              NF == 3 { printf "  %-28s %5d AMX instructions\n", $2, $1 }'
if [ -n "$bad" ]; then
    echo "check_isa: AVX-512 / AMX instructions outside the _avx512 / _amx variants:" >&2
    printf '%s\n' "$bad" >&2
    exit 1
fi
echo "check_isa: AVX-512 code only in _avx512 functions, AMX only in _amx ($bin)"
