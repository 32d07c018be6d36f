// `bench scaling`'s trace and model: tracing never changes a bit, it sees every region with the
// team and the static shares the kernels really ran, the model's partition arithmetic, and the
// command's JSON lines.
import CKernels
import Foundation
@testable import GoodInit
import Testing

@Suite("Region tracing and the scaling model")
struct ScalingTests {
    struct Bits: Equatable { var loss: UInt64 = 0; var grads: [UInt32] = [], values: [UInt32] = [] }

    /// One SGD step of `preset` at batch 32 (chunks of 8: the kernels fork) from a fixed start.
    func step(_ preset: ModelPreset, threads: Int, traced: Bool, layout: LayoutPolicy = .auto) throws -> Bits {
        let net = try Presets.network(preset)
        net.layoutPolicy = layout
        net.initialize(.heNormal(fanOut: false), seed: 5)
        let batch = 32, size = net.inputShape.reduce(1, *)
        let plan = Plan(net: net, chunking: Chunking(batch: batch, chunk: 8), workers: 1, threads: threads)
        plan.setInput(images: testImages(batch * size, seed: 3), labels: (0..<batch).map { Int32($0 * 7 % 10) },
                      indices: Array(0..<batch)[...])
        let opt = Optimizer(.sgd, store: net.params, momentum: 0.9, weightDecay: 5e-4)
        var bits = Bits()
        func run() {
            plan.forward(training: true, seed: 9)
            bits.loss = plan.loss().loss.bitPattern
            plan.backward(); opt.step(lr: 0.01)
        }
        if traced {
            let trace = KernelsTrace.record(run)
            #expect(trace.regions.count > 10 && trace.dropped == 0, "\(preset): \(trace.regions.count) regions")
        } else {
            run()
        }
        bits.grads = net.params.grad.array.map(\.bitPattern)
        bits.values = net.params.values.array.map(\.bitPattern)
        return bits
    }

    @Test("a training step has the same bits with tracing on and off, at T = 1 and 2",
          arguments: [ModelPreset.cnnSmall, .resnetSmall, .mlpDeep], LayoutPolicy.allCases)
    func sameBits(_ preset: ModelPreset, _ layout: LayoutPolicy) throws {
        for t in [1, 2] {
            let off = try step(preset, threads: t, traced: false, layout: layout)
            let on = try step(preset, threads: t, traced: true, layout: layout)
            #expect(off.grads.contains { $0 != 0 })
            #expect(on == off, "\(preset) \(layout) T=\(t)")
        }
    }

