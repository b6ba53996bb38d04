// The app: state, the address bar, loading, live samples, and wiring the parts together.

import * as api from "./api.js";
import { attachGestures } from "./touch.js";
import { createChart, colorOf, theme } from "./charts.js";
import {
  appendSample, fromResponse, lastIndex, latestValues, mergeResponse, plotColumns, shapeOf, trimBefore, valuesAt,
} from "./data.js";
import { $, el, setText } from "./dom.js";
import { gridPlotWidth, requestInParts, takeFirstLoad } from "./firstload.js";
import { compareCategories, formatValue, fromLocalInput, titleOf, toLocalInput } from "./format.js";
import { DEFAULT_RANGE, clampWindow, nearestIndex, panBy, pointsFor, rangeSeconds, stepIndex, zoomAt } from "./gestures.js";
import { Inspector, momentValues } from "./inspector.js";
import { parseView, printView, windowOf } from "./view.js";

const RETRY_MS = 5000;
const now = () => Date.now() / 1000;

const state = {
  view: parseView(location.search),
  preset: DEFAULT_RANGE, // where double-click and 0 go back to
  live: localStorage.getItem("statsserver.live") !== "off",
  window: null,
  store: null,
  shape: "",
  charts: [],
  cursorT: null,
  colors: null,
  loading: null,
  stopLive: null,
  momentRequest: null,
  processRequest: null,
  momentTimer: 0,
  retryTimer: 0,
  resizeTimer: 0,
  points: 0, // how many the last load asked for
  redrawQueued: false,
  firstDraw: true,
  lastInput: 0,
  inputHandled: 0,
  latestFetched: -Infinity,
  intervals: new Map(), // source → sampling interval (null for pushing programs)
  local: null,
  sourcesReady: Promise.resolve(),
  latest: null, // /api/latest's values, kept current by live samples: the value cards
};
if (state.view.range !== "custom") state.preset = state.view.range;

const ui = {
  source: $("#source"),
  range: $("#range"),
  custom: $("#custom"),
  customFrom: $("#custom-from"),
  customTo: $("#custom-to"),
  live: $("#live"),
  refresh: $("#refresh"),
  status: $("#status"),
  app: $("#app"),
  charts: $("#charts"),
  cards: $("#cards"),
  signin: $("#signin"),
  controls: $(".controls"),
  unpin: $("#unpin"),
  toggle: $("#inspector-toggle"),
};
const inspector = new Inspector($("#inspector"), {
  // A process's history over the window shown, at about one point per pixel of its chart.
  history: (p) => {
    state.processRequest?.abort();
    state.processRequest = new AbortController();
    const win = state.window;
    return api.processHistory(state.view.source, p.pid, p.started, win.from, win.to, 300, state.processRequest.signal);
  },
  colors: () => state.colors || theme(),
  window: () => state.window,
});

// ---- the time window -------------------------------------------------------------------------

const follows = () => state.view.range !== "custom" && state.live;
const latestAllowed = () => now() + 60;

// The window shown, on the charts' element too: what a test or a tool can read without pixels.
function markWindow(win) {
  ui.charts.dataset.from = win.from.toFixed(3);
  ui.charts.dataset.to = win.to.toFixed(3);
}

function setWindow(win) {
  state.window = win;
  markWindow(win);
  for (const u of state.charts) u.setScale("x", { min: win.from, max: win.to });
  if (state.view.range === "custom" || ui.range.value === "custom") fillCustom(win);
}

// Gestures preview at most once a frame; the last one wins.
let pendingWindow = null;
function previewWindow(win) {
  pendingWindow = win;
  requestAnimationFrame(() => {
    if (!pendingWindow) return;
    const next = pendingWindow;
    pendingWindow = null;
    if (state.view.range !== "custom") {
      // Touching the time axis leaves "follow now": a live sample must not yank it back.
      state.view = { ...state.view, range: "custom", from: next.from, to: next.to };
      syncControls();
    }
    setWindow(next);
  });
}

