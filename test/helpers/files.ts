/** Every regular file below a directory (a test's state or report directory), as full paths. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile());
}
