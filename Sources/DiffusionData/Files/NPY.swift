import DiffusionEngine
import Foundation

/// NumPy's `.npy` format, version 1.0, for Float32 arrays: the magic "\x93NUMPY", version 1.0, a little-endian
/// UInt16 header length, an ASCII Python dict `{'descr': '<f4', 'fortran_order': False, 'shape': (…), }` padded with
/// spaces and a newline so the data starts at a multiple of 64 bytes, then the values in C order, little-endian.
/// `numpy.load` reads what `encode` writes; `decode` reads this subset back (other dtypes or Fortran order are
/// `DataError`s).
public enum NPY {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    public static func encode(_ tensor: Tensor) -> Data {
        let shape = tensor.shape
        let shapeText = shape.isEmpty ? "()" : shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = magic.count + 2 + 2 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data(magic + [1, 0])
        let length = UInt16(header.utf8.count)
        out += [UInt8(length & 0xFF), UInt8(length >> 8)]
        out += Data(header.utf8)
        var values = tensor.contiguous().scalars.map { $0.bitPattern.littleEndian }
        values.withUnsafeMutableBytes { out += Data($0) }
        return out
    }

    /// Writes atomically (a temporary sibling renamed into place).
    public static func write(_ tensor: Tensor, to url: URL) throws {
        try encode(tensor).write(to: url, options: .atomic)
    }

    public static func decode(_ data: Data, file: String = "<memory>") throws -> Tensor {
        let bytes = [UInt8](data)
        func fail(_ fault: DataError.Fault, _ detail: String) -> DataError { DataError(file: file, fault: fault, detail: detail) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail(.badMagic, "not an .npy file") }
        guard bytes[6] == 1 else { throw fail(.badHeader, "version \(bytes[6]).\(bytes[7]); only 1.x is read") }
        let length = Int(bytes[8]) | Int(bytes[9]) << 8
        guard bytes.count >= 10 + length else { throw fail(.truncated, "header of \(length) bytes is cut short") }
        let header = String(decoding: bytes[10..<(10 + length)], as: UTF8.self)
        guard header.contains("'descr': '<f4'") else { throw fail(.badHeader, "dtype is not little-endian float32 ('<f4'): \(header)") }
        guard header.contains("'fortran_order': False") else { throw fail(.badHeader, "Fortran order is not supported") }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw fail(.badHeader, "no shape in the header: \(header)")
        }
        let fields = header[open.upperBound..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = try fields.map { f -> Int in
            guard let v = Int(f), v >= 0 else { throw fail(.badHeader, "shape entry '\(f)' is not a size") }
            return v
        }
        let count = shape.reduce(1, *), start = 10 + length
        guard bytes.count == start + 4 * count else {
            throw fail(.truncated, "\(bytes.count - start) data bytes for shape \(shape), which needs \(4 * count)")
        }
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let o = start + 4 * i
            values[i] = Float(bitPattern: UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24)
        }
        return Tensor(values, shape: shape)
    }

    public static func read(_ url: URL) throws -> Tensor {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw DataError(file: url.path, fault: .unreadable, detail: error.localizedDescription) }
        return try decode(data, file: url.path)
    }
}
