// SGEMM, row-major, cblas argument order. C (M,N) = alpha·op(A) (M,K) · op(B) (K,N) + beta·C.
//
// Three separable pieces (the BLIS / how-to-optimize-gemm shape):
//   1. blocking loops: jc over N in NC columns, pc over K in KC steps;
//   2. packing: op(A) into MR-row panels (KC, MR), op(B) into NR-column slivers (KC, NR), edges
//      zero-padded so the micro-kernel never sees a partial tile;
//   3. one register micro-kernel: acc (MR, NR) = Ã panel · B̃ sliver, then C = β·C + α·acc.
// Threads split the (M-block × N-block) tile grid of each pc step, never K: every element of C is
// computed by the same instructions in the same k order whatever the thread count.
#include "ck_internal.h"
#include <string.h>

#pragma clang fp contract(fast)

// Vector width and register tile per ISA. The micro-kernel is written once with clang vector
// types; the compiler maps them to zmm, ymm or xmm registers.
#if defined(__AVX512F__)
#define VL 16
#define MR 8
#define KNAME "avx512 8x32"
#elif defined(__AVX2__) && defined(__FMA__)
#define VL 8
#define MR 6
#define KNAME "avx2+fma 6x16"
#else
#define VL 4
#define MR 4
#define KNAME "portable 4x8"
#endif
#define NR (2 * VL)
#define KC 256
#define NC 4096
#define MB_PANELS 24 // M rows per task: 24 panels (144 rows on AVX2), Ã block stays in L2

typedef float vf __attribute__((vector_size(VL * 4), aligned(4)));

const char *ck_gemm_kernel_name(void) { return KNAME; }

static inline float op_at(const float *X, ptrdiff_t ld, int trans, ptrdiff_t r, ptrdiff_t c) {
    return trans ? X[c * ld + r] : X[r * ld + c];
}

ptrdiff_t ck_sgemm_workspace_size(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K) {
    (void)K;
    return ck_ceil_div(M, MR) * MR * KC + KC * ck_ceil_div(ck_min(N, NC), NR) * NR;
}

// Address of stored element (r, c) of an untransposed operand (see ck_matrix).
static inline const float *mat_at(const ck_matrix *m, ptrdiff_t r, ptrdiff_t c) {
    return m->p + (c / m->blk) * m->bstride + r * m->ld + c % m->blk;
}

// Copies stored row r, columns [c0, c0 + n), of an untransposed operand to dst[q·step]: one
// contiguous run per column block.
static inline void copy_row(float *restrict dst, ptrdiff_t step, const ck_matrix *m, ptrdiff_t r,
                            ptrdiff_t c0, ptrdiff_t n) {
    for (ptrdiff_t q = 0; q < n;) {
        const float *src = mat_at(m, r, c0 + q);
        const ptrdiff_t run = ck_min(n - q, m->blk - (c0 + q) % m->blk);
        for (ptrdiff_t t = 0; t < run; t++) dst[(q + t) * step] = src[t];
        q += run;
    }
}

// Ã panel (kc, MR): panel[p·MR + i] = op(A)(i0 + i, p0 + p), rows past M are zero.
static void pack_a_panel(float *restrict panel, const ck_matrix *A, ptrdiff_t i0, ptrdiff_t mr,
                         ptrdiff_t p0, ptrdiff_t kc) {
    if (!A->trans) {
        for (ptrdiff_t i = 0; i < MR; i++) {
            if (i < mr) copy_row(panel + i, MR, A, i0 + i, p0, kc);
            else for (ptrdiff_t p = 0; p < kc; p++) panel[p * MR + i] = 0.0f;
        }
    } else {
        for (ptrdiff_t p = 0; p < kc; p++) {
            const float *src = A->p + (p0 + p) * A->ld + i0;
            ptrdiff_t i = 0;
            for (; i < mr; i++) panel[p * MR + i] = src[i];
            for (; i < MR; i++) panel[p * MR + i] = 0.0f;
        }
    }
}

