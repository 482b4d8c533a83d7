import ArgumentParser
import DiffusionLabs
import Foundation

/// `diffusion lab …`: list the labs, write a learner's package (skeleton + graded tests), grade it. Learner-facing
/// messages are in Chinese.
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Labs: list them, create a learner's package, grade it (see docs/LABS.md).",
        subcommands: [LabList.self, LabInit.self, LabCheck.self]
    )
}

struct LabLibraryOption: ParsableArguments {
    @Option(help: "The DiffusionLab repository whose labs and library to use (default: the one this tool was built from, else found from the current directory or the executable).")
    var library: String?

    func catalog() throws -> (repository: URL, catalog: LabCatalog) {
        let repository = try LabRepository.locate(explicit: library)
        return (repository, try LabCatalog(folder: repository.appendingPathComponent("labs")))
    }
}

struct LabList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the labs, their chapters and exercises.")
    @OptionGroup var options: LabLibraryOption

    func run() throws {
        let (repository, catalog) = try options.catalog()
        print("实验（\(catalog.labs.count) 个，来自 \(repository.path)/labs）：\n")
        for lab in catalog.labs {
            print("\(lab.id)  第 \(lab.chapter) 章  \(lab.title)")
            print("    \(lab.summary)")
            print("    练习：\(lab.exercises.joined(separator: "、"))\n")
        }
        print("开始一个实验：diffusion lab init <实验> <文件夹>，例如 diffusion lab init \(catalog.labs.first?.id ?? "L1") ~/labs/\(catalog.labs.first?.id ?? "L1")")
    }
}

struct LabInit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Write a learner's package for a lab: the skeleton, the graded tests and a README in Chinese.")
    @Argument(help: "The lab, e.g. L3 (see `diffusion lab list`).") var lab: String
    @Argument(help: "Folder for the package (created if missing; must be empty unless --force).") var directory: String
    @Flag(help: "Write into a non-empty folder, replacing only the generated files (Sources, Tests, Package.swift, README.md).") var force = false
    @OptionGroup var options: LabLibraryOption

    func run() throws {
        let (repository, catalog) = try options.catalog()
        guard let info = catalog.lab(lab) else {
            throw LabCatalogError("没有实验 '\(lab)'。可用的实验：\(catalog.labs.map(\.id).joined(separator: "、"))（见 diffusion lab list）")
        }
        let package = try StudentPackage(labs: [info], catalog: catalog, library: repository)
        let target = URL(fileURLWithPath: directory)
        try package.write(to: target, force: force, library: repository)
        print("""
        已生成实验 \(info.id)「\(info.title)」：\(target.standardizedFileURL.path)
          Sources/Lab/     你的代码：\(info.exercises.count) 个练习（\(info.exercises.joined(separator: "、"))）
          Tests/LabTests/  评分测试（请不要修改）
          README.md        说明
        依赖的库：\(repository.path)

        下一步：
          cd \(directory)
          diffusion lab check .     # 第一次要编译整个库，需要几分钟
        """)
    }
}

struct LabCheck: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Build a learner's package, run its tests and report each result in Chinese, with a hint for each failure.")
    @Argument(help: "The package folder (default: the current directory).") var directory: String = "."
    @Option(help: "SwiftPM build folder (default: .build inside the package).") var scratchPath: String?
    @Flag(help: "Show the build's output as it runs.") var verbose = false

    func run() throws {
        let dir = URL(fileURLWithPath: directory).standardizedFileURL
        let manifest = try StudentPackage.manifest(in: dir)
        let catalog = try? LabCatalog(folder: URL(fileURLWithPath: manifest.library).appendingPathComponent("labs"))
        let titles = manifest.labs.map { id in catalog?.lab(id).map { "\($0.id)「\($0.title)」" } ?? id }
        FileHandle.standardError.write(Data("正在构建并测试实验 \(titles.joined(separator: "、"))（第一次要编译整个库，需要几分钟）…\n".utf8))
        let start = Date()
        var echo: (@Sendable (String) -> Void)?
        if verbose { echo = { FileHandle.standardError.write(Data($0.utf8)) } }
        let runner = LabRunner(package: dir, scratchPath: scratchPath.map { URL(fileURLWithPath: $0) }, echo: echo)
        switch try runner.run() {
        case let .buildFailed(errors, output):
            print("编译失败：请先修正下面的错误（文件:行:列）。\n")
            print((errors.isEmpty ? output.components(separatedBy: "\n").suffix(30) : errors[...]).joined(separator: "\n"))
            print("\n合计：没有运行任何测试（编译未通过）。")
            throw ExitCode.failure
        case let .tested(run, output):
            let seconds = String(format: "%.0f", Date().timeIntervalSince(start))
            let tail = output.components(separatedBy: "\n").suffix(15).joined(separator: "\n")
            print(run.report(title: "实验 \(titles.joined(separator: "、"))：评分结果（用时 \(seconds) 秒）", crashOutput: tail))
            if !run.allPassed { throw ExitCode.failure }
        }
    }
}
