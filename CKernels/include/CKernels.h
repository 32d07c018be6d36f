// CKernels: GoodInit's C kernel layer. Pure functions over raw float32 buffers.
//
// Conventions (one for the whole API):
//   - sizes: N batch, C input channels, H,W input height/width, K output channels (or features),
//     R,S kernel height/width, P,Q output height/width. Activations NCHW, conv weights KCRS.
//   - outputs first, then inputs and parameters, then sizes (llm.c order); cuDNN-style names
//     y, x, w, dy, dx, dw.
//   - backward passes ACCUMULATE (+=) into dx / dw / db: the caller zeroes once per step.
//   - no allocation, no global state but the OpenMP thread count, the floating-point mode and
//     ck_team_probe's record (all per calling thread), and the region trace while one runs (ck_trace_start);
//     scratch ("workspace") is passed in by the caller, sized by the matching ck_*_workspace_size().
//   - every optimised kernel has a plain reference ck_ref_* beside it: the test oracle. The
//     references accumulate in double.
//   - determinism: every reduction runs over a fixed partition in index order, so results are
//     bitwise identical for any thread count.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Threads

/// Sets the OpenMP thread count for kernels called from *this* thread (a per-thread setting).
void ck_set_num_threads(int n);
/// The thread count kernels called from this thread will use (1 without OpenMP).
int ck_get_max_threads(void);
/// Flush subnormal floats to zero (x86 FTZ + DAZ) in kernels called from *this* thread; their
/// OpenMP teams follow the caller. Returns 0 when the CPU has no such mode (then nothing changed).
int ck_set_flush_subnormals(int on);
/// Whether kernels called from this thread flush subnormals to zero.
int ck_get_flush_subnormals(void);
/// 1 when built with OpenMP, else 0.
int ck_has_openmp(void);
/// Number of OpenMP threads alive in the current team, measured from inside a parallel region.
int ck_measure_team_size(void);
/// The largest OpenMP team a GEMM or blocked convolution called from this thread ran with since
/// the previous call (1: on this thread alone; 0: none ran), then starts over. Per calling thread.
int ck_team_probe(void);

// MARK: - Instruction set, chosen at run time
// The kernels are built for the x86-64-v3 baseline (or the compiler's default elsewhere) and carry
// AVX2 and AVX-512 micro-kernels chosen from CPUID at run time. The choice is per calling thread,
// like the thread count. Every variant computes each element with the same fused multiply-adds in
// the same k order (the same K slice, 256), so AVX2 and AVX-512 machines get the same bits; so
// does the portable kernel where the baseline has FMA (a GOODINIT_PORTABLE build rounds its
// products separately and differs in the last bits).

enum { CK_ISA_PORTABLE = 0, CK_ISA_AVX2 = 1, CK_ISA_AVX512 = 2, CK_ISA_COUNT = 3 };

/// "portable", "avx2", "avx512" ("unknown" out of range); and back (-1 for an unknown name).
const char *ck_isa_name(int isa);
int ck_isa_from_name(const char *name);
/// The best ISA this process may use, and its default: what the CPU and OS support, capped by
/// GOODINIT_ISA when set (GOODINIT_ISA=avx2 makes an AVX-512 machine behave as an AVX2-only one).
int ck_isa_best(void);
/// The L2 cache of one core in bytes, as the C library reads it from CPUID (1 MB where it cannot
/// tell): the GEMM sizes the B̃ block it keeps there by it.
ptrdiff_t ck_l2_cache_bytes(void);
/// 1 when the variant is at most ck_isa_best().
int ck_isa_supported(int isa);
/// Sets the calling thread's ISA (-1: back to the default). Returns -1, changing nothing, if unsupported.
int ck_set_isa(int isa);
/// The ISA kernels called from this thread use.
int ck_isa(void);
/// Name of the GEMM micro-kernel the calling thread's ISA uses ("avx512 8x48", "avx2+fma 6x16", …).
const char *ck_gemm_kernel_name(void);
/// FMA throughput probe: `threads` OpenMP threads (1 without OpenMP) each run `iters` rounds of
/// independent fused multiply-add chains in the ISA's widest registers. Returns the FLOPs done
/// (time the call to get FLOP/s). For an unsupported ISA it does nothing and returns 0.
double ck_fma_peak_probe(int isa, int threads, int64_t iters);

// MARK: - GEMM (row-major, cblas argument order)

enum { CK_NO_TRANS = 0, CK_TRANS = 1 };

/// Floats of workspace ck_sgemm needs for these sizes (64-byte aligned pointer expected).
ptrdiff_t ck_sgemm_workspace_size(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K);

/// C = alpha·op(A)·op(B) + beta·C. op(A) is M×K, op(B) is K×N, C is M×N; all row-major.
/// beta == 0 overwrites C without reading it (NaNs in C do not propagate).
void ck_sgemm(int transA, int transB, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
              float alpha, const float *A, ptrdiff_t lda,
              const float *B, ptrdiff_t ldb,
              float beta, float *C, ptrdiff_t ldc,
              float *workspace);

