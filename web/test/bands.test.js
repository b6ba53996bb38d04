import { test } from "node:test";
import assert from "node:assert/strict";
import { bandColumns } from "../src/bands.js";

// Pixels: x = t, y = 100 - v (up is smaller y, as on a canvas).
const columns = (times, lower, upper, spanGaps = false, scale = 1) => {
  const out = [];
  bandColumns(times, lower, upper, 0, times.length - 1, spanGaps, (t) => t * scale, (v) => 100 - v,
    (left, top, width, height) => out.push({ left, top, width, height }));
  return out;
};

test("one column per bucket, abutting on whole pixels, from max down to min", () => {
  const out = columns([10, 20, 30], [1, 2, 3], [5, 6, 7]);
  assert.deepEqual(out, [
    { left: 5, top: 95, width: 10, height: 4 },
    { left: 15, top: 94, width: 10, height: 4 },
    { left: 25, top: 93, width: 10, height: 4 },
  ]);
  for (const c of out) assert.ok(Number.isInteger(c.left) && Number.isInteger(c.width));
});

test("a bucket whose min is its max has no band", () => {
  assert.deepEqual(columns([10, 20, 30], [1, 4, 3], [5, 4, 7]).map((c) => c.left), [5, 25]);
});

test("buckets narrower than a pixel share one column, and a spike in any of them survives", () => {
  const times = Array.from({ length: 40 }, (_, i) => i);
  const lower = times.map(() => 10);
  const upper = times.map((i) => (i === 17 ? 90 : 20));
  const out = columns(times, lower, upper, false, 0.25); // four buckets a pixel
  assert.ok(out.length <= 11, `${out.length} columns for 10 pixels`);
  assert.equal(Math.min(...out.map((c) => c.top)), 10); // the spike's max, 100 - 90
  let covered = 0;
  for (const c of out) covered += c.width;
  assert.equal(covered, out[out.length - 1].left + out[out.length - 1].width - out[0].left); // no gaps, no overlaps
});

test("an empty bucket is a hole, unless gaps are joined", () => {
  const times = [10, 20, 30, 40];
  const lower = [1, null, 1, 1];
  const upper = [5, null, 5, 5];
  const holes = columns(times, lower, upper);
  assert.deepEqual(holes.map((c) => [c.left, c.left + c.width]), [[5, 15], [25, 35], [35, 45]]);
  const joined = columns(times, lower, upper, true);
  assert.deepEqual(joined.map((c) => [c.left, c.left + c.width]), [[5, 20], [20, 35], [35, 45]]);
});
