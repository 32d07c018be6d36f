import CKernels
import Testing

/// The blocked convolution checked through the layout conversions against the NCHW references.
@Suite("Blocked convolution") struct ConvBlockedTests {
    /// (N, C, H, W, K, R, S, stride, pad). 3×3 / stride 1 / pad 1 take the micro-kernels: channels
    /// not a multiple of 16, first layers (C = 1, 3), 7×7 and 1×1 images, rows wider than a tile,
    /// a short last group of output blocks (K = 48). The rest take the generic loops.
    static let shapes: [ck_conv2d_shape] = [
        .init(N: 2, C: 16, H: 8, W: 8, K: 16, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 1, C: 3, H: 7, W: 7, K: 20, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 2, C: 20, H: 5, W: 9, K: 33, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 1, C: 64, H: 7, W: 7, K: 64, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 2, C: 32, H: 14, W: 14, K: 32, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 1, C: 1, H: 28, W: 28, K: 16, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 1, C: 17, H: 1, W: 1, K: 5, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 1, C: 16, H: 3, W: 30, K: 48, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 3, C: 8, H: 2, W: 2, K: 16, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 1, C: 5, H: 17, W: 13, K: 18, R: 3, S: 3, stride: 2, pad: 0),
        .init(N: 2, C: 18, H: 9, W: 11, K: 7, R: 1, S: 1, stride: 1, pad: 0),
        .init(N: 1, C: 2, H: 12, W: 12, K: 17, R: 5, S: 3, stride: 3, pad: 2),
        .init(N: 2, C: 17, H: 6, W: 5, K: 33, R: 3, S: 3, stride: 1, pad: 2),
        // One output block (K ≤ 16 forward, C ≤ 16 backward-data): rows in pairs or strips; odd H (a
        // lone last row), H = 1..3, W past one tile and not a multiple of it, two input blocks, H past
        // one band of rows.
        .init(N: 2, C: 16, H: 5, W: 29, K: 16, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 1, C: 12, H: 3, W: 15, K: 16, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 2, C: 20, H: 2, W: 17, K: 9, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 1, C: 16, H: 1, W: 30, K: 16, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 1, C: 16, H: 11, W: 3, K: 24, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 1, C: 16, H: 30, W: 10, K: 16, R: 3, S: 3, stride: 1, pad: 1),
    ]

    /// One shape's passes: NCHW / KCRS in and out, blocked inside.
    struct Blocked: ConvShaped {
        var s: ck_conv2d_shape

        func toBlocked(_ a: [Float], _ c: Int, _ h: Int, _ w: Int) -> Buf {
            let b = Buf(ck_blocked_size(s.N, c, h, w), fill: .nan)
            ck_blocked_from_nchw(b.p, Buf(a).p, s.N, c, h, w)
            return b
        }
        func fromBlocked(_ b: Buf, _ c: Int, _ h: Int, _ w: Int) -> [Float] {
            let a = Buf(s.N * c * h * w)
            ck_blocked_to_nchw(a.p, b.p, s.N, c, h, w)
            return a.array
        }
        func weights(_ w: [Float]) -> Buf {
            let b = Buf(ck_blocked_weights_size(s.K, s.C, s.R, s.S), fill: .nan)
            ck_blocked_weights_from_kcrs(b.p, Buf(w).p, s.K, s.C, s.R, s.S)
            return b
        }
        var ws: Buf { Buf(withUnsafePointer(to: s) { ck_conv2d_blocked_workspace_size($0) }) }

        func forward(_ x: [Float], _ w: [Float], _ b: [Float]?, ref: Bool) -> [Float] {
            withUnsafePointer(to: s) { sp in
                if ref {
                    let y = Buf(yCount)
                    ck_ref_conv2d_forward(y.p, Buf(x).p, Buf(w).p, b.map { Buf($0).p }, sp)
                    return y.array
                }
                let y = Buf(ck_blocked_size(s.N, s.K, P, Q), fill: .nan)
                let xb = toBlocked(x, s.C, s.H, s.W)
                ck_conv2d_blocked_forward(y.p, xb.p, weights(w).p, b.map { Buf($0).p }, 0, sp, ws.p)
                return fromBlocked(y, s.K, P, Q)
            }
        }
        func backwardData(_ dy: [Float], _ w: [Float], start: [Float], ref: Bool) -> [Float] {
            withUnsafePointer(to: s) { sp in
                if ref {
                    let dx = Buf(start)
                    ck_ref_conv2d_backward_data(dx.p, Buf(dy).p, Buf(w).p, sp)
                    return dx.array
                }
                let dx = toBlocked(start, s.C, s.H, s.W)
                ck_conv2d_blocked_backward_data(dx.p, toBlocked(dy, s.K, P, Q).p, weights(w).p, 1, nil, sp, ws.p)
                return fromBlocked(dx, s.C, s.H, s.W)
            }
        }
        /// dw followed by db (K values starting at `dbStart`).
        func backwardWeights(_ dy: [Float], _ x: [Float], start: [Float], dbStart: [Float], ref: Bool) -> [Float] {
            withUnsafePointer(to: s) { sp in
                let db = Buf(dbStart)
                if ref {
                    let dw = Buf(start)
                    ck_ref_conv2d_backward_weights(dw.p, db.p, Buf(dy).p, Buf(x).p, sp)
                    return dw.array + db.array
                }
                let dwb = weights(start), dw = Buf(wCount)
                let dyb = toBlocked(dy, s.K, P, Q), xb = toBlocked(x, s.C, s.H, s.W)
                ck_conv2d_blocked_backward_weights(dwb.p, db.p, dyb.p, xb.p, sp, ws.p)
                ck_blocked_weights_to_kcrs(dw.p, dwb.p, s.K, s.C, s.R, s.S)
                return dw.array + db.array
            }
        }
    }

