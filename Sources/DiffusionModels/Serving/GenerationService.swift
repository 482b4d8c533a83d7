import Diffusion
import DiffusionData
import DiffusionEngine
import Foundation

/// The HTTP generation API over a folder of checkpoints (`name.safetensors`, toy or image, as written by
/// `diffusion train`), independent of the HTTP server: `handle` maps (method, path, body) to a response.
///
///     GET  /api/models     → JSON list of the models: name, kind, data, conditional, classes, shape
///     POST /api/generate   → samples: {"model": "...", "count": 16, "sampler": "heun", "steps": 25, "seed": 0,
///                            "label": 7, "guidanceScale": 3, "format": "png"}   (text models: "prompt": "a red circle")
///
/// The same request gives the same bytes (counter-based noise). Requests are served one at a time: sampling
/// already uses every core.
public final class GenerationService: @unchecked Sendable {
    public struct Response: Sendable, Equatable {
        public let status: Int
        public let contentType: String
        public let body: Data
    }

    /// What `GET /api/models` says of one model.
    public struct ModelInfo: Codable, Equatable, Sendable {
        public let name: String
        /// "toy" or "image".
        public let kind: String
        public let data: String
        public let conditional: Bool
        /// Class names (image data) or class indices as strings (toy data); empty when unconditional.
        public let classes: [String]
        /// Whether the model takes a `prompt` (text-conditioned image models).
        public let prompt: Bool
        /// [c, h, w] for images, [d] for toys.
        public let shape: [Int]
        public let formats: [String]
    }

    private enum Loaded {
        case toy(ToyCheckpoint)
        case image(ImageCheckpoint)
    }

    public let folder: URL
    private let lock = NSLock()
    private var cache: [String: (modified: Date, model: Loaded)] = [:]

    public init(folder: URL) { self.folder = folder }

    /// Answers one API request; never throws: problems become 4xx/5xx responses with a JSON `error` message.
    public func handle(method: String, path: String, body: Data) -> Response {
        lock.lock()
        defer { lock.unlock() }
        let route = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        do throws(GenerationError) {
            switch (method, route) {
            case ("GET", "/api/models"), ("HEAD", "/api/models"):
                return try json(models())
            case ("POST", "/api/generate"):
                return try generate(GenerationRequest(json: body))
            case (_, "/api/models"), (_, "/api/generate"):
                throw GenerationError(405, "\(route) does not accept \(method); use \(route == "/api/models" ? "GET" : "POST")")
            default:
                throw GenerationError(404, "no API route \(route); the routes are GET /api/models and POST /api/generate")
            }
        } catch {
            return self.error(error)
        }
    }

    /// Every loadable diffusion checkpoint in the folder, by name (classifiers and unreadable files are left out).
    public func models() -> [ModelInfo] {
        names().compactMap { name in
            guard let loaded = try? load(name) else { return nil }
            switch loaded {
            case .toy(let c):
                let classes = c.config.conditional ? (0..<c.config.dataset.classCount).map(String.init) : []
                return ModelInfo(name: name, kind: "toy", data: c.config.data, conditional: c.config.conditional, classes: classes, prompt: false,
                                 shape: [c.config.dataset.dimension], formats: ["json", "csv", "npy"])
            case .image(let c):
                guard c.model != nil else { return nil }
                return ModelInfo(name: name, kind: "image", data: c.config.data, conditional: c.config.conditional,
                                 classes: c.config.conditional ? c.shape.classNames : [], prompt: c.config.isTextConditional,
                                 shape: [c.shape.channels, c.shape.size, c.shape.size], formats: ["png", "npy", "json"])
            }
        }
    }

