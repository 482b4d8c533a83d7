import Foundation
import Testing
@testable import DiffusionModels

private let small = DiTConfig(imageSize: 8, patchSize: 2, hiddenSize: 16, depth: 2, heads: 2, classCount: 3)

/// DiTVariant: the four conditioning designs of Peebles & Xie 2023.
@Suite struct DiTVariantTests {
    @Test func ditVariantsHaveTheImageShapeAndOutputZeroAtInitialisation() {
        for mode in DiTConditioning.allCases {
            for classes in [0, 3] {
                var cfg = small
                cfg.classCount = classes
                let net = withParameterSeed(1) { DiTVariant(cfg, conditioning: mode) }
                let x = Tensor.randomNormal([3, 1, 8, 8], seed: 2)
                let y = net(x, Tensor([1, 400, 999]), labels: classes > 0 ? Tensor([0, 2, 3]) : nil)
                #expect(y.shape == [3, 1, 8, 8], "\(mode)")
                // Every design zero-initialises its final linear map.
                #expect(y.scalars.allSatisfy { $0 == 0 }, "\(mode)")
                perturbParameters(net, seed: 4)
                let z = net(x, Tensor([1, 400, 999]), labels: classes > 0 ? Tensor([0, 2, 3]) : nil)
                #expect(z.scalars.allSatisfy(\.isFinite) && z.scalars.contains { $0 != 0 }, "\(mode)")
            }
        }
    }

    @Test func adaLNZeroVariantIsDiTParameterForParameter() {
        let a = withParameterSeed(5) { DiT(small) }, b = withParameterSeed(5) { DiTVariant(small, conditioning: .adaLNZero) }
        #expect(a.parameters().map(\.shape) == b.parameters().map(\.shape))
        perturbParameters(a, seed: 6)
        perturbParameters(b, seed: 6)
        let x = Tensor.randomNormal([2, 1, 8, 8], seed: 7), t = Tensor([3, 700]), y = Tensor([1, 3])
        #expect(a(x, t, labels: y).scalars == b(x, t, labels: y).scalars)
    }

    @Test func parameterCountsOfTheFourDesigns() {
        // Per block: attention 4(D²+D), MLP 8D²+5D; adaLN-Zero adds 6D²+6D, adaLN 4D²+4D, the token designs two affine
        // LayerNorms (4D) and cross-attention another attention and LayerNorm (4D²+6D).
        let (d, L) = (small.hiddenSize, small.depth)
        let shell = conv(1, d, 2) + linear(256, d) + linear(d, d) + 4 * d
        let core = 4 * linear(d, d) + linear(d, 4 * d) + linear(4 * d, d)
        let finalAda = linear(d, 2 * d) + linear(d, 4), finalPlain = 2 * d + linear(d, 4)
        let expected: [DiTConditioning: Int] = [
            .adaLNZero: shell + L * (core + linear(d, 6 * d)) + finalAda,
            .adaLN: shell + L * (core + linear(d, 4 * d)) + finalAda,
            .inContext: shell + L * (core + 4 * d) + finalPlain,
            .crossAttention: shell + L * (core + 4 * d + 4 * linear(d, d) + 2 * d) + finalPlain,
        ]
        for mode in DiTConditioning.allCases {
            #expect(withParameterSeed(0) { DiTVariant(small, conditioning: mode) }.parameterCount == expected[mode]!, "\(mode)")
        }
        #expect(withParameterSeed(0) { DiT(small) }.parameterCount == expected[.adaLNZero]!)
    }

    @Test func onlyTheAdaLNZeroBlockIsTheIdentityAtInitialisation() {
        let d = 16
        var g = RandomGenerator(seed: 8)
        let x = g.normal([2, 5, d]), c = g.normal([2, d]), ctx = g.normal([2, 2, d])
        let zero = withParameterSeed(1) { DiTBlock(hiddenSize: d, heads: 2, mlpRatio: 4) }
        #expect(zero(x, c).scalars == x.scalars)
        let ada = withParameterSeed(1) { DiTAdaLNBlock(hiddenSize: d, heads: 2, mlpRatio: 4) }
        let plain = withParameterSeed(1) { DiTPlainBlock(hiddenSize: d, heads: 2, mlpRatio: 4, crossAttention: true) }
        #expect(ada(x, c).scalars != x.scalars && plain(x, context: ctx).scalars != x.scalars)
    }