    @Test("every traced region ran on a team of T threads with the static shares of its units",
          .enabled(if: ck_has_openmp() != 0, "built without OpenMP (GOODINIT_NO_OPENMP)"))
    func teamsAndShares() throws {
        let net = try Presets.network(.cnnSmall)
        let plan = Plan(net: net, chunking: .whole(32), workers: 1, threads: 3)
        let size = net.inputShape.reduce(1, *)
        plan.setInput(images: testImages(32 * size, seed: 1), labels: [Int32](repeating: 1, count: 32),
                      indices: Array(0..<32)[...])
        let trace = KernelsTrace.record { plan.forward(training: true); _ = plan.loss(); plan.backward() }
        #expect(trace.regions.count > 10)
        #expect(Set(trace.regions.map(\.kernel)).contains("ck_sgemm_blocked") || net.layouts.contains(.blocked))
        for r in trace.regions {
            #expect(r.threads == 3, "\(r.site)")
            #expect(r.lanes.map(\.units) == (0..<3).map { t in r.units / 3 + (t < r.units % 3 ? 1 : 0) },
                    "\(r.site): \(r.lanes.map(\.units)) of \(r.units)")
            #expect(r.lanes.allSatisfy { $0.busy >= 0 } && r.wall > 0, "\(r.site)")
        }
    }

    @Test("at T = 1 the loops that would fork are traced as one-thread regions, and the step's parts are known")
    func oneThread() throws {
        let net = try Presets.network(.cnnSmall)
        let plan = Plan(net: net, chunking: .whole(32), workers: 1, threads: 1)
        let size = net.inputShape.reduce(1, *)
        plan.setInput(images: testImages(32 * size, seed: 1), labels: [Int32](repeating: 1, count: 32),
                      indices: Array(0..<32)[...])
        let opt = Optimizer(.sgd, store: net.params, momentum: 0.9, weightDecay: 5e-4)
        let traced = TracedStep.run(plan, optimizer: opt)
        #expect(traced.regions.count == traced.parts.count && traced.regions.count > 10)
        #expect(traced.regions.allSatisfy { $0.threads == 1 && $0.lanes[0].units == $0.units })
        #expect(traced.parts.contains(.forward(0)) && traced.parts.contains(.backward(0)))
        #expect(traced.parts.contains(.optimizer))
        // the forward parts come in op order
        let forwardOps = traced.parts.compactMap { if case .forward(let i) = $0 { return i } else { return nil } }
        #expect(forwardOps == forwardOps.sorted())
        #expect(traced.serial > 0 && traced.serial < traced.wall)
        let model = try ScalingModel(net: net, batch: 32, steps: [traced])
        let one = model.predict(workers: 1, threads: 1, bandwidth: 1e15, forkJoin: 0)
        #expect(abs(one.step - (model.serial + model.regions.reduce(0) { $0 + $1.cost })) < 1e-9)
        // more threads never predict a slower step without fork/join cost and memory bound
        let two = model.predict(workers: 1, threads: 2, bandwidth: 1e15, forkJoin: 0)
        let many = model.predict(workers: 1, threads: 1 << 20, bandwidth: 1e15, forkJoin: 0)
        #expect(two.step < one.step && many.step <= two.step)
        #expect(many.idle.allSatisfy { $0 > 0 })
    }

    @Test("the predicted work is the T = 1 cost × the largest static share, ÷ W on per-chunk regions")
    func partition() throws {
        let r = ScalingModel.Region(site: "k:1", part: .forward(0), cost: 1.0, units: 10, bytes: 0)
        let g = ScalingModel.Region(site: "k:2", part: .gradientSum, cost: 1.0, units: 10, bytes: 8e9)
        let model = ScalingModel(regions: [r, g], serial: 0.5, batch: 8)
        let p = model.predict(workers: 2, threads: 4, bandwidth: 1e9, forkJoin: 1e-3)
        #expect(abs(p.time[0] - (1.0 * 3 / 10 / 2 + 1e-3)) < 1e-12)  // ⌈10/4⌉ = 3 of 10, half the chunks
        #expect(abs(p.time[1] - (8.0 + 1e-3)) < 1e-12)                // W·T = 8 threads, but 8 GB at 1 GB/s
        #expect(p.idle == [0, 0] && abs(p.step - (0.5 + p.time[0] + p.time[1])) < 1e-12)
        #expect(model.predict(workers: 1, threads: 16, bandwidth: 1e9, forkJoin: 0).idle == [6, 6])
    }
}

@Suite("The goodinit executable: bench scaling",
       .enabled(if: GoodInitBinary.found, "goodinit not built: run swift build"))
struct BenchScalingCommandTests {
    struct Line: Decodable {
        let model: String, workers, threads: Int
        let predictedImgPerS, predictedEfficiency: Double
        let measuredImgPerS: Double?
    }

    @Test("--json: one line per (W, T) with the predicted figures, measured where W × T fits the cores")
    func json() throws {
        let (status, out, err) = try GoodInitBinary.capture([
            "bench", "scaling", "--model", "mlp-sigmoid", "--batch-size", "64", "--threads", "1,2,4",
            "--workers", "1,2", "--steps", "1", "--bandwidth", "100", "--fork-join", "2", "--json"])
        #expect(status == 0, "\(err)")
        let dec = JSONDecoder()
        dec.keyDecodingStrategy = .convertFromSnakeCase
        let lines = try out.split(separator: "\n").map { try dec.decode(Line.self, from: Data($0.utf8)) }
        #expect(lines.map { "\($0.workers)x\($0.threads)" } == ["1x1", "1x2", "1x4", "2x1", "2x2", "2x4"])
        let cores = ProcessInfo.processInfo.activeProcessorCount
        for l in lines {
            #expect(l.model == "mlp-sigmoid" && l.predictedImgPerS > 0 && l.predictedEfficiency > 0)
            #expect((l.measuredImgPerS != nil) == (l.workers * l.threads <= cores), "\(l)")
        }
        #expect(abs(lines[0].predictedEfficiency - 1) < 1e-3)
    }
}
