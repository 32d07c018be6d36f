// SGEMM, row-major, cblas argument order. C (M,N) = alpha·op(A) (M,K) · op(B) (K,N) + beta·C.
//
// Three separable pieces (the BLIS / how-to-optimize-gemm shape):
//   1. blocking loops (here): jc over N in NC columns, pc over K in kc steps, then tasks of up to
//      MB_ROWS rows × the slivers of a B̃ block sized to L2 (blocks of even size, so that static
//      shares balance), each Ã panel held in L1 across them;
//   2. packing: op(A) into mr-row panels (kc, mr), op(B) into nr-column slivers (kc, nr), edges
//      zero-padded so the micro-kernel never sees a partial tile;
//   3. one register micro-kernel per instruction set (gemm_<isa>.c), chosen at run time.
// Threads split the (M-block × N-block) tile grid of each pc step, never K: every element of C is
// computed by the same instructions in the same k order whatever the thread count.
#include "gemm_ukernel.h"
#include <string.h>

#define NC 4096
#define MB_ROWS 192 // M rows per task

// A task's B̃ slivers, re-read from L2 by each of its row panels: half the core's L2 (the other half
// holds the C tiles the task writes and what streams past), at most the 768 KB tuned on Sapphire
// Rapids' 2 MB. 512 KB on Zen 4/5 (1 MB L2), 256 KB on Zen 3. Which tiles a task takes never
// changes how a tile is computed, so this moves no bits.
static ptrdiff_t b_block_floats(void) {
    return ck_max(64 * 1024, ck_min(192 * 1024, ck_l2_cache_bytes() / 2 / (ptrdiff_t)sizeof(float)));
}

const char *ck_gemm_kernel_name(void) { return ck_gemm_ukernel_for(ck_isa())->name; }

static inline float op_at(const float *X, ptrdiff_t ld, int trans, ptrdiff_t r, ptrdiff_t c) {
    return trans ? X[c * ld + r] : X[r * ld + c];
}

// Floats from one packed B̃ sliver to the next: kc·nr plus one cache line, so that slivers do not
// start a multiple of 4 KB apart (packing writes row p of every sliver in turn, and addresses 4 KB
// apart share an L1 set: 17 slivers thrash a 12-way set).
static inline ptrdiff_t sliver_stride(const ck_gemm_ukernel *u) { return u->kc * u->nr + 16; }

static ptrdiff_t workspace_for(const ck_gemm_ukernel *u, ptrdiff_t M, ptrdiff_t N) {
    return ck_ceil_div(M, u->mr) * u->mr * u->kc + sliver_stride(u) * ck_ceil_div(ck_min(N, NC), u->nr);
}

// Enough for every variant and both orientations (see transposed_is_tighter), so a buffer sized
// once serves whichever ISA a thread picks.
ptrdiff_t ck_sgemm_workspace_size(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K) {
    (void)K;
    ptrdiff_t w = 0;
    for (int isa = CK_ISA_PORTABLE; isa < CK_ISA_COUNT; isa++)
        if (ck_isa_supported(isa)) {
            const ck_gemm_ukernel *u = ck_gemm_ukernel_for(isa);
            w = ck_max(w, ck_max(workspace_for(u, M, N), workspace_for(u, N, M)));
        }
    return w;
}

// Area of C the register tiles cover, padding included.
static double tiled_area(const ck_gemm_ukernel *u, ptrdiff_t M, ptrdiff_t N) {
    return (double)(ck_ceil_div(M, u->mr) * u->mr) * (double)(ck_ceil_div(N, u->nr) * u->nr);
}

// Whether computing Cᵀ = op(B)ᵀ·op(A)ᵀ wastes clearly less of the tiles: an output layer's 10
// columns fill a fifth of a 48-wide tile, but its 128 rows fill 48-wide tiles well. Only for plain operands
// (the column-blocked image matrices are never transposed).
static int transposed_is_tighter(const ck_gemm_ukernel *u, ptrdiff_t M, ptrdiff_t N, const ck_matrix *A,
                                 const ck_matrix *B, const ck_matrix *C) {
    if (A->blk != PTRDIFF_MAX || B->blk != PTRDIFF_MAX || C->blk != PTRDIFF_MAX || C->trans) return 0;
    // A transposed C goes through the edge buffer tile by tile: only worth it for a clear gain.
    return 4 * tiled_area(u, N, M) < 3 * tiled_area(u, M, N);
}

