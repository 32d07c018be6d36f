// --precision bf16 through the executor: the blocked convolutions read bf16 copies of x, w and dy
// (PyTorch's CPU autocast); everything else stays FP32. Checked against the FP32 plan within bf16's
// rounding, for the same bits at any W and T, and across the bf16 kernel variants.
import Foundation
@testable import GoodInit
import Testing

@Suite("bf16 training") struct BF16TrainingTests {
    func makePlan(_ i: Int, precision: Precision, workers: Int = 1, threads: Int = 1) throws -> Plan {
        let (name, input, layers) = LayoutTests.nets[i]
        let net = try Network(name: name, input: input, layers: layers)
        net.precision = precision
        net.initialize(.heNormal(fanOut: false), seed: 3)
        return testPlan(net, workers: workers, threads: threads, imageSeed: 11)
    }

    /// ‖a − b‖ / ‖b‖ in double.
    func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        var d = 0.0, n = 0.0
        for (x, y) in zip(a, b) { d += Double(x - y) * Double(x - y); n += Double(y) * Double(y) }
        return (d / max(n, 1e-300)).squareRoot()
    }

    @Test("the bf16 plan is the FP32 plan to bf16's rounding: loss, logits and every gradient", arguments: 0..<4)
    func agreesWithFP32(_ i: Int) throws {
        let fp32 = trainingStep(try makePlan(i, precision: .fp32))
        let bf16Plan = try makePlan(i, precision: .bf16)
        #expect(bf16Plan.net.layouts.contains(.blocked))
        let bf16 = trainingStep(bf16Plan)
        // bf16 keeps 8 significant bits (relative rounding 2⁻⁹ ≈ 0.2 %) per operand, a few convolutions deep
        #expect(abs(bf16.loss - fp32.loss) <= 5e-3 * abs(fp32.loss), "\(bf16.loss) vs \(fp32.loss)")
        #expect(relativeError(bf16.logits, fp32.logits) < 3e-2)
        #expect(relativeError(bf16.grads, fp32.grads) < 6e-2, "\(relativeError(bf16.grads, fp32.grads))")
        // and it did run in bf16: operands rounded to 8 bits cannot give FP32's bits
        #expect(bf16.logits != fp32.logits)
    }

    @Test("bf16 plans: the same bits for W = 1, 2 and T = 1, 2", arguments: 0..<4)
    func sameBits(_ i: Int) throws {
        let ref = trainingStep(try makePlan(i, precision: .bf16))
        for (w, t) in [(1, 2), (2, 1), (2, 2)] {
            let got = trainingStep(try makePlan(i, precision: .bf16, workers: w, threads: t))
            #expect(got == ref, "\(LayoutTests.nets[i].0) W=\(w) T=\(t)")
        }
    }

    @Test("bf16 plans: the fused plan (ReLUs in the convolutions' stores) gives the observed plan's bits",
          arguments: 0..<4)
    func fusedSameBits(_ i: Int) throws {
        let observed = try makePlan(i, precision: .bf16)
        observed.fuses = false
        let ref = trainingStep(observed)
        for (w, t) in [(1, 1), (2, 2)] {
            let got = trainingStep(try makePlan(i, precision: .bf16, workers: w, threads: t))
            #expect(got == ref, "\(LayoutTests.nets[i].0) fused W=\(w) T=\(t)")
        }
    }

    @Test("plain layout: the linear layers run bf16 (an MLP), the convolutions FP32")
    func plainLayout() throws {
        func mlpStep(_ p: Precision) throws -> PlanStep {
            let net = try Network(name: "mlp", input: [1, 8, 8], layers: [.linear(out: 40), .tanh, .linear(out: 3)])
            net.precision = p
            net.initialize(.xavierNormal, seed: 3)
            return trainingStep(testPlan(net, imageSeed: 11))
        }
        let fp32 = try mlpStep(.fp32), bf16 = try mlpStep(.bf16)
        #expect(abs(bf16.loss - fp32.loss) <= 5e-3 * abs(fp32.loss) && bf16.logits != fp32.logits)
        #expect(relativeError(bf16.grads, fp32.grads) < 3e-2, "\(relativeError(bf16.grads, fp32.grads))")
        // a conv net on the plain layout: its convolutions stay FP32 (im2col has no bf16 path), its linear runs bf16
        func plainStep(_ p: Precision) throws -> PlanStep {
            let (name, input, layers) = LayoutTests.nets[0]
            let net = try Network(name: name, input: input, layers: layers)
            net.layoutPolicy = .plain; net.precision = p
            net.initialize(.heNormal(fanOut: false), seed: 3)
            return trainingStep(testPlan(net, imageSeed: 11))
        }
        let plain32 = try plainStep(.fp32), plain16 = try plainStep(.bf16)
        #expect(plain16.logits != plain32.logits && relativeError(plain16.logits, plain32.logits) < 1e-2)
    }

    @Test("LSUV at bf16 reports the variance the bf16 layer gives, measured again after scaling")
    func lsuvMeasured() throws {
        func reports(_ p: Precision) throws -> [LSUVLayerReport] {
            let (name, input, layers) = LayoutTests.nets[1]
            let net = try Network(name: name, input: input, layers: layers)
            net.precision = p
            net.initialize(.orthogonal(gain: 1), seed: 3)
            return LSUV.run(net, images: testImages(32 * input.reduce(1, *), seed: 11),
                            labels: [Int32](repeating: 0, count: 32), options: LSUVOptions(), seed: 3, threads: 1)
        }
        let fp32 = try reports(.fp32), bf16 = try reports(.bf16)
        let tol = LSUVOptions().tolVar
        // FP32 extrapolates exactly up to rounding; bf16's weights round after scaling, so its output
        // is off 1 by more than float rounding, still within the tolerance
        #expect(fp32.allSatisfy { $0.tries == 0 || abs($0.varianceAfter - 1) < 1e-5 }, "\(fp32)")
        #expect(bf16.allSatisfy { abs($0.varianceAfter - 1) < tol }, "\(bf16)")
        #expect(bf16.contains { $0.tries > 0 && abs($0.varianceAfter - 1) > 1e-5 }, "\(bf16)")
    }

    @Test("precision is a stored setting: bf16 round-trips, and a record without it reads as fp32")
    func storedSetting() throws {
        var s = TrainSettings()
        s.compute.precision = .bf16
        let back = try TrainSettings.stored(JSONEncoder().encode(s))
        #expect(back.compute.precision == .bf16)
        var json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(s)) as? [String: Any])
        var compute = try #require(json["compute"] as? [String: Any])
        compute.removeValue(forKey: "precision")
        json["compute"] = compute
        let old = try TrainSettings.stored(JSONSerialization.data(withJSONObject: json))
        #expect(old.compute.precision == .fp32)
    }
}

