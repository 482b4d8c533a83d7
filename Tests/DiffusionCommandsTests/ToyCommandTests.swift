import ArgumentParser
import Diffusion
import Foundation
import TestSupport
import Testing
@testable import DiffusionCommands

/// A fresh empty folder under the system temporary directory.
func temporaryFolder() throws -> URL {
    TemporaryFolder.make("cli")
}

/// Parses and runs a command; returns the error it throws, if any.
func runCommand(_ args: [String]) -> (any Error)? {
    do {
        var command = try DiffusionCommand.parseAsRoot(args)
        try command.run()
        return nil
    } catch {
        return error
    }
}

func files(in folder: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
}

/// Small, fast training flags.
let tinyTraining = ["--steps", "12", "--batch-size", "32", "--width", "16", "--blocks", "1", "--progress", "none"]

@Suite("train / sample / eval: bad input is rejected with a clear message")
struct ToyCommandParsingTests {
    @Test func badNamesAndValues() throws {
        for (args, needle) in [
            (["train", "--data", "nope"], "unknown data set 'nope'"),
            (["train", "--objective", "magic"], "unknown objective 'magic'"),
            (["train", "--process", "vp-wobbly"], "unknown process 'vp-wobbly'"),
            (["train", "--prediction", "noise"], "unknown prediction 'noise'"),
            (["train", "--steps", "0"], "steps must be in"),
            (["train", "--lr", "5"], "learningRate must be in"),
            (["train", "--batch-size", "1"], "batchSize must be in"),
            (["train", "--progress", "fancy"], "--progress"),
            (["train", "--zero-terminal-snr"], "zero-terminal-SNR"),
            (["train", "--objective", "flow", "--prediction", "epsilon"], "zero-terminal-SNR"),
            (["train", "--objective", "edm", "--prediction", "v"], "preconditioned x₀ model"),
            (["train", "--objective", "vlb", "--process", "cosine"], "discrete VP process"),
            (["train", "--objective", "x0", "--process", "edm"], "edm objective"),
            (["train", "--data", "swiss-roll", "--conditional"], "no labels"),
            (["train", "--min-snr-gamma", "5", "--objective", "flow"], "minSNRGamma applies"),
            (["train", "--config", "/nonexistent/config.json"], "cannot read config file"),
            (["sample", "--sampler", "magic"], "unknown sampler 'magic'"),
            (["sample", "--schedule", "wobbly"], "unknown schedule 'wobbly'"),
            (["sample", "--steps", "0"], "--steps"),
            (["sample", "--guidance-rescale", "2"], "--guidance-rescale"),
            (["eval", "--metrics", "energy,fid"], "unknown metric 'fid'"),
        ] {
            let f = try #require(parseFailure(args), "\(args) should be rejected")
            #expect(f.code != 0, "\(args)")
            #expect(f.message.contains(needle), "message for \(args) should contain \(needle): \(f.message)")
        }
    }

