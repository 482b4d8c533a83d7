import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fault found while reading, writing or loading a safetensors file. The message names the file and,
/// where there is one, the tensor.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    public enum Fault: String, Sendable {
        case io, truncated, invalidHeader, invalidJSON, invalidEntry, unsupportedDType
        case offsetsOutOfRange, overlappingData, unindexedData
        case missingTensor, unexpectedTensor, shapeMismatch, invalidMetadata
    }

    public let file: String
    public let tensor: String?
    public let fault: Fault
    public let detail: String

    public var description: String {
        "\(file): " + (tensor.map { "tensor '\($0)': " } ?? "") + detail
    }
}

/// The contents of a safetensors file: tensors converted to Float32, their stored dtypes, and the metadata.
public struct SafeTensorsFile {
    /// Names in the order of their data in the file.
    public var names: [String]
    public var tensors: [String: Tensor]
    public var dtypes: [String: String]
    public var metadata: [String: String]
}

/// Reader and writer for the safetensors format (huggingface/safetensors): an 8-byte little-endian header
/// length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`,
/// then the little-endian tensor bytes, offsets relative to the data section. We write F32 and read F32,
/// F16 and BF16, and reject files the reference implementation rejects (holes, overlaps, trailing bytes).
public enum SafeTensors {
    static let maxHeaderBytes = 100_000_000

    // MARK: Writing

