// Numbers for people. Units come from the API; this module only decides how to show them.

const BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const SI = ["", "k", "M", "G", "T", "P"];

// Three significant digits: enough to compare, few enough to read at a glance.
function digits(value) {
  if (value === 0) return "0";
  if (Math.abs(value) < 0.001) return value.toExponential(1);
  // Round first, so 0.9999 shows as 1.00 rather than 1.000.
  const rounded = Number(value.toPrecision(3));
  const size = Math.abs(rounded);
  if (size >= 100) return rounded.toFixed(0);
  if (size >= 10) return rounded.toFixed(1);
  if (size >= 1) return rounded.toFixed(2);
  return rounded.toFixed(3);
}

function scaled(value, base, names) {
  let index = 0;
  let size = value;
  while (Math.abs(size) >= base * 0.9995 && index < names.length - 1) {
    size /= base;
    index += 1;
  }
  return [size, names[index]];
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  const sign = seconds < 0 ? "−" : "";
  let rest = Math.round(Math.abs(seconds));
  if (rest < 60) return `${sign}${rest} s`;
  const days = Math.floor(rest / 86400);
  rest -= days * 86400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  if (days) return `${sign}${days} d ${hours} h`;
  if (hours) return `${sign}${hours} h ${minutes} min`;
  return `${sign}${minutes} min ${rest - minutes * 60} s`;
}

/** A value with its unit, e.g. formatValue(1536, "B/s") → "1.50 KiB/s". */
export function formatValue(value, unit = "") {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  switch (unit) {
    case "B":
    case "B/s": {
      const [size, name] = scaled(value, 1024, BINARY);
      return `${digits(size)} ${name}${unit === "B/s" ? "/s" : ""}`;
    }
    case "%":
      return `${digits(value)} %`;
    case "°C":
      return `${value.toFixed(1)} °C`;
    case "s":
      return formatDuration(value);
    case "Hz": {
      const [size, prefix] = scaled(value, 1000, SI);
      return `${digits(size)} ${prefix}Hz`;
    }
    case "/s": {
      const [size, prefix] = scaled(value, 1000, SI);
      return `${digits(size)}${prefix} /s`;
    }
    case "":
    case null: {
      const [size, prefix] = scaled(value, 1000, SI);
      return `${digits(size)}${prefix}`;
    }
    default:
      return `${digits(value)} ${unit}`;
  }
}

/** Shorter labels for an axis: no unit repeated on every tick beyond its scale. */
export function formatTick(value, unit = "") {
  if (value === null || value === undefined) return "";
  if (unit === "%") return `${+value.toFixed(2)}%`;
  if (unit === "°C") return `${+value.toFixed(1)}°`;
  if (unit === "s") return formatDuration(value);
  if (unit === "RPM") return `${+value.toPrecision(4)} RPM`; // nobody says kRPM
  const binary = unit === "B" || unit === "B/s";
  const [size, name] = binary ? scaled(value, 1024, BINARY) : scaled(value, 1000, SI);
  const number = +size.toPrecision(3);
  if (binary) return `${number} ${name}${unit === "B/s" ? "/s" : ""}`;
  return unit ? `${number} ${name}${unit}` : `${number}${name}`;
}

const pad = (n) => String(n).padStart(2, "0");

/** A moment in local time; the date is left out when it is today. */
export function formatTime(seconds, now = Date.now() / 1000) {
  const date = new Date(seconds * 1000);
  const today = new Date(now * 1000);
  const clock = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  if (date.toDateString() === today.toDateString()) return clock;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${clock}`;
}

/** For <input type="datetime-local">: local time, minutes. */
export function toLocalInput(seconds) {
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(text) {
  const time = new Date(text).getTime();
  return Number.isFinite(time) ? time / 1000 : null;
}

/** "network.eth0" → { family: "network", device: "eth0" } */
export function splitCategory(category) {
  const dot = category.indexOf(".");
  return dot < 0 ? { family: category, device: "" } : { family: category.slice(0, dot), device: category.slice(dot + 1) };
}

// Names people use for the built-in families; any other category is shown as it is named.
const TITLES = {
  cpu: "CPU", cpu_modes: "CPU modes", cpu_frequency: "CPU frequency", load: "Load", memory: "Memory",
  swap: "Swap", disk_usage: "Disk usage", disk_free: "Disk free", disk_used: "Disk used",
  disk_total: "Disk size", disk_io: "Disk I/O", disk_ops: "Disk operations", disk_busy: "Disk busy",
  network: "Network", network_packets: "Network packets", network_errors: "Network errors",
  temperature: "Temperature", fans: "Fans", battery: "Battery", battery_state: "Battery plugged in",
  battery_time_left: "Battery time left", system: "Processes and threads", uptime: "Uptime",
};
const ORDER = Object.keys(TITLES);

export function titleOf(category) {
  const { family, device } = splitCategory(category);
  const title = TITLES[family] || family;
  return device ? `${title} · ${device}` : title;
}

/** Built-in families first, in the collectors' order; then everything else by name. */
export function compareCategories(a, b) {
  const rank = (c) => {
    const index = ORDER.indexOf(splitCategory(c).family);
    return index < 0 ? ORDER.length : index;
  };
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Tick steps for byte scales: 1, 2, 5 times powers of 1024, so ticks fall on 10 MiB, 20 MiB… */
export function binaryIncrements() {
  const steps = [];
  for (let power = 0; power <= 5; power += 1) {
    for (const m of [1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250, 500]) steps.push(m * 1024 ** power);
  }
  return steps;
}

/** Time-axis labels: 24-hour clock; the date where a tick starts a new day or the span is long. */
export function formatAxisTime(seconds, increment) {
  const d = new Date(seconds * 1000);
  const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const date = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (increment >= 86400 * 28) return `${d.getFullYear()}-${date}`;
  if (increment >= 86400) return date;
  if (increment < 60) return `${clock}:${pad(d.getSeconds())}`;
  if (d.getHours() === 0 && d.getMinutes() === 0) return date;
  return clock;
}
