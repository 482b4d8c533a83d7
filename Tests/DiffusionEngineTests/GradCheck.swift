import Testing
@testable import DiffusionEngine

/// One finite-difference gradient check: `inputs` are the values, `f` the function under test.
struct GradCase: Sendable, CustomTestStringConvertible {
    let op: Op
    let label: String
    let inputs: [Tensor]
    let f: @Sendable ([Tensor]) -> Tensor
    var atol: Double = 2e-2
    var rtol: Double = 2e-2
    /// Whether to also run with strided and transposed views as inputs.
    var layouts = true

    init(_ op: Op, _ label: String = "", _ inputs: [Tensor], atol: Double = 2e-2, rtol: Double = 2e-2, layouts: Bool = true,
         _ f: @escaping @Sendable ([Tensor]) -> Tensor) {
        self.op = op
        self.label = label
        self.inputs = inputs
        self.f = f
        self.atol = atol
        self.rtol = rtol
        self.layouts = layouts
    }

    init(_ op: Op, _ inputs: [Tensor], atol: Double = 2e-2, rtol: Double = 2e-2, layouts: Bool = true,
         _ f: @escaping @Sendable ([Tensor]) -> Tensor) {
        self.init(op, "", inputs, atol: atol, rtol: rtol, layouts: layouts, f)
    }

    var testDescription: String { label.isEmpty ? op.name : "\(op.name) [\(label)]" }
}

/// Deterministic test values: normal(0, scale) from a fixed stream, optionally pushed away from zero.
func testInput(_ shape: [Int], seed: UInt64 = 1, scale: Float = 1, awayFromZero: Float = 0, positive: Bool = false) -> Tensor {
    var v = Tensor.randomNormal(shape, seed: seed, stream: 99).scalars.map { $0 * scale }
    if awayFromZero > 0 { v = v.map { $0 >= 0 ? $0 + awayFromZero : $0 - awayFromZero } }
    if positive { v = v.map { Swift.abs($0) + 0.2 } }
    return Tensor(v, shape: shape)
}

enum Layout: CaseIterable { case contiguous, strided, transposed }

/// Builds a leaf whose view (handed to `f`) has `value`'s shape and the requested memory layout.
func makeView(_ value: Tensor, _ layout: Layout) -> (leaf: Tensor, view: Tensor) {
    switch layout {
    case .strided where value.rank >= 1:
        // A leaf with a trailing axis of 2; the view takes index 0, so its last stride is 2.
        let padded = Tensor.concatForTests(value)
        let leaf = padded.requiringGrad()
        return (leaf, leaf.slice(axis: -1, 0, 1).squeezed(-1))
    case .transposed where value.rank >= 2:
        let leaf = value.transposed().contiguous().detached().requiringGrad()
        return (leaf, leaf.transposed())
    default:
        let leaf = value.requiringGrad()
        return (leaf, leaf)
    }
}

extension Tensor {
    /// value with a trailing axis of 2: [..., 0] = value, [..., 1] = 7 (never read by the view).
    static func concatForTests(_ value: Tensor) -> Tensor {
        var out = [Float]()
        for v in value.scalars { out.append(v); out.append(7) }
        return Tensor(out, shape: value.shape + [2])
    }
}

/// Runs the check; returns a failure description or nil.
func runGradCheck(_ c: GradCase, layout: Layout) -> String? {
    let views = c.inputs.map { makeView($0, layout) }
    let leaves = views.map(\.leaf)
    let out = c.f(views.map(\.view))
    guard out.requiresGrad else { return "output does not require a gradient" }
    let w = Tensor.randomNormal(out.shape, seed: 7, stream: 3)
    (out * w).sum().backward()
    let wv = w.scalars.map(Double.init)

    func loss(_ perturbed: [Tensor]) -> Double {
        let values = withNoGrad { () -> [Float] in
            let vs = zip(perturbed, c.inputs).map { p, v in makeViewNoGrad(p, like: v, layout) }
            return c.f(vs).scalars
        }
        return zip(values, wv).reduce(0.0) { $0 + Double($1.0) * $1.1 }
    }

    let h: Float = 1e-2
    for (i, leaf) in leaves.enumerated() {
        guard let analytic = leaf.grad?.scalars else { return "input \(i) received no gradient" }
        let base = leaf.detached().scalars
        for j in base.indices {
            var plus = leaves.map { $0.detached() }, minus = plus
            var vp = base, vm = base
            vp[j] += h
            vm[j] -= h
            plus[i] = Tensor(vp, shape: leaf.shape)
            minus[i] = Tensor(vm, shape: leaf.shape)
            let numeric = (loss(plus) - loss(minus)) / Double(2 * h)
            let a = Double(analytic[j])
            if !(Swift.abs(a - numeric) <= c.atol + c.rtol * Swift.abs(numeric)) {
                return "layout \(layout), input \(i), element \(j): analytic \(a) vs numeric \(numeric)"
            }
        }
    }
    return nil
}

/// The view `f` sees for a perturbed leaf value, without recording.
func makeViewNoGrad(_ leafValue: Tensor, like value: Tensor, _ layout: Layout) -> Tensor {
    switch layout {
    case .strided where value.rank >= 1: return leafValue.slice(axis: -1, 0, 1).squeezed(-1)
    case .transposed where value.rank >= 2: return leafValue.transposed()
    default: return leafValue
    }
}

/// Every gradient case, gathered from the per-group lists.
let allGradCases: [GradCase] = GradCases.core + GradCases.shape + GradCases.index + GradCases.convolution + GradCases.sampling

enum GradCases {}

@Suite("Autograd: every op against finite differences")
struct GradientChecks {
    @Test("every registered op has a gradient check")
    func everyOpIsChecked() {
        let checked = Set(allGradCases.map(\.op))
        for op in Op.all {
            #expect(checked.contains(op), "op '\(op.name)' has no finite-difference check in Tests/DiffusionEngineTests")
        }
    }

    @Test("analytic gradient matches central differences", arguments: allGradCases)
    func gradientMatches(_ c: GradCase) {
        for layout in (c.layouts ? Layout.allCases : [.contiguous]) {
            let failure = runGradCheck(c, layout: layout)
            #expect(failure == nil, "\(c.testDescription): \(failure ?? "")")
        }
    }
}
