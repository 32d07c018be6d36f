// Named model presets (`goodinit models` lists them with parameter and FLOP counts).

/// The presets by name.
public enum ModelPreset: String, CaseIterable, Sendable, Codable {
    case mlpSigmoid = "mlp-sigmoid", mlpBNSigmoid = "mlp-bn-sigmoid", mlpXavier = "mlp-xavier", mlpDeep = "mlp-deep"
    case cnnSmall = "cnn-small", plain30, plain22, plain30Thin = "plain30-thin", plain22Thin = "plain22-thin"
    case vggish, fitnet4, fitnetSmall = "fitnet-small", resnetSmall = "resnet-small"
}

/// The nonlinearities a preset can be built with (the LSUV paper's set).
public enum ActivationKind: String, CaseIterable, Sendable, Codable {
    case relu, vlrelu, tanh, maxout, prelu, preluShared = "prelu-shared", sigmoid

    public var layers: [LayerSpec] {
        switch self {
        case .relu: return [.relu]
        case .vlrelu: return [.leakyRelu(1.0 / 3.0)] // "very leaky" ReLU, slope 1/3
        case .tanh: return [.tanh]
        case .maxout: return [.maxout(pieces: 2)]
        case .prelu: return [.prelu(shared: false)]
        case .preluShared: return [.prelu(shared: true)]
        case .sigmoid: return [.sigmoid]
        }
    }
}

public enum Presets {
    public struct Preset: Sendable {
        public let name: String
        public let input: [Int]
        public let summary: String
        public let layers: [LayerSpec]
    }

    /// conv 3×3 → (BN) → activation; maxout doubles the conv's channels and halves them again.
    static func convBlock(_ out: Int, act: [LayerSpec], bn: Bool = false) -> [LayerSpec] {
        let width = act == [.maxout(pieces: 2)] ? 2 * out : out
        return [.conv(out: width, kernel: 3, stride: 1, padding: 1, bias: !bn)] + (bn ? [.batchNorm] : []) + act
    }

    static func mlp(_ widths: [Int], act: LayerSpec, bn: Bool = false) -> [LayerSpec] {
        var l: [LayerSpec] = [.flatten]
        for w in widths { l += [.linear(out: w, bias: !bn)] + (bn ? [.batchNorm] : []) + [act] }
        return l + [.linear(out: 10)]
    }

    /// He et al.'s plain nets scaled to 28×28: stages of 3×3 convs at base, 2·base, 4·base channels
    /// (base 16; the thin variants' base 8 keeps the depth, the point of the experiment, at ¼ the FLOPs).
    static func plain(_ perStage: [Int], act: [LayerSpec] = [.relu], base: Int = 16) -> [LayerSpec] {
        var l: [LayerSpec] = []
        for (s, count) in perStage.enumerated() {
            if s > 0 { l.append(.maxPool(window: 2, stride: 2)) }
            for _ in 0..<count { l += convBlock(base << s, act: act) }
        }
        return l + [.globalAvgPool, .linear(out: 10)]
    }

