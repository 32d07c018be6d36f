// The kernel shapes a network calls for one chunk of samples, read from its configured ops (so
// they follow the presets): what `goodinit bench kernels` times. Distinct shapes, network order.
import CKernels

/// A 2-D convolution as ck_conv2d_* sees it: x (n, c, h, w), w (k, c, r, s), y (n, k, p, q).
public struct ConvShape: Hashable, Sendable, CustomStringConvertible {
    public let n, c, h, w, k, r, s, stride, pad: Int
    public let hasBias: Bool
    /// False for a network's first weighted op: nothing consumes its input gradient, so its
    /// backward-data pass never runs.
    public let needsInputGradient: Bool

    var kernelShape: ck_conv2d_shape {
        Kernels.convShape(n: n, c: c, h: h, w: w, k: k, r: r, s: s, stride: stride, pad: pad)
    }
    public var p: Int { windowOutputExtent(h, window: r, stride: stride, padding: pad) }
    public var q: Int { windowOutputExtent(w, window: s, stride: stride, padding: pad) }
    public var workspaceSize: Int { Kernels.convWorkspace(kernelShape) }
    public var description: String {
        "N\(n) C\(c) H\(h) W\(w) K\(k) \(r)x\(s) s\(stride) p\(pad)\(hasBias ? " +b" : "")"
    }
}

/// Batch norm over x (n, c, hw); fully connected inputs have hw = 1.
public struct BatchNormShape: Hashable, Sendable, CustomStringConvertible {
    public let n, c, hw: Int
    public var description: String { "N\(n) C\(c) HW\(hw)" }
}

/// One ck_sgemm call: C (m, n) = op(A) (m, k) · op(B) (k, n), accumulating into C when
/// `accumulate`.
public struct GemmShape: Hashable, Sendable, CustomStringConvertible {
    public let transA, transB: Bool
    public let m, n, k: Int
    public let accumulate: Bool
    public init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, accumulate: Bool) {
        self.transA = transA; self.transB = transB; self.m = m; self.n = n; self.k = k; self.accumulate = accumulate
    }
    public var workspaceSize: Int { Kernels.gemmWorkspace(m: m, n: n, k: k) }
    public var description: String {
        "\(m)x\(n)x\(k) \(transA ? "T" : "N")\(transB ? "T" : "N")\(accumulate ? " +=" : "")"
    }
}

/// A shape and the ops that call it ("conv2", or "linear1 backward-data" for GEMMs).
public struct KernelUse<Shape: Hashable & Sendable>: Sendable {
    public let shape: Shape
    public var ops: [String]
    public init(shape: Shape, ops: [String]) { self.shape = shape; self.ops = ops }
}

extension Network {
    /// Distinct convolution shapes at `batch` samples per chunk.
    public func convShapes(batch: Int) -> [KernelUse<ConvShape>] {
        distinct(ops.indices.compactMap { i in
            guard let op = ops[i] as? Conv2d else { return nil }
            let s = op.shape
            return (ConvShape(n: batch, c: s.C, h: s.H, w: s.W, k: s.K, r: s.R, s: s.S, stride: s.stride,
                              pad: s.pad, hasBias: op.hasBias, needsInputGradient: needsInputGradient(i)), op.name)
        })
    }

    /// Distinct batch-norm shapes at `batch` samples per chunk.
    public func batchNormShapes(batch: Int) -> [KernelUse<BatchNormShape>] {
        distinct(ops.compactMap { op in
            guard let bn = op as? BatchNorm else { return nil }
            return (BatchNormShape(n: batch, c: bn.channels, hw: bn.hw), bn.name)
        })
    }

    /// Distinct GEMMs of the fully connected layers at `batch` samples per chunk, as
    /// Linear.forward / Linear.backward call them (convolutions run theirs inside ck_conv2d_*).
    public func gemmShapes(batch: Int) -> [KernelUse<GemmShape>] {
        var calls: [(GemmShape, String)] = []
        for (i, op) in ops.enumerated() {
            guard let fc = op as? Linear else { continue }
            let (nb, fin, fout) = (batch, fc.inFeatures, fc.outFeatures)
            calls.append((GemmShape(transA: false, transB: true, m: nb, n: fout, k: fin, accumulate: false),
                          "\(fc.name) forward"))
            calls.append((GemmShape(transA: true, transB: false, m: fout, n: fin, k: nb, accumulate: true),
                          "\(fc.name) backward-weights"))
            if needsInputGradient(i) {
                calls.append((GemmShape(transA: false, transB: false, m: nb, n: fin, k: fout, accumulate: true),
                              "\(fc.name) backward-data"))
            }
        }
        return distinct(calls)
    }

    private func distinct<S>(_ calls: [(S, String)]) -> [KernelUse<S>] {
        var uses: [KernelUse<S>] = [], index: [S: Int] = [:]
        for (shape, name) in calls {
            if let j = index[shape] {
                uses[j].ops.append(name)
            } else {
                index[shape] = uses.count
                uses.append(KernelUse(shape: shape, ops: [name]))
            }
        }
        return uses
    }
}