function commitWindow(win) {
  pendingWindow = null;
  const clamped = clampWindow(win, latestAllowed());
  navigate({ ...state.view, range: "custom", from: clamped.from, to: clamped.to });
}

/** Back to the preset; `pinned` (the pin before a double-click's first click) undoes that
 * click's pin, in place of its step in history. */
function resetWindow(pinned) {
  const undo = pinned !== undefined;
  navigate({ ...state.view, range: state.preset, from: null, to: null, ...(undo ? { pinned } : {}) }, { replace: undo });
}

// ---- the address bar -------------------------------------------------------------------------

function navigate(view, { push = true, reload = true, replace = false } = {}) {
  state.view = view;
  if (view.range !== "custom") state.preset = view.range;
  // Compared with the address, not the state: a gesture's preview has changed the state already.
  if (push && printView(view) !== location.search) {
    history[replace ? "replaceState" : "pushState"](null, "", printView(view) || location.pathname);
  }
  syncControls();
  if (reload) load();
}

window.addEventListener("popstate", () => {
  const view = parseView(location.search);
  const sourceChanged = view.source !== state.view.source;
  state.view = view;
  if (view.range !== "custom") state.preset = view.range;
  syncControls();
  if (sourceChanged) stopLive(); // load() starts the new source's feed from the end of its data
  load();
});

function syncControls() {
  ui.range.value = state.view.range;
  ui.custom.hidden = state.view.range !== "custom";
  if (state.view.range === "custom") fillCustom(state.view);
  ui.live.checked = state.live;
  ui.unpin.hidden = state.view.pinned === null;
  // An address without a source (back to it from another) shows the default source again.
  const source = state.view.source ?? state.local;
  if (source && ui.source.value !== source) ui.source.value = source;
}

function fillCustom(win) {
  if (document.activeElement === ui.customFrom || document.activeElement === ui.customTo) return;
  ui.customFrom.value = toLocalInput(win.from);
  ui.customTo.value = toLocalInput(win.to);
}

// ---- loading ---------------------------------------------------------------------------------

function plotWidth() {
  if (state.charts.length) return state.charts[0].bbox.width / devicePixelRatio;
  return gridPlotWidth(ui.charts);
}

async function load() {
  state.loading?.abort();
  const controller = new AbortController();
  const { signal } = controller;
  state.loading = controller;
  const points = pointsFor(plotWidth(), devicePixelRatio);
  state.points = points;
  const source = state.view.source;
  // The page's script asked for the first load already (firstload.js): its window is the one shown.
  const early = state.charts.length ? null : takeFirstLoad(source, points);
  const win = early ? early.win : clampWindow(windowOf(state.view, now()));
  state.window = win;
  ui.app.setAttribute("aria-busy", "true");
  try {
    if (!early) performance.mark("data-requested"); // else marked when the page's script asked
    if (state.charts.length) {
      // Charts to refill (zoom, pan, refresh): one request for all.
      const [response] = await Promise.all([api.data(source, win.from, win.to, points, signal), state.sourcesReady]);
      performance.mark("data-received");
      showStatus("");
      draw(fromResponse(response, compareCategories));
    } else {
      await loadInParts(source, win, points, signal, early);
    }
    if (signal.aborted) return;
    loadLatest(source);
    // A window ending now continues from its end; one in the past gains nothing from a backlog.
    if (state.live && !state.stopLive) startLive(follows() ? win.to : undefined);
  } catch (error) {
    if (error.name === "AbortError") return;
    failed(error);
  } finally {
    if (state.loading === controller) {
      state.loading = null;
      ui.app.removeAttribute("aria-busy");
    }
  }
}

