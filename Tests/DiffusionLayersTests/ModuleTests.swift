import Testing
@testable import DiffusionLayers

final class Block: Module {
    let conv1 = Linear(4, 4)
    let norm: LayerNorm? = LayerNorm(4)
    let missing: Linear? = nil
    let scale = Parameter([1], .ones)
}

class Base: Module {
    let stem = Linear(2, 4)
}

final class Net: Base {
    let down = [Block(), Block()]
    let heads: [String: Linear] = ["b": Linear(4, 1), "a": Linear(4, 2)]
    let tail = Sequential(Linear(4, 3), SiLU(), Linear(3, 1))
    let notAModule = 42
}

@Test func parameterNamesFollowPyTorch() {
    let net = withParameterSeed(0) { Net() }
    let names = net.namedParameters().map(\.0)
    #expect(names == [
        "stem.weight", "stem.bias",
        "down.0.scale", "down.0.conv1.weight", "down.0.conv1.bias", "down.0.norm.weight", "down.0.norm.bias",
        "down.1.scale", "down.1.conv1.weight", "down.1.conv1.bias", "down.1.norm.weight", "down.1.norm.bias",
        "heads.a.weight", "heads.a.bias", "heads.b.weight", "heads.b.bias",
        "tail.0.weight", "tail.0.bias", "tail.2.weight", "tail.2.bias",
    ])
    #expect(net.namedModules().map(\.0).prefix(4) == ["", "stem", "down.0", "down.0.conv1"])
    // 12 + 2·(1 + 20 + 8) + 10 + 5 + 15 + 4
    #expect(net.parameterCount == 12 + 2 * 29 + 10 + 5 + 15 + 4)
}

@Test func w1MLPHasPyTorchParameterCount() {
    let m = withParameterSeed(0) { W1MLP() }
    // nn.Linear(192,256): 192·256 + 256; 3 × nn.Linear(256,256): 256·256 + 256; nn.Linear(256,2): 256·2 + 2.
    let expected = (192 * 256 + 256) + 3 * (256 * 256 + 256) + (256 * 2 + 2)
    #expect(expected == 247_298)
    #expect(m.parameterCount == expected)
    #expect(m.namedParameters().map(\.0) == ["inp.weight", "inp.bias", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                                              "blocks.1.bias", "blocks.2.weight", "blocks.2.bias", "out.weight", "out.bias"])
    let y = m(Tensor.zeros([5, 2]), Tensor.ones([5]))
    #expect(y.shape == [5, 2])
}

@Test func sharedModulesAreListedOnce() {
    final class Tied: Module {
        let a: Linear
        let b: Linear
        init(_ l: Linear) { a = l; b = l; super.init() }
    }
    let t = Tied(Linear(2, 2))
    #expect(t.namedParameters().map(\.0) == ["a.weight", "a.bias"])
    #expect(t.parameterCount == 6)
}

@Test func seededInitialisationIsDeterministicAndBounded() {
    let a = withParameterSeed(7) { Linear(16, 8) }, b = withParameterSeed(7) { Linear(16, 8) }
    let c = withParameterSeed(8) { Linear(16, 8) }
    #expect(a.weight.value.scalars == b.weight.value.scalars)
    #expect(a.bias!.value.scalars == b.bias!.value.scalars)
    #expect(a.weight.value.scalars != c.weight.value.scalars)
    #expect(a.weight.value.scalars != a.bias!.value.scalars.prefix(8).map { $0 } + Array(repeating: 0, count: 120))
    let bound: Float = 1 / 4  // 1/√16
    #expect(a.weight.value.scalars.allSatisfy { Swift.abs($0) <= bound })
    #expect(a.weight.value.scalars.contains { Swift.abs($0) > bound / 2 })
    let norm = GroupNorm(groups: 2, channels: 4)
    #expect(norm.weight!.value.scalars == [1, 1, 1, 1] && norm.bias!.value.scalars == [0, 0, 0, 0])
    let e = withParameterSeed(1) { Embedding(100, 50) }.weight.value.scalars
    let mean = e.reduce(0, +) / Float(e.count), std = (e.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(e.count)).squareRoot()
    #expect(Swift.abs(mean) < 0.05 && Swift.abs(std - 1) < 0.05)
}

@Test func modesFreezingAndGradients() {
    let net = withParameterSeed(0) { Net() }
    #expect(net.namedModules().allSatisfy { $0.1.isTraining })
    net.eval()
    #expect(net.namedModules().allSatisfy { !$0.1.isTraining })
    net.train()
    #expect(net.tail.layers[1].isTraining)

    let x = Tensor.ones([3, 2])
    net.tail(net.down[0].conv1(net.stem(x))).sum().backward()
    #expect(net.stem.weight.grad != nil && net.tail.layers[2].parameters()[0].grad != nil)
    net.zeroGrad()
    #expect(net.parameters().allSatisfy { $0.grad == nil })

    net.stem.freeze()
    #expect(net.trainableParameterCount == net.parameterCount - 12)
    net.tail(net.down[0].conv1(net.stem(x))).sum().backward()
    #expect(net.stem.weight.grad == nil && net.down[0].conv1.weight.grad != nil)
    net.unfreeze()
    #expect(!net.stem.weight.isFrozen && net.stem.weight.value.requiresGrad)
}

@Test func parameterSeedsAreTaskLocal() async {
    let reference = (0..<4).map { s in withParameterSeed(UInt64(s)) { Linear(8, 8).weight.value.scalars } }
    let concurrent = await withTaskGroup(of: (Int, [Float]).self) { group in
        for s in 0..<4 {
            group.addTask {
                // Yield between draws so the tasks interleave; each keeps its own context.
                let v = await withParameterSeed(UInt64(s)) { () async -> [Float] in
                    let a = Linear(8, 8)
                    await Task.yield()
                    _ = Linear(8, 8)
                    return a.weight.value.scalars
                }
                return (s, v)
            }
        }
        var out = [[Float]](repeating: [], count: 4)
        for await (s, v) in group { out[s] = v }
        return out
    }
    #expect(concurrent == reference)
}
