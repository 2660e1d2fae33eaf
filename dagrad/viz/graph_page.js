// The graph page's script, embedded into every page (viz/graph_page.cpp, viz/embed.py):
// lays out the DAG from the JSON in <script id="data"> and steps through the passes.
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const byId = {};
D.nodes.forEach(n => { byId[n.id] = n; n.consumers = []; });
D.nodes.forEach(n => n.inputs.forEach((e, i) => { if (e.id) byId[e.id].consumers.push(n.id); }));

// ---- numbers
function num(v) {
  if (typeof v === "string") return v;
  if (v === 0) return "0";
  const a = Math.abs(v);
  return (a >= 1e6 || a < 1e-4) ? v.toExponential(4) : String(Number(v.toPrecision(7)));
}
function show(t) {
  if (!t) return "";
  if (t.values) {
    if (t.shape.length === 0) return num(t.values[0]);
    const vs = t.values.slice(0, 4).map(num);
    if (t.values.length > 4) vs.push("\u2026");
    return "[" + vs.join(", ") + "]";
  }
  return "mean " + num(t.stats.mean) + ", norm " + num(t.stats.norm);
}
function full(t) {
  if (!t) return "(none)";
  const shape = "(" + t.shape.join(", ") + (t.shape.length === 1 ? "," : "") + ")";
  if (t.values && t.shape.length === 0) return num(t.values[0]);
  if (t.values) return shape + " " + JSON.stringify(t.values.map(num)).replace(/"/g, "");
  const s = t.stats;
  return shape + " min " + num(s.min) + ", mean " + num(s.mean) + ", max " + num(s.max) +
         ", norm " + num(s.norm);
}
// Full precision, for tests that read the page: "v0,v1,...", or "" for statistics only.
function exact(t) { return t && t.values ? t.values.join(",") : ""; }
function add(a, b) {  // partial sums of adjoints shown while they accumulate
  if (!a) return b;
  if (!a.values || !b.values || a.values.length !== b.values.length) return b;
  return {shape: a.shape, values: a.values.map((x, i) => (+x) + (+b.values[i]))};
}

// ---- layout: layers by longest path from the leaves, ordered by the barycenter of inputs
const layer = {};
D.forward.forEach(id => {
  const n = byId[id];
  layer[id] = 0;
  n.inputs.forEach(e => { if (e.id) layer[id] = Math.max(layer[id], layer[e.id] + 1); });
});
const layers = [];
D.forward.forEach(id => { (layers[layer[id]] = layers[layer[id]] || []).push(id); });
const W = {}, X = {}, Y = {}, H = 64, GAP = 28, ROW = 120;
D.nodes.forEach(n => { W[n.id] = Math.min(240, Math.max(160, 7.2 * Math.min(n.label.length, 30) + 20)); });
function place() {
  layers.forEach((ids, k) => {
    let x = 20;
    ids.forEach(id => { X[id] = x + W[id] / 2; x += W[id] + GAP; Y[id] = 20 + k * ROW; });
  });
}
place();
for (let sweep = 0; sweep < 4; ++sweep) {
  layers.forEach((ids, k) => {
    if (k === 0) return;
    const bc = id => {
      const ins = byId[id].inputs.filter(e => e.id);
      return ins.length ? ins.reduce((s, e) => s + X[e.id], 0) / ins.length : X[id];
    };
    ids.sort((a, b) => bc(a) - bc(b));
  });
  place();
}
const width = Math.max(...layers.map(ids => ids.reduce((s, id) => s + W[id] + GAP, 40)));
const height = 40 + layers.length * ROW;

// ---- drawing
const NS = "http://www.w3.org/2000/svg";
function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
const svg = el("svg", {width, height, id: "graph"}, document.getElementById("canvas"));
const defs = el("defs", {}, svg);
const marker = el("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
                             markerWidth: 8, markerHeight: 8, markerUnits: "userSpaceOnUse",
                             orient: "auto"}, defs);
