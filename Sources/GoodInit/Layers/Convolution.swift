// 2-D convolution. x (n, C, H, W), w (K, C, R, S), b (K), y (n, K, P, Q).
import CKernels

public final class Conv2d: Op {
    public let kind = "conv"
    public var name = "conv"
    public let outChannels, kernel, stride, padding: Int
    public let hasBias: Bool
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    var shape = ck_conv2d_shape()

    public init(_ outChannels: Int, kernel: Int = 3, stride: Int = 1, padding: Int? = nil,
                bias: Bool = true) {
        self.outChannels = outChannels; self.kernel = kernel; self.stride = stride
        self.padding = padding ?? kernel / 2; hasBias = bias
    }

    public func configure(input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw ShapeError(name, "needs a (C, H, W) input, got \(input)") }
        shape = ck_conv2d_shape(N: 1, C: input[0], H: input[1], W: input[2], K: outChannels, R: kernel,
                                S: kernel, stride: stride, pad: padding)
        let p = windowOutputExtent(input[1], window: kernel, stride: stride, padding: padding)
        let q = windowOutputExtent(input[2], window: kernel, stride: stride, padding: padding)
        guard p > 0, q > 0, kernel > 0, stride > 0 else {
            throw ShapeError(name, "kernel \(kernel) does not fit input \(input)")
        }
        inputShape = input
        outputShape = [outChannels, p, q]
        return outputShape
    }

    public var paramSpecs: [ParamSpec] {
        let c = inputShape[0], rs = kernel * kernel
        var specs = [ParamSpec(name: "weight", shape: [outChannels, c, kernel, kernel],
                               role: .weight(fanIn: c * rs, fanOut: outChannels * rs))]
        if hasBias { specs.append(ParamSpec(name: "bias", shape: [outChannels], role: .bias)) }
        return specs
    }

    public func workspaceSize(batch: Int) -> Int { Kernels.convWorkspace(shape(batch)) }
    public var flopsPerSample: Int {
        2 * outChannels * inputShape[0] * kernel * kernel * outputShape[1] * outputShape[2]
    }

    private func shape(_ n: Int) -> ck_conv2d_shape { var s = shape; s.N = n; return s }

    public func forward(_ c: OpContext) {
        Kernels.convForward(y: c.y, x: c.x, w: c.values[0], b: hasBias ? c.values[1] : nil, shape: shape(c.n),
                            workspace: c.workspace)
    }

    public func backward(_ c: OpContext) {
        Kernels.convBackwardWeights(dw: c.grads[0], db: hasBias ? c.grads[1] : nil, dy: c.dy, x: c.x,
                                    shape: shape(c.n), workspace: c.workspace)
        if c.needsInputGradient {
            Kernels.convBackwardData(dx: c.dx, dy: c.dy, w: c.values[0], shape: shape(c.n), workspace: c.workspace)
        }
    }
}
