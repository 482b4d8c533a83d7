import Diffusion

/// The site's "在线生成" page: a form over the generation API of `diffusion book serve` (docs/API.md). The page is
/// static; its script asks `api/models` what there is and says plainly when no API answers (a file:// copy, or a
/// server started with `--models none`).
enum GeneratorPage {
    static let output = "generate.html"

    /// Example prompts offered for text-conditioned models (the first one fills the box).
    static let examplePrompts = ["蓝色的大正方形，位于右下", "红色的小圆形，位于左上", "a large yellow ring, centre", "绿色的三角形"]

    static func page() -> RenderedPage {
        let examples = examplePrompts.map { "<button type=\"button\" class=\"gen-example\">\(HTML.escape($0))</button>" }.joined(separator: " ")
        let options = samplers.map { s in
            "<option value=\"\(HTML.escape(s.name))\"\(s.name == "heun" ? " selected" : "")>\(HTML.escape(s.name))</option>"
        }.joined()
        let html = """
        <h1 id="top">在线生成</h1>
        <p>这一页调用本机服务器的生成 API：选一个检查点，设定采样器、步数、随机种子，条件模型还可以选类别和无分类器引导强度 \
        <em>w</em>，文本条件模型（如 <code>unet-t2i-shapes</code>）则输入一句描述，然后点击“生成”。同样的设置总是给出同样的样本（噪声由种子按计数器生成，与批大小、线程数无关）。</p>
        <p>API 只在用 <code>diffusion book serve</code> 提供本书时可用。它服务 <code>pretrained/</code> 目录（或 <code>--models</code> \
        指定的目录）里由 <code>diffusion train</code> 写出的检查点；请求格式见仓库中的 <code>docs/API.md</code>。</p>
        <form id="generator" class="generator" hidden>
        <label>模型 <select id="gen-model"></select></label>
        <label>采样器 <select id="gen-sampler">\(options)</select></label>
        <label>步数 <input id="gen-steps" type="number" min="1" max="1000" value="20"></label>
        <label>数量 <input id="gen-count" type="number" min="1" max="256" value="16"></label>
        <label>种子 <input id="gen-seed" type="number" min="0" value="0"></label>
        <label>类别 <select id="gen-label"></select></label>
        <label>引导强度 <em>w</em> <input id="gen-scale" type="number" step="0.5" value="1"></label>
        <div id="gen-prompt-box" class="gen-prompt" hidden>
        <label>提示词 <input id="gen-prompt" type="text" maxlength="200" value="\(HTML.escape(examplePrompts[0]))"></label>
        <p class="gen-examples">例子：\(examples)</p>
        <p class="gen-hint">只认识形状数据集描述里的词（颜色、大小、形状、九个位置，中英文均可）；留空即“空文本”，也就是无条件生成。</p>
        </div>
        <button type="submit" id="gen-run">生成</button>
        </form>
        <p id="gen-status" role="status">正在连接生成 API……</p>
        <div id="gen-output" class="gen-output"></div>
        <script defer src="assets/generate.js"></script>

        """
        return RenderedPage(output: output, chapter: nil, titleHTML: "在线生成", titleText: "在线生成", article: html, sections: [])
    }

    static let css = """
    .generator{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:end;margin:1rem 0}
    .generator label{display:flex;flex-direction:column;font-size:.9rem;gap:.2rem}
    .generator input,.generator select{font:inherit;padding:.25rem .4rem;min-width:6rem;max-width:14rem}
    .generator button{font:inherit;padding:.35rem 1.2rem}
    .gen-prompt{flex-basis:100%}
    .gen-prompt input{max-width:100%;width:24rem}
    .gen-examples,.gen-hint{margin:.3rem 0;font-size:.85rem}
    .gen-example{font:inherit;font-size:.85rem;padding:.1rem .5rem;margin:.1rem}
    .gen-output img{image-rendering:pixelated;max-width:100%;border:1px solid var(--rule,#ccc)}
    .gen-output canvas{max-width:100%;border:1px solid var(--rule,#ccc)}

    """

