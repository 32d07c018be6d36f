// CRC-32C (Castagnoli), the checksum of TFRecord framing: table-driven, one byte per step.
// Event records are a few hundred bytes, so a slicing-by-8 or SSE4.2 version would buy nothing.

enum CRC32C {
    /// Reflected form of the Castagnoli polynomial 0x1EDC6F41.
    static let polynomial: UInt32 = 0x82F6_3B78

    /// table[b] is the CRC register after shifting byte b through eight reflected steps.
    static let table: [UInt32] = (0..<256).map { b in
        var r = UInt32(b)
        for _ in 0..<8 { r = r & 1 == 1 ? (r >> 1) ^ polynomial : r >> 1 }
        return r
    }

    /// The standard CRC-32C of `bytes` (initial value and final xor 0xFFFFFFFF).
    static func checksum<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }

    /// TFRecord stores CRCs rotated and offset, so a CRC over data that holds CRCs stays informative.
    static func masked(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