el("path", {d: "M0,0 L10,5 L0,10 z", fill: "#99a"}, marker);
const edgeEls = {};
D.nodes.forEach(n => n.inputs.forEach((e, i) => {
  if (!e.id) return;
  const x1 = X[e.id], y1 = Y[e.id] + H, x2 = X[n.id], y2 = Y[n.id];
  const p = el("path", {class: "edge", d: `M${x1},${y1} C${x1},${y1 + 40} ${x2},${y2 - 40} ${x2},${y2}`,
                        "marker-end": "url(#arrow)"}, svg);
  const t = el("text", {class: "elabel", x: (x1 + x2) / 2 + 4, y: (y1 + y2) / 2}, svg);
  edgeEls[n.id + ">" + i] = {path: p, label: t, from: e.id};
}));
const nodeEls = {};
D.nodes.forEach(n => {
  const g = el("g", {class: "node " + n.kind + (n.output ? " output" : ""), "data-id": n.id,
                     transform: `translate(${X[n.id] - W[n.id] / 2},${Y[n.id]})`}, svg);
  el("rect", {width: W[n.id], height: H}, g);
  const label = n.label.length > 30 ? n.label.slice(0, 29) + "\u2026" : n.label;
  el("text", {x: 8, y: 15}, g).textContent = label;
  el("text", {x: 8, y: 29, class: "op"}, g).textContent = n.kind === "group" ? "collapsed" :
      (n.kind === "leaf" ? "leaf " : "#" + n.seq + " " + n.op) + "  (" + n.shape.join(", ") + ")";
  const info = el("text", {x: 8, y: 44, class: "val"}, g);
  const extra = el("text", {x: 8, y: 58, class: "pend"}, g);
  g.addEventListener("click", () => select(n.id));
  nodeEls[n.id] = {g, info, extra};
});

// ---- state and controls
const S = {mode: "forward", fstep: 0, run: 0, bstep: 0, tan: 0, selected: null};
const $ = id => document.getElementById(id);
function fillSelect(sel, items) {
  items.forEach((t, i) => { const o = document.createElement("option"); o.value = i; o.textContent = t; sel.appendChild(o); });
}
fillSelect($("run"), D.backward.map(r => r.label));
fillSelect($("dir"), D.tangents.map(t => t.direction));
if (!D.tangents.length) { $("dir").disabled = true; $("tangent").disabled = true; }
if (!D.backward.length) { $("bstep").disabled = true; $("ball").disabled = true; }

// Each run's contributions by edge ("consumer>input index"), found once.
D.backward.forEach(run => { run.byEdge = {}; run.edges.forEach(e => { run.byEdge[e.from + ">" + e.input] = e; }); });

function backwardState() {
  const run = D.backward[S.run];
  const fired = new Set(run.order.slice(0, S.bstep));
  const onPath = new Set(run.order);
  const partial = {}, waiting = {};
  run.order.forEach(id => { waiting[id] = 0; });
  run.edges.forEach(e => {
    if (fired.has(e.from)) partial[e.to] = add(partial[e.to], e.value);
    else waiting[e.to] = (waiting[e.to] || 0) + 1;
  });
  return {run, fired, onPath, partial, waiting};
}

function render() {
  const st = S.mode === "backward" && D.backward.length ? backwardState() : null;
  const revealed = new Set(D.forward.slice(0, S.fstep));
  D.nodes.forEach(n => {
    const E = nodeEls[n.id];
    const cls = ["node", n.kind]; if (n.output) cls.push("output");
    if (S.selected === n.id) cls.push("selected");
    let info = "", extra = "", kind = "val", attrs = {};
    if (S.mode === "forward") {
      if (revealed.has(n.id)) { cls.push("done"); info = "= " + show(n.value); attrs["data-value"] = exact(n.value); }
    } else if (st) {
      const adj = st.run.adjoint[n.id];
      kind = "adj";
      if (st.fired.has(n.id)) {
        cls.push("fired"); info = "adjoint " + show(adj); attrs["data-adjoint"] = exact(adj);
        if (n.saved.length) extra = "released " + n.saved.length + " saved tensor" + (n.saved.length > 1 ? "s" : "");
      } else if (st.onPath.has(n.id)) {
        const w = st.waiting[n.id] || 0;
        if (st.partial[n.id]) info = "so far " + show(st.partial[n.id]);
        if (w === 0 && n.id === st.run.order[S.bstep]) cls.push("ready");
        extra = w ? "waiting for " + w + " consumer" + (w > 1 ? "s" : "") : "ready";
        attrs["data-pending"] = String(w);
      } else {
        info = "not on a path to " + st.run.label;
      }
    } else if (S.mode === "tangent") {
      const t = D.tangents[S.tan].values[n.id];
      kind = "tan";
      if (t) { info = "tangent " + show(t); attrs["data-tangent"] = exact(t); }
    }
    E.g.setAttribute("class", cls.join(" "));
    ["data-value", "data-adjoint", "data-tangent", "data-pending"].forEach(a => E.g.removeAttribute(a));
    for (const a in attrs) E.g.setAttribute(a, attrs[a]);
    if (!extra && n.checks.length && S.mode === "forward")
      extra = "check: rel. error \u2264 " + num(Math.max(...n.checks.map(c => +c.rel)));
    E.info.textContent = info;
    E.info.setAttribute("class", kind);
    E.extra.textContent = extra;
  });
  for (const key in edgeEls) {
    const E = edgeEls[key], [to, i] = key.split(">");
    let flow = false, label = "";
    if (st && st.fired.has(to)) {
      const c = st.run.byEdge[key];
      if (c) { flow = true; label = (c.sum_to ? "sum_to: " : "") + show(c.value); }
    }
    E.path.setAttribute("class", "edge" + (flow ? " flow" : ""));
    E.label.textContent = label;
  }
  let status = "";
  if (S.mode === "forward") status = `forward: ${S.fstep} of ${D.forward.length} nodes computed (tape order)`;
  else if (st) status = `backward from ${st.run.label}: ${S.bstep} of ${st.run.order.length} nodes done (Kahn order)` +
      (st.run.error ? " \u2014 " + st.run.error : "");
  else if (S.mode === "tangent") status = "forward mode, direction " + D.tangents[S.tan].direction;
  $("status").textContent = status;
  if (S.selected) details(S.selected);
}

