// The moment inspector: every value of every category at one moment, and the processes then
// (processes.js draws their table).

import { el, setText } from "./dom.js";
import { formatTime, formatValue, titleOf } from "./format.js";
import { colorOf } from "./charts.js";
import { ProcessTable } from "./processes.js";

export class Inspector {
  /** context: what the process table needs (see ProcessTable). */
  constructor(root, context) {
    this.root = root;
    this.time = root.querySelector("[data-moment-time]");
    this.mode = root.querySelector("[data-moment-mode]");
    this.body = root.querySelector("[data-moment-values]");
    this.processTable = new ProcessTable(root.querySelector("[data-moment-processes]"), context);
    this.cells = new Map();
    this.units = new Map();
    this.shownAt = undefined;
  }

  /** Lay out one row per series; later updates only change text. */
  build(store, colors) {
    this.cells.clear();
    this.units.clear();
    const sections = [];
    const groups = [...store.categories.values()].sort((a, b) => Number(b.graph) - Number(a.graph));
    for (const group of groups) {
      this.units.set(group.category, group.unit);
      const rows = group.labels.map((label, i) => {
        const swatch = el("span", { class: "swatch", "aria-hidden": "true" });
        if (group.graph) swatch.style.background = colorOf(colors, i);
        const value = el("span");
        const range = el("span");
        this.cells.set(key(group.category, label), { value, range, unit: group.unit });
        return el("tr", {}, el("th", { scope: "row" }, swatch, label), el("td", { class: "value" }, value), el("td", { class: "range" }, range));
      });
      sections.push(el("section", { class: "moment-group" },
        el("h3", { text: titleOf(group.category), title: group.description || null }),
        el("table", {}, el("tbody", {}, ...rows))));
    }
    this.body.replaceChildren(...sections);
    this.shownAt = undefined;
  }

  /**
   * values: {category: {label: {avg, min, max}}} (from the charts' data) or
   * {category: {label: {value}}} (from /api/moment). mode: "cursor", "pinned" or "latest".
   */
  show(t, values, mode) {
    const time = t === null ? "–" : formatTime(t);
    // Sized by its length (the box contains its layout), so that a new time lays out nothing else.
    if (time.length !== this.time.textContent.length) this.time.style.width = `${time.length}ch`;
    setText(this.time, time);
    if (t !== null) this.time.setAttribute("datetime", new Date(t * 1000).toISOString());
    setText(this.mode, { cursor: "at the cursor", pinned: "pinned", latest: "latest" }[mode] || "");
    if (this.root.dataset.mode !== mode) this.root.dataset.mode = mode;
    this.shownAt = t;
    for (const [name, cell] of this.cells) {
      const [category, label] = name.split("\u0001");
      const entry = values?.[category]?.[label];
      const avg = entry ? (entry.avg ?? entry.value ?? null) : null;
      setText(cell.value, formatValue(avg, cell.unit));
      const spread = entry && entry.min !== null && entry.max !== null && entry.min !== undefined && entry.min !== entry.max;
      setText(cell.range, spread ? `${formatValue(entry.min, cell.unit)} – ${formatValue(entry.max, cell.unit)}` : "");
    }
  }

  /** The process list at the moment shown; `tier` "1m" when it is a minute's averages. */
  showProcesses(list, at, tier) {
    this.processTable.show(list, at, tier);
  }

  clearProcesses(text = "") {
    this.processTable.clear(text);
  }
}

const key = (category, label) => `${category}\u0001${label}`;

/** /api/moment's values, as show() takes them. */
export function momentValues(values) {
  const result = {};
  for (const [category, labels] of Object.entries(values || {})) {
    result[category] = {};
    for (const [label, entry] of Object.entries(labels)) result[category][label] = { avg: entry.value, min: null, max: null };
  }
  return result;
}
