// The loaded history, shaped per category for uPlot, and live samples appended to it.
// Pure: no DOM, so node --test covers it.

/**
 * From an /api/data answer: { times, step, start, categories: Map(category → group) } where a
 * group holds the catalog fields and, per label, the avg/min/max columns.
 */
export function fromResponse(response, order = () => 0) {
  const categories = new Map();
  for (const s of response.series) {
    let group = categories.get(s.category);
    if (!group) {
      group = { category: s.category, unit: s.unit ?? "", kind: s.kind, graph: s.graph !== false,
                description: s.description || "", labels: [], avg: [], min: [], max: [] };
      categories.set(s.category, group);
    }
    group.labels.push(s.label);
    group.avg.push(s.avg);
    group.min.push(s.min);
    group.max.push(s.max);
  }
  const ordered = new Map([...categories.entries()].sort(([a], [b]) => order(a, b)));
  return { times: response.times, step: response.step, start: response.start, categories: ordered, tail: 1 };
}

/** The columns uPlot draws: times, each label's average, then each label's min, then max. */
export function plotColumns(store, group) {
  return [store.times, ...group.avg, ...group.min, ...group.max];
}

/** A short fingerprint of which charts and lines there are, to know when to rebuild them. */
export function shapeOf(store) {
  return [...store.categories.values()].map((g) => `${g.category}:${g.graph}:${g.labels.join("\u0001")}`).join("\u0002");
}

/** Index of the last non-null value in a column, or -1. */
export function lastIndex(column) {
  for (let i = column.length - 1; i >= 0; i -= 1) if (column[i] !== null && column[i] !== undefined) return i;
  return -1;
}

/**
 * Append one live sample {time, values: {category: {label: value}}} to the store. A sample
 * inside the last bucket is merged into it (min, max, running mean), as the server would have.
 * Returns "appended", "merged", "old" (before the last bucket: ignored) or "unknown" (a
 * category or label the store has not seen: the caller reloads).
 */
export function appendSample(store, sample) {
  const { times } = store;
  const step = store.step || 1;
  for (const [category, labels] of Object.entries(sample.values)) {
    const group = store.categories.get(category);
    if (!group) return "unknown";
    for (const label of Object.keys(labels)) if (!group.labels.includes(label)) return "unknown";
  }
  const last = times.length ? times[times.length - 1] : -Infinity;
  if (sample.time < last - step / 2) return "old";
  const merge = sample.time < last + step / 2;
  if (!merge) {
    // Keep the server's grid: bucket centres at start + (k + ½)·step.
    const k = Math.floor((sample.time - store.start) / step);
    const centre = store.start + (k + 0.5) * step;
    times.push(centre > last ? centre : sample.time);
    store.tail = 0;
    for (const group of store.categories.values()) {
      for (const columns of [group.avg, group.min, group.max]) for (const column of columns) column.push(null);
    }
  }
  const at = times.length - 1;
  const count = store.tail;
  for (const [category, labels] of Object.entries(sample.values)) {
    const group = store.categories.get(category);
    for (const [label, value] of Object.entries(labels)) {
      const i = group.labels.indexOf(label);
      const avg = group.avg[i][at];
      if (avg === null || avg === undefined || count === 0) {
        group.avg[i][at] = value;
        group.min[i][at] = value;
        group.max[i][at] = value;
      } else {
        group.avg[i][at] = (avg * count + value) / (count + 1);
        group.min[i][at] = Math.min(group.min[i][at], value);
        group.max[i][at] = Math.max(group.max[i][at], value);
      }
    }
  }
  store.tail = count + 1;
  return merge ? "merged" : "appended";
}

/** Drop the points before `from` (all but one, so the line enters from the left edge). */
export function trimBefore(store, from) {
  let drop = 0;
  while (drop < store.times.length - 1 && store.times[drop + 1] < from) drop += 1;
  if (!drop) return 0;
  store.times.splice(0, drop);
  for (const group of store.categories.values()) {
    for (const columns of [group.avg, group.min, group.max]) for (const column of columns) column.splice(0, drop);
  }
  return drop;
}

/** Every category's values at index i: {category: {label: {avg, min, max}}}. */
export function valuesAt(store, i) {
  const result = {};
  for (const group of store.categories.values()) {
    const labels = {};
    group.labels.forEach((label, j) => {
      labels[label] = { avg: group.avg[j][i] ?? null, min: group.min[j][i] ?? null, max: group.max[j][i] ?? null };
    });
    result[group.category] = labels;
  }
  return result;
}

/**
 * Each series' newest value in the store, and the newest time of any: what "latest" shows. The
 * time is at most `until` (the window's end): the newest bucket's centre may lie after it, hours
 * after now on a year's chart, and "latest" would then read as a time yet to come.
 */
export function latestValues(store, until = Infinity) {
  const values = {};
  let newest = -1;
  for (const group of store.categories.values()) {
    const labels = {};
    group.labels.forEach((label, j) => {
      const i = lastIndex(group.avg[j]);
      newest = Math.max(newest, i);
      labels[label] = i < 0 ? { avg: null, min: null, max: null }
        : { avg: group.avg[j][i], min: group.min[j][i], max: group.max[j][i] };
    });
    values[group.category] = labels;
  }
  return { time: newest < 0 ? null : Math.min(store.times[newest], until), values };
}

/**
 * Add the categories of another /api/data answer for the same window and points. Both answers
 * share the server's bucket grid but list only the buckets that held data, so where their times
 * differ, both are spread onto the union of the two. Returns true when the times changed (charts
 * already drawn need their columns again).
 */
export function mergeResponse(store, response, order = () => 0) {
  const other = fromResponse(response, order);
  const same = other.times.length === store.times.length && other.times.every((t, i) => t === store.times[i]);
  if (!same) {
    const times = [...new Set([...store.times, ...other.times])].sort((a, b) => a - b);
    spread(store, times);
    spread(other, times);
  }
  const merged = new Map([...store.categories, ...other.categories].sort(([a], [b]) => order(a, b)));
  store.categories = merged;
  return !same;
}

function spread(store, times) {
  const at = new Map(times.map((t, i) => [t, i]));
  const place = store.times.map((t) => at.get(t));
  for (const group of store.categories.values()) {
    for (const columns of [group.avg, group.min, group.max]) {
      columns.forEach((column, j) => {
        const wide = new Array(times.length).fill(null);
        column.forEach((value, i) => { wide[place[i]] = value; });
        columns[j] = wide;
      });
    }
  }
  store.times = times;
}
