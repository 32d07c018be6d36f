// bf16 GEMM, row-major, cblas argument order: C (M,N) float = alpha·op(A) (M,K)·op(B) (K,N) + beta·C,
// A and B bf16. gemm.c's shape: blocking loops (jc over N in NC columns, pc over K in KC slices, tasks
// of M-block × N-block tiles), packing, one micro-kernel. Packing here takes K in pairs:
//   avx512bf16: Ã (kc/2, mr) and B̃ (kc/2, nr) of 32-bit bf16 pairs, for VDPBF16PS;
//   widen: Ã (kc, mr) and B̃ (kc, nr) of floats, each pair stored odd element first, for the
//   calling thread's FP32 micro-kernel, whose FMAs then run in VDPBF16PS's order.
// Both run with FTZ + DAZ, as VDPBF16PS always does, so both give the same bits. Threads split the
// tiles of each pc step, never K.
#include "gemm_bf16.h"
#include <stdio.h>

#define NC 4096
#define KC 256 // even, and the FP32 kernels' slice: each element sums the same pairs in every variant
#define MB_ROWS 192
#define B_BLOCK_WORDS (192 * 1024)

typedef struct {
    const char *name;
    ptrdiff_t mr, nr;
    const ck_gemm_bf16_ukernel *bf; // VDPBF16PS kernel, or NULL: widen into f32's tiles
    const ck_gemm_ukernel *f32;
} variant;

static variant variant_for(int bf16isa, int isa) {
    if (bf16isa == CK_BF16_AVX512) {
        const ck_gemm_bf16_ukernel *u = &ck_gemm_bf16_ukernel_avx512;
        return (variant){u->name, u->mr, u->nr, u, NULL};
    }
    const ck_gemm_ukernel *f = ck_gemm_ukernel_for(isa);
    return (variant){f->name, f->mr, f->nr, NULL, f};
}

const char *ck_gemm_bf16_kernel_name(void) {
    static _Thread_local char name[64];
    const variant v = variant_for(ck_bf16_isa(), ck_isa());
    if (v.bf) return v.name;
    snprintf(name, sizeof name, "widen %s", v.name);
    return name;
}

static inline float widen(uint16_t b) { return ck_ref_bf16_to_f32(b); }

static inline uint16_t op_at(const uint16_t *X, ptrdiff_t ld, int trans, ptrdiff_t r, ptrdiff_t c) {
    return trans ? X[c * ld + r] : X[r * ld + c];
}

// 4-byte words from one packed B̃ sliver to the next (gemm.c's sliver_stride: one line of slack).
static inline ptrdiff_t sliver_stride(const variant *v) { return KC * v->nr + 16; }

static ptrdiff_t workspace_for(const variant *v, ptrdiff_t M, ptrdiff_t N) {
    return ck_ceil_div(M, v->mr) * v->mr * KC + sliver_stride(v) * ck_ceil_div(ck_min(N, NC), v->nr);
}

ptrdiff_t ck_gemm_bf16_workspace_size(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K) {
    (void)K;
    ptrdiff_t w = 0;
    for (int isa = CK_ISA_PORTABLE; isa < CK_ISA_COUNT; isa++)
        if (ck_isa_supported(isa)) {
            const variant v = variant_for(CK_BF16_WIDEN, isa);
            w = ck_max(w, workspace_for(&v, M, N));
        }
    if (ck_bf16_isa_supported(CK_BF16_AVX512)) {
        const variant v = variant_for(CK_BF16_AVX512, CK_ISA_AVX512);
        w = ck_max(w, workspace_for(&v, M, N));
    }
    return w;
}

typedef struct {
    const uint16_t *p;
    ptrdiff_t ld;
    int trans;
} operand;

// One packed entry: the pair (e0 = element 2q, e1 = element 2q + 1) as a 32-bit word, or widened
// into two floats, odd element first.
static inline void put(void *restrict dst, int bf, ptrdiff_t width, ptrdiff_t q, ptrdiff_t i, uint16_t e0,
                       uint16_t e1) {
    if (bf) {
        ((uint32_t *)dst)[q * width + i] = (uint32_t)e0 | (uint32_t)e1 << 16;
    } else {
        ((float *)dst)[2 * q * width + i] = widen(e1);
        ((float *)dst)[(2 * q + 1) * width + i] = widen(e0);
    }
}

