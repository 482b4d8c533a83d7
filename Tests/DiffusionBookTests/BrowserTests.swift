import Foundation
import Testing
@testable import DiffusionBook
@testable import DiffusionServer

/// Headless Chromium over the built sites. The test copies both sites (fixture at /, the real book at /book/),
/// adds a harness under /__test__/ (only in this copy) and a hook script to each page that records errors,
/// serves the copy on 127.0.0.1 and lets Chromium load the harness; the harness writes a JSON verdict into
/// the DOM, which Chromium dumps.
@Suite("Browser: pages load cleanly in headless Chromium", .serialized)
struct BrowserTests {
    static func chromium() -> String? {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
                let p = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: p) { return p }
            }
        }
        return nil
    }

    static let hook = #"""
    window.__errors=[];
    window.addEventListener("error",function(e){var t=e.target;window.__errors.push("error: "+(e.message||(t&&(t.src||t.href))||"resource failed"))},true);
    window.addEventListener("unhandledrejection",function(e){window.__errors.push("unhandled rejection: "+e.reason)});
    (function(){var ce=console.error;console.error=function(){window.__errors.push("console.error: "+Array.prototype.join.call(arguments," "));return ce.apply(console,arguments)}})();
    """#

    static let harness = #"""
    <!DOCTYPE html><html><head><meta charset="utf-8"><title>harness</title></head><body>
    <pre id="verdict">running</pre>
    <script>
    var PAGES = __PAGES__;
    function sleep(ms){return new Promise(function(r){setTimeout(r,ms)})}
    function load(url,width){return new Promise(function(resolve){
      var f=document.createElement("iframe");f.style.width=width+"px";f.style.height="800px";f.style.border="0";
      f.onload=function(){resolve(f)};f.src=url;document.body.appendChild(f)})}
    async function ready(f){for(var i=0;i<200;i++){var d=f.contentDocument;if(d&&d.documentElement.dataset.ready==="1"){return true}await sleep(25)}return false}
    function badResources(w){try{return w.performance.getEntriesByType("resource").filter(function(e){return e.responseStatus>=400}).map(function(e){return e.name+" "+e.responseStatus})}catch(e){return []}}
    async function checkPage(p){
      var f=await load(p.url,375);var ok=await ready(f);var w=f.contentWindow,d=f.contentDocument;
      var r={url:p.url,ready:ok};
      r.errors=(w.__errors||[]).concat(badResources(w));
      r.katexErrors=d.querySelectorAll(".katex-error, .math-error").length;
      r.math=d.querySelectorAll(".math").length;r.rendered=d.querySelectorAll(".math .katex").length;
      var de=d.documentElement;r.overflow=de.scrollWidth-de.clientWidth;
      if(r.overflow>0){r.wide=Array.prototype.slice.call(d.querySelectorAll("body *")).filter(function(e){return e.getBoundingClientRect().right>de.clientWidth+1}).slice(0,5).map(function(e){return e.tagName+"."+e.className})}
      var det=d.querySelector("details.answer");
      if(det){det.querySelector("summary").click();await sleep(50);r.answerOpened=det.open}
      r.copyButtons=d.querySelectorAll(".code-block .copy").length;r.codeBlocks=d.querySelectorAll(".code-block").length;
      f.remove();return r}
    async function searchFor(url,q){
      var f=await load(url,1200);await ready(f);var d=f.contentDocument;var input=d.getElementById("search-input");
      input.focus();input.value=q;input.dispatchEvent(new Event("input",{bubbles:true}));
      var box=d.getElementById("search-results");
      for(var i=0;i<200&&(box.hidden||box.dataset.query!==q);i++){await sleep(25)}
      var hits=Array.prototype.map.call(box.querySelectorAll("a"),function(a){return a.getAttribute("href")});
      var errors=f.contentWindow.__errors||[];f.remove();return {query:q,hits:hits,errors:errors}}
    async function interactions(url){
      var f=await load(url,1200);await ready(f);var w=f.contentWindow,d=f.contentDocument;var r={};
      var btn=d.getElementById("answers-toggle");btn.click();await sleep(20);
      r.allOpen=Array.prototype.every.call(d.querySelectorAll("details.answer"),function(x){return x.open});
      var theme=d.documentElement.dataset.theme;d.getElementById("theme-toggle").click();
      r.themeToggled=d.documentElement.dataset.theme!==theme;r.themeStored=w.localStorage.getItem("dl-theme")===d.documentElement.dataset.theme;
      d.body.dispatchEvent(new KeyboardEvent("keydown",{key:"/",bubbles:true}));r.slashFocusesSearch=d.activeElement===d.getElementById("search-input");
      d.activeElement.blur();
      d.body.dispatchEvent(new KeyboardEvent("keydown",{key:"ArrowRight",bubbles:true}));
      for(var i=0;i<200;i++){await sleep(25);try{if(f.contentWindow.location.pathname!==new URL(url,location.href).pathname&&f.contentDocument.readyState==="complete"){break}}catch(e){}}
      r.arrowGoesTo=f.contentWindow.location.pathname;
      f.remove();return r}
    (async function(){
      var out={pages:[],searches:[]};
      try{
        for(var i=0;i<PAGES.length;i++){out.pages.push(await checkPage(PAGES[i]))}
        out.searches.push(await searchFor("/index.html","扩散模型"));
        out.searches.push(await searchFor("/index.html","stochastic"));
        out.searches.push(await searchFor("/book/index.html","信噪比"));
        out.interactions=await interactions("/ch01.html");
      }catch(e){out.harnessError=String(e&&e.stack||e)}
      document.getElementById("verdict").textContent=JSON.stringify(out);
    })();
    </script></body></html>
    """#

    struct Verdict: Decodable {
        struct Page: Decodable {
            let url: String; let ready: Bool; let errors: [String]; let katexErrors: Int; let math: Int; let rendered: Int
            let overflow: Double; let wide: [String]?; let answerOpened: Bool?; let copyButtons: Int; let codeBlocks: Int
        }
        struct Search: Decodable { let query: String; let hits: [String]; let errors: [String] }
        struct Interactions: Decodable { let allOpen: Bool; let themeToggled: Bool; let themeStored: Bool; let slashFocusesSearch: Bool; let arrowGoesTo: String }
        let pages: [Page]; let searches: [Search]; let interactions: Interactions?; let harnessError: String?
    }

    /// Writes the test copy: both sites, a hook script in every page, the harness.
    static func prepareCopy() throws -> (URL, [String]) {
        let root = Fixtures.tempDir("browser").appendingPathComponent("site")
        var pages: [String] = []
        var files: [String: [UInt8]] = [:]
        for (prefix, site) in [("", (try Fixtures.fixture())), ("book/", (try Fixtures.real()))] {
            for (path, bytes) in site {
                if path.hasSuffix(".html") {
                    pages.append("/" + prefix + path)
                    let html = String(decoding: bytes, as: UTF8.self)
                        .replacingOccurrences(of: "<meta charset=\"utf-8\">", with: "<meta charset=\"utf-8\">\n<script src=\"/__test__/hook.js\"></script>")
                    files[prefix + path] = Array(html.utf8)
                } else {
                    files[prefix + path] = bytes
                }
            }
        }
        pages.sort()
        let list = String(decoding: try JSONEncoder().encode(pages.map { ["url": $0] }), as: UTF8.self)
        files["__test__/hook.js"] = Array(hook.utf8)
        files["__test__/harness.html"] = Array(harness.replacingOccurrences(of: "__PAGES__", with: list).utf8)
        try SiteWriter.write(files, to: root)
        return (root, pages)
    }

    /// Runs Chromium on the harness and returns the dumped DOM (killed after `timeout` seconds).
    static func dumpDOM(_ chromium: String, url: String, timeout: Double) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: chromium)
        let profile = Fixtures.tempDir("chromium-profile")
        p.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                       "--user-data-dir=\(profile.path)", "--virtual-time-budget=60000", "--dump-dom", url]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let killer = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        killer.cancel()
        try? FileManager.default.removeItem(at: profile)
        return String(decoding: data, as: UTF8.self)
    }

    @Test func everyPageLoadsCleanlyAndTheUIWorks() async throws {
        guard let chromium = Self.chromium() else {
            Issue.record("chromium is not installed; the browser tests need it. Install it with: apt-get install chromium (make test's setup does this)")
            return
        }
        let (root, pages) = try Self.prepareCopy()
        let server = try await SiteServer.start(root: root)
        let url = "http://127.0.0.1:\(server.port)/__test__/harness.html"
        let dom = await onNewThread { (try? Self.dumpDOM(chromium, url: url, timeout: 90)) ?? "" }
        await server.stop()
        guard let a = dom.range(of: "<pre id=\"verdict\">"), let b = dom.range(of: "</pre>", range: a.upperBound..<dom.endIndex) else {
            Issue.record("no verdict in Chromium's output: \(dom.prefix(500))"); return
        }
        let json = HTML.unescape(String(dom[a.upperBound..<b.lowerBound]))
        guard json != "running" else { Issue.record("the harness did not finish within Chromium's time budget"); return }
        let v = try JSONDecoder().decode(Verdict.self, from: Data(json.utf8))
        #expect(v.harnessError == nil, "\(v.harnessError ?? "")")
        #expect(v.pages.count == pages.count)
        for p in v.pages {
            #expect(p.ready, "\(p.url) never finished its scripts")
            #expect(p.errors.isEmpty, "\(p.url): \(p.errors)")
            #expect(p.katexErrors == 0, "\(p.url): \(p.katexErrors) KaTeX errors")
            #expect(p.rendered == p.math, "\(p.url): \(p.rendered) of \(p.math) formulas rendered")
            #expect(p.overflow <= 0, "\(p.url) scrolls sideways at 375 px by \(p.overflow) px: \(p.wide ?? [])")
            if let opened = p.answerOpened { #expect(opened, "\(p.url): clicking an answer did not expand it") }
            #expect(p.copyButtons == p.codeBlocks, "\(p.url): code blocks without a copy button")
        }
        #expect(v.pages.contains { $0.url == "/ch01.html" && $0.answerOpened == true && $0.math > 20 })
        #expect(v.pages.contains { $0.url == "/book/index.html" && $0.math > 30 })
        let s = Dictionary(uniqueKeysWithValues: v.searches.map { ($0.query, $0) })
        #expect(s["扩散模型"]?.hits.contains("index.html") == true, "\(String(describing: s["扩散模型"]))")
        #expect(s["stochastic"]?.hits.contains("index.html") == true, "\(String(describing: s["stochastic"]))")
        #expect(s["信噪比"]?.hits.contains { $0.hasPrefix("index.html#sec-") } == true, "\(String(describing: s["信噪比"]))")
        for search in v.searches { #expect(search.errors.isEmpty, "\(search.query): \(search.errors)") }
        if let i = v.interactions {
            #expect(i.allOpen, "“展开全部答案” did not open every answer")
            #expect(i.themeToggled && i.themeStored, "the theme toggle did not switch or remember")
            #expect(i.slashFocusesSearch, "/ did not focus the search box")
            #expect(i.arrowGoesTo == "/appendix-a.html", "→ went to \(i.arrowGoesTo)")
        } else {
            Issue.record("interactions were not checked")
        }
    }

    /// The 在线生成 page against a stub API: it lists the models, generates on #auto, and draws the result (an image
    /// for image and text models, a scatter for toy models); a text model gets the prompt box, its first example and
    /// guidance 3; without an API it says so instead of failing.
    @Test(arguments: ["image", "toy", "text", "none"])
    func generatorPageUsesTheAPI(_ kind: String) async throws {
        guard let chromium = Self.chromium() else {
            Issue.record("chromium is not installed; the browser tests need it. Install it with: apt-get install chromium")
            return
        }
        let root = Fixtures.tempDir("generator-\(kind)").appendingPathComponent("site")
        try SiteWriter.write(try Fixtures.fixture(), to: root)
        let png: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0, 58, 126,
                            155, 85, 0, 0, 0, 10, 73, 68, 65, 84, 120, 156, 99, 104, 0, 0, 0, 130, 0, 129, 119, 205, 114, 182, 0, 0, 0, 0,
                            73, 69, 78, 68, 174, 66, 96, 130]
        let models = kind == "text"
            ? #"[{"name":"m","kind":"image","data":"shapes","conditional":false,"prompt":true,"classes":[],"shape":[3,16,16],"formats":[]}]"#
            : #"[{"name":"m","kind":"\#(kind)","data":"d","conditional":true,"prompt":false,"classes":["a","b"],"shape":[2],"formats":[]}]"#
        let expected = kind == "text" ? #""guidanceScale":3"# : #""guidanceScale":1"#
        let api: APIHandler = { method, path, body in
            if path == "/api/models" { return APIResponse(status: 200, contentType: "application/json", body: Data(models.utf8)) }
            let request = String(decoding: body, as: UTF8.self)
            let prompt = #""prompt":"\#(GeneratorPage.examplePrompts[0])""#
            guard method == "POST", request.contains("\"model\":\"m\""), request.contains(expected), request.contains(prompt) == (kind == "text") else {
                return APIResponse(status: 400, contentType: "application/json", body: Data(#"{"error":"unexpected request"}"#.utf8))
            }
            if kind != "toy" { return APIResponse(status: 200, contentType: "image/png", body: Data(png)) }
            return APIResponse(status: 200, contentType: "application/json", body: Data(#"{"points":[[0,0],[1,2],[-1,0.5]],"labels":[0,1,1]}"#.utf8))
        }
        let server = try await SiteServer.start(root: root, api: kind == "none" ? nil : api)
        let url = "http://127.0.0.1:\(server.port)/generate.html#auto"
        let dom = await onNewThread { (try? Self.dumpDOM(chromium, url: url, timeout: 90)) ?? "" }
        await server.stop()
        switch kind {
        case "image":
            #expect(dom.contains("<img alt=\"16 个样本\" id=\"gen-image\" src=\"blob:"), "\(dom.suffix(1500))")
            #expect(dom.contains("生成了 16 个样本（heun，20 步，种子 0）"))
            #expect(dom.contains("<option value=\"1\">1：b</option>"), "the classes of a conditional model are offered")
        case "text":
            #expect(dom.contains("<img alt=\"16 个样本\" id=\"gen-image\" src=\"blob:"), "\(dom.suffix(1500))")
            #expect(dom.contains("生成了 16 个样本（“\(GeneratorPage.examplePrompts[0])”，heun，20 步，种子 0）"))
            #expect(dom.contains("<div id=\"gen-prompt-box\" class=\"gen-prompt\">"), "the prompt box is shown for a text model")
            #expect(dom.contains("<button type=\"button\" class=\"gen-example\">a large yellow ring, centre</button>"))
        case "toy":
            #expect(dom.contains("id=\"gen-canvas\""), "\(dom.suffix(1500))")
            #expect(dom.contains("生成了 3 个样本（heun，20 步，种子 0）"))
        default:
            #expect(dom.contains("生成 API 不可用"), "\(dom.suffix(1500))")
            #expect(dom.contains("<div id=\"gen-prompt-box\" class=\"gen-prompt\" hidden"))
            #expect(dom.contains("<form id=\"generator\" class=\"generator\" hidden"))
        }
    }
}