async function loadInParts(source, win, points, signal, early) {
  if (early) signal.addEventListener("abort", () => early.controller.abort());
  const parts = early ? early.parts : requestInParts(source, win, points, signal);
  const [{ first, firstPart, restPart, restArrived }] = await Promise.all([parts, state.sourcesReady]);
  const response = await firstPart;
  performance.mark("data-received");
  showStatus("");
  const store = fromResponse(response, compareCategories);
  if (restPart && restArrived()) {
    // The rest came in while the page was busy (on a first visit, starting the app): every chart
    // in one draw and one frame. Drawn apart, the first screenful would show sooner by the rest's
    // draw, and every chart later by the frame between (its paint, and its commit of canvases).
    mergeResponse(store, await restPart, compareCategories);
    performance.mark("data-received-all");
    draw(store);
    return;
  }
  draw(store, { final: !restPart });
  if (!restPart) return;
  const more = await restPart;
  performance.mark("data-received-all");
  if (signal.aborted) return;
  const building = performance.now();
  if (mergeResponse(state.store, more, compareCategories)) {
    for (const u of state.charts) u.setData(plotColumns(state.store, state.store.categories.get(u.category)));
  }
  addCharts([...state.store.categories.values()].filter((g) => g.graph && !first.includes(g.category)));
  state.shape = shapeKey(state.store);
  finishDraw(building, true);
}

// The value cards show what is true now, whatever window the charts show.
async function loadLatest(source) {
  try {
    state.latest = (await api.latest(source)).values;
    renderCards();
  } catch (error) {
    if (error.name !== "AbortError") console.warn("latest values:", error.message);
  }
}

function failed(error) {
  if (error instanceof api.SignInNeeded) {
    showSignIn();
    return;
  }
  if (error instanceof api.Unreachable) {
    showStatus("Server unreachable: it did not answer. Trying again every 5 s.", "offline");
  } else if (error.status === 404) {
    showStatus(`Nothing to show yet: ${error.message.replace(/^[^:]*: /, "")}.`, "info");
  } else {
    showStatus(`Could not load the data: ${error.message}`, "error");
    console.warn(error);
  }
  clearTimeout(state.retryTimer);
  if (!(error instanceof api.SignInNeeded)) state.retryTimer = setTimeout(() => start(), RETRY_MS);
}

function showStatus(text, kind = "info") {
  ui.status.hidden = !text;
  ui.status.dataset.kind = kind;
  setText(ui.status, text);
}

const shapeKey = (store) => `${state.view.source ?? state.local}\u0002${shapeOf(store)}`;

function draw(store, { final = true } = {}) {
  state.store = store;
  const shape = shapeKey(store);
  const building = performance.now();
  if (shape !== state.shape || !state.charts.length) buildCharts(store);
  else {
    for (const u of state.charts) u.setData(plotColumns(store, store.categories.get(u.category)));
  }
  state.shape = shape;
  finishDraw(building, final);
}

function finishDraw(building, final) {
  inspector.build(state.store, state.colors);
  if (final) inspector.processTable.refresh(); // an open process chart follows the new window
  markWindow(state.window);
  markEmpty();
  renderCards();
  renderInspector();
  performance.measure("draw", { start: building, end: performance.now() });
  if (state.firstDraw && final) {
    state.firstDraw = false;
    afterNextFrame(() => {
      performance.mark("charts-drawn");
      registerWorker(); // after the charts: its caching must not compete with the first data
    });
  }
}

// A task queued from a frame's animation callback runs once that frame is painted and handed to
// the compositor: the moment a change is on screen, as near as a page can tell.
const frameDone = new MessageChannel();
const afterFrame = [];
frameDone.port1.onmessage = () => afterFrame.shift()?.();
function afterNextFrame(callback) {
  requestAnimationFrame(() => {
    afterFrame.push(callback);
    frameDone.port2.postMessage(null);
  });
}

// ---- charts ----------------------------------------------------------------------------------

// Each chart's `onScreen`: the others skip the synced cursor until they come into view.
const chartOf = new WeakMap(); // figure → chart
const chartsInView = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const u = chartOf.get(entry.target);
    if (!u) continue;
    u.onScreen = entry.isIntersecting;
    if (!u.onScreen) continue;
    // Where the cursor is on the charts that followed it (the same moment on every chart).
    const from = state.charts.find((other) => other !== u && other.onScreen && other.cursor.left >= 0);
    const left = from ? u.valToPos(from.posToVal(from.cursor.left, "x"), "x") : -10;
    u.setCursor({ left, top: from ? from.cursor.top : -10 }, false);
  }
});

