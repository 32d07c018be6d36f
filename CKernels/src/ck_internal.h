// Private helpers shared by the kernel files.
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H
#include "CKernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif

// Below this many elements an elementwise kernel stays on one thread: a fork/join costs more.
#define CK_PAR_MIN_ELEMS ((ptrdiff_t)1 << 15)

static inline ptrdiff_t ck_min(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }
static inline ptrdiff_t ck_max(ptrdiff_t a, ptrdiff_t b) { return a > b ? a : b; }
static inline ptrdiff_t ck_ceil_div(ptrdiff_t a, ptrdiff_t b) { return (a + b - 1) / b; }

// The counter-based hash behind every random number (dropout, init): a splitmix64-style
// finalizer over (seed, counter). Pure function of its inputs: no state, no thread coupling.
static inline uint64_t ck_hash64(uint64_t seed, uint64_t counter) {
    uint64_t z = counter * 0x9E3779B97F4A7C15ull + (seed ^ 0xD1B54A32D192ED03ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    z += seed * 0xA24BAED4963EE407ull;
    z = (z ^ (z >> 29)) * 0x9FB21C651E98DF25ull;
    return z ^ (z >> 32);
}
#endif
