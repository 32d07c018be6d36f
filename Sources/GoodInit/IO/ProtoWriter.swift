// Protocol-buffer wire format by hand: TensorBoard's event files and the ONNX export write the few
// fields they need through this, rather than a generated library (swift-protobuf's plugin build
// takes about ten minutes, for some dozen fields).
/// Protocol-buffer wire format: each field is a key (number << 3 | wire type), then its value.
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []
    enum WireType: UInt64 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    /// Seven bits a byte, low first; the high bit says another byte follows.
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ wire: WireType) { varint(UInt64(field) << 3 | wire.rawValue) }

    /// proto3 leaves out +0.0; -0.0 differs in its bits, so it is written.
    mutating func double(_ field: Int, _ value: Double) {
        guard value.bitPattern != 0 else { return }
        key(field, .fixed64)
        bytes += littleEndianBytes(value.bitPattern)
    }

    /// Always written: `simple_value` sits in a oneof.
    mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        bytes += littleEndianBytes(value.bitPattern)
    }

    /// Negative values take ten bytes (two's complement as a uint64), as protobuf's int64 does.
    mutating func int64(_ field: Int, _ value: Int64) {
        guard value != 0 else { return }
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    mutating func string(_ field: Int, _ value: String, always: Bool = false) {
        guard always || !value.isEmpty else { return }
        message(field, Array(value.utf8))
    }

    /// An embedded message or raw bytes: length, then the bytes. Always written (oneof members).
    mutating func message(_ field: Int, _ payload: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(payload.count))
        bytes += payload
    }

    /// Always written, zero included: ONNX's fields are proto2-style (ModelProto.ir_version must be there).
    mutating func int64Always(_ field: Int, _ value: Int64) {
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// A repeated int64 field, packed (one length-delimited run of varints), as proto3 writes it.
    mutating func packedInt64s(_ field: Int, _ values: [Int64]) {
        guard !values.isEmpty else { return }
        var inner = ProtoWriter()
        for v in values { inner.varint(UInt64(bitPattern: v)) }
        message(field, inner.bytes)
    }
}

/// Lowest byte first, whatever the host's byte order.
func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    (0..<T.bitWidth / 8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
}