// Packs `len` (≤ width) lines from rc0 (rows of op(A), or columns of op(B)), K slice [p0, p0 + kc),
// into (⌈kc/2⌉, width) entries; entries past len or K are zero. A line's K run is either contiguous
// in memory (plain A, transposed B: pairs are adjacent) or strided (pairs from two stored rows).
static void pack(void *restrict dst, const variant *v, const operand *x, int is_b, ptrdiff_t width, ptrdiff_t rc0,
                 ptrdiff_t len, ptrdiff_t p0, ptrdiff_t kc) {
    const ptrdiff_t kp = ck_ceil_div(kc, 2);
    const int bf = v->bf != NULL, contiguous = is_b ? x->trans : !x->trans;
    for (ptrdiff_t q = 0; q < kp; q++) {
        const int odd = 2 * q + 1 < kc; // the pair's second element exists
        if (contiguous) { // line i at x->p + (rc0 + i)·ld + p0
            for (ptrdiff_t i = 0; i < len; i++) {
                const uint16_t *src = x->p + (rc0 + i) * x->ld + p0 + 2 * q;
                put(dst, bf, width, q, i, src[0], odd ? src[1] : 0);
            }
        } else { // element k of line i at x->p + (p0 + k)·ld + rc0 + i
            const uint16_t *r0 = x->p + (p0 + 2 * q) * x->ld + rc0, *r1 = r0 + x->ld;
            for (ptrdiff_t i = 0; i < len; i++) put(dst, bf, width, q, i, r0[i], odd ? r1[i] : 0);
        }
        for (ptrdiff_t i = len; i < width; i++) put(dst, bf, width, q, i, 0, 0);
    }
}

typedef struct {
    const variant *v;
    operand A, B;
    float *C;
    ptrdiff_t ldc;
    void *apack, *bpack;
    ptrdiff_t M, N, K, jc, nc, pc, kc, mpanels, npanels, mb_panels, mblocks, nblocks, nb_panels;
    float alpha, beta;
} step;

static void run_tile(const step *g, const void *a, const void *b, ptrdiff_t i0, ptrdiff_t j0, ptrdiff_t rows,
                     ptrdiff_t cols) {
    const variant *v = g->v;
    const ptrdiff_t kp = ck_ceil_div(g->kc, 2);
    float *c = g->C + i0 * g->ldc + j0;
    _Alignas(64) float t[CK_GEMM_MAX_MR * CK_GEMM_MAX_NR]; // (mr, nr): edge tiles
    const int whole = rows == v->mr && cols == v->nr;
    float *dst = whole ? c : t;
    const ptrdiff_t ld = whole ? g->ldc : v->nr;
    if (!whole && g->beta != 0.0f) {
        memset(t, 0, sizeof t);
        for (ptrdiff_t i = 0; i < rows; i++)
            for (ptrdiff_t j = 0; j < cols; j++) t[i * v->nr + j] = c[i * g->ldc + j];
    }
    if (v->bf) v->bf->tile(kp, a, b, dst, ld, g->alpha, g->beta);
    else v->f32->tile(2 * kp, a, b, dst, ld, g->alpha, g->beta);
    if (!whole)
        for (ptrdiff_t i = 0; i < rows; i++)
            for (ptrdiff_t j = 0; j < cols; j++) c[i * g->ldc + j] = t[i * v->nr + j];
}

static void step_share(const step *g) {
    ck_note_team();
    const variant *v = g->v;
    const ptrdiff_t mr = v->mr, nr = v->nr, bstride = sliver_stride(v);
    uint32_t *apack = g->apack, *bpack = g->bpack; // 4-byte words either way
    ptrdiff_t lo, hi;
    ck_share(g->npanels, &lo, &hi);
    for (ptrdiff_t jp = lo; jp < hi; jp++)
        pack(bpack + jp * bstride, v, &g->B, 1, nr, g->jc + jp * nr, ck_min(nr, g->nc - jp * nr), g->pc, g->kc);
    ck_share(g->mpanels, &lo, &hi);
    for (ptrdiff_t ip = lo; ip < hi; ip++)
        pack(apack + ip * KC * mr, v, &g->A, 0, mr, ip * mr, ck_min(mr, g->M - ip * mr), g->pc, g->kc);
    ck_team_barrier();
    ck_share(g->mblocks * g->nblocks, &lo, &hi);
    for (ptrdiff_t t = lo; t < hi; t++) {
        const ptrdiff_t mb = t / g->nblocks, nb = t % g->nblocks;
        const ptrdiff_t ip_end = ck_min(g->mpanels, (mb + 1) * g->mb_panels);
        const ptrdiff_t jp_end = ck_min(g->npanels, (nb + 1) * g->nb_panels);
        for (ptrdiff_t ip = mb * g->mb_panels; ip < ip_end; ip++)
            for (ptrdiff_t jp = nb * g->nb_panels; jp < jp_end; jp++) {
                const ptrdiff_t i0 = ip * mr, j0 = g->jc + jp * nr;
                run_tile(g, apack + ip * KC * mr, bpack + jp * bstride, i0, j0, ck_min(mr, g->M - i0),
                         ck_min(nr, g->N - j0));
            }
    }
}

