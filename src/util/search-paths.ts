/**
 * Where a task's relative `src` is looked for (Ansible's DataLoader.path_dwim_relative_stack):
 * for each directory of the task's search path (its role's, its parent roles', then the
 * playbook's), `<dir>/<subdir>/<src>` first, then `<dir>/<src>`. The first that exists wins; the
 * list also names every place looked in when none does.
 */
import { isAbsolute, join } from 'node:path';

export function taskFileCandidates(searchPaths: readonly string[], subdir: 'files' | 'templates', src: string): string[] {
  if (isAbsolute(src)) return [src];
  return [...new Set(searchPaths.flatMap((d) => [join(d, subdir, src), join(d, src)]))];
}
