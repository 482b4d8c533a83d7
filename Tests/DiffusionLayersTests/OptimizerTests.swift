import Foundation
import Testing
@testable import DiffusionLayers

/// Runs `steps` updates of one scalar parameter starting at 1 with the given gradients.
func trajectory(_ make: ([Parameter]) -> any Optimizer, grads: [Float]) -> [Float] {
    let p = Parameter(Tensor([1]))
    let opt = make([p])
    return grads.map { g in
        p.grad = Tensor([g])
        opt.step()
        return p.value.item
    }
}

@Test func sgdFollowsPyTorchFormulas() {
    let g: [Float] = [0.5, -0.25, 1]
    // Plain: p −= lr·(g + wd·p).
    var p = 1.0, want: [Double] = []
    for gi in g { p -= 0.1 * (Double(gi) + 0.01 * p); want.append(p) }
    expectClose(trajectory({ SGD($0, lr: 0.1, weightDecay: 0.01) }, grads: g), want, tol: 1e-6, "sgd")
    // Momentum (buf = g first, then μ·buf + g) and Nesterov (direction g + μ·buf).
    for nesterov in [false, true] {
        var (p, buf) = (1.0, 0.0)
        want = []
        for (i, gi) in g.enumerated() {
            let d = Double(gi) + 0.01 * p
            buf = i == 0 ? d : 0.9 * buf + d
            p -= 0.1 * (nesterov ? d + 0.9 * buf : buf)
            want.append(p)
        }
        let got = trajectory({ SGD($0, lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: nesterov) }, grads: g)
        expectClose(got, want, tol: 1e-6, nesterov ? "nesterov" : "momentum")
    }
}

@Test func adamAndAdamWFollowPyTorchFormulas() {
    let g: [Float] = [0.5, -0.25, 1, 0.1]
    for decoupled in [false, true] {
        let (lr, b1, b2, eps, wd) = (0.1, 0.9, 0.999, 1e-8, decoupled ? 0.01 : 0.05)
        var (p, m, v) = (1.0, 0.0, 0.0)
        var want: [Double] = []
        for (i, gi) in g.enumerated() {
            var gd = Double(gi)
            if decoupled { p *= 1 - lr * wd } else { gd += wd * p }
            m = b1 * m + (1 - b1) * gd
            v = b2 * v + (1 - b2) * gd * gd
            let t = Double(i + 1)
            p -= lr / (1 - pow(b1, t)) * m / (v.squareRoot() / (1 - pow(b2, t)).squareRoot() + eps)
            want.append(p)
        }
        let got = trajectory({ decoupled ? AdamW($0, lr: lr) : Adam($0, lr: lr, weightDecay: wd) }, grads: g)
        expectClose(got, want, tol: 1e-6, decoupled ? "AdamW" : "Adam")
    }
    // First AdamW step by hand: p·(1 − lr·wd) − lr·ĝ/|ĝ| = 0.999 − 0.1.
    expectClose(trajectory({ AdamW($0, lr: 0.1) }, grads: [0.5]), [0.899], tol: 1e-6, "AdamW step 1")
}

@Test func optimizersSkipFrozenAndGradlessParameters() {
    let a = Parameter(Tensor([1, 2])), b = Parameter(Tensor([3])), c = Parameter(Tensor([4]), frozen: true)
    let opt = AdamW([a, b, c])
    a.grad = Tensor([1, 1])
    opt.step()
    #expect(a.value.scalars != [1, 2] && b.value.scalars == [3] && c.value.scalars == [4])
    #expect(opt.state.steps == [1, 0, 0] && opt.state.slots[1].isEmpty)
    // The leaf survives in-place updates: gradients keep flowing.
    opt.zeroGrad()
    (a.value * a.value).sum().backward()
    #expect(a.grad != nil)
}

