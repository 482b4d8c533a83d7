import Foundation
import DiffusionEngine

/// A low-dimensional toy distribution to train and evaluate on, drawn with the counter-based generator:
/// sample j uses uniform and normal variates number j of two fixed streams of `seed`, so it depends only on
/// (seed, j). `sample(n, seed:, offset:)` therefore returns samples offset…offset + n − 1 of one infinite sequence,
/// and any batch can be regenerated alone. Scales are chosen so coordinates are of order one.
public struct ToyDataset: Sendable, CustomStringConvertible {
    public let name: String
    public let summary: String
    public let dimension: Int
    /// Number of classes of the labels (0: unlabelled).
    public let classCount: Int
    /// The exact labelled mixture, for the Gaussian-mixture sets.
    public let mixture: LabelledMixture?
    let uniforms: Int, normals: Int
    /// One sample from its uniform variates u (in [0, 1)) and normal variates z: (coordinates, label).
    let draw: @Sendable (_ u: UnsafeBufferPointer<Float>, _ z: UnsafeBufferPointer<Float>) -> ([Double], Int)

    public var description: String { "\(name) (\(dimension)-D\(classCount > 0 ? ", \(classCount) classes" : "")): \(summary)" }

    /// Samples offset..<offset + n as [n, d], with labels [n] (exact Float values) for labelled sets.
    public func sample(_ n: Int, seed: UInt64, offset: Int = 0) -> (points: Tensor, labels: Tensor?) {
        precondition(n >= 0 && offset >= 0, "need n ≥ 0 and offset ≥ 0")
        let u = Tensor.randomUniform([n, uniforms], seed: seed, stream: 0xDA7A_0000, offset: offset * uniforms).scalars
        let z = Tensor.randomNormal([n, Swift.max(normals, 1)], seed: seed, stream: 0xDA7A_0001, offset: offset * Swift.max(normals, 1)).scalars
        var points = [Float](repeating: 0, count: n * dimension), labels = [Float](repeating: 0, count: n)
        u.withUnsafeBufferPointer { up in
            z.withUnsafeBufferPointer { zp in
                let zw = Swift.max(normals, 1)
                for i in 0..<n {
                    let (p, y) = draw(UnsafeBufferPointer(rebasing: up[(i * uniforms)..<((i + 1) * uniforms)]),
                                      UnsafeBufferPointer(rebasing: zp[(i * zw)..<((i + 1) * zw)]))
                    for j in 0..<dimension { points[i * dimension + j] = Float(p[j]) }
                    labels[i] = Float(y)
                }
            }
        }
        return (Tensor(points, shape: [n, dimension]), classCount > 0 ? Tensor(labels) : nil)
    }

    /// The data set with this name, if any.
    public static func named(_ name: String) -> ToyDataset? { all.first { $0.name == name } }
    public static var names: [String] { all.map(\.name) }

    /// Every data set.
    public static let all: [ToyDataset] = [
        swissRoll, moons, eightGaussians, twentyFiveGaussians, checkerboard, twoSpirals, rings, pinwheel,
        mixture(name: "gmm-1d", summary: "GaussianMixture.example1D: three unequal 1-D bumps", .example1D),
        mixture(name: "gmm-2d", summary: "GaussianMixture.example2D: six bumps on a ring and an elongated one", .example2D),
    ]

    /// A set whose points are exactly a Gaussian mixture, labelled by component.
    public static func mixture(name: String, summary: String, _ gm: GaussianMixture) -> ToyDataset {
        var sums = gm.weights
        for k in 1..<sums.count { sums[k] += sums[k - 1] }
        let cumulative = sums, d = gm.dimension, (means, stds) = (gm.means, gm.stds), last = gm.componentCount - 1
        return ToyDataset(name: name, summary: summary, dimension: d, classCount: gm.componentCount,
                          mixture: LabelledMixture(componentsOf: gm), uniforms: 1, normals: d) { u, z in
            let k = cumulative.firstIndex { Double(u[0]) < $0 } ?? last
            return ((0..<d).map { means[k][$0] + stds[k][$0] * Double(z[$0]) }, k)
        }
    }

    /// The Swiss roll (FFJORD's toy set, Grathwohl et al. 2019, arXiv 1810.01367): t = 1.5π(1 + 2u),
    /// (t·cos t, t·sin t) plus N(0, 0.5²) noise, scaled by 1/6.
    public static let swissRoll = ToyDataset(name: "swiss-roll", summary: "a 2-D Swiss roll", dimension: 2, classCount: 0,
                                             mixture: nil, uniforms: 1, normals: 2) { u, z in
        let t = 1.5 * Double.pi * (1 + 2 * Double(u[0]))
        return ([(t * cos(t) + 0.5 * Double(z[0])) / 6, (t * sin(t) + 0.5 * Double(z[1])) / 6], 0)
    }

