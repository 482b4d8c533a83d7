import Foundation

/// Everything needed to resume training bit-identically, stored as one safetensors file.
///
/// Tensors: `model.<param>`, `optimizer.<param>.<slot>` (e.g. `optimizer.inp.weight.exp_avg`) and
/// `ema.<param>`. Metadata key `diffusionlab.training` holds JSON with the training step, the optimiser's
/// per-parameter step counts and learning rate, the EMA update count, the caller's named random generators
/// and those of `RandomStateful` modules (dropout); key `config` holds the caller's config, if any.
/// Random generators are counter-based, so (seed, stream) is their whole state.
public struct TrainingState {
    public var step: Int
    /// The caller's generators (data sampling, noise), restored exactly.
    public var generators: [String: RandomGenerator]
    public var metadata: [String: String]

    static let key = "diffusionlab.training"

    struct Record: Codable {
        var format = 1
        var step: Int
        var learningRate: UInt64
        var optimizerSteps: [Int]
        var emaUpdates: Int?
        var generators: [String: Generator]
        var moduleGenerators: [String: Generator]
    }

    /// UInt64 fields as strings so no JSON reader rounds them.
    struct Generator: Codable {
        var seed: String, stream: String
        init(_ g: RandomGenerator) { seed = String(g.seed); stream = String(g.stream) }
        func value() -> RandomGenerator? {
            guard let s = UInt64(seed), let t = UInt64(stream) else { return nil }
            return RandomGenerator(seed: s, stream: t)
        }
    }

    /// Saves the state atomically (temporary file + rename).
    public static func save(to url: URL, model: Module, optimizer: Optimizer, ema: EMA? = nil, step: Int,
                            generators: [String: RandomGenerator] = [:], config: String? = nil) throws {
        let params = model.namedParameters()
        var tensors = params.map { ("model.\($0.0)", $0.1.value) }
        let names = optimizerNames(model: params, optimizer: optimizer)
        let state = optimizer.state
        for (i, slots) in state.slots.enumerated() {
            for (slot, t) in slots.sorted(by: { $0.key < $1.key }) { tensors.append(("optimizer.\(names[i]).\(slot)", t)) }
        }
        if let ema { tensors += ema.shadow.map { ("ema.\($0.name)", $0.value) } }
        let record = Record(step: step, learningRate: optimizer.learningRate.bitPattern, optimizerSteps: state.steps,
                            emaUpdates: ema?.updates, generators: generators.mapValues(Generator.init),
                            moduleGenerators: Dictionary(model.namedGenerators().map { ($0.0, Generator($0.1)) }, uniquingKeysWith: { a, _ in a }))
        var metadata = [key: String(decoding: try JSONEncoder.sorted.encode(record), as: UTF8.self)]
        if let config { metadata["config"] = config }
        try SafeTensors.write(tensors, metadata: metadata, to: url)
    }

    /// Loads a state saved by `save` into freshly built objects of the same architecture; returns the step,
    /// generators and metadata. Every check runs before anything is modified.
    public static func load(from url: URL, model: Module, optimizer: Optimizer, ema: EMA? = nil) throws -> TrainingState {
        let file = try SafeTensors.read(url)
        func fail(_ tensor: String?, _ fault: SafeTensorsError.Fault, _ detail: String) -> SafeTensorsError {
            SafeTensorsError(file: url.path, tensor: tensor, fault: fault, detail: detail)
        }
        guard let json = file.metadata[key], let record = try? JSONDecoder().decode(Record.self, from: Data(json.utf8)) else {
            throw fail(nil, .invalidMetadata, "metadata has no valid '\(key)' record; not a training state")
        }
        var modelTensors: [String: Tensor] = [:], emaTensors: [String: Tensor] = [:], optimizerTensors: [String: Tensor] = [:]
        for (name, t) in file.tensors {
            if name.hasPrefix("model.") { modelTensors[String(name.dropFirst(6))] = t }
            else if name.hasPrefix("ema.") { emaTensors[String(name.dropFirst(4))] = t }
            else if name.hasPrefix("optimizer.") { optimizerTensors[String(name.dropFirst(10))] = t }
            else { throw fail(name, .unexpectedTensor, "is not part of a training state") }
        }

        try model.validate(modelTensors, strict: true, source: url.path, prefix: "model.")
        // Optimizer state, matched by parameter name.
        let params = model.namedParameters()
        let names = optimizerNames(model: params, optimizer: optimizer)
        guard record.optimizerSteps.count == optimizer.parameters.count else {
            throw fail(nil, .invalidMetadata, "optimizer state covers \(record.optimizerSteps.count) parameters, the optimizer has \(optimizer.parameters.count)")
        }
        var slots: [[String: Tensor]] = Array(repeating: [:], count: names.count)
        var used = 0
        for (i, name) in names.enumerated() {
            for (key, t) in optimizerTensors where key.hasPrefix(name + ".") {
                let slot = String(key.dropFirst(name.count + 1))
                guard !slot.contains(".") else { continue }
                guard t.shape == optimizer.parameters[i].shape else {
                    throw fail("optimizer." + key, .shapeMismatch, "has shape \(t.shape), the parameter has \(optimizer.parameters[i].shape)")
                }
                slots[i][slot] = t
                used += 1
            }
        }
        guard used == optimizerTensors.count else {
            let known = Set(names)
            let stray = optimizerTensors.keys.sorted().first { k in !known.contains(where: { k.hasPrefix($0 + ".") }) } ?? "?"
            throw fail("optimizer." + stray, .unexpectedTensor, "belongs to no parameter of the optimizer")
        }
        if let ema {
            guard record.emaUpdates != nil else { throw fail(nil, .missingTensor, "the file has no EMA state") }
            for (name, v) in ema.shadow {
                guard let t = emaTensors[name] else { throw fail("ema." + name, .missingTensor, "missing; the EMA needs shape \(v.shape)") }
                guard t.shape == v.shape else { throw fail("ema." + name, .shapeMismatch, "has shape \(t.shape), the EMA needs \(v.shape)") }
            }
        }
        var generators: [String: RandomGenerator] = [:], moduleGenerators: [String: RandomGenerator] = [:]
        for (k, g) in record.generators {
            guard let v = g.value() else { throw fail(nil, .invalidMetadata, "generator '\(k)' is malformed") }
            generators[k] = v
        }
        for (k, g) in record.moduleGenerators {
            guard let v = g.value() else { throw fail(nil, .invalidMetadata, "module generator '\(k)' is malformed") }
            moduleGenerators[k] = v
        }

        // The optimizer checks its state before changing anything; after it, nothing below can fail.
        do {
            try optimizer.load(OptimizerState(steps: record.optimizerSteps, slots: slots))
        } catch { throw fail(nil, .invalidMetadata, "optimizer state: \(error)") }
        try model.load(modelTensors, strict: true, source: url.path)
        if let ema, let n = record.emaUpdates { try ema.load(shadow: emaTensors, updates: n) }
        optimizer.learningRate = Double(bitPattern: record.learningRate)
        model.setGenerators(moduleGenerators)
        return TrainingState(step: record.step, generators: generators, metadata: file.metadata)
    }

    /// A name for each optimizer parameter: its model name, or `param.<index>` when the model lacks it.
    static func optimizerNames(model: [(String, Parameter)], optimizer: Optimizer) -> [String] {
        let byID = Dictionary(model.map { (ObjectIdentifier($0.1), $0.0) }, uniquingKeysWith: { a, _ in a })
        return optimizer.parameters.enumerated().map { byID[ObjectIdentifier($0.element)] ?? "param.\($0.offset)" }
    }
}
