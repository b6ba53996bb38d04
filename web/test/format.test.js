import { test } from "node:test";
import assert from "node:assert/strict";
import { compareCategories, formatAxisTime, formatDuration, formatTick, formatValue, splitCategory, titleOf } from "../src/format.js";

test("bytes use binary prefixes with three significant digits", () => {
  assert.equal(formatValue(0, "B"), "0 B");
  assert.equal(formatValue(512, "B"), "512 B");
  assert.equal(formatValue(1536, "B"), "1.50 KiB");
  assert.equal(formatValue(1023.9, "B"), "1.00 KiB");
  assert.equal(formatValue(8 * 2 ** 30, "B"), "8.00 GiB");
  assert.equal(formatValue(123.4 * 2 ** 20, "B/s"), "123 MiB/s");
  assert.equal(formatValue(5 * 2 ** 50, "B"), "5.00 PiB");
});

test("percent, temperature, rates, frequency and counts", () => {
  assert.equal(formatValue(42.123, "%"), "42.1 %");
  assert.equal(formatValue(100, "%"), "100 %");
  assert.equal(formatValue(0.5, "%"), "0.500 %");
  assert.equal(formatValue(51.26, "°C"), "51.3 °C");
  assert.equal(formatValue(1530, "/s"), "1.53k /s");
  assert.equal(formatValue(2.4e9, "Hz"), "2.40 GHz");
  assert.equal(formatValue(3, ""), "3.00");
  assert.equal(formatValue(250, ""), "250");
  assert.equal(formatValue(12000, ""), "12.0k");
  assert.equal(formatValue(2500, "RPM"), "2500 RPM");
  assert.equal(formatValue(820, "L"), "820 L");
});

test("missing and odd values never throw", () => {
  assert.equal(formatValue(null, "B"), "–");
  assert.equal(formatValue(undefined, "%"), "–");
  assert.equal(formatValue(NaN, "%"), "–");
  assert.equal(formatValue(Infinity, "B"), "∞");
  assert.equal(formatValue(-2048, "B"), "-2.00 KiB");
  assert.equal(formatValue(0.0001, ""), "1.0e-4");
});

test("durations read as people say them", () => {
  assert.equal(formatValue(42, "s"), "42 s");
  assert.equal(formatDuration(125), "2 min 5 s");
  assert.equal(formatDuration(3 * 3600 + 120), "3 h 2 min");
  assert.equal(formatDuration(2 * 86400 + 5 * 3600), "2 d 5 h");
});

test("axis ticks are short", () => {
  assert.equal(formatTick(50, "%"), "50%");
  assert.equal(formatTick(10 * 2 ** 20, "B/s"), "10 MiB/s");
  assert.equal(formatTick(2e9, "Hz"), "2 GHz");
  assert.equal(formatTick(2000, "/s"), "2 k/s");
  assert.equal(formatTick(3000, "RPM"), "3000 RPM");
  assert.equal(formatTick(1500, ""), "1.5k");
  assert.equal(formatTick(45, "°C"), "45°");
});

test("time axis labels follow the tick spacing", () => {
  const t = new Date(2026, 10, 28, 14, 5, 9).getTime() / 1000;
  assert.equal(formatAxisTime(t, 10), "14:05:09");
  assert.equal(formatAxisTime(t, 600), "14:05");
  assert.equal(formatAxisTime(t, 86400), "11-28");
  assert.equal(formatAxisTime(t, 86400 * 30), "2026-11-28");
  const midnight = new Date(2026, 10, 28, 0, 0, 0).getTime() / 1000;
  assert.equal(formatAxisTime(midnight, 3600), "11-28");
});

test("categories: families, devices, titles and order", () => {
  assert.deepEqual(splitCategory("network.eth0"), { family: "network", device: "eth0" });
  assert.deepEqual(splitCategory("disk_io.nvme0n1"), { family: "disk_io", device: "nvme0n1" });
  assert.equal(titleOf("cpu"), "CPU");
  assert.equal(titleOf("disk_io.sda"), "Disk I/O · sda");
  assert.equal(titleOf("garden"), "garden");
  const sorted = ["garden", "network.eth0", "cpu", "memory", "apples", "cpu_modes"].sort(compareCategories);
  assert.deepEqual(sorted, ["cpu", "cpu_modes", "memory", "network.eth0", "apples", "garden"]);
});
