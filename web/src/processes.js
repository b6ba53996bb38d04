// The process table of the moment inspector: sortable, filterable, and a process's own chart.

import uPlot from "uplot";
import { el, setText } from "./dom.js";
import { formatAxisTime, formatTick, formatTime, formatValue } from "./format.js";

const COLUMNS = [
  { key: "name", label: "Name", numeric: false },
  { key: "cpu", label: "CPU", numeric: true },
  { key: "rss", label: "Memory", numeric: true },
];

/** A process is its pid and its start time: a reused pid is another process. */
export const processKey = (p) => `${p.pid}@${p.started}`;

/** Biggest first for numbers, A to Z for names; ties by pid, so the order is stable. */
export function sortProcesses(list, key, descending = key !== "name") {
  const sign = descending ? -1 : 1;
  const value = (p) => (key === "name" ? (p.name || "").toLowerCase() : (p[key] ?? -1));
  return [...list].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    if (x < y) return -sign;
    if (x > y) return sign;
    return a.pid - b.pid;
  });
}

/** Processes whose name, command, user or pid holds every word of `text` (any case). */
export function filterProcesses(list, text) {
  const words = String(text || "").toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return list;
  return list.filter((p) => {
    const haystack = `${p.name} ${p.command} ${p.user} ${p.pid}`.toLowerCase();
    return words.every((word) => haystack.includes(word));
  });
}

export const formatCpu = (cpu) => (cpu === null || cpu === undefined ? "–" : `${cpu.toFixed(1)} %`);

export class ProcessTable {
  /**
   * context: history(process) → Promise of /api/process's answer over the current window;
   * colors() → the charts' theme.
   */
  constructor(root, context) {
    this.root = root;
    this.context = context;
    this.list = [];
    this.sort = { key: "cpu", descending: true };
    this.selected = null; // the process whose chart is open, kept while the moment changes
    this.chart = null;
    this.caption = el("span", { class: "muted", "data-processes-time": "" });
    this.filter = el("input", { type: "search", class: "process-filter", placeholder: "Filter by name, command, user, pid",
                                "aria-label": "Filter processes", autocomplete: "off", spellcheck: "false" });
    this.filter.addEventListener("input", () => this.render());
    this.headers = COLUMNS.map((column) => {
      const button = el("button", { type: "button", class: "sort", "data-sort": column.key }, column.label);
      button.addEventListener("click", () => {
        const same = this.sort.key === column.key;
        this.sort = { key: column.key, descending: same ? !this.sort.descending : column.numeric };
        this.render();
      });
      return el("th", { scope: "col", class: column.numeric ? "num" : null }, button);
    });
    this.body = el("tbody");
    this.empty = el("p", { class: "muted", hidden: true });
    this.detail = el("section", { class: "process-detail", hidden: true, "aria-live": "polite" });
    this.table = el("table", { class: "processes" }, el("thead", {}, el("tr", {}, ...this.headers)), this.body);
    root.replaceChildren(el("h3", {}, "Processes ", this.caption), this.filter, this.table, this.empty, this.detail);
  }

  /** The list at a moment; `tier` "1m" means averages over the minute holding `at`. */
  show(list, at, tier) {
    this.list = list || [];
    const when = at ? `at ${formatTime(at)}` : "";
    setText(this.caption, tier === "1m" && at ? `${when}, minute average` : when);
    this.render();
  }

  clear(text) {
    this.list = [];
    setText(this.caption, "");
    this.render(text);
  }

  render(emptyText) {
    const shown = sortProcesses(filterProcesses(this.list, this.filter.value), this.sort.key, this.sort.descending);
    for (const [i, column] of COLUMNS.entries()) {
      const active = this.sort.key === column.key;
      this.headers[i].setAttribute("aria-sort", active ? (this.sort.descending ? "descending" : "ascending") : "none");
    }
    // Rows are rebuilt: keyboard focus on a process stays on that process.
    const focused = this.body.contains(document.activeElement) ? document.activeElement.closest("tr")?.dataset.process : null;
    this.body.replaceChildren(...shown.map((p) => this.row(p)));
    if (focused) {
      for (const row of this.body.rows) if (row.dataset.process === focused) row.querySelector("button").focus();
    }
    this.table.hidden = !shown.length;
    this.empty.hidden = Boolean(shown.length);
    const reason = this.list.length ? "No process matches the filter." : "No process list near this moment.";
    setText(this.empty, emptyText || reason);
  }

