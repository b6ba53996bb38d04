// The min–max band as columns: pure arithmetic, so node --test covers it; charts.js paints them.

export const present = (v) => v !== null && v !== undefined;

/**
 * One column per bucket from `first` to `last`: from its min to its max, between the midpoints to
 * its neighbours (over empty buckets too when `spanGaps`), its sides on whole pixels so that
 * columns abut without seams. Buckets narrower than a pixel share one column, the union of their
 * spans, so no spike is lost. x(t) and y(v) give pixels; fill(left, top, width, height) paints.
 */
export function bandColumns(times, lower, upper, first, last, spanGaps, x, y, fill) {
  const has = (i) => i >= 0 && i < times.length && present(lower[i]) && present(upper[i]);
  const neighbour = (i, step) => {
    let k = i + step;
    if (spanGaps) while (k >= 0 && k < times.length && !has(k)) k += step;
    return k >= 0 && k < times.length ? k : null;
  };
  let left = 0;
  let right = -Infinity;
  let top = 0;
  let bottom = 0;
  const flush = () => {
    if (right > left && bottom > top) fill(left, top, right - left, bottom - top);
  };
  for (let i = Math.max(0, first); i <= Math.min(times.length - 1, last); i += 1) {
    if (!has(i)) continue;
    const centre = x(times[i]);
    const before = neighbour(i, -1);
    const after = neighbour(i, 1);
    // At either end, as far out as the grid's step reaches in.
    const half = i + 1 < times.length ? (x(times[i + 1]) - centre) / 2 : i > 0 ? (centre - x(times[i - 1])) / 2 : 0.5;
    const start = Math.round(before === null ? centre - half : (x(times[before]) + centre) / 2);
    const end = Math.max(start + 1, Math.round(after === null ? centre + half : (centre + x(times[after])) / 2));
    const high = y(upper[i]);
    const low = y(lower[i]);
    if (start < right) {
      right = Math.max(right, end);
      top = Math.min(top, high);
      bottom = Math.max(bottom, low);
    } else {
      flush();
      [left, right, top, bottom] = [start, end, high, low];
    }
  }
  flush();
}
