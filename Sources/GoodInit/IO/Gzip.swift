import CSystemZlib // not CZlib: ZIPFoundation (.npz) has a module of that name

/// Whole-buffer gzip with zlib: data files are read into memory anyway, so no streaming API.
/// The only file that talks to zlib, and (outside Core) one of the homes of raw pointers: zlib's
/// z_stream takes its input and output buffers as pointers, set inside `withUnsafe…` closures.
public enum Gzip {
    /// Decompressed size beyond which data is refused: no data set here comes near it, and a
    /// hostile or corrupt file must not make us allocate without bound.
    public static let outputCap = 1 << 31

    /// The gzip magic, 1f 8b: files are told apart by content, never by name.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    /// Inflates gzip (or zlib) data, following concatenated gzip members as gunzip does.
    /// `file` only names the source in errors.
    public static func decompress(_ data: [UInt8], file: String = "gzip data",
                                  cap: Int = outputCap) throws -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 32: the largest window, and let zlib detect the gzip or zlib header.
        guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { throw DataError(file: file, problem: "zlib failed to start (out of memory?)") }
        defer { inflateEnd(&stream) }

        // Deflate expands at most 1032:1, so this guess is bounded by the bytes really present;
        // the trailer's size field (mod 2³²) only saves regrowing when it is honest.
        var guess = 1 << 16
        if data.count >= 18 {
            let n = data.count
            let isize = Int(data[n - 4]) | Int(data[n - 3]) << 8 | Int(data[n - 2]) << 16 | Int(data[n - 1]) << 24
            guess = max(guess, min(isize, data.count * 1032))
        }
        var out = [UInt8](repeating: 0, count: min(guess, cap + 1))
        var produced = 0
        var fed = 0   // input bytes handed to zlib so far

        try data.withUnsafeBufferPointer { input in
            while true {
                if stream.avail_in == 0 && fed < input.count {
                    let n = min(input.count - fed, Int(UInt32.max))
                    stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + fed)
                    stream.avail_in = UInt32(n)
                    fed += n
                }
                if produced == out.count {
                    // One byte past the cap is room enough to notice the output will not fit.
                    guard out.count <= cap else {
                        throw DataError(file: file, problem: "gzip data decompresses beyond the cap of \(cap) bytes")
                    }
                    out += repeatElement(0, count: min(out.count, cap + 1 - out.count))
                }
                let room = min(out.count - produced, Int(UInt32.max))
                let before = produced
                let rc = out.withUnsafeMutableBufferPointer { o -> Int32 in
                    stream.next_out = o.baseAddress! + before
                    stream.avail_out = UInt32(room)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                produced += room - Int(stream.avail_out)
                if produced > cap {
                    throw DataError(file: file, problem: "gzip data decompresses beyond the cap of \(cap) bytes")
                }
                switch rc {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    let next = fed - Int(stream.avail_in)
                    if next == input.count { return }
                    // Another gzip member follows (as `cat a.gz b.gz` makes); anything else is junk.
                    guard input.count - next >= 2, input[next] == 0x1f, input[next + 1] == 0x8b else {
                        throw DataError(file: file,
                                        problem: "corrupt gzip: \(input.count - next) trailing bytes after the stream")
                    }
                    inflateReset(&stream)
                case Z_BUF_ERROR where stream.avail_out == 0:
                    continue   // output full: grow and go on
                case Z_BUF_ERROR:
                    throw DataError(file: file, problem: "truncated gzip: data ends before the stream does")
                case Z_MEM_ERROR:
                    throw DataError(file: file, problem: "out of memory while decompressing")
                default:
                    throw DataError(file: file, problem: "corrupt gzip: \(zlibMessage(stream, rc))")
                }
            }
        }
        out.removeSubrange(produced...)
        return out
    }

    /// Gzip-compresses `data` in one call (windowBits 15 + 16 writes a gzip header and trailer).
    /// Used by tests to make .gz fixtures; inputs up to 4 GiB. `level` -1 is zlib's default (6).
    public static func compress(_ data: [UInt8], level: Int32 = -1) throws -> [UInt8] {
        guard data.count <= Int(UInt32.max) else {
            throw DataError(file: "gzip data", problem: "compress handles at most 4 GiB at once")
        }
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                            zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { throw DataError(file: "gzip data", problem: "zlib failed to start (bad level?)") }
        defer { deflateEnd(&stream) }
        // deflateBound is zlib's promise that one Z_FINISH call fits; the gzip wrapper adds 18.
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(data.count))) + 18)
        let room = out.count
        let rc = data.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { o -> Int32 in
                // An empty array may have no address; zlib accepts any pointer when avail_in is 0.
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = UInt32(input.count)
                stream.next_out = o.baseAddress
                stream.avail_out = UInt32(room)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard rc == Z_STREAM_END else {
            throw DataError(file: "gzip data", problem: "compression failed: \(zlibMessage(stream, rc))")
        }
        out.removeSubrange((room - Int(stream.avail_out))...)
        return out
    }

    private static func zlibMessage(_ stream: z_stream, _ rc: Int32) -> String {
        if let msg = stream.msg { return String(cString: msg) }
        return "zlib error \(rc)"
    }
}