    /// Writes `tensors` (in the given order) as F32 with `metadata`. The file is written under a temporary
    /// name in the same directory and renamed into place, so `url` never holds a partial file.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        let file = url.path
        var seen = Set<String>()
        for (name, _) in tensors {
            guard name != "__metadata__", seen.insert(name).inserted else {
                throw SafeTensorsError(file: file, tensor: name, fault: .invalidEntry, detail: "duplicate or reserved tensor name")
            }
        }
        var json = "{"
        if !metadata.isEmpty {
            json += "\"__metadata__\":{"
            json += metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }.joined(separator: ",")
            json += "},"
        }
        var offset = 0
        var entries: [String] = []
        for (name, t) in tensors {
            let bytes = t.count * 4
            entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        json += entries.joined(separator: ",") + "}"
        var header = Array(json.utf8)
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        while (8 + header.count) % 8 != 0 { header.append(0x20) }

        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for (_, t) in tensors {
            #if _endian(big)
            for v in t.scalars { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            #else
            t.withUnsafeBufferPointer { out.append($0) }
            #endif
        }
        try writeAtomically(out, to: url)
    }

    /// Writes `data` to a temporary sibling file, flushes it, and renames it over `url`.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        do {
            try data.write(to: tmp)
            let fd = open(tmp.path, O_RDONLY)
            if fd >= 0 { _ = fsync(fd); close(fd) }
            guard rename(tmp.path, url.path) == 0 else {
                throw SafeTensorsError(file: url.path, tensor: nil, fault: .io, detail: "cannot rename temporary file: \(String(cString: strerror(errno)))")
            }
        } catch let e as SafeTensorsError {
            try? FileManager.default.removeItem(at: tmp)
            throw e
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw SafeTensorsError(file: url.path, tensor: nil, fault: .io, detail: "cannot write: \(error.localizedDescription)")
        }
    }

    static func jsonString(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\r": r += "\\r"
            case "\t": r += "\\t"
            case _ where u.value < 0x20: r += String(format: "\\u%04x", u.value)
            default: r.unicodeScalars.append(u)
            }
        }
        return r + "\""
    }

    // MARK: Reading

    /// Reads and validates a file; every tensor is converted to Float32.
    public static func read(_ url: URL) throws -> SafeTensorsFile {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw SafeTensorsError(file: file, tensor: nil, fault: .io, detail: "cannot read: \(error.localizedDescription)")
        }
        return try parse(data, file: file)
    }

    struct Entry { let name: String, dtype: String, shape: [Int], begin: Int, end: Int }

    /// Parses an in-memory file; `file` names it in errors.
    public static func parse(_ data: Data, file: String) throws -> SafeTensorsFile {
        func fail(_ fault: SafeTensorsError.Fault, _ tensor: String?, _ detail: String) -> SafeTensorsError {
            SafeTensorsError(file: file, tensor: tensor, fault: fault, detail: detail)
        }
        guard data.count >= 8 else { throw fail(.truncated, nil, "file is \(data.count) bytes, shorter than the 8-byte header length") }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n <= UInt64(maxHeaderBytes) else { throw fail(.invalidHeader, nil, "header length \(n) is implausibly large") }
        guard 8 + Int(n) <= data.count else {
            throw fail(.truncated, nil, "header length \(n) exceeds the \(data.count - 8) bytes after it (truncated file?)")
        }
        let headerBytes = data.subdata(in: 8 ..< 8 + Int(n))
        guard headerBytes.first == UInt8(ascii: "{") else { throw fail(.invalidJSON, nil, "header does not start with '{'") }
        let header: [String: JSONValue]
        do { header = try JSONDecoder().decode([String: JSONValue].self, from: headerBytes) } catch {
            throw fail(.invalidJSON, nil, "header is not a valid JSON object")
        }

        var metadata: [String: String] = [:]
        if let meta = header["__metadata__"] {
            guard case .object(let dict) = meta else { throw fail(.invalidMetadata, nil, "__metadata__ is not an object") }
            for (k, v) in dict {
                guard case .string(let s) = v else { throw fail(.invalidMetadata, nil, "__metadata__ value for '\(k)' is not a string") }
                metadata[k] = s
            }
        }

        var entries: [Entry] = []
        for (name, value) in header where name != "__metadata__" {
            guard case .object(let info) = value, case .string(let dtype)? = info["dtype"],
                  case .array(let shapeValues)? = info["shape"], case .array(let offsetValues)? = info["data_offsets"],
                  offsetValues.count == 2 else {
                throw fail(.invalidEntry, name, "entry needs dtype, shape and two data_offsets")
            }
            let shape = try shapeValues.map { v -> Int in
                guard case .int(let d) = v, d >= 0 else { throw fail(.invalidEntry, name, "shape is not a list of non-negative integers") }
                return d
            }
            guard case .int(let begin) = offsetValues[0], case .int(let end) = offsetValues[1], begin >= 0, end >= begin else {
                throw fail(.invalidEntry, name, "data_offsets are not two ordered non-negative integers")
            }
            guard let size = elementSize(dtype) else {
                throw fail(.unsupportedDType, name, "dtype \(dtype) is not supported (F32, F16, BF16)")
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (r, o) = acc.0.multipliedReportingOverflow(by: d)
                return (r, acc.1 || o)
            }
            guard !overflow, end - begin == count * size else {
                throw fail(.invalidEntry, name, "data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but shape \(shape) of \(dtype) needs \(count * size)")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }

        let dataStart = 8 + Int(n), dataLength = data.count - dataStart
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var cursor = 0
        for e in entries {
            guard e.end <= dataLength else {
                throw fail(.offsetsOutOfRange, e.name, "data_offsets [\(e.begin), \(e.end)] go past the \(dataLength)-byte data section (truncated file?)")
            }
            guard e.begin >= cursor else { throw fail(.overlappingData, e.name, "data [\(e.begin), \(e.end)] overlaps the previous tensor (ends at \(cursor))") }
            guard e.begin == cursor else { throw fail(.unindexedData, e.name, "bytes \(cursor)..<\(e.begin) before this tensor belong to no tensor") }
            cursor = e.end
        }
        guard cursor == dataLength else {
            throw fail(.unindexedData, nil, "\(dataLength - cursor) trailing bytes after the last tensor belong to no tensor")
        }

        var tensors: [String: Tensor] = [:], dtypes: [String: String] = [:]
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for e in entries {
                tensors[e.name] = decode(UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin) ..< (dataStart + e.end)]), dtype: e.dtype, shape: e.shape)
                dtypes[e.name] = e.dtype
            }
        }
        return SafeTensorsFile(names: entries.map(\.name), tensors: tensors, dtypes: dtypes, metadata: metadata)
    }

    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F32": 4
        case "F16", "BF16": 2
        default: nil
        }
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, dtype: String, shape: [Int]) -> Tensor {
        var t = Tensor.zeros(shape)
        t.withUnsafeMutableBufferPointer { out in
            switch dtype {
            case "F32":
                for i in out.indices { out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case "F16":
                for i in out.indices { out[i] = halfToFloat(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            default: // BF16: the upper 16 bits of a Float32.
                for i in out.indices { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
            }
        }
        return t
    }

    /// IEEE binary16 → binary32, exact (including subnormals, infinities and NaN payloads).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = UInt32(h >> 10) & 0x1F
        var mant = UInt32(h & 0x3FF)
        switch exp {
        case 0:
            guard mant != 0 else { return Float(bitPattern: sign) }
            // Subnormal: normalise the mantissa.
            var e: UInt32 = 127 - 15 + 1
            while mant & 0x400 == 0 { mant <<= 1; e -= 1 }
            return Float(bitPattern: sign | (e << 23) | ((mant & 0x3FF) << 13))
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
        default:
            return Float(bitPattern: sign | ((exp + 127 - 15) << 23) | (mant << 13))
        }
    }
}
