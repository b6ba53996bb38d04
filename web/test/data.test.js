import { test } from "node:test";
import assert from "node:assert/strict";
import { appendSample, fromResponse, latestValues, mergeResponse, plotColumns, shapeOf, trimBefore, valuesAt } from "../src/data.js";

const response = () => ({
  start: 0, end: 40, step: 10, times: [5, 15, 25, 35],
  series: [
    { category: "cpu", label: "total", unit: "%", kind: "counter", graph: true, description: "",
      min: [1, 2, 3, 4], avg: [2, 3, 4, 5], max: [3, 4, 5, 6] },
    { category: "disk_free", label: "/", unit: "B", kind: "gauge", graph: false, description: "",
      min: [9, null, 9, 9], avg: [9, null, 9, 9], max: [9, null, 9, 9] },
    { category: "cpu", label: "core0", unit: "%", kind: "counter", graph: true, description: "",
      min: [0, 0, 0, 0], avg: [1, 1, 1, 1], max: [2, 2, 2, 2] },
  ],
});

test("series are grouped per category, labels in order", () => {
  const store = fromResponse(response());
  assert.deepEqual([...store.categories.keys()], ["cpu", "disk_free"]);
  const cpu = store.categories.get("cpu");
  assert.deepEqual(cpu.labels, ["total", "core0"]);
  assert.equal(cpu.graph, true);
  assert.equal(store.categories.get("disk_free").graph, false);
  const columns = plotColumns(store, cpu);
  assert.equal(columns.length, 1 + 3 * 2);
  assert.deepEqual(columns[1], [2, 3, 4, 5]); // total avg
  assert.deepEqual(columns[3], [1, 2, 3, 4]); // total min
  assert.deepEqual(columns[6], [2, 2, 2, 2]); // core0 max
});

test("a sample inside the last bucket merges into it; a later one appends", () => {
  const store = fromResponse(response());
  assert.equal(appendSample(store, { time: 37, values: { cpu: { total: 10 } } }), "merged");
  const cpu = store.categories.get("cpu");
  assert.equal(cpu.max[0][3], 10);
  assert.equal(cpu.min[0][3], 4);
  assert.equal(cpu.avg[0][3], 7.5);
  assert.equal(appendSample(store, { time: 41, values: { cpu: { total: 7, core0: 1 } } }), "appended");
  assert.deepEqual(store.times, [5, 15, 25, 35, 45]);
  assert.equal(cpu.avg[0][4], 7);
  assert.equal(store.categories.get("disk_free").avg[0][4], null);
  assert.equal(appendSample(store, { time: 44, values: { cpu: { total: 9 } } }), "merged");
  assert.equal(cpu.avg[0][4], 8);
});

test("old samples are ignored; unknown series ask for a reload", () => {
  const store = fromResponse(response());
  assert.equal(appendSample(store, { time: 12, values: { cpu: { total: 1 } } }), "old");
  assert.equal(appendSample(store, { time: 50, values: { gpu: { total: 1 } } }), "unknown");
  assert.equal(appendSample(store, { time: 50, values: { cpu: { core9: 1 } } }), "unknown");
  assert.equal(store.times.length, 4);
});

test("trimming keeps one point before the window so the line enters from the edge", () => {
  const store = fromResponse(response());
  assert.equal(trimBefore(store, 30), 2);
  assert.deepEqual(store.times, [25, 35]);
  assert.deepEqual(store.categories.get("cpu").avg[0], [4, 5]);
});

test("values at an index cover every category", () => {
  const store = fromResponse(response());
  assert.deepEqual(valuesAt(store, 1), {
    cpu: { total: { avg: 3, min: 2, max: 4 }, core0: { avg: 1, min: 0, max: 2 } },
    disk_free: { "/": { avg: null, min: null, max: null } },
  });
});

test("the shape changes when a label appears", () => {
  const a = shapeOf(fromResponse(response()));
  const changed = response();
  changed.series[0].label = "other";
  assert.notEqual(a, shapeOf(fromResponse(changed)));
  assert.equal(a, shapeOf(fromResponse(response())));
});

test("latest: each series' newest value, whenever it came", () => {
  const store = fromResponse(response());
  appendSample(store, { time: 45, values: { cpu: { total: 50 } } });
  const latest = latestValues(store);
  assert.equal(latest.time, 45);
  assert.equal(latest.values.cpu.total.avg, 50);
  assert.equal(latest.values.cpu.core0.avg, 1);
  assert.equal(latest.values.disk_free["/"].avg, 9);
});

test("latest is never after the window's end, though the newest bucket's centre may be", () => {
  // A year's chart in 8-hour buckets: the bucket holding now is centred hours ahead of it.
  const store = fromResponse(response()); // the last bucket, 30–40, is centred at 35
  assert.equal(latestValues(store, 32).time, 32);
  assert.equal(latestValues(store, 32).values.cpu.total.avg, 5);
  assert.equal(latestValues(store, 50).time, 35);
  assert.equal(latestValues(store).time, 35);
});

test("a second answer for the same window merges onto one time grid", () => {
  const store = fromResponse(response());
  const second = {
    start: 0, end: 40, step: 10, times: [5, 25, 45],
    series: [{ category: "memory", label: "used", unit: "B", kind: "gauge", graph: true, description: "",
               min: [1, 2, 3], avg: [1, 2, 3], max: [1, 2, 3] }],
  };
  assert.equal(mergeResponse(store, second), true);
  assert.deepEqual(store.times, [5, 15, 25, 35, 45]);
  assert.deepEqual(store.categories.get("memory").avg[0], [1, null, 2, null, 3]);
  assert.deepEqual(store.categories.get("cpu").avg[0], [2, 3, 4, 5, null]);
  assert.deepEqual([...store.categories.keys()], ["cpu", "disk_free", "memory"]);
  const same = { ...second, times: [...store.times], series: [{ ...second.series[0], category: "swap",
                 min: [0, 0, 0, 0, 0], avg: [0, 0, 0, 0, 0], max: [0, 0, 0, 0, 0] }] };
  assert.equal(mergeResponse(store, same), false);
  assert.equal(store.categories.size, 4);
});
