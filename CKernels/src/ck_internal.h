// Private helpers shared by the kernel files.
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H
#include "CKernels.h"
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

// The floating-point mode word (x86: MXCSR, which holds flush-to-zero and denormals-are-zero)
// of the calling thread. Every parallel region hands the caller's word to its team, so a kernel's
// bits never depend on which pool thread ran which share, nor on what mode that thread was left in.
// libomp copies it too, but only while KMP_INHERIT_FP_CONTROL is on, a setting users can change.
// AArch64: FPCR, whose FZ bit (24) flushes both inputs and results.
static inline unsigned ck_fp_mode(void) {
#if defined(__x86_64__) || defined(__i386__)
    return _mm_getcsr();
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return (unsigned)v;
#else
    return 0;
#endif
}

static inline void ck_fp_adopt(unsigned mode) {
#if defined(__x86_64__) || defined(__i386__)
    // MXCSR's low 6 bits are sticky exception flags, not mode: no reload when only they differ
    if ((_mm_getcsr() ^ mode) & ~0x3Fu) _mm_setcsr(mode);
#elif defined(__aarch64__)
    if (ck_fp_mode() != mode) {
        const uint64_t v = mode;
        __asm__ volatile("msr fpcr, %0" : : "r"(v));
    }
#else
    (void)mode;
#endif
}

// Below this many elements an elementwise kernel stays on one thread: a fork/join costs more.
#define CK_PAR_MIN_ELEMS ((ptrdiff_t)1 << 15)

static inline ptrdiff_t ck_min(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }
static inline ptrdiff_t ck_max(ptrdiff_t a, ptrdiff_t b) { return a > b ? a : b; }
static inline ptrdiff_t ck_ceil_div(ptrdiff_t a, ptrdiff_t b) { return (a + b - 1) / b; }

// The ReLU's test `v > 0`, read on v's bits as the caller's float mode reads v (low: 0, or the largest
// subnormal's bits when the caller flushes them, DAZ reading them as 0). NaN fails it, as `v > 0` does.
// Written on the bits so that the bf16 kernels' own FTZ/DAZ mode cannot change a fused ReLU's answer.
static inline int ck_relu_passes(float v, int32_t low) {
    int32_t b;
    memcpy(&b, &v, sizeof b);
    return b > low && b <= 0x7f800000;
}

// What a blocked convolution does to its finished output rows while they are still in cache: the
// fused plan's ReLU after a convolution (relu: y = y > 0 ? y : 0) or the backward of a ReLU before
// one (mask: its output, laid out like dx; dx = mask > 0 ? dx : 0, for a stored, not added, dx);
// and the statistics of the batch norm after a forward (bn_rows: (N, ⌈K/16⌉, P, 2, 16), each output
// row's Σ y and Σ y² per lane, by ck_bn_store_rows16: the sums ck_bn_partial_sums_blocked takes).
typedef struct {
    int relu;
    const float *mask;
    int32_t low; // ck_relu_passes's, from the calling thread's mode
    double *bn_rows;
} ck_conv_finish;

ck_conv_finish ck_conv_finish_make(int relu, const float *mask);
// Elements lo ..< lo + n of y (and of the mask).
void ck_conv_finish_range(const ck_conv_finish *f, float *y, ptrdiff_t lo, ptrdiff_t n);
// Asks for the mask's elements lo ..< lo + n ahead of ck_conv_finish_range: called before the kernel
// computes those rows, so that reading the mask (cold: another activation) overlaps the FMAs.
static inline void ck_conv_finish_prefetch(const ck_conv_finish *f, ptrdiff_t lo, ptrdiff_t n) {
    if (!f || !f->mask) return;
    for (ptrdiff_t i = 0; i < n; i += 16) __builtin_prefetch(f->mask + lo + i, 0, 2);
}

// Batch norm's x̂ = (x − mean)·invstd in float: the one expression the forward normalizes with and
// the backward recomputes x̂ with (nothing stored between them), so both see the same bits.
static inline float ck_bn_xhat(float x, float mean, float invstd) { return (x - mean) * invstd; }

