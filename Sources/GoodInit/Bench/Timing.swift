import Dispatch

/// Wall-clock seconds of repeated runs of one piece of work, after one warm-up run: the median
/// is the figure, the spread shows the interference.
public struct Timing: Sendable {
    public let median, min, max: Double

    public static func measure(repeats: Int, _ body: () -> Void) -> Timing {
        precondition(repeats > 0, "Timing.measure: repeats must be positive")
        body()
        var t: [Double] = []
        for _ in 0..<repeats {
            let s = DispatchTime.now().uptimeNanoseconds
            body()
            t.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e9)
        }
        t.sort()
        return Timing(median: t[t.count / 2], min: t.first!, max: t.last!)
    }
}
