// The OSS dashboard: renders the snapshots the node pushes on its
// Server-Sent Events stream (ui/events, relative to the page, so the
// stream is same-origin). Every value from the node goes into the page as
// text (textContent, SVG attributes), never as markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

// shown returns a name (a heap's, a root's, a node's) as the page shows
// it: each rune that does not show as itself written \uXXXX (\UXXXXXXXX
// beyond U+FFFF), the runes Go's strconv.IsPrint rejects (oss/admin
// ui.go's uiShown escapes the events' text alike). textContent keeps
// markup out but not a control or bidirectional formatting character:
// U+202E in a heap made before such names were refused showed the rest
// of its line reversed, and U+200B made "prod\u200b" look like "prod".
// A name so escaped is shown as the command line's shell word shows it,
// $'...' with \ and ' escaped too, and so is one that begins with $'
// itself: "prod" and U+200B shows as $'prod\u200b', never as the heap
// whose name is the plain text prod\u200b.
function shown(s) {
  s = String(s ?? "");
  const hidden = /[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;
  if (!hidden.test(s) && !s.startsWith("$'")) return s;
  return "$'" + s.replace(/[\\']/g, (c) => "\\" + c).replace(/[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/gu, (c) => {
    const cp = c.codePointAt(0);
    return cp > 0xffff ? "\\U" + cp.toString(16).padStart(8, "0") : "\\u" + cp.toString(16).padStart(4, "0");
  }) + "'";
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function fmtRate(r) {
  if (r >= 100) return r.toFixed(0);
  if (r >= 10) return r.toFixed(1);
  return r.toFixed(2);
}

function fmtTime(ms) {
  return new Date(ms).toLocaleTimeString([], {hour12: false});
}

function ago(now, ms) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60) + "s";
  return Math.floor(s / 3600) + "h";
}

function renderMembers(snap) {
  const body = document.querySelector("#members tbody");
  body.replaceChildren(...snap.members.map((m) => {
    const health = m.state === "up" ? "up" : m.state === "down" ? "down" : "unreachable";
    return el("tr", {class: health, "data-node": m.name, "data-state": m.state},
      el("td", {}, el("span", {class: "dot"})),
      el("td", {text: shown(m.name) + (m.name === snap.node ? " (this node)" : "")}),
      el("td", {text: m.role}),
      el("td", {text: m.addr || "–"}),
      el("td", {class: "version", text: m.version || "–"}),
      el("td", {class: "health", text: m.since ? health + " for " + ago(snap.time, m.since) : health + ", a voter"}),
      el("td", {text: (m.leads || []).map(shown).join(", ")}));
  }));
}

function renderMap(snap) {
  const nodes = snap.members.map((m) => m.name);
  const state = Object.fromEntries(snap.members.map((m) => [m.name, m.state]));
  const head = document.querySelector("#map thead");
  head.replaceChildren(el("tr", {}, el("th", {text: "heap"}), el("th", {text: "leader"}),
    ...nodes.map((n) => el("th", {class: "cell", text: shown(n)})), el("th", {text: "applied"})));
  const body = document.querySelector("#map tbody");
  body.replaceChildren(...snap.heaps.map((h) => {
    const lag = Object.fromEntries(h.lag.map((r) => [r.node, r]));
    const cells = nodes.map((n) => {
      let mark = "", cls = "cell";
      if (n === h.leader) { mark = "★"; cls += " leader"; }
      else if (h.voters.includes(n)) mark = "V";
      else if (h.learners.includes(n)) mark = "L";
      if (state[n] === "down") cls += " down";
      const td = el("td", {class: cls, "data-node": n, text: mark});
      if (n === h.leader) td.setAttribute("data-leader", "");
      if (lag[n] && mark !== "") td.append(el("span", {class: "lag" + (lag[n].lag > 100 ? " behind" : ""), text: lag[n].lag ? "−" + lag[n].lag : "✓", title: "applied " + lag[n].applied}));
      if (n === snap.node && h.stale) td.append(el("span", {class: "stale", text: h.stale, title: "this node's replica"}));
      return td;
    });
    return el("tr", {"data-heap": h.name},
      el("td", {text: shown(h.name) + (h.joint ? " (joint)" : "")}),
      el("td", {class: "heap-leader", text: shown(h.leader) || "none"}),
      ...cells,
      el("td", {class: "applied", text: String(h.applied)}));
  }));
}

