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

/** `-v` counted: `-vv` (or `-v -v`) is 2, as in ansible-playbook. */
export function increaseVerbosity(_v: string, previous: number): number {
  return previous + 1;
}

export { newRunId } from '../run/ids.js';