    public static func make(_ preset: ModelPreset, activation: ActivationKind = .relu) -> Preset {
        let act = activation.layers
        let name = preset.rawValue
        func made(_ input: [Int], _ summary: String, _ layers: [LayerSpec]) -> Preset {
            Preset(name: name, input: input, summary: summary, layers: layers)
        }
        let mnist = [1, 28, 28], cifar = [3, 32, 32]
        switch preset {
        case .mlpSigmoid:
            return made(mnist, "784-100-100-100-10 sigmoid (BN paper's MNIST net)", mlp([100, 100, 100], act: .sigmoid))
        case .mlpBNSigmoid:
            return made(mnist, "mlp-sigmoid with BN before each sigmoid",
                        mlp([100, 100, 100], act: .sigmoid, bn: true))
        case .mlpXavier:
            return made(mnist, "784-256-256-10 ReLU", mlp([256, 256], act: .relu))
        case .mlpDeep:
            return made(mnist, "784-512×4-10 ReLU", mlp([512, 512, 512, 512], act: .relu))
        case .cnnSmall:
            let pool: LayerSpec = .maxPool(window: 2, stride: 2)
            var l = convBlock(32, act: [.relu], bn: true) + convBlock(32, act: [.relu], bn: true) + [pool]
            l += convBlock(64, act: [.relu], bn: true) + convBlock(64, act: [.relu], bn: true) + [pool]
            l += [.flatten, .linear(out: 256), .relu, .linear(out: 10)]
            return made(mnist, "4 conv (BN, ReLU) + 2 FC, 1×28×28", l)
        case .plain30:
            return made(mnist, "He et al.'s 30-layer plain net: 29 conv + FC, no BN", plain([10, 10, 9], act: act))
        case .plain22:
            return made(mnist, "22-layer plain net: 21 conv + FC, no BN", plain([7, 7, 7], act: act))
        case .plain30Thin:
            return made(mnist, "plain30 at 8/16/32 channels (quick depth experiments)",
                        plain([10, 10, 9], act: act, base: 8))
        case .plain22Thin:
            return made(mnist, "plain22 at 8/16/32 channels (quick depth experiments)",
                        plain([7, 7, 7], act: act, base: 8))
        case .vggish:
            var l: [LayerSpec] = []
            for (i, c) in [64, 64, 128, 128, 256, 256].enumerated() {
                l += convBlock(c, act: [.relu], bn: true)
                if i % 2 == 1 { l.append(.maxPool(window: 2, stride: 2)) }
            }
            return made(cifar, "6 conv (BN, ReLU), 3 pools, FC 4096→10", l + [.flatten, .linear(out: 10)])
        case .fitnet4:
            var l: [LayerSpec] = []
            for c in [32, 32, 32, 48, 48] { l += convBlock(c, act: act) }
            l.append(.maxPool(window: 2, stride: 2))
            for _ in 0..<6 { l += convBlock(80, act: act) }
            l.append(.maxPool(window: 2, stride: 2))
            for _ in 0..<6 { l += convBlock(128, act: act) }
            l += [.globalMaxPool, .linear(out: activation == .maxout ? 1000 : 500)] + act + [.linear(out: 10)]
            return made(cifar, "LSUV paper's FitNet4 (CIFAR), activation selectable", l)
        case .fitnetSmall:
            var l: [LayerSpec] = []
            for (stage, c) in [16, 32, 48].enumerated() {
                if stage > 0 { l.append(.maxPool(window: 2, stride: 2)) }
                for _ in 0..<3 { l += convBlock(c, act: act) }
            }
            return made(mnist, "fitnet4 scaled down: 9 conv (16/32/48), global max pool, FC; activation selectable",
                        l + [.globalMaxPool, .linear(out: 10)])
        case .resnetSmall:
            let second: [LayerSpec] = [.conv(out: 16, kernel: 3, stride: 1, padding: 1, bias: false), .batchNorm]
            let block: LayerSpec = .residual(convBlock(16, act: [.relu], bn: true) + second)
            let l: [LayerSpec] = convBlock(16, act: [.relu], bn: true)
                + [block, .relu, block, .relu, .globalAvgPool, .linear(out: 10)]
            return made(mnist, "conv + 2 residual blocks (BN), 1×28×28", l)
        }
    }

    /// The network of a preset, adapted to a data set's input shape and, given `classes`, to its
    /// class count (every preset ends in one linear layer, whose outputs are the classes).
    public static func network(_ preset: ModelPreset, activation: ActivationKind = .relu,
                               input: [Int]? = nil, classes: Int? = nil) throws -> Network {
        let p = make(preset, activation: activation)
        var layers = p.layers
        if let classes, case .linear(_, let bias)? = layers.last {
            layers[layers.count - 1] = .linear(out: classes, bias: bias)
        }
        return try Network(name: p.name, input: input ?? p.input, layers: layers)
    }
}