  row(p) {
    const key = processKey(p);
    const open = this.selected !== null && processKey(this.selected) === key;
    const name = el("button", { type: "button", class: "process-name", title: p.command || p.name,
                                "aria-expanded": String(open), "aria-label": `${p.name}, pid ${p.pid}: show its history` },
      p.name || `pid ${p.pid}`);
    name.addEventListener("click", () => this.toggle(p));
    const who = el("span", { class: "muted process-who", text: `${p.pid}${p.user ? ` · ${p.user}` : ""}` });
    return el("tr", { "data-process": key, class: open ? "selected" : null },
      el("td", { class: "name" }, name, who),
      el("td", { class: "num" }, formatCpu(p.cpu)),
      el("td", { class: "num" }, formatValue(p.rss, "B")));
  }

  toggle(p) {
    const same = this.selected !== null && processKey(this.selected) === processKey(p);
    this.selected = same ? null : p;
    this.render();
    if (same) this.closeDetail();
    else this.openDetail(p);
  }

  /** Fetches the open process's history again, for a new window. */
  refresh() {
    if (this.selected !== null) this.openDetail(this.selected);
  }

  closeDetail() {
    this.chart?.destroy();
    this.chart = null;
    this.detail.hidden = true;
    this.detail.replaceChildren();
  }

  /** Shows the process's details and, once fetched, its CPU and memory over the window. */
  async openDetail(p) {
    this.closeDetail();
    const facts = [
      ["Command", p.command || "–"], ["User", p.user || "–"], ["PID", String(p.pid)],
      ["Started", formatTime(p.started)], ["State", p.state || "–"],
      ["Disk", p.disk_read === null && p.disk_write === null ? "–"
        : `${formatValue(p.disk_read, "B/s")} read, ${formatValue(p.disk_write, "B/s")} written`],
    ];
    const plot = el("div", { class: "process-plot", role: "img", "aria-label": `CPU and memory of ${p.name} over the window` });
    const status = el("p", { class: "muted", text: "Loading its history…" });
    const close = el("button", { type: "button", class: "process-close", "aria-label": "Close the process history" }, "Close");
    close.addEventListener("click", () => this.toggle(p));
    this.detail.replaceChildren(
      el("div", { class: "process-detail-head" }, el("h4", { text: p.name }), close),
      el("dl", {}, ...facts.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })])),
      status, plot);
    this.detail.hidden = false;
    let history;
    try {
      history = await this.context.history(p);
    } catch (error) {
      if (this.selected === p) setText(status, error.name === "AbortError" ? "" : "Its history is unavailable.");
      return;
    }
    if (this.selected !== p) return;
    setText(status, history.times.length ? "CPU (line, left) and memory (area, right) over the window." : "Not listed in this window.");
    this.detail.dataset.points = String(history.times.length);
    if (!history.times.length) return;
    const colors = this.context.colors();
    const axis = { stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { show: false },
                   font: "10px system-ui, sans-serif" };
    const w = this.context.window();
    this.chart = new uPlot({
      width: Math.max(200, plot.clientWidth || this.root.clientWidth || 300),
      height: 120,
      legend: { show: false },
      cursor: { y: false, points: { show: false }, drag: { x: false, y: false } },
      padding: [6, 4, 0, 0],
      scales: { x: { time: true, auto: false, range: () => [w.from, w.to] }, cpu: { range: (u, lo, hi) => [0, Math.max(hi || 0, 1) * 1.05] },
                rss: { range: (u, lo, hi) => [0, Math.max(hi || 0, 1) * 1.05] } },
      axes: [
        { ...axis, space: 60, size: 22, values: (u, splits, i, space, incr) => splits.map((t) => formatAxisTime(t, incr)) },
        { ...axis, scale: "cpu", size: 44, values: (u, splits) => splits.map((v) => formatTick(v, "%")) },
        { ...axis, scale: "rss", side: 1, size: 56, grid: { show: false }, values: (u, splits) => splits.map((v) => formatTick(v, "B")) },
      ],
      series: [{}, { label: "CPU", scale: "cpu", stroke: colors.palette[0], width: 1.5, points: { show: false } },
               { label: "Memory", scale: "rss", stroke: colors.palette[1], fill: `${colors.palette[1]}33`, width: 1, points: { show: false } }],
    }, [history.times, history.cpu.avg, history.rss.avg], plot);
  }
}
