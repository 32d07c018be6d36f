// Whether a benchmark's figures can be trusted: the machine's load before and after (/proc/loadavg),
// a short in-process FMA probe (all cores against one: another process on a core slows the team to
// its slowest thread), and the spread of the timed repeats.
import Foundation
import GoodInit

/// One look at the machine: the 1-minute load average and the FMA probe's scaling.
struct LoadSample {
    /// /proc/loadavg's first field (nil where there is none): reported, not judged, since it lags a
    /// minute behind (a build that just ended still counts).
    var loadAverage: Double?
    /// Runnable tasks besides this one, the median of a few looks at /proc/loadavg's fourth field.
    var othersRunnable: Int?
    /// GFLOP/s of the probe on all cores over (cores × GFLOP/s on one): near 1 on an idle machine.
    var scaling: Double?

    static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }

    static func take() -> LoadSample {
        func fields() -> [Substring] {
            (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ") ?? []
        }
        let load = fields().first.flatMap { Double($0) }
        var runnable: [Int] = []
        for _ in 0..<5 {
            let f = fields()
            if f.count > 3, let r = f[3].split(separator: "/").first.flatMap({ Int($0) }) { runnable.append(r - 1) }
            usleep(10_000)
        }
        let others = runnable.isEmpty ? nil : runnable.sorted()[runnable.count / 2]
        // a team of one thread cannot show contention, nor can a build without OpenMP
        guard cores > 1, OpenMP.isAvailable else {
            return LoadSample(loadAverage: load, othersRunnable: others, scaling: nil)
        }
        let one = MachinePeak.measure(threads: 1, runs: 3), all = MachinePeak.measure(threads: cores, runs: 3)
        return LoadSample(loadAverage: load, othersRunnable: others, scaling: all / (Double(cores) * one))
    }
}

/// What a benchmark run saw of the machine, and its verdict.
struct MachineLoad {
    /// Below this the all-core probe lost a quarter of its speed to something else.
    static let minScaling = 0.75
    /// Above this (slowest − fastest) / median the repeats disagree too much to quote one figure.
    static let maxSpread = 0.3

    var before: LoadSample
    var after: LoadSample? = nil
    /// The widest relative spread of any point's repeats.
    var spread = 0.0
    /// W × T larger than the cores: the threads share cores, by the user's choice.
    var oversubscribed: Int? = nil

    static func start() -> MachineLoad { MachineLoad(before: .take()) }

    mutating func finish() { after = .take() }

    mutating func note(slowest: Double, fastest: Double, median: Double) {
        guard median > 0 else { return }
        spread = max(spread, (slowest - fastest) / median)
    }

    /// The reasons the figures cannot be trusted (empty: they can).
    var reasons: [String] {
        var r: [String] = []
        let cores = LoadSample.cores
        for (when, s) in [("before", before), ("after", after)] {
            guard let s else { continue }
            if let x = s.scaling, x < Self.minScaling {
                r.append(String(format: "the FMA probe on %d cores ran at %.0f %% of %d × one core's %@", cores,
                                100 * x, cores, when))
            }
            // after the run, this process's own OpenMP threads may still be runnable: only before counts
            if when == "before", let n = s.othersRunnable, n > 0 {
                r.append("\(n) other task\(n == 1 ? "" : "s") runnable before (load average "
                         + (s.loadAverage.map { String(format: "%.2f", $0) } ?? "?") + ")")
            }
        }
        if spread > Self.maxSpread {
            r.append(String(format: "the repeats spread by %.0f %% of their median", 100 * spread))
        }
        return r
    }

    var contended: Bool { !reasons.isEmpty }

    /// One-line warnings (none when there is nothing to say), on standard error so JSON lines stay clean.
    func warn() {
        var lines: [String] = []
        if let n = oversubscribed {
            lines.append("warning: W × T = \(n) threads on \(LoadSample.cores) cores: they share cores, "
                         + "so speed-up and efficiency understate the kernels")
        }
        if contended {
            lines.append("warning: the machine was busy, these figures cannot be trusted: "
                         + reasons.joined(separator: "; "))
        }
        for l in lines { FileHandle.standardError.write(Data((l + "\n").utf8)) }
    }

    /// The closing JSON line of a benchmark run with --json.
    struct Line: Encodable {
        var type = "machine"
        var contended: Bool
        var reasons: [String]
        var loadBefore, loadAfter, probeScalingBefore, probeScalingAfter, repeatSpread: Double?
        var othersRunnableBefore: Int?
        var cores: Int
        var oversubscribed: Int?
    }

    var line: Line {
        Line(contended: contended, reasons: reasons, loadBefore: before.loadAverage.flatMap { rounded($0, 2) },
             loadAfter: after?.loadAverage.flatMap { rounded($0, 2) },
             probeScalingBefore: before.scaling.flatMap { rounded($0, 3) },
             probeScalingAfter: after?.scaling.flatMap { rounded($0, 3) }, repeatSpread: rounded(spread, 3),
             othersRunnableBefore: before.othersRunnable, cores: LoadSample.cores, oversubscribed: oversubscribed)
    }
}
