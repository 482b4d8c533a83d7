@testable import DiffusionEngine

extension GradCases {
    static let convolution: [GradCase] = []
}
