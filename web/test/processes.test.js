import { test } from "node:test";
import assert from "node:assert/strict";
import { filterProcesses, formatCpu, processKey, sortProcesses } from "../src/processes.js";

const LIST = [
  { pid: 30, name: "postgres", user: "postgres", cpu: 2.5, rss: 300, started: 10, command: "postgres -D /var/lib" },
  { pid: 7, name: "Chromium", user: "alice", cpu: 45.1, rss: 900, started: 20, command: "chromium --type=renderer" },
  { pid: 12, name: "bash", user: "alice", cpu: null, rss: 5, started: 30, command: "-bash" },
  { pid: 8, name: "make", user: "bob", cpu: 45.1, rss: 12, started: 40, command: "make -j2 test" },
];
const pids = (list) => list.map((p) => p.pid);

test("numbers sort biggest first, names A to Z, ties by pid, unknown CPU last", () => {
  assert.deepEqual(pids(sortProcesses(LIST, "cpu")), [7, 8, 30, 12]);
  assert.deepEqual(pids(sortProcesses(LIST, "rss")), [7, 30, 8, 12]);
  assert.deepEqual(pids(sortProcesses(LIST, "name")), [12, 7, 8, 30]);
  assert.deepEqual(pids(sortProcesses(LIST, "name", true)), [30, 8, 7, 12]);
  assert.deepEqual(pids(sortProcesses(LIST, "cpu", false)), [12, 30, 7, 8]);
  assert.deepEqual(pids(LIST), [30, 7, 12, 8]); // the list itself is left as it was
});

test("the filter matches every word in name, command, user or pid, in any case", () => {
  assert.deepEqual(pids(filterProcesses(LIST, "alice")), [7, 12]);
  assert.deepEqual(pids(filterProcesses(LIST, "ALICE renderer")), [7]);
  assert.deepEqual(pids(filterProcesses(LIST, "30")), [30]);
  assert.deepEqual(pids(filterProcesses(LIST, "  ")), [30, 7, 12, 8]);
  assert.deepEqual(filterProcesses(LIST, "nothing-like-it"), []);
});

test("a process is its pid and start time; CPU reads as top shows it", () => {
  assert.notEqual(processKey({ pid: 5, started: 1 }), processKey({ pid: 5, started: 2 }));
  assert.equal(formatCpu(null), "–");
  assert.equal(formatCpu(150), "150.0 %");
});
