// One uPlot chart per category, all on one time window and one synced cursor.

import uPlot from "uplot";
import { binaryIncrements, formatAxisTime, formatTick, formatValue, titleOf } from "./format.js";
import { plotColumns } from "./data.js";

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
 * over empty buckets, and the callbacks onCursor(u), onSelect(from, to).
 */
export function createChart(box, size, store, group, context, colors) {
  const n = group.labels.length;
  const unit = group.unit;
  // A source with a sampling interval marks its outages with nulls, to be shown as holes. A
  // pushing program has no interval: an empty bucket only means no push landed in it.
  const spanGaps = context.spanGaps();
  const series = [{}];
  group.labels.forEach((label, i) => {
    series.push({ label, stroke: colorOf(colors, i), width: 1.5, points: { show: false }, spanGaps,
                  value: (u, v) => formatValue(v, unit) });
  });
  // The min and max are not lines: the max series fills the band down to the min, one polygon
  // per run of data. (uPlot's own bands clip with both paths, which costs several times more to
  // rasterise, and 20 charts are drawn at once.)
  group.labels.forEach((label) => series.push({ label: `${label} min`, width: 0, paths: () => null }));
  group.labels.forEach((label, i) => series.push({ label: `${label} max`, width: 0, points: { show: false },
                                                   fill: withAlpha(colorOf(colors, i), 0.2),
                                                   paths: bandPath(1 + n + i, spanGaps) }));
  const axis = { stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid, width: 1 },
                 font: "11px system-ui, sans-serif" };
  const options = {
    width: Math.max(100, size.width),
    height: size.height || 160,
    legend: { show: false },
    padding: [8, 8, 0, 0],
    cursor: {
      y: false, // a level line means nothing on the other charts
      sync: { key: SYNC_KEY },
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
      { ...axis, space: 70, size: 28, values: (u, splits, axisIndex, space, increment) => splits.map((t) => formatAxisTime(t, increment)) },
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
      draw: [(u) => drawPin(u, context.pinned(), colors.pin)],
    },
  };
  const chart = new uPlot(options, plotColumns(store, group), box);
  chart.category = group.category;
  return chart;
}

const BINARY_INCREMENTS = binaryIncrements();

function bandPath(lowerIndex, spanGaps) {
  return (u, upperIndex, first, last) => {
    const times = u.data[0];
    const upper = u.data[upperIndex];
    const lower = u.data[lowerIndex];
    const path = new Path2D();
    let run = [];
    const close = () => {
      if (run.length > 1) {
        const x = (i) => u.valToPos(times[i], "x", true);
        path.moveTo(x(run[0]), u.valToPos(upper[run[0]], "y", true));
        for (const i of run) path.lineTo(x(i), u.valToPos(upper[i], "y", true));
        for (let k = run.length - 1; k >= 0; k -= 1) path.lineTo(x(run[k]), u.valToPos(lower[run[k]], "y", true));
        path.closePath();
      }
      run = [];
    };
    for (let i = first; i <= last; i += 1) {
      if (upper[i] === null || upper[i] === undefined || lower[i] === null || lower[i] === undefined) {
        if (!spanGaps) close();
      } else {
        run.push(i);
      }
    }
    close();
    return { stroke: null, fill: path, clip: null, band: null, gaps: null, flags: 0 };
  };
}

// Wide enough for the longest tick label, so "48.1 MiB/s" is never cut.
function axisWidth(u, values) {
  const longest = (values || []).reduce((n, v) => Math.max(n, String(v ?? "").length), 0);
  return Math.max(40, Math.ceil(longest * 6.6) + 18);
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
