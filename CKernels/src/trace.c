// Region tracing for `goodinit bench scaling`, and the two machine probes its model takes its
// defaults from (memory bandwidth, the cost of an empty parallel region).
// A trace belongs to the thread that started it: buffers that thread owns, appended to only by
// the kernels it calls (the region and its lanes are reserved by that thread before its team
// forks, so no atomic index is needed). The one process-wide word is ck_trace_threads, the count
// of threads tracing, which keeps the check free while nobody traces. Tracing only records times:
// no kernel reads it, so results are the same with tracing on or off.
#define _GNU_SOURCE
#include "ck_internal.h"
#include <time.h>

int ck_trace_threads;
static _Thread_local ck_trace_region *regions;
static _Thread_local ck_trace_lane *lanes;
static _Thread_local ptrdiff_t region_cap, lane_cap, region_next, lane_next, dropped;

static int64_t clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ck_trace_clock_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
int64_t ck_trace_thread_ns(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

void ck_trace_start(ck_trace_region *r, ptrdiff_t rcap, ck_trace_lane *l, ptrdiff_t lcap) {
    if (!regions) __atomic_fetch_add(&ck_trace_threads, 1, __ATOMIC_SEQ_CST);
    regions = r; lanes = l;
    region_cap = r && l ? rcap : 0; lane_cap = r && l ? lcap : 0;
    region_next = 0; lane_next = 0; dropped = 0;
}

ptrdiff_t ck_trace_stop(ptrdiff_t *lanes_used, ptrdiff_t *lost) {
    if (regions) __atomic_fetch_sub(&ck_trace_threads, 1, __ATOMIC_SEQ_CST);
    regions = NULL; lanes = NULL;
    if (lanes_used) *lanes_used = lane_next;
    if (lost) *lost = dropped;
    return region_next;
}

ptrdiff_t ck_trace_count(void) { return region_next; }

// Called by the thread about to fork: one region and a lane per thread its team may have.
ck_trace_span ck_trace_open(const char *kernel, int line, ptrdiff_t units) {
    if (!regions) return (ck_trace_span){NULL, NULL};
#ifdef _OPENMP
    const ptrdiff_t team = omp_get_max_threads();
#else
    const ptrdiff_t team = 1;
#endif
    if (region_next >= region_cap || lane_next + team > lane_cap) {
        dropped++;
        return (ck_trace_span){NULL, NULL};
    }
    ck_trace_region *r = &regions[region_next++];
    ck_trace_lane *l = &lanes[lane_next];
    for (ptrdiff_t t = 0; t < team; t++) l[t] = (ck_trace_lane){0, -1};
    *r = (ck_trace_region){kernel, line, 1, units, lane_next, clock_ns(CLOCK_MONOTONIC), 0};
    lane_next += team;
    return (ck_trace_span){r, l};
}

void ck_trace_lane_done(ck_trace_span tr, int64_t start_ns, ptrdiff_t units) {
    const int64_t busy = ck_trace_thread_ns() - start_ns;
#ifdef _OPENMP
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    const int t = 0, nt = 1;
#endif
    if (t == 0) tr.region->threads = nt;
    tr.lanes[t] = (ck_trace_lane){busy, units};
}

void ck_trace_close(ck_trace_span tr) { tr.region->wall_ns = clock_ns(CLOCK_MONOTONIC) - tr.region->start_ns; }

// MARK: - Probes

double ck_probe_triad(float *a, const float *b, const float *c, ptrdiff_t n, int threads, int repeats) {
    double best = 0.0;
    for (int k = 0; k < repeats; k++) {
        const int64_t t0 = clock_ns(CLOCK_MONOTONIC);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads < 1 ? 1 : threads)
#endif
        {
            ptrdiff_t lo, hi;
            ck_share(n, &lo, &hi);
            for (ptrdiff_t i = lo; i < hi; i++) a[i] = b[i] + 0.5f * c[i];
        }
        const double s = (double)(clock_ns(CLOCK_MONOTONIC) - t0) * 1e-9;
        const double rate = 12.0 * (double)n / s;
        if (rate > best) best = rate;
    }
    (void)threads;
    return best;
}

double ck_probe_fork_join(int threads, int repeats) {
    volatile int sink = 0; // read in each region so that it is not optimised away; never written there
    int64_t t0 = 0;
    for (int k = -1; k < repeats; k++) { // k = -1 warms the team up
        if (k == 0) t0 = clock_ns(CLOCK_MONOTONIC);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads < 1 ? 1 : threads)
#endif
        {
            if (sink < 0) __builtin_trap();
        }
    }
    (void)threads;
    return (double)(clock_ns(CLOCK_MONOTONIC) - t0) * 1e-9 / (repeats > 0 ? repeats : 1);
}
