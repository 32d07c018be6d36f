// The memory a process may use: the smallest of the machine's RAM, the cgroup's limit (v2
// memory.max, v1 memory.limit_in_bytes) and RLIMIT_AS/RLIMIT_DATA. Every command estimates what it
// will allocate and compares with this before allocating, so that a size too large is a one-line
// refusal with the figure and the limit, not a trap in the allocator or the OOM killer.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thrown when a command would need more memory than the process may use: what, how much, the limit.
public struct MemoryError: Error, CustomStringConvertible {
    public let what: String
    public let bytes: Double
    public let limit: MemoryLimit
    public var description: String {
        "\(what) needs about \(MemoryLimit.gigabytes(bytes)), more than the \(MemoryLimit.gigabytes(limit.bytes)) "
            + "this process may use (\(limit.source))"
    }
}

public struct MemoryLimit: Sendable {
    /// Bytes the process may use at most.
    public let bytes: Double
    /// Where the limit comes from: "physical memory", "cgroup memory.max", "RLIMIT_AS", …
    public let source: String

    /// The smallest of the limits that apply now (read each time: tests and callers may change rlimits).
    public static var current: MemoryLimit {
        var limits = [MemoryLimit(bytes: Double(ProcessInfo.processInfo.physicalMemory), source: "physical memory")]
        #if os(Linux)
        if let c = cgroupLimit() { limits.append(c) }
        #endif
        for (resource, name) in [(RLIMIT_AS, "RLIMIT_AS (ulimit -v)"), (RLIMIT_DATA, "RLIMIT_DATA (ulimit -d)")] {
            var r = rlimit()
            #if os(Linux)
            let ok = getrlimit(__rlimit_resource_t(resource.rawValue), &r) == 0
            #else
            let ok = getrlimit(resource, &r) == 0
            #endif
            // rlim_t.max is RLIM_INFINITY, which Swift cannot import
            if ok, r.rlim_cur != rlim_t.max { limits.append(MemoryLimit(bytes: Double(r.rlim_cur), source: name)) }
        }
        return limits.min { $0.bytes < $1.bytes }!
    }

    /// Refuses `bytes` (an estimate, computed in Double so that it cannot overflow) beyond the limit.
    public static func check(_ bytes: Double, for what: String) throws {
        let limit = current
        guard bytes <= limit.bytes else { throw MemoryError(what: what, bytes: bytes, limit: limit) }
    }

    /// The tightest cgroup limit on this process: its own cgroup's and every ancestor's.
    static func cgroupLimit() -> MemoryLimit? {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        var found: [MemoryLimit] = []
        for line in text.split(separator: "\n") {
            // v2: "0::/path"; v1: "N:memory:/path" (or with other controllers, comma-separated)
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let v2 = fields[0] == "0" && fields[1].isEmpty
            guard v2 || fields[1].split(separator: ",").contains("memory") else { continue }
            let root = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory"
            let file = v2 ? "memory.max" : "memory.limit_in_bytes"
            var path = String(fields[2])
            while true {
                if let value = try? String(contentsOfFile: root + path + (path.hasSuffix("/") ? "" : "/") + file,
                                           encoding: .utf8),
                   let n = Double(value.trimmingCharacters(in: .whitespacesAndNewlines)), n < 1e18 {
                    found.append(MemoryLimit(bytes: n, source: "cgroup \(file)"))
                }
                if path == "/" || path.isEmpty { break }
                path = (path as NSString).deletingLastPathComponent
            }
        }
        return found.min { $0.bytes < $1.bytes }
    }

    public static func gigabytes(_ bytes: Double) -> String {
        bytes >= 1e8 ? String(format: "%.1f GB", bytes / 1e9) : String(format: "%.1f MB", bytes / 1e6)
    }
}