// B̃ sliver (kc, NR): sliver[p·NR + j] = op(B)(p0 + p, j0 + j), columns past N are zero.
static void pack_b_sliver(float *restrict sliver, const ck_matrix *B, ptrdiff_t p0, ptrdiff_t kc,
                          ptrdiff_t j0, ptrdiff_t nr) {
    if (!B->trans) {
        for (ptrdiff_t p = 0; p < kc; p++) {
            copy_row(sliver + p * NR, 1, B, p0 + p, j0, nr);
            for (ptrdiff_t j = nr; j < NR; j++) sliver[p * NR + j] = 0.0f;
        }
    } else {
        for (ptrdiff_t j = 0; j < NR; j++) {
            if (j < nr) {
                const float *col = B->p + (j0 + j) * B->ld + p0;
                for (ptrdiff_t p = 0; p < kc; p++) sliver[p * NR + j] = col[p];
            } else {
                for (ptrdiff_t p = 0; p < kc; p++) sliver[p * NR + j] = 0.0f;
            }
        }
    }
}

// The micro-kernel: acc (MR, NR) = Σ_p a[p·MR + i] · b[p·NR + j]; then C = β·C + α·acc on the
// mr × nr valid part of the tile at (i0, j0). The accumulation is identical for full and edge
// tiles, so a value never depends on where the tile boundaries fall.
static void micro_kernel(ptrdiff_t kc, const float *restrict a, const float *restrict b,
                         const ck_matrix *C, ptrdiff_t i0, ptrdiff_t j0, ptrdiff_t mr, ptrdiff_t nr,
                         float alpha, float beta) {
    vf acc[MR][2];
    for (int i = 0; i < MR; i++) { acc[i][0] = (vf){0}; acc[i][1] = (vf){0}; }
    for (ptrdiff_t p = 0; p < kc; p++) {
        const vf b0 = *(const vf *)(b + p * NR);
        const vf b1 = *(const vf *)(b + p * NR + VL);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            const float ai = a[p * MR + i];
            acc[i][0] += ai * b0;
            acc[i][1] += ai * b1;
        }
    }
    const ptrdiff_t ldc = C->ld;
    if (mr == MR && nr == NR && j0 % C->blk + NR <= C->blk) { // a whole tile inside one block
        float *c = (float *)mat_at(C, i0, j0);
        for (int i = 0; i < MR; i++) {
            vf *c0 = (vf *)(c + i * ldc), *c1 = (vf *)(c + i * ldc + VL);
            if (beta == 0.0f) {
                *c0 = alpha * acc[i][0];
                *c1 = alpha * acc[i][1];
            } else {
                *c0 = beta * *c0 + alpha * acc[i][0];
                *c1 = beta * *c1 + alpha * acc[i][1];
            }
        }
        return;
    }
    float tile[MR * NR];
    for (int i = 0; i < MR; i++) {
        memcpy(tile + i * NR, &acc[i][0], VL * sizeof(float));
        memcpy(tile + i * NR + VL, &acc[i][1], VL * sizeof(float));
    }
    for (ptrdiff_t j = 0; j < nr; j++) {
        float *c = (float *)mat_at(C, i0, j0 + j);
        for (ptrdiff_t i = 0; i < mr; i++) {
            float *cij = c + i * ldc;
            *cij = beta == 0.0f ? alpha * tile[i * NR + j] : beta * *cij + alpha * tile[i * NR + j];
        }
    }
}

static void scale_c(const ck_matrix *C, ptrdiff_t M, ptrdiff_t N, float beta) {
    for (ptrdiff_t i = 0; i < M; i++)
        for (ptrdiff_t j = 0; j < N; j++) {
            float *c = (float *)mat_at(C, i, j);
            *c = beta == 0.0f ? 0.0f : beta * *c;
        }
}

// One (N-block, K-slice) step on the calling thread's fixed share: pack B's slivers and A's
// panels, wait for the team, then the (M-block × N-block) tiles. Outside a team, all of it.
typedef struct {
    const ck_matrix *A, *B, *C;
    float *apack, *bpack;
    ptrdiff_t M, N, jc, nc, pc, kc, mpanels, npanels, mblocks, nblocks, nb_panels;
    float alpha, beta;
} gemm_step;