void ck_ref_sgemm(int transA, int transB, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                  float alpha, const float *A, ptrdiff_t lda,
                  const float *B, ptrdiff_t ldb,
                  float beta, float *C, ptrdiff_t ldc);

// MARK: - 2-D convolution (stride, padding; dilation 1)

typedef struct {
    ptrdiff_t N, C, H, W;   // input
    ptrdiff_t K, R, S;      // output channels, kernel
    ptrdiff_t stride, pad;  // same in both directions
} ck_conv2d_shape;

ptrdiff_t ck_conv2d_out_h(const ck_conv2d_shape *s);
ptrdiff_t ck_conv2d_out_w(const ck_conv2d_shape *s);
ptrdiff_t ck_conv2d_workspace_size(const ck_conv2d_shape *s);

/// y (N,K,P,Q) = conv(x (N,C,H,W), w (K,C,R,S)) + b (K) (b may be NULL)
void ck_conv2d_forward(float *y, const float *x, const float *w, const float *b,
                       const ck_conv2d_shape *s, float *workspace);
/// dx (N,C,H,W) += conv_transpose(dy (N,K,P,Q), w)
void ck_conv2d_backward_data(float *dx, const float *dy, const float *w,
                             const ck_conv2d_shape *s, float *workspace);
/// dw (K,C,R,S) += Σ_n dy[n] ⋆ x[n]; db (K) += Σ_{n,p,q} dy (db may be NULL)
void ck_conv2d_backward_weights(float *dw, float *db, const float *dy, const float *x,
                                const ck_conv2d_shape *s, float *workspace);

void ck_ref_conv2d_forward(float *y, const float *x, const float *w, const float *b,
                           const ck_conv2d_shape *s);
void ck_ref_conv2d_backward_data(float *dx, const float *dy, const float *w,
                                 const ck_conv2d_shape *s);
void ck_ref_conv2d_backward_weights(float *dw, float *db, const float *dy, const float *x,
                                    const ck_conv2d_shape *s);

// MARK: - Batch norm (per channel over N·HW; fully connected: HW = 1)
// Training statistics of a batch cut into chunks (the executor's unit of data parallelism): each
// chunk sums its own samples into its row of a (chunks, C) table (ck_bn_partial_sums), the rows
// are added in chunk order (ck_bn_combine_stats), then every chunk normalizes with the shared mean
// and inverse std. One pass: Σ x and Σ x², each row of W pixels summed alone (from zero, in pixel
// order, in double) and the rows then added in order, so that a convolution can sum the rows it
// has just stored (ck_conv2d_blocked_forward's bn_rows) with the same bits. A whole batch is one
// chunk. The bits depend on the chunking only, never on who summed a chunk.

/// sum[c] = Σ x, sumsq[c] = Σ x² over n, hw of this chunk: row by row (rows of W pixels, W
/// divides HW; fully connected layers pass HW = W = 1), in double.
void ck_bn_partial_sums(double *sum, double *sumsq, const float *x, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW,
                        ptrdiff_t W);
/// From the chunks' sum and sumsq tables (chunks, C), added in chunk order: mean64 = Σ x / count,
/// var = Σ x² / count − mean64² (biased, at least 0; double: a mean up to 10⁴ standard deviations
/// still leaves the float result exact to rounding), mean = mean64, invstd = 1/√(var + eps);
/// running_mean/var (may be NULL) move by momentum, the variance stored unbiased
/// (count/(count−1)), PyTorch's convention. mean64 and var (C) are written.
void ck_bn_combine_stats(float *mean, float *invstd, float *running_mean, float *running_var,
                         double *mean64, double *var, const double *sum, const double *sumsq, float eps,
                         float momentum, ptrdiff_t chunks, ptrdiff_t count, ptrdiff_t C);
