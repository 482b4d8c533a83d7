/// A data file that cannot be used: names the file, what is wrong, and the detail.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public enum Fault: String, Sendable {
        case unreadable = "cannot be read"
        case truncated = "is truncated"
        case badMagic = "has a wrong magic number"
        case badHeader = "has an invalid header"
        case countMismatch = "has a count that does not match"
        case labelOutOfRange = "has a label out of range"
        case sizeMismatch = "has mismatched image dimensions"
        case badImage = "is not a valid image"
        case empty = "has no data"
        case badCompression = "is not valid gzip"
    }

    public let file: String
    public let fault: Fault
    public let detail: String

    public init(file: String, fault: Fault, detail: String) {
        (self.file, self.fault, self.detail) = (file, fault, detail)
    }

    public var description: String { "\(file) \(fault.rawValue): \(detail)" }
}
