import Foundation

extension Module {
    /// Saves the parameters as a safetensors file (F32, PyTorch-style names) with string metadata.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateDict(), metadata: metadata, to: url)
    }

    /// Saves the parameters with `config` encoded as JSON under the metadata key "config".
    public func save<Config: Encodable>(to url: URL, config: Config, metadata: [String: String] = [:]) throws {
        var meta = metadata
        meta["config"] = String(decoding: try JSONEncoder.sorted.encode(config), as: UTF8.self)
        try save(to: url, metadata: meta)
    }

    /// Loads parameters from a safetensors file and returns its metadata. With `strict`, a tensor in the file
    /// that the module does not have is an error too. Nothing is changed unless every check passes.
    @discardableResult
    public func load(from url: URL, strict: Bool = true) throws -> [String: String] {
        let file = try SafeTensors.read(url)
        try load(file.tensors, strict: strict, source: url.path)
        return file.metadata
    }

    /// Loads parameters from named tensors; `source` names the origin in errors. Checks everything first.
    public func load(_ tensors: [String: Tensor], strict: Bool = true, source: String = "<memory>") throws {
        try validate(tensors, strict: strict, source: source)
        let params = namedParameters()
        for (name, p) in params { p.copy(from: tensors[name]!) }
    }

    /// Throws the first problem that `load` would meet: a missing tensor, a wrong shape, or (strict) an extra
    /// tensor. `prefix` is prepended to tensor names in messages (e.g. "model." inside a training state).
    func validate(_ tensors: [String: Tensor], strict: Bool, source: String, prefix: String = "") throws {
        let params = namedParameters()
        for (name, p) in params {
            guard let t = tensors[name] else {
                throw SafeTensorsError(file: source, tensor: prefix + name, fault: .missingTensor, detail: "missing; the module needs shape \(p.shape)")
            }
            guard t.shape == p.shape else {
                throw SafeTensorsError(file: source, tensor: prefix + name, fault: .shapeMismatch, detail: "has shape \(t.shape), the module needs \(p.shape)")
            }
        }
        if strict {
            let known = Set(params.map(\.0))
            if let extra = tensors.keys.sorted().first(where: { !known.contains($0) }) {
                throw SafeTensorsError(file: source, tensor: prefix + extra, fault: .unexpectedTensor, detail: "is not a parameter of \(type(of: self))")
            }
        }
    }
}

/// Decodes the JSON config stored by `Module.save(to:config:)`.
public func decodeConfig<Config: Decodable>(_ type: Config.Type, from metadata: [String: String], file: String = "<metadata>") throws -> Config {
    guard let json = metadata["config"] else {
        throw SafeTensorsError(file: file, tensor: nil, fault: .invalidMetadata, detail: "metadata has no 'config'")
    }
    do { return try JSONDecoder().decode(type, from: Data(json.utf8)) } catch {
        throw SafeTensorsError(file: file, tensor: nil, fault: .invalidMetadata, detail: "config does not decode as \(type): \(error)")
    }
}

extension JSONEncoder {
    /// Deterministic output (sorted keys), so equal states give byte-identical files.
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}
