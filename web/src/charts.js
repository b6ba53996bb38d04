// One uPlot chart per category, all on one time window and one synced cursor.

import uPlot from "uplot";
import { binaryIncrements, formatAxisTime, formatTick, formatValue, titleOf } from "./format.js";
import { plotColumns } from "./data.js";
import { bandColumns, present } from "./bands.js";
import { covers, lineColumns, paintColumns } from "./lines.js";

export const SYNC_KEY = "statsserver";

// Distinct in both themes, and each at least 3:1 against either background (WCAG non-text).
const PALETTE = {
  light: ["#1f6fd1", "#c2410c", "#15803d", "#9333ea", "#be123c", "#0e7490", "#a16207", "#4d7c0f"],
  dark: ["#6ea8fe", "#fb923c", "#4ade80", "#c084fc", "#fb7185", "#22d3ee", "#facc15", "#a3e635"],
};

export function theme() {
  const styles = getComputedStyle(document.documentElement);
  const dark = matchMedia("(prefers-color-scheme: dark)").matches;
  return {
    dark,
    palette: PALETTE[dark ? "dark" : "light"],
    text: styles.getPropertyValue("--muted").trim() || "#555",
    grid: styles.getPropertyValue("--grid").trim() || "#ddd",
    pin: styles.getPropertyValue("--accent").trim() || "#c00",
    panel: styles.getPropertyValue("--panel").trim() || "#fff",
  };
}

function withAlpha(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

export function colorOf(colors, index) {
  return colors.palette[index % colors.palette.length];
}

/**
 * A chart for one category inside `box`, of `size` {width, height} (measured by the caller for
 * all charts at once: reading a size after each chart went in would lay the page out each time). `context` shares the
 * app's state: window() → {from, to}, pinned() → time or null, spanGaps() → whether to join
 * over empty buckets, and the callbacks onCursor(u), onSelect(from, to). The app sets the chart's
 * `onScreen` as it comes into and out of view.
 */
export function createChart(box, size, store, group, context, colors) {
  const n = group.labels.length;
  const unit = group.unit;
  const columns = uPlot.pxRatio >= COLUMNS_FROM_PIXEL_RATIO;
  // A source with a sampling interval marks its outages with nulls, to be shown as holes. A
  // pushing program has no interval: an empty bucket only means no push landed in it.
  const spanGaps = context.spanGaps();
  const series = [{}];
  group.labels.forEach((label, i) => {
    const color = colorOf(colors, i);
    // Where drawLines draws the line, uPlot draws only a lone value's dot.
    series.push({ label, stroke: color, width: LINE_WIDTH, paths: columns ? () => null : undefined, points: { show: lone, size: 6, fill: color, stroke: color }, spanGaps,
                  value: (u, v) => formatValue(v, unit) });
  });
  // The min and max are not lines: drawBands fills between them. Kept as series so that the
  // y range makes room for every spike.
  for (const bound of ["min", "max"]) {
    group.labels.forEach((label) => series.push({ label: `${label} ${bound}`, width: 0, paths: () => null, points: { show: false } }));
  }
  const axis = { stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid, width: 1 },
                 font: "11px system-ui, sans-serif" };
  let chart = null;
  const options = {
    width: Math.max(100, size.width),
    height: size.height || 160,
    legend: { show: false },
    padding: [8, 8, 0, 0],
    cursor: {
      y: false, // a level line means nothing on the other charts
      // A chart out of view skips the synced cursor's moves (its line would change nothing on
      // screen, yet cost its share of each move's frame); app.js brings it over on entering view.
      sync: { key: SYNC_KEY, filters: { sub: (type) => type !== "mousemove" || chart.onScreen } },
      drag: { x: true, y: false, setScale: false },
      points: { show: false },
      // Hover moves the cursor; the plot takes no keyboard focus of its own (the figure does).
    },
    select: { show: true },
    scales: {
      x: { time: true, auto: false, range: () => { const w = context.window(); return [w.from, w.to]; } },
      y: { range: (u, low, high) => yRange(low, high, unit) },
    },
    axes: [
      { ...axis, space: 70, size: 28, values: (u, splits, axisIndex, space, increment) => timeLabels(u, splits, increment) },
      { ...axis, size: axisWidth, values: (u, splits) => splits.map((v) => formatTick(v, unit)),
        ...(unit === "B" || unit === "B/s" ? { incrs: BINARY_INCREMENTS } : {}) },
    ],
    series,
    hooks: {
      setCursor: [(u) => context.onCursor(u)],
      setSelect: [(u) => {
        if (u.select.width > 4) {
          context.onSelect(u.posToVal(u.select.left, "x"), u.posToVal(u.select.left + u.select.width, "x"));
        }
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
      }],
      drawAxes: [(u) => {
        u.lines = columns ? lineColumnsOf(u, n, spanGaps) : []; // first: the bands need not be painted where a line will cover them
        drawBands(u, n, spanGaps, colors);
      }], // over the grid, under the lines
      draw: [(u) => drawLines(u, colors), (u) => drawPin(u, context.pinned(), colors.pin), (u) => showPicture(u, colors.panel)],
    },
  };
  chart = new uPlot(options, plotColumns(store, group), box);
  chart.category = group.category;
  return chart;
}

