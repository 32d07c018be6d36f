// The only global state of the kernels: OpenMP's per-thread thread-count setting, the calling
// thread's floating-point mode (and gemm.c's per-thread team probe).
#include "ck_internal.h"

void ck_set_num_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n < 1 ? 1 : n);
#else
    (void)n;
#endif
}

int ck_get_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// x86: MXCSR's FTZ (bit 15: subnormal results become 0) and DAZ (bit 6: subnormal inputs read as
// 0). AArch64: FPCR's FZ (bit 24), both at once. Elsewhere there is no such mode and the request
// is reported as refused.
#if defined(__aarch64__)
#define CK_FLUSH_BITS (1u << 24)
#else
#define CK_FLUSH_BITS 0x8040u
#endif

int ck_set_flush_subnormals(int on) {
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
    const unsigned m = ck_fp_mode();
    ck_fp_adopt(on ? (m | CK_FLUSH_BITS) : (m & ~CK_FLUSH_BITS));
    return 1;
#else
    return on ? 0 : 1;
#endif
}

int ck_get_flush_subnormals(void) { return (ck_fp_mode() & CK_FLUSH_BITS) == CK_FLUSH_BITS; }

int ck_has_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int ck_measure_team_size(void) {
    int n = 1;
#ifdef _OPENMP
#pragma omp parallel
    {
#pragma omp single
        n = omp_get_num_threads();
    }
#endif
    return n;
}

// The largest team this thread's GEMMs and blocked convolutions ran with since the probe was last
// read, so tests can show their sizes reach the threaded code. Per thread: the caller is thread 0
// of the team it forks.
static _Thread_local int team_seen;

int ck_team_probe(void) {
    const int n = team_seen;
    team_seen = 0;
    return n;
}

void ck_note_team(void) {
#ifdef _OPENMP
    if (omp_get_thread_num() != 0) return;
    const int n = omp_get_num_threads();
#else
    const int n = 1;
#endif
    if (n > team_seen) team_seen = n;
}
