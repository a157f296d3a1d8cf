"""``GET /docs``: a self-contained page (no CDN, works offline) that lists the operations of ``/openapi.json``
and lets the user try them."""

from __future__ import annotations

__all__ = ["DOCS_HTML"]

DOCS_HTML = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>liquidation-hunter API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:1em;color:#222}
h1{font-size:1.4em}.op{border:1px solid #ccc;border-radius:6px;margin:.8em 0;padding:.6em}
.op summary{cursor:pointer}.m{font-weight:bold;color:#fff;background:#2a7;padding:1px 6px;border-radius:3px}
code{background:#f3f3f3;padding:1px 3px}label{display:block;margin:.3em 0}input{width:18em}
pre{background:#111;color:#eee;padding:.6em;max-height:30em;overflow:auto;white-space:pre-wrap}
.d{color:#666}#tok{width:30em}
</style></head><body>
<h1>liquidation-hunter API</h1>
<p class="d">Read-only. The description: <a href="/openapi.json">/openapi.json</a>.
Bearer token (only when the server requires one): <input id="tok" type="password" autocomplete="off"></p>
<div id="ops">loading /openapi.json...</div>
<script>
"use strict";
function el(tag, attrs, text){const e=document.createElement(tag);for(const k in attrs||{})e.setAttribute(k,attrs[k]);
  if(text!==undefined)e.textContent=text;return e;}
async function main(){
  const spec=await (await fetch("/openapi.json")).json();
  const root=document.getElementById("ops");root.textContent="";
  root.appendChild(el("p",{class:"d"},spec.info.description||""));
  for(const [path,item] of Object.entries(spec.paths)){
    for(const [method,op] of Object.entries(item)){
      const box=el("details",{class:"op"});const sum=el("summary");
      sum.appendChild(el("span",{class:"m"},method.toUpperCase()));sum.appendChild(document.createTextNode(" "));
      sum.appendChild(el("code",{},path));sum.appendChild(document.createTextNode(" \\u2014 "+(op.summary||"")));
      box.appendChild(sum);const form=el("form");const inputs=[];
      for(const p of op.parameters||[]){
        const lab=el("label",{},p.name+(p.required?" (required, ":" (")+p.in+") ");
        const hint=p.example??p.schema.default??(p.schema.enum||[]).join("|");
        const inp=el("input",{name:p.name,placeholder:String(hint)});
        if(p.required&&p.example!==undefined)inp.value=p.example;
        lab.appendChild(inp);lab.appendChild(el("span",{class:"d"}," "+(p.description||"")));
        form.appendChild(lab);inputs.push([p,inp]);}
      const btn=el("button",{type:"submit"},"Try it");form.appendChild(btn);
      const url=el("p");const out=el("pre");form.appendChild(url);form.appendChild(out);
      form.addEventListener("submit",async ev=>{ev.preventDefault();
        let u=path;const q=new URLSearchParams();
        for(const [p,inp] of inputs){if(!inp.value)continue;
          if(p.in==="path")u=u.replace("{"+p.name+"}",encodeURIComponent(inp.value));else q.set(p.name,inp.value);}
        if(q.toString())u+="?"+q.toString();url.textContent="GET "+u;out.textContent="...";
        const headers={};const tok=document.getElementById("tok").value;if(tok)headers.Authorization="Bearer "+tok;
        const t0=performance.now();
        try{const r=await fetch(u,{headers});const text=await r.text();let body=text;
          try{body=JSON.stringify(JSON.parse(text),null,2);}catch(e){}
          if(body.length>20000)body=body.slice(0,20000)+"\\n... (truncated)";
          out.textContent=r.status+" "+r.statusText+" ("+(performance.now()-t0).toFixed(1)+" ms)\\n"+body;}
        catch(e){out.textContent=String(e);}});
      box.appendChild(form);root.appendChild(box);}}}
main().catch(e=>{document.getElementById("ops").textContent="cannot load /openapi.json: "+e;});
</script></body></html>
"""
