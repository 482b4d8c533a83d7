extension Op {
    static let indexOps: [Op] = []
}
