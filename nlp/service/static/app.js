// 受理台 page. Everything shown is built with textContent (never innerHTML): clue text is data.
"use strict";

const state = { csrf: "", user: "", taxonomy: null, results: [], part: 0, editing: null, filter: "待核对" };
const QUALITY = "质量", REASON = "低质原因";
// What a 质量分 means, for the officer (score bands of the calibration table in report.md).
const SCORE_WORDS = [
  [90, "很可能值得立案核查"], [70, "较可能值得核查"], [40, "把握不大，建议补问要素后再判断"],
  [20, "不太可能构成可核查的线索"], [0, "基本不构成可核查的线索"]];

const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

async function api(method, url, body) {
  const opts = { method, credentials: "same-origin", headers: { "X-CSRF-Token": state.csrf } };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  const res = await fetch(url, opts);
  if (res.status === 401 && url !== "/api/v1/login") { showLogin(); throw new Error("请先登录。"); }
  if (!res.ok) {
    let msg = `请求失败（${res.status}）`;
    try { msg = (await res.json()).detail || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return res;
}

// ------------------------------------------------------------------ login
function showLogin() { $("login").hidden = false; $("main").hidden = true; $("login-user").focus(); }

async function start() {
  const s = await (await fetch("/api/v1/session", { credentials: "same-origin" })).json();
  state.csrf = s.csrf; state.user = s.user;
  if (s.login_required && !s.user) return showLogin();
  $("login").hidden = true; $("main").hidden = false;
  $("user").textContent = s.user ? `用户：${s.user}` : "";
  $("logout").hidden = !s.login_required;
  $("model").textContent = s.model_version ? `模型 ${s.model_version}` : "";
  $("reviewer").value = localStorage.getItem("reviewer") || s.user || "";
  state.taxonomy = await (await api("GET", "/api/v1/taxonomy")).json();
  buildReviewForm();
  refreshQueue();
  $("text").focus();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    await api("POST", "/api/v1/login", { username: $("login-user").value, password: $("login-pass").value });
    $("login-pass").value = "";
    await start();
  } catch (e) { $("login-error").textContent = e.message; }
});
$("logout").addEventListener("click", async () => { await api("POST", "/api/v1/logout"); location.reload(); });

// ------------------------------------------------------------------ tabs
for (const b of document.querySelectorAll(".tabs button")) {
  b.addEventListener("click", () => {
    document.querySelectorAll(".tabs button").forEach((x) => x.classList.toggle("active", x === b));
    document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== `tab-${b.dataset.tab}`; });
    if (b.dataset.tab === "queue") refreshQueue();
  });
}

// ------------------------------------------------------------------ classify
const scheme = (id) => state.taxonomy.schemes.find((s) => s.id === id);
const codeName = (sid, code) => {
  const c = scheme(sid)?.codes.find((x) => x.code === code);
  if (!c) return code;
  if (c.name.startsWith(code + "：")) return `${code} ${c.name.slice(code.length + 1)}`;
  return c.name.startsWith(code) ? c.name : `${code} ${c.name}`;
};
const split = (v) => String(v || "").split("|").filter(Boolean);
const pct = (v) => (v === null || v === undefined || v === "" ? "" : `${Math.round(Number(v) * 100)}%`);

async function classify() {
  const text = $("text").value;
  if (!text.trim()) { $("status").textContent = "请先输入线索内容。"; return; }
  $("status").textContent = "分类中……";
  const t0 = performance.now();
  try {
    const res = await (await api("POST", "/api/v1/classify", { texts: [text] })).json();
    state.results = res.results.filter((r) => r["案例序号"] !== "全文");
    state.summary = res.results.find((r) => r["案例序号"] === "全文");
    state.part = 0; state.editing = null;
    show();
    $("status").textContent = `用时 ${Math.round(performance.now() - t0)} 毫秒`;
  } catch (e) { $("status").textContent = e.message; }
}

