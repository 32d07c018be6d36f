// PNG and JPEG files in memory, through CImage (libpng, libjpeg-turbo): the only home of its calls.
import CImage

/// 8-bit pixels, rows top to bottom, channels interleaved (HWC): 1 channel (grey) or 3 (RGB).
public struct DecodedImage: Sendable, Equatable {
    public var height: Int, width: Int, channels: Int
    public var pixels: [UInt8]
    public init(height: Int, width: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == height * width * channels, "pixels do not match the size")
        self.height = height; self.width = width; self.channels = channels; self.pixels = pixels
    }
}

public enum ImageCodec {
    /// Decodes a PNG or JPEG; a corrupt or truncated file is a DataError naming `file`.
    public static func decode(_ bytes: [UInt8], file: String) throws -> DecodedImage {
        var raw: UnsafeMutablePointer<UInt8>? = nil
        var h: Int32 = 0, w: Int32 = 0, c: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { b in
            ci_decode(&raw, &h, &w, &c, b.baseAddress, b.count, &message, message.count)
        }
        guard status == 0, let raw else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw DataError(file: file, problem: "not a readable image (\(text))")
        }
        defer { ci_free(raw) }
        let count = Int(h) * Int(w) * Int(c)
        return DecodedImage(height: Int(h), width: Int(w), channels: Int(c),
                            pixels: Array(UnsafeBufferPointer(start: raw, count: count)))
    }

    public enum Format: Sendable { case png, jpeg(quality: Int) }

    /// Encodes an image (tests and tools write their own files through the same libraries).
    public static func encode(_ image: DecodedImage, as format: Format) throws -> [UInt8] {
        var raw: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let (h, w, c) = (Int32(image.height), Int32(image.width), Int32(image.channels))
        let status = image.pixels.withUnsafeBufferPointer { p in
            switch format {
            case .png: return ci_encode_png(&raw, &size, p.baseAddress, h, w, c, &message, message.count)
            case .jpeg(let q):
                return ci_encode_jpeg(&raw, &size, p.baseAddress, h, w, c, Int32(q), &message, message.count)
            }
        }
        guard status == 0, let raw else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw DataError(file: "image", problem: "cannot encode: \(text)")
        }
        defer { ci_free(raw) }
        return Array(UnsafeBufferPointer(start: raw, count: size))
    }
}
