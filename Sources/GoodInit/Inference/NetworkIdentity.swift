// What network a checkpoint was trained with, as text: one line per op with its kind, options and
// output shape, derived from the built network (so a preset and a model file that build the same
// ops are the same network, and an edited model file that changes an activation or a pooling is
// not, even when every parameter keeps its shape).
import Foundation

public struct NetworkIdentity: Codable, Sendable, Equatable {
    /// "input [1, 28, 28]", then one line per op: "conv out=32 kernel=3 stride=1 padding=1 bias=true → [32, 28, 28]".
    public var layers: [String]
    /// CRC-32C of the lines (joined by newlines), in hex: a short name for messages.
    public var hash: String

    public init(layers: [String]) {
        self.layers = layers
        hash = String(format: "%08x", CRC32C.checksum(Array(layers.joined(separator: "\n").utf8)))
    }

    public init(_ net: Network) {
        var lines = ["input \(net.inputShape)"]
        for (i, op) in net.ops.enumerated() { lines.append("\(Self.describe(op)) → \(net.shapes[i + 1])") }
        self.init(layers: lines)
    }

    /// An op's kind and every option that changes what it computes (not its name, not its momentum:
    /// batch norm's momentum only moves the running statistics, which the checkpoint holds).
    static func describe(_ op: Op) -> String {
        switch op {
        case let c as Conv2d:
            return "conv out=\(c.outChannels) kernel=\(c.kernel) stride=\(c.stride) padding=\(c.padding) "
                + "bias=\(c.hasBias)"
        case let l as Linear: return "linear out=\(l.outFeatures) bias=\(l.hasBias)"
        case let b as BatchNorm: return "batchnorm eps=\(b.eps)"
        case let a as Activation:
            if case .leakyRelu(let slope) = a.function { return "leaky_relu slope=\(slope)" }
            return a.kind
        case let p as PReLU: return "prelu shared=\(p.shared)"
        case let m as Maxout: return "maxout pieces=\(m.pieces)"
        case let p as Pool2d: return "\(p.kind) window=\(p.window) stride=\(p.stride) padding=\(p.padding)"
        case let d as Dropout: return "dropout p=\(d.p)"
        case let r as ResidualAdd: return "residual_add from=\(r.source)"
        default: return op.kind
        }
    }

    /// Where `other` (the network at hand) first differs from `self` (the stored one), in words; nil if it does not.
    public func firstDifference(_ other: NetworkIdentity) -> String? {
        for (i, (a, b)) in zip(layers, other.layers).enumerated() where a != b {
            return i == 0 ? "the checkpoint's network has \(a), this one \(b)"
                          : "layer \(i): the checkpoint's network has '\(a)', this one '\(b)'"
        }
        guard layers.count == other.layers.count else {
            return "the checkpoint's network has \(layers.count - 1) layers, this one \(other.layers.count - 1)"
        }
        return nil
    }
}
