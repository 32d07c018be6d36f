// Issue 31's classes as one small case each: output that cannot be written (a closed pipe,
// /dev/full, a full disk), memory limits, OpenMP's environment, seeds at the top of their range,
// a run's folder (an existing run, two runs at once, a finished run resumed), results.json as input,
// learning rates Float32 cannot hold, empty benchmark lists.
import Foundation
@testable import GoodInit
import Testing

/// Runs `script` in bash with the binary as $0 and returns its status and stderr (stdout dropped
/// unless the script redirects it): pipes, ulimits and redirections as a user's shell has them.
func shell(_ script: String, environment: [String: String]? = nil) throws -> (status: Int32, stderr: String) {
    let p = Process(), err = Pipe()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = ["-c", "set -o pipefail; " + script, GoodInitBinary.url?.path ?? "goodinit"]
    if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    p.standardOutput = FileHandle.nullDevice
    p.standardError = err
    try p.run()
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return (p.terminationStatus, text)
}

/// A short run on synthetic data (no LSUV: fast in a debug build).
func quickRun(_ out: String, steps: Int = 2, _ extra: [String] = []) -> [String] {
    ["train", "--data", "synthetic", "--init", "he-normal", "--train-limit", "64", "--test-limit", "32",
     "--batch-size", "32", "--steps", "\(steps)", "--threads", "1", "--out", out] + extra
}

func quoted(_ args: [String]) -> String { args.map { "'\($0)'" }.joined(separator: " ") }

@Suite("Output that cannot be written", .enabled(if: GoodInitBinary.found))
struct UnwritableOutputTests {
    @Test("a closed pipe (train … | head -1): the run saves, exits 1 and says the reader is gone")
    func closedPipe() throws {
        let out = scratchFolder("pipe") + "/run"
        let (status, stderr) = try shell("\"$0\" " + quoted(quickRun(out, steps: 100_000, ["--log-every", "1"]))
                                         + " | head -1")
        #expect(status == 1, "\(stderr)")
        #expect(stderr.contains("the reader is gone") && stderr.contains("checkpoint saved"), "\(stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors"))
    }

    @Test("standard output /dev/full: train saves and exits 1, eval and models exit 1 with the reason")
    func devFull() throws {
        let out = scratchFolder("full") + "/run"
        let (status, stderr) = try shell("\"$0\" " + quoted(quickRun(out)) + " >/dev/full")
        #expect(status == 1 && stderr.contains("No space left"), "\(stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors"))
        for command in ["eval --checkpoint '\(out)/checkpoint.safetensors' --threads 1", "models"] {
            let (status, stderr) = try shell("\"$0\" \(command) >/dev/full")
            #expect(status == 1 && stderr.hasPrefix("Error: standard output"), "\(command): \(stderr)")
        }
    }

    /// Whether this process may mount a tmpfs (root, and a kernel and container that allow it).
    static let canMountTmpfs: Bool = {
        guard getuid() == 0 else { return false }
        let probe = scratchFolder("tmpfs-probe")
        guard (try? shell("mount -t tmpfs -o size=16k tmpfs '\(probe)'"))?.0 == 0 else { return false }
        _ = try? shell("umount '\(probe)'")
        return true
    }()

    @Test("a full disk (a 96 KB tmpfs): the run ends with exit 1 and one error line, never a trap",
          .enabled(if: UnwritableOutputTests.canMountTmpfs, "needs root and a tmpfs mount"))
    func fullDisk() throws {
        let mountPoint = scratchFolder("tmpfs")
        let (mounted, why) = try shell("mount -t tmpfs -o size=96k tmpfs '\(mountPoint)'")
        try #require(mounted == 0, "cannot mount a tmpfs: \(why)")
        defer { _ = try? shell("umount '\(mountPoint)'") }
        let (status, stderr) = try shell("\"$0\" " + quoted(quickRun(mountPoint + "/run", steps: 100_000,
                                                                      ["--log-every", "1"])))
        #expect(status == 1, "\(stderr)")
        #expect(stderr.hasPrefix("Error: ") && stderr.split(separator: "\n").count == 1, "\(stderr)")
    }

    @Test("SIGHUP stops a run as SIGTERM does: it saves and exits 0")
    func hangUp() throws {
        let out = scratchFolder("hup") + "/run"
        let p = try GoodInitBinary.start(quickRun(out, steps: 1_000_000))
        let started = waitFor { !p.isRunning || FileManager.default.fileExists(atPath: out + "/metrics.jsonl") }
        kill(p.processIdentifier, SIGHUP)
        let ended = waitFor { !p.isRunning }
        if !ended { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        #expect(started && ended)
        #expect(p.terminationReason == .exit && p.terminationStatus == 0, "exit \(p.terminationStatus)")
        let written = try Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))
        let summary = try JSONSerialization.jsonObject(with: written)
        #expect((summary as? [String: Any])?["stoppedBySignal"] as? Bool == true)
    }
}

