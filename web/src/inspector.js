// The moment inspector: every value of every category at one moment, and the processes then
// (processes.js draws their table).

import { el, setText } from "./dom.js";
import { formatTime, formatValue, titleOf } from "./format.js";
import { colorOf } from "./charts.js";
import { ProcessTable } from "./processes.js";

// A cursor move rewrites the groups in view, in its frame; the others when they come into view or
// once the cursor rests, so that the whole inspector is current again.
const REST_MS = 250;

export class Inspector {
  /** context: what the process table needs (see ProcessTable). */
  constructor(root, context) {
    this.root = root;
    this.time = root.querySelector("[data-moment-time]");
    this.mode = root.querySelector("[data-moment-mode]");
    this.body = root.querySelector("[data-moment-values]");
    this.processTable = new ProcessTable(root.querySelector("[data-moment-processes]"), context);
    this.groups = new Map(); // section → {cells, inView, stale}
    this.values = null;
    this.restTimer = 0;
    this.shownAt = undefined;
    // The inspector scrolls (beside the charts, or as a sheet that may be closed): its own area.
    this.observer = new IntersectionObserver((entries) => this.seen(entries), { root });
  }

  /** Lay out one row per series; later updates only change text. */
  build(store, colors) {
    this.observer.disconnect();
    this.groups.clear();
    const sections = [];
    const groups = [...store.categories.values()].sort((a, b) => Number(b.graph) - Number(a.graph));
    for (const group of groups) {
      const cells = [];
      const rows = group.labels.map((label, i) => {
        const swatch = el("span", { class: "swatch", "aria-hidden": "true" });
        if (group.graph) swatch.style.background = colorOf(colors, i);
        const value = el("span");
        const range = el("span");
        cells.push({ category: group.category, label, value, range, unit: group.unit });
        return el("tr", {}, el("th", { scope: "row" }, swatch, label), el("td", { class: "value" }, value), el("td", { class: "range" }, range));
      });
      const section = el("section", { class: "moment-group" },
        el("h3", { text: titleOf(group.category), title: group.description || null }),
        el("table", {}, el("tbody", {}, ...rows)));
      // In view until the observer says otherwise: its first report comes after a frame.
      this.groups.set(section, { cells, inView: true, stale: false });
      sections.push(section);
    }
    this.body.replaceChildren(...sections);
    // The min–max column only when some bucket in the window holds a spread: otherwise (a source
    // sampled as often as the buckets are wide) it would be an empty gap beside every value.
    this.root.classList.toggle("spread", [...store.categories.values()].some((group) =>
      group.min.some((column, j) => column.some((low, i) => low !== null && low !== group.max[j][i]))));
    for (const section of sections) this.observer.observe(section);
    this.shownAt = undefined;
  }

  /**
   * values: {category: {label: {avg, min, max}}} (from the charts' data) or
   * {category: {label: {value}}} (from /api/moment). mode: "cursor", "pinned" or "latest".
   */
  show(t, values, mode) {
    const time = t === null ? "–" : formatTime(t);
    // Sized by its length (the box contains its layout), so that a new time lays out nothing else.
    // Compared with the width set, not the text: the page's "–" has none, and a box of size
    // containment without one is 0 wide.
    const width = `${time.length}ch`;
    if (this.time.style.width !== width) this.time.style.width = width;
    setText(this.time, time);
    if (t !== null) this.time.setAttribute("datetime", new Date(t * 1000).toISOString());
    setText(this.mode, { cursor: "at the cursor", pinned: "pinned", latest: "latest" }[mode] || "");
    if (this.root.dataset.mode !== mode) this.root.dataset.mode = mode;
    this.shownAt = t;
    this.values = values;
    let stale = false;
    for (const group of this.groups.values()) {
      if (group.inView) fill(group, values);
      else stale = group.stale = true;
    }
    clearTimeout(this.restTimer);
    if (stale) this.restTimer = setTimeout(() => this.fillStale(), REST_MS);
  }

  seen(entries) {
    for (const entry of entries) {
      const group = this.groups.get(entry.target);
      if (!group) continue;
      group.inView = entry.isIntersecting;
      if (group.inView && group.stale) fill(group, this.values);
    }
  }

  fillStale() {
    for (const group of this.groups.values()) if (group.stale) fill(group, this.values);
  }

  /** The process list at the moment shown; `tier` "1m" when it is a minute's averages. */
  showProcesses(list, at, tier) {
    this.processTable.show(list, at, tier);
  }

  clearProcesses(text = "") {
    this.processTable.clear(text);
  }
}

function fill(group, values) {
  group.stale = false;
  for (const cell of group.cells) {
    const entry = values?.[cell.category]?.[cell.label];
    const avg = entry ? (entry.avg ?? entry.value ?? null) : null;
    setText(cell.value, formatValue(avg, cell.unit));
    const spread = entry && entry.min !== null && entry.max !== null && entry.min !== undefined && entry.min !== entry.max;
    setText(cell.range, spread ? `${formatValue(entry.min, cell.unit)} – ${formatValue(entry.max, cell.unit)}` : "");
  }
}

/** /api/moment's values, as show() takes them. */
export function momentValues(values) {
  const result = {};
  for (const [category, labels] of Object.entries(values || {})) {
    result[category] = {};
    for (const [label, entry] of Object.entries(labels)) result[category][label] = { avg: entry.value, min: null, max: null };
  }
  return result;
}
