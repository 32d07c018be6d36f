// The few ONNX messages an exported network needs, written by hand through ProtoWriter: about thirty
// fields of onnx.proto (field numbers below, as onnx.proto has them). A generated library would
// bring swift-protobuf and a committed generated file of some 4,000 lines for these, and its plugin
// takes about ten minutes to build.
import Foundation

enum ONNX {
    /// IR version 8 (2021-07-30) goes with opset 17, which onnxruntime and PyTorch read.
    static let irVersion: Int64 = 8
    static let opset: Int64 = 17

    enum ModelField { static let irVersion = 1, producerName = 2, producerVersion = 3, graph = 7, opsetImport = 8 }
    enum OpsetField { static let domain = 1, version = 2 }
    enum GraphField { static let node = 1, name = 2, initializer = 5, input = 11, output = 12 }
    enum NodeField { static let input = 1, output = 2, name = 3, opType = 4, attribute = 5 }
    enum AttributeField { static let name = 1, f = 2, i = 3, ints = 8, type = 20 }
    enum AttributeType { static let float: Int64 = 1, int: Int64 = 2, ints: Int64 = 7 }
    enum TensorField { static let dims = 1, dataType = 2, name = 8, rawData = 9 }
    enum DataType { static let float: Int64 = 1, int64: Int64 = 7 }
    enum ValueInfoField { static let name = 1, type = 2 }
    enum TypeField { static let tensorType = 1 }
    enum TensorTypeField { static let elemType = 1, shape = 2 }
    enum ShapeField { static let dim = 1 }
    enum DimensionField { static let value = 1, param = 2 }

    enum Attribute {
        case int(String, Int64), float(String, Float), ints(String, [Int64])

        var bytes: [UInt8] {
            var w = ProtoWriter()
            switch self {
            case let .int(name, v):
                w.string(AttributeField.name, name); w.int64Always(AttributeField.i, v)
                w.int64Always(AttributeField.type, AttributeType.int)
            case let .float(name, v):
                w.string(AttributeField.name, name); w.float(AttributeField.f, v)
                w.int64Always(AttributeField.type, AttributeType.float)
            case let .ints(name, v):
                w.string(AttributeField.name, name); w.packedInt64s(AttributeField.ints, v)
                w.int64Always(AttributeField.type, AttributeType.ints)
            }
            return w.bytes
        }
    }

    struct Node {
        var op: String, inputs: [String], outputs: [String], name: String
        var attributes: [Attribute] = []

        var bytes: [UInt8] {
            var w = ProtoWriter()
            for i in inputs { w.string(NodeField.input, i, always: true) }
            for o in outputs { w.string(NodeField.output, o, always: true) }
            w.string(NodeField.name, name); w.string(NodeField.opType, op)
            for a in attributes { w.message(NodeField.attribute, a.bytes) }
            return w.bytes
        }
    }

    /// A constant: float values (raw little-endian bytes) or int64 ones (a Reshape's shape).
    struct Initializer {
        var name: String, dims: [Int], floats: [Float] = [], int64s: [Int64]? = nil

        var bytes: [UInt8] {
            var w = ProtoWriter()
            w.packedInt64s(TensorField.dims, dims.map(Int64.init))
            w.int64Always(TensorField.dataType, int64s == nil ? DataType.float : DataType.int64)
            w.string(TensorField.name, name)
            var raw: [UInt8] = []
            if let int64s {
                raw.reserveCapacity(int64s.count * 8)
                for v in int64s { raw += littleEndianBytes(UInt64(bitPattern: v)) }
            } else {
                raw.reserveCapacity(floats.count * 4)
                for v in floats { raw += littleEndianBytes(v.bitPattern) }
            }
            w.message(TensorField.rawData, raw)
            return w.bytes
        }
    }

    /// A float tensor input or output; a nil size is the symbolic batch dimension "N".
    static func valueInfo(_ name: String, dims: [Int?]) -> [UInt8] {
        var shape = ProtoWriter()
        for d in dims {
            var dim = ProtoWriter()
            if let d { dim.int64Always(DimensionField.value, Int64(d)) } else { dim.string(DimensionField.param, "N") }
            shape.message(ShapeField.dim, dim.bytes)
        }
        var tensor = ProtoWriter()
        tensor.int64Always(TensorTypeField.elemType, DataType.float)
        tensor.message(TensorTypeField.shape, shape.bytes)
        var type = ProtoWriter()
        type.message(TypeField.tensorType, tensor.bytes)
        var w = ProtoWriter()
        w.string(ValueInfoField.name, name); w.message(ValueInfoField.type, type.bytes)
        return w.bytes
    }

    /// The ModelProto: one graph, the default domain at `opset`.
    static func model(name: String, nodes: [Node], initializers: [Initializer], input: [UInt8],
                      output: [UInt8]) -> [UInt8] {
        var g = ProtoWriter()
        for n in nodes { g.message(GraphField.node, n.bytes) }
        g.string(GraphField.name, name)
        for i in initializers { g.message(GraphField.initializer, i.bytes) }
        g.message(GraphField.input, input)
        g.message(GraphField.output, output)
        var opsetID = ProtoWriter()
        opsetID.int64Always(OpsetField.version, opset)
        var m = ProtoWriter()
        m.int64Always(ModelField.irVersion, irVersion)
        m.string(ModelField.producerName, "goodinit"); m.string(ModelField.producerVersion, GoodInitVersion.string)
        m.message(ModelField.graph, g.bytes)
        m.message(ModelField.opsetImport, opsetID.bytes)
        return m.bytes
    }
}
