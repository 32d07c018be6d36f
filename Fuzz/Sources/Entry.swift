// Two modes over the same targets. Built by scripts/fuzz.sh with -D GOODINIT_FUZZ and
// -sanitize=fuzzer, `main` hands the command line to libFuzzer's driver; every other build (plain
// `swift build`, `swift test`) gets a replayer that links without libFuzzer and re-runs saved
// inputs: `goodinit-fuzz TARGET FILE...`.
// `main` stays ours in both modes: SwiftPM on Linux links executables with `--defsym main=<module>_main`
// (for testable executables), so libFuzzer's own `main` cannot be the entry point.
import Foundation

#if GOODINIT_FUZZ
/// Chosen once from the environment: libFuzzer keeps the command line for itself.
private let selected: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["GOODINIT_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        fatalError("set GOODINIT_FUZZ_TARGET to one of \(names) (got '\(name)')")
    }
    return target
}()

private func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selected.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

/// int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *, size_t))
private typealias RunDriver = @convention(c) (
    UnsafeMutablePointer<Int32>,
    UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

@main
enum Fuzz {
    static func main() {
        _ = selected   // a missing or wrong target name fails here, before libFuzzer starts
        // Looked up at run time: the Swift side has no C header for it; fuzz.sh links it in.
        guard let symbol = dlsym(nil, "LLVMFuzzerRunDriver") else {   // nil is RTLD_DEFAULT
            fatalError("LLVMFuzzerRunDriver missing: build with -sanitize=fuzzer (scripts/fuzz.sh)")
        }
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(unsafeBitCast(symbol, to: RunDriver.self)(&argc, &argv, fuzzOneInput))
    }
}
#else
@main
enum Replay {
    static func main() {
        let args = CommandLine.arguments.dropFirst()
        guard let name = args.first, let target = FuzzTarget(rawValue: name), args.count >= 2 else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            FileHandle.standardError.write(Data("usage: goodinit-fuzz \(names) FILE...\n".utf8))
            exit(2)
        }
        for file in args.dropFirst() {
            guard let bytes = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write(Data("goodinit-fuzz: cannot read \(file)\n".utf8))
                exit(1)
            }
            target.run([UInt8](bytes))
        }
        print("\(name): \(args.count - 1) inputs, no crash")
    }
}
#endif
