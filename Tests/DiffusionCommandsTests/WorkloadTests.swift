import Testing
@testable import DiffusionCommands
import DiffusionLayers

@Suite("Benchmark workloads match the PyTorch references")
struct WorkloadTests {
    @Test("W1 has the PyTorch MLP's parameter count")
    func w1() {
        let w = W1Workload()
        // inp 192·256+256, three 256·256+256, out 256·2+2
        #expect(w.model.parameterCount == 192 * 256 + 256 + 3 * (256 * 256 + 256) + 256 * 2 + 2)
    }

    @Test("W2 has the PyTorch UNet's 456,161 parameters and a step runs")
    func w2() throws {
        let w = try W2Workload()
        #expect(w.model.parameterCount == 456_161)
        let out = w.model(w.data.slice(axis: 0, 0, 2), Tensor([3, 500]))
        #expect(out.shape == [2, 1, 16, 16])
    }
}
