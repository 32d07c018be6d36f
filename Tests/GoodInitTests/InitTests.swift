import Foundation
import GoodInit
import Testing

@Suite("Initializers and LSUV") struct InitTests {
    /// A net with one conv (32→64, 3×3) followed by ReLU and one linear (64·4·4 → 200) followed by tanh.
    func net() throws -> Network {
        try Network(name: "t", input: [32, 4, 4], layers: [.conv(out: 64, kernel: 3, stride: 1, padding: 1), .relu,
                                                         .flatten, .linear(out: 200), .tanh, .linear(out: 10)])
    }
    func stats(_ t: Tensor) -> (std: Double, maxAbs: Float) {
        let (_, v) = t.meanVariance()
        return (v.squareRoot(), t.array.map(abs).max()!)
    }

    @Test("sample std and bounds follow each formula (fans and gains as torch.nn.init)")
    func formulas() throws {
        let n = try net()
        let conv = { n.values(of: 0)[0] }, fc = { n.values(of: 3)[0] }
        let (convIn, convOut, fcIn, fcOut) = (32.0 * 9, 64.0 * 9, 1024.0, 200.0)
        func close(_ a: Double, _ b: Double, _ what: String) { #expect(abs(a / b - 1) < 0.03, "\(what): \(a) vs \(b)") }

        n.initialize(.heNormal(fanOut: false), seed: 1)
        close(stats(conv()).std, 2.0.squareRoot() / convIn.squareRoot(), "he-normal conv (ReLU gain)")
        close(stats(fc()).std, (5.0 / 3.0) / fcIn.squareRoot(), "he-normal fc (tanh gain)")
        n.initialize(.heNormal(fanOut: true), seed: 1)
        close(stats(conv()).std, 2.0.squareRoot() / convOut.squareRoot(), "he-normal fan_out")
        n.initialize(.heUniform(fanOut: false), seed: 1)
        let heBound = 2.0.squareRoot() * (3 / convIn).squareRoot()
        #expect(Double(stats(conv()).maxAbs) <= heBound)
        close(stats(conv()).std, heBound / 3.0.squareRoot(), "he-uniform")
        n.initialize(.xavierUniform, seed: 2)
        let xb = (6 / (fcIn + fcOut)).squareRoot()
        #expect(Double(stats(fc()).maxAbs) <= xb)
        close(stats(fc()).std, xb / 3.0.squareRoot(), "xavier-uniform")
        n.initialize(.xavierNormal, seed: 2)
        close(stats(conv()).std, (2 / (convIn + convOut)).squareRoot(), "xavier-normal")
        n.initialize(.pytorchDefault, seed: 3)
        #expect(Double(stats(fc()).maxAbs) <= 1 / fcIn.squareRoot())
        close(stats(fc()).std, 1 / fcIn.squareRoot() / 3.0.squareRoot(), "pytorch-default")
        #expect(n.values(of: 3)[1].array.contains { $0 != 0 }, "pytorch-default draws biases too")
        n.initialize(.normal(0.01), seed: 4)
        close(stats(conv()).std, 0.01, "normal:0.01")
        n.initialize(.zeros, seed: 4)
        #expect(stats(conv()).maxAbs == 0)
    }

    @Test("orthogonal: W·Wᵀ = I for wide and Wᵀ·W = I for tall matrices")
    func orthogonal() {
        for (rows, cols) in [(16, 40), (40, 16), (25, 25)] {
            let w = Tensor(zeros: [rows, cols])
            Orthogonal.fill(w, rows: rows, cols: cols, gain: 1, seed: 9)
            let small = min(rows, cols)
            var worst = 0.0
            for a in 0..<small { for b in 0..<small {
                var d = 0.0
                for k in 0..<max(rows, cols) {
                    d += rows <= cols ? Double(w[a * cols + k]) * Double(w[b * cols + k])
                                      : Double(w[k * cols + a]) * Double(w[k * cols + b])
                }
                worst = max(worst, abs(d - (a == b ? 1 : 0)))
            } }
            #expect(worst < 1e-5, "\(rows)x\(cols): max |WWᵀ − I| = \(worst)")
        }
    }

    @Test("same seed, same bits; another seed, other weights")
    func seeds() throws {
        let a = try net(), b = try net()
        a.initialize(.heNormal(fanOut: false), seed: 5)
        b.initialize(.heNormal(fanOut: false), seed: 5)
        #expect(a.params.values.array.map(\.bitPattern) == b.params.values.array.map(\.bitPattern))
        b.initialize(.heNormal(fanOut: false), seed: 6)
        #expect(a.params.values.array != b.params.values.array)
    }

    @Test("parsing initializer names")
    func parsing() throws {
        #expect(try Initializer(parsing: "he-normal:fan_out") == .heNormal(fanOut: true))
        #expect(try Initializer(parsing: "normal:0.01") == .normal(0.01))
        #expect(throws: InitError.self) { try Initializer(parsing: "he-gaussian") }
        #expect(throws: InitError.self) { try Initializer(parsing: "normal:abc") }
    }

    @Test("LSUV: every layer's output variance within Tol_var of 1 on the same batch")
    func lsuvReachesUnitVariance() throws {
        let net = try Presets.network(.plain22)
        let images = testImages(32 * 784, seed: 3), labels = [Int32](repeating: 0, count: 32)
        var opts = LSUVOptions()
        opts.batchSize = 32
        let report = LSUV.run(net, images: images, labels: labels, options: opts, seed: 1, threads: 1)
        #expect(report.count == 22)
        // check independently: one fresh forward on the same batch, observed (each layer's output written)
        let plan = Plan(net: net, chunking: .whole(32), fused: false)
        plan.setInput(images: images, labels: labels, indices: Array(0..<32)[...])
        plan.forward(training: true)
        for (i, op) in net.ops.enumerated() where op.isWeighted {
            let v = plan.activation(i + 1, chunk: 0).meanVariance().variance
            #expect(abs(v - 1) < opts.tolVar, "\(op.name): variance \(v)")
        }
        #expect(report.allSatisfy { $0.tries <= 3 })
    }

    @Test("LSUV reports a layer with constant output instead of dividing by zero")
    func lsuvZeroVariance() throws {
        let layers: [LayerSpec] = [.conv(out: 3, kernel: 3, stride: 1, padding: 1), .relu, .flatten, .linear(out: 2)]
        let net = try Network(name: "z", input: [1, 4, 4], layers: layers)
        var opts = LSUVOptions(); opts.batchSize = 4
        let report = LSUV.run(net, images: [Float](repeating: 0, count: 64), labels: [0, 1, 0, 1],
                              options: opts, seed: 1, threads: 1)
        #expect(report[0].note.contains("skipped"))
        #expect(net.params.values.allFinite)
    }
}

@Suite("RBM pre-training") struct RBMTests {
    @Test("CD-1 lowers each layer's reconstruction error; convolutional nets are refused")
    func reconstructionFalls() throws {
        var d = try DataSets.load(.synthetic, dir: nil, seed: 3).train
        let (m, s) = d.channelMeanStd()
        d.normalize(mean: m, std: s)
        let net = try Presets.network(.mlpSigmoid)
        net.initialize(.rbm, seed: 1)
        let before = net.params.values.array
        var o = RBMOptions(); o.epochs = 3; o.samples = 512; o.batchSize = 32; o.learningRate = 0.05
        let report = try RBM.pretrain(net, images: d.images, labels: d.labels, options: o, seed: 1, threads: 1)
        #expect(report.count == 3) // three hidden layers; the classifier is left alone
        for r in report {
            #expect(r.reconstructionError.last! < r.reconstructionError.first!, "\(r.layer): \(r.reconstructionError)")
        }
        #expect(net.params.values.array != before)
        #expect(net.params.values.allFinite)
        #expect(throws: InitError.self) {
            try RBM.pretrain(try Presets.network(.cnnSmall), images: d.images, labels: d.labels,
                             options: o, seed: 1, threads: 1)
        }
    }
}
