// Weight initializers, selected by name. Fans and gains follow PyTorch's torch.nn.init so results
// compare: fan_in = C·R·S (linear: in), fan_out = K·R·S (linear: out); gain = the following
// nonlinearity's (√2 ReLU, √(2/(1+a²)) leaky/PReLU, 5/3 tanh, 1 sigmoid/none).
// Biases start at 0, BN γ at 1 and β at 0, PReLU slopes at their initial value (0.25).
import Foundation

public enum Initializer: Sendable, Equatable, CustomStringConvertible {
    /// W = 0: the symmetric start that cannot learn (every unit gets the same gradient).
    case zeros
    /// W = v everywhere: symmetric too.
    case constant(Float)
    /// W ~ U(−a, a).
    case uniform(Float)
    /// W ~ N(0, std²); N(0, 1) on a deep MLP is the classic bad baseline, N(0, 0.01²) VGG's.
    case normal(Float)
    /// Glorot & Bengio: W ~ U(±gain·√(6/(fan_in + fan_out))), gain 1 (PyTorch's default).
    case xavierUniform
    /// Glorot & Bengio: W ~ N(0, (gain·√(2/(fan_in + fan_out)))²), gain 1.
    case xavierNormal
    /// He et al. 2015: W ~ N(0, (gain/√fan)²), fan = fan_in (or fan_out), gain of the following
    /// nonlinearity (√2 for ReLU, also when none follows, as PyTorch's default).
    case heNormal(fanOut: Bool)
    /// He et al. 2015, uniform: W ~ U(±gain·√(3/fan)).
    case heUniform(fanOut: Bool)
    /// Saxe et al. 2014: the Q of a QR of an (out × fan_in) N(0,1) matrix, signs fixed by diag(R),
    /// times gain (1 by default, `orthogonal:GAIN` otherwise).
    case orthogonal(gain: Double)
    /// PyTorch's own Linear/Conv default: W and b ~ U(±1/√fan_in).
    case pytorchDefault
    /// Mishkin & Matas 2016: orthonormal, then each layer scaled to unit output variance (LSUV.swift).
    case lsuv
    /// Hinton 2006: N(0, 0.01²), then greedy CD-1 RBM pre-training of each hidden layer (RBM.swift).
    case rbm

