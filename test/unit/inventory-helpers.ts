import { fileURLToPath } from 'node:url';
import { FleetmendError } from '../../src/errors.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/inventory/', import.meta.url));
export const fixture = (p: string): string => FIXTURES + p;
export const EXAMPLES = fileURLToPath(new URL('../../inventory/', import.meta.url));

/** The FleetmendError thrown by `fn` (fails the test if nothing or something else is thrown). */
export function thrown(fn: () => unknown): FleetmendError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FleetmendError) return e;
    throw e;
  }
  throw new Error('expected a FleetmendError, nothing was thrown');
}

export async function rejected(p: Promise<unknown>): Promise<FleetmendError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FleetmendError) return e;
    throw e;
  }
  throw new Error('expected a FleetmendError, the promise resolved');
}
