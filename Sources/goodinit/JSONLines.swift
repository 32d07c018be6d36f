// `--json`: one JSON object per line, encoded from a struct (never spliced by hand), figures rounded
// to the digits a timing can carry.
import Foundation
import GoodInit

/// Prints `value` as one line of JSON.
func printJSONLine(_ value: some Encodable) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]; enc.keyEncodingStrategy = .convertToSnakeCase
    print(String(decoding: try enc.encode(value), as: UTF8.self))
}

/// `v` to `digits` decimals (a JSON line's figures, as the tables print them); non-finite as nil.
func rounded(_ v: Double, _ digits: Int) -> Double? {
    guard v.isFinite else { return nil }
    let scale = pow(10, Double(digits))
    return (v * scale).rounded() / scale
}

/// `v` to `digits` significant digits (seconds); non-finite as nil.
func significant(_ v: Double, _ digits: Int = 6) -> Double? {
    guard v.isFinite else { return nil }
    return Double(String(format: "%.\(digits)g", v))
}

/// The measured FMA peak and the share of it reached, as every benchmark's line carries them.
func peakFields(_ share: (peak: Double, fraction: Double)) -> (gflops: Double?, fraction: Double?) {
    (rounded(share.peak, 2), rounded(share.fraction, 4))
}
