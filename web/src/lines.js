// A chart's line as columns one pixel wide: pure arithmetic, so node --test covers it; charts.js
// paints them.
//
// Why not the canvas's own stroke: without a GPU, Chromium rasterises a 2D canvas with Skia on
// the CPU, and a stroke wider than a pixel through a thousand points, one a pixel apart, is
// outlined (a join at every point) and then filled: about three quarters of the time 20 charts
// took to draw. The same line as one rectangle per pixel column costs less than half of that,
// and at one point per pixel it is the same picture: the outline the stroke would fill, sampled
// at each column's centre, its top and bottom edges anti-aliased by the fill.

const present = (v) => v !== null && v !== undefined;

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
  const cover = (c, from, to) => {
    if (from < upper[c]) upper[c] = from;
    if (to > lower[c]) lower[c] = to;
  };
  // Columns whose centres lie in [from, to]: c with left + c + 0.5 in it.
  const firstColumn = (from) => Math.max(0, Math.ceil(from - left - 0.5));
  const lastColumn = (to) => Math.min(columns - 1, Math.floor(to - left - 0.5));
  const disc = (cx, cy) => {
    for (let c = firstColumn(cx - r), end = lastColumn(cx + r); c <= end; c += 1) {
      const dx = left + c + 0.5 - cx;
      const h = Math.sqrt(Math.max(0, r * r - dx * dx));
      cover(c, cy - h, cy + h);
    }
  };
  // The stroke's body between two points: a rectangle turned along the segment. Where a column's
  // centre line crosses it, between the lowest and highest crossing of its four sides.
  const body = (x0, y0, x1, y1) => {
    const dx = x1 - x0;
    const dy = y1 - y0;
    const length = Math.hypot(dx, dy);
    if (!length) return;
    const nx = (-dy / length) * r;
    const ny = (dx / length) * r;
    const corners = [x0 + nx, y0 + ny, x1 + nx, y1 + ny, x1 - nx, y1 - ny, x0 - nx, y0 - ny];
    const from = Math.min(corners[0], corners[2], corners[4], corners[6]);
    const to = Math.max(corners[0], corners[2], corners[4], corners[6]);
    for (let c = firstColumn(from), end = lastColumn(to); c <= end; c += 1) {
      const xc = left + c + 0.5;
      let low = Infinity;
      let high = -Infinity;
      for (let k = 0; k < 8; k += 2) {
        const ax = corners[k];
        const ay = corners[k + 1];
        const bx = corners[(k + 2) % 8];
        const by = corners[(k + 3) % 8];
        if ((ax - xc) * (bx - xc) > 0 || ax === bx) continue;
        const yc = ay + ((by - ay) * (xc - ax)) / (bx - ax);
        if (yc < low) low = yc;
        if (yc > high) high = yc;
      }
      if (high >= low) cover(c, low, high);
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
    [px, py, joined] = [cx, cy, true];
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