function show() {
  const r = state.results[state.part];
  $("result").hidden = false;
  const n = state.results.length;
  $("pager").hidden = n < 2;
  $("pager-text").textContent = `第 ${state.part + 1} / ${n} ${r["文本类型"] === "段落" ? "段" : "案"}` +
    (state.summary ? `（全文：${state.summary["依据"]}）` : "");
  $("prev").disabled = state.part === 0; $("next").disabled = state.part >= n - 1;
  const q = r[QUALITY], score = Number(r["质量分"]);
  $("quality").textContent = `${q}　${score} 分`;
  $("quality").className = `big ${q === "合格" ? "good" : "low"}`;
  $("score-words").textContent = `质量分 ${score}/100：${SCORE_WORDS.find(([lo]) => score >= lo)[1]}`;
  $("reason").textContent = r[REASON] ? `低质原因：${codeName(REASON, r[REASON])}（置信度 ${pct(r[REASON + "置信度"])}）` : "";
  const tbody = $("labels").tBodies[0];
  tbody.replaceChildren();
  for (const s of state.taxonomy.schemes) {
    if (s.id === QUALITY || s.id === REASON || !(s.id in r)) continue;
    const names = split(r[s.id]).map((c) => codeName(s.id, c)).join("、") || "—";
    tbody.append(el("tr", {}, el("td", {}, s.name), el("td", {}, names), el("td", {}, pct(r[s.id + "置信度"]))));
  }
  const dl = $("elements");
  dl.replaceChildren();
  for (const name of state.taxonomy.elements) {
    if (r[name]) dl.append(el("dt", {}, name), el("dd", {}, r[name]));
  }
  $("missing").textContent = r["缺失要素"] ? `缺失要素：${r["缺失要素"]}` : "未发现缺失的要素。";
  const qs = r["建议补问"] || [];
  $("questions-box").hidden = qs.length === 0;
  $("questions").replaceChildren(...qs.map((x) => el("li", {}, x)));
  $("evidence").textContent = r["依据"] ? `依据：${r["依据"]}` : "";
  highlight($("evidence-text"), String(r.text || ""), evidenceWords(r["依据"]));
  const similar = r.similar || [];
  $("similar-box").hidden = similar.length === 0;
  $("similar").replaceChildren(...similar.map((x) => el("li", {},
    el("b", {}, `${x.id}（相似度 ${pct(x.similarity)}）`), "：", String(x.text || "").slice(0, 200))));
  fillReviewForm(r);
}

function evidenceWords(evidence) {
  const words = new Set();
  for (const part of String(evidence || "").split("；")) {
    const [head, list] = part.split("：");
    if (!list || head === "要素不足") continue;
    list.split("、").forEach((w) => { if (w.trim()) words.add(w.trim()); });
  }
  return [...words].sort((a, b) => b.length - a.length);
}

function highlight(box, text, words) {
  const marks = new Array(text.length).fill(false);
  for (const w of words) {
    for (let i = text.indexOf(w); i >= 0; i = text.indexOf(w, i + w.length)) marks.fill(true, i, i + w.length);
  }
  box.replaceChildren();
  let i = 0;
  while (i < text.length) {
    let j = i;
    while (j < text.length && marks[j] === marks[i]) j++;
    box.append(marks[i] ? el("mark", {}, text.slice(i, j)) : document.createTextNode(text.slice(i, j)));
    i = j;
  }
}

$("classify").addEventListener("click", classify);
$("text").addEventListener("keydown", (ev) => { if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); classify(); } });
$("clear").addEventListener("click", clearForm);
$("prev").addEventListener("click", () => { state.part--; show(); });
$("next").addEventListener("click", () => { state.part++; show(); });

function clearForm() {
  $("text").value = ""; $("result").hidden = true; state.results = []; state.editing = null;
  $("status").textContent = ""; $("text").focus();
}

