import CZlib
import Foundation

/// gzip (and zlib) streams through Debian's zlib.
public enum Gzip {
    /// True when `data` starts with the gzip magic bytes 1f 8b.
    public static func isCompressed(_ data: Data) -> Bool { data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B }

    /// The decompressed bytes of a gzip (or zlib) stream; concatenated gzip members are all read.
    /// Throws `DataError` (`badCompression`, `truncated`) naming `file`.
    public static func decompress(_ data: Data, file: String = "<memory>") throws -> Data {
        var stream = z_stream()
        // 15 + 32: maximal window, detect gzip or zlib headers automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError(file: file, fault: .badCompression, detail: "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var out = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var input = [UInt8](data)
        let total = input.count
        var status: Int32 = Z_OK
        try input.withUnsafeMutableBufferPointer { inp in
            stream.next_in = inp.baseAddress
            stream.avail_in = uInt(total)
            while true {
                status = chunk.withUnsafeMutableBufferPointer { buf in
                    stream.next_out = buf.baseAddress
                    stream.avail_out = uInt(buf.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                out.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
                if status == Z_STREAM_END {
                    // Another gzip member may follow (as `cat a.gz b.gz` produces).
                    if stream.avail_in > 0 && inflateReset(&stream) == Z_OK { continue }
                    return
                }
                if status == Z_BUF_ERROR && stream.avail_in == 0 {
                    throw DataError(file: file, fault: .truncated, detail: "the gzip stream ends early after \(out.count) decompressed bytes")
                }
                if status != Z_OK {
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw DataError(file: file, fault: .badCompression, detail: message)
                }
            }
        }
        return out
    }

    /// A gzip stream of `data` (used by tests and to write .gz files).
    public static func compress(_ data: Data, level: Int32 = 6) -> Data {
        var stream = z_stream()
        // 15 + 16: maximal window with a gzip header.
        precondition(deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                                   Int32(MemoryLayout<z_stream>.size)) == Z_OK, "zlib could not start deflating")
        defer { deflateEnd(&stream) }
        var input = [UInt8](data)
        let total = input.count
        var out = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        input.withUnsafeMutableBufferPointer { inp in
            stream.next_in = inp.baseAddress
            stream.avail_in = uInt(total)
            var status: Int32 = Z_OK
            while status != Z_STREAM_END {
                status = chunk.withUnsafeMutableBufferPointer { buf in
                    stream.next_out = buf.baseAddress
                    stream.avail_out = uInt(buf.count)
                    return deflate(&stream, Z_FINISH)
                }
                out.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
            }
        }
        return out
    }
}
