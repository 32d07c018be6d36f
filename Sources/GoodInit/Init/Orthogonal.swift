// Orthogonal matrices (Saxe et al. 2014): QR of a Gaussian matrix by modified Gram-Schmidt,
// run twice ("twice is enough") in double. Gram-Schmidt's R has a positive diagonal by
// construction, which is exactly the sign fix that makes Q uniform over orthogonal matrices.
public enum Orthogonal {
    /// Fills w (rows × cols, row-major) with orthonormal rows (rows ≤ cols) or columns (rows > cols).
    public static func fill(_ w: Tensor, rows: Int, cols: Int, gain: Double, seed: UInt64) {
        precondition(rows * cols == w.count)
        let g = Tensor(zeros: [rows * cols])
        Kernels.fillNormal(g, seed: seed)
        // Work on the tall orientation: m × n with m ≥ n, orthonormalize its n columns.
        let tall = rows >= cols
        let m = tall ? rows : cols, n = tall ? cols : rows
        // column j of the tall matrix at a[j·m ..< (j + 1)·m]: one flat buffer, each column contiguous
        var a = [Double](repeating: 0, count: m * n)
        for r in 0..<rows { for c in 0..<cols {
            let v = Double(g[r * cols + c])
            if tall { a[c * m + r] = v } else { a[r * m + c] = v }
        } }
        Kernels.gramSchmidt(&a, rows: m, columns: n)
        for r in 0..<rows { for c in 0..<cols {
            w[r * cols + c] = Float(gain * (tall ? a[c * m + r] : a[r * m + c]))
        } }
    }
}
