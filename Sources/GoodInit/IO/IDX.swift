import Foundation
/// LeCun's IDX format (MNIST, Fashion-MNIST): a magic 00 00 08 D (unsigned bytes, D dimensions),
/// D big-endian u32 sizes, then the bytes. Either file may be gzipped.
public enum IDX {
    /// Images file of shape (n, rows, cols) and labels file of shape (n), as one gray-scale Dataset.
    public static func load(images: String, labels: String, name: String, classes: Int = 10) throws -> Dataset {
        for file in [images, labels] { try checkMemory(file) }
        return try decode(images: readFileBytes(images), labels: readFileBytes(labels), imagesFile: images,
                   labelsFile: labels, name: name, classes: classes)
    }

    /// Refuses a file whose contents would not fit in memory, before reading it: plain IDX has no
    /// size cap (gzip's decompression has one). A file is held twice while read, then as 4-byte
    /// values: about 6 bytes per byte of the file.
    static func checkMemory(_ file: String) throws {
        var st = stat()
        guard stat(file, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return } // reading names the problem
        do { try MemoryLimit.check(Double(st.st_size) * 6, for: "reading its \(st.st_size) bytes") } catch {
            throw DataError(file: file, problem: "\(error)")
        }
    }

    /// `load` on bytes already in memory (plain or gzip); the file names only label errors.
    public static func decode(images imageFileBytes: [UInt8], labels labelFileBytes: [UInt8],
                              imagesFile images: String, labelsFile labels: String,
                              name: String, classes: Int = 10) throws -> Dataset {
        let (imageDims, imageBytes, imageStart) = try parse(imageFileBytes, file: images, dimensions: 3,
                                                            what: "images")
        let (labelDims, labelBytes, labelStart) = try parse(labelFileBytes, file: labels, dimensions: 1,
                                                            what: "labels")
        let n = imageDims[0], rows = imageDims[1], cols = imageDims[2]
        guard n == labelDims[0] else {
            throw DataError(file: images,
                            problem: "count mismatch: \(n) images but \(labelDims[0]) labels in \(labels)")
        }
        guard n > 0, rows > 0, cols > 0 else {
            throw DataError(file: images, problem: "empty: header gives shape \(n)×\(rows)×\(cols)")
        }
        guard (1...256).contains(classes) else {
            throw DataError(file: labels, problem: "\(classes) classes cannot be stored as byte labels")
        }
        var labelValues = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            let label = Int(labelBytes[labelStart + i])
            guard label < classes else {
                throw DataError(file: labels, problem: "label \(label) of sample \(i) out of range 0..<\(classes)")
            }
            labelValues[i] = Int32(label)
        }
        // decompressed gzip can be larger than the file that was checked before reading
        let floats = Double(imageBytes.count - imageStart) * 4
        do { try MemoryLimit.check(floats, for: "its \(n) images as floats") } catch {
            throw DataError(file: images, problem: "\(error)")
        }
        let scale = (0..<256).map { Float($0) / 255 }   // exact bytes/255, one division per value
        let pixels = imageBytes[imageStart...].map { scale[Int($0)] }
        return Dataset(name: name, channels: 1, height: rows, width: cols, classes: classes,
                       images: pixels, labels: labelValues)
    }

    /// The header's sizes, the (decompressed) bytes and where the data start, after checking
    /// that the file is exactly as long as the header says.
    static func read(_ file: String, dimensions: Int, what: String)
        throws -> (dims: [Int], bytes: [UInt8], start: Int)
    {
        try parse(readFileBytes(file), file: file, dimensions: dimensions, what: what)
    }

    /// `read` on a file's bytes already in memory.
    static func parse(_ fileBytes: [UInt8], file: String, dimensions: Int, what: String)
        throws -> (dims: [Int], bytes: [UInt8], start: Int)
    {
        func fail(_ problem: String) -> DataError { DataError(file: file, problem: problem) }
        var bytes = fileBytes
        if Gzip.isGzip(bytes) { bytes = try Gzip.decompress(bytes, file: file) }
        let expectedMagic = 0x0800 | UInt32(dimensions)
        let magicHex = "0x0000080\(dimensions)"
        guard bytes.count >= 4 else {
            throw fail("truncated: \(bytes.count) bytes, too short for an IDX magic")
        }
        let magic = bigEndian32(bytes, 0)
        guard magic >> 8 == 0x08 else {
            let hex = String(magic, radix: 16)
            let shown = "0x" + String(repeating: "0", count: 8 - hex.count) + hex
            throw fail("wrong magic \(shown), expected \(magicHex) (IDX \(what) of unsigned bytes)")
        }
        guard magic == expectedMagic else {
            throw fail("wrong number of dimensions \(magic & 0xff), expected \(dimensions) for IDX \(what)")
        }
        let start = 4 + 4 * dimensions
        guard bytes.count >= start else {
            throw fail("truncated: \(bytes.count) bytes, the header alone needs \(start)")
        }
        let dims = (0..<dimensions).map { Int(bigEndian32(bytes, 4 + 4 * $0)) }
        // Three u32 sizes can multiply past 64 bits; nil then, a claim no file can meet.
        let claimed = dims.reduce(Int?(1)) { product, d in
            product.flatMap { p in
                let (next, overflow) = p.multipliedReportingOverflow(by: d)
                return overflow ? nil : next
            }
        }
        let body = bytes.count - start
        guard let claimed, claimed <= body else {
            let implied = claimed.map(String.init) ?? "over 2^63"
            throw fail("truncated: \(body) data bytes, header \(dims) implies \(implied)")
        }
        guard claimed == body else {
            throw fail("oversized: \(body - claimed) extra bytes beyond the \(claimed) that header \(dims) implies")
        }
        return (dims, bytes, start)
    }

    private static func bigEndian32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }
}