typedef float ck_f4 __attribute__((vector_size(16)));
typedef double ck_d4 __attribute__((vector_size(32)));
// Half a channel block as one AVX2 register, for elementwise passes the compiler would otherwise
// vectorize across pixels (gathers) or not at all; written as the scalar expressions, so that the
// same roundings and contractions happen lane by lane.
typedef float ck_f8 __attribute__((vector_size(32)));
typedef int32_t ck_i8 __attribute__((vector_size(32)));
static inline ck_f8 ck_load8(const float *p) {
    ck_f8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void ck_store8(float *p, ck_f8 v) { memcpy(p, &v, sizeof v); }
// v > 0 ? v : +0 lane by lane (NaN and −0 give +0): the ReLU kernel's select.
static inline ck_f8 ck_relu8(ck_f8 v) { return (ck_f8)((ck_i8)v & (v > (ck_f8){0})); }
// ck_bn_xhat on 8 lanes.
static inline ck_f8 ck_bn_xhat8(ck_f8 x, ck_f8 mean, ck_f8 invstd) { return (x - mean) * invstd; }

// Batch norm's statistics, one row of W pixels at a time: Σ x and Σ x² from zero, in pixel order,
// in double (x² of a float is exact in double, so a fused multiply-add changes nothing). The plain
// (one channel), blocked (16 lanes) and convolution-side (ck_bn_store_rows16) sums all go through
// these, so each lane of each row has the same bits wherever it is summed.
static inline void ck_bn_row1(double *s, double *q, const float *row, ptrdiff_t W) {
    double a = 0.0, b = 0.0;
    for (ptrdiff_t i = 0; i < W; i++) {
        const double d = (double)row[i];
        a += d;
        b += d * d;
    }
    *s = a;
    *q = b;
}

// row (W, 16): s[k], q[k] hold lanes 4k .. 4k + 3.
static inline void ck_bn_row16(ck_d4 s[4], ck_d4 q[4], const float *row, ptrdiff_t W) {
    for (int k = 0; k < 4; k++) s[k] = q[k] = (ck_d4){0.0, 0.0, 0.0, 0.0};
    for (ptrdiff_t i = 0; i < W; i++)
        for (int k = 0; k < 4; k++) {
            ck_f4 v;
            memcpy(&v, row + i * 16 + 4 * k, sizeof v);
            const ck_d4 d = __builtin_convertvector(v, ck_d4);
            s[k] += d;
            q[k] += d * d;
        }
}

// dst (rows, 2, 16): each of `rows` rows of y (rows, W, 16), its 16 Σ x then its 16 Σ x².
static inline void ck_bn_store_rows16(double *dst, const float *y, ptrdiff_t rows, ptrdiff_t W) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        ck_d4 s[4], q[4];
        ck_bn_row16(s, q, y + r * W * 16, W);
        memcpy(dst + r * 32, s, sizeof s);
        memcpy(dst + r * 32 + 16, q, sizeof q);
    }
}

// Blocks kb .. kb + blocks − 1 of output rows p .. p + rows − 1 of image n (y: that row of block kb,
// blocks `plane` floats apart; the output K/16 × P × Q) into f->bn_rows, when asked.
static inline void ck_conv_finish_bn_rows(const ck_conv_finish *f, const float *y, ptrdiff_t plane, ptrdiff_t n,
                                          ptrdiff_t kb, ptrdiff_t blocks, ptrdiff_t Kb, ptrdiff_t p, ptrdiff_t rows,
                                          ptrdiff_t P, ptrdiff_t Q) {
    if (!f || !f->bn_rows) return;
    for (ptrdiff_t k = 0; k < blocks; k++)
        ck_bn_store_rows16(f->bn_rows + ((n * Kb + kb + k) * P + p) * 32, y + k * plane, rows, Q);
}

// Parallel loops. The kernels never use OpenMP's worksharing loops (`omp for`): Debian's libomp
// is built with debug tracing, and its loop entry formats a trace string on the heap every time
// (about 12,000 allocations per training step of cnn-small). Instead a plain `omp parallel`
// region, in which each thread takes its fixed share of the iterations the way schedule(static)
// would; and when the loop is small or the caller runs one thread, no OpenMP call at all.

