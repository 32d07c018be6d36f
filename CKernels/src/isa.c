// Which vector instruction set the kernels run: chosen at run time from CPUID, so one binary
// (built for the x86-64-v3 baseline) runs AVX-512 kernels where the CPU and OS have them and never
// executes an AVX-512 instruction where they do not (the OpenBLAS DYNAMIC_ARCH / oneDNN idea).
//
// The choice is per calling thread, like OpenMP's thread count: a kernel reads it once on entry
// and hands the chosen micro-kernel to its whole team. The default is the best the machine
// supports; GOODINIT_ISA (portable | avx2 | avx512) lowers that ceiling for the whole process.
#include "ck_internal.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static const char *const isa_names[CK_ISA_COUNT] = {"portable", "avx2", "avx512"};

const char *ck_isa_name(int isa) { return isa >= 0 && isa < CK_ISA_COUNT ? isa_names[isa] : "unknown"; }

int ck_isa_from_name(const char *name) {
    for (int i = 0; i < CK_ISA_COUNT; i++)
        if (name && strcmp(name, isa_names[i]) == 0) return i;
    return -1;
}

#if defined(__x86_64__) || defined(__i386__)
// The registers' state the OS saves on a context switch (XCR0): without it the CPU flag alone
// is not enough to use ymm / zmm registers.
static uint64_t xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int detect_best(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return CK_ISA_PORTABLE;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx)) return CK_ISA_PORTABLE;
    const uint64_t x = xcr0();
    if ((x & 0x6) != 0x6) return CK_ISA_PORTABLE; // xmm and ymm state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return CK_ISA_PORTABLE;
    const int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1;
    if (!avx2) return CK_ISA_PORTABLE;
    if (avx512f && (x & 0xE6) == 0xE6) return CK_ISA_AVX512; // + opmask, zmm0-15 high, zmm16-31
    return CK_ISA_AVX2;
}

// AVX512_BF16: CPUID leaf 7 subleaf 1, EAX bit 5. It runs on zmm state, so it counts only where
// AVX-512 itself is usable (detect_best's XCR0 test).
static int detect_bf16(void) {
    unsigned a, b, c, d;
    if (detect_best() != CK_ISA_AVX512 || !__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 5) & 1;
}
#else
static int detect_best(void) { return CK_ISA_PORTABLE; }
static int detect_bf16(void) { return 0; }
#endif

static int best_isa = CK_ISA_PORTABLE, best_bf16 = CK_BF16_WIDEN;
static ptrdiff_t l2_bytes = 1 << 20;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

// GOODINIT_ISA caps the choice, so an AVX-512 machine can stand in for an AVX2-only one: every
// kernel, default and test then behaves as if the wider registers were absent.
// GOODINIT_BF16=widen keeps the bf16 kernels on the widening path where the CPU has more.
static void detect(void) {
#ifdef _SC_LEVEL2_CACHE_SIZE
    // glibc reads it from CPUID; 0 or -1 where it cannot tell (the 1 MB default stays)
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (l2 >= 64 * 1024) l2_bytes = l2;
#endif
    best_isa = detect_best();
    best_bf16 = detect_bf16() ? CK_BF16_AVX512 : CK_BF16_WIDEN;
    const char *bf = getenv("GOODINIT_BF16");
    if (bf && strcmp(bf, "widen") == 0) best_bf16 = CK_BF16_WIDEN;
    const char *env = getenv("GOODINIT_ISA");
    if (!env || !*env) return;
    const int wanted = ck_isa_from_name(env);
    if (wanted < 0)
        fprintf(stderr, "GOODINIT_ISA=%s is not one of portable, avx2, avx512: using %s\n", env, isa_names[best_isa]);
    else if (wanted > best_isa)
        fprintf(stderr, "GOODINIT_ISA=%s: this CPU or OS lacks it, using %s\n", env, isa_names[best_isa]);
    else
        best_isa = wanted;
    if (best_isa != CK_ISA_AVX512) best_bf16 = CK_BF16_WIDEN; // the cap covers the bf16 instructions too
}

int ck_isa_best(void) { pthread_once(&detect_once, detect); return best_isa; }
ptrdiff_t ck_l2_cache_bytes(void) { pthread_once(&detect_once, detect); return l2_bytes; }
int ck_isa_supported(int isa) { return isa >= 0 && isa <= ck_isa_best(); }

static _Thread_local int thread_isa = -1; // -1: the best (the process default)

int ck_set_isa(int isa) {
    if (isa == -1) { thread_isa = -1; return 0; }
    if (!ck_isa_supported(isa)) return -1;
    thread_isa = isa;
    return 0;
}

int ck_isa(void) { return thread_isa >= 0 ? thread_isa : ck_isa_best(); }

// MARK: - bf16 variants: the same per-thread choice, tied to the FP32 ISA (VDPBF16PS needs AVX-512)

static const char *const bf16_names[CK_BF16_COUNT] = {"widen", "avx512bf16"};

const char *ck_bf16_isa_name(int v) { return v >= 0 && v < CK_BF16_COUNT ? bf16_names[v] : "unknown"; }

int ck_bf16_isa_best(void) { pthread_once(&detect_once, detect); return best_bf16; }
int ck_bf16_isa_supported(int v) { return v >= 0 && v <= ck_bf16_isa_best(); }

static _Thread_local int thread_bf16 = -1; // -1: the best

int ck_set_bf16_isa(int v) {
    if (v == -1) { thread_bf16 = -1; return 0; }
    if (!ck_bf16_isa_supported(v)) return -1;
    thread_bf16 = v;
    return 0;
}

// A thread capped below AVX-512 (ck_set_isa) widens: its FP32 variant is the one it asked for.
int ck_bf16_isa(void) {
    const int v = thread_bf16 >= 0 ? thread_bf16 : ck_bf16_isa_best();
    return ck_isa() == CK_ISA_AVX512 ? v : CK_BF16_WIDEN;
}
