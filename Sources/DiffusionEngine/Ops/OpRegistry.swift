/// The name of a differentiable operation. Every op that records an autograd node is listed in `Op.all`,
/// and the test suite checks each one against finite differences, so an op cannot be added unchecked.
public struct Op: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public var description: String { name }

    static let leaf = Op("leaf")

    /// Every differentiable op, by group. Each group is declared beside its implementation.
    public static var all: [Op] {
        layoutOps + unaryOps + binaryOps + reductionOps + shapeOps + indexOps + linalgOps + convolutionOps + samplingOps
    }

    static let registered: Set<Op> = Set(all).union([.leaf])
}
