import { randomBytes } from 'node:crypto';

/** Time-sortable, unique run id: 20261125T120102Z-3fa9c1. */
export function newRunId(now: number): string {
  const iso = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${iso}-${randomBytes(3).toString('hex')}`;
}
