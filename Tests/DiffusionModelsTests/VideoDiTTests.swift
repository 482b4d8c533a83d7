import Diffusion
import DiffusionData
import Foundation
import Testing
@testable import DiffusionModels

/// The video transformer: shapes, the locality of temporal attention, the causal mask, per-frame levels, the
/// frame-by-frame variant, gradients, the attention cost formulas, and that training on tiny clips lowers the loss.
@Suite("VideoDiT and TemporalAttention")
struct VideoDiTTests {
    @Test func outputShapesForEveryAttentionMode() {
        for mode in SpaceTimeAttention.allCases {
            for classes in [0, 3] {
                let cfg = VideoDiTConfig(frames: 3, imageSize: 8, channels: 2, patchSize: 2, hiddenSize: 16, depth: 2, heads: 2, classCount: classes, attention: mode)
                let net = withParameterSeed(1) { VideoDiT(cfg) }
                let x = Tensor.randomNormal([2, 3, 2, 8, 8], seed: 2)
                let y = net(x, Tensor([10, 700]), labels: classes > 0 ? Tensor([0, 3]) : nil)
                #expect(y.shape == [2, 3, 2, 8, 8], "\(mode)")
                #expect(y.scalars.allSatisfy { $0 == 0 }, "adaLN-Zero: the untrained model outputs zeros")
                perturbParameters(net, seed: 4)
                #expect(net(x, Tensor([10, 700]), labels: nil).scalars.allSatisfy { $0.isFinite })
            }
        }
    }

