import Foundation
@testable import GoodInit
import Testing

@Suite("TensorBoard event files") struct TensorBoardTests {
    func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("goodinit-tb-\(UUID().uuidString)").path
    }

    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.filter { !$0.isWhitespace })
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    // MARK: - CRC-32C

    /// Bit by bit, no table: an oracle independent of the library's table-driven CRC.
    static func bitwiseCRC32C(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0x82F6_3B78 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    static func mask(_ crc: UInt32) -> UInt32 { (crc >> 15 | crc << 17) &+ 0xA282_EAD8 }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        (0..<T.bitWidth / 8).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
    }

    @Test("CRC-32C check values (RFC 3720 B.4)")
    func crcCheckValues() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(Self.bitwiseCRC32C(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test("the table-driven CRC agrees with the bitwise one on every length up to 300")
    func crcAgainstBitwise() {
        var rng = SystemRandomNumberGenerator()
        for n in 0...300 {
            let data = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(CRC32C.checksum(data) == Self.bitwiseCRC32C(data), "length \(n)")
        }
    }
}
