import Foundation
import Testing
@testable import DiffusionModels

@Test func jacobiDecomposesSymmetricMatrices() {
    let e = SymmetricEigen([2, 1, 1, 2], size: 2)
    #expect(Swift.abs(e.values[0] - 1) < 1e-12 && Swift.abs(e.values[1] - 3) < 1e-12)
    #expect(Swift.abs(Swift.abs(e.vectors[0]) - 0.5.squareRoot()) < 1e-12)
    // A random symmetric 40×40: A·V = V·Λ and VᵀV = I.
    let n = 40
    let r = Tensor.randomNormal([n, n], seed: 3).scalars.map(Double.init)
    var a = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0..<n { a[i * n + j] = r[i * n + j] + r[j * n + i] } }
    let d = SymmetricEigen(a, size: n)
    #expect(d.sweeps < 15 && zip(d.values, d.values.dropFirst()).allSatisfy { $0 <= $1 })
    var worst = 0.0
    for i in 0..<n {
        for k in 0..<n {
            let av = (0..<n).reduce(0.0) { $0 + a[i * n + $1] * d.vectors[$1 * n + k] }
            worst = Swift.max(worst, Swift.abs(av - d.values[k] * d.vectors[i * n + k]))
            let dot = (0..<n).reduce(0.0) { $0 + d.vectors[$1 * n + i] * d.vectors[$1 * n + k] }
            worst = Swift.max(worst, Swift.abs(dot - (i == k ? 1 : 0)))
        }
    }
    #expect(worst < 1e-10)
    // The square root of a positive definite matrix squares back.
    let spd = FrechetDistance.multiply(a, a, n)
    let root = SymmetricEigen(spd, size: n).apply { $0.squareRoot() }
    let back = FrechetDistance.multiply(root, root, n)
    #expect(zip(back, spd).allSatisfy { Swift.abs($0 - $1) < 1e-8 * 100 })
}

@Test func frechetDistanceMatchesClosedForms() {
    // Diagonal covariances: ‖Δμ‖² + Σ (√a_i − √b_i)².
    let a = GaussianStatistics(mean: [0, 1, 2], covariance: [4, 0, 0, 0, 1, 0, 0, 0, 9])
    let b = GaussianStatistics(mean: [1, 1, 0], covariance: [1, 0, 0, 0, 1, 0, 0, 0, 16])
    #expect(Swift.abs(FrechetDistance.squared(a, b) - (1 + 4 + 1 + 0 + 1)) < 1e-10)
    #expect(FrechetDistance.squared(a, a) < 1e-10)
    // 2×2 by hand: Σ₁ = diag(4, 1), Σ₂ = [[2, 1], [1, 2]]: Σ₁^½Σ₂Σ₁^½ = [[8, 2], [2, 2]], and for a 2×2 PSD M,
    // tr √M = √(tr M + 2√det M) = √(10 + 2√12); d² = 5 + 4 − 2√(10 + 4√3), plus ‖(1, 2)‖² = 5.
    let p = GaussianStatistics(mean: [1, 2], covariance: [4, 0, 0, 1])
    let q = GaussianStatistics(mean: [0, 0], covariance: [2, 1, 1, 2])
    let want = 5 + 9 - 2 * (10 + 4 * 3.0.squareRoot()).squareRoot()
    #expect(Swift.abs(FrechetDistance.squared(p, q) - want) < 1e-10)
    #expect(Swift.abs(FrechetDistance.squared(q, p) - want) < 1e-10)
}

@Test func frechetDistanceOfSamplesAndTheRealVersusRealFloor() {
    var g = RandomGenerator(seed: 5)
    let real = g.normal([4000, 8])
    let stats = GaussianStatistics(features: real)
    #expect(stats.mean.allSatisfy { Swift.abs($0) < 0.06 } && (0..<8).allSatisfy { Swift.abs(stats.covariance[$0 * 9] - 1) < 0.08 })
    let floor = FrechetDistance.floor(real, repeats: 2, seed: 1)
    #expect(floor > 0 && floor < 0.05)
    // A shift of 0.5 in every coordinate adds 8·0.25 = 2 to d².
    let shifted = FrechetDistance.squared(real.slice(axis: 0, 0, 2000), g.normal([2000, 8]) + 0.5)
    #expect(Swift.abs(shifted - 2) < 0.15)
    // Twice the standard deviation in every coordinate: 8·(2 − 1)² = 8.
    #expect(Swift.abs(FrechetDistance.squared(real.slice(axis: 0, 0, 2000), g.normal([2000, 8], std: 2)) - 8) < 0.5)
}
