import Foundation
import Testing
@testable import DiffusionData

@Suite("NPY v1.0 float32 files")
struct NPYTests {
    @Test("the header is a padded Python dict, the data starts at a multiple of 64, values round-trip bit for bit")
    func roundTrip() throws {
        let x = Tensor([-0.0, .infinity, -.infinity, Float.leastNormalMagnitude / 4, 1.5, -2, 3.25, 1e-30, 7, 8, 9, 10], shape: [2, 1, 2, 3])
        let data = NPY.encode(x)
        let bytes = [UInt8](data)
        #expect(Array(bytes.prefix(8)) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0] as [UInt8])
        let length = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + length)], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2, 3), }") && header.hasSuffix("\n"))
        #expect((10 + length) % 64 == 0 && bytes.count == 10 + length + 4 * 12)
        let back = try NPY.decode(data)
        #expect(back.shape == x.shape && back.scalars.map(\.bitPattern) == x.scalars.map(\.bitPattern))
        for shape in [[5], []] {
            let t = Tensor([Float](repeating: 0.5, count: shape.reduce(1, *)), shape: shape)
            let u = try NPY.decode(NPY.encode(t))
            #expect(u.shape == shape && u.scalars == t.scalars, "\(shape)")
        }
        #expect(String(decoding: NPY.encode(Tensor([1, 2])).prefix(80), as: UTF8.self).contains("'shape': (2,)"))
    }

    @Test("bad files are DataErrors naming the file")
    func badFiles() throws {
        let good = NPY.encode(Tensor([1, 2, 3]))
        expectDataError(.badMagic, file: "a.npy") { _ = try NPY.decode(Data("not numpy".utf8), file: "a.npy") }
        expectDataError(.truncated, file: "b.npy") { _ = try NPY.decode(good.dropLast(4), file: "b.npy") }
        var f8 = [UInt8](good)
        let at = f8.indices.first { f8[$0] == UInt8(ascii: "<") }!
        f8[at + 2] = UInt8(ascii: "8")
        expectDataError(.badHeader, file: "c.npy") { _ = try NPY.decode(Data(f8), file: "c.npy") }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        expectDataError(.unreadable, file: dir.appendingPathComponent("missing.npy").path) { _ = try NPY.read(dir.appendingPathComponent("missing.npy")) }
    }

    @Test(.enabled(if: pythonHasNumPy, "python3 with numpy is not available (python3 -m pip install numpy)"))
    func numpyReadsOurFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("x.npy")
        let x = Tensor.randomNormal([3, 2, 4, 5], seed: 11)
        try NPY.write(x, to: url)
        let p = Process(), out = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import sys, numpy as np; a = np.load(sys.argv[1]); print(a.dtype, list(a.shape), ' '.join(map(str, a.view(np.uint32).ravel().tolist())))", url.path]
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let expected = "float32 [3, 2, 4, 5] " + x.scalars.map { String($0.bitPattern) }.joined(separator: " ")
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
    }
}

/// True when `python3` can import numpy (checked once).
let pythonHasNumPy: Bool = {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", "import numpy"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}()
