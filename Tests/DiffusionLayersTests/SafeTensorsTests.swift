import Foundation
import Testing
@testable import DiffusionLayers

/// A safetensors file assembled by hand: header JSON (unpadded) followed by `data`.
func rawSafeTensors(_ header: String, _ data: [UInt8]) -> Data {
    let h = Array(header.utf8)
    var out = Data()
    withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: h)
    out.append(contentsOf: data)
    return out
}

func bytes(_ values: [Float]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } } }

/// Expects `body` to throw a SafeTensorsError with `fault` whose message names `file` and `tensor`.
func expectFault(_ fault: SafeTensorsError.Fault, file: String, tensor: String?, sourceLocation: SourceLocation = #_sourceLocation,
                 _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(fault) error", sourceLocation: sourceLocation)
    } catch let e as SafeTensorsError {
        #expect(e.fault == fault, "\(e)", sourceLocation: sourceLocation)
        #expect(e.description.contains(file), "message does not name the file: \(e)", sourceLocation: sourceLocation)
        if let tensor { #expect(e.tensor == tensor && e.description.contains("'\(tensor)'"), "\(e)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Test func safetensorsRoundTrip() throws {
    let dir = try temporaryDirectory()
    let url = dir.appendingPathComponent("t.safetensors")
    let a = Tensor.randomNormal([2, 3], seed: 1), b = Tensor([.infinity, -0.0, .leastNonzeroMagnitude, -7.5])
    let tensors: [(String, Tensor)] = [("layer.weight", a), ("z", b), ("scalar", Tensor(scalar: 3)), ("empty", Tensor.zeros([0, 4])),
                                       ("view", a.transposed())]
    try SafeTensors.write(tensors, metadata: ["config": "{\"dim\": 3}", "quote\"key": "line\nbreak"], to: url)
    let raw = try Data(contentsOf: url)
    let n = raw.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    #expect((8 + n) % 8 == 0, "data section is 8-byte aligned")
    let file = try SafeTensors.read(url)
    #expect(file.names == ["layer.weight", "z", "scalar", "empty", "view"])
    for (name, t) in tensors {
        #expect(file.tensors[name]!.shape == t.shape, "\(name)")
        #expect(file.tensors[name]!.scalars.map(\.bitPattern) == t.scalars.map(\.bitPattern), "\(name)")
        #expect(file.dtypes[name] == "F32")
    }
    #expect(file.metadata == ["config": "{\"dim\": 3}", "quote\"key": "line\nbreak"])
    // Only the final file is left behind.
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["t.safetensors"])
    // Overwriting replaces the whole file.
    try SafeTensors.write([("only", Tensor([1]))], to: url)
    #expect(try SafeTensors.read(url).names == ["only"])
    // A write that cannot complete leaves nothing.
    let bad = dir.appendingPathComponent("missing-dir/x.safetensors")
    expectFault(.io, file: bad.path, tensor: nil) { try SafeTensors.write([("a", Tensor([1]))], to: bad) }
}

@Test func readsHalfAndBFloat16() throws {
    // F16: 1, −2, 65504 (largest), 2⁻²⁴ (smallest subnormal), −∞; BF16: 1, −3.140625.
    let f16: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0xFC00], bf16: [UInt16] = [0x3F80, 0xC049]
    let data = (f16 + bf16).flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    let header = #"{"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[10,14]}}"#
    let file = try SafeTensors.parse(rawSafeTensors(header, data), file: "mem")
    #expect(file.tensors["h"]!.scalars == [1, -2, 65504, 0x1p-24, -.infinity])
    #expect(file.tensors["b"]!.scalars == [1, -3.140625] && file.tensors["b"]!.shape == [1, 2])
    #expect(file.dtypes == ["h": "F16", "b": "BF16"])
    #expect(SafeTensors.halfToFloat(0x7E00).isNaN && SafeTensors.halfToFloat(0x8000).sign == .minus)
    #expect(SafeTensors.halfToFloat(0x0400) == 0x1p-14 && SafeTensors.halfToFloat(0x03FF) == 0x1.ff8p-15)
}

