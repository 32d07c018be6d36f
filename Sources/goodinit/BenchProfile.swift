// `bench train --profile`: one training step's time op by op, with the FLOP rate and peak share of
// every op that does arithmetic, then by kind. What a "whole step at N % of peak" is made of.
import Foundation
import GoodInit

enum StepProfileReport {
    /// Profiles `steps` training steps of `plan` (W = 1) and prints the per-op table.
    /// `% peak` is of the peak of `precision` (the bf16 one at bf16).
    static func run(_ plan: Plan, optimizer: Optimizer, steps: Int, threads: Int, precision: Precision = .fp32) {
        let net = plan.net, profile = OpProfile(ops: net.ops.count)
        plan.profile = profile
        defer { plan.profile = nil }
        var optimizerTime = 0.0
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<steps {
            plan.forward(training: true); _ = plan.loss(); plan.backward()
            let t = DispatchTime.now().uptimeNanoseconds
            optimizer.step(lr: 1e-4)
            optimizerTime += Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
        }
        let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(steps)
        let n = Double(steps), b = Double(plan.batch)
        print(String(format: "  per-op profile of %@, batch %d, T = %d, mean of %d steps: %.1f ms per step",
                     net.name, plan.batch, threads, steps, total * 1e3))
        print("  op                 output           fwd ms  bwd ms   fwd GFLOP/s  bwd GFLOP/s  share of step")
        var byKind: [(String, Double, Double)] = [] // kind, seconds, flops
        var memoryBound = 0.0 // the ops without a GEMM or convolution: batch norm, activations, pooling, …
        func add(_ kind: String, _ s: Double, _ f: Double) {
            if let k = byKind.firstIndex(where: { $0.0 == kind }) {
                byKind[k].1 += s; byKind[k].2 += f
            } else {
                byKind.append((kind, s, f))
            }
        }
        for (i, op) in net.ops.enumerated() {
            let fwd = profile.forward[i] / n, bwd = profile.backward[i] / n
            let ff = Double(op.flopsPerSample) * b
            // backward: the weight gradient, plus the input gradient unless nothing consumes it
            let bf = op.isWeighted ? ff * (net.needsInputGradient(i) ? 2 : 1) : ff
            // a rate only for the arithmetic ops: an elementwise op's nominal FLOPs say nothing (and a
            // ReLU the fused plan folds into its neighbour takes no time of its own)
            add(op.kind, fwd + bwd, op.isWeighted ? ff + bf : 0)
            if !(op is Conv2d || op is Linear) { memoryBound += fwd + bwd }
            let shape = net.shapes[i + 1].map(String.init).joined(separator: "×")
            let rate = { (f: Double, s: Double) in op.isWeighted && s > 0 ? String(format: "%11.1f", f / s / 1e9) : "" }
            print(pad("  " + op.name, 21) + pad(shape, 15) + String(format: "%8.2f %7.2f ", fwd * 1e3, bwd * 1e3)
                  + pad(rate(ff, fwd), 12) + " " + pad(rate(bf, bwd), 12)
                  + String(format: "  %6.1f %%", 100 * (fwd + bwd) / total))
        }
        add("loss, zeroing", (profile.loss) / n, 0)
        add("gradient sum", profile.gradientSum / n, 0)
        add("optimizer", optimizerTime / n, 0)
        print("  by kind:           ms/step  share   GFLOP/s  % peak")
        let peak = peakShare(1, threads: threads, precision: precision).peak
        for (kind, s, f) in byKind.sorted(by: { $0.1 > $1.1 }) {
            let rate = f > 0 && s > 0 ? String(format: "%9.1f %6.1f %%", f / s / 1e9, 100 * f / s / 1e9 / peak) : ""
            print(pad("  " + kind, 19) + String(format: "%8.2f %6.1f %%", s * 1e3, 100 * s / total) + " " + rate)
        }
        // the one number fusion would move
        print(String(format: "  memory-bound ops (all but convolutions and linear layers): %.2f ms, %.1f %% of "
                     + "the step", memoryBound * 1e3, 100 * memoryBound / total))
    }

    private static func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ",
                                                                             startingAt: 0) }
}