    @Test("layouts round-trip, padding channels are zero")
    func layouts() {
        var rng = TestRNG(50)
        let (n, c, h, w) = (2, 19, 3, 5)
        let x = rng.ints(n * c * h * w), back = Buf(x.count)
        let xb = Buf(ck_blocked_size(n, c, h, w), fill: .nan)
        ck_blocked_from_nchw(xb.p, Buf(x).p, n, c, h, w)
        ck_blocked_to_nchw(back.p, xb.p, n, c, h, w)
        expectBitwise(back.array, x, "activations round trip")
        #expect(xb[((1 * 2 + 1) * h * w + 4) * 16 + 2] == x[(1 * c + 18) * h * w + 4], "image 1, channel 18, pixel 4")
        let pads = (0..<n).flatMap { i in
            (0..<h * w).flatMap { p in (3..<16).map { ((i * 2 + 1) * h * w + p) * 16 + $0 } }
        }
        #expect(pads.allSatisfy { xb[$0] == 0 }, "padding channels of the last block")
        let (k, r, sz) = (33, 3, 2)
        let wt = rng.ints(k * c * r * sz), wback = Buf(wt.count)
        let wb = Buf(ck_blocked_weights_size(k, c, r, sz), fill: .nan)
        ck_blocked_weights_from_kcrs(wb.p, Buf(wt).p, k, c, r, sz)
        ck_blocked_weights_to_kcrs(wback.p, wb.p, k, c, r, sz)
        expectBitwise(wback.array, wt, "weights round trip")
        #expect(!wb.array.contains { $0.isNaN }, "every padding weight written")
    }

    @Test("small integers: all three passes exact, every kernel variant", arguments: shapes.indices, kernelISAs)
    func exact(_ i: Int, isa: Int32) {
        let r = Blocked(s: Self.shapes[i])
        var rng = TestRNG(UInt64(i + 60))
        let x = rng.ints(r.xCount), w = rng.ints(r.wCount), b = rng.ints(r.s.K), dy = rng.ints(r.yCount)
        let dx0 = rng.ints(r.xCount), dw0 = rng.ints(r.wCount), db0 = rng.ints(r.s.K)
        let what = "\(isaName(isa)) shape \(i)"
        withISA(isa) {
            expectBitwise(r.forward(x, w, b, ref: false), r.forward(x, w, b, ref: true), "forward \(what)")
            expectBitwise(r.forward(x, w, nil, ref: false), r.forward(x, w, nil, ref: true), "forward no bias \(what)")
            expectBitwise(r.backwardData(dy, w, start: dx0, ref: false), r.backwardData(dy, w, start: dx0, ref: true),
                          "backward data \(what)")
            expectBitwise(r.backwardWeights(dy, x, start: dw0, dbStart: db0, ref: false),
                          r.backwardWeights(dy, x, start: dw0, dbStart: db0, ref: true), "backward weights \(what)")
        }
    }

    @Test("random inputs within rtol 1e-4 / atol 1e-4 of the double reference, every kernel variant",
          arguments: shapes.indices, kernelISAs)
    func random(_ i: Int, isa: Int32) {
        let r = Blocked(s: Self.shapes[i])
        var rng = TestRNG(UInt64(i + 80))
        let x = rng.uniform(r.xCount), w = rng.uniform(r.wCount), b = rng.uniform(r.s.K), dy = rng.uniform(r.yCount)
        let dx0 = rng.uniform(r.xCount), dw0 = rng.uniform(r.wCount), db0 = rng.uniform(r.s.K)
        let what = "\(isaName(isa)) shape \(i)"
        withISA(isa) {
            expectClose(r.forward(x, w, b, ref: false), r.forward(x, w, b, ref: true), rtol: 1e-4, atol: 1e-4,
                        "forward \(what)")
            expectClose(r.backwardData(dy, w, start: dx0, ref: false), r.backwardData(dy, w, start: dx0, ref: true),
                        rtol: 1e-4, atol: 1e-4, "backward data \(what)")
            expectClose(r.backwardWeights(dy, x, start: dw0, dbStart: db0, ref: false),
                        r.backwardWeights(dy, x, start: dw0, dbStart: db0, ref: true), rtol: 1e-4, atol: 1e-4,
                        "backward weights \(what)")
        }
    }

