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
        // a[j] is column j of the tall matrix (length m)
        var a = [[Double]](repeating: [Double](repeating: 0, count: m), count: n)
        for r in 0..<rows { for c in 0..<cols {
            let v = Double(g[r * cols + c])
            if tall { a[c][r] = v } else { a[r][c] = v }
        } }
        for j in 0..<n {
            for _ in 0..<2 {
                for k in 0..<j {
                    var d = 0.0
                    for i in 0..<m { d += a[k][i] * a[j][i] }
                    for i in 0..<m { a[j][i] -= d * a[k][i] }
                }
                var norm = 0.0
                for i in 0..<m { norm += a[j][i] * a[j][i] }
                norm = norm.squareRoot()
                let inv = norm > 0 ? 1 / norm : 0
                for i in 0..<m { a[j][i] *= inv }
            }
        }
        for r in 0..<rows { for c in 0..<cols {
            w[r * cols + c] = Float(gain * (tall ? a[c][r] : a[r][c]))
        } }
    }
}
