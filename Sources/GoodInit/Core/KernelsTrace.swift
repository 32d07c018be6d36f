// The kernels' region trace (CKernels trace.c) and machine probes, for `goodinit bench scaling`:
// the trace buffers live here, allocated before tracing starts and read after it stops.
import CKernels

/// One thread's part of a traced parallel region.
public struct TraceLane: Sendable, Equatable {
    /// CPU time the thread spent in its share (CLOCK_THREAD_CPUTIME_ID), in seconds.
    public let busy: Double
    /// Iterations (tasks) it ran.
    public let units: Int
}

/// One parallel region (or, at T = 1, the loop that runs in its place) as the kernels opened it.
public struct TraceRegion: Sendable {
    /// The C function that opened it, and the line: one function may open several.
    public let kernel: String
    public let line: Int
    /// Iterations the team shared, and the team's threads (in thread order).
    public let units: Int
    public let lanes: [TraceLane]
    /// CLOCK_MONOTONIC seconds at the fork, and the caller's wall time from fork to join.
    public let start: Double
    public let wall: Double

    public var threads: Int { lanes.count }
    /// Where it sits in the code: "ck_relu_forward:8".
    public var site: String { "\(kernel):\(line)" }
    /// The most units any thread ran.
    public var maxUnits: Int { lanes.map(\.units).max() ?? 0 }
    /// Summed CPU time of the team.
    public var busy: Double { lanes.reduce(0) { $0 + $1.busy } }
}

public enum KernelsTrace {
    /// The records of one traced call of `body` (in the order the regions were opened) and how
    /// many did not fit in `capacity` regions. Only the kernels called from this thread are traced.
    public static func record(capacity: Int = 1 << 16, _ body: () throws -> Void) rethrows
        -> (regions: [TraceRegion], dropped: Int) {
        let laneCapacity = capacity * 8
        let regions = UnsafeMutablePointer<ck_trace_region>.allocate(capacity: capacity)
        let lanes = UnsafeMutablePointer<ck_trace_lane>.allocate(capacity: laneCapacity)
        defer { regions.deallocate(); lanes.deallocate() }
        ck_trace_start(regions, capacity, lanes, laneCapacity)
        var laneCount = 0, dropped = 0, count = 0
        do { try body() } catch { count = ck_trace_stop(&laneCount, &dropped); throw error }
        count = ck_trace_stop(&laneCount, &dropped)
        var names: [UnsafePointer<CChar>: String] = [:] // one static string per kernel
        var out: [TraceRegion] = []
        out.reserveCapacity(count)
        for r in UnsafeBufferPointer(start: regions, count: count) where r.lane >= 0 {
            let name: String
            if let p = r.kernel {
                if let n = names[p] { name = n } else { name = String(cString: p); names[p] = name }
            } else {
                name = "?"
            }
            let team = (0..<Int(r.threads)).map { lanes[Int(r.lane) + $0] }
            out.append(TraceRegion(kernel: name, line: Int(r.line), units: Int(r.units),
                                   lanes: team.map { TraceLane(busy: Double($0.busy_ns) * 1e-9, units: Int($0.units)) },
                                   start: Double(r.start_ns) * 1e-9, wall: Double(r.wall_ns) * 1e-9))
        }
        return (out, dropped)
    }

    /// Regions traced so far: a mark between two calls inside `record`'s body.
    public static var count: Int { ck_trace_count() }

    /// The trace's clock (CLOCK_MONOTONIC), in seconds.
    public static var now: Double { Double(ck_trace_clock_ns()) * 1e-9 }

    /// Bytes per second of a STREAM-like triad over three arrays of `floats` floats on `threads`
    /// threads, best of `repeats`: three 256 MB arrays by default, past the largest L3 caches (320 MB on
    /// some Xeons), so DRAM is what is measured.
    public static func triadBandwidth(threads: Int, floats: Int = 1 << 26, repeats: Int = 5) -> Double {
        var a = [Float](repeating: 0, count: floats)
        let b = [Float](repeating: 1, count: floats), c = [Float](repeating: 2, count: floats)
        return a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeBufferPointer { pc in
                    ck_probe_triad(pa.baseAddress, pb.baseAddress, pc.baseAddress, floats, Int32(clamping: threads),
                                   Int32(clamping: repeats))
                }
            }
        }
    }

    /// Seconds per empty parallel region (fork and join) of `threads` threads.
    public static func forkJoin(threads: Int, repeats: Int = 2000) -> Double {
        ck_probe_fork_join(Int32(clamping: threads), Int32(clamping: repeats))
    }
}
