import { test } from "node:test";
import assert from "node:assert/strict";
import { parseView, printView, windowOf } from "../src/view.js";

test("an empty address is the default view", () => {
  assert.deepEqual(parseView(""), { source: null, range: "1h", from: null, to: null, pinned: null });
  assert.equal(printView(parseView("")), "");
});

test("a preset, a custom window and a pinned moment round-trip", () => {
  for (const search of ["?range=24h", "?source=garden&from=1000.5&to=2000&t=1500.25", "?range=7d&t=99"]) {
    assert.equal(printView(parseView(search)), search);
  }
});

test("nonsense in the address falls back rather than breaking", () => {
  assert.equal(parseView("?range=forever").range, "1h");
  assert.equal(parseView("?from=2000&to=1000").range, "1h");
  assert.equal(parseView("?from=abc&to=1000").range, "1h");
  assert.equal(parseView("?t=soon").pinned, null);
});

test("a source name is carried safely", () => {
  const view = parseView(`?source=${encodeURIComponent("a&b=<x>")}`);
  assert.equal(view.source, "a&b=<x>");
  assert.equal(parseView(printView(view)).source, "a&b=<x>");
});

test("the window: a preset ends now, custom is as given", () => {
  assert.deepEqual(windowOf(parseView("?range=5m"), 10000), { from: 9700, to: 10000 });
  assert.deepEqual(windowOf(parseView("?from=1&to=2"), 10000), { from: 1, to: 2 });
});
