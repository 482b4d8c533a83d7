import Foundation
import TestSupport
import Testing
@testable import DiffusionData

/// A fresh empty directory under the system temporary directory.
func temporaryDirectory() throws -> URL {
    TemporaryFolder.make("data")
}

/// Runs `body`, expecting a `DataError` with `fault` whose message names `file`.
func expectDataError(_ fault: DataError.Fault, file: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a DataError (\(fault)) for \(file)", sourceLocation: sourceLocation)
    } catch let e as DataError {
        #expect(e.fault == fault, "\(e)", sourceLocation: sourceLocation)
        #expect(e.file == file && e.description.contains(file), "\(e)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}
