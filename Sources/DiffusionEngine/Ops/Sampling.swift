extension Op {
    static let samplingOps: [Op] = []
}
