extension Op {
    static let shapeOps: [Op] = []
}