static void gemm_step_share(const gemm_step *g) {
    ptrdiff_t lo, hi;
    ck_share(g->npanels, &lo, &hi);
    for (ptrdiff_t jp = lo; jp < hi; jp++)
        pack_b_sliver(g->bpack + jp * KC * NR, g->B, g->pc, g->kc, g->jc + jp * NR, ck_min(NR, g->nc - jp * NR));
    ck_share(g->mpanels, &lo, &hi);
    for (ptrdiff_t ip = lo; ip < hi; ip++)
        pack_a_panel(g->apack + ip * KC * MR, g->A, ip * MR, ck_min(MR, g->M - ip * MR), g->pc, g->kc);
    ck_team_barrier();
    ck_share(g->mblocks * g->nblocks, &lo, &hi);
    for (ptrdiff_t t = lo; t < hi; t++) {
        const ptrdiff_t mb = t / g->nblocks, nb = t % g->nblocks;
        const ptrdiff_t ip_end = ck_min(g->mpanels, (mb + 1) * MB_PANELS);
        const ptrdiff_t jp_end = ck_min(g->npanels, (nb + 1) * g->nb_panels);
        for (ptrdiff_t jp = nb * g->nb_panels; jp < jp_end; jp++)
            for (ptrdiff_t ip = mb * MB_PANELS; ip < ip_end; ip++) {
                const ptrdiff_t i0 = ip * MR, j0 = g->jc + jp * NR;
                micro_kernel(g->kc, g->apack + ip * KC * MR, g->bpack + jp * KC * NR, g->C, i0, j0,
                             ck_min(MR, g->M - i0), ck_min(NR, g->N - j0), g->alpha, g->beta);
            }
    }
}

void ck_sgemm_blocked(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, float alpha, const ck_matrix *A,
                      const ck_matrix *B, float beta, const ck_matrix *C, float *workspace) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) { scale_c(C, M, N, beta); return; }
    const ptrdiff_t mpanels = ck_ceil_div(M, MR);
    float *apack = workspace;                   // (mpanels, KC, MR)
    float *bpack = workspace + mpanels * MR * KC; // (npanels, KC, NR)
    // A fork/join costs a few microseconds: small products stay on the calling thread.
    const int parallel = ck_go_parallel((double)M * (double)N * (double)K >= 262144.0);
#ifdef _OPENMP
    const int nthreads = parallel ? omp_get_max_threads() : 1;
#else
    const int nthreads = 1;
#endif

    for (ptrdiff_t jc = 0; jc < N; jc += NC) {
        const ptrdiff_t nc = ck_min(NC, N - jc);
        const ptrdiff_t npanels = ck_ceil_div(nc, NR);
        const ptrdiff_t mblocks = ck_ceil_div(mpanels, MB_PANELS);
        // N-block width in slivers: aim at about 4 tasks per thread so static shares balance.
        ptrdiff_t nb_panels = ck_ceil_div(npanels * mblocks, 4 * (ptrdiff_t)nthreads);
        nb_panels = ck_max(1, ck_min(nb_panels, 16));
        for (ptrdiff_t pc = 0; pc < K; pc += KC) {
            const gemm_step g = {A, B, C, apack, bpack, M, N, jc, nc, pc, ck_min(KC, K - pc), mpanels, npanels,
                                 mblocks, ck_ceil_div(npanels, nb_panels), nb_panels, alpha, pc == 0 ? beta : 1.0f};
            if (parallel) {
#pragma omp parallel
                gemm_step_share(&g);
            } else {
                gemm_step_share(&g);
            }
        }
    }
}

void ck_sgemm(int transA, int transB, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, float alpha,
              const float *A, ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta, float *C,
              ptrdiff_t ldc, float *workspace) {
    const ck_matrix a = ck_plain_matrix(A, lda, transA), b = ck_plain_matrix(B, ldb, transB);
    const ck_matrix c = ck_plain_matrix(C, ldc, 0);
    ck_sgemm_blocked(M, N, K, alpha, &a, &b, beta, &c, workspace);
}

// Reference: the definition, accumulated in double.
void ck_ref_sgemm(int transA, int transB, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, float alpha,
                  const float *A, ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta,
                  float *C, ptrdiff_t ldc) {
    for (ptrdiff_t i = 0; i < M; i++)
        for (ptrdiff_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (ptrdiff_t p = 0; p < K; p++)
                acc += (double)op_at(A, lda, transA, i, p) * (double)op_at(B, ldb, transB, p, j);
            const double prev = beta == 0.0f ? 0.0 : (double)beta * C[i * ldc + j];
            C[i * ldc + j] = (float)(prev + (double)alpha * acc);
        }
}