    /// Every pass of one shape on one variant, concatenated.
    func allPasses(_ r: Blocked, seed: UInt64) -> [Float] {
        var rng = TestRNG(seed)
        let x = rng.uniform(r.xCount), w = rng.uniform(r.wCount), b = rng.uniform(r.s.K), dy = rng.uniform(r.yCount)
        let dx0 = rng.uniform(r.xCount), dw0 = rng.uniform(r.wCount), db0 = rng.uniform(r.s.K)
        return r.forward(x, w, b, ref: false) + r.backwardData(dy, w, start: dx0, ref: false)
            + r.backwardWeights(dy, x, start: dw0, dbStart: db0, ref: false)
    }

    static let threadShapes: [ck_conv2d_shape] = [
        .init(N: 3, C: 32, H: 14, W: 14, K: 48, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 5, C: 16, H: 7, W: 7, K: 64, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 2, C: 20, H: 9, W: 9, K: 17, R: 3, S: 3, stride: 2, pad: 1),
        .init(N: 3, C: 16, H: 30, W: 10, K: 16, R: 3, S: 3, stride: 1, pad: 1),
    ]

    @Test("bitwise identical for 1-4 threads, every pass, per kernel variant", arguments: kernelISAs)
    func threadCounts(isa: Int32) {
        withISA(isa) {
            for (i, s) in Self.threadShapes.enumerated() {
                expectSameForThreadCounts("\(isaName(isa)) shape \(i)") { allPasses(Blocked(s: s), seed: 90) }
            }
        }
    }

    /// A thin layer's weight gradient: its images in groups, each summed image by image, the groups
    /// added in order. 6 units (16 → 16): 32 groups make 192 tasks, 3 for each of 64 threads; fewer
    /// images than that, one group each.
    @Test("a thin layer's weight gradient: 40 images in 32 groups, 23 in 23, each summed, added in order",
          arguments: kernelISAs)
    func weightGroups(isa: Int32) {
        for (images, groups) in [(40, 32), (23, 23)] {
            let s = ck_conv2d_shape(N: images, C: 16, H: 8, W: 8, K: 16, R: 3, S: 3, stride: 1, pad: 1)
            let full = Blocked(s: s)
            var rng = TestRNG(61)
            let x = rng.uniform(full.xCount), dy = rng.uniform(full.yCount)
            let perX = full.xCount / s.N, perY = full.yCount / s.N
            withISA(isa) {
                let whole = full.backwardWeights(dy, x, start: Array(repeating: 0, count: full.wCount),
                                                 dbStart: Array(repeating: 0, count: s.K), ref: false)
                var total: [Float] = [], n0 = 0
                for g in 0..<groups { // the first N mod G groups one image larger
                    let size = images / groups + (g < images % groups ? 1 : 0)
                    var gs = s
                    gs.N = size
                    let part = Blocked(s: gs)
                    let dw = part.backwardWeights(Array(dy[n0 * perY..<(n0 + size) * perY]),
                                                  Array(x[n0 * perX..<(n0 + size) * perX]),
                                                  start: Array(repeating: 0, count: full.wCount),
                                                  dbStart: Array(repeating: 0, count: s.K), ref: false)
                        .prefix(full.wCount)
                    total = g == 0 ? Array(dw) : zip(total, dw).map { $0 + $1 }
                    n0 += size
                }
                #expect(n0 == s.N)
                expectBitwise(Array(whole.prefix(full.wCount)), total, "\(isaName(isa)): \(images) images, grouped dw")
            }
        }
    }

    @Test("AVX2 and AVX-512 give the same bits (same FMAs in the same order); portable within tolerance")
    func variantsAgree() {
        for (i, s) in (Self.shapes + Self.threadShapes).enumerated() {
            let results = kernelISAs.map { isa in withISA(isa) { allPasses(Blocked(s: s), seed: 100) } }
            for (j, r) in results.enumerated().dropFirst() {
                expectClose(r, results[0], rtol: 1e-4, atol: 1e-4, "\(isaName(kernelISAs[j])) vs portable \(i)")
            }
            if results.count == 3 { expectBitwise(results[1], results[2], "avx2 vs avx512 shape \(i)") }
        }
    }

    @Test("ck_conv2d_blocked_kernel_name follows the calling thread's variant", arguments: kernelISAs)
    func kernelName(isa: Int32) {
        let name = withISA(isa) { String(cString: ck_conv2d_blocked_kernel_name()) }
        #expect(name.hasPrefix(isaName(isa)), "\(name) for \(isaName(isa))")
    }
}
