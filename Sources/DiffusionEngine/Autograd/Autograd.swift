extension Tensor {
    /// True when gradients flow to or through this tensor.
    public var requiresGrad: Bool { node != nil }

    /// The accumulated gradient of a leaf tensor after `backward()`, or nil.
    public var grad: Tensor? { node?.isLeaf == true ? node?.grad : nil }

    /// Marks this tensor as a leaf that accumulates gradients (like `requires_grad_()` in PyTorch).
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        var t = self.detached()
        if flag { t.node = Node(leafShape: shape) }
        return t
    }

    /// Clears the accumulated gradient of a leaf.
    public func zeroGrad() { if node?.isLeaf == true { node?.grad = nil } }

    /// Sets the accumulated gradient of a leaf (optimisers, clipping).
    public func setGrad(_ g: Tensor?) {
        guard let node, node.isLeaf else { return }
        if let g { precondition(g.shape == shape, "gradient shape \(g.shape) does not match \(shape)") }
        node.grad = g
    }

    /// The same values, cut off from the graph.
    public func detached() -> Tensor {
        Tensor(storage: storage, shape: shape, strides: strides, offset: offset, node: nil)
    }

    /// Records `value` as the output of `op` applied to `inputs`, when recording is on and any input needs a
    /// gradient. `backward` maps the output gradient to one gradient per input (nil where none is needed);
    /// it must capture detached tensors only, so the graph holds no hidden references.
    static func record(_ op: Op, _ value: Tensor, _ inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard inputs.contains(where: { $0.node != nil }), GradMode.isEnabled else { return value }
        var out = value.detached()
        out.node = Node(op: op, shape: value.shape, inputs: inputs.map { $0.node }, backward: backward)
        return out
    }

    /// Reverse-mode differentiation from this tensor. Without `seed`, the tensor must hold one element and
    /// the seed is 1. Gradients accumulate into leaves; the graph's saved values are released afterwards.
    public func backward(_ seed: Tensor? = nil) {
        guard let root = node else {
            preconditionFailure("backward() on a tensor that does not require a gradient")
        }
        let g: Tensor
        if let seed {
            precondition(seed.shape == shape, "backward seed of shape \(seed.shape) for a tensor of shape \(shape)")
            g = seed.detached()
        } else {
            precondition(count == 1, "backward() without a seed needs a one-element tensor, got shape \(shape)")
            g = Tensor.ones(shape)
        }
        // Collect the reachable graph without recursion, then run in decreasing depth (a topological order).
        var order: [Node] = [root]
        var seen: Set<ObjectIdentifier> = [ObjectIdentifier(root)]
        var i = 0
        while i < order.count {
            for case let p? in order[i].inputs where seen.insert(ObjectIdentifier(p)).inserted { order.append(p) }
            i += 1
        }
        order.sort { $0.depth > $1.depth }
        root.accumulate(g)
        withNoGrad {
            for n in order where !n.isLeaf {
                guard let g = n.grad else { continue }
                guard let fn = n.backwardFn else {
                    preconditionFailure("backward() through op \(n.op.name) whose graph was already differentiated; recompute the forward pass")
                }
                let grads = fn(g)
                precondition(grads.count == n.inputs.count, "op \(n.op.name) returned \(grads.count) gradients for \(n.inputs.count) inputs")
                for (input, gi) in zip(n.inputs, grads) {
                    if let input, let gi { input.accumulate(gi) }
                }
                n.grad = nil
                n.backwardFn = nil
            }
        }
    }
}