const chartContext = {
  window: () => state.window,
  pinned: () => state.view.pinned,
  spanGaps: () => !state.intervals.get(state.view.source ?? state.local),
  onCursor,
  onSelect: (from, to) => commitWindow({ from, to }),
};

const gestureContext = {
  window: () => pendingWindow || state.window,
  latest: latestAllowed,
  preview: previewWindow,
  commit: commitWindow,
  pinned: () => state.view.pinned,
  pin,
  reset: resetWindow,
};

function buildCharts(store) {
  for (const u of state.charts) u.destroy();
  chartsInView.disconnect();
  state.charts = [];
  state.colors = theme();
  ui.charts.replaceChildren();
  addCharts([...store.categories.values()].filter((g) => g.graph));
}

function addCharts(groups) {
  const figures = [];
  const boxes = [];
  for (const group of groups) {
    const legend = el("ul", { class: "legend" }, ...group.labels.map((label, i) => {
      const swatch = el("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.background = colorOf(state.colors, i);
      return el("li", {}, swatch, label);
    }));
    const box = el("div", { class: "plot" });
    const title = titleOf(group.category);
    const figure = el("figure", { class: "chart", tabindex: "0", "data-category": group.category,
                                  "aria-label": `${title} chart${group.unit ? `, in ${group.unit}` : ""}. Arrow keys move the cursor.` },
      el("figcaption", {}, el("h2", { text: title, title: group.description || null }),
        group.unit ? el("span", { class: "unit muted", text: group.unit }) : null, legend),
      box);
    figures.push(figure);
    boxes.push([box, group]);
  }
  ui.charts.append(...figures);
  const sizes = boxes.map(([box]) => ({ width: box.clientWidth, height: box.clientHeight }));
  for (const [i, [box, group]] of boxes.entries()) {
    const u = createChart(box, sizes[i], state.store, group, chartContext, state.colors);
    attachGestures(u, gestureContext);
    state.charts.push(u);
    chartOf.set(figures[i], u);
    chartsInView.observe(figures[i]);
  }
}

function renderCards() {
  const groups = [...state.store.categories.values()].filter((g) => !g.graph);
  const cards = groups.map((group) => {
    const rows = group.labels.map((label) => {
      const entry = state.latest?.[group.category]?.[label];
      return el("div", { class: "card-row" }, el("dt", {}, label), el("dd", {}, formatValue(entry ? entry.value : null, group.unit)));
    });
    return el("article", { class: "card", "data-category": group.category },
      el("h2", { text: titleOf(group.category), title: group.description || null }), el("dl", {}, ...rows));
  });
  ui.cards.replaceChildren(...cards);
  ui.cards.hidden = !cards.length;
}

/** Mark charts with nothing in the window, so an empty plot reads as "no data", not as broken. */
function markEmpty() {
  for (const figure of ui.charts.children) {
    const group = state.store.categories.get(figure.dataset.category);
    const empty = !group || group.avg.every((column) => lastIndex(column) < 0);
    figure.classList.toggle("empty", empty);
  }
}

// Redraws from live samples are gathered into one per frame.
function queueRedraw() {
  if (state.redrawQueued) return;
  state.redrawQueued = true;
  requestAnimationFrame(() => {
    state.redrawQueued = false;
    if (!state.store) return;
    if (follows()) {
      const span = rangeSeconds(state.view.range);
      const end = Math.max(now(), state.store.times[state.store.times.length - 1] || 0);
      state.window = { from: end - span, to: end };
      trimBefore(state.store, state.window.from);
      markWindow(state.window);
    }
    for (const u of state.charts) u.setData(plotColumns(state.store, state.store.categories.get(u.category)));
    markEmpty();
    renderCards();
    if (state.cursorT === null && state.view.pinned === null) renderInspector();
  });
}

// ---- the cursor and the moment inspector -----------------------------------------------------

for (const type of ["pointermove", "mousemove", "keydown", "pointerdown"]) {
  document.addEventListener(type, (event) => {
    state.lastInput = event.timeStamp;
    state.inputHandled = performance.now();
  }, { capture: true, passive: true });
}

function onCursor(u) {
  const idx = u.cursor.idx;
  const t = idx === null || idx === undefined || !state.store ? null : state.store.times[idx];
  if (t === state.cursorT || t === undefined) return;
  state.cursorT = t;
  renderInspector();
  if (state.lastInput) {
    // The app's own work for one move; the wait since the input arrived (which includes the
    // browser holding moves for the next frame); and until the frame showing it is done.
    const input = state.lastInput;
    const end = performance.now();
    performance.measure("inspector-update", { start: state.inputHandled, end });
    performance.measure("inspector-latency", { start: input, end });
    afterNextFrame(() => performance.measure("inspector-shown", { start: input, end: performance.now() }));
    state.lastInput = 0;
  }
}

function renderInspector() {
  const store = state.store;
  if (!store) return;
  if (state.cursorT === null && state.view.pinned === null) {
    const latest = latestValues(store, state.window.to);
    inspector.show(latest.time, latest.values, "latest");
    if (latest.time !== null) scheduleMoment(latest.time, "latest");
    return;
  }
  const [t, mode] = state.cursorT !== null ? [state.cursorT, "cursor"] : [state.view.pinned, "pinned"];
  const index = nearestIndex(store.times, t);
  inspector.show(t, valuesAt(store, index), mode);
  scheduleMoment(t, mode);
}

// The exact values and the processes come from the server once the cursor rests.
function scheduleMoment(t, mode) {
  // Live samples move "latest" every interval; its processes need not be fetched as often.
  if (mode === "latest" && performance.now() - state.latestFetched < 5000) return;
  if (mode === "latest") state.latestFetched = performance.now();
  clearTimeout(state.momentTimer);
  state.momentTimer = setTimeout(async () => {
    state.momentRequest?.abort();
    const controller = new AbortController();
    state.momentRequest = controller;
    try {
      const moment = await api.moment(state.view.source, t, controller.signal);
      if (inspector.shownAt !== t) return;
      if (mode === "pinned") inspector.show(t, momentValues(moment.values), mode);
      inspector.showProcesses(moment.processes, moment.processes_time, moment.processes_tier);
    } catch (error) {
      if (error.name !== "AbortError") inspector.clearProcesses("Processes unavailable.");
    }
  }, mode === "cursor" ? 200 : 0);
}

// Pinning changes what is marked and inspected, not what is loaded.
function pin(t) {
  navigate({ ...state.view, pinned: t }, { reload: false });
  showPin();
}

function unpin() {
  navigate({ ...state.view, pinned: null }, { reload: false });
  showPin();
}

function showPin() {
  for (const u of state.charts) u.redraw(false);
  renderInspector();
}

// ---- keyboard --------------------------------------------------------------------------------

function focusedChart() {
  const figure = document.activeElement?.closest?.(".chart");
  const index = figure ? [...ui.charts.children].indexOf(figure) : 0;
  return state.charts[index] || state.charts[0];
}

function moveCursorTo(t) {
  const u = focusedChart();
  if (!u) return;
  // Published like a hover's move (the third argument), so every chart shows the one cursor.
  u.setCursor({ left: u.valToPos(t, "x"), top: u.over.clientHeight / 4 }, true, true);
}

document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, select, textarea, button, [contenteditable]") || event.ctrlKey || event.metaKey || event.altKey) return;
  const store = state.store;
  if (!store || ui.app.hidden) return;
  const win = state.window;
  const anchor = state.cursorT ?? state.view.pinned ?? (win.from + win.to) / 2;
  const middle = ((anchor - win.from) / (win.to - win.from)) * 1000;
  let handled = true;
  switch (event.key) {
    case "ArrowLeft":
    case "ArrowRight": {
      const direction = (event.key === "ArrowLeft" ? -1 : 1) * (event.shiftKey ? 10 : 1);
      const start = state.cursorT ?? state.view.pinned ?? store.times[store.times.length - 1];
      const index = stepIndex(store.times, start, direction);
      if (index >= 0) moveCursorTo(store.times[index]);
      break;
    }
    case "+":
    case "=":
      commitWindow(zoomAt(win, 0.5, middle, 1000, latestAllowed()));
      break;
    case "-":
    case "_":
      commitWindow(zoomAt(win, 2, middle, 1000, latestAllowed()));
      break;
    case "[":
      commitWindow(panBy(win, 250, 1000, latestAllowed()));
      break;
    case "]":
      commitWindow(panBy(win, -250, 1000, latestAllowed()));
      break;
    case "Enter":
      if (state.cursorT !== null) pin(state.cursorT);
      break;
    case "Escape":
      if (state.view.pinned !== null) unpin();
      break;
    case "0":
    case "Home":
      resetWindow();
      break;
    case "r":
      load();
      break;
    default:
      handled = false;
  }
  if (handled) event.preventDefault();
});

