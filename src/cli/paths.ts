import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (works from src/ under vitest and from dist/ when built). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'templates'))) return dir;
    dir = resolve(dir, '..');
  }
  return process.cwd();
}

export const DEFAULT_POLICY = () => join(packageRoot(), 'policies', 'audit-baseline.yml');
