import Diffusion
import DiffusionData
import DiffusionModels
import Foundation

/// Chapter 13, §文本生成图像: the committed text-to-image model (`unet-t2i-shapes`) sampled for a few prompts, and the
/// per-attribute accuracy of its samples, judged by the committed attribute classifier (`classifier-shapes`).
public enum Chapter13TextToImage {
    public static let experiments: [BookExperiment] = [t2i]

    /// The grid's prompts: two full captions (Chinese, English), two that leave attributes out, and the empty text.
    static let gridPrompts = ["蓝色的大正方形，位于右下", "a small red circle, top left", "黄色的圆环，位于中央", "绿色的十字形", ""]

    static func sample(_ model: ImageCheckpoint, prompts: [String], guidance: Double, steps: Int, seed: UInt64) throws -> Tensor {
        var o = SamplingOptions()
        (o.sampler, o.steps, o.count, o.seed, o.guidanceScale) = ("dpmpp-2m", steps, prompts.count, seed, guidance)
        var sampler = ImageSampler(o)
        sampler.prompts = prompts
        do { return try sampler.sample(model.model!, config: model.config, shape: model.shape).images } catch { throw ExperimentError(error.description) }
    }

    /// A grid of RGB images [rows·columns, 3, s, s] as a PNG inside an SVG, with a label left of each row.
    static func gridSVG(_ images: Tensor, labels: [String], columns: Int, scale: Int, title: String) throws -> String {
        let raster = ImageGrid.raster(images, columns: columns, scale: scale)
        let png: Data
        do { png = try PNG.encode(raster) } catch { throw ExperimentError("cannot encode the grid: \(error)") }
        let s = images.shape[2], labelWidth = 210, top = 28
        let (width, height) = (labelWidth + raster.width, top + raster.height)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" role=\"img\">"
        svg += "<title>\(HTML.escape(title))</title>"
        svg += "<text x=\"\(width / 2)\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" fill=\"currentColor\">\(HTML.escape(title))</text>"
        for (r, label) in labels.enumerated() {
            let y = top + scale * (1 + r * (s + 1) + s / 2) + 4
            svg += "<text x=\"\(labelWidth - 8)\" y=\"\(y)\" text-anchor=\"end\" font-size=\"12\" fill=\"currentColor\">\(HTML.escape(label))</text>"
        }
        svg += "<image x=\"\(labelWidth)\" y=\"\(top)\" width=\"\(raster.width)\" height=\"\(raster.height)\" style=\"image-rendering:pixelated\" "
        svg += "href=\"data:image/png;base64,\(png.base64EncodedString())\"/></svg>"
        return svg
    }

    static let t2i = BookExperiment(
        name: "ch13-t2i",
        summary: "The committed text-to-image UNet (pretrained/unet-t2i-shapes) sampled with DPM-Solver++(2M) for five prompts (two full captions, two that leave attributes out, the empty text) at guidance w; per-attribute accuracy (kind, colour, size, position; judged by pretrained/classifier-shapes) of samples drawn for n held-out captions at w = 0, 1 and 3, with the chance levels.",
        defaults: ["n": "96", "columns": "8", "steps": "10", "w": "3", "seed": "0"],
        revision: 2
    ) { p in
        let n = try p.int("n", in: 8...2000), columns = try p.int("columns", in: 1...32), steps = try p.int("steps", in: 2...200)
        let w = try p.double("w"), seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let model: ImageCheckpoint, judge: Classifier
        do {
            model = try PretrainedModels.load("unet-t2i-shapes")
            judge = try PretrainedModels.load("classifier-shapes").classifier!
        } catch { throw ExperimentError("\(error)") }
        var numbers: [String: Double] = ["n": Double(n), "columns": Double(columns), "steps": Double(steps), "w": w, "vocabulary": Double(CaptionTokenizer.shapes.count)]
        // What training recorded beside the two models.
        do {
            let r = try PretrainedModels.record("unet-t2i-shapes"), judgeRecord = try PretrainedModels.record("classifier-shapes")
            (numbers["parameters"], numbers["train_steps"], numbers["batch"]) = (Double(r.parameters), Double(r.steps), Double(r.config.batchSize))
            (numbers["cpu_seconds"], numbers["wall_seconds"]) = (r.trainingCPUSeconds, r.trainingWallSeconds)
            numbers["judge_test_count"] = Double(judgeRecord.config.testCount)
            for (name, a) in judgeRecord.testAttributeAccuracy ?? [:] { numbers["judge_\(name)"] = a }
        } catch { throw ExperimentError("\(error)") }
        for (name, chance) in AttributeClassification.chance { numbers["chance_\(name)"] = chance }
        // Per-attribute accuracy of samples for held-out captions (shapes seed 2: neither the training set nor the
        // pretrained check's prompts).
        let prompts = AttributeClassification.heldOutPrompts(count: n, seed: 2)
        let truth = prompts.map(ShapeAttributes.init(prompt:))
        for (tag, scale) in [("w0", 0.0), ("w1", 1.0), ("w3", 3.0)] {
            let images = try sample(model, prompts: prompts, guidance: scale, steps: steps, seed: seed)
            for (name, a) in AttributeClassification.accuracy(judge, images: images, attributes: truth) { numbers["\(tag)_\(name)"] = a }
            // Kind is the hard attribute: its accuracy for small and for large shapes apart.
            for size in ShapeSize.allCases {
                let rows = truth.indices.filter { truth[$0].size == size }
                guard !rows.isEmpty else { continue }
                let subset = images.indexSelect(axis: 0, indices: rows)
                let kinds = rows.map { ShapeAttributes(kind: truth[$0].kind) }
                numbers["\(tag)_kind_\(size.english)"] = AttributeClassification.accuracy(judge, images: subset, attributes: kinds)["kind"]
                numbers["\(tag)_count_\(size.english)"] = Double(rows.count)
            }
        }
        // How many binomial standard deviations of guessing the w = 3 accuracies lie above it (exercise ex:app-t2i-chance).
        for (name, chance) in AttributeClassification.chance {
            numbers["sd_\(name)"] = (chance * (1 - chance) / Double(n)).squareRoot()
            numbers["z_\(name)"] = (numbers["w3_\(name)"]! - chance) / numbers["sd_\(name)"]!
        }
        // The grid: each prompt repeated `columns` times; each row's accuracy on the attributes it states.
        let repeated = gridPrompts.flatMap { [String](repeating: $0, count: columns) }
        let grid = try sample(model, prompts: repeated, guidance: w, steps: steps, seed: seed &+ 1)
        for (r, prompt) in gridPrompts.enumerated() where !prompt.isEmpty {
            let rows = grid.slice(axis: 0, r * columns, (r + 1) * columns)
            let acc = AttributeClassification.accuracy(judge, images: rows, attributes: [ShapeAttributes](repeating: ShapeAttributes(prompt: prompt), count: columns))
            for (name, a) in acc { numbers["row\(r)_\(name)"] = a }
        }
        let labels = gridPrompts.map { $0.isEmpty ? "（空文本）" : $0 }
        let svg = try gridSVG(grid, labels: labels, columns: columns, scale: 3,
                              title: "unet-t2i-shapes：每行一个提示词，w = \(String(format: "%g", w))，DPM-Solver++(2M) \(steps) 步")
        return ExperimentResult(svg: svg, numbers: numbers)
    }
}
