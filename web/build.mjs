// Build the web app into statsserver/web/dist: fingerprinted bundles under assets/, and at the
// top the page, the manifest, the service worker and the icons (drawn here, our own).

import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { iconSvg, iconPng } from "./icons.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "statsserver", "web", "dist");
const fingerprint = (data) => createHash("sha256").update(data).digest("hex").slice(0, 12);

const result = await build({
  entryPoints: [join(here, "src", "app.js")],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2020", "chrome100", "safari15", "firefox100"],
  outdir: "out",
  write: false,
  legalComments: "none",
  logLevel: "warning",
});

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

const names = {};
for (const file of result.outputFiles) {
  const extension = file.path.endsWith(".css") ? "css" : "js";
  const name = `app-${fingerprint(file.contents)}.${extension}`;
  writeFileSync(join(out, "assets", name), file.contents);
  names[extension] = name;
}

const page = readFileSync(join(here, "src", "index.html"), "utf8").replace("{{css}}", names.css).replace("{{js}}", names.js);
writeFileSync(join(out, "index.html"), page);

writeFileSync(join(out, "icon.svg"), iconSvg());
for (const size of [192, 512]) writeFileSync(join(out, `icon-${size}.png`), iconPng(size));

const manifest = {
  name: "StatsServer",
  short_name: "Stats",
  description: "This machine's resources and their history",
  start_url: "/",
  scope: "/",
  display: "standalone",
  background_color: "#111418",
  theme_color: "#1f6fd1",
  icons: [
    { src: "/icon.svg", sizes: "any", type: "image/svg+xml" },
    { src: "/icon-192.png", sizes: "192x192", type: "image/png", purpose: "any maskable" },
    { src: "/icon-512.png", sizes: "512x512", type: "image/png", purpose: "any maskable" },
  ],
};
writeFileSync(join(out, "manifest.webmanifest"), JSON.stringify(manifest, null, 2));

const shell = ["/", `/assets/${names.js}`, `/assets/${names.css}`, "/manifest.webmanifest", "/icon.svg", "/icon-192.png"];
const version = fingerprint(shell.join("\n") + page);
const worker = readFileSync(join(here, "src", "sw.js"), "utf8")
  .replace("__VERSION__", version)
  .replace("__SHELL__", JSON.stringify(shell));
writeFileSync(join(out, "sw.js"), worker);

const sizes = Object.values(names).map((name) => `${name} ${readFileSync(join(out, "assets", name)).length} B`);
console.log(`built ${out}: ${sizes.join(", ")}`);