    /// Parses `zeros`, `constant:V`, `uniform:A`, `normal:STD`, `xavier-uniform`, `xavier-normal`,
    /// `he-normal[:fan_out]`, `he-uniform[:fan_out]`, `orthogonal[:GAIN]`, `pytorch-default`, `lsuv`.
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: ":", maxSplits: 1).map(String.init)
        let name = parts.first ?? "", arg = parts.count > 1 ? parts[1] : nil
        func number(_ d: Float?) throws -> Float {
            guard let arg else {
                if let d { return d }
                throw InitError("initializer '\(name)' needs a value, as in '\(name):0.01'")
            }
            guard let v = Float(arg), v.isFinite else { throw InitError("'\(arg)' is not a number in '\(text)'") }
            return v
        }
        func fanOut() throws -> Bool {
            switch arg {
            case nil, "fan_in", "fan-in": return false
            case "fan_out", "fan-out": return true
            default: throw InitError("'\(text)': mode must be fan_in or fan_out")
            }
        }
        func none() throws { if arg != nil { throw InitError("initializer '\(name)' takes no value, got '\(text)'") } }
        switch name {
        case "zeros", "zero": try none(); self = .zeros
        case "constant": self = .constant(try number(nil))
        case "uniform": self = .uniform(try number(0.05))
        case "normal", "gaussian": self = .normal(try number(1))
        case "xavier-uniform", "glorot-uniform", "xavier": try none(); self = .xavierUniform
        case "xavier-normal", "glorot-normal": try none(); self = .xavierNormal
        case "he-normal", "kaiming-normal", "he": self = .heNormal(fanOut: try fanOut())
        case "he-uniform", "kaiming-uniform": self = .heUniform(fanOut: try fanOut())
        case "orthogonal": self = .orthogonal(gain: Double(try number(1)))
        case "pytorch-default", "pytorch", "default": try none(); self = .pytorchDefault
        case "lsuv": try none(); self = .lsuv
        case "rbm": try none(); self = .rbm
        default:
            throw InitError("unknown initializer '\(text)'; one of: zeros, constant:V, uniform:A, normal:STD, "
                            + "xavier-uniform, xavier-normal, he-normal[:fan_out], he-uniform[:fan_out], "
                            + "orthogonal[:GAIN], pytorch-default, lsuv, rbm")
        }
    }

    /// The text `init(parsing:)` reads back as the same initializer ("normal:1", not "normal:1.0").
    public var description: String {
        func number<T: BinaryFloatingPoint & LosslessStringConvertible>(_ v: T) -> String {
            v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
        }
        switch self {
        case .zeros: return "zeros"
        case .constant(let v): return "constant:\(number(v))"
        case .uniform(let a): return "uniform:\(number(a))"
        case .normal(let s): return "normal:\(number(s))"
        case .xavierUniform: return "xavier-uniform"
        case .xavierNormal: return "xavier-normal"
        case .heNormal(let o): return o ? "he-normal:fan_out" : "he-normal"
        case .heUniform(let o): return o ? "he-uniform:fan_out" : "he-uniform"
        case .orthogonal(let g): return g == 1 ? "orthogonal" : "orthogonal:\(number(Float(g)))" // parsed as Float
        case .pytorchDefault: return "pytorch-default"
        case .lsuv: return "lsuv"
        case .rbm: return "rbm"
        }
    }

    /// Fills one weight tensor. `gain` is the following nonlinearity's gain (nil: none follows).
    public func fill(_ w: Tensor, fanIn: Int, fanOut: Int, gain: Double?, seed: UInt64) {
        switch self {
        case .zeros: w.fill(0)
        case .constant(let v): w.fill(v)
        case .uniform(let a): Kernels.fillUniform(w, lo: -a, hi: a, seed: seed)
        case .normal(let std): scaledNormal(w, std: Double(std), seed: seed)
        case .xavierUniform:
            let a = Float((6.0 / Double(fanIn + fanOut)).squareRoot())
            Kernels.fillUniform(w, lo: -a, hi: a, seed: seed)
        case .xavierNormal: scaledNormal(w, std: (2.0 / Double(fanIn + fanOut)).squareRoot(), seed: seed)
        case .heNormal(let out):
            scaledNormal(w, std: (gain ?? 2.0.squareRoot()) / Double(out ? fanOut : fanIn).squareRoot(), seed: seed)
        case .heUniform(let out):
            let a = Float((gain ?? 2.0.squareRoot()) * (3.0 / Double(out ? fanOut : fanIn)).squareRoot())
            Kernels.fillUniform(w, lo: -a, hi: a, seed: seed)
        case .orthogonal(let g):
            Orthogonal.fill(w, rows: w.shape[0], cols: w.count / w.shape[0], gain: g, seed: seed)
        case .lsuv: // the pre-init; the scaling is lsuv(...)
            Orthogonal.fill(w, rows: w.shape[0], cols: w.count / w.shape[0], gain: 1, seed: seed)
        case .rbm: scaledNormal(w, std: 0.01, seed: seed) // before pre-training
        case .pytorchDefault:
            let a = Float(1 / Double(fanIn).squareRoot())
            Kernels.fillUniform(w, lo: -a, hi: a, seed: seed)
        }
    }

    private func scaledNormal(_ w: Tensor, std: Double, seed: UInt64) {
        Kernels.fillNormal(w, seed: seed)
        let s = Float(std)
        for i in 0..<w.count { w[i] *= s }
    }
}

