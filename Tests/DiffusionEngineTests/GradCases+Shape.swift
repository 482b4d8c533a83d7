@testable import DiffusionEngine

extension GradCases {
    static let shape: [GradCase] = []
}
