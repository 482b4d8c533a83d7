import Foundation
import Testing
@testable import DiffusionLayers

@Test func conv2dMatchesHandComputation() {
    let conv = Conv2d(1, 2, kernelSize: 2)
    #expect(conv.weight.shape == [2, 1, 2, 2] && conv.parameterCount == 10)
    conv.weight.value = Tensor([1, 1, 1, 1, 1, 0, 0, -1], shape: [2, 1, 2, 2])
    conv.bias!.value = Tensor([0.5, 0])
    let x = Tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], shape: [1, 1, 3, 3])
    // Channel 0: 2×2 window sums + 0.5; channel 1: top-left − bottom-right = −4 everywhere.
    #expect(conv(x).scalars == [12.5, 16.5, 24.5, 28.5, -4, -4, -4, -4])
    let strided = Conv2d(2, 3, kernelSize: 3, stride: 2, padding: 1)
    #expect(strided(Tensor.zeros([1, 2, 5, 5])).shape == [1, 3, 3, 3])
    // Default init: U(±1/√fan_in), fan_in = 2·3·3.
    #expect(strided.weight.value.scalars.allSatisfy { Swift.abs($0) <= 1 / Float(18).squareRoot() })
    checkGradients(withParameterSeed(4) { Conv2d(2, 2, kernelSize: 3, padding: 1) }, input: Tensor.randomNormal([1, 2, 3, 3], seed: 2))
}

@Test func convTranspose2dMatchesHandComputation() {
    let up = ConvTranspose2d(1, 1, kernelSize: 2, stride: 2)
    #expect(up.weight.shape == [1, 1, 2, 2])
    up.weight.value = Tensor([1, 2, 3, 4], shape: [1, 1, 2, 2])
    up.bias!.value = Tensor([1])
    // Each input pixel stamps v·kernel into its own 2×2 block.
    let y = up(Tensor([1, -1], shape: [1, 1, 1, 2]))
    #expect(y.shape == [1, 1, 2, 4] && y.scalars == [2, 3, 0, -1, 4, 5, -2, -3])
    let w2 = ConvTranspose2d(4, 6, kernelSize: 4, stride: 2, padding: 1, groups: 2)
    #expect(w2.weight.shape == [4, 3, 4, 4] && w2(Tensor.zeros([1, 4, 8, 8])).shape == [1, 6, 16, 16])
    checkGradients(withParameterSeed(5) { ConvTranspose2d(2, 2, kernelSize: 4, stride: 2, padding: 1) },
                   input: Tensor.randomNormal([1, 2, 2, 2], seed: 3))
}

/// The W2 anchor UNet of the bench (`torch_w2_unet.py`), layer for layer.
final class W2Res: Module {
    let n1: GroupNorm, c1: Conv2d, t: Linear, n2: GroupNorm, c2: Conv2d
    let skip: Conv2d?
    init(_ cin: Int, _ cout: Int, _ tdim: Int) {
        n1 = GroupNorm(groups: 8, channels: cin); c1 = Conv2d(cin, cout, kernelSize: 3, padding: 1)
        t = Linear(tdim, cout)
        n2 = GroupNorm(groups: 8, channels: cout); c2 = Conv2d(cout, cout, kernelSize: 3, padding: 1)
        skip = cin != cout ? Conv2d(cin, cout, kernelSize: 1) : nil
        super.init()
    }
    func callAsFunction(_ x: Tensor, _ e: Tensor) -> Tensor {
        var h = c1(n1(x).silu()) + t(e).unsqueezed(-1).unsqueezed(-1)
        h = c2(n2(h).silu())
        return h + (skip.map { $0(x) } ?? x)
    }
}

final class W2Attn: Module {
    let n: GroupNorm, qkv: Conv2d, o: Conv2d
    init(_ c: Int) { n = GroupNorm(groups: 8, channels: c); qkv = Conv2d(c, 3 * c, kernelSize: 1); o = Conv2d(c, c, kernelSize: 1); super.init() }
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let qkv = self.qkv(n(x)).reshaped([b, 3, c, h * w])
        let (q, k, v) = (qkv.select(axis: 1, 0), qkv.select(axis: 1, 1), qkv.select(axis: 1, 2))
        let a = (q.transposed(1, 2).matmul(k) / Float(c).squareRoot()).softmax(axis: -1)
        return x + o(v.matmul(a.transposed(1, 2)).reshaped([b, c, h, w]))
    }
}

final class W2UNet: Module {
    static let C = 32
    let tm = Sequential(Linear(C, 4 * C), SiLU(), Linear(4 * C, 4 * C))
    let inp = Conv2d(1, C, kernelSize: 3, padding: 1)
    let d1 = W2Res(C, C, 4 * C)
    let down = Conv2d(C, C, kernelSize: 3, stride: 2, padding: 1)
    let d2 = W2Res(C, 2 * C, 4 * C)
    let a2 = W2Attn(2 * C)
    let mid = W2Res(2 * C, 2 * C, 4 * C)
    let u2 = W2Res(4 * C, 2 * C, 4 * C)
    let up = ConvTranspose2d(2 * C, 2 * C, kernelSize: 4, stride: 2, padding: 1)
    let u1 = W2Res(3 * C, C, 4 * C)
    let out = Sequential(GroupNorm(groups: 8, channels: C), SiLU(), Conv2d(C, 1, kernelSize: 3, padding: 1))

    func callAsFunction(_ x: Tensor, _ t: Tensor) -> Tensor {
        let e = tm(sinusoidalEmbedding(t, dim: Self.C))
        let h1 = d1(inp(x), e)
        let h2 = a2(d2(down(h1), e))
        let m = mid(h2, e)
        let u = u2(Tensor.concat([m, h2], axis: 1), e)
        return out(u1(Tensor.concat([up(u), h1], axis: 1), e))
    }
}

@Test func w2UNetHasPyTorchParameterCount() {
    let net = withParameterSeed(0) { W2UNet() }
    #expect(net.parameterCount == 456_161)  // printed by torch_w2_unet.py
    let names = net.namedParameters().map(\.0)
    #expect(names.prefix(4) == ["tm.0.weight", "tm.0.bias", "tm.2.weight", "tm.2.bias"])
    #expect(names.contains("d2.skip.weight") && names.contains("a2.qkv.weight") && names.contains("out.2.bias") && !names.contains("d1.skip.weight"))
    let y = net(Tensor.randomNormal([2, 1, 16, 16], seed: 1), Tensor([3, 700]))
    #expect(y.shape == [2, 1, 16, 16])
}
