extension Op {
    static let convolutionOps: [Op] = []
}