@Test func gradientClippingScalesToMaxNorm() {
    let a = Parameter(Tensor([3, 0])), b = Parameter(Tensor([4]))
    a.grad = Tensor([3, 0])
    b.grad = Tensor([4])
    let norm = clipGradNorm([a, b], maxNorm: 1)
    #expect(norm == 5)
    let c = Float(1 / (5 + 1e-6))
    expectClose(a.grad!.scalars + b.grad!.scalars, [3 * c, 0, 4 * c], tol: 1e-7, "clipped")
    #expect(clipGradNorm([a, b], maxNorm: 10) < 1.0001)
    expectClose(a.grad!.scalars + b.grad!.scalars, [3 * c, 0, 4 * c], tol: 1e-7, "below the limit: unchanged")
}

@Test func emaFollowsItsFormula() {
    let m = Linear(1, 1, bias: false)
    m.weight.value = Tensor([1], shape: [1, 1])
    let ema = EMA(m, decay: 0.9)
    var shadow = 1.0
    for target in [2.0, 3.0, -1.0] {
        m.weight.value = Tensor([Float(target)], shape: [1, 1])
        ema.update()
        shadow = 0.9 * shadow + 0.1 * target
    }
    expectClose(ema.shadow[0].value.scalars, [shadow], tol: 1e-6, "EMA")
    #expect(ema.shadow[0].name == "weight" && ema.updates == 3)
    ema.withAveragedParameters { expectClose(m.weight.value.scalars, [shadow], tol: 1e-6, "swapped in") }
    #expect(m.weight.value.scalars == [-1])
    let copy = Linear(1, 1, bias: false)
    ema.copy(to: copy)
    expectClose(copy.weight.value.scalars, [shadow], tol: 1e-6, "copied")

    #expect(Swift.abs(EMA(m, halfLife: 10).targetDecay - pow(0.5, 0.1)) < 1e-15)
    let ratio = EMA(m, decay: 0.999, warmup: .ratio)
    #expect(ratio.decay(afterUpdates: 0) == 0.1 && ratio.decay(afterUpdates: 10) == 11.0 / 20 && ratio.decay(afterUpdates: 100_000) == 0.999)
    let power = EMA(m, decay: 0.9999, warmup: .power(invGamma: 1, power: 0.75))
    #expect(power.decay(afterUpdates: 0) == 0 && Swift.abs(power.decay(afterUpdates: 15) - (1 - pow(16, -0.75))) < 1e-15)
}

@Test func learningRateSchedulesFollowTheirFormulas() {
    #expect(ConstantLR(0.3).lr(at: 1000) == 0.3)
    let w = LinearWarmupLR(peak: 1e-3, warmupSteps: 10)
    #expect(w.lr(at: 0) == 0 && Swift.abs(w.lr(at: 5) - 5e-4) < 1e-18 && w.lr(at: 10) == 1e-3 && w.lr(at: 99) == 1e-3)
    let c = CosineLR(peak: 1, totalSteps: 110, warmupSteps: 10, minimum: 0.1)
    #expect(c.lr(at: 5) == 0.5 && c.lr(at: 10) == 1 && Swift.abs(c.lr(at: 60) - 0.55) < 1e-12 && Swift.abs(c.lr(at: 110) - 0.1) < 1e-12)
    #expect(Swift.abs(c.lr(at: 35) - (0.1 + 0.9 * 0.5 * (1 + cos(Double.pi / 4)))) < 1e-12 && c.lr(at: 500) == c.lr(at: 110))
    let s = StepDecayLR(base: 1, stepSize: 3, gamma: 0.5)
    #expect((0..<7).map { s.lr(at: $0) } == [1, 1, 1, 0.5, 0.5, 0.5, 0.25])
}

@Test func smallNetworkLearnsNonLinearTarget() {
    let net = withParameterSeed(3) { Sequential(Linear(1, 32), SiLU(), Linear(32, 32), SiLU(), Linear(32, 1)) }
    let opt = Adam(net.parameters(), lr: 1e-2)
    let x = Tensor.linspace(-1, 1, count: 64).reshaped([64, 1])
    let y = (x * 3).sin()
    func loss() -> Tensor { (net(x) - y).square().mean() }
    let start = withNoGrad { loss().item }
    for _ in 0..<400 {
        opt.zeroGrad()
        loss().backward()
        opt.step()
    }
    let end = withNoGrad { loss().item }
    #expect(start > 0.1)
    #expect(end < 2e-3, "loss fell from \(start) to \(end)")
}
