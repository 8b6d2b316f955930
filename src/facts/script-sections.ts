/** The probe's output framing: marker lines with the run's nonce around each section (script.ts). */

export const MARK = '@@fleetmend';

/** A section's name: a registered fact's (registry.ts) or one of the script frame's program sections. */
export type SectionName = string;

export interface SectionOutput {
  /** Raw text between the markers (without the trailing newline before the end marker). */
  text: string;
  /** Exit status of the section's last pipeline element, or null if the end marker is missing. */
  rc: number | null;
}

export type SplitSections = Partial<Record<SectionName, SectionOutput>>;

/**
 * Splits the script's stdout into sections. Pure and total: truncated output yields the
 * sections seen so far (an unterminated one gets rc null); text outside markers is ignored.
 */
export function splitSections(stdout: string, nonce: string): SplitSections {
  const out: SplitSections = {};
  const begin = `${MARK}:${nonce}:begin:`;
  const end = `${MARK}:${nonce}:end:`;
  // One pass over the line starts, the section texts cut out of stdout as whole slices: no
  // array of every line (a host sending megabytes of short lines would cost tens of bytes each).
  let current: SectionName | null = null;
  let bodyStart = 0;
  const body = (to: number) => (to > bodyStart ? stdout.slice(bodyStart, to - 1) : '');
  let pos = 0;
  while (pos <= stdout.length) {
    const nl = stdout.indexOf('\n', pos);
    const lineEnd = nl === -1 ? stdout.length : nl;
    if (stdout.startsWith(begin, pos)) {
      if (current) out[current] = { text: body(pos), rc: null };
      current = stdout.slice(pos + begin.length, lineEnd).trim();
      bodyStart = lineEnd + 1;
    } else if (current && stdout.startsWith(end, pos)) {
      const rest = stdout.slice(pos + end.length, lineEnd);
      const rc = Number(rest.slice(rest.lastIndexOf(':') + 1));
      out[current] = { text: body(pos), rc: Number.isInteger(rc) ? rc : null };
      current = null;
    }
    if (nl === -1) break;
    pos = nl + 1;
  }
  if (current) out[current] = { text: bodyStart <= stdout.length ? stdout.slice(bodyStart) : '', rc: null };
  return out;
}

/** The sections the host skipped on purpose (the `skipped` section lists them). */
export function skippedSections(sections: SplitSections): Set<string> {
  return new Set((sections.skipped?.text ?? '').split(/\s+/).filter((s) => s !== ''));
}