    @Test("a config file is read, unknown fields are rejected, and flags override the file")
    func configFile() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.json"), bad = dir.appendingPathComponent("bad.json")
        try Data(#"{"data": "8gaussians", "steps": 5, "objective": "v", "minSNRGamma": 5}"#.utf8).write(to: good)
        try Data(#"{"data": "moons", "stpes": 5}"#.utf8).write(to: bad)
        let parsed = try DiffusionCommand.parseAsRoot(["train", "--config", good.path, "--steps", "7"])
        let config = try #require(parsed as? Train).resolvedConfig()
        #expect(config.data == "8gaussians" && config.steps == 7 && config.objective == "v" && config.minSNRGamma == 5)
        #expect(config.batchSize == TrainingConfig().batchSize)
        let f = try #require(parseFailure(["train", "--config", bad.path]))
        #expect(f.message.contains("unknown field 'stpes'"))
        try Data(#"{"steps": "many"}"#.utf8).write(to: bad)
        #expect(try #require(parseFailure(["train", "--config", bad.path])).message.contains("'steps' has the wrong type"))
    }

    @Test("sample --list prints every sampler with its order and calls per step")
    func list() {
        let text = Sample.listing()
        for s in samplers {
            let line = text.split(separator: "\n").first { $0.hasPrefix(s.name + " ") }
            #expect(line != nil, "\(s.name) missing")
            let fields = line.map { $0.split(separator: " ", omittingEmptySubsequences: true) } ?? []
            #expect(fields.count > 3 && fields[1] == "\(s.order)" && fields[2] == "\(s.callsPerStep)", "\(s.name): \(line ?? "")")
        }
        #expect(runCommand(["sample", "--list"]) == nil)
    }

    @Test("progress: periodic lines off a terminal with loss, rate and ETA; none prints nothing")
    func progress() {
        final class Sink: @unchecked Sendable { var text = "" }
        let sink = Sink()
        let bar = ProgressBar(total: 100, mode: .lines) { sink.text += $0 }
        for step in 1...100 { bar.update(step: step, loss: 0.5) }
        bar.finish()
        let lines = sink.text.split(separator: "\n")
        #expect(lines.count == 10)
        #expect(lines.last!.contains("step 100/100") && lines.last!.contains("loss 0.5000") && lines.last!.contains("it/s") && lines.last!.contains("ETA"))
        let inPlace = ProgressBar(total: 3, mode: .bar) { sink.text += $0 }
        sink.text = ""
        for step in 1...3 { inPlace.update(step: step, loss: 1) }
        inPlace.finish()
        #expect(sink.text.hasPrefix("\r\u{1B}[2K") && sink.text.hasSuffix("\n") && sink.text.contains("step 3/3"))
        sink.text = ""
        let quiet = ProgressBar(total: 3, mode: ProgressBar.Mode.none) { sink.text += $0 }
        quiet.update(step: 1, loss: 1)
        #expect(sink.text.isEmpty)
        #expect(ProgressBar.clock(3725) == "1:02:05" && ProgressBar.clock(65) == "1:05")
    }
}

/// Runs the commands into temporary folders. Serialized: the Ctrl-C test raises a real SIGINT.
@Suite("train / sample / eval: runs", .serialized)
struct ToyCommandRunTests {
    @Test("train writes one checkpoint with the config in its metadata, and nothing else")
    func trainWritesCheckpoint() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = dir.appendingPathComponent("m.safetensors")
        #expect(runCommand(["train", "--data", "8gaussians", "--output", ckpt.path] + tinyTraining) == nil)
        #expect(files(in: dir) == ["m.safetensors"])
        let loaded = try ToyCheckpoint.load(ckpt)
        #expect(loaded.config.data == "8gaussians" && loaded.config.steps == 12 && loaded.step == 12)
        let meta = try SafeTensors.read(ckpt).metadata
        #expect(meta["config"] == loaded.config.json)
    }

    @Test("bad runs write nothing: missing folder, mismatched prediction, unknown checkpoint")
    func noPartialOutputs() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("no/such/m.safetensors").path
        let e1 = try #require(runCommand(["train", "--output", missing] + tinyTraining))
        #expect(DiffusionCommand.message(for: e1).contains("does not exist") && DiffusionCommand.exitCode(for: e1).rawValue != 0)
        let ckpt = dir.appendingPathComponent("m.safetensors").path
        #expect(runCommand(["train", "--output", ckpt, "--objective", "v"] + tinyTraining) == nil)
        let csv = dir.appendingPathComponent("s.csv").path, svg = dir.appendingPathComponent("s.svg").path
        let e2 = try #require(runCommand(["sample", "--checkpoint", ckpt, "--prediction", "epsilon", "--output", csv, "--plot", svg]))
        let m2 = DiffusionCommand.message(for: e2)
        #expect(m2.contains("trained with v-prediction") && m2.contains("epsilon was requested"), "\(m2)")
        let e3 = try #require(runCommand(["sample", "--checkpoint", dir.appendingPathComponent("nope").path, "--output", csv]))
        #expect(DiffusionCommand.message(for: e3).contains("does not exist"))
        let e4 = try #require(runCommand(["sample", "--checkpoint", ckpt, "--label", "1", "--output", csv]))
        #expect(DiffusionCommand.message(for: e4).contains("trained unconditionally"))
        let e5 = try #require(runCommand(["sample", "--checkpoint", ckpt, "--schedule", "trailing", "--steps", "2000", "--output", csv]))
        #expect(DiffusionCommand.message(for: e5).contains("at most T = 1000"))
        #expect(files(in: dir) == ["m.safetensors"])
    }

