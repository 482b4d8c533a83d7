import Foundation
import TestSupport
@testable import DiffusionLabs

/// The repository this test was compiled from.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func repositoryCatalog() throws -> LabCatalog { try LabCatalog(folder: repositoryRoot.appendingPathComponent("labs")) }

/// A fresh empty temporary folder.
func temporaryFolder(_ name: String = "labs-test") throws -> URL {
    TemporaryFolder.make(name)
}
