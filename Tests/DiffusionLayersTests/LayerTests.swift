import Foundation
import Testing
@testable import DiffusionLayers

@Test func linearMatchesHandComputation() {
    let l = Linear(2, 3)
    l.weight.value = Tensor(rows: [[1, 2], [3, 4], [5, 6]])
    l.bias!.value = Tensor([0.5, -1, 2])
    let x = Tensor(rows: [[1, -1], [2, 0.5]]).requiringGrad()
    let y = l(x)
    #expect(y.scalars == [-0.5, -2, 1, 3.5, 7, 15])
    y.sum().backward()
    #expect(l.weight.grad!.scalars == [3, -0.5, 3, -0.5, 3, -0.5])
    #expect(l.bias!.grad!.scalars == [2, 2, 2])
    #expect(x.grad!.scalars == [9, 12, 9, 12])
    // Leading axes fold into rows.
    let y3 = l(Tensor([1, -1, 2, 0.5], shape: [2, 1, 2]))
    #expect(y3.shape == [2, 1, 3] && y3.scalars == y.scalars)
    #expect(Linear(2, 3, bias: false).parameterCount == 6)
}

/// Checks d(Σ y·r)/d(input) and d/d(each parameter) against central differences.
func checkGradients(_ module: UnaryModule, input: Tensor, tol: Float = 2e-2, sourceLocation: SourceLocation = #_sourceLocation) {
    var r = RandomGenerator(seed: 5)
    let probe = r.normal(module(input).shape)
    func loss(_ x: Tensor) -> Float { withNoGrad { (module(x) * probe).sum().item } }
    module.zeroGrad()
    let x = input.requiringGrad()
    (module(x) * probe).sum().backward()
    expectClose(x.grad!.scalars, numericGradient(input, loss), tol: tol, "input gradient", sourceLocation: sourceLocation)
    for (name, p) in module.namedParameters() {
        let analytic = p.grad!.scalars
        let saved = p.value.detached()
        let numeric = numericGradient(saved) { v in
            p.value = v
            return loss(input)
        }
        p.value = saved
        expectClose(analytic, numeric, tol: tol, "gradient of \(name)", sourceLocation: sourceLocation)
    }
}

@Test func groupNormMatchesHandComputation() {
    let gn = GroupNorm(groups: 2, channels: 4)
    gn.weight!.value = Tensor([1, 2, 1, 1])
    gn.bias!.value = Tensor([0, 0, 1, 0])
    // One sample, 4 channels × 2 positions; group 0 holds 1…4, group 1 holds 0, 0, 2, 2.
    let x = Tensor([1, 2, 3, 4, 0, 0, 2, 2], shape: [1, 4, 1, 2])
    let s0 = 1 / (1.25 + 1e-5).squareRoot(), s1 = 1 / (1.0 + 1e-5).squareRoot()
    let want = [-1.5 * s0, -0.5 * s0, 2 * 0.5 * s0, 2 * 1.5 * s0, -s1 + 1, -s1 + 1, s1, s1]
    expectClose(gn(x).scalars, want, "GroupNorm")
    checkGradients(gn, input: Tensor.randomNormal([2, 4, 2, 3], seed: 3))
}

@Test func layerNormAndRMSNormMatchHandComputation() {
    let ln = LayerNorm(3)
    let s = 1 / (2.0 / 3.0 + 1e-5).squareRoot()
    expectClose(ln(Tensor(rows: [[1, 2, 3], [2, 2, 2]])).scalars, [-s, 0, s, 0, 0, 0], "LayerNorm")
    ln.weight!.value = Tensor([1, 2, 3])
    ln.bias!.value = Tensor([0.5, 0, -0.5])
    checkGradients(ln, input: Tensor.randomNormal([4, 3], seed: 4))

    let rms = RMSNorm(2)
    #expect(rms.eps == 0x1p-23)
    let r = (12.5 + Double(0x1p-23)).squareRoot()
    expectClose(rms(Tensor([3, 4])).scalars, [3 / r, 4 / r], "RMSNorm")
    rms.weight!.value = Tensor([0.5, 2])
    checkGradients(rms, input: Tensor.randomNormal([3, 2], seed: 6))

    let ln2 = LayerNorm([2, 2])
    #expect(ln2(Tensor([1, 2, 3, 4], shape: [1, 2, 2])).shape == [1, 2, 2])
}

@Test func attentionMatchesHandComputation() {
    let attn = MultiHeadAttention(dim: 2, heads: 1)
    for l in [attn.qProj, attn.kProj, attn.vProj, attn.outProj] {
        l.weight.value = Tensor.eye(2)
        l.bias!.value = Tensor.zeros([2])
    }
    let x = Tensor([1, 0, 0, 1], shape: [1, 2, 2])
    // scores = x·xᵀ/√2 = diag(1/√2): each token weighs itself by σ(1/√2).
    let p = 1 / (1 + exp(-1 / 2.0.squareRoot()))
    expectClose(attn(x).scalars, [p, 1 - p, 1 - p, p], "self-attention")
    expectClose(attn(x, mask: .causal).scalars, [1, 0, 1 - p, p], "causal")
    expectClose(attn(x, mask: .allow(Tensor(rows: [[0, 1], [1, 1]]))).scalars, [0, 1, 1 - p, p], "allow mask")
    expectClose(attn(x, mask: .additive(Tensor(rows: [[0, -.infinity], [0, 0]]))).scalars, [1, 0, 1 - p, p], "additive mask")
}

