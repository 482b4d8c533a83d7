import DiffusionEngine
import Foundation
import Testing
@testable import Diffusion

/// Discrete diffusion against answers computed another way: matrix products instead of closed forms, Bayes by
/// enumeration, brute-force posteriors over all sequences, finite differences, and the exact entropy of a Markov chain.
@Suite("Discrete diffusion: D3PM processes, masked diffusion, exact Markov answers")
struct DiscreteDiffusionTests {
    static func product(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        a.map { row in (0..<b[0].count).map { j in zip(row, b).reduce(0.0) { $0 + $1.0 * $1.1[j] } } }
    }

    static let processes: [DiscreteProcess] = [
        DiscreteProcess(noise: .uniform, categories: 3, steps: 6, schedule: .cosine),
        DiscreteProcess(noise: .absorbing, categories: 3, steps: 6, schedule: .linear),
        DiscreteProcess(noise: .absorbing, categories: 4, alphaBar: [1, 0.9, 0.9, 0.5, 0.2, 0.2]),
    ]

    @Test func cumulativeMatricesAreProductsOfTheSteps() {
        for p in Self.processes {
            var running = (0..<p.states).map { i in (0..<p.states).map { j in i == j ? 1.0 : 0 } }
            for t in 1...p.steps {
                let q = p.transitionMatrix(t)
                for row in q { #expect(abs(row.reduce(0, +) - 1) < 1e-12 && row.allSatisfy { $0 >= 0 }) }
                running = Self.product(running, q)
                let closed = p.cumulativeMatrix(t)
                for i in 0..<p.states { for j in 0..<p.states { #expect(abs(running[i][j] - closed[i][j]) < 1e-12) } }
                // The marginal of a distribution is p0 times the product.
                let p0 = (0..<p.states).map { Double($0 + 1) }.map { $0 / Double(p.states * (p.states + 1) / 2) }
                let viaProduct = Self.product([p0], running)[0]
                for (a, b) in zip(p.marginal(p0, at: t), viaProduct) { #expect(abs(a - b) < 1e-12) }
            }
            // The end of the process is the stationary distribution when ᾱ_T = 0.
            if p.alphaBar.last == 0 { #expect(p.marginal([1] + [Double](repeating: 0, count: p.states - 1), at: p.steps) == p.stationary) }
        }
    }

    @Test func posteriorIsBayesByEnumeration() {
        for p in Self.processes {
            for t in 1...p.steps {
                let (q, before, now) = (p.transitionMatrix(t), Self.cumulativeByProduct(p, t - 1), Self.cumulativeByProduct(p, t))
                for x0 in 0..<p.categories {
                    for xt in 0..<p.states where now[x0][xt] > 0 {
                        let post = p.posterior(xt: xt, x0: x0, at: t)
                        #expect(abs(post.reduce(0, +) - 1) < 1e-12)
                        // q(x_{t−1} = j | x_t, x_0) ∝ q(x_t | x_{t−1} = j) q(x_{t−1} = j | x_0), normalised by summing over j.
                        let joint = (0..<p.states).map { j in q[j][xt] * before[x0][j] }
                        let z = joint.reduce(0, +)
                        for j in 0..<p.states { #expect(abs(post[j] - joint[j] / z) < 1e-12) }
                    }
                }
            }
        }
        // Absorbing, x_t = [MASK]: reveal with probability (ᾱ_{t−1} − ᾱ_t)/(1 − ᾱ_t), stay masked otherwise.
        let a = Self.processes[1]
        let post = a.posterior(xt: 3, x0: 2, at: 4)
        #expect(abs(post[2] - (a.alphaBar[3] - a.alphaBar[4]) / (1 - a.alphaBar[4])) < 1e-12 && post[0] == 0 && post[1] == 0)
    }

    static func cumulativeByProduct(_ p: DiscreteProcess, _ t: Int) -> [[Double]] {
        var m = (0..<p.states).map { i in (0..<p.states).map { j in i == j ? 1.0 : 0 } }
        if t > 0 { for s in 1...t { m = product(m, p.transitionMatrix(s)) } }
        return m
    }

    @Test func maskedDiffusionWeightIsMinusAlphaPrimeOverOneMinusAlpha() {
        for s in DiscreteSchedule.allCases {
            #expect(s.alpha(0) == 1 && s.alpha(1) == 0)
            for t in stride(from: 0.05, through: 0.95, by: 0.1) {
                let h = 1e-6
                let fd = (s.alpha(t + h) - s.alpha(t - h)) / (2 * h)
                #expect(abs(fd - s.alphaDerivative(t)) < 1e-8, "\(s) at \(t)")
                #expect(abs(s.weight(t) - (-fd / (1 - s.alpha(t)))) < 1e-6 * s.weight(t), "\(s) at \(t)")
            }
        }
    }

    static let tiny = MarkovChain(initial: [0.5, 0.3, 0.2], transition: [[0.1, 0.9, 0], [0.5, 0, 0.5], [0.3, 0.3, 0.4]], length: 3)

    static func allSequences(_ k: Int, _ l: Int) -> [[Int]] {
        (0..<Int(pow(Double(k), Double(l)))).map { c in (0..<l).map { i in c / Int(pow(Double(k), Double(i))) % k } }
    }

    /// p(x^i_0 | x_t) by summing over every sequence.
    static func bruteForcePosterior(_ chain: MarkovChain, _ p: DiscreteProcess, _ xt: [Int], step t: Int) -> [[Double]] {
        var out = [[Double]](repeating: [Double](repeating: 0, count: chain.categories), count: chain.length)
        for x0 in allSequences(chain.categories, chain.length) {
            var w = exp(chain.logProbability(x0))
            for i in 0..<chain.length { w *= p.cumulative(t, from: x0[i], to: xt[i]) }
            for i in 0..<chain.length { out[i][x0[i]] += w }
        }
        return out.map { r in let z = r.reduce(0, +); return r.map { $0 / z } }
    }

    @Test func forwardBackwardDenoiserEqualsEnumeration() {
        let chain = Self.tiny
        for noise in DiscreteNoise.allCases {
            let p = DiscreteProcess(noise: noise, categories: 3, steps: 5, schedule: .cosine)
            let exact = ExactMarkovDenoiser(chain: chain, noise: noise, schedule: .cosine)
            for t in [1, 3, 5] {
                for xt in Self.allSequences(p.states, 3) {
                    // Skip x_t that no data sequence can produce.
                    let possible = Self.allSequences(3, 3).contains { x0 in exp(chain.logProbability(x0)) > 0 && (0..<3).allSatisfy { p.cumulative(t, from: x0[$0], to: xt[$0]) > 0 } }
                    guard possible else { continue }
                    let brute = Self.bruteForcePosterior(chain, p, xt, step: t)
                    let fb = exact.posterior(xt, at: Double(t) / 5)
                    for i in 0..<3 { for k in 0..<3 { #expect(abs(brute[i][k] - fb[i][k]) < 1e-9) } }
                }
            }
        }
        #expect(abs(Self.tiny.entropy - Self.allSequences(3, 3).reduce(0.0) { acc, x in
            let lp = Self.tiny.logProbability(x); return lp == -.infinity ? acc : acc - exp(lp) * lp }) < 1e-12)
    }

    /// E_{x_0}[−ELBO(x_0)] of the exact factorised reverse model, by enumerating x_0 and x_t (no sampling), for the D3PM bound.
    static func exactBound(_ chain: MarkovChain, _ p: DiscreteProcess) -> Double {
        let exact = ExactMarkovDenoiser(chain: chain, noise: p.noise, schedule: .linear)
        var total = 0.0
        for x0 in allSequences(chain.categories, chain.length) {
            let px = exp(chain.logProbability(x0))
            guard px > 0 else { continue }
            var bound = (0..<chain.length).reduce(0.0) { $0 + p.priorKL(x0: x0[$1]) }
            for t in 1...p.steps {
                for xt in allSequences(p.states, chain.length) {
                    let qxt = (0..<chain.length).reduce(1.0) { $0 * p.cumulative(t, from: x0[$1], to: xt[$1]) }
                    guard qxt > 0 else { continue }
                    let p0 = exact.posterior(xt, at: Double(t) / Double(p.steps))
                    for i in 0..<chain.length {
                        let q = p.posterior(xt: xt[i], x0: x0[i], at: t), model = p.reverse(xt: xt[i], x0Probabilities: p0[i], at: t)
                        for j in 0..<p.states where q[j] > 0 { bound += qxt * q[j] * log(q[j] / model[j]) }
                    }
                }
            }
            total += px * bound
        }
        return total
    }

    @Test func theELBOBoundsTheTrueNegativeLogLikelihood() {
        let chain = Self.tiny, h = chain.entropy
        var bounds: [String: Double] = [:]
        for (noise, steps) in [(DiscreteNoise.absorbing, 2), (.absorbing, 6), (.uniform, 6)] {
            let b = Self.exactBound(chain, DiscreteProcess(noise: noise, categories: 3, steps: steps, schedule: .linear))
            #expect(b >= h - 1e-12, "\(noise) T = \(steps): bound \(b) < entropy \(h)")
            bounds["\(noise)\(steps)"] = b
        }
        // More absorbing steps reveal fewer tokens at once: the gap shrinks.
        #expect(bounds["absorbing6"]! < bounds["absorbing2"]!)
        // The library's Monte-Carlo bound agrees with the enumeration.
        let p = DiscreteProcess(noise: .absorbing, categories: 3, steps: 6, schedule: .linear)
        let x0 = chain.sample(4000, seed: 5)
        var g = RandomGenerator(seed: 9)
        let mc = p.negativeELBO(ExactMarkovDenoiser(chain: chain, noise: .absorbing), x0, generator: &g)
        let mean = mc.reduce(0, +) / Double(mc.count)
        let sd = (mc.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(mc.count - 1)).squareRoot() / Double(mc.count).squareRoot()
        #expect(abs(mean - bounds["absorbing6"]!) < 4 * sd + 1e-3, "MC \(mean) ± \(sd) vs exact \(bounds["absorbing6"]!)")
    }

    @Test func continuousMaskedELBOOfTheExactDenoiserIsTheEntropy() {
        // With the true p(x_0 | x_t) the continuous-time bound is tight: it averages the any-order autoregressive NLL.
        let chain = MarkovChain.example(length: 6)
        let x0 = chain.sample(3000, seed: 1)
        var g = RandomGenerator(seed: 2)
        for s in [DiscreteSchedule.linear, .cosine] {
            let l = MaskedDiffusion.negativeELBO(ExactMarkovDenoiser(chain: chain, noise: .absorbing, schedule: s), x0, schedule: s, draws: 8, generator: &g)
            let nll = (0..<3000).map { n in -chain.logProbability(x0.slice(axis: 0, n, n + 1).scalars.map { Int($0) }) }
            let diff = zip(l, nll).map { $0 - $1 }
            let mean = diff.reduce(0, +) / Double(diff.count)
            let sd = (diff.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(diff.count - 1)).squareRoot() / Double(diff.count).squareRoot()
            #expect(abs(mean) < 4 * sd && sd < 0.1, "\(s): ELBO − NLL = \(mean) ± \(sd)")
        }
    }

    @Test func corruptionKeepsTokensWithProbabilityAlphaBar() {
        let x0 = Tensor.full([400, 50], 1)
        for noise in DiscreteNoise.allCases {
            var g = RandomGenerator(seed: 4)
            let xt = noise.corrupt(x0, keep: [Double](repeating: 0.3, count: 400), categories: 4, generator: &g).scalars
            let same = Double(xt.filter { $0 == 1 }.count) / Double(xt.count)
            // P(x_t = x_0) = ᾱ + (1 − ᾱ)·m(x_0): 0.3 (absorbing) or 0.3 + 0.7/4 (uniform).
            let expected = noise == .absorbing ? 0.3 : 0.3 + 0.7 / 4
            #expect(abs(same - expected) < 0.015, "\(noise): \(same) vs \(expected)")
            #expect(xt.allSatisfy { $0 >= 0 && $0 <= (noise == .absorbing ? 4 : 3) })
        }
    }

    @Test func exactDenoiserSamplesTheChainWhenTokensAreRevealedOneByOne() {
        let chain = MarkovChain.example(length: 6), exact = ExactMarkovDenoiser(chain: chain, noise: .absorbing)
        let fine = DiscreteProcess(noise: .absorbing, categories: 4, steps: 200).sample(exact, count: 1500, length: 6, seed: 3)
        let oneStep = DiscreteProcess(noise: .absorbing, categories: 4, steps: 1).sample(exact, count: 1500, length: 6, seed: 3)
        #expect(chain.invalidFraction(fine) < 0.01 && chain.invalidFraction(oneStep) > 0.3)
        let freq = chain.transitionFrequencies(fine)
        for a in 0..<4 { for b in 0..<4 { #expect(abs(freq[a][b] - chain.transition[a][b]) < 0.05) } }
        // Sample j does not depend on the batch size.
        let few = DiscreteProcess(noise: .absorbing, categories: 4, steps: 200).sample(exact, count: 3, length: 6, seed: 3)
        #expect(few.scalars == Array(fine.scalars.prefix(18)))
        // Confidence ordering on the exact model also produces valid sequences with enough steps.
        let confident = DiscreteProcess(noise: .absorbing, categories: 4, steps: 6).sample(exact, count: 500, length: 6, seed: 3, order: .confidence)
        #expect(confident.scalars.allSatisfy { $0 < 4 } && chain.invalidFraction(confident) < 0.01)
        // Uniform noise with the exact denoiser and many steps also recovers the chain's statistics.
        let uniform = DiscreteProcess(noise: .uniform, categories: 4, steps: 100).sample(ExactMarkovDenoiser(chain: chain, noise: .uniform), count: 1000, length: 6, seed: 3)
        #expect(chain.invalidFraction(uniform) < 0.05)
    }

    @Test func markovChainSamplesMatchTheChain() {
        let chain = MarkovChain.example(length: 8)
        let x = chain.sample(5000, seed: 7)
        #expect(chain.invalidFraction(x) == 0)
        let freq = chain.transitionFrequencies(x)
        for a in 0..<4 { for b in 0..<4 { #expect(abs(freq[a][b] - chain.transition[a][b]) < 0.03) } }
        #expect(chain.sample(2, seed: 7, firstSample: 3).scalars == Array(x.scalars[24..<40]))
    }
}
