import Foundation
import Testing
@testable import Diffusion

@Suite("Toy data sets")
struct ToyDatasetTests {
    @Test("at least eight 2-D sets plus the 1-D and 2-D mixtures, with distinct names")
    func registry() {
        #expect(ToyDataset.all.filter { $0.dimension == 2 && $0.mixture == nil }.count >= 8)
        #expect(Set(ToyDataset.names).count == ToyDataset.all.count)
        #expect(ToyDataset.named("gmm-1d")?.dimension == 1 && ToyDataset.named("gmm-2d")?.mixture != nil)
        #expect(ToyDataset.named("nope") == nil)
    }

    @Test("shape, unit scale, labels in range with every class present", arguments: ToyDataset.names)
    func scaleAndLabels(_ name: String) throws {
        let set = try #require(ToyDataset.named(name))
        let (x, y) = set.sample(4000, seed: 1)
        #expect(x.shape == [4000, set.dimension])
        let v = x.scalars.map(Double.init)
        #expect(v.allSatisfy { $0.isFinite })
        for j in 0..<set.dimension {
            let c = stride(from: j, to: v.count, by: set.dimension).map { v[$0] }
            let mean = c.reduce(0, +) / Double(c.count), rms = (c.reduce(0) { $0 + $1 * $1 } / Double(c.count)).squareRoot()
            print("data \(name) axis \(j): mean \(String(format: "%.3f", mean)), rms \(String(format: "%.3f", rms))")
            #expect(abs(mean) < 0.6 && rms > 0.4 && rms < 1.6, "\(name) axis \(j): mean \(mean), rms \(rms)")
        }
        if set.classCount > 0 {
            let labels = try #require(y).scalars.map { Int($0) }
            #expect(Set(labels) == Set(0..<set.classCount))
        } else {
            #expect(y == nil)
        }
    }

    @Test("counter-based: sample j depends only on (seed, j); offsets give the same rows; seeds differ", arguments: ToyDataset.names)
    func reproducible(_ name: String) throws {
        let set = try #require(ToyDataset.named(name))
        let whole = set.sample(20, seed: 3), d = set.dimension
        #expect(set.sample(5, seed: 3).points.scalars == Array(whole.points.scalars.prefix(5 * d)))
        #expect(set.sample(10, seed: 3, offset: 5).points.scalars == Array(whole.points.scalars[(5 * d)..<(15 * d)]))
        if let labels = whole.labels { #expect(set.sample(10, seed: 3, offset: 5).labels!.scalars == Array(labels.scalars[5..<15])) }
        #expect(set.sample(20, seed: 4).points.scalars != whole.points.scalars)
    }

    @Test("geometry: checkerboard on black squares, rings at their radii, 8 Gaussians at their modes")
    func geometry() throws {
        let (c, cl) = ToyDataset.checkerboard.sample(2000, seed: 2)
        for i in 0..<2000 {
            let (a, b) = (Double(c[i, 0]), Double(c[i, 1]))
            #expect(abs(a) <= 2 && abs(b) <= 2 && Int(floor(a) + floor(b) + 4) % 2 == 0)
            _ = cl
        }
        let (r, rl) = ToyDataset.rings.sample(2000, seed: 2)
        for i in 0..<2000 {
            let radius = (Double(r[i, 0] * r[i, 0] + r[i, 1] * r[i, 1])).squareRoot()
            #expect(abs(radius - 0.4 * Double(rl![i] + 1)) < 0.25)
        }
        let (g, gl) = ToyDataset.eightGaussians.sample(2000, seed: 2)
        for i in 0..<2000 {
            let a = Double(gl![i]) * .pi / 4
            let dx = Double(g[i, 0]) - 2.0.squareRoot() * cos(a), dy = Double(g[i, 1]) - 2.0.squareRoot() * sin(a)
            #expect((dx * dx + dy * dy).squareRoot() < 0.6)
        }
    }

    @Test("the mixture sets are their mixtures: sample moments and the energy distance to GaussianMixture.sample")
    func mixtures() throws {
        for (name, gm) in [("gmm-1d", GaussianMixture.example1D), ("gmm-2d", GaussianMixture.example2D)] {
            let set = try #require(ToyDataset.named(name))
            #expect(set.mixture?.marginal == gm)
            let x = set.sample(20_000, seed: 5).points
            let v = x.scalars.map(Double.init)
            let second = v.reduce(0) { $0 + $1 * $1 } / Double(x.shape[0])
            #expect(abs(second - gm.secondMoment) < 0.05 * gm.secondMoment)
            let a = set.sample(500, seed: 6).points, b = gm.sample(500, seed: 7)
            let floor = Metrics.energyDistance(gm.sample(500, seed: 8), gm.sample(500, seed: 9))
            #expect(Metrics.energyDistance(a, b) < 4 * floor)
        }
    }
}
