@testable import DiffusionEngine

extension GradCases {
    static let sampling: [GradCase] = [
        GradCase(.avgPool2d, "2×2, stride 2", [testInput([2, 2, 4, 4])]) { $0[0].avgPool2d(kernel: 2) },
        GradCase(.avgPool2d, "3×3, stride 2, padding 1", [testInput([1, 2, 5, 5])]) { $0[0].avgPool2d(kernel: 3, stride: 2, padding: 1) },
        GradCase(.avgPool2d, "rectangular 2×3, stride (1, 2), padding (1, 1)", [testInput([1, 1, 4, 5])]) {
            $0[0].avgPool2d(kernel: (2, 3), stride: (1, 2), padding: (1, 1))
        },
        GradCase(.upsampleNearest2d, "scale 2", [testInput([2, 2, 2, 3])]) { $0[0].upsampleNearest2d(scale: 2) },
        GradCase(.upsampleNearest2d, "scale 3", [testInput([1, 1, 2, 2])]) { $0[0].upsampleNearest2d(scale: 3) },
        GradCase(.upsampleBilinear2d, "scale 2", [testInput([2, 2, 3, 3])]) { $0[0].upsampleBilinear2d(scale: 2) },
        GradCase(.upsampleBilinear2d, "scale 3, align corners", [testInput([1, 2, 2, 3])]) { $0[0].upsampleBilinear2d(scale: 3, alignCorners: true) },
        GradCase(.upsampleBilinear2d, "size 5×7 from 3×4", [testInput([1, 2, 3, 4])]) { $0[0].upsampleBilinear2d(size: (5, 7)) },
        GradCase(.upsampleBilinear2d, "downsample to 3×2 from 4×5, align corners", [testInput([1, 1, 4, 5])]) {
            $0[0].upsampleBilinear2d(size: (3, 2), alignCorners: true)
        },
        GradCase(.upsampleBilinear2d, "downsample to 3×2 from 4×5", [testInput([1, 1, 4, 5])]) { $0[0].upsampleBilinear2d(size: (3, 2)) },
    ]
}
