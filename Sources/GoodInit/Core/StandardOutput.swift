// Checked writes: standard output and the files a run appends to. A write that fails (a full disk,
// /dev/full, a closed pipe with SIGPIPE ignored) is an error with errno's reason, never a trap
// (FileHandle.write(_:) traps) and never silent (print's buffer fails at exit, unseen).
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A write that failed: what was written to, and errno's reason. EPIPE means the reader is gone.
public struct WriteError: Error, CustomStringConvertible, Sendable {
    public let target: String
    public let code: Int32
    public init(target: String, code: Int32) { self.target = target; self.code = code }
    public var readerGone: Bool { code == EPIPE }
    /// errno's text, or what EPIPE means here.
    public var reason: String { readerGone ? "the reader is gone (broken pipe)" : String(cString: strerror(code)) }
    public var description: String { readerGone ? "\(target): \(reason)" : "\(target): cannot write (\(reason))" }
}

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR; errno on failure, nil when written.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        done += n
    }
    return nil
}

public enum StandardOutput {
    private static let firstFailure = Mutex<WriteError?>(nil)
    private static let failureHook = Mutex<(@Sendable (WriteError) -> Void)?>(nil)

    /// The first write to standard output that failed, if any: a command that logged through
    /// `writeOrRecord` ends with it.
    public static var failure: WriteError? { firstFailure.withLock { $0 } }

    /// Called once, at the first failed write (the CLI asks the stop token: the run saves and stops).
    public static func onFailure(_ hook: @escaping @Sendable (WriteError) -> Void) {
        failureHook.withLock { $0 = hook }
    }

    /// Writes `text` to file descriptor 1 at once (no buffer), all of it.
    public static func write(_ text: String) throws(WriteError) {
        var bytes = Array(text.utf8)
        if let code = bytes.withUnsafeMutableBytes({ writeAll(STDOUT_FILENO, UnsafeRawBufferPointer($0)) }) {
            throw WriteError(target: "standard output", code: code)
        }
    }

    /// `write` for progress and log lines, which cannot throw: the first failure is kept in
    /// `failure` and handed to the hook; later writes after a failure are dropped.
    public static func writeOrRecord(_ text: String) {
        guard failure == nil else { return }
        do { try write(text) } catch {
            let first = firstFailure.withLock { f -> Bool in
                guard f == nil else { return false }
                f = error
                return true
            }
            if first, let hook = failureHook.withLock({ $0 }) { hook(error) }
        }
    }

    /// Flushes `print`'s buffer (every C output stream: Swift 6 cannot name `stdout` itself): a
    /// pipe that closed or a disk that filled while it buffered fails this flush too.
    public static func flushPrinted() throws(WriteError) {
        guard fflush(nil) == 0 else { throw WriteError(target: "standard output", code: errno) }
    }
}

/// A run stopped because its output could not be written (standard output, metrics.jsonl): it saved
/// where it stopped, as on a stop signal, and ends with this error.
public struct StoppedByWriteFailure: Error, CustomStringConvertible {
    public let cause: Error
    public let step: Int
    /// The checkpoint saved at the stop (nil on ranks that do not save).
    public let checkpoint: String?
    /// Why the checkpoint could not be saved at the stop, when it could not.
    public let notSaved: Error?
    public init(cause: Error, step: Int, checkpoint: String?, notSaved: Error? = nil) {
        self.cause = cause; self.step = step; self.checkpoint = checkpoint; self.notSaved = notSaved
    }
    public var description: String {
        "\(cause); the run stopped at step \(step)"
            + (checkpoint.map { ", checkpoint saved: \($0) (resume with --resume \($0))" } ?? "")
            + (notSaved.map { ", and its checkpoint could not be saved (\($0))" } ?? "")
    }
}