/// y = γ·(x − mean)·invstd + β ; xhat = (x − mean)·invstd written when not NULL (training passes
/// NULL: backward recomputes x̂ from x with the same float expression, so it needs no buffer).
/// skip (may be NULL; laid out like y): y = y + skip, a following residual add fused in, with ck_add's bits;
/// relu = 1: then y = max(y, 0), a following ReLU fused in, with the ReLU kernel's bits.
void ck_bn_normalize(float *y, float *xhat, const float *x, const float *mean,
                     const float *invstd, const float *gamma, const float *beta, const float *skip, int relu,
                     ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
/// Inference: y = γ·(x − running_mean)/√(running_var + eps) + β (running_var is unbiased); skip, relu as above.
void ck_bn_forward_infer(float *y, const float *x, const float *running_mean,
                         const float *running_var, const float *gamma, const float *beta, const float *skip,
                         int relu, float eps, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
/// This chunk's sums for backward: sum_dy[c] = Σ dy, sum_dy_xhat[c] = Σ dy·xhat (double);
/// dgamma[c] += Σ dy·xhat, dbeta[c] += Σ dy (either may be NULL). xhat = (x − mean)·invstd is
/// recomputed from the forward's input x, in float, bitwise ck_bn_normalize's.
void ck_bn_backward_partial_sums(double *sum_dy, double *sum_dy_xhat, float *dgamma, float *dbeta,
                                 const float *dy, const float *x, const float *mean,
                                 const float *invstd, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
/// sum_dy[c] = Σ_k part_dy[k][c], sum_dy_xhat likewise, in chunk order. part_* (chunks, C).
void ck_bn_backward_combine(double *sum_dy, double *sum_dy_xhat, const double *part_dy,
                            const double *part_dy_xhat, ptrdiff_t chunks, ptrdiff_t C);
/// dx += γ·invstd·(dy − mean(dy) − xhat·mean(dy·xhat)), with the means over `count` values
/// (dx = … when accumulate is 0); xhat recomputed from x, mean, invstd as in the sums above.
void ck_bn_backward_apply(float *dx, const float *dy, const float *x, const float *mean,
                          const float *invstd, const float *gamma, const double *sum_dy,
                          const double *sum_dy_xhat, ptrdiff_t count, int accumulate,
                          ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);

/// References: the paper's formulas in double, whole batch (the test oracle).
void ck_ref_bn_forward_train(float *y, float *mean, float *invstd, const float *x,
                             const float *gamma, const float *beta, float eps,
                             ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
void ck_ref_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                        const float *gamma, float eps, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);

// MARK: - Activations (elementwise over n values; PReLU/maxout over (N,C,HW))

void ck_relu_forward(float *y, const float *x, ptrdiff_t n);
/// Backward passes: dx += … , or dx = … when accumulate is 0 (dx need not be zeroed then).
/// ReLU's gradient passes where x > 0; its output y serves as x (y > 0 exactly where x > 0).
void ck_relu_backward(float *dx, const float *dy, const float *x, int accumulate, ptrdiff_t n);
void ck_leaky_relu_forward(float *y, const float *x, float slope, ptrdiff_t n);
void ck_leaky_relu_backward(float *dx, const float *dy, const float *x, float slope, int accumulate,
                            ptrdiff_t n);
void ck_tanh_forward(float *y, const float *x, ptrdiff_t n);
/// Uses the saved output: dx += dy·(1 − y²)
void ck_tanh_backward(float *dx, const float *dy, const float *y, int accumulate, ptrdiff_t n);
void ck_sigmoid_forward(float *y, const float *x, ptrdiff_t n);
/// Uses the saved output: dx += dy·y·(1 − y)
void ck_sigmoid_backward(float *dx, const float *dy, const float *y, int accumulate, ptrdiff_t n);
/// y = max(0,x) + a[c]·min(0,x); shared = one slope for all channels (a has 1 element).
void ck_prelu_forward(float *y, const float *x, const float *a, int shared,
                      ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
/// dx += dy·(x>0 ? 1 : a); da += Σ dy·min(0,x) (per channel, or one sum when shared).
void ck_prelu_backward(float *dx, float *da, const float *dy, const float *x, const float *a,
                       int shared, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
/// Maxout over channel groups: x (N, C·k, HW) → y (N, C, HW); y[c] = max_j x[c·k + j].
/// argmax (N,C,HW) saves j for backward.
void ck_maxout_forward(float *y, int32_t *argmax, const float *x, ptrdiff_t k,
                       ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
void ck_maxout_backward(float *dx, const float *dy, const int32_t *argmax, ptrdiff_t k,
                        ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);

// MARK: - Pooling (window R×S, stride, padding; padding never wins a max, is excluded from avg)

typedef struct {
    ptrdiff_t N, C, H, W;
    ptrdiff_t R, S, stride, pad;
} ck_pool_shape;

ptrdiff_t ck_pool_out_h(const ck_pool_shape *s);
ptrdiff_t ck_pool_out_w(const ck_pool_shape *s);
/// argmax (N,C,P,Q) holds the flat index h·W + w of the winner within its (n,c) plane.
void ck_maxpool_forward(float *y, int32_t *argmax, const float *x, const ck_pool_shape *s);
/// dx += dy at each window's winner (dx = … when accumulate is 0: each plane zeroed first); relu_mask
/// (may be NULL): only where the mask (a ReLU's output, laid out like dx) is > 0, that ReLU's backward.
void ck_maxpool_backward(float *dx, const float *dy, const int32_t *argmax, int accumulate, const float *relu_mask,
                         const ck_pool_shape *s);
void ck_avgpool_forward(float *y, const float *x, const ck_pool_shape *s);
void ck_avgpool_backward(float *dx, const float *dy, const ck_pool_shape *s);
void ck_ref_maxpool_forward(float *y, const float *x, const ck_pool_shape *s);
void ck_ref_avgpool_forward(float *y, const float *x, const ck_pool_shape *s);
/// y (N,C) = mean over HW; max variant saves argmax (N,C).
void ck_global_avgpool_forward(float *y, const float *x, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
void ck_global_avgpool_backward(float *dx, const float *dy, ptrdiff_t N, ptrdiff_t C,
                                ptrdiff_t HW);
void ck_global_maxpool_forward(float *y, int32_t *argmax, const float *x, ptrdiff_t N,
                               ptrdiff_t C, ptrdiff_t HW);
void ck_global_maxpool_backward(float *dx, const float *dy, const int32_t *argmax,
                                ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);

// MARK: - Dropout (counter-based RNG: the mask of element i depends on (seed, offset + i) only)

/// Inverted dropout: y = x·mask/(1−p); mask (n) of 0/1 bytes saved for backward.
void ck_dropout_forward(float *y, uint8_t *mask, const float *x, float p, uint64_t seed,
                        uint64_t offset, ptrdiff_t n);
void ck_dropout_backward(float *dx, const float *dy, const uint8_t *mask, float p, ptrdiff_t n);
/// The counter-based generator itself: a uniform float in [0,1) for (seed, counter).
float ck_uniform01(uint64_t seed, uint64_t counter);
/// Fills n standard normal values (Box-Muller over counters offset..): same seed, same bits.
void ck_fill_normal(float *out, uint64_t seed, uint64_t offset, ptrdiff_t n);
void ck_fill_uniform(float *out, float lo, float hi, uint64_t seed, uint64_t offset, ptrdiff_t n);

// MARK: - Softmax cross-entropy (fused, max-subtracted)

/// logits (N, K), labels (N). probs (N,K) saved. Returns Σ_n loss_n (not the mean), and
/// *correct = number of rows whose argmax (first on ties) equals the label.
double ck_softmax_xent_forward(float *probs, ptrdiff_t *correct, const float *logits,
                               const int32_t *labels, ptrdiff_t N, ptrdiff_t K);
/// dlogits += scale·(probs − onehot(label)); scale is 1/batch for a mean loss.
void ck_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels,
                              float scale, ptrdiff_t N, ptrdiff_t K);

// MARK: - Residual add, bias, reductions

/// y = a + b
void ck_add(float *y, const float *a, const float *b, ptrdiff_t n);
/// y += x
void ck_accumulate(float *y, const float *x, ptrdiff_t n);
/// y = max(a + b, 0): a residual add with the ReLU after it fused in (ck_add then ck_relu_forward's bits).
void ck_add_relu(float *y, const float *a, const float *b, ptrdiff_t n);
/// The residual add's backward: g = dy, or with relu_out (the ReLU after the add, fused in)
/// relu_out > 0 ? dy : 0 (ck_relu_backward's); then dx = g (dx_stores) or dx += g, and the same
/// for dskip. Storing g gives adding it onto zeros' bits, but for the sign of a zero.
void ck_add_backward(float *dx, float *dskip, const float *dy, const float *relu_out, int dx_stores,
                     int dskip_stores, ptrdiff_t n);
/// y = x, in parallel (a gradient its first writer stores).
void ck_copy(float *y, const float *x, ptrdiff_t n);
/// x = v, in parallel (the plan's gradient buffers before a backward).
void ck_fill(float *x, float v, ptrdiff_t n);
/// y (N, K, HW) += b[k]
void ck_add_bias(float *y, const float *b, ptrdiff_t N, ptrdiff_t K, ptrdiff_t HW);
/// y (N, K) = max(y + b[k], 0): a linear layer's bias and the ReLU after it (ck_relu_forward's select).
void ck_add_bias_relu(float *y, const float *b, ptrdiff_t N, ptrdiff_t K);
/// db[k] += Σ_{n,hw} dy (N, K, HW), each channel summed sequentially.
void ck_bias_backward(float *db, const float *dy, ptrdiff_t N, ptrdiff_t K, ptrdiff_t HW);
/// out = Σ_{b < nbuf} bufs[b] (the data-parallel gradient sum) in a fixed pairwise tree: the sum of
/// bufs[lo, hi) is sum[lo, mid) + sum[mid, hi) with mid = ck_tree_mid(lo, hi), one buffer is itself.
/// Whole subtrees can be summed apart (MPI ranks, each holding a node's chunks) and combined with
/// one addition per level: the same bits as here. nbuf 0 gives zeros.
void ck_sum_buffers(float *out, const float *const *bufs, ptrdiff_t nbuf, ptrdiff_t n);
/// lo + ⌈(hi − lo) / 2⌉: where the gradient-sum tree splits bufs[lo, hi) (3 buffers: (0 + 1) + 2).
ptrdiff_t ck_tree_mid(ptrdiff_t lo, ptrdiff_t hi);
/// 1 if every value is finite.
int ck_all_finite(const float *x, ptrdiff_t n);
/// Σ x² in double (gradient-norm clipping): fixed blocks summed in order, the same bits for every
/// thread count. The reference sums in one pass; with integer-valued x both are exact.
double ck_sum_squares(const float *x, ptrdiff_t n);
double ck_ref_sum_squares(const float *x, ptrdiff_t n);
/// The mean and population variance of x in double, in two passes (the squares taken around the
/// mean: no cancellation): fixed blocks, each summed in 8 lanes combined in a fixed order, the
/// blocks added in order — the same bits for every thread count (LSUV's per-layer variance). The
/// reference sums in one left-to-right pass each; with integer-valued x and an integer mean both
/// are exact. n = 0 gives 0 and 0.
void ck_mean_var(double *mean, double *var, const float *x, ptrdiff_t n);
void ck_ref_mean_var(double *mean, double *var, const float *x, ptrdiff_t n);
/// x *= s
void ck_scale(float *x, float s, ptrdiff_t n);
/// Orthonormalizes the n columns of a (m × n, column j at a[j·m, (j+1)·m), m ≥ n) in place by
/// modified Gram-Schmidt run twice per column, in double, each dot product summed in 8 lanes
/// (lane l: the terms i ≡ l mod 8 in index order; the lanes added ((0+4)+(2+6))+((1+5)+(3+7))), the
/// same bits on every instruction set (the orthogonal initializer's Q; R's positive diagonal is
/// the sign fix). Serial: n ≤ a few thousand, once per layer.
void ck_gram_schmidt(double *a, ptrdiff_t m, ptrdiff_t n);

// MARK: - SGD with momentum and weight decay (PyTorch's formulation)

/// g = grad + wd·decay_mask[i]·w ; v = momentum·v + g ; w −= lr·v.
/// decay_mask (n) of 0/1 bytes (NULL: decay everything), excludes biases, BN, PReLU slopes.
void ck_sgd_step(float *w, float *velocity, const float *grad, const uint8_t *decay_mask,
                 float lr, float momentum, float weight_decay, ptrdiff_t n);
void ck_ref_sgd_step(float *w, float *velocity, const float *grad, const uint8_t *decay_mask,
                     float lr, float momentum, float weight_decay, ptrdiff_t n);

/// Adam (Kingma & Ba, PyTorch's form, L2 added to the gradient): step t ≥ 1.
void ck_adam_step(float *w, float *m, float *v, const float *grad, const uint8_t *decay_mask,
                  float lr, float beta1, float beta2, float eps, float weight_decay, int64_t t,
                  ptrdiff_t n);


// MARK: - Direct convolution on the channel-blocked layout
// Activations (N, ⌈C/16⌉, H, W, 16): 16 channels innermost, one zmm or two ymm; the channels past
// C padded with zeros. Weights (⌈K/16⌉, ⌈C/16⌉, R, S, 16 c, 16 k), zero-padded. Same shape struct
// and argument order as ck_conv2d_*. 3×3, stride 1, pad 1 runs register-blocked micro-kernels
// (AVX2 or AVX-512, chosen per calling thread like the GEMM); other shapes, and the portable
// variant, run plain loops in the same layout. Every variant sums each value in the same order:
// the same bits on AVX2 and AVX-512 machines and for every thread count. First layers (C = 1, 3)
// use the padded layout; their loops skip the padding channels.

enum { CK_CB = 16 };

/// Floats of a blocked activation tensor, and of blocked weights.
ptrdiff_t ck_blocked_size(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W);
ptrdiff_t ck_blocked_weights_size(ptrdiff_t K, ptrdiff_t C, ptrdiff_t R, ptrdiff_t S);
/// xb (N, ⌈C/16⌉, H, W, 16) from x (N, C, H, W), padding channels zeroed; and back.
void ck_blocked_from_nchw(float *xb, const float *x, ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W);
void ck_blocked_to_nchw(float *x, const float *xb, ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W);
/// wb (⌈K/16⌉, ⌈C/16⌉, R, S, 16, 16) from w (K, C, R, S), padding zeroed; and back.
void ck_blocked_weights_from_kcrs(float *wb, const float *w, ptrdiff_t K, ptrdiff_t C, ptrdiff_t R, ptrdiff_t S);
void ck_blocked_weights_to_kcrs(float *w, const float *wb, ptrdiff_t K, ptrdiff_t C, ptrdiff_t R, ptrdiff_t S);

/// Floats of workspace the blocked passes need (backward-data's transposed weights, backward-weights'
/// per-group slices).
ptrdiff_t ck_conv2d_blocked_workspace_size(const ck_conv2d_shape *s);
/// Name of the calling thread's blocked-convolution micro-kernels ("avx512 …", "avx2+fma …", …).
const char *ck_conv2d_blocked_kernel_name(void);

/// yb = conv(xb, wb) + b (K; may be NULL), then yb = max(yb, 0) when relu is 1: a ReLU fused into
/// the store, with the ReLU kernel's bits. workspace may be NULL.
void ck_conv2d_blocked_forward(float *y, const float *x, const float *w, const float *b, int relu,
                               const ck_conv2d_shape *s, float *workspace);
/// The forward (no ReLU) that also stores the batch norm after it its statistics while each output
/// row is in cache: bn_rows (N, ⌈K/16⌉, P, 2, 16) gets each row's Σ y and Σ y² per lane, the sums
/// ck_bn_partial_sums_blocked makes on y (ck_bn_fold_rows_blocked adds them up, with its bits).
void ck_conv2d_blocked_forward_bn_rows(float *y, double *bn_rows, const float *x, const float *w, const float *b,
                                       const ck_conv2d_shape *s, float *workspace);
/// dxb += conv_transpose(dyb, wb); dxb = … when accumulate is 0, and then, given relu_mask (laid out
/// like dxb; read only when accumulate is 0), dxb = relu_mask > 0 ? dxb : 0: the backward of a ReLU
/// whose output relu_mask is, fused into the store, with ck_relu_backward's bits.
void ck_conv2d_blocked_backward_data(float *dx, const float *dy, const float *w, int accumulate,
                                     const float *relu_mask, const ck_conv2d_shape *s, float *workspace);
/// dwb += Σ_n dyb[n] ⋆ xb[n]: each image's sum added in image order within a group of images, the
/// groups added in group order. Layers with few weight units (thin ones) split the images into
/// groups set by the shape alone (never the thread count or the variant); the others keep one.
/// db (K) += Σ dy (may be NULL). workspace: ck_conv2d_blocked_workspace_size floats.
void ck_conv2d_blocked_backward_weights(float *dw, float *db, const float *dy, const float *x,
                                        const ck_conv2d_shape *s, float *workspace);

/// w (K, C, R, S) += wb unblocked: a blocked weight gradient added into the parameters' layout.
void ck_blocked_weights_accumulate_kcrs(float *w, const float *wb, ptrdiff_t K, ptrdiff_t C, ptrdiff_t R,
                                        ptrdiff_t S);

// MARK: - Batch norm, pooling and PReLU on the channel-blocked layout
// The same contracts as the (N, C, HW) kernels above, on x (N, ⌈C/16⌉, HW, 16). Each channel's
// values are visited in the NCHW kernel's order (n, then hw) and rounded the same way, so every
// result is bitwise the NCHW kernel's on the converted data; the 16 lanes of a block go together.
// Padding lanes (channels ≥ C) are left out of every sum and written as zero.

void ck_bn_partial_sums_blocked(double *sum, double *sumsq, const float *x, ptrdiff_t N, ptrdiff_t C,
                                ptrdiff_t HW, ptrdiff_t W);
/// ck_bn_partial_sums_blocked from row sums a convolution stored as it wrote x: rows
/// (N, ⌈C/16⌉, H, 2, 16) holds each output row's (Σ x, Σ x²) per lane (ck_bn_store_rows16).
void ck_bn_fold_rows_blocked(double *sum, double *sumsq, const double *rows, ptrdiff_t N, ptrdiff_t C,
                             ptrdiff_t H);
void ck_bn_normalize_blocked(float *y, float *xhat, const float *x, const float *mean,
                             const float *invstd, const float *gamma, const float *beta, const float *skip,
                             int relu, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
void ck_bn_forward_infer_blocked(float *y, const float *x, const float *running_mean,
                                 const float *running_var, const float *gamma, const float *beta,
                                 const float *skip, int relu, float eps, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
void ck_bn_backward_partial_sums_blocked(double *sum_dy, double *sum_dy_xhat, float *dgamma, float *dbeta,
                                         const float *dy, const float *x, const float *mean,
                                         const float *invstd, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
void ck_bn_backward_apply_blocked(float *dx, const float *dy, const float *x, const float *mean,
                                  const float *invstd, const float *gamma, const double *sum_dy,
                                  const double *sum_dy_xhat, ptrdiff_t count, int accumulate,
                                  ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);

/// x (N, ⌈C/16⌉, H, W, 16) → y (N, ⌈C/16⌉, P, Q, 16); argmax (same layout as y) holds h·W + w.
void ck_maxpool_forward_blocked(float *y, int32_t *argmax, const float *x, const ck_pool_shape *s);
void ck_maxpool_backward_blocked(float *dx, const float *dy, const int32_t *argmax, int accumulate,
                                 const float *relu_mask, const ck_pool_shape *s);
void ck_avgpool_forward_blocked(float *y, const float *x, const ck_pool_shape *s);
void ck_avgpool_backward_blocked(float *dx, const float *dy, const ck_pool_shape *s);
/// x (N, ⌈C/16⌉, HW, 16) → y (N, C) plain; argmax (N, C) holds hw.
void ck_global_avgpool_forward_blocked(float *y, const float *x, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
void ck_global_avgpool_backward_blocked(float *dx, const float *dy, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
void ck_global_maxpool_forward_blocked(float *y, int32_t *argmax, const float *x, ptrdiff_t N, ptrdiff_t C,
                                       ptrdiff_t HW);
void ck_global_maxpool_backward_blocked(float *dx, const float *dy, const int32_t *argmax, ptrdiff_t N,
                                        ptrdiff_t C, ptrdiff_t HW);
void ck_prelu_forward_blocked(float *y, const float *x, const float *a, int shared,
                              ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);
void ck_prelu_backward_blocked(float *dx, float *da, const float *dy, const float *x, const float *a,
                               int shared, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW);


// MARK: - bf16 (bfloat16: the top 16 bits of a float32, stored as uint16_t)
// Mixed precision as PyTorch's CPU autocast has it: bf16 operands, FP32 accumulation and output.
// Two variants, chosen per calling thread like the ISA: "avx512bf16" (VDPBF16PS, where CPUID has
// AVX512_BF16 and ck_isa() is AVX-512) and "widen" (bf16 widened to float and run through the
// calling thread's FP32 micro-kernels: AVX-512, AVX2 or portable). Both compute what VDPBF16PS
// computes, bit for bit: per output, K taken in pairs (2i, 2i+1) zero-padded to even length, the odd
// element's product added first, each step one rounding (a bf16·bf16 product is exact in float),
// subnormal inputs read as 0 and subnormal results flushed (the kernels run with FTZ + DAZ whatever
// the caller's mode). So every variant and thread count gives the same bits (on x86-64-v3 builds;
// a GOODINIT_PORTABLE build's portable path rounds products separately). The references
// accumulate in double.

enum { CK_BF16_WIDEN = 0, CK_BF16_AVX512 = 1, CK_BF16_COUNT = 2 };

/// "widen", "avx512bf16" ("unknown" out of range).
const char *ck_bf16_isa_name(int v);
/// The best bf16 variant of this process: avx512bf16 where the CPU has it and ck_isa_best() is
/// AVX-512 (GOODINIT_ISA caps it; GOODINIT_BF16=widen turns it off), else widen.
int ck_bf16_isa_best(void);
int ck_bf16_isa_supported(int v);
/// Sets the calling thread's bf16 variant (-1: the best). Returns -1, changing nothing, if unsupported.
int ck_set_bf16_isa(int v);
/// The variant bf16 kernels called from this thread use: widen whenever ck_isa() is below AVX-512.
int ck_bf16_isa(void);
/// Name of the bf16 GEMM micro-kernel the calling thread uses ("avx512bf16 8x48", "widen avx2+fma 6x16", …).
const char *ck_gemm_bf16_kernel_name(void);

/// y (n) = x rounded to nearest even; NaN stays NaN (made quiet); subnormal x becomes ±0 (what
/// VCVTNE2PS2BF16 does: checked on all 2³² floats).
void ck_f32_to_bf16(uint16_t *y, const float *x, ptrdiff_t n);
/// y (n) = x widened (exact).
void ck_bf16_to_f32(float *y, const uint16_t *x, ptrdiff_t n);
uint16_t ck_ref_f32_to_bf16(float x);
float ck_ref_bf16_to_f32(uint16_t x);

/// Floats of workspace ck_gemm_bf16 needs (every variant; 64-byte aligned pointer expected).
ptrdiff_t ck_gemm_bf16_workspace_size(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K);
/// C (M,N) float = alpha·op(A)·op(B) + beta·C with A, B bf16; row-major, cblas order as ck_sgemm.
/// beta == 0 overwrites C without reading it. Threads split C's tiles, never K.
void ck_gemm_bf16(int transA, int transB, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                  float alpha, const uint16_t *A, ptrdiff_t lda,
                  const uint16_t *B, ptrdiff_t ldb,
                  float beta, float *C, ptrdiff_t ldc, float *workspace);
/// The definition with A, B widened, accumulated in double.
void ck_ref_gemm_bf16(int transA, int transB, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                      float alpha, const uint16_t *A, ptrdiff_t lda,
                      const uint16_t *B, ptrdiff_t ldb,
                      float beta, float *C, ptrdiff_t ldc);

/// bf16 dot-product throughput probe, as ck_fma_peak_probe: avx512bf16 runs VDPBF16PS chains (two
/// products per lane each, 64 FLOPs), widen the calling thread's FP32 FMA chains. Returns the FLOPs
/// done; 0 for an unsupported variant.
double ck_bf16_peak_probe(int v, int threads, int64_t iters);


// MARK: - Direct convolution on the channel-blocked layout in bf16
// bf16 activations in the blocked layout (N, ⌈C/16⌉, H, W, 16) as uint16_t (ck_f32_to_bf16 of a
// blocked tensor); bf16 weights (⌈K/16⌉, ⌈C/16⌉, R, S, 8 c-pairs, 16 k, 2 c), the pairs VDPBF16PS
// takes; FP32 outputs. 3×3 / stride 1 / pad 1 runs VDPBF16PS rows where the bf16 variant is
// avx512bf16; everything else runs widening loops in the same order: the same bits everywhere.

/// wh (bf16 pair layout) from blocked FP32 weights wb (⌈K/16⌉, ⌈C/16⌉, R, S, 16 c, 16 k), rounded
/// as ck_f32_to_bf16; and back (exact).
void ck_blocked_weights_to_bf16(uint16_t *wh, const float *wb, ptrdiff_t K, ptrdiff_t C, ptrdiff_t R, ptrdiff_t S);
void ck_blocked_weights_from_bf16(float *wb, const uint16_t *wh, ptrdiff_t K, ptrdiff_t C, ptrdiff_t R, ptrdiff_t S);
/// Floats of workspace backward-data needs (its transposed bf16 weights).
ptrdiff_t ck_conv2d_blocked_bf16_workspace_size(const ck_conv2d_shape *s);
const char *ck_conv2d_blocked_bf16_kernel_name(void);
/// y (N, ⌈K/16⌉, P, Q, 16) float = conv(x bf16, wh bf16) + b (K; may be NULL). workspace may be NULL.
/// relu: as ck_conv2d_blocked_forward's, the test made in the caller's float mode (not the kernel's DAZ).
void ck_conv2d_blocked_bf16_forward(float *y, const uint16_t *x, const uint16_t *w, const float *b, int relu,
                                    const ck_conv2d_shape *s, float *workspace);
/// bn_rows: as ck_conv2d_blocked_forward_bn_rows's.
void ck_conv2d_blocked_bf16_forward_bn_rows(float *y, double *bn_rows, const uint16_t *x, const uint16_t *w,
                                            const float *b, const ck_conv2d_shape *s, float *workspace);
/// dx (N, ⌈C/16⌉, H, W, 16) float += conv_transpose(dy bf16, wh bf16); dx = … when accumulate is 0.
/// relu_mask: as ck_conv2d_blocked_backward_data's.
void ck_conv2d_blocked_bf16_backward_data(float *dx, const uint16_t *dy, const uint16_t *w, int accumulate,
                                          const float *relu_mask, const ck_conv2d_shape *s, float *workspace);
/// Backward-weights in bf16, 3×3 / stride 1 / pad 1 with C a multiple of 16 only
/// (ck_conv2d_blocked_bf16_weights_shape): dw (⌈K/16⌉, C/16, 3, 3, 16 c, 16 k) float += Σ over images
/// and pixels of x·dyh (both bf16 blocked, as forward and backward-data read them); db (K; may be
/// NULL) += Σ dy (FP32 dy), as the FP32 kernel sums it. The workspace holds x as pairs of
/// neighbouring columns and dy as pairs of columns, VDPBF16PS's operands: each product pair sums the
/// odd column first, pixels in row order, images in order.
int ck_conv2d_blocked_bf16_weights_shape(const ck_conv2d_shape *s);
ptrdiff_t ck_conv2d_blocked_bf16_weights_workspace_size(const ck_conv2d_shape *s);
void ck_conv2d_blocked_bf16_backward_weights(float *dw, float *db, const float *dy, const uint16_t *dyh,
                                             const uint16_t *x, const ck_conv2d_shape *s, float *workspace);
/// References in double on the same layouts: y = … (padding lanes zero), dx += …, dw += ….
void ck_ref_conv2d_blocked_bf16_backward_weights(float *dw, const uint16_t *dy, const uint16_t *x,
                                                 const ck_conv2d_shape *s);
void ck_ref_conv2d_blocked_bf16_forward(float *y, const uint16_t *x, const uint16_t *w, const float *b,
                                        const ck_conv2d_shape *s);
void ck_ref_conv2d_blocked_bf16_backward_data(float *dx, const uint16_t *dy, const uint16_t *w,
                                              const ck_conv2d_shape *s);

// MARK: - Region tracing and machine probes (bench scaling; trace.c)
// Off by default. While a thread traces, every parallel region the kernels it calls open (and the
// one-thread loop that stands in for it at T = 1) appends one ck_trace_region, and each thread of
// its team one ck_trace_lane, to buffers that thread owns (kernels called from other threads, e.g.
// Dispatch workers, are not traced). Results never depend on tracing.

typedef struct {
    const char *kernel;    // the C function that opened the region (a static string)
    int32_t line;          // its source line: one function may open several regions
    int32_t threads;       // team size (1: the loop ran on the calling thread)
    int64_t units;         // iterations (tasks) the team shared
    int64_t lane;          // index of the team's first ck_trace_lane, thread t at lane + t
    int64_t start_ns;      // CLOCK_MONOTONIC of the caller before the fork
    int64_t wall_ns;       // caller's wall time from before the fork to after the join
} ck_trace_region;

typedef struct {
    int64_t busy_ns;       // the thread's CPU time (CLOCK_THREAD_CPUTIME_ID) in its share
    int64_t units;         // iterations it ran (-1: the thread was not in the team)
} ck_trace_lane;

/// Starts tracing this thread's kernels into regions[0, region_capacity) and lanes[0, lane_capacity);
/// records past either capacity are counted as dropped, not written.
void ck_trace_start(ck_trace_region *regions, ptrdiff_t region_capacity, ck_trace_lane *lanes,
                    ptrdiff_t lane_capacity);
/// Stops this thread's trace; returns the regions written, and the lanes written and regions dropped.
ptrdiff_t ck_trace_stop(ptrdiff_t *lanes_used, ptrdiff_t *dropped);
/// Regions this thread's trace holds so far (a mark between two calls).
ptrdiff_t ck_trace_count(void);
/// CLOCK_MONOTONIC in ns: the clock of start_ns, for the caller's own marks.
int64_t ck_trace_clock_ns(void);
/// Bytes per second of a STREAM-like triad a[i] = b[i] + s·c[i] over n floats per array on
/// `threads` threads (12 bytes per element counted), best of `repeats`.
double ck_probe_triad(float *a, const float *b, const float *c, ptrdiff_t n, int threads, int repeats);
/// Seconds per empty parallel region (fork + join) of `threads` threads, mean over `repeats`.
double ck_probe_fork_join(int threads, int repeats);

#ifdef __cplusplus
}
#endif
#endif
