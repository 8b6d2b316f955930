/**
 * /proc/cmdline as Ansible's `cmdline` and `proc_cmdline` (module_utils/facts/system/cmdline.py):
 * the words as shlex.split(posix=False) gives them (quotes kept, a quoted run is one word),
 * `key=value` or a bare `key` (true). `cmdline` keeps the last value of a repeated key,
 * `proc_cmdline` all of them as a list. Parses the audit facts' `cmdline` section: no second read.
 */
import type { Fact } from '../fact.js';
import { clip, failed, ok, type Parsed } from '../text.js';

export interface KernelCmdline {
  cmdline: Record<string, string | true>;
  proc_cmdline: Record<string, string | true | (string | true)[]>;
}

/** shlex.split(s, posix=False); undefined where it raises (an unclosed quote). */
export function shlexWords(s: string): string[] | undefined {
  const words: string[] = [];
  let word = '';
  let quote = '';
  let started = false;
  for (const ch of s) {
    if (quote) {
      word += ch;
      if (ch === quote) quote = '';
    } else if (/\s/.test(ch)) {
      if (started) words.push(word);
      word = '';
      started = false;
    } else {
      if (ch === '"' || ch === "'") quote = ch;
      word += ch;
      started = true;
    }
  }
  if (quote) return undefined;
  if (started) words.push(word);
  return words;
}

export function parseKernelCmdline(text: string, rc: number | null): Parsed<KernelCmdline> {
  const out: KernelCmdline = { cmdline: {}, proc_cmdline: {} };
  const data = text.trim();
  if (rc !== 0 || data === '' || data.startsWith('cannot read ')) return failed(out, `cmdline: ${clip(data, 80) || 'empty output'}`);
  const words = shlexWords(data.slice(0, 65_536));
  if (!words) return failed(out, 'cmdline: unclosed quote (Ansible reads no cmdline facts then either)');
  for (const piece of words) {
    const eq = piece.indexOf('=');
    if (eq < 0) {
      out.cmdline[piece] = true;
      out.proc_cmdline[piece] = true;
      continue;
    }
    const [key, value] = [piece.slice(0, eq), piece.slice(eq + 1)];
    out.cmdline[key] = value;
    const seen = out.proc_cmdline[key];
    // as Ansible: a repeated key becomes a list of its values (a bare `key` before it counts as true)
    out.proc_cmdline[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return ok(out);
}

export const KernelCmdlineFact: Fact<KernelCmdline> = {
  name: 'kernel_cmdline',
  gather: true,
  section: 'cmdline',
  empty: { cmdline: {}, proc_cmdline: {} },
  parse: parseKernelCmdline,
  exposes: { group: 'host', names: ['cmdline', 'proc_cmdline'], of: (c) => ({ cmdline: c.cmdline, proc_cmdline: c.proc_cmdline }) },
};
