/** Shell text of the builtin reads the fact scripts share (script.ts: the sh subset the simulator runs). */

/** Prints a file line by line (a last line without newline included); $fm_rc 0, or 2 if unreadable. */
export function readFile(path: string, filter?: string): string {
  const print = filter ?? `printf '%s\\n' "$fm_l"`;
  return [
    `if [ -r ${path} ]; then`,
    `  while IFS= read -r fm_l || [ -n "$fm_l" ]; do ${print}; done < ${path}`,
    '  fm_rc=0',
    `else echo 'cannot read ${path}'; fm_rc=2; fi`,
  ].join('\n');
}

/** The first line of a file (no trailing newline needed: /proc/PID/wchan has none). */
export function readLine(path: string): string {
  return `if [ -r ${path} ]; then fm_l=; read -r fm_l < ${path}; printf '%s\\n' "$fm_l"; fm_rc=0; else echo 'cannot read ${path}'; fm_rc=2; fi`;
}

/** `key=first line of path` when readable, nothing otherwise (for optional files such as DMI ids). */
export function readKey(key: string, path: string): string {
  return `if [ -r ${path} ]; then fm_l=; read -r fm_l < ${path}; printf '%s=%s\\n' '${key}' "$fm_l"; fi 2>/dev/null`;
}

/** `key=1` when `[ test path ]` holds. */
export function testKey(key: string, test: string, path: string): string {
  return `if [ ${test} ${path} ]; then echo '${key}=1'; fi`;
}
