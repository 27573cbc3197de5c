// Finds and imports an installed npm package by walking up from a list of folders, because ES
// module imports ignore NODE_PATH and these scripts run from anywhere (cargo test runs them from
// the crate folder with the SDK installed in a temporary folder).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

function packageDir(name, from) {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

function esmEntry(dir, manifest) {
  let entry = manifest.exports?.['.'] ?? manifest.exports ?? manifest.module ?? manifest.main;
  // Conditional exports nest: { import: { types, default } } or { import, require }.
  while (entry && typeof entry === 'object') entry = entry.import ?? entry.default;
  return pathToFileURL(path.join(dir, entry)).href;
}

/** Imports `name` from the first of `folders` that has it installed; null when none does. */
export async function loadPackage(name, folders) {
  for (const folder of folders.filter(Boolean)) {
    const dir = packageDir(name, folder);
    if (!dir) continue;
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    return { module: await import(esmEntry(dir, manifest)), version: manifest.version, dir };
  }
  return null;
}
