// The arithmetic of moving through time: pure functions on windows {from, to} in seconds,
// and pixel positions within a plot. The event handling lives in touch.js.

export const RANGES = [
  ["5m", "5 min", 300],
  ["15m", "15 min", 900],
  ["1h", "1 h", 3600],
  ["6h", "6 h", 6 * 3600],
  ["24h", "24 h", 86400],
  ["7d", "7 d", 7 * 86400],
  ["30d", "30 d", 30 * 86400],
  ["1y", "1 y", 365 * 86400],
];

export const DEFAULT_RANGE = "1h";
// Zooming in further than this shows nothing the store can tell apart.
export const MIN_SPAN = 10;
export const MAX_SPAN = 2 * 365 * 86400;

export function rangeSeconds(name) {
  const found = RANGES.find(([key]) => key === name);
  return found ? found[2] : null;
}

/** The upper half of a plot moves the cursor; the lower half pans. */
export function zoneAt(y, height) {
  return y < height / 2 ? "cursor" : "pan";
}

export function timeAt(win, x, width) {
  return win.from + (x / width) * (win.to - win.from);
}

/** Keep a window's span within bounds, and its end no later than `latest` (if given). */
export function clampWindow(win, latest = Infinity) {
  const span = Math.min(MAX_SPAN, Math.max(MIN_SPAN, win.to - win.from || MIN_SPAN));
  const middle = (win.from + win.to) / 2;
  let from = middle - span / 2;
  let to = middle + span / 2;
  if (to > latest) {
    to = latest;
    from = to - span;
  }
  return { from, to };
}

/** Zoom by `factor` (< 1 zooms in) about the time under x: that moment stays under the pointer. */
export function zoomAt(win, factor, x, width, latest = Infinity) {
  const anchor = timeAt(win, x, width);
  return clampWindow({
    from: anchor - (anchor - win.from) * factor,
    to: anchor + (win.to - anchor) * factor,
  }, latest);
}

/** Drag by dx pixels: content follows the finger, so moving right shows earlier times. */
export function panBy(win, dx, width, latest = Infinity) {
  const shift = -(dx / width) * (win.to - win.from);
  return clampWindow({ from: win.from + shift, to: win.to + shift }, latest);
}

/**
 * Two fingers started at xa0, xb0 (pixels) in the window `start` and are now at xa1, xb1: the
 * moments under the fingers at the start stay under them now, so the new window follows both.
 */
export function pinch(start, xa0, xb0, xa1, xb1, width, latest = Infinity) {
  const ta = timeAt(start, xa0, width);
  const tb = timeAt(start, xb0, width);
  const dx = xb1 - xa1;
  if (Math.abs(dx) < 1 || Math.abs(xb0 - xa0) < 1) {
    return panBy(start, (xa1 + xb1 - xa0 - xb0) / 2, width, latest);
  }
  const secondsPerPixel = (tb - ta) / dx;
  if (!(secondsPerPixel > 0)) return start;
  const from = ta - xa1 * secondsPerPixel;
  return clampWindow({ from, to: from + width * secondsPerPixel }, latest);
}

/** A selection from x0 to x1 (pixels) becomes the window; too narrow a drag is a click. */
export function selectWindow(win, x0, x1, width, minPixels = 4) {
  const left = Math.min(x0, x1);
  const right = Math.max(x0, x1);
  if (right - left < minPixels) return null;
  return clampWindow({ from: timeAt(win, left, width), to: timeAt(win, right, width) });
}

/** Wheel delta (pixels) to a zoom factor: smooth, symmetric, bounded per event. */
export function wheelFactor(deltaY) {
  const step = Math.max(-300, Math.min(300, deltaY));
  return Math.exp(step / 500);
}

/** How many buckets to ask for: one per device pixel of plot, within the server's limits. */
export function pointsFor(plotWidth, pixelRatio = 1) {
  const points = Math.round(plotWidth * Math.max(1, pixelRatio));
  return Math.max(10, Math.min(4000, points));
}

/** Keyboard steps for the cursor: index of the next point in `times` from the time `at`. */
export function stepIndex(times, at, direction) {
  if (!times.length) return -1;
  let index = nearestIndex(times, at);
  if (index < 0) return direction > 0 ? 0 : times.length - 1;
  index += direction;
  return Math.max(0, Math.min(times.length - 1, index));
}

/** Binary search: the index in ascending `times` nearest to t. */
export function nearestIndex(times, t) {
  if (!times.length || t === null || t === undefined || Number.isNaN(t)) return -1;
  let low = 0;
  let high = times.length - 1;
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    if (times[middle] < t) low = middle;
    else high = middle;
  }
  return Math.abs(times[low] - t) <= Math.abs(times[high] - t) ? low : high;
}

/** Does a window end close enough to now that new samples belong on its right edge? */
export function endsAtNow(win, now, slack) {
  return Math.abs(now - win.to) <= slack;
}