    /// Two interleaved half circles (scikit-learn's make_moons), centred, noise std 0.05, scaled by 1.2; labelled
    /// by moon.
    public static let moons = ToyDataset(name: "moons", summary: "two interleaved half circles", dimension: 2, classCount: 2,
                                         mixture: nil, uniforms: 2, normals: 2) { u, z in
        let θ = Double.pi * Double(u[0]), upper = u[1] < 0.5
        let (x, y) = upper ? (cos(θ), sin(θ)) : (1 - cos(θ), 0.5 - sin(θ))
        return ([1.2 * (x - 0.5 + 0.05 * Double(z[0])), 1.2 * (y - 0.25 + 0.05 * Double(z[1]))], upper ? 0 : 1)
    }

    /// Eight Gaussians of std 0.1 on a circle of radius √2, labelled by mode.
    public static let eightGaussians = ToyDataset(name: "8gaussians", summary: "eight Gaussians on a circle", dimension: 2, classCount: 8,
                                                  mixture: nil, uniforms: 1, normals: 2) { u, z in
        let k = Swift.min(7, Int(Double(u[0]) * 8)), a = Double(k) * .pi / 4
        let r = Double(2).squareRoot()
        return ([r * cos(a) + 0.1 * Double(z[0]), r * sin(a) + 0.1 * Double(z[1])], k)
    }

    /// 25 Gaussians of std 0.05 on a 5 × 5 grid of spacing 0.7, labelled by mode.
    public static let twentyFiveGaussians = ToyDataset(name: "25gaussians", summary: "a 5 × 5 grid of Gaussians", dimension: 2, classCount: 25,
                                                       mixture: nil, uniforms: 1, normals: 2) { u, z in
        let k = Swift.min(24, Int(Double(u[0]) * 25))
        return ([0.7 * Double(k % 5 - 2) + 0.05 * Double(z[0]), 0.7 * Double(k / 5 - 2) + 0.05 * Double(z[1])], k)
    }

    /// Uniform on the 8 black squares of a 4 × 4 checkerboard on [−2, 2]², labelled by square.
    public static let checkerboard = ToyDataset(name: "checkerboard", summary: "uniform on a checkerboard", dimension: 2, classCount: 8,
                                                mixture: nil, uniforms: 3, normals: 0) { u, _ in
        let k = Swift.min(7, Int(Double(u[0]) * 8))
        let row = k / 2, col = 2 * (k % 2) + row % 2                 // squares with (row + col) even
        return ([Double(col) - 2 + Double(u[1]), Double(row) - 2 + Double(u[2])], k)
    }

    /// Two interleaved spirals (FFJORD's "2spirals"), scaled by 1/6; labelled by arm.
    public static let twoSpirals = ToyDataset(name: "2spirals", summary: "two interleaved spirals", dimension: 2, classCount: 2,
                                              mixture: nil, uniforms: 2, normals: 2) { u, z in
        let r = Double(u[0]).squareRoot() * 3 * .pi, arm = u[1] < 0.5 ? 1.0 : -1.0
        return ([arm * (-cos(r) * r) / 6 + 0.05 * Double(z[0]), arm * (sin(r) * r) / 6 + 0.05 * Double(z[1])], arm > 0 ? 0 : 1)
    }

    /// Four concentric rings of radii 0.4, 0.8, 1.2, 1.6 with radial noise std 0.04, labelled by ring.
    public static let rings = ToyDataset(name: "rings", summary: "four concentric rings", dimension: 2, classCount: 4,
                                         mixture: nil, uniforms: 2, normals: 1) { u, z in
        let k = Swift.min(3, Int(Double(u[0]) * 4)), a = 2 * Double.pi * Double(u[1])
        let r = 0.4 * Double(k + 1) + 0.04 * Double(z[0])
        return ([r * cos(a), r * sin(a)], k)
    }

    /// Five curved arms (FFJORD's pinwheel: radial std 0.3, tangential std 0.1, rate 0.25), scaled by 0.6; labelled
    /// by arm.
    public static let pinwheel = ToyDataset(name: "pinwheel", summary: "five curved arms", dimension: 2, classCount: 5,
                                            mixture: nil, uniforms: 1, normals: 2) { u, z in
        let k = Swift.min(4, Int(Double(u[0]) * 5))
        let f0 = 0.3 * Double(z[0]) + 1, f1 = 0.1 * Double(z[1])
        let a = 2 * Double.pi * Double(k) / 5 + 0.25 * exp(f0)
        return ([1.2 * (cos(a) * f0 - sin(a) * f1), 1.2 * (sin(a) * f0 + cos(a) * f1)], k)
    }
}
