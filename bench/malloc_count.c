// Counts heap allocations of a whole process: LD_PRELOAD=./malloc_count.so CMD prints the totals
// to stderr at exit. Used to measure allocations per training step (the difference of two runs
// of different length, divided by the step difference).
//   cc -O2 -shared -fPIC -o /tmp/malloc_count.so bench/malloc_count.c -ldl
// MALLOC_COUNT_TRACE_AFTER=N also prints the call stack of every 500th malloc after the first N
// (to see who allocates in the steady state; symbolize with gdb's `info symbol`).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_long count;
static void *(*real_malloc)(size_t), *(*real_calloc)(size_t, size_t), *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static char bootstrap[1 << 16];
static size_t bootstrap_used;
static long trace_after = -1;
static __thread int tracing; // backtrace() may allocate itself

static void init(void) {
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
}

static void maybe_trace(long c, size_t n) {
    if (trace_after < 0) {
        const char *s = getenv("MALLOC_COUNT_TRACE_AFTER");
        trace_after = s ? atol(s) : (1L << 62);
    }
    if (tracing || c <= trace_after || c % 500 != 0) return;
    tracing = 1;
    void *frames[12];
    const int k = backtrace(frames, 12);
    fprintf(stderr, "== malloc %ld (%zu bytes)\n", c, n);
    backtrace_symbols_fd(frames, k, 2);
    tracing = 0;
}

void *malloc(size_t n) {
    if (!real_malloc) init();
    maybe_trace(atomic_fetch_add(&count, 1), n);
    return real_malloc(n);
}
void *calloc(size_t a, size_t b) {
    if (!real_calloc) { // dlsym itself calls calloc: serve it from a static buffer
        void *p = bootstrap + bootstrap_used; bootstrap_used += (a * b + 15) & ~15u; return p;
    }
    atomic_fetch_add(&count, 1); return real_calloc(a, b);
}
void *realloc(void *p, size_t n) { if (!real_realloc) init(); atomic_fetch_add(&count, 1); return real_realloc(p, n); }
int posix_memalign(void **p, size_t a, size_t n) {
    if (!real_posix_memalign) init();
    atomic_fetch_add(&count, 1); return real_posix_memalign(p, a, n);
}
void free(void *p) {
    static void (*real_free)(void *);
    if ((char *)p >= bootstrap && (char *)p < bootstrap + sizeof bootstrap) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
    real_free(p);
}
__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "malloc_count: %ld allocations\n", atomic_load(&count));
}
