// The only global state of the kernels: OpenMP's per-thread thread-count setting (and gemm.c's
// per-thread team probe).
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