const BINARY_INCREMENTS = binaryIncrements();

// Without a GPU (software compositing: headless Chromium, a machine whose GPU the browser does
// not use) Chromium copies every 2D canvas to the compositor on every frame the page paints,
// changed or not: with 20 charts, most of a cursor move's frame. A "bitmaprenderer" canvas hands
// over a picture only when given a new one, so a chart is shown through one, given a copy of
// uPlot's canvas; uPlot's canvas itself is then drawn on but not shown. The picture is opaque, on
// the panel's colour: the compositor copies it rather than blending it with what is beneath. A
// browser without OffscreenCanvas (Safari before 16.4) shows uPlot's canvas.
//
// The copies are made when the page is idle, not in the draw: a load, or a pan's frames, draws
// every chart and would pay for every copy too. Until its copy is made a chart shows uPlot's
// canvas. So is the picture itself (its element and contexts): made in the draw, each is one more
// change of style for the next chart's draw to bring up to date (uPlot setting its canvas's font
// has Blink do so), 20 of them in a load's draw.
const pictures = new WeakMap();
const canShowPictures = typeof OffscreenCanvas === "function" && typeof ImageBitmapRenderingContext === "function";
const stale = new Set();
let copyPending = false;
const whenIdle = typeof requestIdleCallback === "function"
  ? (callback) => requestIdleCallback(callback, { timeout: 1000 })
  : (callback) => setTimeout(callback, 50);

function showPicture(u, background) {
  if (!canShowPictures) return;
  let picture = pictures.get(u);
  if (!picture) {
    picture = { drawn: u.ctx.canvas, shown: null };
    pictures.set(u, picture);
  }
  picture.background = background;
  if (picture.shown) {
    picture.drawn.classList.remove("u-drawn");
    picture.shown.hidden = true;
  }
  stale.add(picture);
  if (!copyPending) {
    copyPending = true;
    whenIdle(copyStalePictures);
  }
}

function copyStalePictures(deadline) {
  for (const picture of stale) {
    if (deadline && !deadline.didTimeout && deadline.timeRemaining() < 3) break; // the rest next time
    stale.delete(picture);
    if (!picture.shown) {
      const shown = document.createElement("canvas");
      shown.className = "u-picture";
      picture.drawn.after(shown);
      const copy = new OffscreenCanvas(1, 1);
      Object.assign(picture, { shown, renderer: shown.getContext("bitmaprenderer"), copy, copier: copy.getContext("2d", { alpha: false }) });
    }
    const { drawn, shown, copy, copier } = picture;
    if (copy.width !== drawn.width || copy.height !== drawn.height) {
      copy.width = shown.width = drawn.width;
      copy.height = shown.height = drawn.height;
    }
    copier.fillStyle = picture.background;
    copier.fillRect(0, 0, copy.width, copy.height);
    copier.drawImage(drawn, 0, 0);
    picture.renderer.transferFromImageBitmap(copy.transferToImageBitmap());
    shown.hidden = false;
    drawn.classList.add("u-drawn");
  }
  copyPending = stale.size > 0;
  if (copyPending) whenIdle(copyStalePictures);
}

// u.valToPos(value, scale, true) for both scales (linear: the chart's), the same arithmetic
// without its lookups: it is called for every point of every line and band.
function pixelsOf(u) {
  const { left, top, width, height } = u.bbox;
  const { x: time, y: value } = u.scales;
  const timeSpan = time.max - time.min;
  const valueSpan = value.max - value.min;
  return [(t) => left + width * ((t - time.min) / timeSpan), (v) => top + height * (1 - (v - value.min) / valueSpan)];
}

// Rectangles, because a software canvas fills a 2,000-vertex band polygon several times slower
// than 1,000 rectangles, and 20 charts are drawn at once.
// The first and last index of the data in view, or null when none is.
function inView(u) {
  const [first, last] = u.series[0].idxs || [];
  return present(first) && present(last) ? [first, last] : null;
}

