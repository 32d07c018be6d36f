// Process-level figures for reports: peak resident memory.
import Foundation

public enum ProcessStats {
    /// Peak resident set size of this process (VmHWM), in MB; 0 where /proc is missing.
    public static func peakRSSMegabytes() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }
}
