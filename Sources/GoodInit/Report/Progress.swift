// A progress bar on a terminal (one line redrawn), plain lines otherwise.
import Foundation

final class Progress {
    let total: Int
    let tty: Bool
    let log: (String) -> Void
    var lastPlain = Date.distantPast
    /// `shown` false (the ranks other than 0): plain lines to `log` only, which drops them.
    init(total: Int, log: @escaping (String) -> Void, shown: Bool = true) {
        self.total = total; self.log = log; tty = shown && isatty(STDOUT_FILENO) != 0
    }

    func update(step: Int, loss: Double, accuracy: Double, imagesPerSecond: Double, elapsed: Double) {
        let eta = step > 0 ? elapsed / Double(step) * Double(total - step) : 0
        let text = String(format: "step %d/%d  loss %.4f  acc %.3f  %.0f img/s  ETA %@",
                          step, total, loss, accuracy, imagesPerSecond, Self.clock(eta))
        if tty {
            let width = 24, filled = total > 0 ? width * step / total : 0
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            StandardOutput.writeOrRecord("\r\u{1B}[K[\(bar)] \(text)")
        } else if Date().timeIntervalSince(lastPlain) >= 5 || step == total {
            lastPlain = Date()
            log(text)
        }
    }

    func finishLine() { if tty { StandardOutput.writeOrRecord("\n") } }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60)
                         : String(format: "%d:%02d", t / 60, t % 60)
    }
}
