@testable import DiffusionEngine

extension GradCases {
    static let sampling: [GradCase] = []
}