/// Multi-head cross-attention against a direct Double implementation of the definition.
@Test func crossAttentionMatchesReference() {
    let (dim, heads, cdim, lq, lk) = (4, 2, 3, 3, 2)
    let attn = withParameterSeed(11) { MultiHeadAttention(dim: dim, heads: heads, contextDim: cdim) }
    let x = Tensor.randomNormal([1, lq, dim], seed: 1), c = Tensor.randomNormal([1, lk, cdim], seed: 2)
    let maskRows: [[Float]] = [[1, 1], [0, 1], [1, 0]]
    let got = attn(x, context: c, mask: .allow(Tensor(rows: maskRows))).scalars

    func project(_ l: Linear, _ t: Tensor) -> [[Double]] {
        let w = l.weight.value.scalars.map(Double.init), b = l.bias!.value.scalars.map(Double.init), v = t.scalars.map(Double.init)
        let n = l.inFeatures, rows = v.count / n
        var out: [[Double]] = []
        for r in 0..<rows {
            var row: [Double] = []
            for o in 0..<l.outFeatures {
                var acc = b[o]
                for i in 0..<n { acc += w[o * n + i] * v[r * n + i] }
                row.append(acc)
            }
            out.append(row)
        }
        return out
    }
    let q = project(attn.qProj, x), k = project(attn.kProj, c), v = project(attn.vProj, c)
    let d = dim / heads
    var merged = [Double](repeating: 0, count: lq * dim)
    for h in 0..<heads {
        for i in 0..<lq {
            var s: [Double] = []
            for j in 0..<lk {
                var dot = 0.0
                for t in 0..<d { dot += q[i][h * d + t] * k[j][h * d + t] }
                s.append(maskRows[i][j] == 1 ? dot / Double(d).squareRoot() : -.infinity)
            }
            let m = s.max()!
            let e = s.map { exp($0 - m) }
            let z = e.reduce(0, +)
            for t in 0..<d {
                var acc = 0.0
                for j in 0..<lk { acc += e[j] / z * v[j][h * d + t] }
                merged[i * dim + h * d + t] = acc
            }
        }
    }
    let want = project(attn.outProj, Tensor(merged.map(Float.init), shape: [lq, dim])).flatMap { $0 }
    expectClose(got, want, tol: 1e-5, "cross-attention")
}

@Test func attentionGradients() {
    let attn = withParameterSeed(3) { MultiHeadAttention(dim: 4, heads: 2) }
    checkGradients(attn, input: Tensor.randomNormal([2, 3, 4], seed: 9))
}

@Test func sinusoidalEmbeddingFollowsFormula() {
    let t = Tensor([0, 1, 500])
    let e = sinusoidalEmbedding(t, dim: 8)
    #expect(e.shape == [3, 8])
    var want: [Double] = []
    for tv in [0.0, 1, 500] {
        let f = (0..<4).map { exp(-log(10000.0) * Double($0) / 4) }
        want += f.map { sin(tv * $0) } + f.map { cos(tv * $0) }
    }
    expectClose(e.scalars, want, tol: 1e-4, "sinusoidal")
    // Differentiable in t.
    let tg = Tensor([0.3, 2]).requiringGrad()
    sinusoidalEmbedding(tg, dim: 4).sum().backward()
    let g0 = cos(0.3) + cos(0.3 * 0.01) * 0.01 - sin(0.3) - sin(0.3 * 0.01) * 0.01
    expectClose([tg.grad!.scalars[0]], [g0], tol: 1e-5, "d/dt")

    let rf = withParameterSeed(2) { RandomFourierEmbedding(dim: 6, scale: 16) }
    #expect(rf.weight.isFrozen && rf.parameterCount == 3 && rf.trainableParameterCount == 0)
    let w = rf.weight.value.scalars.map(Double.init)
    let a = w.map { 2 * Double.pi * 0.25 * $0 }
    expectClose(rf(Tensor([0.25])).scalars, a.map(sin) + a.map(cos), tol: 1e-4, "random Fourier")
}

@Test func embeddingLooksUpRows() {
    let e = withParameterSeed(0) { Embedding(5, 3) }
    let w = e.weight.value.scalars
    let y = e(Tensor([4, 0, 4, 2], shape: [2, 2]))
    #expect(y.shape == [2, 2, 3])
    #expect(y.scalars == Array(w[12..<15] + w[0..<3] + w[12..<15] + w[6..<9]))
    y.sum().backward()
    #expect(e.weight.grad!.scalars == [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2])
}

@Test func dropoutIsSeededScaledAndOffInEval() {
    let d = Dropout(0.25, seed: 42)
    let x = Tensor.ones([4000])
    let y = d(x).scalars
    let kept = y.filter { $0 != 0 }
    #expect(kept.allSatisfy { Swift.abs($0 - 4.0 / 3.0) < 1e-6 })
    #expect(Swift.abs(Double(kept.count) / 4000 - 0.75) < 0.03)
    #expect(d(x).scalars != y)  // a fresh mask per call
    #expect(Dropout(0.25, seed: 42)(x).scalars == y)  // same seed, same first mask
    d.eval()
    #expect(d(x).scalars == x.scalars)
}

@Test func sequentialAndResidualCompose() {
    let seq = withParameterSeed(1) { Sequential(Linear(3, 4), GELU(), Linear(4, 3), Tanh()) }
    let x = Tensor.randomNormal([2, 3], seed: 1)
    let manual = (seq.layers[2](seq.layers[0](x).gelu())).tanh()
    #expect(seq(x).scalars == manual.scalars)
    let res = Residual(seq)
    #expect(res(x).scalars == (x + manual).scalars)
    #expect(res.namedParameters().map(\.0) == ["body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias"])
    #expect(ReLU()(Tensor([-1, 2])).scalars == [0, 2] && Identity()(x).scalars == x.scalars)
}
