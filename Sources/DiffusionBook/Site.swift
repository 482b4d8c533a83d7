import Foundation

/// Puts rendered pages into the site's layout: sidebar, outline, prev/next links, search index, assets.
struct SiteAssembler {
    let manifest: BookManifest
    var pages: [RenderedPage]
    var bibliographyPage: RenderedPage?
    /// The "在线生成" page over the generation API (always present; it says when no API answers).
    let generatorPage = GeneratorPage.page()

    init(manifest: BookManifest, pages: [RenderedPage]) {
        self.manifest = manifest
        self.pages = pages
    }

    /// Pages in reading order: the book, the bibliography, the generator.
    var allPages: [RenderedPage] { pages + (bibliographyPage.map { [$0] } ?? []) + [generatorPage] }

    var pageNames: [String] { allPages.map(\.output) }

    mutating func addBibliography(_ bib: Bibliography, cited: Set<String>) {
        let entries = cited.compactMap { bib.entries[$0] }.sorted {
            ($0.surnames.first?.lowercased() ?? $0.key, $0.year, $0.key) < ($1.surnames.first?.lowercased() ?? $1.key, $1.year, $1.key)
        }
        var html = "<h1 id=\"top\">参考文献</h1>\n<p>本书正文引用的文献，按第一作者姓氏排序。</p>\n<ol class=\"references\">\n"
        for e in entries {
            html += "<li id=\"\(PageRenderer.anchorForKey(e.key))\">\(e.referenceHTML)</li>\n"
        }
        html += "</ol>\n"
        bibliographyPage = RenderedPage(output: "bibliography.html", chapter: nil, titleHTML: "参考文献", titleText: "参考文献", article: html, sections: [])
    }

    /// Every file of the site except KaTeX's.
    func files() -> [String: [UInt8]] {
        let all = allPages
        var files: [String: [UInt8]] = [:]
        var index = SearchIndex()
        for (k, page) in all.enumerated() {
            let prev = k > 0 ? all[k - 1] : nil
            let next = k + 1 < all.count ? all[k + 1] : nil
            files[page.output] = Array(layout(page, prev: prev, next: next).utf8)
            addToIndex(&index, page)
        }
        index.finish()
        files["assets/search-index.js"] = Array(index.javascript().utf8)
        files["assets/site.css"] = Array((Assets.css + GeneratorPage.css).utf8)
        files["assets/generate.js"] = Array(GeneratorPage.js.utf8)
        files["assets/site.js"] = Array(Assets.js.utf8)
        return files
    }

    /// Sidebar/pager title of a page.
    func label(_ page: RenderedPage) -> (num: String, title: String) {
        if page.output == "index.html" { return ("", "前言") }
        if let n = page.chapter {
            let entry = (manifest.chapters + (manifest.appendices ?? [])).first { $0.number == n }
            return (Int(n) != nil ? n : "附录 \(n)", entry?.title ?? page.titleText)
        }
        return ("", page.titleText)
    }

