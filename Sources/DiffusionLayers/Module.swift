/// Base class of every layer and model.
///
/// Parameters and child modules are found by reflection over stored properties (including those declared
/// in superclasses): a `Parameter`, a `Module`, an optional of either, and arrays or string-keyed
/// dictionaries of them. Names follow PyTorch: `blocks.0.weight`, `down.0.conv1.bias` (a leading `_`,
/// as from a property wrapper, is dropped; dictionary entries are visited in key order). A parameter or
/// module reachable twice (weight tying) is listed once, under its first name.
///
/// Subclasses that hold children in another shape (e.g. `Sequential`) override `namedChildren()`.
open class Module {
    /// Training mode (dropout active); `eval()` turns it off for the whole tree.
    public private(set) var isTraining = true

    public init() {}

    /// Direct children with their names, in declaration order (superclass properties first).
    open func namedChildren() -> [(String, Module)] {
        var out: [(String, Module)] = []
        reflectMembers { name, member in
            if case .module(let m) = member { out.append((name, m)) }
        }
        return out
    }

    /// Parameters declared directly on this module (not on children).
    open func namedDirectParameters() -> [(String, Parameter)] {
        var out: [(String, Parameter)] = []
        reflectMembers { name, member in
            if case .parameter(let p) = member { out.append((name, p)) }
        }
        return out
    }

    private enum Member { case parameter(Parameter), module(Module) }

    private func reflectMembers(_ visit: (String, Member) -> Void) {
        var mirrors: [Mirror] = []
        var m: Mirror? = Mirror(reflecting: self)
        while let mirror = m { mirrors.append(mirror); m = mirror.superclassMirror }
        for mirror in mirrors.reversed() {
            for child in mirror.children {
                guard var label = child.label else { continue }
                if label.hasPrefix("$__lazy_storage_$_") { continue }
                if label.hasPrefix("_") { label.removeFirst() }
                Self.visit(child.value, label, visit)
            }
        }
    }

    private static func visit(_ value: Any, _ name: String, _ body: (String, Member) -> Void) {
        if let p = value as? Parameter { body(name, .parameter(p)); return }
        if let m = value as? Module { body(name, .module(m)); return }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            if let inner = mirror.children.first { visit(inner.value, name, body) }
        case .collection:
            for (i, c) in mirror.children.enumerated() { visit(c.value, "\(name).\(i)", body) }
        case .dictionary:
            var entries: [(String, Any)] = []
            for c in mirror.children {
                let pair = Array(Mirror(reflecting: c.value).children)
                if pair.count == 2, let key = pair[0].value as? String { entries.append((key, pair[1].value)) }
            }
            for (k, v) in entries.sorted(by: { $0.0 < $1.0 }) { visit(v, "\(name).\(k)", body) }
        default:
            break
        }
    }

    /// Every module in the tree (self first, named ""), depth first, each once.
    public func namedModules() -> [(String, Module)] {
        var out: [(String, Module)] = []
        var seen: Set<ObjectIdentifier> = []
        func walk(_ m: Module, _ prefix: String) {
            guard seen.insert(ObjectIdentifier(m)).inserted else { return }
            out.append((prefix, m))
            for (name, child) in m.namedChildren() { walk(child, prefix.isEmpty ? name : "\(prefix).\(name)") }
        }
        walk(self, "")
        return out
    }

    /// Every parameter in the tree with its dotted name, each once, in declaration order.
    public func namedParameters() -> [(String, Parameter)] {
        var out: [(String, Parameter)] = []
        var seen: Set<ObjectIdentifier> = []
        for (prefix, m) in namedModules() {
            for (name, p) in m.namedDirectParameters() where seen.insert(ObjectIdentifier(p)).inserted {
                out.append((prefix.isEmpty ? name : "\(prefix).\(name)", p))
            }
        }
        return out
    }

    public func parameters() -> [Parameter] { namedParameters().map(\.1) }

    /// Parameters that are not frozen (what an optimiser should receive).
    public func trainableParameters() -> [Parameter] { parameters().filter { !$0.isFrozen } }

    /// Number of scalar parameters, frozen ones included (like `sum(p.numel() for p in m.parameters())`).
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }
    public var trainableParameterCount: Int { trainableParameters().reduce(0) { $0 + $1.count } }

    /// Sets training mode on this module and every descendant.
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.isTraining = on }
    }

    /// Evaluation mode: dropout becomes the identity.
    public func eval() { train(false) }

    /// Freezes every parameter (no gradients, optimisers skip them), e.g. a base model under LoRA.
    public func freeze() { for p in parameters() { p.isFrozen = true } }
    public func unfreeze() { for p in parameters() { p.isFrozen = false } }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters() { p.zeroGrad() } }

    /// Parameter values by name (a detached snapshot sharing storage until either side is written).
    public func stateDict() -> [(String, Tensor)] { namedParameters().map { ($0.0, $0.1.value.detached()) } }
}

/// A module with a single-tensor forward pass, so it can be chained in `Sequential`.
open class UnaryModule: Module {
    override public init() { super.init() }

    /// The forward pass; subclasses override it.
    open func forward(_ x: Tensor) -> Tensor {
        fatalError("\(type(of: self)) must override forward(_:)")
    }

    public final func callAsFunction(_ x: Tensor) -> Tensor { forward(x) }
}
