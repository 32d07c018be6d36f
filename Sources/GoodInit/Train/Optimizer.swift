// SGD with momentum (PyTorch's form) or Adam over the flat parameter buffer, and learning-rate
// schedules. Weight decay skips biases, BN parameters and PReLU slopes (the store's mask).
import Foundation

public indirect enum Schedule: Sendable, Equatable, TextCodable {
    case constant
    /// lr × gamma^(⌊epoch / every⌋) — He et al.'s ÷10 steps.
    case step(every: Int, gamma: Double)
    /// Cosine from lr to 0 over the whole run.
    case cosine
    /// lr × (step + 1) / steps for the first steps (a linear warm-up, which keeps a deep plain
    /// net's first large gradients from killing its ReLUs), then `then`, counted from the end of
    /// the warm-up (as PyTorch's SequentialLR does).
    case warmup(steps: Int, then: Schedule)

    public init(parsing text: String) throws {
        if text.hasPrefix("warmup:") {
            let rest = text.dropFirst("warmup:".count)
            let comma = rest.firstIndex(of: ",")
            let (n, after) = comma.map { (rest[..<$0], String(rest[rest.index(after: $0)...])) } ?? (rest, "constant")
            guard let steps = Int(n), steps > 0, !after.hasPrefix("warmup") else {
                throw InitError("schedule '\(text)': use warmup:STEPS[,SCHEDULE] with STEPS > 0 and one warm-up")
            }
            // parsed before the case is built: a throw while the indirect case's box is half made
            // crashed the debug build (swift_deallocUninitializedObject)
            let then = try Schedule(parsing: after)
            self = .warmup(steps: steps, then: then)
            return
        }
        let p = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch p.first {
        case "constant", "cosine":
            guard p.count == 1 else { throw InitError("schedule '\(text)': \(p[0]) takes no value") }
            self = p[0] == "cosine" ? .cosine : .constant
        case "step":
            let every = p.count > 1 ? Int(p[1]) : 10, gamma = p.count > 2 ? Double(p[2]) : 0.1
            guard p.count <= 3, let every, let gamma, every > 0, gamma.isFinite, gamma > 0 else {
                throw InitError("schedule '\(text)': use step:EVERY_EPOCHS[:GAMMA] with EVERY ≥ 1 "
                                + "and GAMMA a positive number")
            }
            self = .step(every: every, gamma: gamma)
        default:
            throw InitError("unknown schedule '\(text)' "
                            + "(constant, step:EVERY[:GAMMA], cosine, warmup:STEPS[,SCHEDULE])")
        }
    }

    public func rate(base: Double, step: Int, totalSteps: Int, stepsPerEpoch: Int) -> Double {
        switch self {
        case .constant: return base
        case let .step(every, gamma): return base * pow(gamma, Double(step / max(1, stepsPerEpoch) / every))
        case .cosine: return base * 0.5 * (1 + cos(Double.pi * Double(step) / Double(max(1, totalSteps))))
        case let .warmup(n, then):
            if step < n { return base * Double(step + 1) / Double(n) }
            return then.rate(base: base, step: step - n, totalSteps: max(1, totalSteps - n),
                             stepsPerEpoch: stepsPerEpoch)
        }
    }
}

extension Schedule: CustomStringConvertible {
    /// The text `init(parsing:)` reads back as the same schedule.
    public var description: String {
        switch self {
        case .constant: return "constant"
        case .cosine: return "cosine"
        case let .step(every, gamma): return "step:\(every):\(gamma)"
        case let .warmup(steps, then): return "warmup:\(steps),\(then)"
        }
    }
}

public final class Optimizer {
    public enum Kind: String, Sendable, Codable, CaseIterable { case sgd, adam }
    public let kind: Kind
    public let momentum: Float, weightDecay: Float
    let store: ParameterStore
    /// SGD: velocity; Adam: first moment. Same layout as the parameters.
    public let state1: Tensor
    /// Adam's second moment (unused by SGD).
    public let state2: Tensor
    public var steps = 0

    public init(_ kind: Kind, store: ParameterStore, momentum: Float, weightDecay: Float) {
        self.kind = kind; self.store = store; self.momentum = momentum; self.weightDecay = weightDecay
        state1 = Tensor(zeros: [store.values.count])
        state2 = Tensor(zeros: [kind == .adam ? store.values.count : 1])
    }

    public func step(lr: Float) {
        steps += 1
        switch kind {
        case .sgd:
            Kernels.sgdStep(w: store.values, velocity: state1, grad: store.grad, decayMask: store.decayMask,
                            lr: lr, momentum: momentum, weightDecay: weightDecay)
        case .adam:
            Kernels.adamStep(w: store.values, m: state1, v: state2, grad: store.grad, decayMask: store.decayMask,
                             lr: lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: weightDecay, t: steps)
        }
    }
}