// The tile at (i0, j0) with its valid part (rows, cols). Whole tiles inside one column block are
// written in place; edge tiles go through a local buffer, computed by the very same micro-kernel.
// C->trans marks a C stored transposed (the product was turned round): element (i, j) sits at
// p[j·ld + i], and such tiles always go through the buffer.
static void run_tile(const ck_gemm_ukernel *u, ptrdiff_t kc, const float *a, const float *b,
                     const ck_matrix *C, ptrdiff_t i0, ptrdiff_t j0, ptrdiff_t rows, ptrdiff_t cols,
                     float alpha, float beta) {
    if (rows == u->mr && cols == u->nr && !C->trans && j0 % C->blk + u->nr <= C->blk) {
        u->tile(kc, a, b, (float *)ck_mat_at(C, i0, j0), C->ld, alpha, beta);
        return;
    }
    _Alignas(64) float t[CK_GEMM_MAX_MR * CK_GEMM_MAX_NR]; // (mr, nr)
    const ptrdiff_t nr = u->nr;
    float *ct = (float *)C->p; // transposed C
    if (beta != 0.0f) {
        memset(t, 0, sizeof t);
        for (ptrdiff_t i = 0; i < rows; i++) {
            if (!C->trans) ck_copy_row(t + i * nr, 1, C, i0 + i, j0, cols);
            else for (ptrdiff_t j = 0; j < cols; j++) t[i * nr + j] = ct[(j0 + j) * C->ld + i0 + i];
        }
    }
    u->tile(kc, a, b, t, nr, alpha, beta);
    for (ptrdiff_t j = 0; j < cols; j++) {
        float *c = C->trans ? ct + (j0 + j) * C->ld + i0 : (float *)ck_mat_at(C, i0, j0 + j);
        const ptrdiff_t step = C->trans ? 1 : C->ld;
        for (ptrdiff_t i = 0; i < rows; i++) c[i * step] = t[i * nr + j];
    }
}

static void scale_c(const ck_matrix *C, ptrdiff_t M, ptrdiff_t N, float beta) {
    for (ptrdiff_t i = 0; i < M; i++)
        for (ptrdiff_t j = 0; j < N; j++) {
            float *c = (float *)ck_mat_at(C, i, j);
            *c = beta == 0.0f ? 0.0f : beta * *c;
        }
}

// One (N-block, K-slice) step on the calling thread's fixed share: pack B's slivers and A's
// panels, wait for the team, then the (M-block × N-block) tiles. Outside a team, all of it.
typedef struct {
    const ck_gemm_ukernel *u;
    const ck_matrix *A, *B, *C;
    float *apack, *bpack;
    ptrdiff_t bstride; // floats between slivers (sliver_stride)
    ptrdiff_t M, N, jc, nc, pc, kc, mpanels, npanels, mb_panels, mblocks, nblocks, nb_panels;
    float alpha, beta;
} gemm_step;

// Row p of the K slice into every sliver: B is read front to back, one row at a time (walking a
// sliver down B's rows instead touches lines a row length apart, which share cache sets).
static void pack_b_row(const gemm_step *g, ptrdiff_t p) {
    const ptrdiff_t nr = g->u->nr;
    for (ptrdiff_t jp = 0; jp < g->npanels; jp++) {
        float *dst = g->bpack + jp * g->bstride + p * nr;
        const ptrdiff_t cols = ck_min(nr, g->nc - jp * nr);
        ck_copy_row(dst, 1, g->B, g->pc + p, g->jc + jp * nr, cols);
        for (ptrdiff_t j = cols; j < nr; j++) dst[j] = 0.0f;
    }
}

static void gemm_step_share(const gemm_step *g) {
    ck_note_team();
    const ck_gemm_ukernel *u = g->u;
    const ptrdiff_t mr = u->mr, nr = u->nr, KC = u->kc;
    ptrdiff_t lo, hi;
    if (!g->B->trans) {
        ck_share(g->kc, &lo, &hi);
        for (ptrdiff_t p = lo; p < hi; p++) pack_b_row(g, p);
    } else {
        ck_share(g->npanels, &lo, &hi);
        for (ptrdiff_t jp = lo; jp < hi; jp++)
            u->pack_b(g->bpack + jp * g->bstride, g->B, g->pc, g->kc, g->jc + jp * nr, ck_min(nr, g->nc - jp * nr));
    }
    ck_share(g->mpanels, &lo, &hi);
    for (ptrdiff_t ip = lo; ip < hi; ip++)
        u->pack_a(g->apack + ip * KC * mr, g->A, ip * mr, ck_min(mr, g->M - ip * mr), g->pc, g->kc);
    ck_team_barrier();
    ck_share(g->mblocks * g->nblocks, &lo, &hi);
    for (ptrdiff_t t = lo; t < hi; t++) {
        const ptrdiff_t mb = t / g->nblocks, nb = t % g->nblocks;
        const ptrdiff_t ip_end = ck_min(g->mpanels, (mb + 1) * g->mb_panels);
        const ptrdiff_t jp_end = ck_min(g->npanels, (nb + 1) * g->nb_panels);
        // Ã panel (kc·mr floats) held in L1 across the block's slivers, which stream from L2; C is
        // then written row panel by row panel, left to right.
        for (ptrdiff_t ip = mb * g->mb_panels; ip < ip_end; ip++)
            for (ptrdiff_t jp = nb * g->nb_panels; jp < jp_end; jp++) {
                const ptrdiff_t i0 = ip * mr, j0 = g->jc + jp * nr;
                run_tile(u, g->kc, g->apack + ip * KC * mr, g->bpack + jp * g->bstride, g->C, i0, j0,
                         ck_min(mr, g->M - i0), ck_min(nr, g->N - j0), g->alpha, g->beta);
            }
    }
}

