import Diffusion
import DiffusionLayers
import Foundation

/// An error of the generation API: an HTTP status and a message naming the problem.
public struct GenerationError: Error, CustomStringConvertible, Equatable, Sendable {
    public let status: Int
    public let description: String
    public init(_ status: Int, _ description: String) { (self.status, self.description) = (status, description) }
}

/// A request of `POST /api/generate`, read from JSON. Unknown keys and wrongly typed values are rejected by name,
/// so a misspelt field (`guidance_scale`) is an error rather than silently ignored.
public struct GenerationRequest: Equatable, Sendable {
    public var model = ""
    public var count: Int?
    public var sampler = "heun"
    public var steps = 25
    public var schedule = "karras"
    public var seed: UInt64 = 0
    public var label: Int?
    public var guidanceScale = 1.0
    public var guidanceRescale = 0.0
    /// `json`, `csv` or `npy` for toy models; `png`, `npy` or `json` for image models (default: json / png).
    public var format: String?
    /// Text for a text-conditioned image model (every sample is drawn for it).
    public var prompt: String?

    public static let keys = ["model", "count", "sampler", "steps", "schedule", "seed", "label", "guidanceScale", "guidanceRescale", "format", "prompt"]
    /// Upper limits that keep one request to seconds on a laptop.
    public static let maxToyCount = 20_000, maxImageCount = 256, maxSteps = 1000

    public init(model: String) { self.model = model }

    /// Parses a JSON object; every problem is a 400 naming the field.
    public init(json data: Data) throws(GenerationError) {
        let fields: [String: JSONValue]
        do { fields = try JSONDecoder().decode([String: JSONValue].self, from: data) } catch {
            throw GenerationError(400, "the request body must be a JSON object of fields (\(Self.keys.joined(separator: ", ")))")
        }
        if let unknown = fields.keys.sorted().first(where: { !Self.keys.contains($0) }) {
            throw GenerationError(400, "unknown field '\(unknown)'; the fields are: \(Self.keys.joined(separator: ", "))")
        }
        func string(_ key: String) throws(GenerationError) -> String? {
            switch fields[key] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: throw GenerationError(400, "'\(key)' must be a string")
            }
        }
        func number(_ key: String) throws(GenerationError) -> Double? {
            guard let v = fields[key], v != .null else { return nil }
            guard let d = v.number, d.isFinite else { throw GenerationError(400, "'\(key)' must be a number") }
            return d
        }
        func integer(_ key: String) throws(GenerationError) -> Int? {
            guard let d = try number(key) else { return nil }
            guard d == d.rounded(), abs(d) < 1e15 else { throw GenerationError(400, "'\(key)' must be a whole number, got \(d)") }
            return Int(d)
        }
        guard let model = try string("model"), !model.isEmpty else { throw GenerationError(400, "missing 'model' (GET /api/models lists them)") }
        self.model = model
        count = try integer("count")
        if let s = try string("sampler") { sampler = s }
        if let n = try integer("steps") { steps = n }
        if let s = try string("schedule") { schedule = s }
        if let n = try integer("seed") {
            guard n >= 0 else { throw GenerationError(400, "'seed' must be non-negative, got \(n)") }
            seed = UInt64(n)
        }
        label = try integer("label")
        if let w = try number("guidanceScale") { guidanceScale = w }
        if let r = try number("guidanceRescale") { guidanceRescale = r }
        format = try string("format")
        prompt = try string("prompt")
    }

    /// The sampling options for a model of this kind, with the request's limits checked.
    func options(image: Bool) throws(GenerationError) -> SamplingOptions {
        let n = count ?? (image ? 16 : 1000)
        let limit = image ? Self.maxImageCount : Self.maxToyCount
        guard (1...limit).contains(n) else { throw GenerationError(400, "'count' must be in 1…\(limit) for this model, got \(n)") }
        guard (1...Self.maxSteps).contains(steps) else { throw GenerationError(400, "'steps' must be in 1…\(Self.maxSteps), got \(steps)") }
        var o = SamplingOptions()
        (o.sampler, o.steps, o.schedule, o.count, o.seed) = (sampler, steps, schedule, n, seed)
        (o.label, o.guidanceScale, o.guidanceRescale) = (label, guidanceScale, guidanceRescale)
        return o
    }
}

