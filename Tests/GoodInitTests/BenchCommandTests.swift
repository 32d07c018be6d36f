// `goodinit bench`'s comma-separated options, run through the built executable: a bad list is
// refused while the arguments are parsed (flag, value and rule in the first line, exit code 64),
// a good one runs.
import Foundation
import Testing

@Suite("The goodinit executable: bench lists",
       .enabled(if: GoodInitBinary.found, "goodinit not built: run swift build"))
struct BenchCommandTests {
    @Test("a bad list names the flag, the value and the rule, exit code 64", arguments: [
        (["gemm", "--threads", "1,x"], "--threads", "comma-separated list of integers in 1..."),
        (["gemm", "--threads", "1,,2"], "--threads", "comma-separated list of integers in 1..."),
        (["peak", "--threads", "0"], "--threads", "comma-separated list of integers in 1..."),
        (["kernels", "--threads", "100000"], "--threads", "comma-separated list of integers in 1..."),
        (["gemm", "--sizes", "64,12x3"], "--sizes", "'12x3': use N or MxNxK with each size in 1...65536"),
        (["gemm", "--sizes", "65537"], "--sizes", "use N or MxNxK"),
        (["kernels", "--kernels", "gemm,fft"], "--kernels", "unknown fft (gemm, conv, conv-blocked, bn)"),
        (["kernels", "--model", "cnn-small,cnn-large"], "--model", "'cnn-large': one of mlp-sigmoid, "),
    ])
    func badList(_ arguments: [String], _ flag: String, _ rule: String) throws {
        let (status, stderr) = try GoodInitBinary.run(["bench"] + arguments)
        #expect(status == 64, "\(stderr)")
        let first = stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("Error: ") && first.contains(flag) && first.contains(arguments[2]), "\(stderr)")
        #expect(first.contains(rule), "\(stderr)")
    }

    @Test("good lists run: spaces around items, N and MxNxK sizes, a subset of kernel families")
    func goodLists() throws {
        for arguments in [["gemm", "--sizes", "8,4x5x6", "--threads", "1, 2", "--repeats", "1"],
                          ["kernels", "--model", "mlp-sigmoid,mlp-xavier", "--batch-size", "4", "--threads", "1",
                           "--kernels", "gemm,", "--repeats", "1"]] {
            let (status, stderr) = try GoodInitBinary.run(["bench"] + arguments)
            #expect(status == 0, "\(arguments): \(stderr)")
        }
    }
}
