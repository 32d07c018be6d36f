// The optimizers against PyTorch's formulas, written out here in double precision from
// torch.optim.Adam's and torch.optim.SGD's documented update rules (not from GoodInit's code).
import Foundation
@testable import GoodInit
import Testing

/// swift-numerics' combined tolerance: |a − b| ≤ max(absolute, relative · max(|a|, |b|)).
func isClose(_ a: Double, _ b: Double, absolute: Double, relative: Double) -> Bool {
    abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))
}

@Suite("Optimizers against PyTorch's formulas") struct OptimizerTests {
    /// A net with every parameter role: conv weight and bias, BN γ and β, PReLU slopes, linear.
    func network() throws -> Network {
        let net = try Network(name: "roles", input: [2, 4, 4], layers: [
            .conv(out: 3, kernel: 3, stride: 1, padding: 1, bias: true), .batchNorm, .prelu(shared: false),
            .flatten, .linear(out: 4),
        ])
        let start = testImages(net.params.count, seed: 21)
        for k in 0..<net.params.count { net.params.values[k] = start[k] }
        return net
    }

    /// Whether weight decay applies to value k: weights only, as torch users get with param groups.
    func decays(_ net: Network) -> [Bool] {
        var mask = [Bool](repeating: false, count: net.params.count)
        for e in net.params.entries {
            if case .weight = e.spec.role { for k in e.offset..<(e.offset + e.spec.count) { mask[k] = true } }
        }
        return mask
    }

    /// Step s's gradient: different every step, with both signs and several magnitudes.
    func gradient(_ n: Int, step s: Int) -> [Float] {
        testImages(n, seed: 100 + UInt64(s)).enumerated().map { k, g in g * Float(1 + k % 4) }
    }

    static let rates: [Float] = [0.01, 0.02, 0.005, 0.01, 0.03]

    /// Runs the optimizer over five steps (a changing learning rate, as a schedule gives).
    func run(_ opt: Optimizer, _ net: Network) {
        for (s, lr) in Self.rates.enumerated() {
            let g = gradient(net.params.count, step: s)
            for k in g.indices { net.params.grad[k] = g[k] }
            opt.step(lr: lr)
        }
    }

    /// torch.optim.Adam (amsgrad off): weight_decay adds wd·w to the gradient (L2), unlike
    /// AdamW's decoupled w −= lr·wd·w; bias_correction1 = 1 − β1^t, bias_correction2 = 1 − β2^t,
    /// w −= (lr / bias_correction1) · m / (√v / √bias_correction2 + ε).
    func adamReference(_ w0: [Float], decays: [Bool], wd: Double, decoupled: Bool)
        -> (w: [Double], m: [Double], v: [Double]) {
        let b1 = 0.9, b2 = 0.999, eps = 1e-8
        var w = w0.map(Double.init), m = [Double](repeating: 0, count: w.count), v = m
        for (s, lrf) in Self.rates.enumerated() {
            let t = Double(s + 1), lr = Double(lrf)
            let grad = gradient(w.count, step: s)
            for k in w.indices {
                let d = decays[k] ? wd : 0
                if decoupled { w[k] -= lr * d * w[k] }
                let g = Double(grad[k]) + (decoupled ? 0 : d * w[k])
                m[k] = b1 * m[k] + (1 - b1) * g
                v[k] = b2 * v[k] + (1 - b2) * g * g
                let bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t)
                w[k] -= (lr / bc1) * m[k] / (v[k].squareRoot() / bc2.squareRoot() + eps)
            }
        }
        return (w, m, v)
    }

    @Test("Adam: torch.optim.Adam's L2 decay (not AdamW's), bias correction, 5 steps; no decay on biases, BN, slopes")
    func adam() throws {
        let net = try network(), wd = 0.1
        let w0 = net.params.values.array, mask = decays(net)
        let opt = Optimizer(.adam, store: net.params, momentum: 0.9, weightDecay: Float(wd))
        run(opt, net)
        let ref = adamReference(w0, decays: mask, wd: wd, decoupled: false)
        let w = net.params.values.array, m = opt.state1.array, v = opt.state2.array
        #expect(opt.steps == Self.rates.count)
        for k in w.indices {
            #expect(isClose(Double(w[k]), ref.w[k], absolute: 1e-6, relative: 1e-5), "w[\(k)]: \(w[k]) vs \(ref.w[k])")
            #expect(isClose(Double(m[k]), ref.m[k], absolute: 1e-7, relative: 1e-5), "m[\(k)]")
            // 1 − β2 is formed in float (0.00099998713; torch's float32 kernel gets 0.001f): v sits
            // 1.3e-5 low, relatively. The bias correction uses the same β2, so the update does not.
            #expect(isClose(Double(v[k]), ref.v[k], absolute: 1e-9, relative: 3e-5), "v[\(k)]")
        }
        // the convention matters at this decay: AdamW's decoupled update would land elsewhere
        let adamW = adamReference(w0, decays: mask, wd: wd, decoupled: true)
        #expect(w.indices.contains { mask[$0] && !isClose(Double(w[$0]), adamW.w[$0], absolute: 1e-4, relative: 1e-3) })
        // and so does the mask: decaying everything would move the biases, BN and slopes too
        let all = adamReference(w0, decays: mask.map { _ in true }, wd: wd, decoupled: false)
        #expect(w.indices.contains { !mask[$0] && !isClose(Double(w[$0]), all.w[$0], absolute: 1e-4, relative: 1e-3) })
        #expect(mask.contains(true) && mask.contains(false))
    }

    @Test("SGD: torch.optim.SGD with momentum (no dampening, not Nesterov) and L2 decay on weights only")
    func sgd() throws {
        let net = try network(), wd = 0.05, mu = 0.9
        let w0 = net.params.values.array, mask = decays(net)
        let opt = Optimizer(.sgd, store: net.params, momentum: Float(mu), weightDecay: Float(wd))
        run(opt, net)
        // buf = μ·buf + (g + wd·w) (the first step's buf is g + wd·w: the same from a zero buf); w −= lr·buf
        var w = w0.map(Double.init), buf = [Double](repeating: 0, count: w.count)
        var undecayed = w // what decaying nothing would give
        var bufU = buf
        for (s, lr) in Self.rates.enumerated() {
            let grad = gradient(w.count, step: s)
            for k in w.indices {
                buf[k] = mu * buf[k] + Double(grad[k]) + (mask[k] ? wd * w[k] : 0)
                w[k] -= Double(lr) * buf[k]
                bufU[k] = mu * bufU[k] + Double(grad[k])
                undecayed[k] -= Double(lr) * bufU[k]
            }
        }
        let got = net.params.values.array, velocity = opt.state1.array
        for k in got.indices {
            #expect(isClose(Double(got[k]), w[k], absolute: 1e-6, relative: 1e-5), "w[\(k)]: \(got[k]) vs \(w[k])")
            #expect(isClose(Double(velocity[k]), buf[k], absolute: 1e-6, relative: 1e-5), "velocity[\(k)]")
            if !mask[k] { #expect(isClose(Double(got[k]), undecayed[k], absolute: 1e-6, relative: 1e-5)) }
        }
        #expect(got.indices.contains {
            mask[$0] && !isClose(Double(got[$0]), undecayed[$0], absolute: 1e-5, relative: 1e-4)
        })
    }
}
