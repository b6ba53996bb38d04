// The app's icon, drawn in code: a rising line over a rounded square. The PNGs are rasterised
// here with a few lines of arithmetic rather than a drawing library.

import { deflateSync } from "node:zlib";

const BACKGROUND = [31, 111, 209];
const LINE = [255, 255, 255];
// The line's points on a 0..1 square, inside the maskable safe zone (the middle 80 %).
const POINTS = [[0.2, 0.66], [0.36, 0.5], [0.5, 0.6], [0.64, 0.36], [0.8, 0.44]];

export function iconSvg() {
  const path = POINTS.map(([x, y], i) => `${i ? "L" : "M"}${x * 512} ${y * 512}`).join(" ");
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">` +
    `<rect width="512" height="512" rx="96" fill="rgb(${BACKGROUND})"/>` +
    `<path d="${path}" fill="none" stroke="rgb(${LINE})" stroke-width="40" stroke-linecap="round" stroke-linejoin="round"/>` +
    `</svg>\n`;
}

function distanceToSegment(px, py, [ax, ay], [bx, by]) {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}

// A full-bleed square: platforms that mask icons cut their own shape.
export function iconPng(size) {
  const half = 40 / 512 / 2;
  const rows = [];
  for (let y = 0; y < size; y += 1) {
    const row = Buffer.alloc(1 + size * 3);
    for (let x = 0; x < size; x += 1) {
      const px = (x + 0.5) / size;
      const py = (y + 0.5) / size;
      let distance = Infinity;
      for (let i = 1; i < POINTS.length; i += 1) distance = Math.min(distance, distanceToSegment(px, py, POINTS[i - 1], POINTS[i]));
      // One pixel of antialiasing at the line's edge.
      const cover = Math.max(0, Math.min(1, (half - distance) * size + 0.5));
      for (let c = 0; c < 3; c += 1) row[1 + x * 3 + c] = Math.round(BACKGROUND[c] + (LINE[c] - BACKGROUND[c]) * cover);
    }
    rows.push(row);
  }
  return png(size, size, Buffer.concat(rows));
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function png(width, height, raw) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