    /// At initialisation a loss ⟨G, block(x, c)⟩ sends gradient only to the gate rows of the adaLN-Zero modulation:
    /// ∂/∂b_gate = Σ_tokens G ⊙ F(LN(x)) for each branch F, everything behind a gate (and the shift/scale rows) gets zero.
    @Test func adaLNZeroGradientAtInitialisationReachesOnlyTheGates() {
        let d = 8
        var g = RandomGenerator(seed: 9)
        let x = g.normal([2, 3, d]), c = g.normal([2, d]), G = g.normal([2, 3, d])
        let block = withParameterSeed(2) { DiTBlock(hiddenSize: d, heads: 2, mlpRatio: 4) }
        (block(x, c) * G).sum().backward()
        for (name, p) in block.namedParameters() where !name.hasPrefix("modulation") {
            #expect(p.grad!.scalars.allSatisfy { $0 == 0 }, "\(name)")
        }
        let gb = block.modulation.bias!.grad!.scalars, gw = block.modulation.weight.grad!.scalars
        let gateRows = Set((2 * d..<3 * d).map { $0 } + (5 * d..<6 * d).map { $0 })
        for r in 0..<6 * d where !gateRows.contains(r) {
            #expect(gb[r] == 0 && (0..<d).allSatisfy { gw[r * d + $0] == 0 }, "row \(r)")
        }
        // The closed form: with zero modulation h = x, so the attention gate sees F_A(LN(x)), the MLP gate F_M(LN(x)).
        let (fa, fm) = withNoGrad { (block.attention(block.norm1(x)).scalars, block.mlp(block.norm2(x)).scalars) }
        let gv = G.scalars
        for j in 0..<d {
            var (ea, em) = (0.0, 0.0)
            for k in stride(from: j, to: gv.count, by: d) { ea += Double(gv[k] * fa[k]); em += Double(gv[k] * fm[k]) }
            #expect(abs(Double(gb[2 * d + j]) - ea) < 1e-4 && abs(Double(gb[5 * d + j]) - em) < 1e-4, "gate \(j)")
            #expect(ea != 0 && em != 0)
        }
    }

    /// Central finite differences in Float32 (step 0.01): autograd agrees on one sampled entry of every parameter.
    @Test func ditVariantGradientsMatchFiniteDifferences() {
        for mode in DiTConditioning.allCases {
            let cfg = DiTConfig(imageSize: 4, patchSize: 2, hiddenSize: 8, depth: 1, heads: 2, classCount: 2)
            let net = withParameterSeed(3) { DiTVariant(cfg, conditioning: mode) }
            perturbParameters(net, seed: 10)
            for p in net.parameters() { p.value = p.value * 3 }
            let x = Tensor.randomNormal([2, 1, 4, 4], seed: 11), t = Tensor([20, 600]), y = Tensor([0, 2])
            let probe = Tensor.randomNormal([2, 1, 4, 4], seed: 12)
            func loss() -> Double { withNoGrad { Double((net(x, t, labels: y) * probe).sum().item) } }
            net.zeroGrad()
            (net(x, t, labels: y) * probe).sum().backward()
            var r = RandomGenerator(seed: 13)
            for (name, p) in net.namedParameters() {
                let grad = p.grad!.scalars
                let k = Int(r.integers([1], in: 0..<p.count).scalars[0])
                var v = p.value.scalars
                let h: Float = 1e-2, old = v[k]
                v[k] = old + h; p.value = Tensor(v, shape: p.shape)
                let up = loss()
                v[k] = old - h; p.value = Tensor(v, shape: p.shape)
                let down = loss()
                v[k] = old; p.value = Tensor(v, shape: p.shape)
                let fd = (up - down) / Double(2 * h)
                #expect(abs(fd - Double(grad[k])) <= 2e-2 * max(1, abs(fd)), "\(mode) \(name)[\(k)]: \(fd) vs \(grad[k])")
            }
        }
    }
}
