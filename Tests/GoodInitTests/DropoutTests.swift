// Dropout as the executor runs it: inverted dropout in training (kept values scaled by 1/(1 − p)),
// the identity in evaluation, a mask that depends on the seed and the sample only, and its gradient.
import Foundation
@testable import GoodInit
import Testing

@Suite("Dropout") struct DropoutTests {
    static let p: Float = 0.3
    static let batch = 6

    /// conv → tanh → dropout → flatten → linear; activation 2 is dropout's input, 3 its output.
    func makePlan(chunk: Int = 3, workers: Int = 1) throws -> (Network, Plan) {
        let net = try Network(name: "drop", input: [2, 6, 6], layers: [
            .conv(out: 4, kernel: 3, stride: 1, padding: 1), .tanh, .dropout(Self.p), .flatten, .linear(out: 5),
        ])
        net.initialize(.xavierNormal, seed: 2)
        let plan = Plan(net: net, chunking: Chunking(batch: Self.batch, chunk: chunk), workers: workers, threads: 1)
        plan.setInput(images: testImages(Self.batch * 72, seed: 4), labels: (0..<Self.batch).map { Int32($0 % 5) },
                      indices: Array(0..<Self.batch)[...])
        return (net, plan)
    }

    /// Activation i of the whole batch, chunk after chunk.
    func batchActivation(_ plan: Plan, _ i: Int) -> [Float] {
        plan.chunks.indices.flatMap { plan.activation(i, chunk: $0).array }
    }

    func batchGradient(_ plan: Plan, _ i: Int) -> [Float] {
        plan.chunks.indices.flatMap { plan.gradient(i, chunk: $0).array }
    }

    @Test("training: each value zeroed or scaled by 1/(1 − p), about p of them zeroed; evaluation: the identity")
    func forward() throws {
        let (_, plan) = try makePlan()
        plan.forward(training: true, seed: 7)
        let x = batchActivation(plan, 2), y = batchActivation(plan, 3)
        #expect(x.allSatisfy { $0 != 0 })
        var dropped = 0
        for (a, b) in zip(x, y) {
            if b == 0 { dropped += 1 } else {
                let kept = Double(a) / (1 - Double(Self.p))
                #expect(isClose(Double(b), kept, absolute: 0, relative: 1e-6), "\(a) → \(b)")
            }
        }
        // 864 values: p ± 0.05 is more than three standard deviations of the dropped fraction
        #expect(abs(Double(dropped) / Double(x.count) - Double(Self.p)) < 0.05, "\(dropped) of \(x.count) dropped")
        plan.forward(training: false)
        #expect(batchActivation(plan, 3).map(\.bitPattern) == batchActivation(plan, 2).map(\.bitPattern))
    }

    @Test("the mask depends on the seed and the sample, not on the chunking or the workers")
    func mask() throws {
        let (_, a) = try makePlan(chunk: 3), (_, b) = try makePlan(chunk: 2, workers: 2)
        a.forward(training: true, seed: 7)
        b.forward(training: true, seed: 7)
        let seven = batchActivation(a, 3)
        #expect(seven.map(\.bitPattern) == batchActivation(b, 3).map(\.bitPattern))
        a.forward(training: true, seed: 8)
        let eight = batchActivation(a, 3)
        #expect(zip(seven, eight).contains { ($0 == 0) != ($1 == 0) })
    }

    @Test("gradient: dy/(1 − p) where kept, 0 where dropped; central differences agree through the mask")
    func gradient() throws {
        let (net, plan) = try makePlan()
        func loss() -> Double { plan.forward(training: true, seed: 7); return plan.loss().loss }
        _ = loss()
        plan.backward()
        let y = batchActivation(plan, 3), dy = batchGradient(plan, 3), dx = batchGradient(plan, 2)
        #expect(dy.contains { $0 != 0 })
        for k in y.indices {
            let expected = y[k] == 0 ? 0 : Double(dy[k]) / (1 - Double(Self.p))
            #expect(isClose(Double(dx[k]), expected, absolute: 1e-12, relative: 1e-6), "dx[\(k)]")
        }
        // the conv below the dropout gets its gradient only through the kept values
        let analytic = net.params.grad.array, values = net.params.values
        var worst = 0.0
        for e in net.params.entries where e.op == 0 {
            for k in stride(from: e.offset, to: e.offset + e.spec.count, by: max(1, e.spec.count / 12)) {
                let v = values[k]
                values[k] = v + 1e-3; let lp = loss()
                values[k] = v - 1e-3; let lm = loss()
                values[k] = v
                let numeric = (lp - lm) / 2e-3, a = Double(analytic[k])
                worst = max(worst, abs(numeric - a) / max(abs(numeric) + abs(a), 1e-3))
            }
        }
        #expect(worst < 2e-2, "worst relative error \(worst)")
    }
}