// ------------------------------------------------------------------ review
function buildReviewForm() {
  const box = $("review-fields");
  box.replaceChildren();
  for (const s of state.taxonomy.schemes) {
    const options = s.codes.map((c) => [c.code, codeName(s.id, c.code)]);
    if (s.kind === "multi") {
      const checks = el("div", { className: "checks" });
      for (const [code, name] of options) {
        checks.append(el("label", {}, el("input", { type: "checkbox", value: code, name: s.id }), name));
      }
      box.append(el("label", {}, el("span", {}, s.name), checks));
    } else {
      const select = el("select", { name: s.id, id: `f-${s.id}` }, el("option", { value: "" }, "（空）"),
        ...options.map(([code, name]) => el("option", { value: code }, name)));
      box.append(el("label", {}, el("span", {}, s.name), select));
      if (s.id === QUALITY) select.addEventListener("change", qualityChanged);
    }
  }
}

// Labels that apply only to the other quality are cleared when the officer changes 质量.
function qualityChanged() {
  const q = $(`f-${QUALITY}`).value;
  for (const s of state.taxonomy.schemes) {
    if (s.id === QUALITY || s.applies_to === "all" || s.applies_to === q) continue;
    if (s.kind === "multi") document.querySelectorAll(`input[name="${s.id}"]`).forEach((c) => { c.checked = false; });
    else $(`f-${s.id}`).value = "";
  }
}

function fillReviewForm(labels) {
  for (const s of state.taxonomy.schemes) {
    const codes = split(labels[s.id]);
    if (s.kind === "multi") document.querySelectorAll(`input[name="${s.id}"]`).forEach((c) => { c.checked = codes.includes(c.value); });
    else $(`f-${s.id}`).value = codes[0] || "";
  }
  $("review-status").textContent = "";
}

function formLabels() {
  const out = {};
  for (const s of state.taxonomy.schemes) {
    out[s.id] = s.kind === "multi"
      ? [...document.querySelectorAll(`input[name="${s.id}"]:checked`)].map((c) => c.value).join("|")
      : $(`f-${s.id}`).value;
  }
  return out;
}

async function saveReview(status) {
  const r = state.results[state.part];
  if (!r) return;
  const reviewer = $("reviewer").value.trim();
  if (status === "已核对" && !reviewer) { $("review-status").textContent = "请填写核对人姓名。"; $("reviewer").focus(); return; }
  localStorage.setItem("reviewer", reviewer);
  const labels = formLabels();
  try {
    let saved;
    if (state.editing) {
      saved = await (await api("PUT", `/api/v1/reviews/${state.editing}`, { labels, reviewer, status })).json();
    } else {
      const model = {};
      for (const s of state.taxonomy.schemes) model[s.id] = r[s.id] ?? "";
      saved = await (await api("POST", "/api/v1/reviews", { text: r.text, labels, reviewer, status, model })).json();
    }
    refreshQueue();
    if (state.part < state.results.length - 1) { state.part++; show(); }
    else clearForm();
    $("status").textContent = `已保存为${status}（编号 ${saved.id}）。`;
  } catch (e) { $("review-status").textContent = e.message; }
}

$("review").addEventListener("submit", (ev) => { ev.preventDefault(); saveReview("已核对"); });
$("later").addEventListener("click", () => saveReview("待核对"));

// ------------------------------------------------------------------ queue
async function refreshQueue() {
  if (!state.taxonomy) return;
  const q = state.filter ? `?status=${encodeURIComponent(state.filter)}` : "";
  const data = await (await api("GET", `/api/v1/reviews${q}`)).json();
  for (const [k, v] of Object.entries(data.counts)) document.querySelectorAll(`[data-count="${k}"]`).forEach((x) => { x.textContent = `(${v})`; });
  $("queue-badge").textContent = data.counts["待核对"] ? `(${data.counts["待核对"]} 待核对)` : "";
  const tbody = $("queue").tBodies[0];
  tbody.replaceChildren(...data.items.map(queueRow));
  $("queue-empty").hidden = data.items.length > 0;
}

