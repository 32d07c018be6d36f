// Where a training step's time goes, op by op (`goodinit bench train --profile`).
import Dispatch

/// Seconds spent in each op's forward and backward (batch norm's partial sums and combines
/// included) while it is set as a plan's `profile`. Collected with one worker only: with several,
/// the workers run ops side by side and one op's wall time is not its cost.
public final class OpProfile {
    /// Per op: the sums over the profiled steps.
    public private(set) var forward: [Double], backward: [Double]
    /// The rest of a step outside the ops: the loss with its gradient (and zeroing the gradient
    /// buffers, which backward accumulates into), and the sum of the chunks' parameter gradients.
    public private(set) var loss = 0.0, gradientSum = 0.0

    public init(ops: Int) {
        forward = Array(repeating: 0, count: ops); backward = Array(repeating: 0, count: ops)
    }

    public func reset() {
        for i in forward.indices { forward[i] = 0; backward[i] = 0 }
        loss = 0; gradientSum = 0
    }

    enum Slot { case forward(Int), backward(Int), loss, gradientSum }

    func time(_ slot: Slot, _ body: () -> Void) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        switch slot {
        case .forward(let i): forward[i] += s
        case .backward(let i): backward[i] += s
        case .loss: loss += s
        case .gradientSum: gradientSum += s
        }
    }
}
