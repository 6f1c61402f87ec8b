// The dashboard draws itself from /api/status and /api/series and polls them again every
// refresh_s, so it stays current without reloading. Every value from the API is inserted as text
// (textContent / setAttribute), never parsed as HTML: alert annotations and job summaries come
// from monitored systems.
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2"];
  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const main = document.getElementById("dashboard");
  let lastGood = null; // generated_at of the last status we rendered
  let renders = 0;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  function fmt(value, unit) {
    if (value === null || value === undefined) return "–";
    if (unit === "ratio") return (value * 100).toFixed(1) + " %";
    if (unit === "seconds") return value < 1 ? Math.round(value * 1000) + " ms" : value.toFixed(2) + " s";
    if (unit === "usd") return "$" + value.toFixed(value < 1 ? 4 : 2);
    return Number.isInteger(value) ? value.toLocaleString("en") : value.toFixed(2);
  }

  function when(iso) {
    if (!iso) return "–";
    return el("time", { datetime: iso, title: iso }, new Date(iso).toLocaleString());
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 90) return Math.round(seconds) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    if (seconds < 172800) return (seconds / 3600).toFixed(1) + " h";
    return (seconds / 86400).toFixed(1) + " d";
  }

  function table(headers, rows, emptyText) {
    if (rows.length === 0) return el("p", { class: "empty" }, emptyText);
    return el("table", null, el("thead", null, el("tr", null, ...headers.map((h) => el("th", null, h)))),
      el("tbody", null, ...rows));
  }

  function replace(id, ...nodes) {
    document.getElementById(id).replaceChildren(...nodes);
  }

  function labelText(labels) {
    return Object.entries(labels || {}).map(([k, v]) => k + "=" + v).join(", ");
  }

  function renderOverall(s) {
    const badge = document.getElementById("overall");
    badge.dataset.status = s.status;
    badge.textContent = s.status;
    document.title = (s.status === "healthy" ? "" : s.status.toUpperCase() + " · ") + config.title;
  }

  function renderFreshness(s, error) {
    const box = document.getElementById("freshness");
    box.dataset.connection = error ? "lost" : "ok";
    if (s) box.dataset.stale = String(s.stale);
    const parts = [];
    if (error) parts.push("cannot reach the dashboard API (" + error + ")" +
      (lastGood ? "; showing data from " + new Date(lastGood).toLocaleString() : ""));
    if (s && s.stale) {
      parts.push(s.last_sample_at
        ? "STALE: newest sample is " + duration(s.last_sample_age_s) + " old (limit " + duration(s.stale_after_s) + ")"
        : "STALE: no metric samples yet");
    } else if (s) {
      parts.push("newest sample " + duration(s.last_sample_age_s) + " ago");
    }
    if (!error && s) parts.push("updated " + new Date(s.generated_at).toLocaleTimeString());
    box.textContent = parts.join(" · ");
  }

  function renderMetrics(s) {
    // A stale card keeps its last value, greyed, with its time: the newest collection had none.
    replace("metrics", ...s.metrics.map((m) =>
      el("div", {
        class: "card", "data-metric": m.key, "data-value": m.value === null ? "" : m.value,
        "data-stale": String(m.stale),
      },
      el("div", { class: "label" }, m.label), el("div", { class: "value" }, fmt(m.value, m.unit)),
      m.stale ? el("div", { class: "label stale" }, "stale: last value ", when(m.at),
        " (" + duration(m.age_s) + " ago)") : null)));
  }

  function renderAlerts(s) {
    const rows = s.alerts.map((a) => el("tr", {
      "data-alert": a.name, "data-fingerprint": a.fingerprint, "data-severity": a.severity,
      "data-state": a.state, "data-inhibited": String(a.inhibited),
    },
    el("td", null, el("strong", null, a.name), el("div", { class: "label" }, labelText(a.labels))),
    el("td", null, a.severity),
    el("td", null, a.state + (a.inhibited ? " (inhibited)" : "")),
    el("td", { "data-value": a.value, "data-threshold": a.threshold },
      (a.value === null ? "–" : String(+a.value.toFixed(4))) + " vs " +
      (a.threshold === null ? "–" : String(+a.threshold.toFixed(4)))),
    el("td", null, when(a.since)),
    el("td", null, (a.annotations || {}).summary || (a.annotations || {}).description || "")));
    replace("alerts", table(["Alert", "Severity", "State", "Value vs threshold", "Since", "Summary"], rows,
      "No pending or firing alerts."));
  }

  function renderComponents(s) {
    const cards = s.components.map((c) => {
      const up = c.up === null ? "unknown" : String(c.up);
      return el("div", { class: "card", "data-component": c.component, "data-up": up },
        el("div", { class: "label" }, c.component),
        el("div", { class: "value" }, up === "true" ? "up" : up === "false" ? "down" : "?"),
        el("div", { class: "label" }, c.latency_s === null ? "" : fmt(c.latency_s, "seconds")));
    });
    replace("components", ...(cards.length ? cards : [el("p", { class: "empty" }, "No health checks yet.")]));
  }

  function renderTransitions(s) {
    const rows = s.transitions.map((t) => el("tr", { "data-transition": t.from + "→" + t.to },
      el("td", null, t.from), el("td", null, t.to), el("td", null, fmt(t.count, "count"))));
    replace("transitions", table(["From", "To", "In window"], rows, "No agent hand-offs in the window."));
  }

  function summaryText(summary) {
    if (!summary || typeof summary !== "object") return "";
    return Object.entries(summary).filter(([, v]) => v === null || typeof v !== "object")
      .map(([k, v]) => k + ": " + (typeof v === "number" ? +v.toFixed(4) : v)).join(", ");
  }

  function renderJobs(s) {
    const rows = s.jobs.map((j) => {
      const took = j.finished_at ? (Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000 : null;
      return el("tr", { "data-job": j.id, "data-job-name": j.job, "data-job-status": j.status },
        el("td", null, j.job), el("td", null, when(j.started_at)), el("td", null, duration(took)),
        el("td", null, j.status), el("td", null, summaryText(j.summary), j.error ? el("div", null, j.error) : null),
        el("td", null, j.report_url ? el("a", { href: j.report_url, "data-report": j.id }, "report") : ""));
    });
    replace("jobs", table(["Job", "Started", "Took", "Status", "Summary", "Report"], rows, "No jobs yet."));
  }

  function renderFailed(s) {
    const rows = (s.failed_conversations || []).map((f) =>
      el("tr", { "data-session": f.session_id, "data-run": f.run_id, "data-outcome": f.outcome },
        el("td", null, when(f.finished_at)), el("td", null, f.persona),
        el("td", null, f.outcome + (f.reason ? ": " + f.reason : "")), el("td", null, f.run_id),
        el("td", null, el("code", { class: "export", "data-export": f.session_id }, f.export))));
    replace("failed", table(["Finished", "Persona", "Outcome", "Run", "Export as a pytest test"], rows,
      "No failed conversations."));
  }

  function renderNotifications(s) {
    replace("channels", ...s.channels.map((c) =>
      el("div", { class: "card", "data-channel": c.channel, "data-ok": String(c.ok) },
        el("div", { class: "label" }, c.channel),
        el("div", { class: "value" }, c.ok ? "ok" : "failing"),
        el("div", { class: "label" }, c.error || ""))));
    const rows = s.deliveries.map((d) => el("tr", { "data-delivery": d.channel, "data-ok": String(d.ok) },
      el("td", null, when(d.at)), el("td", null, d.channel), el("td", null, d.status), el("td", null, d.alerts),
      el("td", null, d.ok ? "ok" : "failed after " + d.attempts + " attempt(s): " + (d.error || ""))));
    replace("deliveries", table(["At", "Channel", "Status", "Alerts", "Result"], rows, "No notifications sent."));
  }

  function chart(def, series, now) {
    const W = 420, H = 170, L = 48, R = 8, T = 10, B = 22;
    const lines = [];
    for (const name of def.metrics) {
      for (const one of series[name] || []) {
        const labels = labelText(one.labels);
        lines.push({ ...one, legend: (def.legend || {})[name] || name + (labels ? " {" + labels + "}" : "") });
      }
    }
    // The x axis spans the data (at most trend_hours): a monitor started an hour ago fills the chart.
    const end = Date.parse(now);
    let start = end - config.trend_hours * 3600 * 1000;
    const first = Math.min(...lines.map((line) => Date.parse(line.points[0][0])));
    if (Number.isFinite(first)) start = Math.max(start, Math.min(first, end - 600 * 1000));
    let top = def.unit === "ratio" ? 1 : 0;
    for (const line of lines) for (const [, v] of line.points) top = Math.max(top, v);
    top = top > 0 ? (def.unit === "ratio" ? top : top * 1.1) : 1;
    const x = (t) => L + ((t - start) / (end - start)) * (W - L - R);
    const y = (v) => T + (1 - v / top) * (H - T - B);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, "data-chart": def.id, role: "img" });
    root.append(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
    root.append(svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
    for (const [v, yy] of [[top, T + 8], [0, H - B]]) {
      const label = svg("text", { x: L - 4, y: yy, "text-anchor": "end" });
      label.textContent = fmt(v, def.unit);
      root.append(label);
    }
    for (const [t, anchor] of [[start, "start"], [end, "end"]]) {
      const label = svg("text", { x: anchor === "start" ? L : W - R, y: H - 6, "text-anchor": anchor });
      label.textContent = new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      root.append(label);
    }
    const legend = el("div", { class: "legend" });
    lines.forEach((line, i) => {
      const color = COLORS[i % COLORS.length];
      const pts = line.points.map(([at, v]) => x(Date.parse(at)).toFixed(1) + "," + y(v).toFixed(1));
      root.append(svg("polyline", { points: pts.join(" "), stroke: color, "data-series": line.key }));
      const [lastAt, lastV] = line.points[line.points.length - 1];
      root.append(svg("circle", { cx: x(Date.parse(lastAt)), cy: y(lastV), r: 2.5, fill: color }));
      const item = el("span", { "data-series": line.key }, line.legend + " = " + fmt(lastV, def.unit));
      item.style.setProperty("--swatch", color);
      legend.append(item, " ");
    });
    if (lines.length === 0) {
      const none = svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", "data-empty": "true" });
      none.textContent = "no data in the last " + config.trend_hours + " h";
      root.append(none);
    }
    return el("figure", { "data-chart-figure": def.id }, el("figcaption", null, def.title), root, legend);
  }

  function renderCharts(series, now) {
    replace("charts", ...config.charts.map((def) => chart(def, series, now)));
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  async function loadSeries() {
    const names = [...new Set(config.charts.flatMap((c) => c.metrics))];
    const docs = await Promise.all(names.map((n) =>
      getJSON("/api/series?name=" + encodeURIComponent(n) + "&hours=" + config.trend_hours)));
    const out = {};
    for (const doc of docs) out[doc.name] = doc.series.filter((s) => s.points.length > 0);
    return out;
  }

  async function refresh() {
    try {
      const [status, series] = await Promise.all([getJSON("/api/status"), loadSeries()]);
      renderOverall(status);
      renderMetrics(status);
      renderAlerts(status);
      renderComponents(status);
      renderTransitions(status);
      renderJobs(status);
      renderFailed(status);
      renderNotifications(status);
      renderCharts(series, status.generated_at);
      lastGood = status.generated_at;
      renderFreshness(status, null);
      main.dataset.generatedAt = status.generated_at;
    } catch (err) {
      if (lastGood === null) renderOverall({ status: "unknown" });  // nothing to show yet
      renderFreshness(null, err.message || String(err));
    } finally {
      renders += 1;
      main.dataset.renders = String(renders);
      setTimeout(refresh, config.refresh_s * 1000);
    }
  }

  refresh();
})();
