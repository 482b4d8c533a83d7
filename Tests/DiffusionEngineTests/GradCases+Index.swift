@testable import DiffusionEngine

extension GradCases {
    static let index: [GradCase] = []
}
