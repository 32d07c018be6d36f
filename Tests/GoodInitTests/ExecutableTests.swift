// Tests that run the built `goodinit` executable: a bad flag is one line and exit code 64,
// SIGKILL during checkpoint writes never leaves a checkpoint that does not load nor piles up temp
// files, and a doubled SIGINT lets the checkpoint being written finish.
import Foundation
@testable import GoodInit
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The `goodinit` binary beside this test binary in the build products folder (`swift build`
/// builds it; `swift test` alone may not), or nil.
enum GoodInitBinary {
    static let url: URL? = {
        let folders = [Bundle.main.executableURL?.deletingLastPathComponent(),
                       Bundle.main.bundleURL.deletingLastPathComponent(),
                       URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        for folder in folders.compactMap({ $0 }) {
            let candidate = folder.appendingPathComponent("goodinit")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }()
    static var found: Bool { url != nil }

    /// Runs the binary to completion; stdout is dropped (progress lines), stderr returned.
    static func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let p = Process(), err = Pipe()
        p.executableURL = url
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    /// Runs the binary to completion and returns both outputs (through files: a pipe left unread
    /// while the other is drained could fill and stall the child). `environment` adds to this process's;
    /// `directory` is the working directory (default this process's).
    static func capture(_ arguments: [String], environment: [String: String] = [:],
                        in directory: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let folder = scratchFolder("capture"), outPath = folder + "/stdout", errPath = folder + "/stderr"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for path in [outPath, errPath] { FileManager.default.createFile(atPath: path, contents: nil) }
        let p = Process()
        p.executableURL = url
        p.arguments = arguments
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        p.standardOutput = FileHandle(forWritingAtPath: outPath)
        p.standardError = FileHandle(forWritingAtPath: errPath)
        try p.run()
        p.waitUntilExit()
        return (p.terminationStatus, try String(contentsOfFile: outPath, encoding: .utf8),
                try String(contentsOfFile: errPath, encoding: .utf8))
    }

    /// Starts a training run in the background.
    static func start(_ arguments: [String]) throws -> Process {
        let p = Process()
        p.executableURL = url
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }
}

/// Polls `condition` every millisecond until it holds or `limit` seconds pass (a guard against
/// hanging, not a measurement); returns whether it held.
func waitFor(_ limit: Double = 120, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(limit)
    while Date() < end {
        if condition() { return true }
        usleep(1000)
    }
    return condition()
}

@Suite("The goodinit executable: bad flags", .enabled(if: GoodInitBinary.found, "goodinit not built: run swift build"))
struct ExecutableFlagTests {
    @Test("a value out of range is one line naming the flag, exit code 64, and nothing written", arguments: [
        (["--train-limit", "-5"], "--train-limit"), (["--test-limit", "0"], "--test-limit"),
        (["--lsuv-batch", "0"], "--lsuv-batch"), (["--lr", "-0.1"], "--lr"), (["--lsuv-tol", "nan"], "--lsuv-tol"),
        (["--schedule", "cosine:junk"], "--schedule"), (["--schedule", "step:1:nan"], "--schedule"),
        (["--threads", "100000"], "--threads"), (["--workers", "0"], "--workers"), (["--steps", "-1"], "--steps"),
        (["--init", "lsuv:3"], "--init"), (["--augment=maybe"], "--augment"), (["--momentum", "1"], "--momentum"),
    ])
    func train(_ flag: [String], _ name: String) throws {
        let out = scratchFolder("flag") + "/run"
        let (status, stderr) = try GoodInitBinary.run(["train", "--data", "synthetic", "--out", out] + flag)
        #expect(status == 64, "\(stderr)")
        #expect(isOneErrorLine(stderr, naming: name), "\(stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// Exactly one line, "Error: …" naming `name`.
    func isOneErrorLine(_ stderr: String, naming name: String) -> Bool {
        stderr.hasPrefix("Error: ") && stderr.hasSuffix("\n") && stderr.dropLast().split(separator: "\n").count == 1
            && stderr.contains(name)
    }

    @Test("every command: a usage error is one line naming the flag on stderr, nothing on stdout, exit code 64",
          arguments: [
        (["init-stats", "--batch-size", "0"], "--batch-size"),
        (["init-stats", "--model", "plain31"], "--model"), (["experiment", "zero-init", "--steps", "0"], "--steps"),
        (["experiment", "zero-init-typo"], "zero-init-typo"), (["eval"], "--checkpoint"),
        (["eval", "--checkpoint", "x", "--workers", "0"], "--workers"), (["models", "--show", "nope"], "nope"),
        (["train", "--bogus"], "--bogus"), (["train", "--data", "imagenet"], "--data"),
        (["bench", "gemm", "--repeats", "0"], "--repeats"), (["frobnicate"], "frobnicate"),
    ])
    func otherCommands(_ arguments: [String], _ name: String) throws {
        let (status, stdout, stderr) = try GoodInitBinary.capture(arguments)
        #expect(status == 64, "\(arguments): exit \(status)")
        #expect(isOneErrorLine(stderr, naming: name), "\(arguments): \(stderr)")
        #expect(stdout.isEmpty, "\(arguments): \(stdout)")
    }

    @Test("refusals that need the data or a file read first: one line naming the flag or file, exit code 1",
          arguments: [
        (["init-stats", "--data", "synthetic", "--batch-size", "5000"], "--batch-size 5000"),
        (["train", "--data", "synthetic", "--batch-size", "5000", "--out", scratchFolder("bs") + "/run"],
         "--batch-size 5000"),
        (["eval", "--checkpoint", "/nonexistent/checkpoint.safetensors"], "/nonexistent/checkpoint.safetensors"),
    ])
    func refusedAfterReading(_ arguments: [String], _ name: String) throws {
        let (status, stdout, stderr) = try GoodInitBinary.capture(arguments)
        #expect(status == 1, "\(arguments): exit \(status)")
        #expect(isOneErrorLine(stderr, naming: name), "\(arguments): \(stderr)")
        #expect(!stdout.contains("Error"), "\(arguments): \(stdout)")
    }

    @Test("--help still prints the help on stdout and exits 0, with every setting's default")
    func help() throws {
        let (status, stdout, stderr) = try GoodInitBinary.capture(["train", "--help"])
        #expect(status == 0 && stderr.isEmpty, "\(stderr)")
        #expect(stdout.contains("USAGE: goodinit train") && stdout.contains("--threads"), "\(stdout)")
        let flat = stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for shown in ["Preset (see `goodinit models`). (default: cnn-small)", "(default: lsuv)", "(default: 0.05)",
                      "Epochs. (default: 2)", "Minibatch size. (default: 128)", "(default: 0.9)", "(default: 0.0005)",
                      "W chunks to share). (default: 128)"] {
            #expect(flat.contains(shown), "help lacks \(shown)")
        }
    }

    @Test("contradictory flags: exit 64 and one line naming both", arguments: [
        (["train", "--model", "plain30", "--model-file", "m.yaml"], ["--model", "--model-file"]),
        (["train", "--activation", "tanh"], ["--activation", "--model cnn-small"]),
        (["train", "--model", "vggish", "--activation", "tanh"], ["--activation", "--model vggish"]),
        (["train", "--model-file", "m.yaml", "--activation", "tanh"], ["--activation", "--model-file"]),
    ])
    func contradictions(_ arguments: [String], _ names: [String]) throws {
        let (status, stdout, stderr) = try GoodInitBinary.capture(arguments)
        #expect(status == 64, "\(arguments): exit \(status)")
        #expect(names.allSatisfy { isOneErrorLine(stderr, naming: $0) }, "\(arguments): \(stderr)")
        #expect(stdout.isEmpty, "\(arguments): \(stdout)")
    }

    @Test("a bad --out is one line before data loads, exit code 1")
    func out() throws {
        let file = scratchFolder("outfile") + "/file"
        FileManager.default.createFile(atPath: file, contents: Data())
        for out in [file, file + "/sub", "/proc/goodinit-x"] {
            let (status, stderr) = try GoodInitBinary.run(["train", "--data", "synthetic", "--out", out])
            #expect(status == 1 && stderr.hasPrefix("Error: --out \(out): "), "\(stderr)")
            #expect(stderr.split(separator: "\n").count == 1, "\(stderr)")
        }
    }
}

@Suite("The goodinit executable: killed and interrupted", .serialized,
       .enabled(if: GoodInitBinary.found, "goodinit not built: run swift build"))
struct CrashSafetyTests {
    /// A 0.8 M-parameter MLP: each checkpoint is ~6 MB, so its write is long enough to be caught.
    static let model = """
    name: wide
    input: [1, 28, 28]
    layers:
      - flatten
      - linear: {out: 1024}
      - relu
      - linear: {out: 10}
    """

    /// Two steps per epoch and an epoch checkpoint every two steps, for as long as it is let run.
    func arguments(_ out: String, resume: Bool) -> [String] {
        let model = out + "/wide.yaml"
        if !FileManager.default.fileExists(atPath: model) {
            try? Self.model.write(toFile: model, atomically: true, encoding: .utf8)
        }
        return ["train", "--data", "synthetic", "--model-file", model, "--init", "he-normal", "--train-limit", "64",
                "--test-limit", "32", "--batch-size", "32", "--epochs", "1000000", "--threads", "1", "--out", out]
            + (resume ? ["--resume", out + "/checkpoint.safetensors"] : [])
    }

    func temporaries(_ out: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { $0.contains(".tmp-") }
    }

    /// Loads the checkpoint fully (metadata record, every tensor and the optimizer state).
    func load(_ path: String) throws -> CheckpointMetadata {
        let m = try ModelFile.parse(Self.model, file: "wide.yaml")
        let net = try Network(name: m.name, input: m.input, layers: m.layers)
        let optimizer = Optimizer(.sgd, store: net.params, momentum: 0.9, weightDecay: 0)
        return try Checkpoint.load(path, into: net, optimizer: optimizer)
    }

    @Test("SIGKILL during checkpoint writes: the checkpoint present always loads, temp files never pile up")
    func killDuringWrites() throws {
        let out = scratchFolder("kill9")
        let checkpoint = out + "/checkpoint.safetensors"
        var lastStep = -1
        for trial in 0..<12 {
            let p = try GoodInitBinary.start(arguments(out, resume: FileManager.default.fileExists(atPath: checkpoint)))
            // Kill while a checkpoint is being written: the moment this run's temp file appears (odd
            // trials wait for its second write, so some kills land later in a run).
            let mine = out + "/checkpoint.safetensors.tmp-\(p.processIdentifier)"
            var writesSeen = 0, writing = false
            let caught = waitFor {
                let now = FileManager.default.fileExists(atPath: mine)
                if now && !writing { writesSeen += 1 }
                writing = now
                return !p.isRunning || writesSeen > trial % 2
            }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            #expect(caught && p.terminationReason == .uncaughtSignal, "trial \(trial): the run ended by itself")
            if FileManager.default.fileExists(atPath: checkpoint) {
                let meta = try load(checkpoint)
                #expect(meta.position.step >= lastStep, "trial \(trial): the checkpoint went back in time")
                lastStep = meta.position.step
            } else {
                #expect(lastStep == -1, "trial \(trial): the checkpoint disappeared")
            }
            // the run just killed may leave its own temp file; every earlier one was removed at start
            #expect(temporaries(out).count <= 1, "trial \(trial): \(temporaries(out))")
        }
        #expect(lastStep > 0, "no checkpoint survived twelve runs")
        // a run that finishes at once (already past --steps 1) still clears what the last kill left
        let (status, stderr) = try GoodInitBinary.run(arguments(out, resume: true) + ["--steps", "1"])
        #expect(status == 0, "\(stderr)")
        #expect(temporaries(out).isEmpty, "\(temporaries(out))")
        _ = try load(checkpoint)
    }

    /// Sends SIGINT twice back to back (as `timeout -s INT` does: to the process, then to its group).
    func doubleInterrupt(waitingForWrite: Bool) throws {
        let out = scratchFolder("sigint")
        let p = try GoodInitBinary.start(arguments(out, resume: false))
        let ready = waitFor {
            !p.isRunning || (waitingForWrite ? !temporaries(out).isEmpty
                                              : FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors"))
        }
        kill(p.processIdentifier, SIGINT)
        kill(p.processIdentifier, SIGINT)
        let ended = waitFor { !p.isRunning }
        if !ended { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        #expect(ready && ended)
        #expect(p.terminationReason == .exit && p.terminationStatus == 0, "exit \(p.terminationStatus)")
        let written = try Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))
        let summary = try JSONSerialization.jsonObject(with: written)
        #expect((summary as? [String: Any])?["stoppedBySignal"] as? Bool == true)
        let meta = try load(out + "/checkpoint.safetensors")
        #expect(meta.position.step == (summary as? [String: Any])?["steps"] as? Int)
        #expect(temporaries(out).isEmpty, "\(temporaries(out))")
    }

    @Test("two SIGINTs at once between writes: one request; the run saves and exits 0")
    func doubleSigint() throws { try doubleInterrupt(waitingForWrite: false) }

    @Test("two SIGINTs while a checkpoint is being written: the write finishes, the run saves and exits 0")
    func doubleSigintDuringWrite() throws { try doubleInterrupt(waitingForWrite: true) }
}
