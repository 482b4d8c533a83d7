/// One recorded operation of the define-by-run graph.
///
/// A node keeps its inputs' nodes, a closure mapping the output gradient to input gradients, and its depth
/// (1 + the deepest input). Sorting by depth gives a topological order without recursion, and `deinit`
/// releases long chains iteratively, so graphs of millions of ops neither overflow the stack when built,
/// run backward, nor when freed.
final class Node: @unchecked Sendable {
    let op: Op
    let shape: [Int]
    let depth: Int
    var inputs: [Node?]
    var backwardFn: ((Tensor) -> [Tensor?])?
    /// Accumulated gradient: kept on leaves (parameters), transient on interior nodes.
    var grad: Tensor?

    var isLeaf: Bool { op == .leaf }

    init(op: Op, shape: [Int], inputs: [Node?], backward: @escaping (Tensor) -> [Tensor?]) {
        assert(Op.registered.contains(op), "op '\(op.name)' is not in Op.all; register it and add a gradient check")
        self.op = op
        self.shape = shape
        self.inputs = inputs
        self.depth = 1 + (inputs.lazy.compactMap { $0?.depth }.max() ?? 0)
        self.backwardFn = backward
    }

    /// A leaf: a tensor created by the user that requires a gradient.
    init(leafShape: [Int]) {
        op = .leaf
        shape = leafShape
        depth = 0
        inputs = []
        backwardFn = nil
    }

    func accumulate(_ g: Tensor) {
        precondition(g.shape == shape, "gradient of shape \(g.shape) for a value of shape \(shape) (op \(op.name))")
        grad = grad.map { $0 + g } ?? g
    }

    deinit {
        guard !inputs.isEmpty else { return }
        var stack = inputs.compactMap { $0 }
        inputs = []
        backwardFn = nil
        while var n = stack.popLast() {
            if isKnownUniquelyReferenced(&n) {
                stack.append(contentsOf: n.inputs.compactMap { $0 })
                n.inputs = []
                n.backwardFn = nil
            }
        }
    }
}