static void run(const variant *v, const operand *A, const operand *B, float *C, ptrdiff_t ldc, ptrdiff_t M,
                ptrdiff_t N, ptrdiff_t K, float alpha, float beta, float *workspace) {
    const ptrdiff_t mr = v->mr, nr = v->nr, mpanels = ck_ceil_div(M, mr);
    uint32_t *apack = (uint32_t *)workspace, *bpack = apack + mpanels * mr * KC;
    const int parallel = ck_go_parallel((double)M * (double)N * (double)K >= 262144.0);
#ifdef _OPENMP
    const int nthreads = parallel ? omp_get_max_threads() : 1;
#else
    const int nthreads = 1;
#endif
    const ptrdiff_t mb_panels = ck_max(1, MB_ROWS / mr), mblocks = ck_ceil_div(mpanels, mb_panels);
    for (ptrdiff_t jc = 0; jc < N; jc += NC) {
        const ptrdiff_t nc = ck_min(NC, N - jc), npanels = ck_ceil_div(nc, nr);
        // gemm.c's rule: about 4 tasks per thread; a tile's computation never depends on it.
        ptrdiff_t nb_panels = ck_ceil_div(npanels * mblocks, 4 * (ptrdiff_t)nthreads);
        nb_panels = ck_max(1, ck_min(nb_panels, B_BLOCK_WORDS / (KC * nr)));
        for (ptrdiff_t pc = 0; pc < K; pc += KC) {
            const step g = {v, *A, *B, C, ldc, apack, bpack, M, N, K, jc, nc, pc, ck_min(KC, K - pc), mpanels,
                            npanels, mb_panels, mblocks, ck_ceil_div(npanels, nb_panels), nb_panels, alpha,
                            pc == 0 ? beta : 1.0f};
            if (parallel) {
                const unsigned mode = ck_fp_mode();
#pragma omp parallel
                {
                    ck_fp_adopt(mode);
                    step_share(&g);
                }
            } else {
                step_share(&g);
            }
        }
    }
}

void ck_gemm_bf16(int transA, int transB, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, float alpha, const uint16_t *A,
                  ptrdiff_t lda, const uint16_t *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc,
                  float *workspace) {
    if (M <= 0 || N <= 0) return;
    const int flushed = ck_get_flush_subnormals();
    ck_set_flush_subnormals(1); // VDPBF16PS's mode, for the widening path and every epilogue
    if (K <= 0 || alpha == 0.0f) {
        for (ptrdiff_t i = 0; i < M; i++)
            for (ptrdiff_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    } else {
        const variant v = variant_for(ck_bf16_isa(), ck_isa()); // read once: the team shares it
        const operand a = {A, lda, transA}, b = {B, ldb, transB};
        run(&v, &a, &b, C, ldc, M, N, K, alpha, beta, workspace);
    }
    ck_set_flush_subnormals(flushed);
}

// Reference: the definition on the widened values, accumulated in double.
void ck_ref_gemm_bf16(int transA, int transB, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, float alpha,
                      const uint16_t *A, ptrdiff_t lda, const uint16_t *B, ptrdiff_t ldb, float beta, float *C,
                      ptrdiff_t ldc) {
    for (ptrdiff_t i = 0; i < M; i++)
        for (ptrdiff_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (ptrdiff_t p = 0; p < K; p++)
                acc += (double)widen(op_at(A, lda, transA, i, p)) * (double)widen(op_at(B, ldb, transB, p, j));
            const double prev = beta == 0.0f ? 0.0 : (double)beta * C[i * ldc + j];
            C[i * ldc + j] = (float)(prev + (double)alpha * acc);
        }
}
