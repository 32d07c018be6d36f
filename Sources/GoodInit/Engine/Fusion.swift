// Which ReLUs the fused plan folds into their neighbours. A ReLU's forward and backward are each a
// full read and write of an activation the op beside it has just written (7 % of plain30's step,
// 5 % of cnn-small's); fused, they happen on the neighbour's output rows while those are in cache:
//   forward:  a blocked convolution, a batch norm, a residual add or a linear layer with a bias
//             before the ReLU stores max(y, 0) straight into the ReLU's output, and the ReLU does
//             nothing;
//   backward: a blocked convolution or a max pooling after the ReLU stores its input gradient
//             masked by the ReLU's output (y > 0, the test the ReLU's backward makes) straight into
//             the ReLU's input gradient, and the ReLU does nothing; or else, after a residual add,
//             the add's backward reads the ReLU's output gradient and output and sends
//             y > 0 ? dy : 0 both ways.
// And a blocked convolution before a batch norm sums each output row it stores (Σ y, Σ y²) for the
// batch norm's statistics, which the batch norm then adds up instead of reading y back.
// The float expressions are the unfused ones (a select on the stored value; the row sums of one
// function), so the fused plan has the unfused plan's bits: nothing else changes order. The
// unfused activations stay allocated: an observed pass (Plan.fuses = false) writes every one, for
// what reads them (LSUV, init-stats, TensorBoard's per-layer variances, the check that names a
// layer with a non-finite output).

struct Fusion {
    /// ReLU ops whose forward the op before them does in a fused pass.
    let forward: Set<Int>
    /// ReLU ops whose backward the convolution or max pooling after them does in a fused pass.
    let backward: Set<Int>
    /// ReLU ops whose backward the residual add before them does in a fused pass.
    let backwardIntoProducer: Set<Int>
    /// Residual adds whose forward (and that of the ReLU after them) the batch norm before them does
    /// in a fused pass: relu(γ·x̂ + β + skip), each step the unfused ops' float expression.
    let addIntoNorm: Set<Int>
    /// Batch norms (on the blocked layout, after a blocked convolution) whose statistics' row sums
    /// the convolution stores as it writes each output row (ck_bn_store_rows16): the sums the batch
    /// norm would make reading the rows back, so the bits are the same.
    let statsIntoConv: Set<Int>

    init(net: Network) {
        var forward: Set<Int> = [], backward: Set<Int> = [], intoProducer: Set<Int> = []
        let read = Set(net.ops.compactMap(\.skipSource)) // activations a residual also reads
        for (j, op) in net.ops.enumerated() {
            guard let relu = op as? Activation, relu.function == .relu, j > 0 else { continue }
            // the ReLU's input is read by the ReLU alone; its producer can store max(y, 0)
            let producer = net.ops[j - 1]
            let add = (producer as? ResidualAdd).map { !$0.padded } ?? false
            let linear = (producer as? Linear)?.hasBias ?? false // max(y + b, 0) in the bias pass
            if !read.contains(j), !net.aliases(j - 1), producer is BatchNorm || add || linear
                || (producer is Conv2d && net.opLayout(j - 1).output == .blocked) {
                forward.insert(j)
            }
            // after an add whose output only the ReLU reads, and whose gradient only the ReLU writes,
            // the add can take the ReLU's output gradient masked (in a ResNet no op after the ReLU
            // can: its output is the next block's input, which that block's add reads too)
            if add, !read.contains(j), net.storesInputGradient(j) { intoProducer.insert(j) }
            // the ReLU stores its input gradient (its only writer) and the next op, a blocked
            // convolution or a max pooling, stores its own (its only writer): that op can store
            // the ReLU's instead
            guard j + 1 < net.ops.count, !read.contains(j + 1), net.storesInputGradient(j),
                  net.storesInputGradient(j + 1) else { continue }
            let consumer = net.ops[j + 1]
            if (consumer as? Pool2d)?.mode == .max
                || (consumer is Conv2d && net.opLayout(j + 1).output == .blocked) {
                backward.insert(j)
                intoProducer.remove(j)
            }
        }
        self.forward = forward; self.backward = backward; backwardIntoProducer = intoProducer
        // batch norm, add, ReLU: the add's input is read by the add alone, and the ReLU is folded into the add
        statsIntoConv = Set(net.ops.indices.filter { j in
            j > 0 && net.ops[j] is BatchNorm && net.ops[j - 1] is Conv2d && net.opLayout(j - 1).output == .blocked
                && net.opLayout(j).input == .blocked && net.ops[j].inputShape.count == 3
        })
        addIntoNorm = Set(forward.compactMap { j -> Int? in
            guard j >= 2, net.ops[j - 1] is ResidualAdd, net.ops[j - 2] is BatchNorm, !read.contains(j - 1),
                  !net.aliases(j - 2) else { return nil }
            return j - 1
        })
    }
}
