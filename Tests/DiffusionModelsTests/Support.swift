import Foundation
import Testing
@testable import DiffusionModels

/// Backpropagates Σ output·probe and checks that every parameter received a finite gradient; returns the names of
/// parameters whose gradient is exactly zero.
@discardableResult
func expectGradientsReachEveryParameter(_ model: Module, _ output: Tensor, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
    var g = RandomGenerator(seed: 99)
    model.zeroGrad()
    (output * g.normal(output.shape)).sum().backward()
    var zero: [String] = []
    for (name, p) in model.namedParameters() {
        guard let grad = p.grad else { Issue.record("no gradient for \(name)", sourceLocation: sourceLocation); continue }
        let v = grad.scalars
        #expect(grad.shape == p.shape && v.allSatisfy(\.isFinite), "gradient of \(name)", sourceLocation: sourceLocation)
        if v.allSatisfy({ $0 == 0 }) { zero.append(name) }
    }
    return zero
}

/// Replaces every parameter by small random values (so zero-initialised layers pass gradients on).
func perturbParameters(_ model: Module, seed: UInt64) {
    var g = RandomGenerator(seed: seed)
    for p in model.parameters() { p.value = g.normal(p.shape, std: 0.1) }
}

func conv(_ i: Int, _ o: Int, _ k: Int) -> Int { i * o * k * k + o }
func linear(_ i: Int, _ o: Int) -> Int { i * o + o }
