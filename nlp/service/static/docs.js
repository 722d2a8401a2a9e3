// Renders /openapi.json as a plain list of operations (no CDN, no inline script).
"use strict";

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) return spec.components.schemas[schema.$ref.split("/").pop()];
  return schema || {};
}

function fields(spec, schema) {
  const s = resolve(spec, schema);
  const props = s.properties || {};
  const required = new Set(s.required || []);
  const rows = Object.entries(props).map(([name, p]) => el("tr", {}, el("td", {}, el("code", {}, name)),
    el("td", {}, required.has(name) ? "必填" : ""), el("td", {}, p.description || p.title || "")));
  return rows.length ? el("table", {}, el("tbody", {}, ...rows)) : el("span");
}

async function render() {
  const spec = await (await fetch("/openapi.json")).json();
  const box = document.getElementById("ops");
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const card = el("div", { className: "card" }, el("div", { className: "card-title" }, `${method.toUpperCase()} ${path}`),
        el("p", {}, op.summary || ""));
      const params = (op.parameters || []).map((p) => `${p.name}（${p.in === "query" ? "查询参数" : "路径参数"}）`);
      if (params.length) card.append(el("p", { className: "muted" }, `参数：${params.join("、")}`));
      const body = op.requestBody?.content;
      if (body) {
        const [type, media] = Object.entries(body)[0];
        card.append(el("p", { className: "muted" }, `请求体：${type}`), fields(spec, media.schema));
      }
      box.append(card);
    }
  }
}

render();
