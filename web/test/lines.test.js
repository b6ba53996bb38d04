import { test } from "node:test";
import assert from "node:assert/strict";
import { covers, lineColumns, paintColumns } from "../src/lines.js";

// Pixels: x = t, y = v; a plot from 0 to 100 both ways unless given.
const columns = (times, values, { width = 4, spanGaps = false, across = [0, 100], down = [0, 100] } = {}) => {
  const out = new Map();
  const line = lineColumns(times, values, 0, times.length - 1, spanGaps, (t) => t, (v) => v, width, across, down);
  paintColumns(line, (left, top, w, height) => {
    assert.equal(w, 1);
    assert.ok(!out.has(left), `column ${left} painted twice`);
    out.set(left, [top, top + height]);
  });
  return out;
};

// Distance from (px, py) to the segment (x0, y0)–(x1, y1).
const distance = (px, py, x0, y0, x1, y1) => {
  const dx = x1 - x0;
  const dy = y1 - y0;
  const along = dx || dy ? Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy))) : 0;
  return Math.hypot(px - (x0 + along * dx), py - (y0 + along * dy));
};

test("a level line is its width tall, with round ends half its width past its points", () => {
  const out = columns([20, 40], [50, 50]);
  assert.deepEqual([...out.keys()], Array.from({ length: 24 }, (_, i) => 18 + i)); // centres 18.5 … 41.5
  for (let c = 20; c < 40; c += 1) assert.deepEqual(out.get(c), [48, 52]);
  const [top, bottom] = out.get(18); // 1.5 from the end's centre: a chord of the round end
  assert.ok(Math.abs(bottom - top - 2 * Math.sqrt(4 - 1.5 * 1.5)) < 1e-9);
});

test("an upright line is its width wide, not one column", () => {
  const out = columns([50, 50.2], [10, 90]);
  assert.deepEqual([...out.keys()], [48, 49, 50, 51]); // centres within 2 of x 50 … 50.2
  const [top, bottom] = out.get(50); // its centre 0.5 from the top end's, 0.3 from the bottom end's
  assert.ok(Math.abs(top - (10 - Math.sqrt(4 - 0.25))) < 0.01 && Math.abs(bottom - (90 + Math.sqrt(4 - 0.09))) < 0.01, `${top}–${bottom}`);
});

test("every pixel the stroke covers is inside its column, and every column's ends lie on the stroke", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const times = Array.from({ length: 60 }, (_, i) => 5 + i * 1.5);
  const values = times.map(() => 10 + random() * 80);
  const width = 3.75;
  const out = columns(times, values, { width });
  const near = (x, y) => Math.min(...times.slice(1).map((t, i) => distance(x, y, times[i], values[i], t, values[i + 1])));
  for (const [left, [top, bottom]] of out) {
    const x = left + 0.5;
    assert.ok(near(x, top) <= width / 2 + 1e-6 && near(x, bottom) <= width / 2 + 1e-6, `column ${left}`);
    for (let y = 0; y <= 100; y += 0.25) {
      if (near(x, y) < width / 2 - 1e-6) assert.ok(y >= top && y <= bottom, `column ${left}: ${y} outside ${top}–${bottom}`);
    }
  }
  for (let c = 0; c < 100; c += 1) {
    if (!out.has(c)) for (let y = 0; y <= 100; y += 0.25) assert.ok(near(c + 0.5, y) >= width / 2 - 1e-6, `column ${c} missing`);
  }
});

test("a missing value breaks the line, unless gaps are joined", () => {
  const times = [10, 20, 30, 40];
  const values = [50, null, 50, 50];
  const broken = columns(times, values);
  assert.ok(!broken.has(15) && !broken.has(20) && !broken.has(25));
  assert.ok(broken.has(30) && broken.has(39));
  assert.ok(!broken.has(9)); // a value with no neighbour to join draws nothing
  const joined = columns(times, values, { spanGaps: true });
  for (let c = 10; c < 40; c += 1) assert.deepEqual(joined.get(c), [48, 52]);
});

test("columns are whole pixels, even in a plot that starts between two", () => {
  const out = columns([20, 40], [50, 50], { across: [10.5, 60.5] });
  for (const left of out.keys()) assert.ok(Number.isInteger(left));
});

test("columns stay inside the plot: none left or right of it, clamped at its top and bottom", () => {
  const out = columns([-50, 150], [1, 1], { across: [10, 60], down: [0, 100] });
  assert.deepEqual([Math.min(...out.keys()), Math.max(...out.keys())], [10, 59]);
  for (const [top, bottom] of out.values()) assert.deepEqual([top, bottom], [0, 3]);
});

test("what lies wholly under the line is covered; what reaches past it, or past its ends, is not", () => {
  const line = lineColumns([20, 40], [50, 50], 0, 1, false, (t) => t, (v) => v, 4, [0, 100], [0, 100]);
  assert.ok(covers(line, 25, 48.5, 10, 3)); // inside 48–52 from column 25 to 34
  assert.ok(!covers(line, 25, 47, 10, 3)); // above its top
  assert.ok(!covers(line, 35, 49, 10, 2)); // columns 40–44: past the round end
  assert.ok(!covers(line, 95, 49, 10, 2)); // past the last column it has
});
