// The server's read API. Failures come back as two kinds the app acts on: sign in, or unreachable.

export class SignInNeeded extends Error {}
export class Unreachable extends Error {}

/** path?query, leaving out parameters that are null or undefined and repeating those that are lists. */
function addressOf(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (Array.isArray(value)) for (const item of value) query.append(key, String(item));
    else if (value !== null && value !== undefined) query.set(key, String(value));
  }
  return query.size ? `${path}?${query}` : path;
}

async function getJSON(path, params = {}, signal) {
  const address = addressOf(path, params);
  let response;
  try {
    response = await fetch(address, { credentials: "same-origin", signal, headers: { Accept: "application/json" } });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new Unreachable(`cannot reach the server (${error.message})`);
  }
  if (response.status === 401) throw new SignInNeeded("sign in");
  // A proxy in front of a stopped server answers 502 or 504: unreachable too.
  if (response.status === 502 || response.status === 504) throw new Unreachable(`the server did not answer (${response.status})`);
  if (!response.ok) {
    let reason = response.statusText;
    try {
      reason = (await response.json()).error || reason;
    } catch {
      // not JSON: keep the status text
    }
    const error = new Error(`${path}: ${reason}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

export const sources = (signal) => getJSON("/api/sources", {}, signal);
export const series = (source, signal) => getJSON("/api/series", { source }, signal);
/** categories: a list to ask for only those (repeated `category=`, so a name may hold a comma). */
export const data = (source, from, to, points, signal, categories = null) =>
  getJSON("/api/data", { source, from: from.toFixed(3), to: to.toFixed(3), points, category: categories }, signal);
export const latest = (source, signal) => getJSON("/api/latest", { source }, signal);
export const moment = (source, t, signal) => getJSON("/api/moment", { source, t: t.toFixed(3) }, signal);

/** One process (pid and start time) over [from, to]: {times, cpu: {avg…}, rss: {avg…}}. */
export const processHistory = (source, pid, started, from, to, points, signal) =>
  getJSON("/api/process", { source, pid, started, from: from.toFixed(3), to: to.toFixed(3), points }, signal);

export async function signIn(token) {
  const response = await fetch("/api/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  if (response.status === 204) return true;
  if (response.status === 401 || response.status === 400) return false;
  throw new Error(`sign-in failed: ${response.status}`);
}

/**
 * Live samples; calls onSample({time, values}) for each. Returns a function that stops it.
 * `since`: the time up to which the page has its data, so that what was stored since is sent too.
 */
export function live(source, onSample, onState, since) {
  const events = new EventSource(addressOf("/api/live", { source: source || null, since: since?.toFixed(3) }));
  events.onmessage = (event) => {
    try {
      onSample(JSON.parse(event.data));
    } catch (error) {
      console.warn("live sample not understood", error);
    }
  };
  events.onopen = () => onState("open");
  events.onerror = () => onState(events.readyState === EventSource.CLOSED ? "closed" : "retrying");
  return () => events.close();
}
