// What the address bar carries: source, range (a preset following now, or from–to), pinned moment.
// Pure: parse and print, so a bookmarked view comes back exactly.

import { DEFAULT_RANGE, rangeSeconds } from "./gestures.js";

const round = (t) => Math.round(t * 1000) / 1000;

/** { source, range, from, to, pinned } from a query string. range "custom" has from and to. */
export function parseView(search) {
  const query = new URLSearchParams(search);
  const view = { source: query.get("source") || null, range: DEFAULT_RANGE, from: null, to: null, pinned: null };
  const from = Number(query.get("from"));
  const to = Number(query.get("to"));
  if (query.has("from") && query.has("to") && Number.isFinite(from) && Number.isFinite(to) && from < to) {
    Object.assign(view, { range: "custom", from, to });
  } else if (rangeSeconds(query.get("range"))) {
    view.range = query.get("range");
  }
  const pinned = Number(query.get("t"));
  if (query.has("t") && Number.isFinite(pinned)) view.pinned = pinned;
  return view;
}

export function printView(view) {
  const query = new URLSearchParams();
  if (view.source) query.set("source", view.source);
  if (view.range === "custom") {
    query.set("from", String(round(view.from)));
    query.set("to", String(round(view.to)));
  } else if (view.range !== DEFAULT_RANGE) {
    query.set("range", view.range);
  }
  if (view.pinned !== null && view.pinned !== undefined) query.set("t", String(round(view.pinned)));
  const text = query.toString();
  return text ? `?${text}` : "";
}

/** The window a view shows at `now`. */
export function windowOf(view, now) {
  if (view.range === "custom") return { from: view.from, to: view.to };
  return { from: now - rangeSeconds(view.range), to: now };
}
