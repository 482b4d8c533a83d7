import ArgumentParser
import DiffusionData
import DiffusionModels
import Foundation
import Testing
@testable import DiffusionCommands

/// A tiny image run on 8×8 digits: a width-8 one-level UNet (the multipliers come from a config file).
func tinyImageArgs(_ dir: URL, model: String = "unet", steps: Int = 3) throws -> [String] {
    let config = dir.appendingPathComponent("tiny-\(model).json")
    try Data(#"{"channelMultipliers": [1], "hiddenSize": 16, "depth": 1, "batchSize": 16, "testCount": 100}"#.utf8).write(to: config)
    return ["--config", config.path, "--data", "digits8", "--model", model, "--steps", "\(steps)", "--channels", "8", "--progress", "none"]
}

@Suite("train / sample / eval on images: bad input is rejected with a clear message")
struct ImageCommandParsingTests {
    @Test func badNamesAndValues() throws {
        for (args, needle) in [
            (["train", "--data", "cifar"], "unknown data set 'cifar'; choose one of: swiss-roll"),
            (["train", "--data", "cifar"], "digits, digits8, shapes, idx:IMAGES[,LABELS], folder:PATH"),
            (["train", "--data", "digits", "--model", "vae"], "unknown model 'vae'; choose one of: unet, dit, classifier"),
            (["train", "--model", "vae"], "unknown model 'vae'"),
            (["train", "--data", "digits", "--channels", "12"], "multiple of 8"),
            (["train", "--data", "digits", "--width", "64"], "--width and --blocks size the toy MLP"),
            (["train", "--data", "moons", "--model", "unet"], "apply to image data, not to the toy set 'moons'"),
            (["train", "--data", "digits", "--objective", "edm", "--prediction", "v"], "preconditioned x₀ model"),
            (["train", "--data", "digits", "--model", "dit", "--hidden-size", "90"], "hiddenSize must be divisible"),
            (["sample", "--grid-scale", "0"], "--grid-scale"),
        ] {
            let f = try #require(parseFailure(args), "\(args) should be rejected")
            #expect(f.code != 0, "\(args)")
            #expect(f.message.contains(needle), "message for \(args) should contain \(needle): \(f.message)")
        }
    }

    @Test("a config file naming image data makes an image run; flags override it")
    func configFile() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("run.json")
        try Data(#"{"data": "shapes", "model": "dit", "depth": 2, "conditional": true}"#.utf8).write(to: file)
        let train = try #require(try DiffusionCommand.parseAsRoot(["train", "--config", file.path, "--depth", "3", "--steps", "9"]) as? Train)
        #expect(try train.isImageRun())
        let c = try train.resolvedImageConfig()
        #expect(c.data == "shapes" && c.model == "dit" && c.depth == 3 && c.steps == 9 && c.conditional)
        try Data(#"{"data": "digits", "dpeth": 2}"#.utf8).write(to: file)
        #expect(try #require(parseFailure(["train", "--config", file.path])).message.contains("unknown field 'dpeth'"))
    }
}

// Runs share the serialized suite of the toy runs: the Ctrl-C test there raises a real SIGINT through a global hook.
extension ToyCommandRunTests {
    @Test("image train writes one checkpoint; sample writes PNG, .npy and GIF only on success; eval reports FD with its floor")
    func imageTrainSampleEval() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = dir.appendingPathComponent("m.safetensors").path, cls = dir.appendingPathComponent("c.safetensors").path
        let missing = dir.appendingPathComponent("no/such/m.safetensors").path
        let e0 = try #require(runCommand(["train", "--output", missing] + tinyImageArgs(dir)))
        #expect(DiffusionCommand.message(for: e0).contains("does not exist"))
        let e1 = try #require(runCommand(["train", "--data", "idx:/nonexistent/t-images-idx3-ubyte", "--output", ckpt, "--progress", "none"]))
        #expect(DiffusionCommand.message(for: e1).contains("file '/nonexistent/t-images-idx3-ubyte' does not exist"))
        let unetArgs = try tinyImageArgs(dir), classifierArgs = try tinyImageArgs(dir, model: "classifier", steps: 2)
        #expect(runCommand(["train", "--output", ckpt, "--conditional"] + unetArgs) == nil)
        #expect(runCommand(["train", "--output", cls] + classifierArgs) == nil)
        #expect(files(in: dir) == ["c.safetensors", "m.safetensors", "tiny-classifier.json", "tiny-unet.json"])
        let loaded = try ImageCheckpoint.load(URL(fileURLWithPath: ckpt))
        #expect(loaded.config.data == "digits8" && loaded.config.conditional && loaded.step == 3 && loaded.shape.size == 8)

        let png = dir.appendingPathComponent("s.png").path, npy = dir.appendingPathComponent("s.npy").path, gif = dir.appendingPathComponent("s.gif").path
        let common = ["sample", "--checkpoint", ckpt, "--count", "6", "--steps", "3", "--sampler", "ddim"]
        // Failures write nothing.
        for (args, needle) in [
            (["--label", "10", "--output", png, "--npy", npy], "label must be in 0…9"),
            (["--plot", "x.svg", "--output", png], "--plot applies to toy checkpoints"),
            (["--output", dir.appendingPathComponent("no/such/s.png").path, "--npy", npy], "does not exist"),
            (["--prediction", "v", "--output", png], "trained with epsilon-prediction"),
        ] {
            let e = try #require(runCommand(common + args), "\(args)")
            #expect(DiffusionCommand.message(for: e).contains(needle), "\(args): \(DiffusionCommand.message(for: e))")
        }
        let eCls = try #require(runCommand(["sample", "--checkpoint", cls, "--output", png]))
        #expect(DiffusionCommand.message(for: eCls).contains("holds a classifier"))
        #expect(!FileManager.default.fileExists(atPath: png) && !FileManager.default.fileExists(atPath: npy))

        #expect(runCommand(common + ["--label", "3", "--guidance-scale", "2", "--output", png, "--npy", npy, "--gif", gif, "--grid-scale", "2"]) == nil)
        let x = try NPY.read(URL(fileURLWithPath: npy))
        #expect(x.shape == [6, 1, 8, 8] && x.scalars.allSatisfy(\.isFinite))
        let grid = try PNG.read(URL(fileURLWithPath: png), channels: 1)
        #expect(grid.width == 2 * (3 * 9 + 1) && grid.height == 2 * (2 * 9 + 1))
        #expect(try Data(contentsOf: URL(fileURLWithPath: gif)).prefix(6) == Data("GIF89a".utf8))
        // The grid shows the .npy values.
        let expected = ImageGrid.raster(x, scale: 2)
        #expect(grid.pixels == expected.pixels)
        // --npy alone writes no PNG.
        try FileManager.default.removeItem(atPath: png)
        #expect(runCommand(common + ["--npy", npy]) == nil)
        #expect(!FileManager.default.fileExists(atPath: png))
        #expect(!files(in: dir).contains { $0.contains(".tmp-") })

        let e2 = try #require(runCommand(["eval", "--checkpoint", ckpt, "--count", "20", "--steps", "2"]))
        #expect(DiffusionCommand.message(for: e2).contains("no classifier for 'digits8'"))
        let e3 = try #require(runCommand(["eval", "--checkpoint", ckpt, "--classifier", cls, "--count", "1000"]))
        #expect(DiffusionCommand.message(for: e3).contains("use --count ≤ 898"))
        #expect(runCommand(["eval", "--checkpoint", ckpt, "--classifier", cls, "--count", "20", "--steps", "2", "--repeats", "2", "--json", "--guidance-scale", "3"]) == nil)
    }

    @Test("sample --prompt: a text model draws for the prompt (English or Chinese); unknown words, over-long prompts and prompts for a model without text fail, writing nothing")
    func samplePrompt() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = ImageTrainingConfig()
        (c.data, c.model, c.steps, c.batchSize, c.warmupSteps, c.channels, c.channelMultipliers) = ("shapes", "unet", 2, 8, 1, 8, [1])
        (c.text, c.textLength, c.textWidth, c.attentionResolutions) = (true, 12, 16, [8])
        let trainer = try ImageTrainer(c, data: ShapesDataset(seed: 0, size: 8).batch(offset: 0, count: 16))
        trainer.train()
        let text = dir.appendingPathComponent("t.safetensors").path, plain = dir.appendingPathComponent("m.safetensors").path
        try trainer.save(to: URL(fileURLWithPath: text))
        #expect(runCommand(["train", "--output", plain] + (try tinyImageArgs(dir, steps: 1))) == nil)
        let png = dir.appendingPathComponent("p.png").path
        let common = ["sample", "--count", "4", "--steps", "3", "--sampler", "ddim", "--out", png]
        for (args, needle) in [
            (["--checkpoint", text, "--prompt", "a blue squirrel"], "unknown word 'squirrel'"),
            (["--checkpoint", text, "--prompt", "红色的大圆形，位于左上，蓝色的"], "the prompt has 13 tokens; the model reads at most 12"),
            (["--checkpoint", text, "--label", "2"], "give a prompt, not a label"),
            (["--checkpoint", plain, "--prompt", "a red circle"], "a prompt needs a text-conditioned model"),
        ] {
            let e = try #require(runCommand(common + args), "\(args)")
            #expect(DiffusionCommand.message(for: e).contains(needle), "\(args): \(DiffusionCommand.message(for: e))")
            #expect(!FileManager.default.fileExists(atPath: png))
        }
        #expect(runCommand(common + ["--checkpoint", text, "--prompt", "蓝色的大正方形，位于右下", "--guidance", "3"]) == nil)
        #expect(try PNG.read(URL(fileURLWithPath: png), channels: 3).width == 4 * (2 * 9 + 1))
        #expect(runCommand(common + ["--checkpoint", text, "--prompt", "a large blue square, bottom right", "--prompt", "红色的圆形"]) == nil)
    }

    @Test("image Ctrl-C: a valid checkpoint of the steps done, exit 130; --resume finishes bit-identically")
    func imageInterrupt() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir); TrainHooks.afterStep.withLock { $0 = nil } }
        let ckpt = dir.appendingPathComponent("m.safetensors"), whole = dir.appendingPathComponent("whole.safetensors")
        TrainHooks.afterStep.withLock { $0 = { step in if step == 2 {
            kill(getpid(), SIGINT)
            for _ in 0..<2000 where !Interrupt.requested { usleep(500) }
        } } }
        let args = try tinyImageArgs(dir, steps: 5)
        let error = try #require(runCommand(["train", "--output", ckpt.path] + args))
        #expect(DiffusionCommand.exitCode(for: error).rawValue == 130)
        TrainHooks.afterStep.withLock { $0 = nil }
        #expect(try ImageCheckpoint.load(ckpt).step == 2)
        #expect(runCommand(["train", "--output", ckpt.path, "--resume"] + args) == nil)
        #expect(runCommand(["train", "--output", whole.path] + args) == nil)
        let a = try SafeTensors.read(ckpt).tensors, b = try SafeTensors.read(whole).tensors
        #expect(a.keys.sorted() == b.keys.sorted() && a.keys.allSatisfy { a[$0]!.scalars == b[$0]!.scalars })
    }
}
