import CKernels
import GoodInit
import Testing

@Suite("Kernel shapes of a network") struct KernelShapesTests {
    @Test func cnnSmallShapes() throws {
        let net = try Presets.network(.cnnSmall)
        let convs = net.convShapes(batch: 32)
        #expect(convs.map(\.shape.description) == ["N32 C1 H28 W28 K32 3x3 s1 p1", "N32 C32 H28 W28 K32 3x3 s1 p1",
                                                  "N32 C32 H14 W14 K64 3x3 s1 p1", "N32 C64 H14 W14 K64 3x3 s1 p1"])
        #expect(convs.map(\.shape.needsInputGradient) == [false, true, true, true])
        // each shape read from its layer's own configuration, and the workspace C asks for at it
        let layers = net.ops.compactMap { $0 as? Conv2d }
        #expect(layers.count == convs.count) // cnn-small's four convolutions are all distinct
        for (u, op) in zip(convs, layers) {
            let s = u.shape
            #expect([s.c, s.h, s.w] == op.inputShape && [s.k, s.p, s.q] == op.outputShape)
            #expect([s.k, s.r, s.s, s.stride, s.pad] == [op.outChannels, op.kernel, op.kernel, op.stride, op.padding])
            var c = ck_conv2d_shape(N: 32, C: op.inputShape[0], H: op.inputShape[1], W: op.inputShape[2],
                                    K: op.outChannels, R: op.kernel, S: op.kernel, stride: op.stride, pad: op.padding)
            #expect(s.workspaceSize == ck_conv2d_workspace_size(&c))
        }
        let bns = net.batchNormShapes(batch: 32)
        #expect(bns.map(\.shape.description) == ["N32 C32 HW784", "N32 C64 HW196"])
        #expect(bns.map(\.ops) == [["batchnorm1", "batchnorm2"], ["batchnorm3", "batchnorm4"]])
        let gemms = net.gemmShapes(batch: 32)
        #expect(gemms.map(\.shape.description) == ["32x256x3136 NT", "256x3136x32 TN +=", "32x3136x256 NN +=",
                                                   "32x10x256 NT", "10x256x32 TN +=", "32x256x10 NN +="])
    }

    @Test func firstLayerSkipsBackwardData() throws {
        let net = try Presets.network(.mlpSigmoid) // flatten (an alias) then linear1: no input gradient
        let ops = net.gemmShapes(batch: 8).flatMap(\.ops)
        #expect(!ops.contains("linear1 backward-data"))
        #expect(ops.contains("linear2 backward-data"))
        #expect(net.convShapes(batch: 8).isEmpty && net.batchNormShapes(batch: 8).isEmpty)
    }
}
