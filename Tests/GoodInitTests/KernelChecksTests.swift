// The Kernels wrappers check every buffer against the sizes they are given before C runs: a
// buffer one element short traps (in a child process: Swift Testing's exit tests) with a message
// naming the kernel and the buffer, and the exact sizes run.
import CKernels
@testable import GoodInit
import Testing

/// What a trapped child process wrote to standard error.
func stderr(_ result: ExitTest.Result?) -> String {
    String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
}

@Suite("Kernel wrappers check buffer sizes") struct KernelChecksTests {
    static let conv = ck_conv2d_shape(N: 2, C: 3, H: 5, W: 5, K: 4, R: 3, S: 3, stride: 1, pad: 1)
    static let pool = ck_pool_shape(N: 2, C: 3, H: 4, W: 4, R: 2, S: 2, stride: 2, pad: 0)

    @Test func exactSizesRun() {
        let s = Self.conv, y = Tensor(zeros: [2 * 4 * 5 * 5])
        Kernels.convForward(y: y, x: Tensor(zeros: [2 * 3 * 5 * 5]), w: Tensor(zeros: [4 * 3 * 3 * 3]),
                            b: Tensor(shape: [4], values: [1, 2, 3, 4]), shape: s,
                            workspace: Tensor(zeros: [Kernels.convWorkspace(s)]))
        #expect(y[0] == 1 && y[y.count - 1] == 4)
        let p = Tensor(zeros: [2 * 3 * 2 * 2]), argmax = IndexBuffer(count: p.count)
        Kernels.maxPoolForward(y: p, argmax: argmax, x: Tensor(zeros: [2 * 3 * 4 * 4]), shape: Self.pool)
        let ws = Tensor(zeros: [Kernels.gemmWorkspace(m: 2, n: 3, k: 4)])
        Kernels.gemm(transA: true, transB: false, m: 2, n: 3, k: 4, a: Tensor(zeros: [8]), b: Tensor(zeros: [12]),
                     beta: 0, c: Tensor(zeros: [6]), workspace: ws)
    }

    @Test func convOutputTooSmallTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let s = KernelChecksTests.conv
            Kernels.convForward(y: Tensor(zeros: [2 * 4 * 5 * 5 - 1]), x: Tensor(zeros: [2 * 3 * 5 * 5]),
                                w: Tensor(zeros: [4 * 3 * 3 * 3]), b: nil, shape: s,
                                workspace: Tensor(zeros: [Kernels.convWorkspace(s)]))
        }
        #expect(stderr(result).contains("convForward: y holds"))
    }

    @Test func convWorkspaceTooSmallTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let s = KernelChecksTests.conv
            Kernels.convBackwardData(dx: Tensor(zeros: [2 * 3 * 5 * 5]), dy: Tensor(zeros: [2 * 4 * 5 * 5]),
                                     w: Tensor(zeros: [4 * 3 * 3 * 3]), shape: s,
                                     workspace: Tensor(zeros: [Kernels.convWorkspace(s) - 1]))
        }
        #expect(stderr(result).contains("convBackwardData: workspace holds"))
    }

    @Test func gemmOperandTooSmallTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let ws = Tensor(zeros: [Kernels.gemmWorkspace(m: 2, n: 3, k: 4)])
            Kernels.gemm(transA: false, transB: true, m: 2, n: 3, k: 4, a: Tensor(zeros: [8]), b: Tensor(zeros: [11]),
                         beta: 1, c: Tensor(zeros: [6]), workspace: ws)
        }
        #expect(stderr(result).contains("gemm: b holds"))
    }

    @Test func poolArgmaxTooSmallTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            Kernels.maxPoolForward(y: Tensor(zeros: [24]), argmax: IndexBuffer(count: 23), x: Tensor(zeros: [96]),
                                   shape: KernelChecksTests.pool)
        }
        #expect(stderr(result).contains("maxPoolForward: argmax"))
    }

    @Test func labelOutOfRangeTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let labels = IndexBuffer(count: 2)
            labels[1] = 10
            _ = Kernels.softmaxXentForward(probs: Tensor(zeros: [20]), logits: Tensor(zeros: [20]), labels: labels,
                                           n: 2, k: 10)
        }
        #expect(stderr(result).contains("label 10 not in 0..<10"))
    }

    @Test func elementwiseInputTooSmallTraps() async {
        await #expect(processExitsWith: .failure) {
            Kernels.add(y: Tensor(zeros: [8]), a: Tensor(zeros: [8]), b: Tensor(zeros: [7]))
        }
    }
}