function details(id) {
  const n = byId[id];
  const lines = [];
  lines.push(n.kind === "leaf" ? "leaf " + n.label : "#" + n.seq + " " + n.op + "  " + n.label);
  lines.push("shape (" + n.shape.join(", ") + ") " + n.dtype + (n.output ? "  [output]" : ""));
  lines.push("inputs: " + (n.inputs.length ? n.inputs.map(e => e.id ? byId[e.id].label : "const").join(", ") : "none"));
  lines.push("consumers: " + (n.consumers.length ? n.consumers.map(c => byId[c].label).join(", ") : "none"));
  lines.push("value: " + full(n.value));
  if (D.backward.length) {
    const run = D.backward[S.run];
    lines.push("adjoint d" + run.label + "/d(this): " + full(run.adjoint[n.id]));
  }
  if (D.tangents.length) lines.push("tangent (" + D.tangents[S.tan].direction + "): " + full(D.tangents[S.tan].values[n.id]));
  lines.push("local rule: " + n.rule);
  if (n.saved.length)
    lines.push("saved for backward: " + n.saved.map(s => s.role + " (" + s.shape.join(", ") + ") " +
               s.dtype).join(", ") + "\n  (released once this node's backward has run, unless " +
               "retain_graph)");
  if (n.checks.length) {
    lines.push("numerical check (central differences of sum(" + (D.backward[0] || {}).label + ")):");
    n.checks.forEach(c => lines.push("  [" + c.index + "] analytic " + num(c.analytic) +
                                     ", numerical " + num(c.numerical) + ", abs. error " +
                                     num(c.abs) + ", rel. error " + num(c.rel)));
    if (n.dtype === "float32")
      lines.push("  (float32: the loss's rounding divided by the step limits the numerical\n" +
                 "   derivative to about 1e-2 relative; float64 checks reach 1e-8)");
  }
  $("side").textContent = lines.join("\n");
}
function select(id) { S.selected = id; render(); }

$("fstep").onclick = () => { S.mode = "forward"; S.fstep = Math.min(D.forward.length, S.fstep + 1); render(); };
$("fall").onclick = () => { S.mode = "forward"; S.fstep = D.forward.length; render(); };
$("bstep").onclick = () => {
  if (S.mode !== "backward") { S.mode = "backward"; S.bstep = 0; }
  S.bstep = Math.min(D.backward[S.run].order.length, S.bstep + 1); render();
};
$("ball").onclick = () => { S.mode = "backward"; S.bstep = D.backward[S.run].order.length; render(); };
$("run").onchange = e => { S.run = +e.target.value; S.bstep = 0; S.mode = "backward"; render(); };
$("tangent").onclick = () => { S.mode = "tangent"; render(); };
$("dir").onchange = e => { S.tan = +e.target.value; S.mode = "tangent"; render(); };
$("reset").onclick = () => { S.mode = "forward"; S.fstep = 0; S.bstep = 0; render(); };
document.title = D.title || "dagrad graph";
$("title").textContent = D.title;
render();
