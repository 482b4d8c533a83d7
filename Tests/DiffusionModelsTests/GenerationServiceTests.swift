import Diffusion
import DiffusionData
import Foundation
import Testing
import TestSupport
@testable import DiffusionModels

/// The generation API without HTTP: a folder with a toy and an image checkpoint, requests in, bytes out.
@Suite("Generation API: models listed, samples reproducible, every bad request named")
struct GenerationServiceTests {
    /// A folder holding `toy` (8gaussians, briefly trained), `img` (a tiny class-conditional UNet on 8×8 digits), `txt`
    /// (a tiny text-conditioned UNet on 8×8 shapes), `clf` (a classifier, which the API must not offer) and `broken`
    /// (not a checkpoint).
    static let folder: URL = {
        let dir = TemporaryFolder.make("generation-api")
        var toy = TrainingConfig()
        (toy.data, toy.steps) = ("8gaussians", 30)
        let toyTrainer = try! ToyTrainer(toy)
        toyTrainer.train()
        try! toyTrainer.save(to: dir.appendingPathComponent("toy.safetensors"))
        var image = tinyImageConfig(steps: 2)
        (image.conditional, image.labelDropout) = (true, 0.1)
        var classifier = tinyImageConfig("classifier", steps: 1)
        classifier.testCount = 16
        for (name, config) in [("img", image), ("clf", classifier)] {
            let trainer = try! ImageTrainer(config, data: digits8(64))
            trainer.train()
            try! trainer.save(to: dir.appendingPathComponent(name + ".safetensors"))
        }
        let text = try! ImageTrainer(tinyTextConfig(steps: 2), data: shapes8(32))
        text.train()
        try! text.save(to: dir.appendingPathComponent("txt.safetensors"))
        try! Data("not a checkpoint".utf8).write(to: dir.appendingPathComponent("broken.safetensors"))
        return dir
    }()

    func post(_ json: String) -> GenerationService.Response {
        GenerationService(folder: Self.folder).handle(method: "POST", path: "/api/generate", body: Data(json.utf8))
    }

    func errorMessage(_ r: GenerationService.Response) -> String {
        (try? JSONDecoder().decode([String: String].self, from: r.body))?["error"] ?? "<no error field: \(String(decoding: r.body, as: UTF8.self))>"
    }

    @Test func listsDiffusionModelsOnly() throws {
        let r = GenerationService(folder: Self.folder).handle(method: "GET", path: "/api/models", body: Data())
        #expect(r.status == 200 && r.contentType == "application/json")
        let models = try JSONDecoder().decode([GenerationService.ModelInfo].self, from: r.body)
        #expect(models.map(\.name) == ["img", "toy", "txt"])
        let img = try #require(models.first)
        #expect(img.kind == "image" && img.conditional && !img.prompt && img.classes.count == 10 && img.shape == [1, 8, 8])
        #expect(models[1].kind == "toy" && !models[1].conditional && !models[1].prompt && models[1].shape == [2])
        #expect(models[2].kind == "image" && !models[2].conditional && models[2].prompt && models[2].classes.isEmpty && models[2].shape == [3, 8, 8])
    }

