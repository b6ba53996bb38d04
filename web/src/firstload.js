// The requests of a page's first load, made by the page's first and smallest script: on a first
// visit the app's own module takes a few hundred milliseconds to compile and run (no code cache
// yet), and the data would otherwise be asked for only after that.

import * as api from "./api.js";
import { compareCategories } from "./format.js";
import { clampWindow, pointsFor } from "./gestures.js";
import { parseView, windowOf } from "./view.js";

// The first screenful of charts: asked for apart from the rest, so that they are drawn while
// the server still works on the others.
const FIRST_CHARTS = 6;

/** A plot's width before any chart is drawn: the charts' grid column less the y axis and padding. */
export function gridPlotWidth(charts) {
  const columns = getComputedStyle(charts).gridTemplateColumns.split(" ").filter(Boolean);
  const column = parseFloat(columns[0]) || charts.clientWidth || 360;
  return Math.max(100, column - 90);
}

/**
 * The catalog, then the data in two requests: the first screenful's charts, and the rest.
 * Resolves once the data is asked for, to { first (its categories), firstPart, restPart (null
 * when one request asks for all), restArrived() (whether the rest is in already) }.
 */
export async function requestInParts(source, win, points, signal) {
  const catalog = await api.series(source, signal);
  const categories = [...new Set(catalog.series.map((s) => s.category))].sort(compareCategories);
  const graphs = new Set(catalog.series.filter((s) => s.graph).map((s) => s.category));
  const first = categories.filter((c) => graphs.has(c)).slice(0, FIRST_CHARTS);
  const rest = categories.filter((c) => !first.includes(c));
  const firstPart = api.data(source, win.from, win.to, points, signal, first.length ? first : null);
  const restPart = first.length && rest.length ? api.data(source, win.from, win.to, points, signal, rest) : null;
  let arrived = false;
  // Reported when awaited; until then a failure must not count as unhandled.
  firstPart.catch(() => {});
  restPart?.then(() => { arrived = true; }, () => {});
  return { first, firstPart, restPart, restArrived: () => arrived };
}

let pending = null;

/** Ask for what the address shows, as the app's first load would. Resolves once it is asked for. */
export function requestFirstLoad() {
  const view = parseView(location.search);
  const win = clampWindow(windowOf(view, Date.now() / 1000));
  const points = pointsFor(gridPlotWidth(document.querySelector("#charts")), devicePixelRatio);
  const controller = new AbortController();
  performance.mark("data-requested");
  const parts = requestInParts(view.source, win, points, controller.signal);
  pending = { source: view.source, win, points, controller, parts };
  return parts.catch(() => {}); // the load that takes them reports a failure
}

/**
 * The first load's requests, once, if they ask for this source at this many points (the app's
 * own load would ask the same); else null, and they are cancelled.
 */
export function takeFirstLoad(source, points) {
  const taken = pending;
  pending = null;
  if (!taken) return null;
  if (taken.source !== source || taken.points !== points) {
    taken.controller.abort();
    return null;
  }
  return taken;
}
