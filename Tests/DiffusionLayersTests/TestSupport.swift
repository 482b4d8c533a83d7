import Foundation
import TestSupport
import Testing
@testable import DiffusionLayers

/// Central finite differences of a scalar function of `x`, element by element, in Float.
func numericGradient(_ x: Tensor, eps: Float = 1e-2, _ f: (Tensor) -> Float) -> [Float] {
    var out: [Float] = []
    let base = x.scalars
    for i in base.indices {
        var plus = base, minus = base
        plus[i] += eps
        minus[i] -= eps
        out.append((f(Tensor(plus, shape: x.shape)) - f(Tensor(minus, shape: x.shape))) / (2 * eps))
    }
    return out
}

func expectClose(_ a: [Float], _ b: [Float], tol: Float = 1e-5, _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): \(a.count) vs \(b.count) values", sourceLocation: sourceLocation)
    let worst = zip(a, b).map { Swift.abs($0 - $1) / Swift.max(1, Swift.abs($1)) }.max() ?? 0
    #expect(worst <= tol, "\(what): max relative difference \(worst)\n got \(a)\n want \(b)", sourceLocation: sourceLocation)
}

func expectClose(_ a: [Float], _ b: [Double], tol: Float = 1e-5, _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    expectClose(a, b.map { Float($0) }, tol: tol, what, sourceLocation: sourceLocation)
}

/// A fresh empty directory under the system temporary directory.
func temporaryDirectory() throws -> URL {
    TemporaryFolder.make("layers")
}

/// The W1 anchor MLP of the bench (`torch_w1_mlp.py`): same layers, same parameter names.
final class W1MLP: Module {
    let inp = Linear(3 * 64, 256)
    let blocks = (0..<3).map { _ in Linear(256, 256) }
    let out = Linear(256, 2)

    func callAsFunction(_ x: Tensor, _ t: Tensor) -> Tensor {
        let e = [sinusoidalEmbedding(x.select(axis: 1, 0) * 25, dim: 64), sinusoidalEmbedding(x.select(axis: 1, 1) * 25, dim: 64),
                 sinusoidalEmbedding(t, dim: 64)]
        var h = inp(Tensor.concat(e, axis: -1)).silu()
        for b in blocks { h = h + b(h).silu() }
        return out(h)
    }
}
