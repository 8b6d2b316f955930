import { homedir } from 'node:os';
import { join } from 'node:path';
import { ensurePrivateDir } from '../util/fsafe.js';

/** `$XDG_STATE_HOME/fleetmend`, else `~/.local/state/fleetmend` (cheap to import: no SQLite). */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_STATE_HOME'];
  // The spec says a relative XDG path is invalid and must be ignored.
  if (xdg && xdg.startsWith('/')) return join(xdg, 'fleetmend');
  return join(env['HOME'] || homedir(), '.local', 'state', 'fleetmend');
}

const STATE_DIR_POLICY = { noGroupOrOtherWrite: true } as const;

/**
 * The state directory, created 0700 if absent. It must be the user's own (a symlink to it too)
 * and writable by nobody else: the store, the locks and the retry files are created in it by
 * path (README "Security").
 */
export function openStateDir(dir: string): string {
  ensurePrivateDir(dir, 'state directory', STATE_DIR_POLICY);
  return dir;
}

/** A subdirectory of the state directory (locks/, retry/), held to the same rule. */
export function openStateSubdir(stateDir: string, name: string): string {
  openStateDir(stateDir);
  const dir = join(stateDir, name);
  ensurePrivateDir(dir, 'state directory', STATE_DIR_POLICY);
  return dir;
}