// Keyboard focus leaving the charts hides the cursor, as the mouse leaving does.
ui.charts.addEventListener("focusout", (event) => {
  if (!ui.charts.contains(event.relatedTarget)) {
    for (const u of state.charts) u.setCursor({ left: -10, top: -10 });
  }
});

// A finger leaves the cursor where it lifted, to be read in the inspector (which it may open);
// a touch anywhere else hides it, as the mouse leaving does. Else nothing on a phone would bring
// the inspector back to the pinned moment or the newest values.
document.addEventListener("pointerdown", (event) => {
  if (event.pointerType !== "touch" || state.cursorT === null) return;
  if (event.target.closest?.(".u-over, #inspector")) return;
  for (const u of state.charts) u.setCursor({ left: -10, top: -10 });
}, { capture: true, passive: true });

// ---- live samples ----------------------------------------------------------------------------

/** since: the end of the data just loaded, when the feed starts after it. */
function startLive(since) {
  stopLive();
  if (!state.live) return;
  let wasDown = false;
  state.stopLive = api.live(state.view.source, (sample) => {
    if (!state.store) return;
    for (const [category, labels] of Object.entries(sample.values)) {
      for (const [label, value] of Object.entries(labels)) {
        state.latest ??= {};
        (state.latest[category] ??= {})[label] = { time: sample.time, value };
      }
    }
    // A window that ends before the sample never shows it: appended, it would only grow the
    // store by a bucket a sample for as long as the page is open (and make an empty window look
    // full). The value cards show it, as what is true now.
    if (!follows() && sample.time > state.window.to) {
      renderCards();
      return;
    }
    const result = appendSample(state.store, sample);
    if (result === "unknown") load(); // a new category or label: fetch the new shape
    else if (result !== "old") queueRedraw();
  }, (status) => {
    if (status === "retrying" && !wasDown) {
      wasDown = true;
      if (ui.status.hidden) showStatus("Live updates interrupted: reconnecting…", "offline");
    }
    if (status === "open" && wasDown) {
      wasDown = false;
      load(); // fill the gap the outage left, and clear the message
    }
  }, since);
}

