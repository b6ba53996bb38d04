// Build the web app into statsserver/web/dist: fingerprinted bundles under assets/, and at the
// top the page, the manifest, the service worker and the icons (drawn here, our own).

import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { iconSvg, iconPng } from "./icons.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "statsserver", "web", "dist");
const fingerprint = (data) => createHash("sha256").update(data).digest("hex").slice(0, 12);

// boot.js is the page's script: it asks for the first data and then imports the app, which the
// page preloads beside it (a module preload fetches and compiles it without running it).
const result = await build({
  entryPoints: [join(here, "src", "boot.js")],
  bundle: true,
  splitting: true,
  minify: true,
  format: "esm",
  target: ["es2020", "chrome100", "safari15", "firefox100"],
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  metafile: true,
  write: false,
  legalComments: "none",
  logLevel: "warning",
});

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

// esbuild's names carry a hash of each file's content: the chunks import each other by them.
const assets = result.outputFiles.map((file) => {
  writeFileSync(file.path, file.contents);
  return basename(file.path);
});
const [bootPath, bootOutput] = Object.entries(result.metafile.outputs).find(([, output]) => output.entryPoint?.endsWith("boot.js"));
const boot = basename(bootPath);
const css = basename(bootOutput.cssBundle);
const preloads = assets.filter((name) => name.endsWith(".js") && name !== boot);

const page = readFileSync(join(here, "src", "index.html"), "utf8")
  .replace("{{css}}", css)
  .replace("{{js}}", boot)
  .replace("{{modulepreload}}", preloads.map((name) => `<link rel="modulepreload" href="/assets/${name}">`).join("\n"));
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

const shell = ["/", ...assets.map((name) => `/assets/${name}`), "/manifest.webmanifest", "/icon.svg", "/icon-192.png"];
const version = fingerprint(shell.join("\n") + page);
const worker = readFileSync(join(here, "src", "sw.js"), "utf8")
  .replace("__VERSION__", version)
  .replace("__SHELL__", JSON.stringify(shell));
writeFileSync(join(out, "sw.js"), worker);

const sizes = assets.map((name) => `${name} ${readFileSync(join(out, "assets", name)).length} B`);
console.log(`built ${out}: ${sizes.join(", ")}`);
