// The output extent of a sliding window (convolution, pooling), the one formula in Swift; the C
// kernels' own (ck_conv2d_out_h, ck_pool_out_h) are checked against it before every call.

/// Positions of a `window` sliding with `stride` over `extent` padded by `padding` on each side.
func windowOutputExtent(_ extent: Int, window: Int, stride: Int, padding: Int) -> Int {
    (extent + 2 * padding - window) / stride + 1
}
