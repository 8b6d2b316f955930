/**
 * Numbers for people (Markdown, HTML, the terminal): `2006.6`, not `2006.638217164533`. JSON
 * and the store keep the raw values; only what a person reads is rounded.
 */

/** Whole numbers as they are; others to three significant digits, at least one decimal, no trailing zeros. */
export function humanNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const magnitude = Math.floor(Math.log10(Math.abs(v)));
  const decimals = Math.min(6, Math.max(1, 2 - magnitude));
  const s = v.toFixed(decimals);
  // 0.0000001 at six decimals is 0.000000: say 0 rather than a string of zeros
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '').replace(/^-0$/, '0') : s;
}

/** A value of a finding's evidence: numbers rounded, everything else as text. */
export function humanValue(v: unknown): string {
  if (v === null) return 'null';
  return typeof v === 'number' ? humanNumber(v) : String(v);
}
