import Foundation
import Testing
@testable import DiffusionLayers

@Suite("LoRA adapters and weight quantisation")
struct LoRAQuantizationTests {
    static func input(_ n: Int, _ d: Int, seed: UInt64 = 3) -> Tensor { var r = RandomGenerator(seed: seed); return r.normal([n, d]) }

    /// x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ written out in Double.
    static func reference(_ x: Tensor, _ W: Tensor, _ b: Tensor, _ A: Tensor, _ B: Tensor, _ s: Double) -> [Float] {
        let (n, i) = (x.shape[0], x.shape[1]), (o, r) = (W.shape[0], A.shape[0])
        let (xs, ws, bs, as_, bb) = (x.scalars, W.scalars, b.scalars, A.scalars, B.scalars)
        var out = [Float](repeating: 0, count: n * o)
        for p in 0..<n {
            let ax = (0..<r).map { k in (0..<i).reduce(0.0) { $0 + Double(as_[k * i + $1]) * Double(xs[p * i + $1]) } }
            for q in 0..<o {
                var v = Double(bs[q])
                for j in 0..<i { v += Double(ws[q * i + j]) * Double(xs[p * i + j]) }
                for k in 0..<r { v += s * Double(bb[q * r + k]) * ax[k] }
                out[p * o + q] = Float(v)
            }
        }
        return out
    }

    @Test("LoRA with B = 0 is the base; with B ≠ 0 it is W₀x + b + (α/r)·BAx; merged equals unmerged")
    func loraForward() {
        withParameterSeed(11) {
            let base = Linear(6, 5)
            let x = Self.input(7, 6)
            let y0 = base(x).scalars
            let lora = LoRALinear(base, rank: 2, alpha: 3)
            #expect(lora.scaling == 1.5)
            #expect(lora(x).scalars == y0, "B = 0 must give the base exactly")
            var g = RandomGenerator(seed: 5)
            lora.loraB.value = g.normal([5, 2])
            let want = Self.reference(x, base.weight.value, base.bias!.value, lora.loraA.value, lora.loraB.value, 1.5)
            expectClose(lora(x).scalars, want, tol: 1e-5, "LoRA forward")
            let w0 = base.weight.value.scalars
            lora.merge()
            expectClose(lora(x).scalars, want, tol: 1e-5, "merged forward")
            lora.unmerge()
            expectClose(base.weight.value.scalars, w0, tol: 1e-6, "unmerge restores W₀")
            expectClose(lora(x).scalars, want, tol: 1e-5, "unmerged again")
        }
    }

    @Test("Only A and B train; at B = 0 the gradient reaches B alone, ∂L/∂B = s·Gᵀ(xAᵀ)")
    func loraGradients() {
        withParameterSeed(12) {
            let lora = LoRALinear(Linear(4, 3), rank: 2)
            #expect(lora.trainableParameters().map(ObjectIdentifier.init) == [ObjectIdentifier(lora.loraA), ObjectIdentifier(lora.loraB)])
            #expect(lora.trainableParameterCount == 2 * (4 + 3) && lora.parameterCount == 4 * 3 + 3 + 14)
            let x = Self.input(5, 4)
            lora(x).square().sum().backward()
            #expect(lora.base.weight.grad == nil && lora.base.bias!.grad == nil)
            #expect(lora.loraA.grad!.scalars.allSatisfy { $0 == 0 }, "∂L/∂A = s·Bᵀ·G·x = 0 while B = 0")
            // G = ∂L/∂y = 2y with y the base output; ∂L/∂B = s·Gᵀ·(x·Aᵀ), s = 1.
            let y = lora.base(x).scalars, xs = x.scalars, A = lora.loraA.value.scalars
            var want = [Float](repeating: 0, count: 6)
            for q in 0..<3 { for k in 0..<2 {
                var v = 0.0
                for p in 0..<5 {
                    let ax = (0..<4).reduce(0.0) { $0 + Double(A[k * 4 + $1]) * Double(xs[p * 4 + $1]) }
                    v += 2 * Double(y[p * 3 + q]) * ax
                }
                want[q * 2 + k] = Float(v)
            } }
            expectClose(lora.loraB.grad!.scalars, want, tol: 1e-4, "∂L/∂B")
            #expect(want.contains { Swift.abs($0) > 1e-3 })
        }
    }

    @Test("Per-channel symmetric quantisation: integer codes in ±q_max, row maxima exact, error ≤ Δ/2, idempotent")
    func quantization() {
        var g = RandomGenerator(seed: 9)
        let w = g.normal([6, 33]) * Tensor((0..<6).map { Float($0 + 1) }).reshaped([6, 1])
        for q in [WeightQuantization.int8, .int4, WeightQuantization(bits: 3)] {
            let (codes, scales) = q.codes(w)
            let top = Float(q.qMax)
            #expect(codes.scalars.allSatisfy { $0 == $0.rounded() && Swift.abs($0) <= top })
            let fq = q.fakeQuantize(w).scalars, ws = w.scalars
            for r in 0..<6 {
                let row = ws[(r * 33)..<(r * 33 + 33)]
                let m = row.map(Swift.abs).max()!
                #expect(Swift.abs(scales[r] - m / top) <= 1e-7 * m)
                for j in 0..<33 {
                    #expect(Swift.abs(ws[r * 33 + j] - fq[r * 33 + j]) <= scales[r] / 2 * (1 + 1e-5), "bits \(q.bits), row \(r)")
                }
                #expect(row.map(Swift.abs).max() == m && codes.scalars[(r * 33)..<(r * 33 + 33)].map(Swift.abs).max() == top)
            }
            expectClose(q.fakeQuantize(Tensor(fq, shape: w.shape)).scalars, fq, tol: 1e-6, "Q(Q(w)) = Q(w)")
        }
        #expect(WeightQuantization.int8.qMax == 127 && WeightQuantization.int4.qMax == 7)
    }

    @Test("quantizeWeights changes weights of rank ≥ 2 only and reports an error within Δ/2")
    func quantizeModule() {
        withParameterSeed(13) {
            let m = Sequential([Linear(8, 16), Linear(16, 4)])
            let before = m.namedParameters().map { ($0.0, $0.1.value.scalars) }
            let report = m.quantizeWeights(.int4)
            #expect(report.parameters == ["0.weight", "1.weight"])
            #expect(report.count == 8 * 16 + 16 * 4)
            #expect(report.maxErrorOverHalfScale <= 1 + 1e-5 && report.maxError > 0 && report.rmsError > 0)
            for ((name, old), (_, p)) in zip(before, m.namedParameters()) {
                if p.shape.count == 1 { #expect(p.value.scalars == old, "\(name) must stay") } else { #expect(p.value.scalars != old) }
            }
        }
    }
}
