@testable import DiffusionEngine

extension GradCases {
    static let convolution: [GradCase] = [
        // conv2d: input [N, C, H, W], weight [O, C/groups, kH, kW], bias [O].
        GradCase(.conv2d, "3×3, padding 1, bias, batch 2", [testInput([2, 3, 4, 4]), testInput([2, 3, 3, 3], seed: 2), testInput([2], seed: 3)]) {
            $0[0].conv2d(weight: $0[1], bias: $0[2], padding: 1)
        },
        GradCase(.conv2d, "stride 2, padding 1, no bias", [testInput([1, 2, 5, 6]), testInput([3, 2, 3, 3], seed: 2)]) {
            $0[0].conv2d(weight: $0[1], stride: 2, padding: 1)
        },
        GradCase(.conv2d, "rectangular kernel, dilation (2, 1), stride (1, 2), padding (1, 2)",
                 [testInput([1, 2, 6, 5]), testInput([2, 2, 2, 3], seed: 2), testInput([2], seed: 3)]) {
            $0[0].conv2d(weight: $0[1], bias: $0[2], stride: (1, 2), padding: (1, 2), dilation: (2, 1))
        },
        GradCase(.conv2d, "groups 2, dilation 2, padding 2", [testInput([2, 4, 4, 4]), testInput([4, 2, 3, 3], seed: 2), testInput([4], seed: 3)]) {
            $0[0].conv2d(weight: $0[1], bias: $0[2], padding: 2, dilation: 2, groups: 2)
        },
        GradCase(.conv2d, "depthwise (groups = C), stride 2", [testInput([1, 3, 5, 5]), testInput([3, 1, 3, 3], seed: 2)]) {
            $0[0].conv2d(weight: $0[1], stride: 2, groups: 3)
        },
        GradCase(.conv2d, "1×1", [testInput([2, 3, 3, 2]), testInput([4, 3, 1, 1], seed: 2), testInput([4], seed: 3)]) {
            $0[0].conv2d(weight: $0[1], bias: $0[2])
        },
        GradCase(.conv2d, "same input as image and weight", [testInput([1, 1, 3, 3])]) {
            $0[0].conv2d(weight: $0[0], padding: 1)
        },

        // convTranspose2d: input [N, C_in, H, W], weight [C_in, C_out/groups, kH, kW], bias [C_out].
        GradCase(.convTranspose2d, "3×3, padding 1, bias, batch 2", [testInput([2, 3, 3, 3]), testInput([3, 2, 3, 3], seed: 2), testInput([2], seed: 3)]) {
            $0[0].convTranspose2d(weight: $0[1], bias: $0[2], padding: 1)
        },
        GradCase(.convTranspose2d, "stride 2, padding 1, output padding 1", [testInput([1, 2, 3, 3]), testInput([2, 3, 3, 3], seed: 2)]) {
            $0[0].convTranspose2d(weight: $0[1], stride: 2, padding: 1, outputPadding: 1)
        },
        GradCase(.convTranspose2d, "4×4 kernel, stride 2, padding 1 (2× upsampler)", [testInput([1, 2, 2, 3]), testInput([2, 2, 4, 4], seed: 2), testInput([2], seed: 3)]) {
            $0[0].convTranspose2d(weight: $0[1], bias: $0[2], stride: 2, padding: 1)
        },
        GradCase(.convTranspose2d, "groups 2, dilation 2, bias", [testInput([1, 4, 3, 3]), testInput([4, 1, 2, 2], seed: 2), testInput([2], seed: 3)]) {
            $0[0].convTranspose2d(weight: $0[1], bias: $0[2], dilation: 2, groups: 2)
        },
        GradCase(.convTranspose2d, "rectangular: kernel 2×3, stride (2, 1), padding (0, 1), output padding (1, 0)",
                 [testInput([2, 2, 2, 3]), testInput([2, 3, 2, 3], seed: 2)]) {
            $0[0].convTranspose2d(weight: $0[1], stride: (2, 1), padding: (0, 1), outputPadding: (1, 0))
        },
    ]
}
