import Foundation
import Testing
@testable import DiffusionLayers

/// Everything a training run owns.
final class Run {
    let model: Sequential
    let optimizer: AdamW
    let ema: EMA
    var data: RandomGenerator
    var step = 0
    let schedule = CosineLR(peak: 3e-3, totalSteps: 20, warmupSteps: 3, minimum: 1e-4)

    init(seed: UInt64) {
        model = withParameterSeed(seed) { Sequential(Linear(2, 16), SiLU(), Dropout(0.2), Linear(16, 16), GELU(), Linear(16, 2)) }
        optimizer = AdamW(model.parameters())
        ema = EMA(model, decay: 0.99, warmup: .ratio)
        data = RandomGenerator(seed: seed &+ 100)
    }

    func train(_ n: Int) {
        for _ in 0..<n {
            optimizer.learningRate = schedule.lr(at: step)
            let x = data.normal([8, 2])
            let loss = (model(x) - (x * 2).sin()).square().mean()
            optimizer.zeroGrad()
            loss.backward()
            clipGradNorm(optimizer.parameters, maxNorm: 0.5)
            optimizer.step()
            ema.update()
            step += 1
        }
    }

    func save(to url: URL) throws {
        try TrainingState.save(to: url, model: model, optimizer: optimizer, ema: ema, step: step, generators: ["data": data], config: "{\"run\":1}")
    }

    func load(from url: URL) throws {
        let s = try TrainingState.load(from: url, model: model, optimizer: optimizer, ema: ema)
        step = s.step
        data = s.generators["data"]!
        #expect(s.metadata["config"] == "{\"run\":1}")
    }

    /// Bit patterns of everything that evolves.
    var fingerprint: [String: [UInt32]] {
        var out: [String: [UInt32]] = [:]
        for (n, p) in model.namedParameters() { out["model." + n] = p.value.scalars.map(\.bitPattern) }
        for (n, v) in ema.shadow { out["ema." + n] = v.scalars.map(\.bitPattern) }
        for (i, slots) in optimizer.state.slots.enumerated() {
            for (k, t) in slots { out["opt.\(i).\(k)"] = t.scalars.map(\.bitPattern) }
        }
        out["steps"] = optimizer.state.steps.map { UInt32($0) } + [UInt32(step), UInt32(ema.updates)]
        return out
    }
}

@Test func resumeFromCheckpointIsBitIdentical() throws {
    let url = try temporaryDirectory().appendingPathComponent("state.safetensors")
    let straight = Run(seed: 1)
    straight.train(10)

    let first = Run(seed: 1)
    first.train(4)
    try first.save(to: url)
    // Fresh objects built differently (another seed): everything must come from the file.
    let resumed = Run(seed: 77)
    #expect(resumed.fingerprint != first.fingerprint)
    try resumed.load(from: url)
    #expect(resumed.fingerprint == first.fingerprint)
    resumed.train(6)

    let (a, b) = (straight.fingerprint, resumed.fingerprint)
    #expect(a.keys.sorted() == b.keys.sorted())
    for k in a.keys.sorted() { #expect(a[k] == b[k], "\(k) differs after resuming") }
    #expect(a["model.0.weight"] != Run(seed: 1).fingerprint["model.0.weight"], "training changed the weights")
}

@Test func trainingStateRejectsAMismatchedModel() throws {
    let url = try temporaryDirectory().appendingPathComponent("state.safetensors")
    let run = Run(seed: 1)
    run.train(2)
    try run.save(to: url)
    let other = withParameterSeed(0) { Sequential(Linear(2, 16), SiLU(), Dropout(0.2), Linear(16, 8), GELU(), Linear(8, 2)) }
    let before = other.parameters().map { $0.value.scalars }
    expectFault(.shapeMismatch, file: url.path, tensor: "model.3.weight") {
        _ = try TrainingState.load(from: url, model: other, optimizer: AdamW(other.parameters()))
    }
    #expect(other.parameters().map { $0.value.scalars } == before)
    let plain = url.deletingLastPathComponent().appendingPathComponent("plain.safetensors")
    try run.model.save(to: plain)
    expectFault(.invalidMetadata, file: plain.path, tensor: nil) {
        _ = try TrainingState.load(from: plain, model: run.model, optimizer: run.optimizer)
    }
}