function drawBands(u, n, spanGaps, colors) {
  const shown = inView(u);
  if (!shown) return;
  const [first, last] = shown;
  const { ctx, bbox } = u;
  const [x, y] = pixelsOf(u);
  // A column its series' opaque line covers would not show: most of a band where buckets hold one
  // or two samples each. (Only its own line is asked: a column another covers costs no more.)
  let line = null;
  const fill = (left, top, width, height) => {
    if (!line || !covers(line, left, top, width, height)) ctx.fillRect(left, top, width, height);
  };
  ctx.save();
  ctx.beginPath();
  ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
  ctx.clip();
  for (let j = 0; j < n; j += 1) {
    ctx.fillStyle = withAlpha(colorOf(colors, j), 0.2);
    line = u.lines[j] ?? null;
    // One bucket either side of the window, so the band enters from the edge.
    bandColumns(u.data[0], u.data[1 + n + j], u.data[1 + 2 * n + j], first - 1, last + 1, spanGaps, x, y, fill);
  }
  ctx.restore();
}

// CSS pixels.
const LINE_WIDTH = 1.5;

// Lines as pixel columns (lines.js says why) where pixels are small: at a device pixel ratio of 2
// and more (phones, HiDPI screens). On a screen of larger pixels the columns' steps show on
// steep slopes, and uPlot's anti-aliased stroke has a quarter of the pixels or fewer to fill.
const COLUMNS_FROM_PIXEL_RATIO = 2;

function lineColumnsOf(u, n, spanGaps) {
  const shown = inView(u);
  if (!shown) return [];
  const [first, last] = shown;
  const { bbox } = u;
  const [x, y] = pixelsOf(u);
  const width = LINE_WIDTH * uPlot.pxRatio;
  // As far as a stroke would reach: half its width past the plot's top and bottom.
  const across = [bbox.left, bbox.left + bbox.width];
  const down = [bbox.top - width / 2, bbox.top + bbox.height + width / 2];
  // One value either side of the window, so the line enters from the edge.
  return Array.from({ length: n }, (_, j) => (u.series[1 + j].show
    ? lineColumns(u.data[0], u.data[1 + j], first - 1, last + 1, spanGaps, x, y, width, across, down) : null));
}

function drawLines(u, colors) {
  const { ctx } = u;
  const fill = (left, top, w, h) => ctx.fillRect(left, top, w, h);
  u.lines.forEach((line, j) => {
    if (!line) return;
    ctx.fillStyle = colorOf(colors, j);
    paintColumns(line, fill);
  });
}

// About the width of one character of an axis label (11 px), a little generous.
const LABEL_CHAR_PIXELS = 6.6;

// A line needs two values: a series with one in view (a program's first push, a label pushed
// once) would show nothing at all. A lone value is drawn as a dot; the count stops at two, so a
// dense series costs two steps.
function lone(u, i, i0, i1) {
  const column = u.data[i];
  let seen = 0;
  for (let j = i0; j <= i1 && seen < 2; j += 1) if (column[j] !== null && column[j] !== undefined) seen += 1;
  return seen === 1;
}

// Wide enough for the longest tick label, so "48.1 MiB/s" is never cut.
function axisWidth(u, values) {
  const longest = (values || []).reduce((n, v) => Math.max(n, String(v ?? "").length), 0);
  return Math.max(40, Math.ceil(longest * LABEL_CHAR_PIXELS) + 18);
}

// A time label is centred on its tick; one on a tick at the right edge (a window ending on a
// round time, as most do now and then) would run off the chart and be cut: it is left out, its
// tick and grid line stay.
function timeLabels(u, splits, increment) {
  const room = u.width - u.bbox.left / uPlot.pxRatio; // from the plot's left to the chart's right edge
  return splits.map((t) => {
    const label = formatAxisTime(t, increment);
    return u.valToPos(t, "x") + (label.length * LABEL_CHAR_PIXELS) / 2 > room ? "" : label;
  });
}

function yRange(low, high, unit) {
  if (low === null || high === null || !Number.isFinite(low) || !Number.isFinite(high)) return unit === "%" ? [0, 100] : [0, 1];
  // Quantities that cannot be negative read best from zero.
  const bottom = Math.min(0, low);
  let top = Math.max(high, bottom);
  if (unit === "%" && top <= 100 && top > 50) top = 100;
  if (top === bottom) top = bottom + (Math.abs(bottom) || 1);
  else top += (top - bottom) * 0.05;
  return [bottom, top];
}

function drawPin(u, pinned, color) {
  if (pinned === null || pinned === undefined) return;
  const x = u.valToPos(pinned, "x", true);
  if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
  const { ctx } = u;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = 2 * uPlot.pxRatio;
  ctx.setLineDash([4 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
  ctx.beginPath();
  ctx.moveTo(x, u.bbox.top);
  ctx.lineTo(x, u.bbox.top + u.bbox.height);
  ctx.stroke();
  ctx.restore();
}

export function chartTitle(group) {
  return titleOf(group.category);
}
