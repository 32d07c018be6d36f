import GoodInit
import Testing

@Suite("Kernel shapes of a network") struct KernelShapesTests {
    @Test func cnnSmallShapes() throws {
        let net = try Presets.network(.cnnSmall)
        let convs = net.convShapes(batch: 32)
        #expect(convs.map(\.shape.description) == ["N32 C1 H28 W28 K32 3x3 s1 p1", "N32 C32 H28 W28 K32 3x3 s1 p1",
                                                   "N32 C32 H14 W14 K64 3x3 s1 p1", "N32 C64 H14 W14 K64 3x3 s1 p1"])
        #expect(convs.map(\.shape.needsInputGradient) == [false, true, true, true])
        // the same workspace the layers ask for: the shapes are the ones the network runs
        for (u, op) in zip(convs, net.ops.filter { $0 is Conv2d }) {
            #expect(u.shape.workspaceSize == op.workspaceSize(batch: 32))
            #expect([u.shape.k, u.shape.p, u.shape.q] == op.outputShape)
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
