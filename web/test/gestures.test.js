import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_SPAN, MIN_SPAN, clampWindow, endsAtNow, nearestIndex, panBy, pinch, pointsFor, rangeSeconds,
  selectWindow, stepIndex, timeAt, wheelFactor, zoneAt, zoomAt,
} from "../src/gestures.js";

const near = (actual, expected, tolerance = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not ${expected}`);
const win = { from: 1000, to: 2000 };

test("upper half moves the cursor, lower half pans", () => {
  assert.equal(zoneAt(10, 200), "cursor");
  assert.equal(zoneAt(99.9, 200), "cursor");
  assert.equal(zoneAt(100, 200), "pan");
  assert.equal(zoneAt(190, 200), "pan");
});

test("pixels map to times across the plot", () => {
  assert.equal(timeAt(win, 0, 500), 1000);
  assert.equal(timeAt(win, 250, 500), 1500);
  assert.equal(timeAt(win, 500, 500), 2000);
});

test("pan follows the finger: dragging right shows earlier times", () => {
  assert.deepEqual(panBy(win, 100, 500), { from: 800, to: 1800 });
  assert.deepEqual(panBy(win, -50, 500), { from: 1100, to: 2100 });
});

test("pan stops at the newest moment, keeping the span", () => {
  assert.deepEqual(panBy(win, -250, 500, 2100), { from: 1100, to: 2100 });
});

test("zoom keeps the moment under the pointer where it is", () => {
  const zoomed = zoomAt(win, 0.5, 100, 500);
  near(zoomed.to - zoomed.from, 500);
  near(timeAt(zoomed, 100, 500), timeAt(win, 100, 500));
  const out = zoomAt(win, 2, 400, 500);
  near(out.to - out.from, 2000);
  near(timeAt(out, 400, 500), 1800);
});

test("pinch: the moments under both fingers stay under them", () => {
  // Fingers at 200 and 300 move apart to 100 and 400: three times closer in.
  const zoomed = pinch(win, 200, 300, 100, 400, 500);
  near(zoomed.to - zoomed.from, 1000 / 3);
  near(timeAt(zoomed, 100, 500), timeAt(win, 200, 500));
  near(timeAt(zoomed, 400, 500), timeAt(win, 300, 500));
  // Closer together zooms out.
  const out = pinch(win, 100, 400, 200, 300, 500);
  near(out.to - out.from, 3000);
});

test("pinch with both fingers moving together pans", () => {
  const moved = pinch(win, 200, 300, 250, 350, 500);
  near(moved.from, 900);
  near(moved.to, 1900);
});

test("pinch with fingers crossed over does nothing odd", () => {
  assert.deepEqual(pinch(win, 200, 300, 300, 200, 500), win);
});

test("a window is never narrower or wider than the store can show", () => {
  const tiny = clampWindow({ from: 100, to: 101 });
  near(tiny.to - tiny.from, MIN_SPAN);
  near((tiny.from + tiny.to) / 2, 100.5);
  const huge = clampWindow({ from: 0, to: 10 * MAX_SPAN });
  near(huge.to - huge.from, MAX_SPAN);
  const reversed = clampWindow({ from: 200, to: 100 });
  assert.ok(reversed.to > reversed.from);
  assert.equal(clampWindow(win, 1500).to, 1500);
});

test("zooming in a long way stops at the smallest span", () => {
  let w = win;
  for (let i = 0; i < 50; i += 1) w = zoomAt(w, 0.5, 250, 500);
  near(w.to - w.from, MIN_SPAN);
});

test("drag-select becomes the window; a tiny drag is a click", () => {
  assert.deepEqual(selectWindow(win, 400, 100, 500), { from: 1200, to: 1800 });
  assert.equal(selectWindow(win, 100, 102, 500), null);
});

test("wheel: down zooms out, up zooms in, symmetric and bounded", () => {
  assert.ok(wheelFactor(100) > 1);
  assert.ok(wheelFactor(-100) < 1);
  near(wheelFactor(100) * wheelFactor(-100), 1);
  assert.equal(wheelFactor(10000), wheelFactor(300));
});

test("points: one per device pixel, within limits", () => {
  assert.equal(pointsFor(500, 1), 500);
  assert.equal(pointsFor(500, 2), 1000);
  assert.equal(pointsFor(500, 0.5), 500);
  assert.equal(pointsFor(2, 1), 10);
  assert.equal(pointsFor(10000, 3), 4000);
});

test("cursor steps through samples", () => {
  const times = [10, 20, 30, 40];
  assert.equal(nearestIndex(times, 24), 1);
  assert.equal(nearestIndex(times, 26), 2);
  assert.equal(nearestIndex(times, -5), 0);
  assert.equal(nearestIndex(times, 99), 3);
  assert.equal(nearestIndex([], 1), -1);
  assert.equal(stepIndex(times, 20, 1), 2);
  assert.equal(stepIndex(times, 20, -1), 0);
  assert.equal(stepIndex(times, 40, 10), 3);
  assert.equal(stepIndex(times, 10, -10), 0);
});

test("presets and following now", () => {
  assert.equal(rangeSeconds("5m"), 300);
  assert.equal(rangeSeconds("1y"), 365 * 86400);
  assert.equal(rangeSeconds("bogus"), null);
  assert.equal(endsAtNow({ from: 0, to: 100 }, 101, 5), true);
  assert.equal(endsAtNow({ from: 0, to: 100 }, 200, 5), false);
});
