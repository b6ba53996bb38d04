// Pointer, wheel and mouse handling on a chart's plot area. The arithmetic is in gestures.js;
// uPlot keeps what it does well itself: hover cursor and drag-select (zoom) with a mouse.

import { panBy, pinch, timeAt, wheelFactor, zoneAt, zoomAt } from "./gestures.js";

const TAP_PIXELS = 8;
const TAP_MS = 350;

/**
 * context: window() → {from, to}; latest() → the newest time one may pan to;
 * preview(win) while a gesture runs; commit(win) when it ends; pinned() → time or null; pin(t);
 * reset(pinned), which also puts the pin back where it was if `pinned` is given.
 */
export function attachGestures(u, context) {
  const over = u.over;
  const touches = new Map();
  let gesture = null;

  const local = (event) => {
    const rect = over.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top, width: rect.width, height: rect.height };
  };

  function startTouchGesture() {
    const points = [...touches.values()];
    const win = context.window();
    if (points.length >= 2) {
      const [a, b] = points;
      gesture = { mode: "pinch", win, a0: a.x, b0: b.x, width: a.width, moved: true };
    } else if (points.length === 1) {
      const p = points[0];
      const mode = zoneAt(p.y, p.height);
      gesture = { mode, win, x0: p.x, y0: p.y, width: p.width, started: performance.now(), moved: false };
      if (mode === "cursor") u.setCursor({ left: p.x, top: p.y }, true, true); // published: one cursor on all charts
    }
  }

  over.addEventListener("pointerdown", (event) => {
    if (event.pointerType !== "touch") return;
    // No compatibility mouse events: uPlot would take them for a drag-select.
    event.preventDefault();
    over.setPointerCapture?.(event.pointerId);
    touches.set(event.pointerId, local(event));
    startTouchGesture();
  });

  over.addEventListener("pointermove", (event) => {
    if (event.pointerType !== "touch" || !touches.has(event.pointerId) || !gesture) return;
    const p = local(event);
    touches.set(event.pointerId, p);
    const latest = context.latest();
    if (gesture.mode === "pinch") {
      const [a, b] = [...touches.values()];
      if (a && b) context.preview(pinch(gesture.win, gesture.a0, gesture.b0, a.x, b.x, gesture.width, latest));
      return;
    }
    if (Math.hypot(p.x - gesture.x0, p.y - gesture.y0) > TAP_PIXELS) gesture.moved = true;
    if (gesture.mode === "cursor") {
      u.setCursor({ left: Math.max(0, Math.min(p.width, p.x)), top: Math.max(0, Math.min(p.height, p.y)) }, true, true);
    } else if (gesture.moved) {
      context.preview(panBy(gesture.win, p.x - gesture.x0, gesture.width, latest));
    }
  });

  function endTouch(event) {
    if (event.pointerType !== "touch" || !touches.has(event.pointerId)) return;
    const p = touches.get(event.pointerId);
    touches.delete(event.pointerId);
    const ended = gesture;
    if (!ended) return;
    if (touches.size > 0) {
      // One finger of a pinch lifted: the other goes on from here, as a new one-finger gesture.
      if (ended.mode === "pinch") context.commit(context.window());
      startTouchGesture();
      if (gesture) gesture.moved = true;
      return;
    }
    gesture = null;
    // A cancel is the browser taking over (a vertical swipe scrolls the page): no tap then.
    const tap = event.type === "pointerup" && !ended.moved && performance.now() - ended.started < TAP_MS;
    if (tap) context.pin(timeAt(ended.win, p.x, p.width));
    else if (ended.mode !== "cursor" && ended.moved) context.commit(context.window());
  }
  over.addEventListener("pointerup", endTouch);
  over.addEventListener("pointercancel", endTouch);

  // Wheel: zoom about the pointer. One commit once the wheel rests.
  let wheelTimer = 0;
  over.addEventListener("wheel", (event) => {
    event.preventDefault();
    const p = local(event);
    const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    context.preview(zoomAt(context.window(), wheelFactor(delta), p.x, p.width, context.latest()));
    clearTimeout(wheelTimer);
    wheelTimer = setTimeout(() => context.commit(context.window()), 250);
  }, { passive: false });

  // Mouse: drag in the lower half, or with Shift anywhere, pans. Taken before uPlot sees it,
  // so uPlot's drag-select (zoom) has the upper half.
  let press = null;
  // What was pinned before a click pinned a moment: a double-click's first click pins, and its
  // reset puts the pin back as it was.
  let pinnedBefore;
  u.root.addEventListener("mousedown", (event) => {
    if (event.button !== 0 || !over.contains(event.target)) return;
    const p = local(event);
    press = { x: p.x, y: p.y };
    if (event.detail === 1) pinnedBefore = undefined;
    if (!(event.shiftKey || zoneAt(p.y, p.height) === "pan")) return;
    event.stopPropagation();
    event.preventDefault();
    const win = context.window();
    over.classList.add("panning");
    let moved = false;
    const move = (e) => {
      const q = local(e);
      if (Math.abs(q.x - p.x) > 2) moved = true;
      if (moved) context.preview(panBy(win, q.x - p.x, p.width, context.latest()));
    };
    const up = (e) => {
      document.removeEventListener("mousemove", move);
      document.removeEventListener("mouseup", up);
      over.classList.remove("panning");
      // Without a drag it was a click: the click handler pins.
      if (moved) {
        context.commit(context.window());
        press = null;
      }
    };
    document.addEventListener("mousemove", move);
    document.addEventListener("mouseup", up);
  }, true);

  // A click that did not drag pins the moment under it.
  over.addEventListener("click", (event) => {
    if (event.pointerType === "touch" || !press || event.detail > 1) return;
    const p = local(event);
    if (Math.hypot(p.x - press.x, p.y - press.y) > 4) return;
    pinnedBefore = context.pinned();
    context.pin(timeAt(context.window(), p.x, p.width));
  });

  over.addEventListener("dblclick", (event) => {
    event.preventDefault();
    context.reset(pinnedBefore);
  });
}
