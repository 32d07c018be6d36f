// Direct 3×3 convolution on the channel-blocked layout: the micro-kernels' contract, one set per
// instruction set (conv_blocked_avx2.c, conv_blocked_avx512.c), driven by conv_blocked.c.
// Sizes: Cb, Kb channel blocks of CK_CB = 16; H,W the image (P = H, Q = W: 3×3, stride 1, pad 1).
// Blocked activations x (N, Cb, H, W, 16); blocked weights w (Kb, Cb, 3, 3, 16c, 16k).
//
// Every variant sums each output in the same order, so all give the same bits:
//   forward / backward-data: y[k] = init + Σ over (cb, r, s, c) in that order (taps off the image
//   skipped), one FMA each; backward-weights: per image, Σ over the image's pixels in (h, w)
//   order, then added to dw once.
#ifndef CK_CONV_BLOCKED_H
#define CK_CONV_BLOCKED_H
#include "ck_internal.h"

#define CB CK_CB
#define CB2 (CK_CB * CK_CB)

// Output rows p .. p + rows − 1 of one image for nk consecutive output-channel blocks (forward, and
// backward-data with flipped, transposed weights).
typedef struct {
    float *y;            // (nk blocks, W, 16) at y + j·ykstride + q·16: row p, first block (rows below W·16 apart)
    ptrdiff_t ykstride;  // floats between output blocks (H·W·16)
    const float *x;      // the image's input, block 0: (Cb, H, W, 16)
    const float *w;      // first output block's weights: (Cb, 3, 3, 16c, 16k), blocks wkstride apart
    ptrdiff_t wkstride;
    const float *bias;   // (nk·16) initial values, or NULL for zero
    ptrdiff_t Cb, cn_last; // input blocks; valid channels in the last one (the rest are zero padding)
    ptrdiff_t H, W, p;
    int nk;
    int rows;            // > 1 only with nk = 1: one input row's broadcasts then feed several output rows
    int accumulate;      // y += sum instead of y = sum
    // The store's finish, in registers (ck_conv_finish's, with ck_relu_passes's test on the bits):
    int relu;            // y = passes(y) ? y : 0, the fused ReLU after a forward
    const float *mask;   // NULL, or laid out like y from y's first element: y = passes(mask) ? y : 0
    int32_t low;         // ck_relu_passes's
} ck_convb_row;

// One weight-gradient unit for one image: dw[r][s][c][k] for s = 0..2, the 8 channels c0..c0+7 of
// one input block and the 16 k of one output block, summed over the image's pixels then added to dw.
typedef struct {
    float *dw;           // block (kb, cb)'s taps of row r: (3 s, 16 c, 16 k); channels c0.. used
    const float *x;      // image's input block cb: (H, W, 16)
    const float *dy;     // image's output-gradient block kb: (H, W, 16)
    ptrdiff_t H, W, r, c0;
} ck_convb_wunit;

#define CK_CONVB_UNIT_C 8 // channels per weight-gradient unit

typedef struct {
    const char *name;
    int nk_small, nk_large; // output blocks per row call when W ≤ 7, and otherwise
    void (*row)(const ck_convb_row *a);
    void (*wunit)(const ck_convb_wunit *u);
} ck_convb_kernels;

extern const ck_convb_kernels ck_convb_kernels_avx2, ck_convb_kernels_avx512;
// db (K) += Σ dy over images and pixels of blocked dy: per image a float partial sum, added in image
// order (the bf16 backward-weights; the FP32 one sums the same way in its own team).
void ck_convb_bias_backward(float *db, const float *dy, const ck_conv2d_shape *s);
// The same sums inside a running team (every thread calls it), partials in part (N, ⌈K/16⌉, 16).
void ck_convb_bias_share(float *db, float *part, const float *dy, const ck_conv2d_shape *s);
// Inside a team, after its last barrier: the calling thread's share of dw += slice 1 + slice 2 + … (n
// slices of dw_size floats, one after the other), each element in slice order. Backward-weights'
// image groups, FP32 and bf16.
void ck_convb_add_slices(float *dw, const float *slices, ptrdiff_t n, ptrdiff_t dw_size);
#endif