// Part i of n items split into `parts` contiguous parts, sizes differing by at most one (the
// first n % parts one larger): a thread's share (ck_share), or a fixed group of images.
typedef struct { ptrdiff_t lo, hi; } ck_range;
static inline ck_range ck_split(ptrdiff_t n, ptrdiff_t parts, ptrdiff_t i) {
    const ptrdiff_t q = n / parts, r = n % parts, lo = i * q + ck_min(i, r);
    return (ck_range){lo, lo + q + (i < r ? 1 : 0)};
}

// The calling thread's share [*lo, *hi) of n iterations: contiguous, in thread order, sizes
// differing by at most one. A fixed function of (n, team size, thread number).
// Records the calling team's size for ck_team_probe (threads.c); call inside parallel regions.
void ck_note_team(void);

static inline void ck_share(ptrdiff_t n, ptrdiff_t *lo, ptrdiff_t *hi) {
#ifdef _OPENMP
    const ptrdiff_t t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    const ptrdiff_t t = 0, nt = 1;
#endif
    const ck_range r = ck_split(n, nt, t);
    *lo = r.lo;
    *hi = r.hi;
}

// Per-channel sums over a chunk's images (batch norm's statistics and gradients, PReLU's slopes) in
// fixed groups of images, so that a layer with few 16-channel blocks still has about 64 units of
// work (a 16-channel layer: 64 groups). Set by N and C alone: the NCHW and blocked kernels group
// alike and keep the same bits. G·C < CK_GROUPED_MAX whenever G > 1 (G ≤ ⌈64 / blocks⌉,
// C ≤ 16·blocks, blocks < 64).
#define CK_GROUP_TARGET_UNITS 64
#define CK_GROUPED_MAX 2048
// Groups of a chunk's N images for a reduction of `units` disjoint units: about
// CK_GROUP_TARGET_UNITS (unit, group) tasks, at most one group per image.
static inline ptrdiff_t ck_groups_for(ptrdiff_t N, ptrdiff_t units) {
    return ck_max(1, ck_min(N, ck_ceil_div(CK_GROUP_TARGET_UNITS, units)));
}
static inline ptrdiff_t ck_image_groups(ptrdiff_t N, ptrdiff_t C) { return ck_groups_for(N, ck_ceil_div(C, 16)); }
// Image groups of a convolution's backward-weights with `units` disjoint units: the fewest g that make
// the (unit, group) tasks a multiple of CK_GROUP_TARGET_UNITS, at most ⌈4·target / units⌉ and one
// per image. Set by the shape alone (FP32 and bf16 passes, every variant).
static inline ptrdiff_t ck_weights_groups(ptrdiff_t N, ptrdiff_t units) {
    const ptrdiff_t most = ck_max(1, ck_min(N, ck_ceil_div(4 * CK_GROUP_TARGET_UNITS, units)));
    for (ptrdiff_t g = 1; g < most; g++)
        if (g * units % CK_GROUP_TARGET_UNITS == 0) return g;
    return most;
}
// dst[c] = parts[c] + parts[C + c] + … over G groups, in group order.
static inline void ck_add_groups(double *dst, const double *parts, ptrdiff_t G, ptrdiff_t C) {
    for (ptrdiff_t c = 0; c < C; c++) {
        double t = parts[c];
        for (ptrdiff_t g = 1; g < G; g++) t += parts[g * C + c];
        dst[c] = t;
    }
}

// Two per-channel sums over groups of images: the units write row g of `out` (G, C); with one
// group that row is the result itself, else scratch rows that ck_group_sums_finish adds up.
typedef struct {
    ptrdiff_t G, C;
    double *dst[2], *out[2];
    double scratch[2][CK_GROUPED_MAX];
} ck_group_sums;

static inline void ck_group_sums_init(ck_group_sums *g, ptrdiff_t N, ptrdiff_t C, double *a, double *b) {
    g->G = ck_image_groups(N, C);
    g->C = C;
    g->dst[0] = a;
    g->dst[1] = b;
    for (int k = 0; k < 2; k++) g->out[k] = g->G > 1 ? g->scratch[k] : g->dst[k];
}

static inline void ck_group_sums_finish(const ck_group_sums *g) {
    if (g->G > 1)
        for (int k = 0; k < 2; k++) ck_add_groups(g->dst[k], g->out[k], g->G, g->C);
}

