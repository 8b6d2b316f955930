/** The error loading a playbook text fails with (a test of what the loader refuses). */
import { FleetmendError } from '../../src/errors.js';
import { parsePlaybook } from '../../src/playbook/index.js';

export function loadError(text: string, file = 'pb.yml'): FleetmendError {
  try {
    parsePlaybook(file, text);
  } catch (err) {
    if (err instanceof FleetmendError) return err;
    throw err;
  }
  throw new Error('expected an error');
}