// Stopped feeds are started again by load(), from the end of the data it loaded (startLive's
// since): a feed started beside a load could deliver samples before the new data and lose them.
function stopLive() {
  state.stopLive?.();
  state.stopLive = null;
}

// ---- sources, sign-in, start-up --------------------------------------------------------------

async function loadSources() {
  const { local, sources } = await api.sources();
  const names = sources.map((s) => s.name);
  state.intervals = new Map(sources.map((s) => [s.name, s.interval]));
  ui.source.replaceChildren(...names.map((name) => el("option", { value: name }, name === local ? `${name} (this machine)` : name)));
  const chosen = state.view.source && names.includes(state.view.source) ? state.view.source : (names.includes(local) ? local : names[0]);
  if (chosen) ui.source.value = chosen;
  state.local = chosen;
  ui.source.disabled = names.length < 2;
}

async function start() {
  clearTimeout(state.retryTimer);
  // The sources and the data are asked for together: one round trip less before the charts.
  state.sourcesReady = loadSources();
  state.sourcesReady.catch(() => {}); // load() reports the failure
  ui.signin.hidden = true;
  ui.app.hidden = false;
  ui.controls.hidden = false;
  await load();
}

function showSignIn() {
  stopLive();
  ui.app.hidden = true;
  // Nothing to choose or refresh before signing in (the source list is empty then).
  ui.controls.hidden = true;
  ui.signin.hidden = false;
  showStatus("");
  $("#token").focus();
}

