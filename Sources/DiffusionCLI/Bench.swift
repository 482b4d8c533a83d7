import ArgumentParser
import DiffusionEngine
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks (GEMM, element-wise). Timings are never part of the tests.")
    func run() throws { print("benchmarks: see `make bench`") }
}