@Test func corruptFilesAreRejectedWithNamedFaults() throws {
    let f = "corrupt.safetensors"
    func parse(_ d: Data) throws { _ = try SafeTensors.parse(d, file: f) }
    let good = rawSafeTensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, bytes([1, 2]))
    try parse(good)
    expectFault(.truncated, file: f, tensor: nil) { try parse(good.prefix(5)) }
    expectFault(.truncated, file: f, tensor: nil) { try parse(good.prefix(20)) }
    expectFault(.offsetsOutOfRange, file: f, tensor: "a") { try parse(good.dropLast(3)) }
    expectFault(.unindexedData, file: f, tensor: nil) { try parse(good + [0, 0, 0, 0]) }
    expectFault(.invalidJSON, file: f, tensor: nil) { try parse(rawSafeTensors(#"{"a": {"dtype": "F32", "shape": [2]"#, bytes([1, 2]))) }
    expectFault(.invalidJSON, file: f, tensor: nil) { try parse(rawSafeTensors("not json", [])) }
    expectFault(.invalidHeader, file: f, tensor: nil) { try parse(Data([255, 255, 255, 255, 255, 255, 255, 127]) + Data(count: 16)) }
    expectFault(.invalidEntry, file: f, tensor: "a") {
        try parse(rawSafeTensors(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, bytes([1, 2])))
    }
    expectFault(.invalidEntry, file: f, tensor: "a") {
        try parse(rawSafeTensors(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, bytes([1, 2])))
    }
    expectFault(.unsupportedDType, file: f, tensor: "a") {
        try parse(rawSafeTensors(#"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, bytes([1, 2])))
    }
    expectFault(.offsetsOutOfRange, file: f, tensor: "b") {
        try parse(rawSafeTensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, bytes([1, 2])))
    }
    expectFault(.overlappingData, file: f, tensor: "b") {
        try parse(rawSafeTensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, bytes([1, 2])))
    }
    expectFault(.unindexedData, file: f, tensor: "a") {
        try parse(rawSafeTensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, bytes([1, 2])))
    }
    expectFault(.invalidMetadata, file: f, tensor: nil) {
        try parse(rawSafeTensors(#"{"__metadata__":{"n":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, bytes([1, 2])))
    }
    // A file on disk cut short names its path.
    let dir = try temporaryDirectory()
    let url = dir.appendingPathComponent("cut.safetensors")
    try SafeTensors.write([("w", Tensor.ones([16]))], to: url)
    try Data(try Data(contentsOf: url).dropLast(10)).write(to: url)
    expectFault(.offsetsOutOfRange, file: url.path, tensor: "w") { _ = try SafeTensors.read(url) }
    expectFault(.io, file: "nope.safetensors", tensor: nil) { _ = try SafeTensors.read(dir.appendingPathComponent("nope.safetensors")) }
}

struct TinyConfig: Codable, Equatable { var width: Int; var name: String }

@Test func modulesSaveAndLoadWithConfig() throws {
    let dir = try temporaryDirectory()
    let url = dir.appendingPathComponent("model.safetensors")
    let a = withParameterSeed(1) { Sequential(Linear(3, 4), SiLU(), LayerNorm(4)) }
    try a.save(to: url, config: TinyConfig(width: 4, name: "tiny"))
    let b = withParameterSeed(2) { Sequential(Linear(3, 4), SiLU(), LayerNorm(4)) }
    #expect(b.parameters()[0].value.scalars != a.parameters()[0].value.scalars)
    let meta = try b.load(from: url)
    #expect(try decodeConfig(TinyConfig.self, from: meta) == TinyConfig(width: 4, name: "tiny"))
    for (p, q) in zip(a.parameters(), b.parameters()) { #expect(p.value.scalars == q.value.scalars) }

    // Wrong shape, missing tensor, unexpected tensor: each named, and the module is left unchanged.
    let before = b.parameters().map { $0.value.scalars }
    let wide = withParameterSeed(3) { Sequential(Linear(3, 5), SiLU(), LayerNorm(5)) }
    try wide.save(to: url)
    expectFault(.shapeMismatch, file: url.path, tensor: "0.weight") { try b.load(from: url) }
    try SafeTensors.write(a.stateDict().filter { $0.0 != "2.bias" }, to: url)
    expectFault(.missingTensor, file: url.path, tensor: "2.bias") { try b.load(from: url) }
    try SafeTensors.write(a.stateDict() + [("extra", Tensor([1]))], to: url)
    expectFault(.unexpectedTensor, file: url.path, tensor: "extra") { try b.load(from: url) }
    #expect(b.parameters().map { $0.value.scalars } == before)
    try b.load(from: url, strict: false)
}

/// True when `python3` can import safetensors and numpy (checked once).
let pythonHasSafetensors: Bool = {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", "import safetensors, numpy"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}()

/// Runs a Python snippet with arguments; returns its standard output.
func runPython(_ script: String, _ args: [String]) throws -> String {
    let p = Process(), out = Pipe(), err = Pipe()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script] + args
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "python failed: \(String(decoding: e, as: UTF8.self))")
    return String(decoding: o, as: UTF8.self)
}

// Skipped, with this reason shown in the test output, when python3 lacks safetensors or numpy
// (install with `python3 -m pip install safetensors numpy`).
@Test(.enabled(if: pythonHasSafetensors, "python3 with the safetensors and numpy modules is not available (python3 -m pip install safetensors numpy)"))
func pythonSafetensorsInterop() throws {
    let dir = try temporaryDirectory()
    // Ours → Python: the arrays' bit patterns and the metadata come back identical.
    let ours = dir.appendingPathComponent("ours.safetensors")
    let w = Tensor.randomNormal([3, 4], seed: 9), v = Tensor([-0.0, .infinity, Float.leastNormalMagnitude / 4, 3.5])
    try SafeTensors.write([("net.w", w), ("v", v)], metadata: ["config": "{\"a\": 1}"], to: ours)
    let read = """
    import sys, json, numpy as np
    from safetensors.numpy import load_file
    from safetensors import safe_open
    t = load_file(sys.argv[1])
    with safe_open(sys.argv[1], framework="np") as f: meta = f.metadata()
    print(json.dumps({"meta": meta, "t": {k: {"shape": list(a.shape), "dtype": str(a.dtype), "bits": a.view(np.uint32).ravel().tolist()} for k, a in t.items()}}))
    """
    let json = try JSONSerialization.jsonObject(with: Data(try runPython(read, [ours.path]).utf8)) as! [String: Any]
    #expect(json["meta"] as? [String: String] == ["config": "{\"a\": 1}"])
    let t = json["t"] as! [String: [String: Any]]
    for (name, x) in [("net.w", w), ("v", v)] {
        #expect(t[name]?["shape"] as? [Int] == x.shape && t[name]?["dtype"] as? String == "float32")
        #expect((t[name]?["bits"] as? [Int])?.map(UInt32.init) == x.scalars.map(\.bitPattern), "\(name)")
    }

    // Python → ours: F32 and F16 arrays and metadata.
    let theirs = dir.appendingPathComponent("theirs.safetensors")
    let write = """
    import sys, numpy as np
    from safetensors.numpy import save_file
    save_file({"a": np.arange(6, dtype=np.float32).reshape(2, 3) / 7, "h": np.array([0.5, -1.25, 65504, 2**-24], dtype=np.float16),
               "e": np.zeros((0, 2), dtype=np.float32)}, sys.argv[1], metadata={"step": "12"})
    """
    _ = try runPython(write, [theirs.path])
    let file = try SafeTensors.read(theirs)
    #expect(file.metadata == ["step": "12"])
    #expect(file.tensors["a"]!.shape == [2, 3] && file.tensors["a"]!.scalars == (0..<6).map { Float($0) / 7 })
    #expect(file.tensors["h"]!.scalars == [0.5, -1.25, 65504, 0x1p-24] && file.dtypes["h"] == "F16")
    #expect(file.tensors["e"]!.shape == [0, 2])
}
