// OpenMP's environment, checked before the runtime starts: libomp reads OMP_NUM_THREADS and the
// stack sizes at its first use, and an invalid value there aborts, hangs or is read at random (a
// plain C program against the same libomp does the same). GoodInit refuses such a value in one
// line instead of overriding it: a variable the user set is not silently ignored.
import Foundation

public enum OpenMPEnvironment {
    /// Largest thread count per level accepted in OMP_NUM_THREADS and OMP_THREAD_LIMIT.
    public static let maxThreads = 1 << 16
    /// Largest OMP_STACKSIZE/KMP_STACKSIZE: 1 GiB per thread, far above what any kernel needs;
    /// larger stacks (1T) make the runtime abort when it starts its threads.
    public static let maxStackBytes = 1 << 30

    /// The first problem with the OpenMP variables in `environment`, as one line; nil when all are valid.
    public static func problem(in environment: [String: String]) -> String? {
        if let v = environment["OMP_NUM_THREADS"] {
            // a list, one count per nesting level ("4" or "4,2")
            let items = v.split(separator: ",", omittingEmptySubsequences: false)
            if !items.allSatisfy({ count(String($0)) != nil }) {
                return "OMP_NUM_THREADS='\(v)' is not a thread count (or a comma-separated list of them) in "
                    + "1...\(maxThreads); unset it or set e.g. OMP_NUM_THREADS=2 (goodinit's --threads sets the team)"
            }
        }
        if let v = environment["OMP_THREAD_LIMIT"], count(v) == nil {
            return "OMP_THREAD_LIMIT='\(v)' is not a thread count in 1...\(maxThreads); unset it or set e.g. 8"
        }
        for name in ["OMP_STACKSIZE", "KMP_STACKSIZE"] {
            if let v = environment[name], stackBytes(v) == nil {
                return "\(name)='\(v)' is not a stack size in 1B...1G (a number with an optional B, K, M or G "
                    + "suffix, K when none); unset it or set e.g. \(name)=16M"
            }
        }
        return nil
    }

    /// A positive thread count, surrounding spaces allowed.
    static func count(_ text: String) -> Int? {
        guard let n = Int(text.trimmingCharacters(in: .whitespaces)), n >= 1, n <= maxThreads else { return nil }
        return n
    }

    /// Bytes of an OpenMP stack size ("512K", "16M", "2g", "4096B"; no suffix: kilobytes), nil when
    /// it is not one or is out of range.
    static func stackBytes(_ text: String) -> Int? {
        var t = text.trimmingCharacters(in: .whitespaces).uppercased()
        var unit = 1 << 10
        if let last = t.last, let shift = ["B": 0, "K": 10, "M": 20, "G": 30, "T": 40][String(last)] {
            unit = 1 << shift
            t.removeLast()
        }
        guard !t.isEmpty, t.allSatisfy(\.isASCII), let n = Int(t), n >= 1 else { return nil }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: unit)
        return overflow || bytes > maxStackBytes ? nil : bytes
    }
}
