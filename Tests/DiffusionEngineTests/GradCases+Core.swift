@testable import DiffusionEngine

extension GradCases {
    static let core: [GradCase] = unary + binary + reductions + [
        GradCase(.contiguous, [testInput([3, 4])]) { $0[0].transposed().contiguous() },
        GradCase(.matmul, "2-D", [testInput([3, 4]), testInput([4, 5], seed: 2)]) { $0[0].matmul($0[1]) },
        GradCase(.matmul, "batched, broadcast", [testInput([2, 3, 4]), testInput([4, 2], seed: 2)]) { $0[0].matmul($0[1]) },
        GradCase(.matmul, "batch broadcast both", [testInput([2, 1, 2, 3]), testInput([3, 3, 2], seed: 2)]) { $0[0].matmul($0[1]) },
        GradCase(.matmul, "vector", [testInput([4]), testInput([4, 3], seed: 2)]) { $0[0].matmul($0[1]) },
        GradCase(.reshape, [testInput([2, 6])]) { $0[0].reshaped([3, 4]) },
        GradCase(.reshape, "squeeze view", [testInput([3, 1, 4])]) { $0[0].squeezed(1) * 2 },
        GradCase(.permute, [testInput([2, 3, 4])]) { $0[0].permuted([2, 0, 1]) },
        GradCase(.expand, [testInput([3, 1])]) { $0[0].expanded(to: [2, 3, 4]) },
        GradCase(.slice, [testInput([5, 4])]) { $0[0].slice(axis: 0, 1, 5, step: 2) },
    ]

    static let unary: [GradCase] = [
        GradCase(.neg, [testInput([2, 3])]) { -$0[0] },
        GradCase(.exp, [testInput([2, 3])]) { $0[0].exp() },
        GradCase(.log, [testInput([2, 3], positive: true)]) { $0[0].log() },
        GradCase(.log1p, [testInput([2, 3], positive: true)]) { $0[0].log1p() },
        GradCase(.expm1, [testInput([2, 3])]) { $0[0].expm1() },
        GradCase(.sqrt, [testInput([2, 3], positive: true)]) { $0[0].sqrt() },
        GradCase(.rsqrt, [testInput([2, 3], positive: true)]) { $0[0].rsqrt() },
        GradCase(.sin, [testInput([2, 3])]) { $0[0].sin() },
        GradCase(.cos, [testInput([2, 3])]) { $0[0].cos() },
        GradCase(.tanh, [testInput([2, 3])]) { $0[0].tanh() },
        GradCase(.sigmoid, [testInput([2, 3])]) { $0[0].sigmoid() },
        GradCase(.relu, [testInput([2, 3], awayFromZero: 0.1)]) { $0[0].relu() },
        GradCase(.silu, [testInput([2, 3])]) { $0[0].silu() },
        GradCase(.gelu, [testInput([2, 3])]) { $0[0].gelu() },
        GradCase(.softplus, [testInput([2, 3], scale: 3)]) { $0[0].softplus() },
        GradCase(.abs, [testInput([2, 3], awayFromZero: 0.1)]) { $0[0].abs() },
        GradCase(.square, [testInput([2, 3])]) { $0[0].square() },
        GradCase(.reciprocal, [testInput([2, 3], positive: true)]) { $0[0].reciprocal() },
        GradCase(.powScalar, [testInput([2, 3], positive: true)]) { $0[0].pow(1.7) },
        GradCase(.clamp, [testInput([2, 3], scale: 2, awayFromZero: 0.05)]) { $0[0].clamp(min: -0.5, max: 0.5) },
        GradCase(.affine, [testInput([2, 3])]) { $0[0].affine(scale: -2, shift: 0.5) },
        GradCase(.scalarPow, [testInput([2, 3])]) { Tensor.pow(2.5, $0[0]) },
    ]

    static let binary: [GradCase] = [
        GradCase(.add, "broadcast", [testInput([2, 3]), testInput([3], seed: 2)]) { $0[0] + $0[1] },
        GradCase(.sub, "broadcast", [testInput([2, 1, 3]), testInput([4, 1], seed: 2)]) { $0[0] - $0[1] },
        GradCase(.mul, "broadcast", [testInput([2, 3]), testInput([2, 1], seed: 2)]) { $0[0] * $0[1] },
        GradCase(.mul, "same input twice", [testInput([3])]) { $0[0] * $0[0] },
        GradCase(.div, [testInput([2, 3]), testInput([3], seed: 2, positive: true)]) { $0[0] / $0[1] },
        GradCase(.pow, [testInput([2, 3], positive: true), testInput([3], seed: 2)]) { Tensor.pow($0[0], $0[1]) },
        GradCase(.minimum, [testInput([2, 3]), testInput([2, 3], seed: 2)]) { Tensor.minimum($0[0], $0[1]) },
        GradCase(.maximum, [testInput([2, 3]), testInput([3], seed: 2)]) { Tensor.maximum($0[0], $0[1]) },
        GradCase(.whereOp, [testInput([2, 3]), testInput([3], seed: 2)]) {
            Tensor.where(Tensor([1, 0, 1, 0, 0, 1], shape: [2, 3]), $0[0], $0[1])
        },
    ]

    static let reductions: [GradCase] = [
        GradCase(.sum, "all", [testInput([2, 3])]) { $0[0].sum() },
        GradCase(.sum, "axis", [testInput([2, 3, 4])]) { $0[0].sum(axis: 1) },
        GradCase(.sum, "axes keepDims", [testInput([2, 3, 4])]) { $0[0].sum(axes: [0, 2], keepDims: true) },
        GradCase(.sum, "variance", [testInput([3, 5])]) { $0[0].variance(axis: 1) },
        GradCase(.max, [testInput([3, 4])]) { $0[0].max(axis: 1) },
        GradCase(.min, [testInput([3, 4])]) { $0[0].min(axis: 0, keepDims: true) },
        GradCase(.softmax, [testInput([3, 4])]) { $0[0].softmax(axis: 1) },
        GradCase(.softmax, "axis 0", [testInput([3, 4])]) { $0[0].softmax(axis: 0) },
        GradCase(.logSoftmax, [testInput([3, 4])]) { $0[0].logSoftmax() },
        GradCase(.sum, "logsumexp", [testInput([3, 4])]) { $0[0].logsumexp(axis: 1) },
        GradCase(.cumsum, [testInput([3, 4])]) { $0[0].cumsum(axis: 1) },
        GradCase(.cumprod, [testInput([2, 4], awayFromZero: 0.3)]) { $0[0].cumprod(axis: 1) },
        GradCase(.groupNorm, "affine", [testInput([2, 4, 3]), testInput([4], seed: 2), testInput([4], seed: 3)]) {
            $0[0].groupNormalized(groups: 2, weight: $0[1], bias: $0[2])
        },
        GradCase(.groupNorm, "no affine, spatial", [testInput([2, 2, 2, 3])]) { $0[0].groupNormalized(groups: 1) * 3 },
        GradCase(.groupNorm, "layer norm rows", [testInput([3, 5]), testInput([5], seed: 4)]) {
            $0[0].groupNormalized(groups: 1, weight: $0[1])
        },
    ]
}
