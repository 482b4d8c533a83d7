/// The learner's README (Simplified Chinese) of a generated lab package.
enum LabReadme {
    static func text(labs: [LabInfo], library: String) -> String {
        let heading = labs.count == 1 ? "# 实验 \(labs[0].id)：\(labs[0].title)" : "# DiffusionLab 实验：" + labs.map(\.id).joined(separator: "、")
        var s = heading + "\n\n"
        for lab in labs {
            if labs.count > 1 { s += "## \(lab.id)：\(lab.title)\n\n" }
            s += "配套章节：第 \(lab.chapter) 章。\(lab.summary)\n\n"
            s += "要完成的练习（按出现顺序）：\n\n"
            s += lab.exercises.map { "- [ ] \($0)" }.joined(separator: "\n") + "\n\n"
        }
        s += """
        ## 怎么做

        1. 打开 `Sources/Lab/` 里的 `.swift` 文件。每个练习前面有中文说明：要实现什么、公式、提示。
        2. 找到 `// TODO 练习「…」` 和它下面的 `throw Unfinished("…")`，删掉这一行，写上你的实现。
           练习函数都标了 `throws`：没写完的练习只会让它自己的测试失败（显示“练习未完成：…”），不会拖垮别的测试。
        3. 运行评分：

           ```sh
           diffusion lab check .      # 逐项列出通过/未通过，并给出每个未通过测试的提示
           swift test                 # 也可以直接运行测试，提示同样会出现在输出里
           ```

        `Tests/LabTests/` 里是评分用的测试，读它们可以帮助理解要求，但请不要修改。
        第一次构建要编译整个 DiffusionLab 库，需要几分钟；之后只重新编译你改动的文件。

        ## 依赖

        `Package.swift` 按本机路径引用本书的库：`\(library)`。
        如果仓库换了位置，改那一行，或者用 `diffusion lab init <实验> <文件夹> --library <仓库路径> --force` 重新生成
        （`--force` 只覆盖生成的文件；你的代码在 `Sources/Lab/`，重新生成前请先备份）。

        """
        return s
    }
}
