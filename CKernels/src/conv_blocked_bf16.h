// Direct 3×3 convolution on the channel-blocked layout in bf16: the VDPBF16PS row kernel's contract
// (conv_blocked_bf16_avx512.c), driven by conv_blocked_bf16.c. Sizes as conv_blocked.h. bf16
// activations x (N, Cb, H, W, 16) as uint16_t, channel pairs (2i, 2i + 1) adjacent; bf16 weights
// (Kb, Cb, 3, 3, 8 c-pairs, 16 k, 2 c): one 64-byte vector per (tap, channel pair) for VDPBF16PS.
// Every output sums init + Σ over (cb, r, s, channel pair), each pair odd channel first, taps off the
// image skipped: the order of the widening loops, hence the same bits.
#ifndef CK_CONV_BLOCKED_BF16_H
#define CK_CONV_BLOCKED_BF16_H
#include "conv_blocked.h"

typedef struct {
    float *y;             // (nk blocks, W, 16) at y + j·ykstride + q·16: row p, first block
    ptrdiff_t ykstride;   // floats between output blocks (H·W·16)
    const uint16_t *x;    // the image's input, block 0: (Cb, H, W, 16)
    const uint16_t *w;    // first output block's weights: (Cb, 3, 3, 8, 16, 2), blocks wkstride apart
    ptrdiff_t wkstride;
    const float *bias;    // (nk·16) initial values, or NULL for zero
    ptrdiff_t Cb, cp_last; // input blocks; channel pairs used in the last one
    ptrdiff_t H, W, p;
    int nk;               // 1 or 2
    int accumulate;       // y += sum instead of y = sum
    int relu;             // the store's finish in registers, as ck_convb_row's
    const float *mask;
    int32_t low;
} ck_convb16_row;

void ck_convb16_row_avx512(const ck_convb16_row *a);

// One backward-weights unit: dw (16 c, 16 k) of one (kb, cb, r, s) += one image's Σ over rows p
// (those with h = p + r − 1 on the image) and column pairs qp of xp[h][2·qp + s] times dyp[p][qp].
typedef struct {
    float *dw;            // (16 c, 16 k)
    const uint16_t *xp;   // image n, block cb: (H, W + 2, 16 c, 2); column j holds (x[j − 1], x[j]),
                          // zero off the image
    const uint16_t *dyp;  // image n, block kb: (P, Qp, 16 k, 2): (dy[2·qp], dy[2·qp + 1]), zero past Q
    ptrdiff_t H, W, P, Qp, r, s;
} ck_convb16_wunit;

void ck_convb16_wunit_avx512(const ck_convb16_wunit *a);
#endif
