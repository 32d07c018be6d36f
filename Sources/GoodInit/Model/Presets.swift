// Named model presets (`goodinit models` lists them with parameter and FLOP counts).

/// The presets by name.
public enum ModelPreset: String, CaseIterable, Sendable, Codable {
    case mlpSigmoid = "mlp-sigmoid", mlpBNSigmoid = "mlp-bn-sigmoid", mlpXavier = "mlp-xavier", mlpDeep = "mlp-deep"
    case cnnSmall = "cnn-small", plain30, plain22, plain30Thin = "plain30-thin", plain22Thin = "plain22-thin"
    case vggish, fitnet4, fitnetSmall = "fitnet-small", resnetSmall = "resnet-small"
    case resnet20, resnet56, resnet20MNIST = "resnet20-mnist", vgg11BN = "vgg11-bn"
    case resnet20NoBN = "resnet20-nobn", resnet56NoBN = "resnet56-nobn"
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

    /// He et al. 2016's CIFAR ResNet (section 4.2): a 3×3 conv at 16 channels, 3 stages of n basic
    /// blocks (conv-BN-ReLU-conv-BN, add, ReLU) at 16/32/64 channels, each later stage opening with
    /// stride 2, global average pooling, FC; 6n+2 layers. Option A shortcuts, as the paper's CIFAR nets.
    /// Without batch norm (`bn: false`, for Fixup-style initialization) the convolutions get biases.
    static func cifarResNet(blocks n: Int, shortcut: Shortcut = .pad, bn: Bool = true) -> [LayerSpec] {
        func conv(_ c: Int, stride: Int = 1) -> LayerSpec {
            .conv(out: c, kernel: 3, stride: stride, padding: 1, bias: !bn)
        }
        let norm: [LayerSpec] = bn ? [.batchNorm] : []
        var l: [LayerSpec] = [conv(16)] + norm + [.relu]
        for (stage, c) in [16, 32, 64].enumerated() {
            for b in 0..<n {
                let stride = stage > 0 && b == 0 ? 2 : 1
                let branch: [LayerSpec] = [conv(c, stride: stride)] + norm + [.relu, conv(c)] + norm
                l += [.residual(branch, shortcut: stride == 1 ? .identity : shortcut), .relu]
            }
        }
        return l + [.globalAvgPool, .linear(out: 10)]
    }

    /// VGG-11 with batch norm (Simonyan & Zisserman's configuration A, torchvision's vgg11_bn
    /// features) for 32×32 input: five pools leave 512×1×1, so one FC replaces the 4096-wide head
    /// (as the common CIFAR ports do). The convs have no bias: the BN after each one cancels it.
    static func vgg11BN() -> [LayerSpec] {
        var l: [LayerSpec] = []
        for stage in [[64], [128], [256, 256], [512, 512], [512, 512]] {
            for c in stage { l += convBlock(c, act: [.relu], bn: true) }
            l.append(.maxPool(window: 2, stride: 2))
        }
        return l + [.flatten, .linear(out: 10)]
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
        case .resnet20:
            return made(cifar, "He et al. 2016's CIFAR ResNet-20: 16/32/64 channels, 3×3 blocks, option A shortcuts",
                        cifarResNet(blocks: 3))
        case .resnet56:
            return made(cifar, "He et al. 2016's CIFAR ResNet-56: 16/32/64 channels, 9×3 blocks, option A shortcuts",
                        cifarResNet(blocks: 9))
        case .resnet20MNIST:
            return made(mnist, "resnet20 on 1×28×28 (Fashion-MNIST): stages at 28, 14, 7", cifarResNet(blocks: 3))
        case .resnet20NoBN:
            return made(cifar, "resnet20 without batch norm (biased convs): for --fixup",
                        cifarResNet(blocks: 3, bn: false))
        case .resnet56NoBN:
            return made(cifar, "resnet56 without batch norm (biased convs): for --fixup",
                        cifarResNet(blocks: 9, bn: false))
        case .vgg11BN:
            return made(cifar, "VGG-11 with BN (configuration A), 5 pools, FC 512→10", vgg11BN())
        }
    }

    /// Said when a preset runs on another input shape than its own (a CIFAR net on 1×28×28): the
    /// parameter count changes with the input's channels (and with its size before a flatten).
    public static func adaptationNote(_ preset: ModelPreset, activation: ActivationKind = .relu,
                                      input: [Int]) -> String? {
        let p = make(preset, activation: activation)
        guard p.input != input, let own = try? network(preset, activation: activation) else { return nil }
        let shape = { (s: [Int]) in s.map(String.init).joined(separator: "×") }
        return "\(p.name) adapted from its \(shape(p.input)) input (\(own.parameterCount) parameters there) to "
            + shape(input)
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