// dγ += Σ dy·x̂ and dβ += Σ dy per channel (either may be NULL), from the combined double sums.
static inline void ck_bn_add_param_grads(float *dgamma, float *dbeta, const double *sum_dy,
                                         const double *sum_dy_xhat, ptrdiff_t C) {
    for (ptrdiff_t c = 0; c < C; c++) {
        if (dgamma) dgamma[c] += (float)sum_dy_xhat[c];
        if (dbeta) dbeta[c] += (float)sum_dy[c];
    }
}

// Whether a loop worth parallelising (cond) gets a team: only if the caller's thread budget
// (omp_set_num_threads, per calling thread) is above one.
static inline int ck_go_parallel(int cond) {
#ifdef _OPENMP
    return cond && omp_get_max_threads() > 1;
#else
    (void)cond;
    return 0;
#endif
}

// Waits for the rest of the team; nothing outside a team.
static inline void ck_team_barrier(void) {
#ifdef _OPENMP
    if (omp_get_num_threads() > 1) {
#pragma omp barrier
    }
#endif
}

// Region tracing (trace.c, `bench scaling`): off unless some thread runs ck_trace_start, and then
// one relaxed load and a predictable branch per region. A traced region records its kernel
// (__func__), line, units and each thread's CPU time and units, including the one-thread loop that
// runs instead of a team at T = 1 (the cost per unit the model scales from). Only the kernels
// called from the thread that started the trace are traced; their teams write the lanes through
// the span the caller opened. Timing only: no result changes.
extern int ck_trace_threads;
typedef struct {
    ck_trace_region *region; // NULL: not traced
    ck_trace_lane *lanes;
} ck_trace_span;
ck_trace_span ck_trace_open(const char *kernel, int line, ptrdiff_t units);
int64_t ck_trace_thread_ns(void);
void ck_trace_lane_done(ck_trace_span tr, int64_t start_ns, ptrdiff_t units);
void ck_trace_close(ck_trace_span tr);

// The span when this thread traces and the loop is a region's (worth), else an empty one.
#define CK_TRACE_OPEN(worth, units)                                                          \
    (__builtin_expect(__atomic_load_n(&ck_trace_threads, __ATOMIC_RELAXED) != 0, 0) && (worth) \
         ? ck_trace_open(__func__, __LINE__, (units)) : (ck_trace_span){NULL, NULL})
#define CK_TRACE_LANE_START(tr) ((tr).region ? ck_trace_thread_ns() : (int64_t)0)
#define CK_TRACE_LANE_END(tr, t0, units)                                                     \
    do { if ((tr).region) ck_trace_lane_done((tr), (t0), (units)); } while (0)
#define CK_TRACE_CLOSE(tr) do { if ((tr).region) ck_trace_close(tr); } while (0)

// stmt, this thread's share of a region of `units` shared by ck_share, traced as one lane.
#define CK_TRACED_SHARE(tr, units, stmt)                                                     \
    do {                                                                                     \
        const int64_t ck_t0_ = CK_TRACE_LANE_START(tr);                                      \
        stmt;                                                                                \
        if ((tr).region) {                                                                   \
            ptrdiff_t ck_lo_, ck_hi_;                                                        \
            ck_share((units), &ck_lo_, &ck_hi_);                                             \
            ck_trace_lane_done((tr), ck_t0_, ck_hi_ - ck_lo_);                               \
        }                                                                                    \
    } while (0)