    @Test func toySamplesAreReproducibleInEveryFormat() throws {
        let request = #"{"model": "toy", "count": 40, "steps": 4, "sampler": "euler", "seed": 3}"#
        let a = post(request), b = post(request)
        #expect(a.status == 200 && a.contentType == "application/json")
        #expect(a.body == b.body, "the same request must give the same bytes")
        struct Points: Decodable { let points: [[Float]]; let steps: Int; let seed: UInt64 }
        let points = try JSONDecoder().decode(Points.self, from: a.body)
        #expect(points.points.count == 40 && points.points.allSatisfy { $0.count == 2 } && points.steps == 4 && points.seed == 3)
        #expect(post(#"{"model": "toy", "count": 40, "steps": 4, "sampler": "euler", "seed": 4}"#).body != a.body)
        let csv = String(decoding: post(#"{"model": "toy", "count": 5, "steps": 2, "format": "csv"}"#).body, as: UTF8.self)
        #expect(csv.hasPrefix("x,y\n") && csv.split(separator: "\n").count == 6)
        let npy = try NPY.decode(post(#"{"model": "toy", "count": 7, "steps": 2, "format": "npy"}"#).body)
        #expect(npy.shape == [7, 2])
    }

    @Test func imageSamplesArePNGGridsOrArrays() throws {
        let png = post(#"{"model": "img", "count": 4, "steps": 3, "label": 7, "guidanceScale": 2}"#)
        #expect(png.status == 200 && png.contentType == "image/png", "\(errorMessage(png))")
        #expect(Array(png.body.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let npy = try NPY.decode(post(#"{"model": "img", "count": 3, "steps": 3, "label": 7, "format": "npy"}"#).body)
        #expect(npy.shape == [3, 1, 8, 8])
        let again = try NPY.decode(post(#"{"model": "img", "count": 3, "steps": 3, "label": 7, "format": "npy"}"#).body)
        #expect(npy.scalars == again.scalars)
    }

    @Test("a text model samples for its prompt, reproducibly; the prompt changes the samples")
    func textModelTakesAPrompt() throws {
        let request = #"{"model": "txt", "count": 2, "steps": 3, "prompt": "蓝色的大正方形，位于右下", "guidanceScale": 3, "format": "npy"}"#
        let a = post(request)
        #expect(a.status == 200, "\(errorMessage(a))")
        let samples = try NPY.decode(a.body)
        #expect(samples.shape == [2, 3, 8, 8] && post(request).body == a.body)
        let other = try NPY.decode(post(#"{"model": "txt", "count": 2, "steps": 3, "prompt": "a small red circle, top left", "guidanceScale": 3, "format": "npy"}"#).body)
        #expect(other.scalars != samples.scalars)
    }

    @Test("bad requests get a 4xx naming the problem", arguments: [
        (#"{"model": "nope"}"#, 404, "unknown model 'nope'; the models are: img, toy, txt"),
        (#"{"model": "img", "prompt": "a red circle"}"#, 400, "'prompt' needs a text-conditioned model; 'img' takes no text"),
        (#"{"model": "toy", "prompt": "a red circle"}"#, 400, "'prompt' needs a text-conditioned model; 'toy' takes no text"),
        (#"{"model": "txt", "prompt": "a red dragon"}"#, 400, "unknown word 'dragon'"),
        (#"{"model": "txt", "prompt": "红色的大圆形，位于左上，红色的大圆形"}"#, 400, "the prompt has 16 tokens; the model reads at most 12"),
        (#"{"model": "txt", "prompt": 3}"#, 400, "'prompt' must be a string"),
        (#"{"model": "txt", "label": 1}"#, 400, "give a prompt, not a label"),
        (#"{"model": "toy", "guidance_scale": 3}"#, 400, "unknown field 'guidance_scale'"),
        (#"{"count": 3}"#, 400, "missing 'model'"),
        (#"{"model": "toy", "count": 0}"#, 400, "'count' must be in 1…20000"),
        (#"{"model": "img", "count": 1000}"#, 400, "'count' must be in 1…256"),
        (#"{"model": "toy", "steps": 5000}"#, 400, "'steps' must be in 1…1000"),
        (#"{"model": "toy", "steps": "ten"}"#, 400, "'steps' must be a number"),
        (#"{"model": "toy", "steps": 2.5}"#, 400, "'steps' must be a whole number"),
        (#"{"model": "toy", "seed": -1}"#, 400, "'seed' must be non-negative"),
        (#"{"model": "toy", "sampler": "magic"}"#, 400, "unknown sampler 'magic'"),
        (#"{"model": "toy", "format": "png"}"#, 400, "'format' must be json, csv or npy"),
        (#"{"model": "img", "label": 12}"#, 400, "label"),
        (#"{"model": "clf"}"#, 400, "classifier"),
        (#"{"model": "broken"}"#, 500, "cannot load model 'broken'"),
        (#"[1, 2]"#, 400, "must be a JSON object"),
        (#"{"model": "#, 400, "must be a JSON object"),
    ])
    func badRequests(_ body: String, _ status: Int, _ message: String) {
        let r = post(body)
        #expect(r.status == status && r.contentType == "application/json")
        #expect(errorMessage(r).contains(message), "\(errorMessage(r))")
    }

    @Test func routesAndMethodsAreChecked() {
        let service = GenerationService(folder: Self.folder)
        #expect(service.handle(method: "GET", path: "/api/generate", body: Data()).status == 405)
        #expect(service.handle(method: "POST", path: "/api/models", body: Data()).status == 405)
        let missing = service.handle(method: "GET", path: "/api/elsewhere", body: Data())
        #expect(missing.status == 404 && errorMessage(missing).contains("GET /api/models and POST /api/generate"))
        #expect(service.handle(method: "GET", path: "/api/models?x=1", body: Data()).status == 200)
    }
}
