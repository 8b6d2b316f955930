import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$XDG_STATE_HOME/fleetmend`, else `~/.local/state/fleetmend` (cheap to import: no SQLite). */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_STATE_HOME'];
  // The spec says a relative XDG path is invalid and must be ignored.
  if (xdg && xdg.startsWith('/')) return join(xdg, 'fleetmend');
  return join(env['HOME'] || homedir(), '.local', 'state', 'fleetmend');
}

