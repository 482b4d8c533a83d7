@testable import DiffusionEngine

extension GradCases {
    static let shape: [GradCase] = [
        GradCase(.concat, "axis 0", [testInput([2, 3]), testInput([1, 3], seed: 2)]) { Tensor.concat($0, axis: 0) },
        GradCase(.concat, "axis -1, three inputs", [testInput([2, 1]), testInput([2, 3], seed: 2), testInput([2, 2], seed: 3)]) {
            Tensor.concat($0, axis: -1)
        },
        GradCase(.concat, "same input twice, scaled", [testInput([2, 3])]) { Tensor.concat([$0[0], $0[0] * 3], axis: 1) },
        GradCase(.concat, "with a constant and a broadcast view", [testInput([3, 2]), testInput([1, 2], seed: 2)]) {
            Tensor.concat([$0[0], Tensor.ones([1, 2]), $0[1].expanded(to: [2, 2])], axis: 0)
        },
        GradCase(.concat, "stack, middle axis", [testInput([2, 3]), testInput([2, 3], seed: 2)]) { Tensor.stack($0, axis: 1) },
        GradCase(.concat, "stack, last axis", [testInput([4]), testInput([4], seed: 2), testInput([4], seed: 3)]) {
            Tensor.stack($0, axis: -1)
        },
        GradCase(.slice, "split", [testInput([2, 5])]) {
            let p = $0[0].split(sizes: [2, 0, 3], axis: 1)
            return Tensor.concat([p[2].exp(), p[1], p[0] * 2], axis: 1)
        },
        GradCase(.slice, "chunk", [testInput([7, 2])]) {
            let p = $0[0].chunk(3, axis: 0)
            return Tensor.concat([p[0] * 2, p[1].square(), p[2]], axis: 0)
        },
        GradCase(.pad, "one axis", [testInput([2, 3])]) { $0[0].padded(axis: 1, before: 1, after: 2) },
        GradCase(.pad, "last two axes, value", [testInput([2, 2, 3])]) { $0[0].padded([(2, 0), (1, 1)], value: 0.5) },
        GradCase(.pad, "crop and pad", [testInput([3, 4])]) { $0[0].padded([(-1, 2), (1, -2)]) },
        GradCase(.pad, "negative axis, broadcast input", [testInput([1, 3])]) {
            ($0[0].expanded(to: [2, 3]) * 2).padded(axis: -2, before: 1, after: 1, value: -1)
        },
        GradCase(.flip, "one axis", [testInput([3, 4])]) { $0[0].flipped(axis: 0) },
        GradCase(.flip, "two axes", [testInput([2, 3, 2])]) { $0[0].flipped(axes: [-1, 0]) },
        GradCase(.flip, "all axes, then reduced", [testInput([3, 4])]) { $0[0].flipped(axes: [0, 1]).cumsum(axis: 1) },
    ]
}
