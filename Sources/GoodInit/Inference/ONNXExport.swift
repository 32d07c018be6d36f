// A trained network as an ONNX graph (opset 17) in inference mode: NCHW float pixels in [0, 1] in,
// logits out. The stored normalization is the graph's first two nodes, Sub and Div by (C, 1, 1)
// constants (not folded into the first layer: the graph then reads like the network, and a conv's
// zero padding would see normalized zeros, which folding would change). Each op maps to one node
// or a short fixed sequence:
//   conv → Conv (pads p on every side); linear → Flatten (if the input is not flat) + Gemm(transB);
//   batch norm → BatchNormalization with the running statistics (GoodInit's inference uses them as
//   PyTorch does: running_var is the unbiased variance, x̂ = (x − mean)/√(var + eps), eps from the op);
//   relu/leaky_relu/tanh/sigmoid → Relu/LeakyRelu/Tanh/Sigmoid; prelu → PRelu, slopes (C, 1, 1)
//   (or (C) after a flat input) per channel, (1) shared;
//   maxout → Reshape (N, C/k, k, H, W) + ReduceMax over the k axis (GoodInit groups k consecutive channels);
//   max/avg pool → MaxPool/AveragePool (GoodInit's average divides by the window cells inside the
//   input, which is count_include_pad = 0; floor mode as GoodInit's output size);
//   global pools → GlobalAveragePool/GlobalMaxPool + Flatten; flatten → Flatten; dropout → nothing
//   (identity in inference); residual add → Add of the block's input.
import Foundation

public enum ONNXExport {
    /// The ONNX bytes of `net` (its weights and running statistics as they are) with `mean`/`std` as
    /// the first nodes.
    public static func model(_ net: Network, mean: [Float], std: [Float]) throws -> [UInt8] {
        var nodes: [ONNX.Node] = [], constants: [ONNX.Initializer] = []
        let input = net.inputShape
        let channels = input[0]
        let spatial = input.count == 3 ? [channels, 1, 1] : [channels]
        constants.append(.init(name: "mean", dims: spatial, floats: mean))
        constants.append(.init(name: "std", dims: spatial, floats: std))
        nodes.append(.init(op: "Sub", inputs: ["input", "mean"], outputs: ["centred"], name: "normalize_sub"))
        nodes.append(.init(op: "Div", inputs: ["centred", "std"], outputs: ["normalized"], name: "normalize_div"))
        // names[i]: the tensor holding activation i (the input of op i)
        var names = ["normalized"]
        for (i, op) in net.ops.enumerated() {
            let x = names[i], y = op.name, inShape = net.shapes[i], outShape = net.shapes[i + 1]
            let values = net.values(of: i).map(\.array)
            func node(_ type: String, _ inputs: [String], _ attributes: [ONNX.Attribute] = [],
                      output: String? = nil) {
                nodes.append(.init(op: type, inputs: inputs, outputs: [output ?? y], name: output ?? y,
                                   attributes: attributes))
            }
            func constant(_ suffix: String, _ dims: [Int], _ v: [Float]) -> String {
                constants.append(.init(name: "\(op.name).\(suffix)", dims: dims, floats: v))
                return "\(op.name).\(suffix)"
            }
            switch op {
            case let c as Conv2d:
                let k = Int64(c.kernel), s = Int64(c.stride), p = Int64(c.padding)
                var inputs = [x, constant("weight", [c.outChannels, inShape[0], c.kernel, c.kernel], values[0])]
                if c.hasBias { inputs.append(constant("bias", [c.outChannels], values[1])) }
                node("Conv", inputs, [.ints("kernel_shape", [k, k]), .ints("strides", [s, s]),
                                      .ints("pads", [p, p, p, p]), .ints("dilations", [1, 1]), .int("group", 1)])
            case let l as Linear:
                var flat = x
                if inShape.count > 1 {
                    flat = "\(op.name).flat"
                    node("Flatten", [x], [.int("axis", 1)], output: flat)
                }
                let inFeatures = inShape.reduce(1, *)
                var inputs = [flat, constant("weight", [l.outFeatures, inFeatures], values[0])]
                if l.hasBias { inputs.append(constant("bias", [l.outFeatures], values[1])) }
                node("Gemm", inputs, [.int("transB", 1)])
            case let b as BatchNorm:
                let c = inShape[0]
                node("BatchNormalization", [x, constant("weight", [c], values[0]), constant("bias", [c], values[1]),
                                            constant("running_mean", [c], b.runningMean.array),
                                            constant("running_var", [c], b.runningVar.array)],
                     [.float("epsilon", b.eps)])
            case let a as Activation:
                switch a.function {
                case .relu: node("Relu", [x])
                case .leakyRelu(let slope): node("LeakyRelu", [x], [.float("alpha", slope)])
                case .tanh: node("Tanh", [x])
                case .sigmoid: node("Sigmoid", [x])
                }
            case let p as PReLU:
                let dims = p.shared ? [1] : (inShape.count == 3 ? [inShape[0], 1, 1] : [inShape[0]])
                node("PRelu", [x, constant("slope", dims, values[0])])
            case let m as Maxout:
                let grouped = [-1, outShape[0], m.pieces] + inShape.dropFirst()
                constants.append(.init(name: "\(op.name).shape", dims: [grouped.count],
                                       int64s: grouped.map(Int64.init)))
                node("Reshape", [x, "\(op.name).shape"], output: "\(op.name).grouped")
                node("ReduceMax", ["\(op.name).grouped"], [.ints("axes", [2]), .int("keepdims", 0)])
            case let p as Pool2d:
                let w = Int64(p.window), s = Int64(p.stride), pad = Int64(p.padding)
                var attributes: [ONNX.Attribute] = [.ints("kernel_shape", [w, w]), .ints("strides", [s, s]),
                                                    .ints("pads", [pad, pad, pad, pad])]
                if p.mode == .average { attributes.append(.int("count_include_pad", 0)) }
                node(p.mode == .max ? "MaxPool" : "AveragePool", [x], attributes)
            case let g as GlobalPool:
                node(g.mode == .max ? "GlobalMaxPool" : "GlobalAveragePool", [x], output: "\(op.name).pooled")
                node("Flatten", ["\(op.name).pooled"], [.int("axis", 1)])
            case is Flatten:
                node("Flatten", [x], [.int("axis", 1)])
            case is Dropout:
                names.append(x) // identity in inference
                continue
            case let r as ResidualAdd:
                node("Add", [x, names[r.source]])
            default:
                throw TrainingError("export: no ONNX mapping for \(op.name) (\(op.kind))")
            }
            names.append(y)
        }
        nodes.append(.init(op: "Identity", inputs: [names[net.ops.count]], outputs: ["logits"], name: "logits"))
        return ONNX.model(name: net.name, nodes: nodes, initializers: constants,
                          input: ONNX.valueInfo("input", dims: [nil] + input.map { $0 }),
                          output: ONNX.valueInfo("logits", dims: [nil, net.classes]))
    }
}
