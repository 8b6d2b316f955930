import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from 'commander';

export function parsePositiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got '${v}'`);
    return n;
  };
}

/** Seconds (decimals allowed) → ms. */
export function parseSeconds(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number of seconds, got '${v}'`);
    return Math.round(n * 1000);
  };
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** Time-sortable, unique run id: 20261125T120102Z-3fa9c1. */
export function newRunId(now: number): string {
  const iso = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${iso}-${randomBytes(3).toString('hex')}`;
}
