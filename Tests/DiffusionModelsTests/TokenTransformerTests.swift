import Diffusion
import DiffusionEngine
import DiffusionLayers
import Foundation
import Testing
@testable import DiffusionModels

@Suite("TokenTransformer: shapes, a zero start, and learning a Markov chain with masked and D3PM losses")
struct TokenTransformerTests {
    @Test func shapesAndZeroInitialisedOutput() {
        let m = withParameterSeed(0) { TokenTransformer(TokenTransformerConfig(categories: 5, length: 7, hiddenSize: 32, depth: 1)) }
        let x = Tensor((0..<14).map { Float($0 % 6) }, shape: [2, 7])
        let logits = m.logits(x, Tensor([0.3, 0.9]))
        #expect(logits.shape == [2, 7, 5] && logits.scalars.allSatisfy { $0 == 0 })
        // A gradient reaches the token embedding once the output layer has moved.
        m.finalLayer.linear.weight.value = Tensor.full(m.finalLayer.linear.weight.shape, 0.1)
        var g = RandomGenerator(seed: 0)
        MaskedDiffusion.loss(m, Tensor((0..<14).map { Float($0 % 5) }, shape: [2, 7]), generator: &g).backward()
        #expect(m.tokenEmbedding.weight.grad.map { $0.scalars.contains { $0 != 0 } } == true)
    }

    /// Trains on the example chain and checks what the trained model knows against the exact answers.
    @Test(arguments: ["masked", "d3pm"]) func trainingOnMarkovDataApproachesTheChain(_ kind: String) {
        let chain = MarkovChain.example(length: 6)
        let model = withParameterSeed(1) { TokenTransformer(TokenTransformerConfig(categories: 4, length: 6, hiddenSize: 32, depth: 2)) }
        let process = DiscreteProcess(noise: .absorbing, categories: 4, steps: 16)
        let objective: TokenObjective = kind == "masked" ? .masked(.linear) : .d3pm(process, lambda: 0.01)
        let before = process.sample(model, count: 600, length: 6, seed: 1)
        let history = trainTokenDenoiser(model, objective: objective, steps: 300, seed: 2) { chain.sample(64, seed: 100, firstSample: 64 * $0) }
        let first = history.prefix(30).reduce(0, +) / 30, last = history.suffix(30).reduce(0, +) / 30
        #expect(last < 0.8 * first, "\(kind): loss \(first) → \(last)")
        let after = process.sample(model, count: 600, length: 6, seed: 1)
        #expect(chain.invalidFraction(after) < 0.5 * chain.invalidFraction(before), "\(kind): invalid \(chain.invalidFraction(before)) → \(chain.invalidFraction(after))")
        // The bound of the trained model is above the entropy but not far from it.
        var g = RandomGenerator(seed: 3)
        let bound = MaskedDiffusion.negativeELBO(model, chain.sample(500, seed: 9), draws: 4, generator: &g)
        let mean = bound.reduce(0, +) / Double(bound.count)
        #expect(mean > chain.entropy - 0.2 && mean < chain.entropy + 2.5, "\(kind): bound \(mean), entropy \(chain.entropy)")
    }
}