void ck_sgemm_blocked(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, float alpha, const ck_matrix *A,
                      const ck_matrix *B, float beta, const ck_matrix *C, float *workspace) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) { scale_c(C, M, N, beta); return; }
    const ck_gemm_ukernel *u = ck_gemm_ukernel_for(ck_isa()); // read once: the team shares it
    if (transposed_is_tighter(u, M, N, A, B, C)) {
        // Cᵀ (N, M) = op(B)ᵀ · op(A)ᵀ: every element is the same products summed in the same
        // order (a·b = b·a exactly), so the bits do not depend on the orientation.
        ck_matrix at = *B, bt = *A, ct = *C;
        at.trans ^= 1; bt.trans ^= 1; ct.trans = 1;
        ck_sgemm_blocked(N, M, K, alpha, &at, &bt, beta, &ct, workspace);
        return;
    }
    const ptrdiff_t mr = u->mr, nr = u->nr, KC = u->kc;
    const ptrdiff_t mpanels = ck_ceil_div(M, mr);
    float *apack = workspace;                      // (mpanels, KC, mr)
    float *bpack = workspace + mpanels * mr * KC;  // (npanels, KC, nr), slivers sliver_stride apart
    // A fork/join costs a few microseconds: small products stay on the calling thread.
    const int worth = (double)M * (double)N * (double)K >= 262144.0, parallel = ck_go_parallel(worth);
#ifdef _OPENMP
    const int nthreads = parallel ? omp_get_max_threads() : 1;
#else
    const int nthreads = 1;
#endif
    // Row blocks of at most MB_ROWS, made even: 128 panels in blocks of 24 would leave a last block
    // of 8, and a static share of unequal tasks idles a thread (2 threads on 1024³: 89 % busy).
    // Narrow products (an FC layer: 128 rows × a few slivers) have too few N blocks for a wide team:
    // there the rows are cut finer, down to one panel, for about 4 tasks per thread. Like the N
    // blocks, a pure function of the shape and the team size that moves no bits.
    const ptrdiff_t wide_panels = ck_ceil_div(ck_min(N, NC), nr);
    const ptrdiff_t row_blocks = ck_max(ck_ceil_div(mpanels, ck_max(1, MB_ROWS / mr)),
                                        ck_min(mpanels, ck_ceil_div(4 * (ptrdiff_t)nthreads, wide_panels)));
    const ptrdiff_t mb_panels = ck_ceil_div(mpanels, row_blocks);
    const ptrdiff_t mblocks = ck_ceil_div(mpanels, mb_panels);

    for (ptrdiff_t jc = 0; jc < N; jc += NC) {
        const ptrdiff_t nc = ck_min(NC, N - jc);
        const ptrdiff_t npanels = ck_ceil_div(nc, nr);
        // N-block width in slivers: aim at about 4 tasks per thread so static shares balance.
        // A pure function of the shape and the team size; which tile a thread computes never
        // changes how that tile is computed.
        ptrdiff_t nb_panels = ck_ceil_div(npanels * mblocks, 4 * (ptrdiff_t)nthreads);
        nb_panels = ck_max(1, ck_min(nb_panels, b_block_floats() / (KC * nr)));
        nb_panels = ck_ceil_div(npanels, ck_ceil_div(npanels, nb_panels)); // even blocks, as the rows
        for (ptrdiff_t pc = 0; pc < K; pc += KC) {
            const gemm_step g = {u, A, B, C, apack, bpack, sliver_stride(u), M, N, jc, nc, pc, ck_min(KC, K - pc),
                                 mpanels, npanels, mb_panels, mblocks, ck_ceil_div(npanels, nb_panels),
                                 nb_panels, alpha, pc == 0 ? beta : 1.0f};
            const ptrdiff_t tasks = g.mblocks * g.nblocks;
            const ck_trace_span tr = CK_TRACE_OPEN(worth, tasks);
            if (parallel) {
                const unsigned mode = ck_fp_mode();
#pragma omp parallel
                {
                    ck_fp_adopt(mode);
                    CK_TRACED_SHARE(tr, tasks, gemm_step_share(&g));
                }
            } else {
                CK_TRACED_SHARE(tr, tasks, gemm_step_share(&g));
            }
            CK_TRACE_CLOSE(tr);
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