    @Test("sample writes a CSV with header x,y (x,y,label when conditional) and an SVG; eval reports metrics with floors")
    func sampleAndEval() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = dir.appendingPathComponent("m.safetensors").path
        #expect(runCommand(["train", "--output", ckpt, "--data", "moons", "--conditional", "--objective", "flow"] + tinyTraining) == nil)
        let csv = dir.appendingPathComponent("s.csv").path, svg = dir.appendingPathComponent("s.svg").path
        #expect(runCommand(["sample", "--checkpoint", ckpt, "--count", "50", "--steps", "4", "--sampler", "flow-heun", "--guidance-scale", "2",
                            "--output", csv, "--plot", svg]) == nil)
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "x,y,label" && lines.count == 51)
        #expect(lines.dropFirst().allSatisfy { $0.split(separator: ",").count == 3 })
        #expect(try String(contentsOfFile: svg, encoding: .utf8).hasPrefix("<svg"))
        #expect(files(in: dir) == ["m.safetensors", "s.csv", "s.svg"])
        let plain = dir.appendingPathComponent("p.safetensors").path
        #expect(runCommand(["train", "--output", plain, "--data", "gmm-1d"] + tinyTraining) == nil)
        #expect(runCommand(["sample", "--checkpoint", plain, "--count", "20", "--steps", "3", "--output", csv, "--plot", "none"]) == nil)
        #expect(try String(contentsOfFile: csv, encoding: .utf8).hasPrefix("x\n"))
        #expect(runCommand(["eval", "--checkpoint", plain, "--count", "100", "--steps", "3", "--nll-count", "8", "--nll-steps", "4", "--json"]) == nil)
    }

    @Test("Ctrl-C: the loop stops at the next step, a valid checkpoint of the steps done is written, exit status 130; --resume finishes")
    func interrupt() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir); TrainHooks.afterStep.withLock { $0 = nil } }
        let ckpt = dir.appendingPathComponent("m.safetensors")
        TrainHooks.afterStep.withLock { $0 = { step in if step == 5 {
            kill(getpid(), SIGINT)
            for _ in 0..<2000 where !Interrupt.requested { usleep(500) }   // delivery is asynchronous
        }  } }
        let args = ["train", "--output", ckpt.path, "--steps", "40", "--batch-size", "16", "--width", "16", "--blocks", "1", "--progress", "none"]
        let error = try #require(runCommand(args))
        #expect(DiffusionCommand.exitCode(for: error).rawValue == 130)
        TrainHooks.afterStep.withLock { $0 = nil }
        #expect(files(in: dir) == ["m.safetensors"])
        #expect(try ToyCheckpoint.load(ckpt).step == 5)
        #expect(runCommand(args + ["--resume"]) == nil)
        #expect(try ToyCheckpoint.load(ckpt).step == 40)
        // Resuming is exact: the same weights as an uninterrupted run.
        let whole = dir.appendingPathComponent("whole.safetensors")
        #expect(runCommand(["train", "--output", whole.path, "--steps", "40", "--batch-size", "16", "--width", "16", "--blocks", "1", "--progress", "none"]) == nil)
        let a = try SafeTensors.read(ckpt).tensors, b = try SafeTensors.read(whole).tensors
        #expect(a.keys.sorted() == b.keys.sorted() && a.keys.allSatisfy { a[$0]!.scalars == b[$0]!.scalars })
    }
}