function queueRow(item) {
  const labels = state.taxonomy.schemes.filter((s) => item.labels[s.id]).map((s) => `${s.id}：${item.labels[s.id]}`).join("；");
  const open = el("button", { type: "button", className: "secondary" }, item.status === "待核对" ? "核对" : "修改");
  open.addEventListener("click", () => openRecord(item));
  return el("tr", {}, el("td", {}, item.id), el("td", {}, item.status), el("td", {}, item.reviewer),
    el("td", {}, (item.reviewed_at || item.created).slice(0, 16).replace("T", " ")),
    el("td", { className: "text" }, item.text.length > 80 ? item.text.slice(0, 80) + "……" : item.text),
    el("td", {}, labels), el("td", {}, open));
}

async function openRecord(item) {
  document.querySelector('.tabs button[data-tab="intake"]').click();
  $("text").value = item.text;
  await classify();
  state.results = [{ ...state.results[0], text: item.text }];
  state.part = 0; state.editing = item.id;
  show();
  fillReviewForm(item.labels);
  $("status").textContent = `正在核对第 ${item.id} 号记录（表单中为已保存的标签）。`;
}

for (const b of document.querySelectorAll(".filter")) {
  b.addEventListener("click", () => {
    state.filter = b.dataset.status;
    document.querySelectorAll(".filter").forEach((x) => x.classList.toggle("active", x === b));
    refreshQueue();
  });
}

async function download(res, fallback) {
  const cd = res.headers.get("Content-Disposition") || "";
  const m = cd.match(/filename\*=UTF-8''([^;]+)/);
  const a = $("download");
  a.href = URL.createObjectURL(await res.blob());
  a.download = m ? decodeURIComponent(m[1]) : fallback;
  a.textContent = `下载 ${a.download}`;
  a.hidden = false;
  a.click();
}

$("export").addEventListener("click", async () => {
  const q = state.filter ? `?status=${encodeURIComponent(state.filter)}` : "";
  try { await download(await api("GET", `/api/v1/reviews/export${q}`), "核对记录.xlsx"); } catch (e) { alert(e.message); }
});

// ------------------------------------------------------------------ files
$("file-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const file = $("file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file); form.append("column", $("column").value || "text");
  const xhr = new XMLHttpRequest();
  const bar = $("progress");
  const status = $("file-status");
  const fail = (msg) => { status.textContent = msg; bar.hidden = true; };
  bar.hidden = false; bar.max = 100; bar.value = 0; $("download").hidden = true;
  status.textContent = "上传中……";
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total; };
  xhr.upload.onload = () => { bar.removeAttribute("value"); status.textContent = "上传完成，正在读取文件……"; };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
    if (xhr.status !== 202 || !body.job) { fail(body.detail || `处理失败（${xhr.status}）`); return; }
    follow(body.job);
  };
  xhr.onerror = () => fail("网络错误，上传失败。");
  xhr.open("POST", "/api/v1/jobs");
  xhr.setRequestHeader("X-CSRF-Token", state.csrf);
  xhr.send(form);

  // the classification runs on the server: its progress (rows done of all rows) fills the bar
  async function follow(job) {
    let job_state;
    try { job_state = await (await api("GET", `/api/v1/jobs/${job}`)).json(); } catch (e) { fail(e.message); return; }
    if (job_state.status === "error") { fail(job_state.detail || "处理失败。"); return; }
    if (job_state.total) {
      bar.max = job_state.total; bar.value = job_state.done;
      status.textContent = `正在分类：${job_state.done} / ${job_state.total} 条`;
    }
    if (job_state.status !== "done") { setTimeout(() => follow(job), 300); return; }
    bar.max = 100; bar.value = 100;
    status.textContent = `分类完成：共 ${job_state.done} 条。`;
    try { await download(await api("GET", `/api/v1/jobs/${job}/result`), job_state.name || "分类结果"); } catch (e) { fail(e.message); }
  }
});

start().catch((e) => { document.body.append(el("p", { className: "error" }, `页面加载失败：${e.message}`)); });
