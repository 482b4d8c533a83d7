// swift-tools-version: 6.1
// DiffusionLab — a Swift textbook-and-laboratory for diffusion models.
// Targets are layered: CKernels → DiffusionEngine → (layers, diffusion, models, data, plot, book, labs) → CLI.
import PackageDescription

/// C kernels are always optimised, even in debug builds, so that tests run hot loops at full speed.
/// The engine is compiled with optimisation in every configuration: its per-op bookkeeping is hot too.
let engineFlags: [SwiftSetting] = [.unsafeFlags(["-O"])]
let kernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-fno-math-errno", "-ffp-contract=fast"])]

/// The labs (labs/<folder>/{lab.json, Sources, Tests}, shared files in labs/Support; see docs/LABS.md). The reference
/// solutions compile as one module named `Lab`, like a learner's package, so the graded tests are shared verbatim.
let labFolders = ["Support", "L1-forward-process", "L3-ddpm", "L4-score-matching", "L5-sde", "L6-flow-matching", "L7-dit-blocks", "L8-fast-samplers", "L9-guidance", "L12-masked-diffusion", "L14-consistency"]
func labPaths(_ part: String) -> [String] { labFolders.map { "\($0)/\(part)" } }
let labMetadata = labFolders.dropFirst().map { "\($0)/lab.json" }

let package = Package(
    name: "DiffusionLab",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "DiffusionLab", targets: ["DiffusionEngine", "DiffusionLayers", "Diffusion", "DiffusionData", "DiffusionModels"]),
        .executable(name: "diffusion", targets: ["DiffusionCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CKernels", cSettings: kernelFlags, linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux])), .linkedLibrary("m")]),
        .target(name: "DiffusionEngine", dependencies: ["CKernels"], swiftSettings: engineFlags),
        .target(name: "DiffusionLayers", dependencies: ["DiffusionEngine"], swiftSettings: engineFlags),
        .target(name: "Diffusion", dependencies: ["DiffusionEngine", "DiffusionLayers"], swiftSettings: engineFlags),
        // Image data (digits embedded, procedural shapes, IDX/PNG loaders, PNG/GIF writers) and image models.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", providers: [.apt(["libpng-dev"])]),
        .target(name: "DiffusionData", dependencies: ["DiffusionEngine", "CZlib", "CPNG"], exclude: ["Resources/digits.rst"],
                resources: [.embedInCode("Resources/digits.csv.gz")], swiftSettings: engineFlags),
        // Image models, their training (on the diffusion core and the image data), sampling and evaluation.
        .target(name: "DiffusionModels", dependencies: ["DiffusionLayers", "Diffusion", "DiffusionData"], swiftSettings: engineFlags),
        // The book: SVG plots, Markdown (cmark-gfm) → static site, and a local server in its own target.
        .systemLibrary(name: "CCmarkGFM", path: "Sources/CCmarkGFM", providers: [.apt(["libcmark-gfm-dev", "libcmark-gfm-extensions-dev"])]),
        .target(name: "DiffusionPlot"),
        .target(name: "DiffusionBook", dependencies: ["DiffusionEngine", "Diffusion", "DiffusionPlot", "CCmarkGFM", "DiffusionModels", "DiffusionData"]),
        .target(name: "DiffusionServer", dependencies: [.product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "DiffusionCommands",
            dependencies: ["CKernels", "DiffusionEngine", "DiffusionLayers", "Diffusion", "DiffusionData", "DiffusionModels", "DiffusionBook", "DiffusionServer", "DiffusionLabs", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Labs: marker parsing, skeleton generation, learner packages, Chinese reports (Foundation only).
        .target(name: "DiffusionLabs"),
        .target(name: "Lab", dependencies: ["DiffusionEngine", "DiffusionLayers", "Diffusion"], path: "labs",
                exclude: labPaths("Tests") + labMetadata, sources: labPaths("Sources")),
        .executableTarget(name: "DiffusionCLI", dependencies: ["DiffusionCommands"]),
        .target(name: "TestSupport", path: "Tests/Support"),
        .testTarget(name: "DiffusionEngineTests", dependencies: ["DiffusionEngine"]),
        .testTarget(name: "DiffusionLayersTests", dependencies: ["DiffusionLayers", "TestSupport"]),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion"]),
        .testTarget(name: "DiffusionDataTests", dependencies: ["DiffusionData", "TestSupport"]),
        .testTarget(name: "DiffusionModelsTests", dependencies: ["DiffusionModels", "Diffusion", "DiffusionData", "TestSupport"]),
        .testTarget(name: "DiffusionCommandsTests", dependencies: ["DiffusionCommands", "TestSupport"]),
        .testTarget(name: "DiffusionPlotTests", dependencies: ["DiffusionPlot"]),
        .testTarget(name: "DiffusionLabsTests", dependencies: ["DiffusionLabs", "TestSupport"]),
        .testTarget(name: "LabTests", dependencies: ["Lab", "DiffusionEngine", "DiffusionLayers", "Diffusion", "DiffusionModels"], path: "labs",
                    exclude: labPaths("Sources") + labMetadata, sources: labPaths("Tests")),
        .testTarget(name: "DiffusionBookTests", dependencies: ["DiffusionBook", "Diffusion", "DiffusionServer", "TestSupport"], exclude: ["Fixtures"]),
    ]
)