    @Test func temporalAttentionMixesOnlyAlongTime() {
        let layer = withParameterSeed(5) { TemporalAttention(hiddenSize: 8, heads: 2) }
        perturbParameters(layer, seed: 6)               // open the zero-initialised gate
        let (b, f, t, d) = (2, 4, 5, 8)
        let x = Tensor.randomNormal([b, f, t, d], seed: 7), c = Tensor.randomNormal([b, f, d], seed: 8)
        var changed = x
        let (clip, frame, position) = (1, 2, 3)
        changed.withUnsafeMutableBufferPointer { p in for k in 0..<d { p[((clip * f + frame) * t + position) * d + k] += Float(k % 3) - 0.7 } }   // not a constant shift: LayerNorm would remove it
        let (y0, y1) = (layer(x, c).scalars, layer(changed, c).scalars)
        func delta(_ i: Int, _ j: Int, _ q: Int) -> Float {
            (0..<d).map { Swift.abs(y0[((i * f + j) * t + q) * d + $0] - y1[((i * f + j) * t + q) * d + $0]) }.max()!
        }
        for i in 0..<b {
            for j in 0..<f {
                for q in 0..<t {
                    if i == clip && q == position { #expect(delta(i, j, q) > 1e-4, "frame \(j) at the changed position must see the change") }
                    else { #expect(delta(i, j, q) == 0, "clip \(i), frame \(j), position \(q) must not change") }
                }
            }
        }
        // Causal: a change in frame 2 reaches frames 2 and 3 only.
        let causal = withParameterSeed(5) { TemporalAttention(hiddenSize: 8, heads: 2, causal: true) }
        perturbParameters(causal, seed: 6)
        let (z0, z1) = (causal(x, c).scalars, causal(changed, c).scalars)
        for j in 0..<f {
            let m = (0..<d).map { Swift.abs(z0[((clip * f + j) * t + position) * d + $0] - z1[((clip * f + j) * t + position) * d + $0]) }.max()!
            #expect(j < frame ? m == 0 : m > 1e-4, "causal frame \(j)")
        }
    }

    @Test func spatialModeDenoisesEachFrameOnItsOwnAndFactorisedDoesNot() {
        let x = Tensor.randomNormal([1, 3, 1, 8, 8], seed: 9)
        var changed = x
        changed.withUnsafeMutableBufferPointer { p in for k in 0..<64 { p[k] += 0.5 } }      // frame 0 only
        for mode in [SpaceTimeAttention.spatial, .factorised, .joint] {
            let net = withParameterSeed(2) { VideoDiT(VideoDiTConfig(frames: 3, channels: 1, hiddenSize: 16, depth: 1, attention: mode)) }
            perturbParameters(net, seed: 3)
            let (a, b) = (net(x, Tensor([300])).scalars, net(changed, Tensor([300])).scalars)
            let otherFrames = (64..<192).map { Swift.abs(a[$0] - b[$0]) }.max()!
            #expect(mode == .spatial ? otherFrames == 0 : otherFrames > 1e-5, "\(mode)")
        }
    }

    @Test func perFrameNoiseLevelsReachTheirOwnFrames() {
        let net = withParameterSeed(4) { VideoDiT(VideoDiTConfig(frames: 3, channels: 1, hiddenSize: 16, depth: 1, attention: .spatial)) }
        perturbParameters(net, seed: 5)
        let x = Tensor.randomNormal([2, 3, 1, 8, 8], seed: 6)
        // One level per clip equals the same level repeated for every frame.
        #expect(net(x, Tensor([100, 800])).scalars == net(x, Tensor([100, 100, 100, 800, 800, 800])).scalars)
        // Changing frame 1's level of clip 0 changes only that frame (spatial mode).
        let (a, b) = (net(x, Tensor([100, 100, 100, 800, 800, 800])).scalars, net(x, Tensor([100, 900, 100, 800, 800, 800])).scalars)
        for j in 0..<6 {
            let m = (0..<64).map { Swift.abs(a[j * 64 + $0] - b[j * 64 + $0]) }.max()!
            #expect(j == 1 ? m > 1e-5 : m == 0, "frame \(j)")
        }
    }

    @Test func gradientsReachEveryParameter() {
        let net = withParameterSeed(3) { VideoDiT(VideoDiTConfig(frames: 3, channels: 1, hiddenSize: 16, depth: 2, classCount: 2)) }
        perturbParameters(net, seed: 8)
        let zero = expectGradientsReachEveryParameter(net, net(Tensor.randomNormal([2, 3, 1, 8, 8], seed: 1), Tensor([5, 500]), labels: Tensor([0, 1])))
        #expect(zero.isEmpty, "zero gradients: \(zero)")
        #expect(net.namedParameters().contains { $0.0.hasPrefix("temporal.1.attention") })
    }

    @Test func attentionCostFormulas() {
        // 16 frames of 32×32 tokens, width 64: the factorised layer is (F·T)/(F + T)… times cheaper.
        let (F, T, D) = (16, 1024, 64)
        #expect(SpaceTimeAttentionCost.joint(frames: F, tokens: T, width: D) == 2 * 16384.0 * 16384 * 64)
        let ratio = SpaceTimeAttentionCost.joint(frames: F, tokens: T, width: D) / SpaceTimeAttentionCost.factorised(frames: F, tokens: T, width: D)
        #expect(Swift.abs(ratio - Double(F * T) / Double(F + T)) < 1e-9)
    }

    @Test func trainingOnTinyMovingShapesClipsLowersTheLoss() throws {
        let data = MovingShapesDataset(seed: 1, size: 8, frames: 4)
        let clips = data.batch(offset: 0, count: 32).videos
        let net = withParameterSeed(7) { VideoDiT(VideoDiTConfig(frames: 4, imageSize: 8, channels: 3, hiddenSize: 32, depth: 1, heads: 2)) }
        let process = DiscreteVP.cosine()
        let model = try NetworkModel(net, process: process, output: .epsilon)
        let loss = DenoisingLoss(process: process, space: .epsilon)
        let optimizer = Adam(net.trainableParameters(), lr: 3e-3)
        var rng = RandomGenerator(seed: 2)
        var losses: [Double] = []
        for _ in 0..<60 {
            let idx = rng.integers([8], in: 0..<32).scalars.map { Int($0) }
            let batch = clips.indexSelect(axis: 0, indices: idx)
            let l = loss(model, batch, labels: nil, rng: &rng).mean()
            optimizer.zeroGrad(); l.backward(); optimizer.step()
            losses.append(Double(l.item))
        }
        let (first, last) = (losses.prefix(10).reduce(0, +) / 10, losses.suffix(10).reduce(0, +) / 10)
        #expect(last < 0.8 * first, "loss \(first) → \(last)")
    }
}
