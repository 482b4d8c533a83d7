@testable import DiffusionEngine

extension GradCases {
    static let index: [GradCase] = [
        GradCase(.gather, "axis 1, repeats", [testInput([3, 4])]) {
            $0[0].gather(axis: 1, indices: Tensor([3, 0, 0, 1, 2, 1, 1, 1, 0], shape: [3, 3]))
        },
        GradCase(.gather, "axis 0, smaller indices", [testInput([4, 3])]) {
            $0[0].gather(axis: 0, indices: Tensor([3, 0, 2, 2], shape: [2, 2]))
        },
        GradCase(.gather, "axis -1 of rank 3", [testInput([2, 2, 3])]) {
            $0[0].gather(axis: -1, indices: Tensor([2, 2, 0, 1, 0, 0, 1, 2], shape: [2, 2, 2]))
        },
        GradCase(.gather, "middle axis of a broadcast view", [testInput([2, 1, 3])]) {
            ($0[0].expanded(to: [2, 4, 3]) * Tensor.arange(1, 5).reshaped([1, 4, 1]))
                .gather(axis: 1, indices: Tensor([0, 3, 1, 2, 2, 0], shape: [2, 1, 3]))
        },
        GradCase(.scatterAdd, "axis 0, repeats", [testInput([3, 2]), testInput([4, 2], seed: 2)]) {
            $0[0].scatterAdd(axis: 0, indices: Tensor([0, 2, 2, 2, 0, 1, 1, 0], shape: [4, 2]), source: $0[1])
        },
        GradCase(.scatterAdd, "axis -1, source larger than indices", [testInput([2, 3]), testInput([3, 4], seed: 2)]) {
            $0[0].scatterAdd(axis: -1, indices: Tensor([1, 1, 0, 2, 0, 2], shape: [2, 3]), source: $0[1])
        },
        GradCase(.scatterAdd, "source only", [testInput([2, 3], seed: 3)]) {
            Tensor.zeros([2, 4]).scatterAdd(axis: 1, indices: Tensor([3, 3, 0, 1, 1, 2], shape: [2, 3]), source: $0[0])
        },
        GradCase(.indexSelect, "axis 0, repeats", [testInput([4, 3])]) { $0[0].indexSelect(axis: 0, indices: [3, 1, 1, -4]) },
        GradCase(.indexSelect, "axis -1, tensor indices", [testInput([2, 3, 4])]) {
            $0[0].indexSelect(axis: -1, indices: Tensor([2, 0, 2]))
        },
        GradCase(.indexSelect, "middle axis, one index", [testInput([2, 3, 2])]) {
            $0[0].indexSelect(axis: 1, indices: Tensor(scalar: 2))
        },
    ]
}
