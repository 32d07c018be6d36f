/// The CIFAR "binary version" files: fixed-size records of label byte(s) then a 3×32×32 image,
/// red plane, green plane, blue plane, each row-major — already CHW, so no reshuffling.
public enum CIFAR {
    static let imageBytes = 3 * 32 * 32

    /// data_batch_1…5.bin and test_batch.bin, in `dir` or `dir/cifar-10-batches-bin`.
    public static func load10(dir: String) throws -> DataSplits {
        let folder = try locate(dir, sub: "cifar-10-batches-bin", marker: "data_batch_1.bin")
        func batch(_ name: String) throws -> Dataset {
            try readRecords(file: joinPath(folder, name), labelBytes: 1, labelIndex: 0, classes: 10)
        }
        var train = try batch("data_batch_1.bin")
        for b in 2...5 { train.append(try batch("data_batch_\(b).bin")) }
        var test = try batch("test_batch.bin")
        train.name = "cifar10"
        test.name = "cifar10"
        return DataSplits(train: train, test: test)
    }

    /// train.bin and test.bin, in `dir` or `dir/cifar-100-binary`; records carry (coarse, fine)
    /// labels and we use the fine one, 100 classes.
    public static func load100(dir: String) throws -> DataSplits {
        let folder = try locate(dir, sub: "cifar-100-binary", marker: "train.bin")
        func split(_ name: String) throws -> Dataset {
            try readRecords(file: joinPath(folder, name), labelBytes: 2, labelIndex: 1, classes: 100)
        }
        var train = try split("train.bin")
        var test = try split("test.bin")
        train.name = "cifar100"
        test.name = "cifar100"
        return DataSplits(train: train, test: test)
    }

    /// One file of records of `labelBytes` label bytes then 3072 pixel bytes; the label is byte
    /// `labelIndex` of the record.
    public static func readRecords(file: String, labelBytes: Int, labelIndex: Int, classes: Int) throws -> Dataset {
        try checkLayout(file: file, labelBytes: labelBytes, labelIndex: labelIndex, classes: classes)
        return try decodeRecords(readFileBytes(file), file: file, labelBytes: labelBytes, labelIndex: labelIndex,
                                 classes: classes)
    }

    /// `readRecords` on a file's bytes already in memory; `file` only names it in errors.
    public static func decodeRecords(_ bytes: [UInt8], file: String, labelBytes: Int, labelIndex: Int,
                                     classes: Int) throws -> Dataset {
        func fail(_ problem: String) -> DataError { DataError(file: file, problem: problem) }
        try checkLayout(file: file, labelBytes: labelBytes, labelIndex: labelIndex, classes: classes)
        let record = labelBytes + imageBytes
        guard !bytes.isEmpty else { throw fail("empty file") }
        guard bytes.count % record == 0 else {
            throw fail("size \(bytes.count) is not a multiple of the \(record)-byte record: truncated or not CIFAR")
        }
        let n = bytes.count / record
        let scale = (0..<256).map { Float($0) / 255 }
        var labels = [Int32](repeating: 0, count: n)
        var images = [Float](repeating: 0, count: n * imageBytes)
        for r in 0..<n {
            let at = r * record
            let label = Int(bytes[at + labelIndex])
            guard label < classes else {
                throw fail("label \(label) of record \(r) out of range 0..<\(classes)")
            }
            labels[r] = Int32(label)
            for p in 0..<imageBytes { images[r * imageBytes + p] = scale[Int(bytes[at + labelBytes + p])] }
        }
        return Dataset(name: "cifar", channels: 3, height: 32, width: 32, classes: classes,
                       images: images, labels: labels)
    }

    /// A layout error is the caller's, so it is reported before the file is even read.
    private static func checkLayout(file: String, labelBytes: Int, labelIndex: Int, classes: Int) throws {
        guard labelBytes >= 1, (0..<labelBytes).contains(labelIndex), (1...256).contains(classes) else {
            throw DataError(file: file,
                            problem: "bad record layout: label byte \(labelIndex) of \(labelBytes), \(classes) classes")
        }
    }

    /// `dir` itself when it holds `marker`, else `dir/sub` (how the archives unpack).
    static func locate(_ dir: String, sub: String, marker: String) throws -> String {
        if isFile(joinPath(dir, marker)) { return dir }
        let nested = joinPath(dir, sub)
        if isFile(joinPath(nested, marker)) { return nested }
        throw DataError(file: dir, problem: "file missing: no \(marker) in \(dir) or \(nested)")
    }
}