    static let js = #"""
    (function(){
    "use strict";
    function $(id){return document.getElementById(id)}
    var form=$("generator"),status=$("gen-status"),out=$("gen-output"),models=[],busy=false;
    if(!form){return}
    function say(t){status.textContent=t}
    function current(){var n=$("gen-model").value;for(var i=0;i<models.length;i++){if(models[i].name===n){return models[i]}}return null}
    function showModel(){
      var m=current(),sel=$("gen-label"),image=m&&m.kind==="image",cond=!!(m&&m.conditional),text=!!(m&&m.prompt);
      sel.innerHTML="";var o=document.createElement("option");o.value="";o.textContent=cond?"按数据中的比例":"（无条件模型）";sel.appendChild(o);
      if(cond){for(var i=0;i<m.classes.length;i++){var c=document.createElement("option");c.value=String(i);c.textContent=i+"："+m.classes[i];sel.appendChild(c)}}
      sel.disabled=!cond;$("gen-scale").disabled=!(cond||text);$("gen-prompt-box").hidden=!text;$("gen-scale").value=text?"3":"1";
      var cnt=$("gen-count");cnt.max=image?"256":"20000";cnt.value=image?"16":"1000";
    }
    // Toy samples: a scatter on a canvas, coloured by label.
    function draw(points,labels){
      var cv=document.createElement("canvas"),size=420;cv.width=size;cv.height=size;var g=cv.getContext("2d");
      var lo=[Infinity,Infinity],hi=[-Infinity,-Infinity];
      for(var i=0;i<points.length;i++){for(var j=0;j<2;j++){var v=points[i][j]||0;if(v<lo[j]){lo[j]=v}if(v>hi[j]){hi[j]=v}}}
      var span=Math.max(hi[0]-lo[0],hi[1]-lo[1],1e-6)*1.1,cx=(lo[0]+hi[0])/2,cy=(lo[1]+hi[1])/2;
      var colours=["#1f77b4","#ff7f0e","#2ca02c","#d62728","#9467bd","#8c564b","#e377c2","#7f7f7f","#bcbd22","#17becf"];
      for(var k=0;k<points.length;k++){
        var x=(points[k][0]-cx)/span*size+size/2,y=size/2-((points[k].length>1?points[k][1]:0)-cy)/span*size;
        g.fillStyle=labels?colours[labels[k]%colours.length]:"#1f77b4";g.globalAlpha=.6;g.fillRect(x-1.5,y-1.5,3,3);
      }
      return cv;
    }
    function generate(){
      var m=current();if(!m||busy){return}
      var body={model:m.name,sampler:$("gen-sampler").value,steps:Number($("gen-steps").value),count:Number($("gen-count").value),seed:Number($("gen-seed").value)};
      if(m.conditional){if($("gen-label").value!==""){body.label=Number($("gen-label").value)}body.guidanceScale=Number($("gen-scale").value)}
      if(m.prompt){body.prompt=$("gen-prompt").value;body.guidanceScale=Number($("gen-scale").value)}
      busy=true;$("gen-run").disabled=true;say("正在生成……");var t0=Date.now();
      fetch("api/generate",{method:"POST",headers:{"Content-Type":"application/json"},body:JSON.stringify(body)}).then(function(r){
        if(!r.ok){return r.json().then(function(e){throw new Error(e.error||("HTTP "+r.status))},function(){throw new Error("HTTP "+r.status)})}
        return m.kind==="image"?r.blob():r.json();
      }).then(function(res){
        out.innerHTML="";
        if(m.kind==="image"){var img=document.createElement("img");img.alt=body.count+" 个样本";img.id="gen-image";img.src=URL.createObjectURL(res);out.appendChild(img)}
        else{var cv=draw(res.points,res.labels);cv.id="gen-canvas";out.appendChild(cv)}
        say("生成了 "+(m.kind==="image"?body.count:res.points.length)+" 个样本（"+(m.prompt?"“"+body.prompt+"”，":"")+body.sampler+"，"+body.steps+" 步，种子 "+body.seed+"），用时 "+((Date.now()-t0)/1000).toFixed(1)+" 秒。");
      }).catch(function(e){say("生成失败："+e.message)}).then(function(){busy=false;$("gen-run").disabled=false});
    }
    form.addEventListener("submit",function(e){e.preventDefault();generate()});
    $("gen-model").addEventListener("change",showModel);
    Array.prototype.forEach.call(document.querySelectorAll(".gen-example"),function(b){b.addEventListener("click",function(){$("gen-prompt").value=b.textContent})});
    fetch("api/models").then(function(r){if(!r.ok){throw new Error("HTTP "+r.status)}return r.json()}).then(function(list){
      models=list;
      if(!list.length){say("生成 API 已开启，但模型目录里还没有检查点：运行 make pretrained，或把 diffusion train 写出的 .safetensors 文件放进去。");return}
      var sel=$("gen-model");
      for(var i=0;i<list.length;i++){var o=document.createElement("option");o.value=list[i].name;o.textContent=list[i].name+"（"+list[i].data+"）";sel.appendChild(o)}
      showModel();form.hidden=false;say("就绪：共 "+list.length+" 个模型。");
      if(location.hash==="#auto"){generate()}
    }).catch(function(){say("生成 API 不可用：请在仓库中用 diffusion book serve 提供本书（直接打开的离线页面无法调用它），详见 docs/API.md。")});
    })();

    """#
}
