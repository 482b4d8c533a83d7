/// Per-parameter optimiser state, index-aligned with `Optimizer.parameters`; what a checkpoint stores.
public struct OptimizerState: Sendable {
    /// Updates applied to each parameter so far (PyTorch keeps a step per parameter too).
    public var steps: [Int]
    /// Named state tensors of each parameter (e.g. "exp_avg", "exp_avg_sq", "momentum_buffer"); empty
    /// before the parameter's first update.
    public var slots: [[String: Tensor]]

    public init(steps: [Int], slots: [[String: Tensor]]) {
        self.steps = steps
        self.slots = slots
    }
}

/// An optimiser updating a fixed list of parameters in place from their gradients.
///
/// Parameters whose gradient is nil or that are frozen are skipped (their state does not advance), as in
/// PyTorch.
public protocol Optimizer: AnyObject {
    var parameters: [Parameter] { get }
    var learningRate: Double { get set }
    /// Applies one update from the current gradients.
    func step()
    /// A snapshot of the internal state (tensors are copied on the next update, not shared).
    var state: OptimizerState { get }
    /// Restores a snapshot taken from an optimiser over parameters of the same shapes.
    func load(_ state: OptimizerState) throws
}

extension Optimizer {
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
}

public struct OptimizerStateError: Error, CustomStringConvertible {
    public let description: String
}

/// Shared bookkeeping of the built-in optimisers: per-parameter step counts and state slots.
public class OptimizerBase {
    public let parameters: [Parameter]
    public var learningRate: Double
    var steps: [Int]
    var slots: [[String: Tensor]]
    let slotNames: [String]

    init(_ parameters: [Parameter], learningRate: Double, slotNames: [String]) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.slotNames = slotNames
        steps = Array(repeating: 0, count: parameters.count)
        slots = Array(repeating: [:], count: parameters.count)
    }

    public var state: OptimizerState { OptimizerState(steps: steps, slots: slots) }

    public func load(_ state: OptimizerState) throws {
        guard state.steps.count == parameters.count, state.slots.count == parameters.count else {
            throw OptimizerStateError(description: "optimizer state has \(state.slots.count) entries for \(parameters.count) parameters")
        }
        for (i, s) in state.slots.enumerated() {
            for (name, t) in s {
                guard slotNames.contains(name) else {
                    throw OptimizerStateError(description: "unknown optimizer state '\(name)' for parameter \(i)")
                }
                guard t.shape == parameters[i].shape else {
                    throw OptimizerStateError(description: "optimizer state '\(name)' of parameter \(i) has shape \(t.shape), expected \(parameters[i].shape)")
                }
            }
        }
        steps = state.steps
        slots = state.slots.map { $0.mapValues { $0.detached() } }
    }

    /// Calls `body(index, parameter, gradient)` for each parameter that has a gradient and is not frozen.
    func forEachUpdatable(_ body: (Int, Parameter, UnsafeBufferPointer<Float>) -> Void) {
        for (i, p) in parameters.enumerated() where !p.isFrozen {
            guard let g = p.grad else { continue }
            precondition(g.shape == p.shape, "gradient shape \(g.shape) does not match parameter shape \(p.shape)")
            g.withUnsafeBufferPointer { body(i, p, $0) }
        }
    }

    /// Takes the slot tensor out of the state (zeros on first use) so the caller holds its only reference and
    /// can update it in place without a copy; the caller puts it back.
    func takeSlot(_ i: Int, _ name: String) -> Tensor {
        slots[i].removeValue(forKey: name) ?? Tensor.zeros(parameters[i].shape)
    }
}
