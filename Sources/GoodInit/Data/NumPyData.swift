// NumPy arrays as data sets: np.savez's x_train, y_train, x_test, y_test, or the same four as
// .npy files in one folder. Images are uint8 (scaled by 1/255) or float32/float64 (taken as they
// are), shaped N×H×W, N×H×W×C or N×C×H×W with C 1 or 3. A rank-4 array is NHWC when its last size
// is 1 or 3, else NCHW when its second is; --layout-hint decides instead. Labels are integers 0…K−1,
// rank 1, one per image; K is the largest label + 1 over both splits.
import Foundation

public enum NumPyData {
    static let members = ["x_train", "y_train", "x_test", "y_test"]


    /// An .npz file as a data set; members over `cap` bytes are refused (the fuzz target's is small).
    public static func loadNPZ(_ path: String, layout: ArrayLayout?, cap: UInt64 = 1 << 36) throws -> DataSplits {
        let arrays = try NumPy.readNPZ(path, members: members, cap: cap)
        return try splits(arrays, name: DataSource.npz(path).rawValue, file: { _ in path }, layout: layout)
    }

    static func loadNPY(folder: String, layout: ArrayLayout?) throws -> DataSplits {
        var arrays: [String: NumPyArray] = [:]
        for m in members {
            let file = joinPath(folder, m + ".npy")
            arrays[m] = try NumPy.decode(readFileBytes(file), file: file)
        }
        return try splits(arrays, name: DataSource.npy(folder).rawValue, file: { joinPath(folder, $0 + ".npy") },
                          layout: layout)
    }

    /// `file(member)` names where a member came from, for errors.
    static func splits(_ a: [String: NumPyArray], name: String, file: (String) -> String,
                       layout: ArrayLayout?) throws -> DataSplits {
        func member(_ m: String) throws -> NumPyArray {
            guard let v = a[m] else { throw DataError(file: file(m), problem: "missing \(m)") }
            return v
        }
        let yTrain = try labels(member("y_train"), file: file("y_train"), member: "y_train")
        let yTest = try labels(member("y_test"), file: file("y_test"), member: "y_test")
        let classes = Int((yTrain + yTest).max() ?? 0) + 1
        func set(_ x: String, _ y: [Int32]) throws -> Dataset {
            let (shape, images) = try self.images(member(x), file: file(x), member: x, layout: layout)
            guard shape.n == y.count else {
                throw DataError(file: file(x), problem: "member \(x): \(shape.n) images, but \(y.count) labels")
            }
            guard shape.n > 0 else { throw DataError(file: file(x), problem: "member \(x): no images") }
            return Dataset(name: name, channels: shape.c, height: shape.h, width: shape.w, classes: classes,
                           images: images, labels: y)
        }
        return DataSplits(train: try set("x_train", yTrain), test: try set("x_test", yTest))
    }

    static func labels(_ a: NumPyArray, file: String, member: String) throws -> [Int32] {
        guard a.dtype.isInteger else {
            throw DataError(file: file, problem: "member \(member): labels must be integers, not \(a.dtype)")
        }
        guard a.shape.count == 1 else {
            throw DataError(file: file, problem: "member \(member): labels must have one dimension, not \(a.shape)")
        }
        // a label beyond this would make a last layer too large to allocate
        let limit: Int64 = 1 << 20
        return try (0..<a.count).map { i in
            let v = a.integer(i)
            guard v >= 0 && v < limit else {
                throw DataError(file: file, problem: "member \(member): label \(v) at \(i) is not in 0..<\(limit)")
            }
            return Int32(v)
        }
    }

    /// The N, C, H, W of an image array and its values as NCHW floats.
    static func images(_ a: NumPyArray, file: String, member: String,
                       layout hint: ArrayLayout?) throws -> ((n: Int, c: Int, h: Int, w: Int), [Float]) {
        func bad(_ p: String) -> DataError { DataError(file: file, problem: "member \(member): \(p)") }
        guard a.dtype == .uint8 || !a.dtype.isInteger else {
            throw bad("images must be uint8, float32 or float64, not \(a.dtype)")
        }
        let s = a.shape
        let layout: ArrayLayout
        switch s.count {
        case 3: layout = .nchw
        case 4:
            if let hint {
                layout = hint
            } else if s[3] == 1 || s[3] == 3 {
                layout = .nhwc
            } else if s[1] == 1 || s[1] == 3 {
                layout = .nchw
            } else {
                throw bad("cannot tell the channels of \(s): neither the last nor the second size is 1 or 3")
            }
        default: throw bad("images must be N×H×W, N×H×W×C or N×C×H×W, not \(s)")
        }
        let n = s[0]
        let (c, h, w) = s.count == 3 ? (1, s[1], s[2]) : layout == .nhwc ? (s[3], s[1], s[2]) : (s[1], s[2], s[3])
        guard c == 1 || c == 3 else { throw bad("\(c) channels (\(layout) of \(s)); 1 or 3 are read") }
        guard h > 0 && w > 0 else { throw bad("empty images \(s)") }
        let plane = h * w, scale: Float = a.dtype == .uint8 ? 1.0 / 255 : 1
        var out = [Float](repeating: 0, count: a.count)
        for i in 0..<n {
            for ch in 0..<c {
                for p in 0..<plane {
                    let from = layout == .nhwc ? (i * plane + p) * c + ch : (i * c + ch) * plane + p
                    let v = a.float(from)
                    guard v.isFinite else { throw bad("image \(i) holds \(v)") }
                    out[(i * c + ch) * plane + p] = v * scale
                }
            }
        }
        return ((n, c, h, w), out)
    }
}
