/// The site's stylesheet and script (no external resources; KaTeX is copied next to them).
enum Assets {
    static var css: String {
        ":root{\(Theme.variables(Theme.light))color-scheme:light}\n"
            + "html[data-theme=dark]{\(Theme.variables(Theme.dark))color-scheme:dark}\n" + baseCSS
    }

    static let baseCSS = #"""
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.75 system-ui,-apple-system,"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;overflow-wrap:break-word}
a{color:var(--link)}
a:focus-visible,button:focus-visible,input:focus-visible,summary:focus-visible{outline:2px solid var(--link);outline-offset:2px}
.skip{position:absolute;left:-9999px;top:0;background:var(--bg);color:var(--link);padding:.5rem}
.skip:focus{left:.5rem;z-index:100}
.topbar{position:sticky;top:0;z-index:20;display:flex;align-items:center;gap:.5rem;padding:.45rem .75rem;background:var(--panel);border-bottom:1px solid var(--border)}
.brand{font-weight:600;color:var(--fg);text-decoration:none;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;min-width:0;flex:0 1 auto}
.search{position:relative;flex:1 1 12rem;min-width:6rem;max-width:28rem;margin-left:auto}
.search input{width:100%;font:inherit;font-size:.95rem;padding:.3rem .6rem;border:1px solid var(--border);border-radius:6px;background:var(--bg);color:var(--fg)}
.search input::placeholder{color:var(--muted);opacity:1}
#search-results{position:absolute;right:0;top:calc(100% + 4px);width:min(34rem,92vw);max-height:70vh;overflow:auto;background:var(--bg);border:1px solid var(--border);border-radius:8px;box-shadow:0 8px 24px rgba(0,0,0,.2);padding:.25rem;z-index:30}
#search-results a{display:block;padding:.45rem .6rem;border-radius:6px;text-decoration:none;color:var(--fg)}
#search-results a:hover,#search-results a:focus{background:var(--panel)}
#search-results .r-title{color:var(--link);font-weight:600;display:block}
#search-results .r-snip{color:var(--muted);font-size:.88rem;display:block}
#search-results .r-none{padding:.5rem .6rem;color:var(--muted)}
mark{background:var(--mark-bg);color:var(--mark-fg);border-radius:2px}
.topbar button{font:inherit;font-size:.9rem;padding:.3rem .6rem;border:1px solid var(--border);border-radius:6px;background:var(--button-bg);color:var(--button-fg);cursor:pointer;white-space:nowrap}
#menu-toggle{display:none}
.layout{display:grid;grid-template-columns:17rem minmax(0,1fr) 14rem;max-width:90rem;margin:0 auto}
.sidebar{position:sticky;top:3rem;align-self:start;max-height:calc(100vh - 3rem);overflow:auto;padding:1rem .75rem 2rem;border-right:1px solid var(--border);font-size:.92rem}
.sidebar ol{list-style:none;margin:0;padding:0}
.sidebar ol ol{padding-left:1rem;margin:.2rem 0 .4rem}
.sidebar li{margin:.1rem 0}
.sidebar a{display:block;padding:.15rem .4rem;border-radius:5px;text-decoration:none;color:var(--fg)}
.sidebar a:hover{background:var(--panel)}
.sidebar a[aria-current=page]{background:var(--panel);font-weight:600}
.sidebar .num{color:var(--muted);margin-right:.3rem}
.sidebar .forthcoming{display:block;padding:.15rem .4rem;color:var(--muted)}
.badge{font-size:.75rem;border:1px solid var(--border);border-radius:4px;padding:0 .25rem;margin-left:.25rem;color:var(--muted)}
.content{min-width:0;padding:1.5rem 2.5rem 3rem}
article{max-width:46rem;margin:0 auto}
.outline{position:sticky;top:3rem;align-self:start;max-height:calc(100vh - 3rem);overflow:auto;padding:1.5rem .75rem;font-size:.88rem}
.outline p{margin:0 0 .4rem;font-weight:600;color:var(--muted)}
.outline ol{list-style:none;margin:0;padding:0}
.outline li.l3{padding-left:.9rem}
.outline a{color:var(--muted);text-decoration:none;display:block;padding:.1rem 0}
.outline a:hover{color:var(--link)}
h1,h2,h3,h4{line-height:1.35;scroll-margin-top:4rem}
h1{font-size:1.9rem;margin:.5rem 0 1.2rem}
h2{font-size:1.45rem;margin:2.2rem 0 .8rem;padding-bottom:.25rem;border-bottom:1px solid var(--border)}
h3{font-size:1.18rem;margin:1.8rem 0 .6rem}
h1 .num,h2 .num,h3 .num{color:var(--muted);margin-right:.35rem}
.anchor{opacity:0;text-decoration:none;margin-left:.3rem;color:var(--muted)}
h2:hover .anchor,h3:hover .anchor,.anchor:focus{opacity:1}
[id]{scroll-margin-top:4rem}
code{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",monospace;font-size:.9em;background:var(--code-bg);color:var(--code-fg);padding:.1em .3em;border-radius:4px}
.code-block{position:relative;margin:1rem 0}
.code-block pre{margin:0;background:var(--code-bg);color:var(--code-fg);border:1px solid var(--border);border-radius:8px;padding:.85rem 1rem;overflow-x:auto;line-height:1.5}
.code-block pre code{background:none;padding:0;font-size:.88rem}
.code-block .copy{position:absolute;top:.4rem;right:.4rem;font:inherit;font-size:.8rem;padding:.15rem .5rem;border:1px solid var(--border);border-radius:5px;background:var(--button-bg);color:var(--button-fg);cursor:pointer;opacity:.9}
.hl-kw{color:var(--hl-kw)}.hl-str{color:var(--hl-str)}.hl-com{color:var(--hl-com);font-style:italic}.hl-num{color:var(--hl-num)}.hl-type{color:var(--hl-type)}
.math.display{display:block;overflow-x:auto;overflow-y:hidden;margin:1rem 0;padding:.2rem 0;max-width:100%}
.math.display .katex-display{margin:0}
.equation{display:flex;align-items:center;gap:.5rem}
.equation .math.display{flex:1 1 auto;min-width:0}
.eqno{flex:none;color:var(--fg)}
.math.inline .katex{white-space:normal}
.table-wrap{overflow-x:auto;margin:1rem 0;max-width:100%;position:relative}
table{border-collapse:collapse;min-width:60%}
th,td{border:1px solid var(--border);padding:.35rem .7rem;text-align:left;vertical-align:top}
thead th{background:var(--panel)}
blockquote{margin:1rem 0;padding:.1rem 1rem;border-left:4px solid var(--border);color:var(--muted)}
img,svg{max-width:100%;height:auto}
.figure{margin:1.6rem 0;text-align:center}
.figure-art{overflow-x:auto}
.figure-art svg{color:var(--fg)}
figcaption{font-size:.93rem;color:var(--muted);text-align:left;margin-top:.4rem}
figcaption p{margin:.3rem 0}
.figure-num{font-weight:600;color:var(--fg);text-decoration:none}
.callout{margin:1.4rem 0;padding:.6rem 1rem;border-left:4px solid var(--rem-bar);background:var(--rem-bg);border-radius:0 8px 8px 0}
.callout-head{font-weight:600}
.callout-head a{color:inherit;text-decoration:none}
.callout.definition{background:var(--def-bg);border-color:var(--def-bar)}
.callout.theorem,.callout.lemma,.callout.proposition{background:var(--thm-bg);border-color:var(--thm-bar)}
.callout.research{background:var(--lead-bg);border-color:var(--lead-bar)}
.callout.lab{background:var(--lab-bg);border-color:var(--lab-bar)}
.callout-body>:first-child{margin-top:.3rem}.callout-body>:last-child{margin-bottom:.2rem}
.lab-meta{font-size:.9rem}
.exercise{margin:1.4rem 0;padding:.6rem 1rem;border:1px solid var(--border);border-left:4px solid var(--ex-bar);border-radius:0 8px 8px 0;background:var(--ex-bg)}
.exercise-head{font-weight:600}
.exercise-num{color:var(--fg);text-decoration:none}
.tag{font-size:.8rem;font-weight:500;background:var(--tag-bg);color:var(--tag-fg);border-radius:4px;padding:.05rem .4rem;margin-left:.3rem}
.stars{color:var(--star);letter-spacing:.05em}
.exercise-body>:first-child{margin-top:.4rem}
details.answer{margin:.5rem 0 .2rem;border-top:1px dashed var(--border);padding-top:.3rem}
details.answer>summary{cursor:pointer;color:var(--link);font-weight:500}
.answer-body{padding:.2rem 0 .2rem .2rem}
.cite a{text-decoration:none}
.num[title]{border-bottom:1px dotted var(--muted)}
.references li{margin:.5rem 0}
.pager{display:flex;justify-content:space-between;gap:1rem;max-width:46rem;margin:3rem auto 0;padding-top:1rem;border-top:1px solid var(--border)}
.pager a{display:block;text-decoration:none;max-width:48%;padding:.5rem .8rem;border:1px solid var(--border);border-radius:8px}
.pager a.next{margin-left:auto;text-align:right}
.pager small{display:block;color:var(--muted)}
.chapter-list li{margin:.25rem 0}
.footnotes{font-size:.9rem;color:var(--muted);border-top:1px solid var(--border);margin-top:2rem}
kbd{border:1px solid var(--border);border-radius:4px;padding:0 .3rem;font-size:.85em;background:var(--panel)}
@media (max-width:1200px){.layout{grid-template-columns:16rem minmax(0,1fr)}.outline{display:none}}
@media (max-width:860px){
 .layout{display:block}
 #menu-toggle{display:inline-block}
 .sidebar{display:none;position:fixed;top:2.9rem;left:0;bottom:0;width:min(20rem,85vw);max-height:none;background:var(--bg);z-index:25;box-shadow:4px 0 16px rgba(0,0,0,.25)}
 body.menu-open .sidebar{display:block}
 .content{padding:1rem 1rem 2rem}
 .brand{display:none}
 .search{max-width:none;position:static}
 #search-results{position:fixed;left:.5rem;right:.5rem;top:3rem;width:auto}
 h1{font-size:1.55rem}
}
@media print{
 .topbar,.sidebar,.outline,.pager,.copy,.anchor,.skip{display:none!important}
 .layout{display:block}
 .content{padding:0}
 body{background:#fff;color:#000;font-size:11pt}
 a{color:#000}
 .callout,.exercise,.code-block pre{break-inside:avoid;background:#fff!important;border-color:#888!important}
 details.answer>summary{color:#000}
 .math.display{overflow:visible}
 h2,h3{break-after:avoid}
}
"""#

    static let js = #"""
(function(){
"use strict";
var root=document.documentElement;
function $(id){return document.getElementById(id)}
// Theme: the choice is remembered; the first visit follows the system.
var themeBtn=$("theme-toggle");
function showTheme(){if(themeBtn){var d=root.dataset.theme==="dark";themeBtn.setAttribute("aria-pressed",d?"true":"false");themeBtn.textContent=d?"浅色":"深色";themeBtn.title=d?"切换到浅色模式":"切换到深色模式"}}
if(themeBtn){themeBtn.addEventListener("click",function(){var t=root.dataset.theme==="dark"?"light":"dark";root.dataset.theme=t;try{localStorage.setItem("dl-theme",t)}catch(e){}showTheme()})}
showTheme();
// Formulas: each .math element holds its TeX exactly as written in the source.
function renderMath(){
  if(!window.katex){return}
  var els=document.querySelectorAll(".math");
  for(var i=0;i<els.length;i++){
    var el=els[i];var tex=el.textContent;var opts={displayMode:el.classList.contains("display"),throwOnError:true,strict:"ignore",output:"htmlAndMathml"};
    try{katex.render(tex,el,opts)}
    catch(e){
      // Unknown commands would otherwise render quietly in red: report them, then show the formula anyway.
      console.error("KaTeX: "+(e&&e.message)+" in: "+tex);el.classList.add("math-error");
      opts.throwOnError=false;try{katex.render(tex,el,opts)}catch(e2){}
    }
  }
}
renderMath();
// Copy buttons on code blocks.
var blocks=document.querySelectorAll(".code-block");
for(var b=0;b<blocks.length;b++){(function(block){
  var btn=document.createElement("button");btn.type="button";btn.className="copy";btn.textContent="复制";btn.setAttribute("aria-label","复制代码");
  btn.addEventListener("click",function(){
    var text=block.querySelector("code").innerText;
    function done(){btn.textContent="已复制";setTimeout(function(){btn.textContent="复制"},1500)}
    function fallback(){var ta=document.createElement("textarea");ta.value=text;ta.style.position="fixed";ta.style.opacity="0";document.body.appendChild(ta);ta.select();try{document.execCommand("copy")}catch(e){}document.body.removeChild(ta);done()}
    if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(text).then(done,fallback)}else{fallback()}
  });
  block.appendChild(btn);
})(blocks[b])}
// Expand or fold every answer on the page.
var answers=document.querySelectorAll("details.answer");var ansBtn=$("answers-toggle");
function showAnswers(){if(!ansBtn){return}var all=true;for(var i=0;i<answers.length;i++){if(!answers[i].open){all=false}}ansBtn.textContent=all?"收起全部答案":"展开全部答案";ansBtn.setAttribute("aria-pressed",all?"true":"false")}
if(ansBtn&&answers.length){ansBtn.hidden=false;ansBtn.addEventListener("click",function(){var open=ansBtn.getAttribute("aria-pressed")!=="true";for(var i=0;i<answers.length;i++){answers[i].open=open}showAnswers()});
  for(var a=0;a<answers.length;a++){answers[a].addEventListener("toggle",showAnswers)}showAnswers()}
// Printing shows every answer.
var wasOpen=[];
window.addEventListener("beforeprint",function(){wasOpen=[];for(var i=0;i<answers.length;i++){wasOpen.push(answers[i].open);answers[i].open=true}});
window.addEventListener("afterprint",function(){for(var i=0;i<answers.length;i++){answers[i].open=!!wasOpen[i]}});
// Mobile menu.
var menuBtn=$("menu-toggle");
if(menuBtn){menuBtn.addEventListener("click",function(){var o=document.body.classList.toggle("menu-open");menuBtn.setAttribute("aria-expanded",o?"true":"false")})}
// Search: character bigrams for Chinese, words (by prefix) for English; the index loads on first use.
var input=$("search-input"),box=$("search-results");var loading=false;
function loadIndex(cb){if(window.DL_SEARCH){cb();return}if(loading){setTimeout(function(){loadIndex(cb)},30);return}loading=true;
  var s=document.createElement("script");s.src=root.dataset.base+"assets/search-index.js";s.onload=function(){loading=false;cb()};s.onerror=function(){loading=false;console.error("search index failed to load")};document.head.appendChild(s)}
function isHan(c){var x=c.codePointAt(0);return (x>=0x3400&&x<=0x9fff)||(x>=0xf900&&x<=0xfaff)||(x>=0x20000&&x<=0x2fa1f)}
function tokens(q){var out=[],run="",word="";
  function endRun(){if(run.length===1){out.push({han1:run})}else{var cs=Array.from(run);for(var i=0;i+1<cs.length;i++){out.push({term:cs[i]+cs[i+1]})}}run=""}
  function endWord(){if(word.length>=1){out.push({prefix:word})}word=""}
  Array.from(q.toLowerCase()).forEach(function(c){if(isHan(c)){endWord();run+=c}else if(/[a-z0-9]/.test(c)){endRun();word+=c}else{endRun();endWord()}});endRun();endWord();return out}
function escapeHTML(s){return s.replace(/[&<>"]/g,function(c){return{"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]})}
function docsFor(t,idx){
  if(t.term){return idx.terms[t.term]||[]}
  var set={},ids=[];
  if(t.han1){idx.docs.forEach(function(d,i){if(d.x.indexOf(t.han1)>=0){ids.push(i)}});return ids}
  var keys=idx.words;for(var k=0;k<keys.length;k++){if(keys[k].indexOf(t.prefix)===0){(idx.terms[keys[k]]||[]).forEach(function(i){set[i]=1})}}
  return Object.keys(set).map(Number)}
function search(q){
  var idx=window.DL_SEARCH;var ts=tokens(q);if(!ts.length){return []}
  var hits=null;
  ts.forEach(function(t){var ds=docsFor(t,idx);var s={};ds.forEach(function(i){s[i]=1});hits=hits===null?ds.slice():hits.filter(function(i){return s[i]})});
  var needle=q.trim().toLowerCase();
  var scored=hits.map(function(i){var d=idx.docs[i];var title=d.t.toLowerCase(),text=d.x.toLowerCase();var sc=0;
    if(title.indexOf(needle)>=0){sc+=10}if(text.indexOf(needle)>=0){sc+=5}ts.forEach(function(t){var w=t.term||t.han1||t.prefix;if(title.indexOf(w)>=0){sc+=2}});return {i:i,s:sc}});
  scored.sort(function(a,b){return b.s-a.s||a.i-b.i});
  return scored.slice(0,20).map(function(r){return idx.docs[r.i]})}
function snippet(text,q){var lower=text.toLowerCase(),n=q.trim().toLowerCase();var at=lower.indexOf(n);var len=n.length;
  if(at<0){var ts=tokens(q);for(var k=0;k<ts.length&&at<0;k++){var w=ts[k].term||ts[k].han1||ts[k].prefix;at=lower.indexOf(w);len=w.length}}
  if(at<0){return escapeHTML(text.slice(0,90))}
  var a=Math.max(0,at-30),z=Math.min(text.length,at+len+60);
  return (a>0?"…":"")+escapeHTML(text.slice(a,at))+"<mark>"+escapeHTML(text.slice(at,at+len))+"</mark>"+escapeHTML(text.slice(at+len,z))+(z<text.length?"…":"")}
function show(q){
  if(!q.trim()){box.hidden=true;box.innerHTML="";return}
  loadIndex(function(){
    var rs=search(q);
    box.innerHTML=rs.length?rs.map(function(d){return '<a href="'+root.dataset.base+d.u+'"><span class="r-title">'+escapeHTML(d.t)+'</span><span class="r-snip">'+snippet(d.x,q)+'</span></a>'}).join(""):'<div class="r-none">没有找到“'+escapeHTML(q)+'”</div>';
    box.hidden=false;box.dataset.query=q})}
if(input&&box){
  var timer=null;
  input.addEventListener("input",function(){clearTimeout(timer);var q=input.value;timer=setTimeout(function(){show(q)},80)});
  input.addEventListener("focus",function(){loadIndex(function(){})});
  input.addEventListener("keydown",function(e){
    if(e.key==="Escape"){input.value="";box.hidden=true;input.blur()}
    else if(e.key==="Enter"){var first=box.querySelector("a");if(first){location.href=first.href}}
    else if(e.key==="ArrowDown"){var f=box.querySelector("a");if(f){e.preventDefault();f.focus()}}});
  box.addEventListener("keydown",function(e){var a=document.activeElement;if(e.key==="ArrowDown"&&a.nextElementSibling){e.preventDefault();a.nextElementSibling.focus()}else if(e.key==="ArrowUp"){e.preventDefault();(a.previousElementSibling||input).focus()}else if(e.key==="Escape"){box.hidden=true;input.focus()}});
  document.addEventListener("click",function(e){if(!e.target.closest(".search")){box.hidden=true}});
}
// Keyboard: ← / → turn pages, / focuses the search box.
document.addEventListener("keydown",function(e){
  if(e.defaultPrevented||e.altKey||e.ctrlKey||e.metaKey){return}
  var t=e.target;var typing=t&&t.closest&&t.closest("input,textarea,select,[contenteditable=true]");
  if(typing){return}
  if(e.key==="/"&&input){e.preventDefault();input.focus();return}
  var rel=e.key==="ArrowLeft"?"prev":e.key==="ArrowRight"?"next":null;
  if(rel){var l=document.querySelector('link[rel="'+rel+'"]');if(l){location.href=l.href}}
});
root.dataset.ready="1";
})();
"""#

    /// Runs before first paint so the remembered theme never flashes.
    static let themeBoot = #"<script>(function(){var t=null;try{t=localStorage.getItem("dl-theme")}catch(e){}if(t!=="dark"&&t!=="light"){t=window.matchMedia&&matchMedia("(prefers-color-scheme: dark)").matches?"dark":"light"}document.documentElement.dataset.theme=t})()</script>"#
}
