// Named model presets (`goodinit models` lists them with parameter and FLOP counts).
public enum Presets {
    public struct Preset: Sendable {
        public let name: String
        public let input: [Int]
        public let summary: String
        public let layers: [LayerSpec]
    }

    /// The activation choices of fitnet4 (the LSUV paper's nonlinearities).
    public static func activation(_ name: String) throws -> [LayerSpec] {
        switch name {
        case "relu": return [.relu]
        case "vlrelu": return [.leakyRelu(1.0 / 3.0)] // "very leaky" ReLU, slope 1/3
        case "tanh": return [.tanh]
        case "maxout": return [.maxout(pieces: 2)]
        case "prelu": return [.prelu(shared: false)]
        case "prelu-shared": return [.prelu(shared: true)]
        case "sigmoid": return [.sigmoid]
        default: throw ShapeError("--activation", "unknown activation '\(name)' (relu, vlrelu, tanh, maxout, prelu, prelu-shared, sigmoid)")
        }
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

    public static func make(_ name: String, activation: String = "relu") throws -> Preset {
        let act = try Self.activation(activation)
        switch name {
        case "mlp-sigmoid":
            return Preset(name: name, input: [1, 28, 28], summary: "784-100-100-100-10 sigmoid (BN paper's MNIST net)", layers: mlp([100, 100, 100], act: .sigmoid))
        case "mlp-bn-sigmoid":
            return Preset(name: name, input: [1, 28, 28], summary: "mlp-sigmoid with BN before each sigmoid", layers: mlp([100, 100, 100], act: .sigmoid, bn: true))
        case "mlp-xavier":
            return Preset(name: name, input: [1, 28, 28], summary: "784-256-256-10 ReLU", layers: mlp([256, 256], act: .relu))
        case "mlp-deep":
            return Preset(name: name, input: [1, 28, 28], summary: "784-512×4-10 ReLU", layers: mlp([512, 512, 512, 512], act: .relu))
        case "cnn-small":
            let l: [LayerSpec] = convBlock(32, act: [.relu], bn: true) + convBlock(32, act: [.relu], bn: true) + [.maxPool(window: 2, stride: 2)]
                + convBlock(64, act: [.relu], bn: true) + convBlock(64, act: [.relu], bn: true) + [.maxPool(window: 2, stride: 2)]
                + [.flatten, .linear(out: 256), .relu, .linear(out: 10)]
            return Preset(name: name, input: [1, 28, 28], summary: "4 conv (BN, ReLU) + 2 FC, 1×28×28", layers: l)
        case "plain30":
            return Preset(name: name, input: [1, 28, 28], summary: "He et al.'s 30-layer plain net: 29 conv + FC, no BN", layers: plain([10, 10, 9], act: act))
        case "plain22":
            return Preset(name: name, input: [1, 28, 28], summary: "22-layer plain net: 21 conv + FC, no BN", layers: plain([7, 7, 7], act: act))
        case "plain30-thin":
            return Preset(name: name, input: [1, 28, 28], summary: "plain30 at 8/16/32 channels (quick depth experiments)", layers: plain([10, 10, 9], act: act, base: 8))
        case "plain22-thin":
            return Preset(name: name, input: [1, 28, 28], summary: "plain22 at 8/16/32 channels (quick depth experiments)", layers: plain([7, 7, 7], act: act, base: 8))
        case "vggish":
            var l: [LayerSpec] = []
            for (i, c) in [64, 64, 128, 128, 256, 256].enumerated() {
                l += convBlock(c, act: [.relu], bn: true)
                if i % 2 == 1 { l.append(.maxPool(window: 2, stride: 2)) }
            }
            return Preset(name: name, input: [3, 32, 32], summary: "6 conv (BN, ReLU), 3 pools, FC 4096→10", layers: l + [.flatten, .linear(out: 10)])
        case "fitnet4":
            var l: [LayerSpec] = []
            for c in [32, 32, 32, 48, 48] { l += convBlock(c, act: act) }
            l.append(.maxPool(window: 2, stride: 2))
            for _ in 0..<6 { l += convBlock(80, act: act) }
            l.append(.maxPool(window: 2, stride: 2))
            for _ in 0..<6 { l += convBlock(128, act: act) }
            l += [.globalMaxPool, .linear(out: act == [.maxout(pieces: 2)] ? 1000 : 500)] + act + [.linear(out: 10)]
            return Preset(name: name, input: [3, 32, 32], summary: "LSUV paper's FitNet4 (CIFAR), activation selectable", layers: l)
        case "fitnet-small":
            var l: [LayerSpec] = []
            for (stage, c) in [16, 32, 48].enumerated() {
                if stage > 0 { l.append(.maxPool(window: 2, stride: 2)) }
                for _ in 0..<3 { l += convBlock(c, act: act) }
            }
            return Preset(name: name, input: [1, 28, 28], summary: "fitnet4 scaled down: 9 conv (16/32/48), global max pool, FC; activation selectable", layers: l + [.globalMaxPool, .linear(out: 10)])
        case "resnet-small":
            let block: LayerSpec = .residual(convBlock(16, act: [.relu], bn: true) + [.conv(out: 16, kernel: 3, stride: 1, padding: 1, bias: false), .batchNorm])
            let l: [LayerSpec] = convBlock(16, act: [.relu], bn: true) + [block, .relu, block, .relu, .globalAvgPool, .linear(out: 10)]
            return Preset(name: name, input: [1, 28, 28], summary: "conv + 2 residual blocks (BN), 1×28×28", layers: l)
        default:
            throw ShapeError("--model", "unknown model '\(name)'; one of: \(names.joined(separator: ", "))")
        }
    }

    public static let names = ["mlp-sigmoid", "mlp-bn-sigmoid", "mlp-xavier", "mlp-deep", "cnn-small", "plain30", "plain22", "plain30-thin", "plain22-thin", "vggish", "fitnet4", "fitnet-small", "resnet-small"]

    /// The network of a preset, adapted to a data set's input shape.
    public static func network(_ name: String, activation: String = "relu", input: [Int]? = nil) throws -> Network {
        let p = try make(name, activation: activation)
        return try Network(name: name, input: input ?? p.input, layers: p.layers)
    }
}
