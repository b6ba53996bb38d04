// A chart's line as columns one pixel wide: pure arithmetic, so node --test covers it; charts.js
// paints them.
//
// Why not the canvas's own stroke: without a GPU, Chromium rasterises a 2D canvas with Skia on
// the CPU, and a stroke wider than a pixel through a thousand points, one a pixel apart, is
// outlined (a join at every point) and then filled: about three quarters of the time 20 charts
// took to draw. The same line as one rectangle per pixel column costs less than half of that,
// and at one point per pixel it is the same picture: the outline the stroke would fill, sampled
// at each column's centre, its top and bottom edges anti-aliased by the fill.

import { present } from "./bands.js";

/**
 * The line through (x(times[i]), y(values[i])) for i from `first` to `last`, `width` pixels wide
 * with round joins, as it crosses each pixel column between x `from` and `to`, its ends clamped
 * to `top` and `bottom`: { left (the first column's x), upper, lower (each column's ends; none
 * where lower <= upper) }. A missing value breaks the line, unless `spanGaps`; a value with no
 * neighbour to join draws nothing (the chart marks it as a dot).
 */
export function lineColumns(times, values, first, last, spanGaps, x, y, width, [from, to], [top, bottom]) {
  // Whole pixels: a column astride two would paint both at half strength, and show the page through.
  const left = Math.floor(from);
  const columns = Math.max(0, Math.ceil(to) - left);
  const upper = new Float64Array(columns).fill(Infinity);
  const lower = new Float64Array(columns).fill(-Infinity);
  const r = width / 2;
  // Columns whose centres lie in [from, to]: c with left + c + 0.5 in it.
  const firstColumn = (from) => Math.max(0, Math.ceil(from - left - 0.5));
  const lastColumn = (to) => Math.min(columns - 1, Math.floor(to - left - 0.5));
  const disc = (cx, cy) => {
    for (let c = firstColumn(cx - r), end = lastColumn(cx + r); c <= end; c += 1) {
      const dx = left + c + 0.5 - cx;
      const h = Math.sqrt(Math.max(0, r * r - dx * dx));
      if (cy - h < upper[c]) upper[c] = cy - h;
      if (cy + h > lower[c]) lower[c] = cy + h;
    }
  };
  // The stroke's body between two points: a rectangle along the segment. On a column's centre
  // line it spans the segment's height there plus h either way, as far as the rectangle's ends
  // (perpendicular to the segment at each point) allow. Points come in time order: x0 <= x1.
  const body = (x0, y0, x1, y1) => {
    const dx = x1 - x0;
    const dy = y1 - y0;
    const squared = dx * dx + dy * dy;
    if (!squared) return;
    const length = Math.sqrt(squared);
    const reach = (r * Math.abs(dy)) / length; // how far the ends' corners lie left and right of the points
    const end = lastColumn(x1 + reach);
    if (!dx) {
      for (let c = firstColumn(x0 - r); c <= lastColumn(x0 + r); c += 1) {
        upper[c] = Math.min(upper[c], y0, y1);
        lower[c] = Math.max(lower[c], y0, y1);
      }
      return;
    }
    const slope = dy / dx;
    const h = (r * length) / dx;
    for (let c = firstColumn(x0 - reach); c <= end; c += 1) {
      const along = left + c + 0.5 - x0;
      const middle = y0 + slope * along;
      let low = middle - h;
      let high = middle + h;
      if (dy) {
        // Where the rectangle's ends cross this column: the points whose projection onto the
        // segment falls on P0 or on P1.
        const atStart = y0 - (along * dx) / dy;
        const atEnd = y0 + (squared - along * dx) / dy;
        low = Math.max(low, Math.min(atStart, atEnd));
        high = Math.min(high, Math.max(atStart, atEnd));
      } else if (along < 0 || along > dx) {
        continue;
      }
      if (high < low) continue;
      if (low < upper[c]) upper[c] = low;
      if (high > lower[c]) lower[c] = high;
    }
  };
  let px = 0;
  let py = 0;
  let joined = false; // whether the previous value may be joined to the next
  let round = false; // whether the previous value has its round join (or end) already
  for (let i = Math.max(0, first); i <= Math.min(times.length - 1, last); i += 1) {
    const v = values[i];
    if (!present(v)) {
      if (!spanGaps) joined = false;
      continue;
    }
    const cx = x(times[i]);
    const cy = y(v);
    if (joined) {
      body(px, py, cx, cy);
      if (!round) disc(px, py);
      disc(cx, cy);
      round = true;
    } else {
      round = false;
    }
    px = cx;
    py = cy;
    joined = true;
  }
  for (let c = 0; c < columns; c += 1) {
    upper[c] = Math.max(top, upper[c]);
    lower[c] = Math.min(bottom, lower[c]);
  }
  return { left, upper, lower };
}

/** Paint a line's columns: fill(left, top, width, height), one call a column. */
export function paintColumns({ left, upper, lower }, fill) {
  for (let c = 0; c < upper.length; c += 1) if (lower[c] > upper[c]) fill(left + c, upper[c], 1, lower[c] - upper[c]);
}

/**
 * Whether the line covers the rectangle (whole pixel columns from `x`, `width` wide) in each of
 * its columns: painted over by the opaque line, what is under it need not be painted at all.
 */
export function covers({ left, upper, lower }, x, top, width, height) {
  if (x < left || x + width > left + upper.length) return false;
  for (let c = x - left; c < x - left + width; c += 1) if (upper[c] > top || lower[c] < top + height) return false;
  return true;
}