$("#signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("#signin-error");
  error.hidden = true;
  try {
    if (await api.signIn($("#token").value.trim())) {
      $("#token").value = "";
      await start();
    } else {
      error.hidden = false;
    }
  } catch {
    error.textContent = "The server cannot be reached.";
    error.hidden = false;
  }
});
if (new URLSearchParams(location.search).get("signin") === "failed") {
  $("#signin-error").hidden = false;
  // The rest of the address (a shared view's range and moment) is kept for after signing in.
  const rest = new URLSearchParams(location.search);
  rest.delete("signin");
  history.replaceState(null, "", rest.size ? `?${rest}` : location.pathname);
}

ui.range.addEventListener("change", () => {
  if (ui.range.value === "custom") {
    ui.custom.hidden = false;
    fillCustom(state.window);
    ui.customFrom.focus();
    return;
  }
  navigate({ ...state.view, range: ui.range.value, from: null, to: null });
});

ui.custom.addEventListener("submit", (event) => {
  event.preventDefault();
  const from = fromLocalInput(ui.customFrom.value);
  const to = fromLocalInput(ui.customTo.value);
  if (from === null || to === null || from >= to) {
    showStatus("The custom range needs a start before its end.", "error");
    return;
  }
  navigate({ ...state.view, range: "custom", from, to });
});

ui.source.addEventListener("change", () => {
  state.view = { ...state.view, source: ui.source.value, pinned: null };
  history.pushState(null, "", printView(state.view) || location.pathname);
  stopLive();
  load();
});

ui.live.addEventListener("change", () => {
  state.live = ui.live.checked;
  localStorage.setItem("statsserver.live", state.live ? "on" : "off");
  stopLive();
  if (state.live) load(); // which starts the feed from the end of the data it loads
});

ui.refresh.addEventListener("click", () => load());
ui.unpin.addEventListener("click", unpin);
ui.toggle.addEventListener("click", () => {
  const open = ui.toggle.getAttribute("aria-expanded") !== "true";
  ui.toggle.setAttribute("aria-expanded", String(open));
  ui.toggle.textContent = open ? "Hide" : "Details";
  $("#inspector").classList.toggle("open", open);
});

// Resizing changes how many points a chart can show, and its size.
let lastWidth = 0;
new ResizeObserver(() => {
  const width = ui.charts.clientWidth;
  if (!width || width === lastWidth) return;
  lastWidth = width;
  for (const u of state.charts) {
    const box = u.root.parentElement;
    u.setSize({ width: box.clientWidth, height: box.clientHeight });
  }
  // Wider charts (a window made larger, a phone turned) show more points than were asked for:
  // asked again, once the resizing rests.
  clearTimeout(state.resizeTimer);
  state.resizeTimer = setTimeout(() => {
    if (state.charts.length && pointsFor(plotWidth(), devicePixelRatio) > state.points * 1.25) load();
  }, 300);
}).observe(ui.charts);

matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  if (!state.store) return;
  buildCharts(state.store);
  inspector.build(state.store, state.colors);
  renderInspector();
});

function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js").catch((error) => console.warn("no offline shell:", error.message));
}

syncControls();
start();