    func generate(_ request: GenerationRequest) throws(GenerationError) -> Response {
        guard names().contains(request.model) else {
            throw GenerationError(404, "unknown model '\(request.model)'; the models are: \(models().map(\.name).joined(separator: ", "))")
        }
        switch try load(request.model) {
        case .toy(let c):
            let format = request.format ?? "json"
            guard ["json", "csv", "npy"].contains(format) else { throw GenerationError(400, "'format' must be json, csv or npy for a toy model, got '\(format)'") }
            if request.prompt != nil { throw GenerationError(400, "'prompt' needs a text-conditioned model; '\(request.model)' takes no text") }
            let options = try request.options(image: false)
            let result: (points: Tensor, labels: Tensor?)
            do { result = try options.sample(c.model, config: c.config) } catch { throw GenerationError(400, error.description) }
            try checkFinite(result.points)
            switch format {
            case "csv": return Response(status: 200, contentType: "text/csv; charset=utf-8", body: Data(SampleCSV.encode(result.points, labels: result.labels).utf8))
            case "npy": return Response(status: 200, contentType: "application/octet-stream", body: NPY.encode(result.points))
            default: return try json(ToySamples(model: request.model, sampler: options.sampler, steps: options.steps, seed: options.seed,
                                                points: Self.rows(result.points), labels: result.labels.map { $0.scalars.map { Int($0) } }))
            }
        case .image(let c):
            guard let model = c.model else { throw GenerationError(400, "'\(request.model)' is a classifier, not a diffusion model") }
            let format = request.format ?? "png"
            guard ["png", "npy", "json"].contains(format) else { throw GenerationError(400, "'format' must be png, npy or json for an image model, got '\(format)'") }
            var sampler = ImageSampler(try request.options(image: true))
            if let prompt = request.prompt {
                guard c.config.isTextConditional else { throw GenerationError(400, "'prompt' needs a text-conditioned model; '\(request.model)' takes no text") }
                sampler.prompts = [prompt]
            }
            let images: Tensor
            do { images = try sampler.sample(model, config: c.config, shape: c.shape).images } catch { throw GenerationError(400, error.description) }
            try checkFinite(images)
            switch format {
            case "npy": return Response(status: 200, contentType: "application/octet-stream", body: NPY.encode(images))
            case "json": return try json(ImageSamples(model: request.model, shape: images.shape, values: images.scalars))
            default:
                do { return Response(status: 200, contentType: "image/png", body: try PNG.encode(ImageGrid.raster(images, columns: nil, scale: 4))) }
                catch { throw GenerationError(500, "cannot encode the PNG grid: \(error)") }
            }
        }
    }

    // MARK: Loading

    private func names() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return files.filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }.map { String($0.dropLast(".safetensors".count)) }.sorted()
    }

    /// Loads a checkpoint once; reloads it when the file changes.
    private func load(_ name: String) throws(GenerationError) -> Loaded {
        let url = folder.appendingPathComponent(name + ".safetensors")
        let modified = (try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date) ?? .distantPast
        if let hit = cache[name], hit.modified == modified { return hit.model }
        let loaded: Loaded
        do {
            loaded = ImageCheckpoint.isImageCheckpoint(url) ? .image(try ImageCheckpoint.load(url)) : .toy(try ToyCheckpoint.load(url))
        } catch { throw GenerationError(500, "cannot load model '\(name)': \(error.description)") }
        cache[name] = (modified, loaded)
        return loaded
    }

    // MARK: Encoding

    private struct ToySamples: Encodable {
        let model: String, sampler: String, steps: Int, seed: UInt64
        let points: [[Float]]
        let labels: [Int]?
    }

    private struct ImageSamples: Encodable {
        let model: String
        let shape: [Int]
        let values: [Float]
    }

    private func checkFinite(_ x: Tensor) throws(GenerationError) {
        guard x.scalars.allSatisfy({ $0.isFinite }) else { throw GenerationError(500, "sampling produced non-finite values (try more steps or another sampler)") }
    }

    private func json(_ value: some Encodable) throws(GenerationError) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { return Response(status: 200, contentType: "application/json", body: try encoder.encode(value)) }
        catch { throw GenerationError(500, "cannot encode the response: \(error)") }
    }

    private func error(_ e: GenerationError) -> Response {
        let body = (try? JSONEncoder().encode(["error": e.description])) ?? Data("{\"error\":\"internal error\"}".utf8)
        return Response(status: e.status, contentType: "application/json", body: body)
    }

    static func rows(_ x: Tensor) -> [[Float]] {
        let d = x.shape[1], s = x.scalars
        return (0..<x.shape[0]).map { Array(s[($0 * d)..<($0 * d + d)]) }
    }
}
