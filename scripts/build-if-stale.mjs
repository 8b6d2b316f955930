#!/usr/bin/env node
/**
 * `npm run demo` builds only when dist/ is older than what it is built from: tsc + esbuild take
 * 10-30 s on a small machine, the demo itself a few seconds (issue 24 item 8). Stale means:
 * dist/bin/main.js is missing, or a file under src/ or the build's configuration
 * (tsconfig.json, package.json, package-lock.json) was modified after it.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const INPUTS = ['src', 'tsconfig.json', 'package.json', 'package-lock.json'];
export const OUTPUT = join('dist', 'bin', 'main.js');

function newestMtime(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs; // a deleted file changes its directory
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/** Why `root`'s dist must be rebuilt, or undefined when it is newer than every input. */
export function staleReason(root) {
  let built;
  try {
    built = statSync(join(root, OUTPUT)).mtimeMs;
  } catch {
    return `${OUTPUT} is missing`;
  }
  for (const input of INPUTS) {
    if (newestMtime(join(root, input)) > built) return `${input} changed since the last build`;
  }
  return undefined;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = process.cwd();
  const why = staleReason(root);
  if (!why) {
    process.stderr.write(`build: ${OUTPUT} is up to date, not rebuilding\n`);
  } else {
    process.stderr.write(`build: ${why}: npm run build\n`);
    const r = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
  }
}