    func sidebar(current: RenderedPage) -> String {
        var s = "<nav id=\"sidebar\" class=\"sidebar\" aria-label=\"全书目录\"><ol>\n"
        func item(_ output: String, _ num: String, _ title: String) -> String {
            let here = output == current.output
            var li = "<li><a href=\"\(output)\"\(here ? " aria-current=\"page\"" : "")>"
                + (num.isEmpty ? "" : "<span class=\"num\">\(HTML.escape(num))</span>") + HTML.escape(title) + "</a>"
            if here && !current.sections.isEmpty {
                li += "<ol>" + current.sections.filter { $0.level == 2 }.map {
                    "<li><a href=\"#\($0.id)\">" + ($0.number.isEmpty ? "" : "<span class=\"num\">\($0.number)</span>") + $0.html + "</a></li>"
                }.joined() + "</ol>"
            }
            return li + "</li>\n"
        }
        s += item("index.html", "", "前言")
        for e in manifest.chapters + (manifest.appendices ?? []) {
            let num = Int(e.number) != nil ? e.number : "附录 \(e.number)"
            if e.file != nil {
                s += item(BookManifest.outputName(e.number), num, e.title)
            } else {
                s += "<li><span class=\"forthcoming\"><span class=\"num\">\(HTML.escape(num))</span>\(HTML.escape(e.title))<span class=\"badge\">撰写中</span></span></li>\n"
            }
        }
        if bibliographyPage != nil { s += item("bibliography.html", "", "参考文献") }
        s += item(GeneratorPage.output, "", "在线生成")
        return s + "</ol></nav>"
    }

    func layout(_ page: RenderedPage, prev: RenderedPage?, next: RenderedPage?) -> String {
        let bookTitle = HTML.escape(manifest.title)
        let pageTitle = page.output == "index.html" ? bookTitle : HTML.escape(page.titleText) + " · " + bookTitle
        var h = "<!DOCTYPE html>\n<html lang=\"zh-CN\" data-base=\"\">\n<head>\n<meta charset=\"utf-8\">\n"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        h += "<title>\(pageTitle)</title>\n"
        h += Assets.themeBoot + "\n"
        h += "<link rel=\"stylesheet\" href=\"assets/katex/katex.min.css\">\n<link rel=\"stylesheet\" href=\"assets/site.css\">\n"
        if let prev { h += "<link rel=\"prev\" href=\"\(prev.output)\">\n" }
        if let next { h += "<link rel=\"next\" href=\"\(next.output)\">\n" }
        h += "<script defer src=\"assets/katex/katex.min.js\"></script>\n<script defer src=\"assets/site.js\"></script>\n"
        h += "</head>\n<body>\n<a class=\"skip\" href=\"#content\">跳到正文</a>\n"
        h += "<header class=\"topbar\">"
        h += "<button id=\"menu-toggle\" type=\"button\" aria-controls=\"sidebar\" aria-expanded=\"false\">目录</button>"
        h += "<a class=\"brand\" href=\"index.html\">\(bookTitle)</a>"
        h += "<div class=\"search\" role=\"search\"><input id=\"search-input\" type=\"search\" placeholder=\"搜索全书（按 / ）\" aria-label=\"搜索全书\" autocomplete=\"off\"><div id=\"search-results\" hidden></div></div>"
        h += "<button id=\"answers-toggle\" type=\"button\" hidden>展开全部答案</button>"
        h += "<button id=\"theme-toggle\" type=\"button\" aria-pressed=\"false\">深色</button>"
        h += "</header>\n<div class=\"layout\">\n"
        h += sidebar(current: page) + "\n"
        h += "<main id=\"content\" class=\"content\" tabindex=\"-1\">\n<article>\n\(page.article)</article>\n"
        if prev != nil || next != nil {
            h += "<nav class=\"pager\" aria-label=\"翻页\">"
            if let prev { let l = label(prev); h += "<a class=\"prev\" href=\"\(prev.output)\"><small>← 上一页</small>\(HTML.escape((l.num.isEmpty ? "" : l.num + " ") + l.title))</a>" }
            if let next { let l = label(next); h += "<a class=\"next\" href=\"\(next.output)\"><small>下一页 →</small>\(HTML.escape((l.num.isEmpty ? "" : l.num + " ") + l.title))</a>" }
            h += "</nav>\n"
        }
        h += "</main>\n"
        if !page.sections.isEmpty {
            h += "<aside class=\"outline\" aria-label=\"本页目录\"><p>本页目录</p><ol>"
            for s in page.sections {
                h += "<li class=\"l\(s.level)\"><a href=\"#\(s.id)\">" + (s.number.isEmpty ? "" : s.number + " ") + s.html + "</a></li>"
            }
            h += "</ol></aside>\n"
        }
        h += "</div>\n</body>\n</html>\n"
        return h
    }

    /// One search document per section (and one for the text before the first section).
    func addToIndex(_ index: inout SearchIndex, _ page: RenderedPage) {
        // Formulas and figures are not searched as text.
        var html = page.article
        for pattern in [#"<span class="math inline">[^<]*</span>"#, #"<div class="math display">[^<]*</div>"#, #"<svg[\s\S]*?</svg>"#, #"<span class="eqno">[^<]*</span>"#] {
            html = html.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
        }
        let pageTitle = page.output == "index.html" ? manifest.title : page.titleText
        var cuts: [(String.Index, Section?)] = [(html.startIndex, nil)]
        for s in page.sections {
            if let r = html.range(of: "<h\(s.level) id=\"\(s.id)\">") { cuts.append((r.lowerBound, s)) }
        }
        for (k, (start, section)) in cuts.enumerated() {
            let end = k + 1 < cuts.count ? cuts[k + 1].0 : html.endIndex
            var text = HTML.text(String(html[start..<end]))
            if let s = section {
                // Drop the heading itself (number, title, "#") from the body text.
                let heading = HTML.text(String(html[start..<(html[start..<end].range(of: "</h\(s.level)>")?.upperBound ?? start)]))
                if text.hasPrefix(heading) { text = String(text.dropFirst(heading.count)).trimmingCharacters(in: .whitespaces) }
                let title = (s.number.isEmpty ? "" : s.number + " ") + s.text + " · " + pageTitle
                index.add(url: "\(page.output)#\(s.id)", title: title, text: text)
            } else if !text.isEmpty {
                index.add(url: page.output, title: pageTitle, text: text)
            }
        }
    }
}