// plot draws lines (each a list of [Unix ms, value], and a class) over
// the window, scaled to the largest value, the first line filled below;
// fmt labels the scale.
function plot(lines, snap, fmt) {
  const W = 600, H = 110, P = 4;
  const box = svg("svg", {viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img"});
  const t1 = snap.time, t0 = t1 - snap.windowSeconds * 1000;
  let top = 1;
  for (const l of lines) for (const [, v] of l.points) top = Math.max(top, v);
  const mag = Math.pow(10, Math.floor(Math.log10(top)));
  top = Math.ceil(top / mag) * mag;
  for (const f of [0.5, 1]) {
    const y = H - P - f * (H - 2 * P);
    box.append(svg("line", {class: "grid", x1: 0, x2: W, y1: y, y2: y}));
  }
  lines.forEach((l, i) => {
    const pts = l.points.map(([t, v]) => [((t - t0) / (t1 - t0)) * W, H - P - (v / top) * (H - 2 * P)]);
    if (pts.length === 0) return;
    const line = pts.map(([x, y]) => x.toFixed(1) + "," + y.toFixed(1)).join(" ");
    if (i === 0) box.append(svg("polygon", {class: "area", points: `${pts[0][0].toFixed(1)},${H - P} ${line} ${pts[pts.length - 1][0].toFixed(1)},${H - P}`}));
    box.append(svg("polyline", {class: l.class, points: line}));
  });
  return el("div", {class: "plot"}, box, el("span", {class: "scale", text: fmt(top)}), el("span", {class: "mid", text: fmt(top / 2)}));
}

function axis(snap) {
  return el("div", {class: "axis"}, el("span", {text: "−" + Math.round(snap.windowSeconds / 60) + " min"}), el("span", {text: "now"}));
}

function chart(h, snap) {
  return el("div", {class: "chart", "data-heap": h.name},
    el("div", {class: "title"}, el("span", {text: shown(h.name)}), el("span", {class: "rate", text: fmtRate(h.rate) + " commits/s"})),
    plot([{class: "rate", points: h.series.map(([t, r]) => [t, r / 1000])}], snap, (v) => fmtRate(v) + "/s"),
    axis(snap));
}

// fmtMs formats a latency in milliseconds.
function fmtMs(ms) {
  if (ms >= 1000) return (ms / 1000).toFixed(ms >= 10000 ? 0 : 1) + " s";
  if (ms >= 10) return ms.toFixed(0) + " ms";
  return ms.toFixed(1) + " ms";
}

function latencyChart(h, snap) {
  const last = h.latency[h.latency.length - 1];
  return el("div", {class: "chart latency", "data-heap": h.name},
    el("div", {class: "title"}, el("span", {text: shown(h.name)}),
      el("span", {class: "rate", text: last ? "mean " + fmtMs(last[1] / 1000) + " · p99 ≤ " + fmtMs(last[2] / 1000) : "no commits lately"})),
    plot([{class: "mean", points: h.latency.map(([t, m]) => [t, m / 1000])}, {class: "p99", points: h.latency.map(([t, , p]) => [t, p / 1000])}], snap, fmtMs),
    axis(snap));
}

function renderCharts(snap) {
  document.getElementById("window").textContent = "last " + Math.round(snap.windowSeconds / 60) + " minutes, log entries applied";
  const heaps = snap.heaps.filter((h) => h.name !== "oss:catalog");
  document.getElementById("charts").replaceChildren(...heaps.map((h) => chart(h, snap)));
  const lat = heaps.filter((h) => h.latency.length > 0).map((h) => latencyChart(h, snap));
  if (lat.length === 0) lat.push(el("p", {class: "muted", text: "No commits from this node lately."}));
  document.getElementById("latency").replaceChildren(...lat);
}

function renderHot(snap) {
  const parts = [];
  for (const h of snap.heaps) {
    if (!h.hot || h.hot.length === 0) continue;
    parts.push(el("div", {class: "hotheap", "data-heap": h.name},
      el("h3", {class: "small", text: shown(h.name) + " · " + h.localConflicts + " conflicts of " + (h.localCommits + h.localConflicts) + " commits here"}),
      el("table", {},
        el("thead", {}, el("tr", {}, el("th", {text: "key"}), el("th", {text: "lately"}), el("th", {text: "conflicts"}), el("th", {text: "last loser"}))),
        el("tbody", {}, ...h.hot.map((o) => el("tr", {},
          el("td", {text: o.Root ? "root " + shown(o.Root) : o.Scan ? "scan" : o.ID}),
          el("td", {text: o.Lately.toFixed(1)}),
          el("td", {text: String(o.Conflicts)}),
          el("td", {text: [o.LastNode, o.LastOp].filter(Boolean).map(shown).join(" ") || "–"})))))));
  }
  if (parts.length === 0) parts.push(el("p", {class: "muted", text: "No conflicts lately."}));
  document.getElementById("hot").replaceChildren(...parts);
}

function renderEvents(snap) {
  const list = document.getElementById("events");
  if (snap.events.length === 0) {
    list.replaceChildren(el("li", {class: "muted", text: "Nothing has changed since the page opened."}));
    return;
  }
  list.replaceChildren(...snap.events.map((e) => el("li", {class: e.kind},
    el("time", {text: fmtTime(e.time)}), el("span", {class: "kind", text: e.kind}), el("span", {text: shown(e.text)}))));
}

function render(snap) {
  document.getElementById("node").textContent = "· " + shown(snap.node);
  document.getElementById("version").textContent = snap.version || "–";
  const damage = document.getElementById("damage");
  damage.hidden = !snap.damage;
  damage.textContent = snap.damage ? "This node is damaged: " + snap.damage : "";
  const logFailed = document.getElementById("logfailed");
  logFailed.hidden = !snap.logFailed;
  logFailed.textContent = snap.logFailed ? "This node's write-ahead log has stopped; it commits nothing more: " + snap.logFailed : "";
  document.getElementById("commits-total").textContent = String(snap.totals.commits);
  document.getElementById("commits-rate").textContent = fmtRate(snap.totals.rate);
  renderMembers(snap);
  renderMap(snap);
  renderCharts(snap);
  renderHot(snap);
  renderEvents(snap);
}

function setConn(state, text) {
  const c = document.getElementById("conn");
  c.className = "conn " + state;
  c.setAttribute("data-state", state);
  c.textContent = text;
}

let lastSnapshot = 0;
function connect() {
  const es = new EventSource("ui/events");
  es.addEventListener("snapshot", (ev) => {
    lastSnapshot = Date.now();
    setConn("live", "live");
    render(JSON.parse(ev.data));
  });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      setConn("lost", "disconnected: reload the page");
    } else {
      setConn("wait", "reconnecting…");
    }
  };
}
setInterval(() => {
  if (lastSnapshot && Date.now() - lastSnapshot > 5000) setConn("wait", "no news for " + Math.round((Date.now() - lastSnapshot) / 1000) + "s");
}, 1000);
connect();