// for (ptrdiff_t i = 0; i < n; i++) { body } over the team when cond holds. The body is
// expanded twice (team and one-thread paths); variables it declares are private, everything
// else shared, as in `omp parallel for`. `inner` goes before each loop (`omp simd` or nothing).
#define CK_PARALLEL_FOR_WITH(inner, i, n, cond, ...)                              \
    do {                                                                          \
        const ptrdiff_t ck_n_ = (n);                                              \
        const int ck_worth_ = (cond);                                             \
        const ck_trace_span ck_tr_ = CK_TRACE_OPEN(ck_worth_, ck_n_);               \
        if (ck_go_parallel(ck_worth_)) {                                          \
            const unsigned ck_mode_ = ck_fp_mode();                               \
            _Pragma("omp parallel")                                               \
            {                                                                     \
                ptrdiff_t ck_lo_, ck_hi_;                                         \
                ck_fp_adopt(ck_mode_);                                            \
                ck_share(ck_n_, &ck_lo_, &ck_hi_);                                \
                const int64_t ck_t0_ = CK_TRACE_LANE_START(ck_tr_);               \
                inner                                                             \
                for (ptrdiff_t i = ck_lo_; i < ck_hi_; i++) { __VA_ARGS__ }       \
                CK_TRACE_LANE_END(ck_tr_, ck_t0_, ck_hi_ - ck_lo_);               \
            }                                                                     \
        } else {                                                                  \
            const int64_t ck_t0_ = CK_TRACE_LANE_START(ck_tr_);                   \
            inner                                                                 \
            for (ptrdiff_t i = 0; i < ck_n_; i++) { __VA_ARGS__ }                 \
            CK_TRACE_LANE_END(ck_tr_, ck_t0_, ck_n_);                             \
        }                                                                         \
        CK_TRACE_CLOSE(ck_tr_);                                                   \
    } while (0)

#define CK_PARALLEL_FOR(i, n, cond, ...) CK_PARALLEL_FOR_WITH(, i, n, cond, __VA_ARGS__)
// Each thread's range vectorized: for bodies without loop-carried dependences.
#define CK_PARALLEL_FOR_SIMD(i, n, cond, ...) CK_PARALLEL_FOR_WITH(_Pragma("omp simd"), i, n, cond, __VA_ARGS__)

// A GEMM operand as stored (before op()): element (r, c) sits at p[(c / blk)·bstride + r·ld + c % blk].
// blk = PTRDIFF_MAX is the plain row-major matrix. A group of NCHW images read as one
// (channels, images·pixels) matrix has ld = blk = pixels and bstride = channels·pixels, so
// convolutions multiply whole groups of images without copying them side by side first.
// Column blocks are only supported untransposed (trans = 0).
typedef struct {
    const float *p;
    ptrdiff_t ld, blk, bstride;
    int trans;
} ck_matrix;

static inline ck_matrix ck_plain_matrix(const float *p, ptrdiff_t ld, int trans) {
    return (ck_matrix){p, ld, PTRDIFF_MAX, 0, trans};
}

// The batch of `images` NCHW planes at p, (channels, pixels) each, as one (channels, images·pixels) matrix.
static inline ck_matrix ck_image_matrix(const float *p, ptrdiff_t channels, ptrdiff_t pixels) {
    return (ck_matrix){p, pixels, pixels, channels * pixels, 0};
}

// Address of stored element (r, c) of an untransposed operand.
static inline const float *ck_mat_at(const ck_matrix *m, ptrdiff_t r, ptrdiff_t c) {
    return m->p + (c / m->blk) * m->bstride + r * m->ld + c % m->blk;
}

// Copies stored row r, columns [c0, c0 + n), of an untransposed operand to dst[q·step]: one
// contiguous run per column block. One division per call (64-bit division costs tens of cycles,
// and packing calls this for every 48 floats), none for plain matrices.
static inline void ck_copy_run(float *restrict dst, ptrdiff_t step, const float *restrict src, ptrdiff_t n) {
    if (step == 1) for (ptrdiff_t t = 0; t < n; t++) dst[t] = src[t];
    else for (ptrdiff_t t = 0; t < n; t++) dst[t * step] = src[t];
}

static inline void ck_copy_row(float *restrict dst, ptrdiff_t step, const ck_matrix *m, ptrdiff_t r,
                               ptrdiff_t c0, ptrdiff_t n) {
    if (m->blk == PTRDIFF_MAX) { ck_copy_run(dst, step, m->p + r * m->ld + c0, n); return; }
    ptrdiff_t block = c0 / m->blk, off = c0 % m->blk;
    for (ptrdiff_t q = 0; q < n; block++, off = 0) {
        const ptrdiff_t run = ck_min(n - q, m->blk - off);
        ck_copy_run(dst + q * step, step, m->p + block * m->bstride + r * m->ld + off, run);
        q += run;
    }
}

// C = alpha·op(A)·op(B) + beta·C over ck_matrix operands (gemm.c); ck_sgemm is the plain case.
void ck_sgemm_blocked(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, float alpha, const ck_matrix *A,
                      const ck_matrix *B, float beta, const ck_matrix *C, float *workspace);

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