@Suite("A run's folder", .enabled(if: GoodInitBinary.found))
struct RunFolderTests {
    @Test("a new run into an existing run's --out is refused, pointing to --resume; --overwrite replaces it")
    func existingRun() throws {
        let out = scratchFolder("again") + "/run"
        #expect(try GoodInitBinary.run(quickRun(out)).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: out + "/checkpoint.safetensors"))
        let (status, stderr) = try GoodInitBinary.run(quickRun(out, steps: 1))
        #expect(status == 1 && stderr.contains("--out") && stderr.contains("--resume"), "\(stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/checkpoint.safetensors")) == before)
        let (replaced, why) = try GoodInitBinary.run(quickRun(out, steps: 1, ["--overwrite"]))
        #expect(replaced == 0, "\(why)")
    }

    @Test("two runs into one folder at once: the second is refused while the first holds the folder")
    func twoAtOnce() throws {
        let out = scratchFolder("twice") + "/run"
        let first = try GoodInitBinary.start(quickRun(out, steps: 1_000_000))
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) }; first.waitUntilExit() }
        let holding = waitFor { !first.isRunning || FileManager.default.fileExists(atPath: out + "/metrics.jsonl") }
        #expect(holding && first.isRunning)
        let (status, stderr) = try GoodInitBinary.run(quickRun(out, steps: 1, ["--overwrite"]))
        #expect(status == 1 && stderr.contains("in use by another goodinit run"), "\(stderr)")
        kill(first.processIdentifier, SIGINT)
    }

    @Test("resuming a finished run without training a step keeps its summary's test figures")
    func resumeKeepsTestFigures() throws {
        let out = scratchFolder("keep") + "/run"
        #expect(try GoodInitBinary.run(quickRun(out)).status == 0)
        func testAccuracy() throws -> Double? {
            let written = try Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))
            let s = try JSONSerialization.jsonObject(with: written)
            return (s as? [String: Any])?["testAccuracy"] as? Double
        }
        let finished = try testAccuracy()
        #expect(finished != nil)
        let resume = ["--resume", out + "/checkpoint.safetensors"]
        let (status, stderr) = try GoodInitBinary.run(quickRun(out, steps: 1, resume))
        #expect(status == 0, "\(stderr)")
        #expect(try testAccuracy() == finished)
    }
}

@Suite("Limits on what the machine and the types can hold", .enabled(if: GoodInitBinary.found))
struct MachineLimitTests {
    @Test("OpenMP variables libomp cannot read are refused before the runtime starts (exit 64)", arguments: [
        ["OMP_NUM_THREADS": "abc"], ["OMP_NUM_THREADS": "-1"], ["OMP_NUM_THREADS": "2,,1"], ["OMP_STACKSIZE": "1T"],
        ["KMP_STACKSIZE": "lots"], ["OMP_THREAD_LIMIT": "0"],
    ])
    func openMPEnvironment(_ environment: [String: String]) throws {
        let run = quoted(quickRun(scratchFolder("omp") + "/run", ["--threads", "1"]))
        let (status, stderr) = try shell("\"$0\" " + run, environment: environment)
        #expect(status == 64, "\(environment): \(stderr)")
        #expect(stderr.contains(environment.keys.first!), "\(stderr)")
    }

    @Test("valid OpenMP variables still run")
    func openMPEnvironmentValid() throws {
        let environment = ["OMP_NUM_THREADS": "2,1", "OMP_STACKSIZE": "16M"]
        let (status, stderr) = try shell("\"$0\" models", environment: environment)
        #expect(status == 0, "\(stderr)")
    }

    @Test("benchmarks and init-stats beyond the memory limit (ulimit -v 2 GB) are refused naming figure and limit",
          arguments: ["bench gemm --sizes 30000 --threads 1",
                      "bench train --model vggish --batch-size 65536 --threads 1",
                      "bench lsuv --model plain30 --batch-size 65536",
                      "bench kernels --model vggish --batch-size 65536",
                      "init-stats --data synthetic --batch-size 2048 --model plain30 --threads 1"])
    func memoryLimit(_ command: String) throws {
        let (status, stderr) = try shell("ulimit -v 2000000; \"$0\" \(command)")
        #expect(status == 1, "\(command): \(stderr)")
        #expect(stderr.contains("needs about") && stderr.contains("RLIMIT_AS"), "\(command): \(stderr)")
    }

    @Test("empty benchmark lists are usage errors", arguments: ["", ",,,", "256,,512"])
    func emptyLists(_ sizes: String) throws {
        let (status, stderr) = try GoodInitBinary.run(["bench", "gemm", "--sizes", sizes])
        #expect(status == 64 && stderr.contains("--sizes"), "'\(sizes)': \(stderr)")
    }

    @Test("a learning rate whose updates vanish below the weights' precision warns at the first step")
    func vanishingUpdates() throws {
        let warning = "warning: at learning rate"
        let tiny = try GoodInitBinary.capture(quickRun(scratchFolder("ulp") + "/run", steps: 1, ["--lr", "1e-30"]))
        #expect(tiny.status == 0 && tiny.stdout.contains(warning), "\(tiny.stdout)\(tiny.stderr)")
        let usual = try GoodInitBinary.capture(quickRun(scratchFolder("ulp") + "/run", steps: 1))
        #expect(usual.status == 0 && !usual.stdout.contains(warning), "\(usual.stdout)\(usual.stderr)")
    }

