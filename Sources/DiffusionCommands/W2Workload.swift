import DiffusionLayers
import Foundation

/// W2: the small conv UNet of torch_w2_unet.py (1×16×16, base 32 channels, GroupNorm(8), one residual block
/// per level, self-attention at 8×8, transposed-conv upsampling; 456,161 parameters).
final class W2UNet: Module {
    /// Residual block: GroupNorm → SiLU → conv, plus a projected time embedding, twice; 1×1 skip when widths differ.
    final class Res: Module {
        let n1: GroupNorm, c1: Conv2d, t: Linear, n2: GroupNorm, c2: Conv2d
        let skip: Conv2d?

        init(_ cin: Int, _ cout: Int, _ tdim: Int) {
            n1 = GroupNorm(groups: 8, channels: cin)
            c1 = Conv2d(cin, cout, kernelSize: 3, padding: 1)
            t = Linear(tdim, cout)
            n2 = GroupNorm(groups: 8, channels: cout)
            c2 = Conv2d(cout, cout, kernelSize: 3, padding: 1)
            skip = cin == cout ? nil : Conv2d(cin, cout, kernelSize: 1)
        }

        func callAsFunction(_ x: Tensor, _ e: Tensor) -> Tensor {
            let te = t(e)
            let h = c1(n1(x).silu()) + te.reshaped(te.shape + [1, 1])
            return c2(n2(h).silu()) + (skip.map { $0(x) } ?? x)
        }
    }

    /// Single-head self-attention over the H·W positions, with a 1×1 conv for q, k, v and the output.
    final class Attn: Module {
        let n: GroupNorm, qkv: Conv2d, o: Conv2d

        init(_ c: Int) {
            n = GroupNorm(groups: 8, channels: c)
            qkv = Conv2d(c, 3 * c, kernelSize: 1)
            o = Conv2d(c, c, kernelSize: 1)
        }

        func callAsFunction(_ x: Tensor) -> Tensor {
            let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            let parts = qkv(n(x)).reshaped([b, 3, c, h * w])
            let q = parts.select(axis: 1, 0), k = parts.select(axis: 1, 1), v = parts.select(axis: 1, 2)
            let a = (q.transposed(1, 2).matmul(k) / Float(c).squareRoot()).softmax(axis: -1)
            return x + o(v.matmul(a.transposed(1, 2)).reshaped([b, c, h, w]))
        }
    }

    static let C = 32
    let tm1 = Linear(C, 4 * C), tm2 = Linear(4 * C, 4 * C)
    let inp = Conv2d(1, C, kernelSize: 3, padding: 1)
    let d1 = Res(C, C, 4 * C)
    let down = Conv2d(C, C, kernelSize: 3, stride: 2, padding: 1)
    let d2 = Res(C, 2 * C, 4 * C)
    let a2 = Attn(2 * C)
    let mid = Res(2 * C, 2 * C, 4 * C)
    let u2 = Res(4 * C, 2 * C, 4 * C)
    let up = ConvTranspose2d(2 * C, 2 * C, kernelSize: 4, stride: 2, padding: 1)
    let u1 = Res(3 * C, C, 4 * C)
    let outNorm = GroupNorm(groups: 8, channels: C)
    let outConv = Conv2d(C, 1, kernelSize: 3, padding: 1)

    func callAsFunction(_ x: Tensor, _ t: Tensor) -> Tensor {
        let e = tm2(tm1(sinusoidalEmbedding(t, dim: Self.C)).silu())
        let h0 = inp(x), h1 = d1(h0, e)
        let h2 = a2(d2(down(h1), e))
        let m = mid(h2, e)
        let u = u2(Tensor.concat([m, h2], axis: 1), e)
        let v = u1(Tensor.concat([up(u), h1], axis: 1), e)
        return outConv(outNorm(v).silu())
    }
}

/// One ε-prediction training step of W2 per call (batch 64, AdamW lr 2e-4).
final class W2Workload {
    let batch = 64, T = 1000
    let model = withParameterSeed(0) { W2UNet() }
    let optimizer: AdamW
    let data: Tensor
    let alphaBar: Tensor
    var rng = RandomGenerator(seed: 0)

    init() throws {
        optimizer = AdamW(model.parameters(), lr: 2e-4)
        data = rng.normal([2000, 1, 16, 16])
        alphaBar = benchAlphaBar(T)
    }

    func step() {
        let x0 = data.indexSelect(axis: 0, indices: rng.integers([batch], in: 0..<2000))
        let t = rng.integers([batch], in: 0..<T)
        let eps = rng.normal([batch, 1, 16, 16])
        let a = alphaBar.indexSelect(axis: 0, indices: t).reshaped([batch, 1, 1, 1])
        let loss = (model(a.sqrt() * x0 + (1 - a).sqrt() * eps, t) - eps).square().mean()
        optimizer.zeroGrad()
        loss.backward()
        optimizer.step()
    }
}
