import ArgumentParser
import DiffusionModels
import Foundation
import Testing
@testable import DiffusionCommands

/// A manifest of a tiny classifier and a tiny UNet on 8×8 digits whose check demands FD ≤ maxRatio × floor.
func tinyPretrainedFolder(maxRatio: Double) throws -> URL {
    let dir = try temporaryFolder()
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("configs"), withIntermediateDirectories: true)
    let base = #""data": "digits8", "channels": 8, "channelMultipliers": [1], "batchSize": 16"#
    try Data("{\(base), \"model\": \"classifier\", \"steps\": 2, \"testCount\": 100}".utf8).write(to: dir.appendingPathComponent("configs/c.json"))
    try Data("{\(base), \"model\": \"unet\", \"steps\": 3}".utf8).write(to: dir.appendingPathComponent("configs/u.json"))
    let check = #"{"classifier": "c", "sampler": "euler", "steps": 2, "count": 40, "repeats": 1, "seed": 0, "guidanceScale": 1, "maxRatio": \#(maxRatio)}"#
    let manifest = #"{"models": [{"name": "c", "config": "configs/c.json"}, {"name": "u", "config": "configs/u.json", "check": \#(check)}]}"#
    try Data(manifest.utf8).write(to: dir.appendingPathComponent("manifest.json"))
    return dir
}

// Runs share the serialized suite of the toy runs: the Ctrl-C test there raises a real SIGINT through a global hook.
extension ToyCommandRunTests {
    @Test("diffusion pretrained writes the weights and record of a model that meets its bounds, and nothing for one that misses")
    func pretrainedWritesOnlyWhatMeetsItsBounds() throws {
        let dir = try tinyPretrainedFolder(maxRatio: 1e9)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(runCommand(["pretrained", "--folder", dir.path, "--progress", "none"]) == nil)
        #expect(files(in: dir) == ["c.json", "c.safetensors", "configs", "manifest.json", "u.json", "u.safetensors"])
        let record = try PretrainedRecord.load(dir.appendingPathComponent("u.json"))
        let quality = try #require(record.checkQuality)
        #expect(record.steps == 3 && record.config.steps == 3 && record.quality == nil && quality.floor > 0 && quality.ratio > 0)
        #expect(try ImageCheckpoint.load(dir.appendingPathComponent("u.safetensors")).step == 3)
        #expect(try SafeTensors.read(dir.appendingPathComponent("u.safetensors")).tensors.keys.allSatisfy { $0.hasPrefix("ema.") })
        #expect(try PretrainedModels.load("u", folder: dir).model != nil)

        // A bound no 3-step model meets: exit 1, the old files stay byte for byte, no partial file is left.
        let before = try Data(contentsOf: dir.appendingPathComponent("u.safetensors")), recordBefore = try Data(contentsOf: dir.appendingPathComponent("u.json"))
        let strict = try tinyPretrainedFolder(maxRatio: 1e-6)
        defer { try? FileManager.default.removeItem(at: strict) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("manifest.json"))
        try FileManager.default.copyItem(at: strict.appendingPathComponent("manifest.json"), to: dir.appendingPathComponent("manifest.json"))
        let e = try #require(runCommand(["pretrained", "--folder", dir.path, "--only", "u", "--progress", "none"]))
        #expect(DiffusionCommand.exitCode(for: e).rawValue == 1)
        #expect(try Data(contentsOf: dir.appendingPathComponent("u.safetensors")) == before)
        #expect(try Data(contentsOf: dir.appendingPathComponent("u.json")) == recordBefore)
        #expect(files(in: dir) == ["c.json", "c.safetensors", "configs", "manifest.json", "u.json", "u.safetensors"])

        let bad = try #require(runCommand(["pretrained", "--folder", dir.path, "--only", "v"]))
        #expect(DiffusionCommand.message(for: bad).contains("unknown model 'v'; the manifest has: c, u"))
        let missing = try #require(runCommand(["sample", "--pretrained", "v"]))
        #expect(DiffusionCommand.message(for: missing).contains("no pretrained model 'v'"))
        let both = try #require(runCommand(["sample", "--pretrained", "u", "--checkpoint", "x.safetensors"]))
        #expect(DiffusionCommand.message(for: both).contains("give --checkpoint or --pretrained, not both"))
    }
}