    @Test("a learning rate that is 0 or subnormal in Float32 is refused naming --lr", arguments: ["1e-50", "1e-39"])
    func tinyLearningRate(_ lr: String) throws {
        let (status, stderr) = try GoodInitBinary.run(quickRun(scratchFolder("lr") + "/run", ["--lr", lr]))
        #expect(status == 1 && stderr.contains("--lr"), "\(stderr)")
    }
}

@Suite("Input files and seeds at the edge")
struct InputEdgeTests {
    @Test("a consistent but huge plain IDX file is refused before it is read (a sparse 78 GB file)")
    func hugeIDX() throws {
        let folder = scratchFolder("idx")
        let n = 100_000_000
        func sparse(_ name: String, header: [UInt32], bytes: Int) throws -> String {
            let path = folder + "/" + name
            var h: [UInt8] = []
            for v in header { h += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
            FileManager.default.createFile(atPath: path, contents: Data(h))
            #expect(truncate(path, off_t(h.count + bytes)) == 0)
            return path
        }
        let images = try sparse("images", header: [0x0803, UInt32(n), 28, 28], bytes: n * 784)
        let labels = try sparse("labels", header: [0x0801, UInt32(n)], bytes: n)
        let message = refusal("a 78 GB IDX file") { _ = try IDX.load(images: images, labels: labels, name: "huge") }
        #expect(message.contains(images) && message.contains("needs about"), "\(message)")
    }

    /// Writes results.json of a one-run zero-init experiment whose run is `run` (JSON text).
    func results(_ run: String) -> String {
        let folder = scratchFolder("render")
        let json = """
            {"experiment": "zero-init", "checks": {}, "options": {"quick": true, "seed": 1, "seeds": 1,
             "data": "synthetic", "out": "x", "workers": 1, "threads": 1}, "runs": [\(run)]}
            """
        FileManager.default.createFile(atPath: folder + "/results.json", contents: Data(json.utf8))
        return folder
    }

    func run(folder: String, losses: String = "[[1, 2.3]]") -> String {
        """
        {"name": "zero", "folder": "\(folder)", "steps": 1, "losses": \(losses), "seconds": 1, "epochAccuracies": []}
        """
    }

    @Test("--render refuses run folders outside the folder given: '..', absolute paths, symbolic links")
    func renderConfined() throws {
        let victim = scratchFolder("victim")
        FileManager.default.createFile(atPath: victim + "/metrics.jsonl", contents: Data())
        for folder in ["../" + (victim as NSString).lastPathComponent, victim, "a/../../x"] {
            let dir = results(run(folder: folder))
            let message = refusal(folder) { _ = try Experiments.render(folder: dir) }
            #expect(message.contains("run folder") && message.contains("results.json"), "\(message)")
        }
        let dir = results(run(folder: "link/run"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: victim)
        let message = refusal("a symbolic link") { _ = try Experiments.render(folder: dir) }
        #expect(message.contains("symbolic link"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: victim + "/run/loss.svg"))
        #expect(!FileManager.default.fileExists(atPath: victim + "/loss.svg"))
    }

    @Test("--render refuses a malformed results.json in one line naming the file", arguments: [
        ("", "holds no runs"), ("{\"name\": \"zero\"}", "missing key"),
    ])
    func renderMalformed(_ runText: String, _ expected: String) throws {
        let dir = results(runText)
        let message = refusal(expected) { _ = try Experiments.render(folder: dir) }
        #expect(message.contains("results.json") && message.contains(expected), "\(message)")
        #expect(!message.contains("\n"), "\(message)")
    }

    @Test("--render refuses curve points that are not [x, y] pairs", arguments: ["[[]]", "[[1]]", "[[1, 2, 3]]"])
    func renderShortSeries(_ losses: String) throws {
        let dir = results(run(folder: "zero", losses: losses))
        let message = refusal(losses) { _ = try Experiments.render(folder: dir) }
        #expect(message.contains("losses[0]"), "\(message)")
    }
}

@Suite("Seeds at the top of their range", .enabled(if: GoodInitBinary.found))
struct SeedRangeTests {
    @Test("--seed UInt64.max - 1 and UInt64.max with 2 seeds train both (the seeds wrap to 0)",
          arguments: [UInt64.max - 1, UInt64.max])
    func topSeeds(_ seed: UInt64) throws {
        let out = scratchFolder("seeds")
        let (status, stderr) = try GoodInitBinary.run(["experiment", "zero-init", "--quick", "--steps", "1",
                                                       "--seeds", "2", "--seed", "\(seed)", "--data", "synthetic",
                                                       "--threads", "1", "--out", out])
        #expect(status == 0, "\(stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/seed-\(seed &+ 1)"))
    }
}