@Suite("bf16 training from the command line", .enabled(if: GoodInitBinary.found, "goodinit not built: run swift build"))
struct BF16CommandTests {
    func train(_ out: String, env: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try GoodInitBinary.capture(["train", "--data", "synthetic", "--model", "cnn-small", "--precision", "bf16",
                                    "--epochs", "1", "--steps", "4", "--batch-size", "16", "--threads", "1",
                                    "--out", out, "--log-every", "2"], environment: env)
    }

    @Test("train --precision bf16: the widening path gives the AVX512-BF16 path's checkpoint bits, and says so")
    func variantsAgree() throws {
        let folder = scratchFolder("bf16cli")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let best = try train(folder + "/best")
        #expect(best.status == 0, "\(best.stderr)")
        let widen = try train(folder + "/widen", env: ["GOODINIT_BF16": "widen"])
        #expect(widen.status == 0, "\(widen.stderr)")
        #expect(widen.stderr.contains("runs the widening path"), "\(widen.stderr)")
        // the metadata holds times; the tensors must be the same bits
        let a = try Safetensors.read(folder + "/best/checkpoint.safetensors").tensors
        let b = try Safetensors.read(folder + "/widen/checkpoint.safetensors").tensors
        #expect(a.map(\.name) == b.map(\.name) && !a.isEmpty)
        for (x, y) in zip(a, b) {
            #expect(x.values.map(\.bitPattern) == y.values.map(\.bitPattern), "\(x.name)")
        }
        let summary = try String(contentsOfFile: folder + "/best/summary.json", encoding: .utf8)
        #expect(summary.contains("\"precision\" : \"bf16\""), "\(summary)")
    }
}