extension Network {
    /// Initializes every parameter from `seed`: weights with `initializer`, the rest by role.
    /// Same seed ⇒ same bits. LSUV's pre-init happens here (orthogonal); its scaling is `lsuv(...)`.
    public func initialize(_ initializer: Initializer, seed: UInt64) {
        for (i, entries) in opEntries.enumerated() {
            for (j, e) in entries.enumerated() {
                let t = params.view(e, in: params.values)
                let s = deriveSeed(seed, UInt64(i), UInt64(j))
                switch e.spec.role {
                case let .weight(fanIn, fanOut):
                    initializer.fill(t, fanIn: fanIn, fanOut: fanOut, gain: followingNonlinearity(of: i)?.gain, seed: s)
                case .bias:
                    if initializer == .pytorchDefault, case let .weight(fanIn, _) = entries[0].spec.role {
                        let a = Float(1 / Double(fanIn).squareRoot())
                        Kernels.fillUniform(t, lo: -a, hi: a, seed: s)
                    } else if case .constant(let v) = initializer {
                        t.fill(v)
                    } else {
                        t.fill(0)
                    }
                case .bnGamma: t.fill(1)
                case .bnBeta: t.fill(0)
                case .slope(let a): t.fill(a)
                }
            }
        }
        for op in ops { if let bn = op as? BatchNorm { bn.runningMean.fill(0); bn.runningVar.fill(1) } }
    }
}

extension Network {
    /// Each residual block's branch, as the range of its op indices.
    public var residualBranches: [ClosedRange<Int>] {
        ops.indices.compactMap { i -> ClosedRange<Int>? in
            guard let add = ops[i] as? ResidualAdd else { return nil }
            // a projection's add reads the branch as its skip: the branch ends at op add.source − 1,
            // and begins after the block input (the SkipRoute's source)
            let route = i >= 3 ? ops[i - 3] as? SkipRoute : nil
            let last = route == nil ? i - 1 : add.source - 1
            let first = route?.source ?? add.source
            return first <= last ? first...last : nil
        }
    }

    /// The batch norm whose γ `--zero-init-residual` zeroes in each residual block: the last op of
    /// the branch, or the last batch norm before it within the branch (op indices).
    public var residualBranchNorms: [Int] {
        residualBranches.compactMap { b in b.reversed().first { ops[$0] is BatchNorm } }
    }

    /// torchvision's `zero_init_residual` (Goyal et al. 2017): γ = 0 in each residual branch's last
    /// batch norm, so every block starts as its shortcut. Returns how many were zeroed.
    @discardableResult
    public func zeroResidualGammas() -> Int {
        let norms = Set(residualBranchNorms)
        for e in params.entries where norms.contains(e.op) && e.spec.role == .bnGamma {
            params.view(e, in: params.values).fill(0)
        }
        return norms.count
    }

    /// Fixup's rescaling (Zhang et al. 2019, rules 1 and 2), after the initializer: with L residual
    /// branches of m weighted layers each, the layers before a branch's last are multiplied by
    /// L^(−1/(2m−2)), the branch's last layer and the network's last linear layer start at zero
    /// (weights and biases). Fixup's scalar biases and multipliers are not added: the layers' own
    /// biases stand in for them. Returns L.
    @discardableResult
    public func fixupScale() -> Int {
        let branches = residualBranches.map { b in b.filter { ops[$0].isWeighted } }.filter { !$0.isEmpty }
        let L = branches.count
        guard L > 0 else { return 0 }
        var zeroed = Set(branches.map { $0.last! })
        if let last = ops.indices.last(where: { ops[$0] is Linear }) { zeroed.insert(last) }
        var scale: [Int: Float] = [:]
        for b in branches where b.count > 1 {
            let s = Float(Foundation.pow(Double(L), -1 / Double(2 * b.count - 2)))
            for i in b.dropLast() { scale[i] = s }
        }
        for e in params.entries {
            let t = params.view(e, in: params.values)
            if zeroed.contains(e.op), e.spec.role == .bias || e.spec.role.isWeight {
                t.fill(0)
            } else if let s = scale[e.op], e.spec.role.isWeight {
                for k in 0..<t.count { t[k] *= s }
            }
        }
        return L
    }
}
